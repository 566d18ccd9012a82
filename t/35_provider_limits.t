# SPDX-License-Identifier: Apache-2.0
# Provider limits shared by every child, fairness between users, and
# priority between types, counted at a mock of Stability's synchronous
# endpoint (t/mock/crowd_provider.mjs) that records every submission.
#
# One server of two children, each allowed two attempts in flight
# (GenFlowMaxInFlight 2): a cap of 3 can only be reached by both children
# together, and only the shared count keeps them from reaching 4.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use LWP::UserAgent;
use HTTP::Request;
use JSON::PP;
use IPC::Open2;
use Time::HiRes qw(sleep time);

plan tests => 35;

my $json = JSON::PP->new;
my $mport = free_port();
my $mock = "http://127.0.0.1:$mport";
mock_at($mock);

my $mpid = open2(my $mout, my $min, 'node', "$FindBin::Bin/mock/crowd_provider.mjs", $mport, 1000);
my $ready = <$mout>;
is($ready // '', "ready\n", 'the crowd mock listens');
END { kill 'TERM', $mpid if $mpid }


my %table = (cap => 'lim_cap_media', rate => 'lim_rate_media', pause => 'lim_pause_media',
             fair => 'lim_fair_media', low => 'lim_low_media', high => 'lim_high_media');
for my $k (sort keys %table) { psql("SELECT genflow_create_type_table('lim-$k', '$table{$k}')") }
sub open_rows {
    my ($kind, $tag) = @_;
    return psql("SELECT count(*) FROM $table{$kind} WHERE prompt LIKE '%$tag%' "
                . "AND status IN ('pending', 'processing')");
}
sub completed {
    my ($kind, $tag) = @_;
    return psql("SELECT count(*) FROM $table{$kind} WHERE prompt LIKE '%$tag%' "
                . "AND status = 'completed'");
}

my %user;
for my $k (qw(a b c)) { $user{$k} = new_user("lim$k") }
for my $u (values %user) { api(GET => '/api/quota', user => $u); grant($u, 1000) }

my $prov = "stability base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off";
my ($dir, $base) = start_own_server(<<"BODY");
DBDMin 0
DBDKeep 2
DBDMax 6
StartServers 2
ServerLimit 2
ThreadsPerChild 10
MaxRequestWorkers 20
MinSpareThreads 10
MaxSpareThreads 20
GenFlowWorkers 2
GenFlowMaxInFlight 2
GenFlowLeaseSeconds 4
GenFlowMaxActive 1000
GenFlowDailyLimit 0
GenFlowProvider capped $prov max_concurrent=3
GenFlowProvider rated $prov rate=4/2
GenFlowProvider paced $prov
GenFlowProvider shared $prov max_concurrent=2
GenFlowProvider ranked $prov max_concurrent=2
<Location /api/health>
    SetHandler genflow-health
</Location>
<Location /api/metrics>
    SetHandler genflow-metrics
</Location>
<Location /api/lim-cap>
    GenFlowType lim-cap
    GenFlowProviders capped
    GenFlowWait 0
</Location>
<Location /api/lim-rate>
    GenFlowType lim-rate
    GenFlowProviders rated
    GenFlowWait 0
</Location>
<Location /api/lim-pause>
    GenFlowType lim-pause
    GenFlowProviders paced
    GenFlowWait 0
</Location>
<Location /api/lim-fair>
    GenFlowType lim-fair
    GenFlowProviders shared
    GenFlowWait 0
</Location>
<Location /api/lim-low>
    GenFlowType lim-low
    GenFlowProviders ranked
    GenFlowWait 0
</Location>
<Location /api/lim-high>
    GenFlowType lim-high
    GenFlowPriority 10
    GenFlowProviders ranked
    GenFlowWait 0
</Location>
BODY

sub submit {
    my ($kind, $user, $n, $tag, $extra) = @_;
    my $ok = 0;
    for my $i (1 .. $n) {
        my $res = own_api($base, POST => "/api/lim-$kind/generate", user => $user,
                          body => { prompt => "$tag $i $extra" });
        $ok++ if $res->code == 202 || $res->code == 200;
    }
    return $ok;
}

ok(wait_for(sub { (() = pids_of($dir)) == 3 }, 10), 'the server runs two children');

# 1. max_concurrent=3 across two children that may each hold two: the
#    mock never sees a fourth call, and sees the third (both children).
{
    my $tag = "cap-$$";
    mock_call(POST => '/_reset');
    is(submit('cap', $user{a}, 18, $tag, '[latency:1000]'), 18, '18 generations queued');
    my $health_open = 0;
    ok(wait_for(sub {
        my $h = json_of(own_api($base, GET => '/api/health', user => 'admin')) // {};
        my $o = $h->{providers}{capped}{limits}{open} // 0;
        $health_open = $o if $o > $health_open;
        completed('cap', $tag) >= 18;
    }, 60), 'all 18 completed');
    my $st = mock_call(GET => '/_stats');
    is($st->{peak}, 3, 'exactly 3 calls open at the provider at the peak (two children of 2 each)');
    is($st->{total}, 18, 'each generation submitted once');
    cmp_ok($health_open, '<=', 3, "/api/health counted the open calls ($health_open, never above 3)");
}

# 2. A child killed with calls open does not shrink the cap: its places
#    are freed, its generations rescued, and 3 calls are open again.
{
    my $tag = "reap-$$";
    mock_call(POST => '/_reset');
    is(submit('cap', $user{a}, 12, $tag, '[latency:2000]'), 12, '12 generations queued');
    ok(wait_for(sub { (mock_call(GET => '/_stats')->{open} // 0) >= 3 }, 20), '3 calls open');
    my $victim = (pids_of($dir))[1];
    ok(kill('KILL', $victim), "child $victim killed with calls open");
    sleep 0.5;
    mock_call(POST => '/_reset');   # the peak starts again from what is open now
    ok(wait_for(sub { open_rows('cap', $tag) == 0 }, 90), 'no generation stays open');
    is(completed('cap', $tag), 12, 'all 12 completed, the killed attempts rescued');
    is(mock_call(GET => '/_stats')->{peak}, 3,
       'after the kill the provider again had exactly 3 calls open at the peak');
}

# 3. rate=4/2: no 2 s window holds more than 4 starts (measured at the
#    mock, which sees each request a moment after its start was counted:
#    50 ms of tolerance).
{
    my $tag = "rate-$$";
    mock_call(POST => '/_reset');
    is(submit('rate', $user{a}, 12, $tag, '[latency:100]'), 12, '12 generations queued');
    ok(wait_for(sub { completed('rate', $tag) >= 12 }, 60), 'all 12 completed');
    my @t = arrivals($tag, 200);
    is(scalar @t, 12, 'the provider got 12 submissions')
        or diag(explain(mock_call(GET => '/_stats?arrivals=1')));
    my $worst = 1e9;
    for my $i (0 .. $#t - 4) { my $d = $t[$i + 4] - $t[$i]; $worst = $d if $d < $worst }
    cmp_ok($worst, '>=', 2000 - 50, "any 5 starts span at least 2 s (closest: $worst ms)");
}

# 4. A 429 with Retry-After: 3 pauses the provider for every child: the
#    generations queued meanwhile are not sent before it ends.
{
    my $tag = "pause-$$";
    mock_call(POST => '/_reset');
    mock_call(POST => '/_reject?n=1&retry_after=3');
    is(submit('pause', $user{b}, 1, "$tag first", '[latency:100]'), 1, 'one generation queued');
    ok(wait_for(sub { my @r = arrivals($tag, 429); @r >= 1 }, 20), 'the provider answered it 429');
    my ($t429) = arrivals($tag, 429);
    my $paused;
    wait_for(sub {
        my $h = json_of(own_api($base, GET => '/api/health', user => 'admin')) // {};
        $paused = $h->{providers}{paced}{limits}{pausedUntil};
        return defined $paused;
    }, 3);
    ok(defined $paused, '/api/health shows the pause' . ($paused ? " (until $paused)" : ''));
    like(own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content,
         qr/genflow_provider_paused_seconds\{server="main",provider="paced"\} [1-9]/,
         'the metrics show the seconds left');
    is(submit('pause', $user{b}, 6, "$tag then", '[latency:100]'), 6, 'six more queued meanwhile');
    ok(wait_for(sub { open_rows('pause', $tag) == 0 }, 60), 'all ended');
    is(completed('pause', $tag), 7, 'all 7 completed');
    my @ok = arrivals($tag, 200);
    cmp_ok($ok[0] - $t429, '>=', 3000 - 50,
           'no submission reached the provider before the pause ended (first after '
           . ($ok[0] - $t429) . ' ms)');
    is(psql("SELECT retry_count FROM $table{pause} WHERE prompt LIKE '%$tag first%'"), 1,
       'the generation that got the 429 was retried once');
}

# 5. Users take turns: with a cap of 2, user A's 10 queued generations do
#    not go ahead of user B's one queued after them.
{
    my $tag = "fair-$$";
    is(submit('fair', $user{a}, 10, "$tag a", '[latency:1000]'), 10, "A's 10 queued");
    sleep 0.3;
    is(submit('fair', $user{b}, 1, "$tag b", '[latency:1000]'), 1, "B's one queued after them");
    ok(wait_for(sub { open_rows('fair', $tag) == 0 }, 60), 'all 11 ended');
    my $ahead = psql("SELECT count(*) FROM $table{fair} a, $table{fair} b "
                     . "WHERE a.prompt LIKE '%$tag a%' AND b.prompt LIKE '%$tag b%' "
                     . "AND a.started_at > b.queued_at AND a.started_at < b.started_at");
    cmp_ok($ahead, '<=', 1, "at most one of A's started between B's queue and B's start ($ahead; "
           . "oldest first would start all of A's waiting ones first)");
}

# 6. GenFlowPriority: a type of priority 10 goes ahead of one of 0 on the
#    same provider (cap 2): the high ones queued after ten low ones start
#    before the low ones still waiting.
{
    my $tag = "prio-$$";
    is(submit('low', $user{c}, 10, "$tag low", '[latency:1000]'), 10, '10 of the low type queued');
    sleep 0.3;
    is(submit('high', $user{c}, 6, "$tag high", '[latency:1000]'), 6, '6 of the high type queued');
    ok(wait_for(sub { open_rows('low', $tag) + open_rows('high', $tag) == 0 }, 60), 'all 16 ended');
    # A low one that started while a high one was queued and not started.
    my $inverted = psql("SELECT count(*) FROM $table{low} l WHERE l.prompt LIKE '%$tag low%' "
                        . "AND EXISTS (SELECT 1 FROM $table{high} h WHERE h.prompt LIKE '%$tag high%' "
                        . "AND l.started_at > h.queued_at AND l.started_at < h.started_at)");
    # A claim that runs while the first high one's insert commits cannot
    # see it: one such claim per place (the cap, 2; the low ones hold 1 s
    # each, so both places free at once). Taking turns would start a low
    # one for every high one (about 6).
    cmp_ok($inverted, '<=', 2, "at most one low one per place started while a high one waited "
           . "($inverted; taking turns would start about one per high one)")
        or diag(psql("SELECT string_agg(k || ' q=' || to_char(queued_at, 'SS.MS') || ' s=' "
                     . "|| to_char(started_at, 'SS.MS') || ' f=' || to_char(finished_at, 'SS.MS') || ' ' || coalesce(lease_owner,'-'), ' | ' ORDER BY started_at) FROM ("
                     . "SELECT 'low' k, * FROM $table{low} WHERE prompt LIKE '%$tag%' UNION ALL "
                     . "SELECT 'high' k, * FROM $table{high} WHERE prompt LIKE '%$tag%') x"));
}

stop_own_server($dir);
is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0,
   'genflow_check_invariants finds nothing wrong')
    or diag(psql("SELECT * FROM genflow_check_invariants(600)"));
