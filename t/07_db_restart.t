# SPDX-License-Identifier: Apache-2.0
# PostgreSQL restarts under a running httpd: pooled connections lose their
# sessions and prepared statements; the module must recover by itself, and
# answer 503 with Retry-After (JSON, no crash) while the database is down.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;

plan tests => 15;

my $user = new_user('restart');
api(GET => '/api/quota', user => $user);   # open the account
grant($user, 100);

# Warm several pooled connections in several children.
my @pids;
for my $i (1 .. 8) {
    my $pid = fork // die;
    if (!$pid) {
        api(POST => '/api/neo-glitch/generate', user => $user, body => { prompt => "warm $i" });
        exit 0;
    }
    push @pids, $pid;
}
waitpid $_, 0 for @pids;
is(api(GET => '/api/quota', user => $user)->code, 200, 'working before the restart');

ok(pg_ctl('restart'), 'PostgreSQL restarted');

# Every request after the restart succeeds: stale sessions are repaired.
my $ok = 0;
for my $i (1 .. 20) {
    my $res = api(POST => '/api/neo-glitch/generate', user => $user, body => { prompt => "after $i" });
    $ok++ if $res->code == 200 && (json_of($res) || {})->{status} eq 'completed';
}
is($ok, 20, 'all 20 generations after the restart completed, no httpd restart');
is(api(GET => '/api/quota', user => $user)->code, 200, 'quota works after the restart');

# Database down: 503 SERVICE_UNAVAILABLE with Retry-After.
ok(pg_ctl('stop'), 'PostgreSQL stopped');
my $res = api(POST => '/api/neo-glitch/create', user => $user, body => { prompt => 'down' });
ok(is_json_error($res, 503, 'SERVICE_UNAVAILABLE'), 'create while down is 503 JSON');
ok(($res->header('Retry-After') // '') =~ /^\d+$/, '... with Retry-After');
$res = api(GET => '/api/quota', user => $user);
ok(is_json_error($res, 503, 'SERVICE_UNAVAILABLE'), 'quota while down is 503 JSON');
$res = api(GET => '/api/neo-glitch/status/11111111-1111-1111-1111-111111111111', user => $user);
ok(is_json_error($res, 503, 'SERVICE_UNAVAILABLE'), 'status while down is 503 JSON');

$res = api(GET => '/api/health');
is($res->code, 503, 'health while down is 503');
is((json_of($res) || {})->{database}, 'unreachable', '... saying the database is unreachable');
ok(pg_ctl('start'), 'PostgreSQL started again');
is(api(GET => '/api/health')->code, 200, 'health is 200 again');
$ok = 0;
for my $i (1 .. 10) {
    $res = api(POST => '/api/neo-glitch/generate', user => $user, body => { prompt => "back $i" });
    $ok++ if $res->code == 200;
}
is($ok, 10, 'all generations succeed once the database is back');

# Nothing was lost or doubled: the ledger matches the balance.
is(psql("SELECT a.balance = (SELECT sum(amount) FROM genflow_ledger l WHERE l.user_id = a.user_id) "
        . "FROM genflow_accounts a WHERE a.user_id = '$user'"), 't',
   'ledger and balance agree after the outage');
