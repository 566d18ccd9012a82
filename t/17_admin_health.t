# SPDX-License-Identifier: Apache-2.0
# Admin endpoints (rights from Apache Require) and health.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use LWP::UserAgent;

plan tests => 36;

my $u = new_user('adm');
api(POST => '/api/neo-glitch/generate', user => $u, body => { prompt => 'a' });
api(POST => '/api/allfail-glitch/generate', user => $u, body => { prompt => 'b' });
api(POST => '/api/custom-prompt/create', user => $u, body => { prompt => 'c' });

# Rights come from Apache: a plain user is refused.
my $res = api(GET => "/api/admin/jobs?user=$u", user => $u);
# (AuthzSendForbiddenOnFailure On: 403, not the 401 that makes a browser
# ask for another login.)
ok(is_json_error($res, 403, 'FORBIDDEN'), 'a logged-in non-admin gets 403 FORBIDDEN, as JSON');
my %admin = (user => 'admin', password => 'admin');

$res = api(GET => "/api/admin/jobs?user=$u", %admin);
is($res->code, 200, 'admin lists jobs');
my $items = json_of($res)->{items};
# The same API mounted by a <LocationMatch>: its endpoints exactly below
# the match, nothing that only ends like one.
is(api(GET => "/ops/admin/jobs?user=$u", %admin)->code, 200, 'a <LocationMatch> admin API lists jobs');
ok(is_json_error(api(GET => '/ops/admin/events/jobs', %admin), 404, 'NOT_FOUND'),
   'and answers /ops/admin/events/jobs with 404, not the jobs');
ok(is_json_error(api(GET => '/ops/adminx/jobs', %admin), 404, 'NOT_FOUND'),
   'nor /ops/adminx/jobs (what follows its match is no endpoint)');
ok(is_json_error(api(GET => "/ops/admin/jobs?user=$u", user => $u), 403, 'FORBIDDEN'),
   'a plain user gets 403 there too');
is(scalar @$items, 3, 'all three generations of the user, across types');
is($items->[0]{type}, 'custom-prompt', 'newest first');
ok(!grep({ $_->{user} ne $u } @$items), 'each item names its user');
$res = api(GET => "/api/admin/jobs?user=$u&status=failed", %admin);
is(scalar @{ json_of($res)->{items} }, 1, 'status filter');
$res = api(GET => "/api/admin/jobs?user=$u&type=neo-glitch", %admin);
is(scalar @{ json_of($res)->{items} }, 2, 'type filter');
$res = api(GET => "/api/admin/jobs?user=$u&limit=1", %admin);
is(scalar @{ json_of($res)->{items} }, 1, 'limit');
ok(is_json_error(api(GET => '/api/admin/jobs?status=weird', %admin), 400, 'VALIDATION_ERROR'),
   'a bad status is 400');
ok(is_json_error(api(GET => '/api/admin/jobs?type=nosuch', %admin), 400, 'VALIDATION_ERROR'),
   'an unknown type is 400');

# Credits: a grant is a ledger row.
my $before = psql("SELECT balance FROM genflow_accounts WHERE user_id = '$u'");
$res = api(POST => '/api/admin/credits', %admin, body => { user => $u, amount => 25, reason => 'support ticket 42' });
is($res->code, 200, 'grant 200');
is(json_of($res)->{currentBalance}, $before + 25, 'currentBalance includes the grant');
is(json_of($res)->{user}, $u, 'names the user');
is(psql("SELECT reason FROM genflow_ledger WHERE user_id = '$u' AND kind = 'grant' ORDER BY id DESC LIMIT 1"),
   'admin admin: support ticket 42', 'the ledger row names the admin and the reason');
is(psql("SELECT a.balance = (SELECT sum(amount) FROM genflow_ledger l WHERE l.user_id = a.user_id) "
        . "FROM genflow_accounts a WHERE a.user_id = '$u'"), 't', 'balance = ledger sum');
my $newbie = new_user('granted');
$res = api(POST => '/api/admin/credits', %admin, body => { user => $newbie, amount => 5 });
is(json_of($res)->{currentBalance}, 15, 'a grant to a new user opens the account (10 + 5)');
ok(is_json_error(api(POST => '/api/admin/credits', %admin, body => { user => $u, amount => 0 }), 400,
                 'VALIDATION_ERROR'), 'amount 0 is 400');
ok(is_json_error(api(POST => '/api/admin/credits', %admin, body => { user => $u, amount => '5' }), 400,
                 'VALIDATION_ERROR'), 'a string amount is 400');
ok(is_json_error(api(POST => '/api/admin/credits', user => $u, body => { user => $u, amount => 5 }), 403,
                 'FORBIDDEN'), 'a user cannot grant credits (403)');

# Delete: terminal rows only; the ledger stays.
ok(is_json_error(api(DELETE => '/api/admin/jobs?status=pending&olderThan=0', %admin), 400,
                 'VALIDATION_ERROR'), 'deleting pending generations is refused');
my $failed = json_of(api(GET => "/api/admin/jobs?user=$u&status=failed", %admin))->{items}[0]{generationId};
sleep 1;
$res = api(DELETE => '/api/admin/jobs?status=failed&olderThan=0', %admin);
cmp_ok(json_of($res)->{deleted}, '>=', 1, 'failed generations deleted: ' . json_of($res)->{deleted});
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id = '$failed'"), 0, 'the row is gone');
is(psql("SELECT count(*) FROM genflow_ledger WHERE generation_id = '$failed'"), 2, 'its ledger rows stay');

# Health.
$res = api(GET => '/api/health');
is($res->code, 200, 'health 200 without authentication');
my $h = json_of($res);
ok($h->{status} eq 'ok' && $h->{database} eq 'ok' && $h->{workers}{running} >= 1,
   "health reports the database and running workers ($h->{workers}{running})");

# Metrics: Prometheus text, and a section in mod_status.
$res = api(GET => '/api/metrics', %admin);
is($res->code, 200, 'metrics 200');
like($res->header('Content-Type'), qr{^text/plain; version=0\.0\.4}, 'Prometheus text format');
like($res->content, qr/^genflow_generations\{type="neo-glitch",status="completed"\} \d+$/m,
     'generations by type and status');
like($res->content, qr/^genflow_database_up 1$/m, 'database up');
my $st = LWP::UserAgent->new->get(base_url() . '/server-status?auto');
like($st->content, qr/^GenFlowWorkersRunning: \d+$/m, 'mod_status shows the module');
# The release (configure.ac's) and the schema it needs (the newest expand
# migration), in the metrics and in mod_status.
my ($release) = do {
    open my $ac, '<', Apache::Test::vars('serverroot') . '/../configure.ac' or die $!;
    map { /^AC_INIT\(\[mod_genflow\], \[([^\]]+)\]/ ? $1 : () } <$ac>;
};
my ($needs) = do {
    open my $h, '<', Apache::Test::vars('serverroot') . '/../mod_genflow/core/gf_schema.h' or die $!;
    map { /^#define GF_SCHEMA_NEEDS (\d+)/ ? $1 : () } <$h>;
};
like($res->content, qr/^genflow_build_info\{version="\Q$release\E",schema="$needs"\} 1$/m,
     "genflow_build_info names $release and schema $needs");
like($st->content, qr/^GenFlowVersion: \Q$release\E\nGenFlowSchemaNeeds: $needs$/m,
     'mod_status names them too');
