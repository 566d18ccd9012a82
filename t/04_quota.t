# GET /api/quota: balance, the day's allowance and the week, from the ledger.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use POSIX qw(strftime);

plan tests => 16;

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
is($q->{weekly_used}, 3, 'weekly_used from the ledger');

# A per-user daily limit (genflow_accounts.daily_limit) overrides the default.
psql("UPDATE genflow_accounts SET daily_limit = 4 WHERE user_id = '$user'");
$q = json_of(api(GET => '/api/quota', user => $user));
is($q->{remaining}, 1, 'remaining is bounded by the day');
$res = api(POST => '/api/custom-prompt/create', user => $user, body => { prompt => 'q3' });
ok(is_json_error($res, 402, 'INSUFFICIENT_CREDITS'), 'over the daily limit is 402');
like(json_of($res)->{error}{message}, qr/daily limit of 4/, '... naming the daily limit');
$res = api(POST => '/api/neo-glitch/create', user => $user, body => { prompt => 'q4' });
is($res->code, 201, 'a cost within the remaining allowance is accepted');
