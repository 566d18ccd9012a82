# SPDX-License-Identifier: Apache-2.0
# 25 concurrent generations by one user who can afford 10 of them: every
# answer is completed or 402, and the balance is start - completed x cost.
# Then bursts against the active limit (GenFlowMaxActive 3, a server of the
# test's own): concurrent starts never put more than 3 generations of a
# user in queued or processing, and the refused ones write nothing.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;

plan tests => 22;

my $N = 25;
my $user = new_user('racer');

# Run $n clients at once, each calling $call->($i) (an HTTP::Response);
# returns { "code STATUS-or-ERROR-CODE" => count }.
sub burst {
    my ($n, $call) = @_;
    my %count;
    $count{$_}++ for burst_clients($n, $call, sub {
        my ($res, $doc) = @_;
        join(' ', $res->code, $doc->{status} // $doc->{error}{code} // 'none');
    });
    return \%count;
}
sub show { my ($c) = @_; join(', ', map { "$_ x$c->{$_}" } sort keys %$c) }

my %seen = %{ burst($N, sub {
    api(POST => '/api/neo-glitch/generate', user => $user, body => { prompt => "race $_[0]" })
}) };
my $completed = $seen{'200 completed'} // 0;
my $refused = $seen{'402 INSUFFICIENT_CREDITS'} // 0;
is($completed + $refused, $N, "every answer is completed or 402 (got: "
   . join(', ', map { "$_ x$seen{$_}" } sort keys %seen) . ')');
is($completed, 10, 'exactly the 10 affordable generations completed');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$user'"), 10 - $completed,
   'balance = start - completed x cost');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$user'"), $completed,
   'one row per accepted generation, none for the refused');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$user' AND kind = 'reserve'"),
   $completed, 'one reservation per generation');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$user' AND kind = 'charge'"),
   $completed, 'one charge per completed generation');
is(psql("SELECT sum(amount) FROM genflow_ledger WHERE user_id = '$user'"), 10 - $completed,
   'ledger sum = balance');
my $never_negative = psql("SELECT min(balance) >= 0 FROM genflow_accounts");
is($never_negative, 't', 'no balance anywhere is negative');

# ---- Bursts against the active limit -------------------------------------
my ($own, $url) = start_own_server(<<'BODY');
GenFlowStartingCredits 50
GenFlowMaxActive 3
GenFlowProvider stuck local async=never
<Location /api/neo-glitch>
    GenFlowType neo-glitch
    GenFlowProviders stuck
    GenFlowDeadline 600
</Location>
BODY
sub active_of { psql("SELECT active FROM genflow_accounts WHERE user_id = '$_[0]'") }
sub open_rows {
    psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$_[0]' "
         . "AND queued_at IS NOT NULL AND status IN ('pending', 'processing')");
}

# 12 one-call generates (create fields) at once.
my $one = new_user('burst1');
own_api($url, POST => '/api/neo-glitch/create', user => $one, body => { prompt => 'opens the account' });
my $seen1 = burst(12, sub {
    own_api($url, POST => '/api/neo-glitch/generate', user => $one,
            body => { prompt => "burst $_[0]" }, headers => { Prefer => 'wait=0' });
});
is(($seen1->{'202 pending'} // 0) + ($seen1->{'202 processing'} // 0), 3,
   'one-call generates: exactly 3 of 12 started (' . show($seen1) . ')');
is($seen1->{'429 RATE_LIMIT'} // 0, 9, 'the other 9 are 429');
is(open_rows($one), 3, 'exactly 3 rows are queued or processing');
is(active_of($one), 3, 'the active count is 3');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$one'"), 4,
   'the refused ones created no row (3 started + 1 created before)');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$one' AND kind = 'reserve'"), 4,
   'and reserved nothing');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$one'"), 50 - 4, 'balance = start - 4');

# 12 generates of 12 created generations at once.
my $two = new_user('burst2');
my @made;
for my $i (1 .. 12) {
    my $r = own_api($url, POST => '/api/neo-glitch/create', user => $two, body => { prompt => "made $i" });
    push @made, (json_of($r) || {})->{generationId};
}
my $seen2 = burst(12, sub {
    own_api($url, POST => '/api/neo-glitch/generate', user => $two,
            body => { generationId => $made[$_[0] - 1] }, headers => { Prefer => 'wait=0' });
});
is(($seen2->{'202 pending'} // 0) + ($seen2->{'202 processing'} // 0), 3,
   'generates by id: exactly 3 of 12 started (' . show($seen2) . ')');
is($seen2->{'429 RATE_LIMIT'} // 0, 9, 'the other 9 are 429');
is(open_rows($two), 3, 'exactly 3 rows are queued or processing');
is(active_of($two), 3, 'the active count is 3');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$two' AND status = 'pending' "
        . "AND queued_at IS NULL"), 9, 'the 9 refused stay created, not queued');

# Clean up: cancel everything; nothing stays active, every rule holds.
for my $u ($one, $two) {
    for my $id (split /\n/, psql("SELECT id FROM neo_glitch_media WHERE user_id = '$u' "
                                 . "AND status IN ('pending', 'processing')") // '') {
        own_api($url, POST => "/api/neo-glitch/cancel/$id", user => $u);
    }
}
is(active_of($one) + active_of($two), 0, 'all cancelled: nothing is active');
is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0, 'genflow_check_invariants finds nothing wrong')
    or diag(psql("SELECT * FROM genflow_check_invariants(600)"));
stop_own_server($own);
