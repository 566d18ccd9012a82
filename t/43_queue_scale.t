# SPDX-License-Identifier: Apache-2.0
# A deep queue behind a provider's limits: wakes coalesced, expiry with a
# code of its own, and users in turn.
#
# 1. 20,000 generations queued one transaction each (20,000 NOTIFYs)
#    behind a provider whose one place is taken wake each child a handful
#    of times, not a round per row; 20,000 more in one statement are one
#    NOTIFY. Counted by the engine's own counters
#    (genflow_engine_events_total).
# 2. Three users queue 12 each, one after the other, behind a provider of
#    one place and 250 ms calls, with GenFlowPendingTTL 5: about 20 start
#    in time, the rest fail with QUEUE_TIMEOUT and are refunded, never
#    started; users take turns, so each user gets a fair share of the
#    starts (first come, first served would start all of the first
#    user's and none of the last's).
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

plan tests => 26;

my $json = JSON::PP->new;
my $mport = free_port();
my $mock = "http://127.0.0.1:$mport";
mock_at($mock);
my $mpid = open2(my $mout, my $min, 'node', "$FindBin::Bin/mock/crowd_provider.mjs", $mport, 250);
is(scalar(<$mout>) // '', "ready\n", 'the crowd mock listens');
END { kill 'TERM', $mpid if $mpid }


my $table = 'deep_line_media';
psql("SELECT genflow_create_type_table('deep-line', '$table')");
my %user;
for my $k (qw(a b c w)) { $user{$k} = new_user("deep$k") }
for my $u (values %user) { api(GET => '/api/quota', user => $u); grant($u, 100000) }

# The first part's call holds the one place for 4 minutes: longer than its
# 40,000 queues take on a loaded machine (a CI run's fuzzers beside it).
my $prov = "stability base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=300000 breaker=off";
# The server of each part: two children of four workers; part 2 with a
# queue TTL of 5 s.
sub server {
    my ($ttl) = @_;
    return start_own_server(<<"BODY");
StartServers 2
ServerLimit 2
ThreadsPerChild 10
MaxRequestWorkers 20
MinSpareThreads 10
MaxSpareThreads 20
GenFlowWorkers 4
GenFlowLeaseSeconds 10
GenFlowPendingTTL $ttl
GenFlowMaxActive 100000
GenFlowDailyLimit 0
GenFlowProvider held $prov max_concurrent=1
GenFlowProvider line $prov max_concurrent=1
<Location /api/metrics>
    SetHandler genflow-metrics
</Location>
<Location /api/deep-held>
    GenFlowType deep-line
    GenFlowProviders held
    GenFlowWait 0
    GenFlowDeadline 600
</Location>
<Location /api/deep-line>
    GenFlowType deep-line
    GenFlowProviders line
    GenFlowWait 0
</Location>
BODY
}
my ($dir, $base) = server(3600);

sub events {
    my $m = own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content;
    my %e = $m =~ /^genflow_engine_events_total\{event="(\w+)"\} (\d+)/mg;
    return \%e;
}
sub psql_file {
    my ($sql) = @_;
    my $bin = $ENV{GENFLOW_TEST_PG_BINDIR} ? "$ENV{GENFLOW_TEST_PG_BINDIR}/psql" : 'psql';
    my $file = "/tmp/genflow-deep-$$.sql";
    open my $fh, '>', $file or die $!;
    print $fh $sql;
    close $fh;
    my $rc = system("$bin -X -q -v ON_ERROR_STOP=1 '$ENV{GENFLOW_TEST_PG_URI}' -f $file >/dev/null");
    unlink $file;
    return $rc == 0;
}
# One queued generation of the held provider's line, with its reservation,
# in one statement (what a generate does, without the HTTP).
sub queue_sql {
    my ($n, $tag) = @_;
    return "WITH acct AS (UPDATE genflow_accounts SET balance = balance - $n, active = active + $n "
         . "WHERE user_id = '$user{w}' RETURNING user_id), "
         . "gen AS (INSERT INTO $table (user_id, prompt, seed, input, estimated_cost, chain, "
         . "queued_at, next_attempt_at, turn) SELECT acct.user_id, '$tag ' || i, 1, '{}', 1, 'held', "
         . "now(), now(), i FROM acct, generate_series(1, $n) i RETURNING id, user_id) "
         . "INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason) "
         . "SELECT user_id, 'reserve', -1, 'deep-line', id, 'create' FROM gen;\n";
}

# 1. Wakes.
{
    my $tag = "wake-$$";
    is(own_api($base, POST => '/api/deep-held/generate', user => $user{w},
               body => { prompt => "$tag first [latency:240000]" })->code, 202,
       'a generation that holds the one place of its provider');
    ok(wait_for(sub { (mock_call(GET => '/_stats')->{open} // 0) >= 1 }, 20), 'its call is open');
    sleep 1.5;
    my $e0 = events();
    my $t0 = time;
    ok(psql_file(join '', map { queue_sql(1, "$tag one$_") } 1 .. 20000),
       '20,000 generations queued behind it, one transaction (one NOTIFY) each');
    my $secs = time - $t0;
    sleep 1;
    my $e1 = events();
    my ($wakes, $rounds) = ($e1->{wake} - $e0->{wake}, $e1->{round} - $e0->{round});
    cmp_ok($wakes, '<=', 4 * ($secs + 2),
           sprintf('workers woken %d times in %.1f s for 20,000 notifications (at most ~1 a second '
                   . 'a child: the provider is known full)', $wakes, $secs));
    # Without a wake one worker of the httpd looks every half second
    # (the others of both children join every 2 s while work comes: at
    # most 10 rounds a second); each wake is one round more.
    cmp_ok($rounds, '<=', 10 * ($secs + 2) + $wakes,
           sprintf('%d rounds of the workers in %.1f s (%d wakes), not a round per generation',
                   $rounds, $secs, $wakes));
    $e0 = events();
    ok(psql_file(queue_sql(20000, "$tag all")), '20,000 more in one statement');
    sleep 1;
    $e1 = events();
    cmp_ok($e1->{wake} - $e0->{wake}, '<=', 2 + 4, 'one NOTIFY: at most a wake a child (and the '
                                                   . 'second-long looks)');
    is(mock_call(GET => '/_stats')->{total}, 1, 'nothing else was sent to the provider');
    # Gone again, refunded, as a cancel does it: the 40,000 and the one
    # that holds the place (its final prompt starts with the type's
    # template, not the tag: left open, no server of the suite would end
    # it, and the suite's invariants would find it held past its deadline).
    psql("WITH gen AS (UPDATE $table g SET status = 'cancelled', error_code = 'CANCELLED', "
         . "error_message = 'test', credits_charged = 0, finished_at = now(), lease_owner = NULL, "
         . "lease_until = NULL WHERE g.prompt LIKE '%$tag %' AND g.status IN ('pending', 'processing') "
         . "RETURNING g.*), led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, "
         . "generation_id, reason) SELECT user_id, 'refund', estimated_cost, 'deep-line', id, 'CANCELLED' "
         . "FROM gen RETURNING user_id, amount), pu AS (SELECT user_id, sum(amount) AS a, count(*) AS n "
         . "FROM led GROUP BY user_id) UPDATE genflow_accounts a SET balance = a.balance + pu.a, "
         . "active = greatest(a.active - pu.n, 0) FROM pu WHERE a.user_id = pu.user_id");
    is(psql("SELECT count(*) FROM $table WHERE prompt LIKE '%$tag %' AND status IN ('pending', 'processing')"),
       0, 'the 40,001 cancelled and refunded');
    is(psql("SELECT count(*) FROM $table WHERE prompt LIKE '%$tag %' AND status = 'cancelled'"), 40001,
       'the one that held the place among them');
}

# 1b. Idle, the two children of the httpd share the duties on a clock:
#     one look for work due by time per half second and one sweep per
#     2 s for the whole httpd (every child on its own: 2 x 2 looks and
#     2 x 0.5 sweeps a second, and a round of every other worker).
{
    sleep 3;
    my $e0 = events();
    my $t0 = time;
    sleep 10;
    my $e1 = events();
    my $secs = time - $t0;
    my ($rounds, $sweeps, $wakes) = map { $e1->{$_} - $e0->{$_} } qw(round sweep wake);
    cmp_ok($rounds, '<=', 2.5 * $secs + $wakes,
           sprintf('idle: %d rounds in %.1f s (%d wakes): the look, twice a second for the httpd',
                   $rounds, $secs, $wakes));
    cmp_ok($rounds, '>=', $secs, 'and it does look');
    cmp_ok($sweeps, '<=', $secs / 2 + 1.5, "$sweeps sweeps in that time: one every 2 s for the httpd");
    cmp_ok($sweeps, '>=', $secs / 2 - 2, 'and they do run');
}

# 2. Expiry behind a limit, users in turn.
stop_own_server($dir);
($dir, $base) = server(5);
{
    my $tag = "turn-$$";
    mock_call(POST => '/_reset');
    my $queued = 0;
    for my $k (qw(a b c)) {
        for my $i (1 .. 12) {
            my $res = own_api($base, POST => '/api/deep-line/generate', user => $user{$k},
                              body => { prompt => "$tag $k $i" });
            $queued++ if $res->code == 202 || $res->code == 200;
        }
    }
    is($queued, 36, "three users queued 12 each, one user after the other");
    ok(wait_for(sub { psql("SELECT count(*) FROM $table WHERE prompt LIKE '%$tag %' AND status IN "
                           . "('pending', 'processing')") == 0 }, 60), 'none stays open');
    my %done = map { $_->[0] => $_->[1] } psql_rows(
        "SELECT substring(prompt FROM '$tag ([abc]) '), count(*) FROM $table WHERE prompt LIKE '%$tag %' "
        . "AND status = 'completed' GROUP BY 1");
    my %late = map { $_->[0] => $_->[1] } psql_rows(
        "SELECT substring(prompt FROM '$tag ([abc]) '), count(*) FROM $table WHERE prompt LIKE '%$tag %' "
        . "AND status = 'failed' AND error_code = 'QUEUE_TIMEOUT' GROUP BY 1");
    my $all_late = 0;
    $all_late += $_ for values %late;
    my $all_done = 0;
    $all_done += $_ for values %done;
    is($all_done + $all_late, 36, "each completed or failed with QUEUE_TIMEOUT ($all_done completed, "
                                  . "$all_late QUEUE_TIMEOUT)")
        or diag(scalar psql("SELECT status, error_code, left(error_message, 120), count(*) FROM $table "
                     . "WHERE prompt LIKE '%$tag %' GROUP BY 1, 2, 3"));
    cmp_ok($all_late, '>=', 6, 'the line was longer than the provider could serve within the TTL');
    my @counts = map { $done{$_} // 0 } qw(a b c);
    my ($lo) = sort { $a <=> $b } @counts;
    cmp_ok($lo, '>=', 3, "no user was starved (completed: @counts; first come, first served: "
                         . "12 for the first, 0 for the last)");
    # Users in turn, judged where it is exact: from the moment all three
    # had queued everything until the first of them had nothing left
    # waiting (its last row started or expired), the one place went to
    # them in turn. How many completed in all also depends on how the
    # queueing's own time compares with the TTL (each row expires 5 s
    # after it was queued, the first user's first), which this is not.
    my ($n_a, $n_b, $n_c, $window_ms) = split /\|/, psql(
        "WITH r AS (SELECT substring(prompt FROM '$tag ([abc]) ') AS u, queued_at, started_at, "
        . "COALESCE(started_at, finished_at) AS gone FROM $table WHERE prompt LIKE '%$tag %'), "
        . "w AS (SELECT (SELECT max(queued_at) FROM r) AS ws, "
        . "(SELECT min(last) FROM (SELECT max(gone) AS last FROM r GROUP BY u) l) AS we) "
        . "SELECT count(*) FILTER (WHERE u = 'a'), count(*) FILTER (WHERE u = 'b'), "
        . "count(*) FILTER (WHERE u = 'c'), round(extract(epoch FROM max(w.we) - max(w.ws)) * 1000) "
        . "FROM w LEFT JOIN r ON r.started_at BETWEEN w.ws AND w.we GROUP BY w.ws");
    my @turns = map { $_ // 0 } ($n_a, $n_b, $n_c);
    my ($tlo, $thi) = (sort { $a <=> $b } @turns)[0, -1];
    my $in_window = $n_a + $n_b + $n_c;
    cmp_ok($in_window, '>=', 6, "all three users waited together for $window_ms ms: $in_window starts")
        or diag(scalar psql("SELECT substring(prompt FROM '$tag ([abc]) '), queued_at, started_at, "
                            . "finished_at, error_code FROM $table WHERE prompt LIKE '%$tag %' ORDER BY queued_at"));
    cmp_ok($thi - $tlo, '<=', 1, "meanwhile they took turns: @turns starts (first come, first served: "
                                 . "all of them the first user's)");
    is(psql("SELECT count(*) FROM $table WHERE prompt LIKE '%$tag %' AND error_code = 'QUEUE_TIMEOUT' "
            . "AND (started_at IS NOT NULL OR attempts > 0)"), 0, 'the expired ones were never started');
    is(psql("SELECT count(*) FROM $table g WHERE g.prompt LIKE '%$tag %' AND g.error_code = 'QUEUE_TIMEOUT' "
            . "AND (SELECT string_agg(kind, ',' ORDER BY id) FROM genflow_ledger l "
            . "WHERE l.generation_id = g.id) IS DISTINCT FROM 'reserve,refund'"), 0,
       'each expired one refunded once');
    like(psql("SELECT error_message FROM $table WHERE prompt LIKE '%$tag %' AND error_code = 'QUEUE_TIMEOUT' "
              . "LIMIT 1"), qr/provider line had no free place/, 'the message names the provider');
}

stop_own_server($dir);
is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0,
   'genflow_check_invariants finds nothing wrong')
    or diag(scalar psql("SELECT * FROM genflow_check_invariants(600)"));
