# SPDX-License-Identifier: Apache-2.0
# GET /api/quota: balance, the day's allowance and the week's usage, kept in the
# account.
# Then the active limit (GenFlowMaxActive), on a server of the test's own
# with a limit of 3: only generations queued or processing count; created
# ones do not and never block; a refused start writes nothing; a created
# generation expires after GenFlowCreatedTTL and is refunded.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use POSIX qw(strftime);

plan tests => 55;

my $user = new_user('quota');
my $res = api(GET => '/api/quota', user => $user);
is($res->code, 200, 'quota 200');
my $q = json_of($res);
is_deeply([sort keys %$q],
          [sort qw(daily_limit daily_used remaining weekly_used dailyReset currentBalance timestamp)],
          'the documented fields');
is($q->{currentBalance}, 10, 'a new account starts with GenFlowStartingCredits');
is($q->{daily_limit}, 1000, 'daily_limit is GenFlowDailyLimit');
is($q->{daily_used}, 0, 'nothing used yet');
is($q->{remaining}, 10, 'remaining = min(balance, limit - used)');
my $tomorrow = strftime('%Y-%m-%dT00:00:00Z', gmtime(time + 86400));
is($q->{dailyReset}, $tomorrow, 'dailyReset is the next UTC midnight');
like($q->{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'timestamp');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$user' AND kind = 'grant'"), 1,
   'the starting balance is a grant in the ledger');

# Spend: one completed neo-glitch (1) and one pending custom-prompt (2).
api(POST => '/api/neo-glitch/generate', user => $user, body => { prompt => 'q1' });
api(POST => '/api/custom-prompt/create', user => $user, body => { prompt => 'q2' });
$q = json_of(api(GET => '/api/quota', user => $user));
is($q->{currentBalance}, 7, 'balance after spending 3');
is($q->{daily_used}, 3, 'daily_used counts reservations');
is($q->{weekly_used}, 3, 'weekly_used counts reservations');

# A per-user daily limit (genflow_accounts.daily_limit) overrides the default.
psql("UPDATE genflow_accounts SET daily_limit = 4 WHERE user_id = '$user'");
$q = json_of(api(GET => '/api/quota', user => $user));
is($q->{remaining}, 1, 'remaining is bounded by the day');
$res = api(POST => '/api/custom-prompt/create', user => $user, body => { prompt => 'q3' });
ok(is_json_error($res, 402, 'INSUFFICIENT_CREDITS'), 'over the daily limit is 402');
like(json_of($res)->{error}{message}, qr/daily limit of 4/, '... naming the daily limit');
$res = api(POST => '/api/neo-glitch/create', user => $user, body => { prompt => 'q4' });
is($res->code, 201, 'a cost within the remaining allowance is accepted');

# ---- The active limit ------------------------------------------------------
my ($dir, $url) = start_own_server(<<'BODY');
GenFlowStartingCredits 20
GenFlowMaxActive 3
GenFlowCreatedTTL 25
GenFlowProvider stuck local async=never
<Location /api/neo-glitch>
    GenFlowType neo-glitch
    GenFlowProviders stuck
    GenFlowDeadline 600
</Location>
BODY
my $au = new_user('active');
sub own { my ($m, $p, %o) = @_; own_api($url, $m, $p, user => $au, %o) }
sub active_of { psql("SELECT active FROM genflow_accounts WHERE user_id = '$_[0]'") }
sub open_rows {
    psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$_[0]' "
         . "AND queued_at IS NOT NULL AND status IN ('pending', 'processing')");
}
sub gledger {
    psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
         . "WHERE generation_id = '$_[0]'") // '';
}
my %nowait = (headers => { Prefer => 'wait=0' });

my @ids;
for my $i (1 .. 5) {
    my $r = own(POST => '/api/neo-glitch/create', body => { prompt => "created $i" });
    push @ids, (json_of($r) || {})->{generationId} if $r->code == 201;
}
is(scalar @ids, 5, 'five created generations, more than the limit of 3');
is(active_of($au), 0, 'created generations are not active');

my @codes = map { own(POST => '/api/neo-glitch/generate', body => { generationId => $ids[$_] },
                      %nowait)->code } 0 .. 2;
is("@codes", '202 202 202', 'created ones beyond the limit do not block: three generate');
is(active_of($au), 3, 'three are active');
is(open_rows($au), 3, 'three rows are queued or processing');

# The fourth: refused, and nothing is written.
$res = own(POST => '/api/neo-glitch/generate', body => { generationId => $ids[3] },
              headers => { 'Idempotency-Key' => 'fourth' });
ok(is_json_error($res, 429, 'RATE_LIMIT'), 'a fourth generate is 429 RATE_LIMIT');
like((json_of($res) || {})->{error}{message} // '',
     qr/^3 generations of this user are queued or processing \(limit 3\); created but not started generations do not count/,
     '... saying what was counted');
like($res->header('Retry-After') // '', qr/^\d+$/, '... with Retry-After');
is(psql("SELECT status || ' ' || (queued_at IS NULL) FROM neo_glitch_media WHERE id = '$ids[3]'"),
   'pending true', 'the refused generation stays created (pending, not queued)');
is(gledger($ids[3]), 'reserve:-1', 'its reservation stands, nothing else');
is(active_of($au), 3, 'the count did not move');

my $bal = psql("SELECT balance FROM genflow_accounts WHERE user_id = '$au'");
my $reserves = psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$au' AND kind = 'reserve'");
$res = own(POST => '/api/neo-glitch/generate', body => { prompt => 'one call' }, %nowait);
ok(is_json_error($res, 429, 'RATE_LIMIT'), 'generate with the create fields at the limit is 429');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$au'"), 5, '... and creates no row');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$au'"), $bal, '... and reserves nothing');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$au' AND kind = 'reserve'"), $reserves,
   '... no ledger row');

