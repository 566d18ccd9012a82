# SPDX-License-Identifier: Apache-2.0
# Attempts in flight on the child's loop: provider calls that hold no
# thread. One child with two worker threads keeps hundreds of slow
# submissions open at the provider at once (counted at a mock of
# Stability's synchronous endpoint that holds each request), without a
# thread more; each generation is submitted once and charged once. Leases
# follow calls slower than the lease for many attempts at once, and a
# child killed with 200 attempts in flight loses nothing: every one is
# rescued and ends charged once or refunded, and the ledger's invariants
# hold.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
$GenFlowTest::wait_step = 0.2;   # each look of its waits runs psql
use File::Temp qw(tempdir);
use LWP::UserAgent;
use HTTP::Request;
use JSON::PP;
use IPC::Open2;
use Time::HiRes qw(sleep time);

plan tests => 31;

my $json = JSON::PP->new;
my $mport = free_port();
my $mock = "http://127.0.0.1:$mport";
mock_at($mock);

# The crowd mock, once for the whole file.
my $mpid = open2(my $mout, my $min, 'node', "$FindBin::Bin/mock/crowd_provider.mjs", $mport, 3000);
my $ready = <$mout>;
is($ready // '', "ready\n", 'the crowd mock listens');
END { kill 'TERM', $mpid if $mpid }

sub threads_of {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return -1;
    while (<$fh>) { return $1 if /^Threads:\s+(\d+)/ }
    return -1;
}
sub counts {
    my ($tag) = @_;
    my %c = map { $_->[0] => $_->[1] }
        psql_rows("SELECT status, count(*) FROM flight_type_media WHERE prompt LIKE '%$tag%' GROUP BY 1");
    return \%c;
}
sub open_rows {
    my ($tag) = @_;
    return psql("SELECT count(*) FROM flight_type_media WHERE prompt LIKE '%$tag%' "
                . "AND status IN ('pending', 'processing')");
}
# Every generation of the tag: one reservation, and one charge (completed)
# or one refund (failed): "ok", or the first one that is not.
sub ledger_once {
    my ($tag) = @_;
    my $bad = psql(<<"SQL");
SELECT g.id || ' ' || g.status || ' ' || coalesce(string_agg(l.kind, ',' ORDER BY l.id), '-')
FROM flight_type_media g LEFT JOIN genflow_ledger l ON l.generation_id = g.id
WHERE g.prompt LIKE '%$tag%'
GROUP BY g.id, g.status
HAVING NOT ((g.status = 'completed' AND string_agg(l.kind, ',' ORDER BY l.id) = 'reserve,charge')
         OR (g.status = 'failed' AND string_agg(l.kind, ',' ORDER BY l.id) = 'reserve,refund'))
LIMIT 1
SQL
    return $bad eq '' ? 'ok' : $bad;
}

psql("SELECT genflow_create_type_table('flight-type', 'flight_type_media')");
my $u = new_user('flight');
api(GET => '/api/quota', user => $u);
grant($u, 5000);

my ($dir, $base) = start_own_server(<<"BODY");
DBDMin 0
DBDKeep 4
DBDMax 8
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
GenFlowWorkers 2
GenFlowMaxInFlight 500
GenFlowLeaseSeconds 4
GenFlowMaxActive 1000
GenFlowDailyLimit 0
GenFlowProvider crowd stability base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off
<Location /api/health>
    SetHandler genflow-health
</Location>
<Location /api/flight-type>
    GenFlowType flight-type
    GenFlowProviders crowd
    GenFlowWait 0
    GenFlowDeadline 300
</Location>
BODY

sub submit {
    my ($n, $tag, $extra) = @_;
    my $ok = 0;
    for my $i (1 .. $n) {
        my $res = own_api($base, POST => '/api/flight-type/generate', user => $u,
                          body => { prompt => "$tag $i $extra" });
        $ok++ if $res->code == 202 || $res->code == 200;
    }
    return $ok;
}

# 1. 200 submissions held 3 s each by the provider, on one child of two
#    workers: they are open at the provider together, and the child's
#    threads do not grow with them.
{
    my $tag = "wide-$$";
    my $child = (pids_of($dir))[1];
    ok($child, 'the server has its child');
    sleep 2;
    my $idle_threads = threads_of($child);
    mock_call(POST => '/_reset');
    is(submit(200, $tag, ''), 200, '200 generations queued');
    my ($peak_threads, $health_peak, $health_seen) = (0, 0, '');
    wait_for(sub {
        my $t = threads_of($child);
        $peak_threads = $t if $t > $peak_threads;
        my $res = own_api($base, GET => '/api/health', user => $u);
        my $h = json_of($res) // {};
        my $f = $h->{workers}{inFlight} // 0;
        $health_seen = $res->code . ' ' . $res->decoded_content if $f >= $health_peak;
        $health_peak = $f if $f > $health_peak;
        return (counts($tag)->{completed} // 0) >= 200;
    }, 90);
    my $c = counts($tag);
    is($c->{completed} // 0, 200, 'all 200 completed');
    my $st = mock_call(GET => '/_stats');
    cmp_ok($st->{peak}, '>=', 100, "the provider had many submissions open at once "
           . "(peak $st->{peak}; two workers calling in turn would give 2)");
    cmp_ok($health_peak, '>=', 50, "/api/health counted the attempts in flight (saw $health_peak)")
        or diag("child $child; its answer: $health_seen");
    is($st->{total}, 200, 'the provider got 200 submissions');
    is(scalar @{ $st->{repeated} }, 0, 'none submitted twice');
    cmp_ok($peak_threads, '<=', $idle_threads, "the child's threads did not grow ($idle_threads)");
    is(ledger_once($tag), 'ok', 'each generation reserved once and charged once');
}

# 2. 100 calls slower than the lease (9 s against 4 s), all in flight at
#    once: the heartbeats keep every lease, nobody takes a row over, and
#    each generation is submitted once.
{
    my $tag = "slow-$$";
    mock_call(POST => '/_reset');
    is(submit(100, $tag, '[latency:9000]'), 100, '100 slow generations queued');
    ok(wait_for(sub { (counts($tag)->{completed} // 0) >= 100 }, 90), 'all 100 completed');
    my $st = mock_call(GET => '/_stats');
    is($st->{total}, 100, 'the provider got 100 submissions');
    is(scalar @{ $st->{repeated} }, 0, 'none submitted twice: the leases held');
    cmp_ok($st->{peak}, '>=', 50, "many open at once (peak $st->{peak})");
    is(psql("SELECT count(*) FROM flight_type_media WHERE prompt LIKE '%$tag%' AND attempts <> 1"),
       0, 'every generation took one attempt');
    is(ledger_once($tag), 'ok', 'each charged once');
}

# 3. A child killed with 200 attempts in flight: the parent starts another,
#    the leases run out, every generation is rescued and ends; each is
#    charged once or refunded, none stays open.
{
    my $tag = "kill-$$";
    mock_call(POST => '/_reset');
    is(submit(200, $tag, '[latency:6000]'), 200, '200 generations queued');
    ok(wait_for(sub { (mock_call(GET => '/_stats')->{open} // 0) >= 150 }, 60),
       'at least 150 of them open at the provider');
    my $child = (pids_of($dir))[1];
    my $hres = own_api($base, GET => '/api/health', user => $u);
    my $health = json_of($hres) // {};
    cmp_ok($health->{workers}{inFlight} // 0, '>=', 150, 'the child has them in flight')
        or diag("child $child; /api/health answered " . $hres->code . ' ' . $hres->decoded_content);
    ok(kill('KILL', $child), "child $child killed");
    ok(wait_for(sub { open_rows($tag) == 0 }, 120), 'no generation stays open');
    my $c = counts($tag);
    is(($c->{completed} // 0) + ($c->{failed} // 0), 200, 'all 200 ended');
    cmp_ok($c->{completed} // 0, '>=', 190,
           "nearly all completed after their rescue ($c->{completed})");
    isnt((pids_of($dir))[1], $child, 'a new child works');
    is(ledger_once($tag), 'ok', 'each charged once or refunded once');
    cmp_ok(psql("SELECT count(*) FROM flight_type_media WHERE prompt LIKE '%$tag%' "
                . "AND attempts >= 2"), '>=', 150,
           'those in flight when the child died took a second attempt (their rescue)');
}

stop_own_server($dir);

# 4. GenFlowMaxInFlight caps a child's attempts: with 20, 60 generations of
#    2 s each never have more than 20 calls open at the provider, and reach
#    20 (a server of its own, after the first stopped: nobody else works
#    the type).
{
    my $tag = "cap-$$";
    ($dir, $base) = start_own_server(<<"BODY");
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
GenFlowWorkers 2
GenFlowMaxInFlight 20
GenFlowMaxActive 1000
GenFlowDailyLimit 0
GenFlowProvider crowd stability base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=30000 breaker=off
<Location /api/flight-type>
    GenFlowType flight-type
    GenFlowProviders crowd
    GenFlowWait 0
    GenFlowDeadline 300
</Location>
BODY
    mock_call(POST => '/_reset');
    is(submit(60, $tag, '[latency:2000]'), 60, '60 generations queued');
    ok(wait_for(sub { (counts($tag)->{completed} // 0) >= 60 }, 90), 'all 60 completed');
    is(mock_call(GET => '/_stats')->{peak}, 20, 'exactly 20 calls open at the provider at the peak');
    stop_own_server($dir);
}

is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0,
   'genflow_check_invariants finds nothing wrong')
    or diag(psql("SELECT * FROM genflow_check_invariants(600)"));