$res = own(POST => '/api/neo-glitch/create', body => { prompt => 'still fine' });
is($res->code, 201, 'create is never refused for the limit');
my $sixth = (json_of($res) || {})->{generationId};

$res = own(POST => "/api/neo-glitch/cancel/$ids[4]");
is((json_of($res) || {})->{status}, 'cancelled', 'a created generation can be cancelled');
is(active_of($au), 3, '... which gives back no active count (it had none)');
$res = own(POST => "/api/neo-glitch/retry/$ids[4]", %nowait);
ok(is_json_error($res, 429, 'RATE_LIMIT'), 'a retry at the limit is 429');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$au'"), 6, '... and creates no row');

# A queued one ends: room for the refused one, with the same key.
own(POST => "/api/neo-glitch/cancel/$ids[0]");
is(active_of($au), 2, 'cancelling a queued generation frees its place');
$res = own(POST => '/api/neo-glitch/generate', body => { generationId => $ids[3] },
           headers => { 'Idempotency-Key' => 'fourth', Prefer => 'wait=0' });
is($res->code, 202, 'the refused generation can be generated later (its key was not spent)');
is(active_of($au), 3, 'three active again');

# GenFlowCreatedTTL 25: a created generation older than that expires and is
# refunded (its age is moved back rather than waited for); a younger one
# stays.
psql("UPDATE neo_glitch_media SET created_at = now() - interval '30 seconds' WHERE id = '$sixth'");
my $fresh = (json_of(own(POST => '/api/neo-glitch/create', body => { prompt => 'fresh' })) || {})
            ->{generationId} // '';
my $st = '';
for (1 .. 60) {
    $st = psql("SELECT status || ' ' || coalesce(error_code, '-') FROM neo_glitch_media WHERE id = '$sixth'");
    last if $st ne 'pending -';
    select undef, undef, undef, 0.25;
}
is($st, 'failed EXPIRED', 'a created generation past GenFlowCreatedTTL expires (EXPIRED)');
is(gledger($sixth), 'reserve:-1,refund:1', '... and is refunded');
sleep 2;   # another sweep or two
is(psql("SELECT status FROM neo_glitch_media WHERE id = '$fresh'"), 'pending',
   'a created generation younger than the TTL stays');
is(active_of($au), 3, 'expiry of created generations leaves the active count');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$au'"),
   psql("SELECT sum(amount) FROM genflow_ledger WHERE user_id = '$au'"), 'balance = ledger');

# The week's usage is kept in the account, as the day's is: after creates,
# cancels and the expiry sweep's refunds it equals the ledger's
# reservations of this ISO week that were not refunded.
sub weekly { (json_of(api(GET => '/api/quota', user => $au)) || {})->{weekly_used} }
my $from_ledger = psql(
    "SELECT COALESCE(sum(-r.amount), 0) FROM genflow_ledger r WHERE r.user_id = '$au' "
    . "AND r.kind = 'reserve' AND r.created_at >= date_trunc('week', now() AT TIME ZONE 'UTC') "
    . "AT TIME ZONE 'UTC' AND NOT EXISTS (SELECT 1 FROM genflow_ledger f "
    . "WHERE f.generation_id = r.generation_id AND f.kind = 'refund')");
cmp_ok($from_ledger, '>', 0, 'some of the week is still used (completed and pending generations)');
is(weekly(), $from_ledger, "weekly_used ($from_ledger) is the ledger's week, kept by every refund");
# A generation of an earlier week refunded now gives this week nothing back.
my $old = (json_of(own(POST => '/api/neo-glitch/create', body => { prompt => 'last week' })) || {})
          ->{generationId} // '';
is(weekly(), $from_ledger + 1, 'a create counts in the week');
psql("UPDATE neo_glitch_media SET created_at = now() - interval '8 days' WHERE id = '$old'");
own(POST => "/api/neo-glitch/cancel/$old");
is(gledger($old), 'reserve:-1,refund:1', 'a generation of an earlier week cancelled and refunded');
is(weekly(), $from_ledger + 1, '... gives this week nothing back');
# A new week starts from 0.
psql("UPDATE genflow_accounts SET weekly_start = weekly_start - 7 WHERE user_id = '$au'");
is(weekly(), 0, 'in a new week nothing is used yet');
my $new = (json_of(own(POST => '/api/neo-glitch/create', body => { prompt => 'new week' })) || {})
          ->{generationId} // '';
is(weekly(), 1, 'and its first create counts from 0');
own(POST => "/api/neo-glitch/cancel/$new");
is(weekly(), 0, 'its refund takes it back');

# Clean up: everything open is cancelled and refunded; nothing stays active.
for my $id (@ids, $fresh) {
    own(POST => "/api/neo-glitch/cancel/$id");
}
is(active_of($au), 0, 'all cancelled: nothing is active');
is(open_rows($au), 0, 'and no row is queued or processing');

is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0, 'genflow_check_invariants finds nothing wrong')
    or diag(psql("SELECT * FROM genflow_check_invariants(600)"));
stop_own_server($dir);
