# SPDX-License-Identifier: Apache-2.0
# Waiting costs no thread: event streams, generate's wait and the status
# long-poll park in the event MPM (no worker thread, no database
# connection), while other users' requests are answered; a capped blocking
# fallback where they cannot park (GenFlowParkMax 0, prefork, HTTP/2).
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use JSON::PP qw(decode_json encode_json);
use LWP::UserAgent;
use HTTP::Request;
use Time::HiRes qw(time sleep);
use POSIX ();

plan tests => 45;

my $htpasswd = Apache::Test::vars('t_conf') . '/htpasswd';
for my $t (qw(watch-a watch-b)) {
    (my $table = $t) =~ s/-/_/g;
    psql("SELECT genflow_create_type_table('$t', '${table}_media')");
}

sub call {
    my ($base, $method, $path, %a) = @_;
    my $req = HTTP::Request->new($method => "$base$path");
    $req->authorization_basic($a{user}, $a{user});
    if ($a{body}) {
        $req->content(encode_json($a{body}));
        $req->header('Content-Type' => 'application/json');
    }
    my $h = $a{headers} || {};
    $req->header($_ => $h->{$_}) for keys %$h;
    return LWP::UserAgent->new(timeout => 90, keep_alive => 0)->request($req);
}

sub health {
    my ($base, $user) = @_;
    my $res = call($base, GET => '/api/health', user => $user);
    return $res->code == 200 ? decode_json($res->decoded_content) : {};
}

# Run watchers.mjs with JOB; $on_line->(line) for each line before the
# summary. Returns the summary.
sub crowd {
    my ($job, $on_line) = @_;
    local $ENV{WATCH_JOB} = encode_json($job);
    open my $node, '-|', 'sh', '-c',
        "ulimit -n \$(ulimit -Hn); exec node '$FindBin::Bin/lib/watchers.mjs'"
        or die "node: $!";
    my $summary;
    while (my $line = <$node>) {
        chomp $line;
        if ($line =~ /^\{/) { $summary = decode_json($line); next }
        $on_line->($line) if $on_line;
    }
    close $node;
    my %brief = %{ $summary || {} };
    delete $brief{waitIds};
    Test::More::note(encode_json(\%brief));
    return $summary || {};
}

sub server_body {
    my ($extra) = @_;
    return <<"BODY";
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 25
AsyncRequestWorkerFactor 200
ListenBacklog 4096
DBDMin 0
DBDKeep 4
DBDMax 8
GenFlowWorkers 0
GenFlowMaxActive 0
GenFlowStartingCredits 100000
GenFlowDailyLimit 0
GenFlowEventsPerUser 0
<Location /api/watch-a>
    GenFlowType watch-a
    GenFlowProviders local
</Location>
<Location /api/watch-b>
    GenFlowType watch-b
    GenFlowProviders local
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
<Location /api/quota>
    SetHandler genflow-quota
</Location>
$extra
BODY
}

sub create {
    my ($base, $user, $type) = @_;
    my $res = call($base, POST => "/api/$type/create", user => $user,
                   body => { prompt => 'watched' });
    return decode_json($res->decoded_content)->{generationId};
}

sub error_log_clean {
    my ($dir) = @_;
    open my $fh, '<', "$dir/error_log" or return 0;
    my @bad = grep { /exit signal|AH00052|Segmentation|AddressSanitizer|scoreboard is full/ } <$fh>;
    print STDERR "# error_log: $_" for @bad;
    # With the backtrace of each core the crash left.
    print STDERR map { "# $_\n" } split /\n/, crash_report($dir) if @bad;
    return !@bad;
}

my ($S, $W, $P) = (new_user('streamer'), new_user('waiter'), new_user('bystander'));

# 1. The crowd: 2,000 event streams on 8 generations and 500 generate
#    waits in one child of 25 threads, while another user's requests are
#    answered; then the 8 generations end and every stream hears it.
{
    my ($dir, $base) = start_own_server(server_body(''));
    my ($host, $port) = $base =~ m{http://([^:]+):(\d+)};
    call($base, GET => '/api/quota', user => $_) for $S, $W, $P;
    my @ids = map { create($base, $S, 'watch-a') } 1 .. 8;
    my $mine = create($base, $P, 'watch-a');
    my $parked_seen = 0;
    my $sum = crowd({
        host => $host, port => $port, timeoutMs => 90000, settleMs => 1500,
        streams => [map { { base => '/api/watch-a', id => $_, user => $S, n => 250 } } @ids],
        waits => [{ path => '/api/watch-b/generate', user => $W, n => 500, wait => 25,
                    body => { prompt => 'waiting' } }],
        probe => { user => $P, count => 10,
                   paths => ['/api/quota', "/api/watch-a/status/$mine"] },
        startAfterOpen => [map { { path => "/api/watch-a/cancel/$_", user => $S } } @ids],
    }, sub {
        my ($line) = @_;
        return unless $line eq 'opened';
        sleep 1;
        $parked_seen = health($base, $P)->{waiters}{parked} // 0;
    });
    ok(!$sum->{timedOut}, 'every stream and wait ended within the time allowed');
    ok($parked_seen >= 2400, "2,500 requests parked in one child of 25 threads ($parked_seen seen)");
    is($sum->{probeBad}, 0, "another user's requests all answered 200 meanwhile");
    ok($sum->{probeMaxMs} < 5000, "and each within 5 s (slowest $sum->{probeMaxMs} ms)");
    is($sum->{streams}, 2000, '2,000 streams opened');
    is($sum->{streamCodes}{200} // 0, 2000, 'every stream answered 200');
    is($sum->{streamsTerminal}, 2000, 'every stream got its terminal event');
    is($sum->{streamsComplete}, 2000, 'every stream ended cleanly (last chunk)');
    is($sum->{streamsRepeated}, 0, 'no stream repeated an event');
    is($sum->{waitErrors}, 0, 'every wait got an answer');
    is(($sum->{waitCodes}{202} // 0) + ($sum->{waitCodes}{200} // 0), 500,
       'every wait answered 200 or 202');
    is($sum->{waitsEarly}, 0, 'no wait answered before its deadline (nothing ran)');
    my $h;
    for (1 .. 50) { $h = health($base, $P); last if !$h->{waiters}{parked}; sleep 0.1 }
    is($h->{waiters}{parked}, 0, 'no waiter is left parked');
    # The waits' generations are cancelled (refunded) so the ledger stays whole.
    call($base, POST => "/api/watch-b/cancel/$_", user => $W) for @{ $sum->{waitIds} };
    is(scalar @{ $sum->{waitIds} }, 500, 'each wait named its generation');

    # 2. Clients that leave while parked are noticed at once (epoll on the
    #    parked sockets), not at their deadline.
    my $id = create($base, $S, 'watch-a');
    $sum = crowd({ host => $host, port => $port, timeoutMs => 20000, settleMs => 0,
                   streams => [{ base => '/api/watch-a', id => $id, user => $S, n => 200,
                                 drop => 1 }] });
    is($sum->{dropped}, 200, '200 streams opened and dropped by their clients');
    for (1 .. 50) { $h = health($base, $P); last if !$h->{waiters}{parked}; sleep 0.1 }
    is($h->{waiters}{parked}, 0, 'their waiters are gone within moments');
    call($base, POST => "/api/watch-a/cancel/$id", user => $S);

    # 3. The status long-poll: answers as soon as the generation differs
    #    from the client's ETag; else 304 when the wait is over.
    $id = create($base, $S, 'watch-a');
    my $st = call($base, GET => "/api/watch-a/status/$id", user => $S);
    my $etag = $st->header('ETag');
    my $t0 = time;
    $st = call($base, GET => "/api/watch-a/status/$id", user => $S,
               headers => { 'If-None-Match' => $etag, Prefer => 'wait=2' });
    # On an idle server: a deadline handed to the MPM as a timer in the
    # future would not fire on time (the watcher dates them in the past).
    my $took = time - $t0;
    ok($st->code == 304 && $took >= 1.8 && $took < 5,
       sprintf('an unchanged generation: 304 after the wait (%.1f s)', $took));
    is($st->header('Preference-Applied'), 'wait=2', 'the wait is acknowledged');
    my $pid = fork;
    if (!$pid) { sleep 1; call($base, POST => "/api/watch-a/cancel/$id", user => $S); POSIX::_exit(0) }
    $t0 = time;
    $st = call($base, GET => "/api/watch-a/status/$id", user => $S,
               headers => { 'If-None-Match' => $etag, Prefer => 'wait=20' });
    waitpid $pid, 0;
    ok($st->code == 200 && decode_json($st->decoded_content)->{status} eq 'cancelled',
       'a change answers the long-poll with the new state');
    ok(time - $t0 < 10, 'at once, not at the end of the wait');
    $t0 = time;
    $st = call($base, GET => "/api/watch-a/status/$id", user => $S,
               headers => { 'If-None-Match' => $st->header('ETag'), Prefer => 'wait=20' });
    ok($st->code == 304 && time - $t0 < 5, 'a finished generation never changes: 304 at once');

    # 4. A graceful restart with parked waiters: every one ends with an
    #    answer or a clean close, and nothing crashes.
    my @gids = map { create($base, $S, 'watch-a') } 1 .. 3;
    $sum = crowd({
        host => $host, port => $port, timeoutMs => 60000, settleMs => 500,
        streams => [map { { base => '/api/watch-a', id => $_, user => $S, n => 100 } } @gids],
        waits => [{ path => '/api/watch-b/generate', user => $W, n => 100, wait => 40,
                    body => { prompt => 'restart' } }],
    }, sub {
        return unless $_[0] eq 'opened';
        sleep 1;
        system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k graceful");
    });
    ok(!$sum->{timedOut}, 'a graceful restart ends every parked request');
    is($sum->{streamsComplete}, 300, 'every stream closed cleanly');
    is($sum->{streamsErrors}, 0, 'no stream was reset');
    is($sum->{waitCodes}{202} // 0, 100, 'every wait answered 202');
    call($base, POST => "/api/watch-b/cancel/$_", user => $W) for @{ $sum->{waitIds} };
    call($base, POST => "/api/watch-a/cancel/$_", user => $S) for @gids;
    sleep 1;
    is(call($base, GET => '/api/quota', user => $P)->code, 200, 'the new generation answers');
    ok(error_log_clean($dir), 'no child crashed');
    stop_own_server($dir);
}

# 5. The floor: where nothing may park (GenFlowParkMax 0 stands for prefork,
#    worker and HTTP/2), at most GenFlowBlockingWaiters requests wait on a
#    thread; the rest are answered at once.
{
    my ($dir, $base) = start_own_server(server_body("GenFlowParkMax 0\nGenFlowBlockingWaiters 3\n"));
    my ($host, $port) = $base =~ m{http://([^:]+):(\d+)};
    my $sum = crowd({
        host => $host, port => $port, timeoutMs => 30000, settleMs => 500,
        waits => [{ path => '/api/watch-b/generate', user => $W, n => 10, wait => 4,
                    body => { prompt => 'floor' } }],
    });
    is($sum->{waitCodes}{202} // 0, 10, 'every wait answered 202');
    ok($sum->{waitsEarly} >= 5, "past the cap, waits answered at once ($sum->{waitsEarly} of 10)");
    call($base, POST => "/api/watch-b/cancel/$_", user => $W) for @{ $sum->{waitIds} };
    my $id = create($base, $S, 'watch-a');
    $sum = crowd({
        host => $host, port => $port, timeoutMs => 30000, settleMs => 500,
        streams => [{ base => '/api/watch-a', id => $id, user => $S, n => 5 }],
        startAfterOpen => [{ path => "/api/watch-a/cancel/$id", user => $S }],
    });
    ok($sum->{streamsRetryFull} == 2 && $sum->{streamsComplete} == 5,
       'streams past the cap say retry: and close');
    is($sum->{streamsTerminal}, 3, 'streams within the cap wait for the terminal event');
    call($base, POST => "/api/watch-b/cancel/$_", user => $W) for @{ $sum->{waitIds} };
    ok(error_log_clean($dir), 'no crash without parking');
    stop_own_server($dir);
}

# 6. prefork: the MPM cannot park (probed once per child) and a child has
#    one thread, so waits answer at once.
{
    local $GenFlowTest::MPM = 'mpm_prefork';
    my ($dir, $base) = start_own_server(server_body('')
        =~ s/^(ThreadsPerChild|MaxRequestWorkers|AsyncRequestWorkerFactor|ServerLimit).*\n//mgr);
    my $t0 = time;
    my $res = call($base, POST => '/api/watch-b/generate', user => $W,
                   body => { prompt => 'prefork' }, headers => { Prefer => 'wait=10' });
    ok($res->code == 202 && time - $t0 < 5, 'prefork: generate answers 202 at once');
    my $gid = decode_json($res->decoded_content)->{generationId};
    $res = call($base, GET => "/api/watch-b/events/$gid", user => $W);
    ok($res->code == 200 && $res->decoded_content =~ /retry: 10000/
       && $res->decoded_content =~ /"status"\s*:\s*"pending"/,
       'prefork: a stream sends the state, retry: and closes');
    my $etag = call($base, GET => "/api/watch-b/status/$gid", user => $W)->header('ETag');
    $t0 = time;
    $res = call($base, GET => "/api/watch-b/status/$gid", user => $W,
                headers => { 'If-None-Match' => $etag, Prefer => 'wait=10' });
    ok($res->code == 304 && time - $t0 < 5, 'prefork: the long-poll answers at once');
    call($base, POST => "/api/watch-b/cancel/$gid", user => $W);
    ok(error_log_clean($dir), 'prefork: no crash');
    stop_own_server($dir);
}

# 7. HTTP/2 (h2c): a stream of a secondary connection is never suspended
#    (that crashes the child); it waits under the cap.
{
    my $curl = `curl --version 2>/dev/null`;
    my ($dir, $base) = start_own_server(server_body("Protocols h2c http/1.1\n"
        . "GenFlowBlockingWaiters 2\n"), 'http2');
    my $id = create($base, $S, 'watch-a');
    my $pid = fork;
    if (!$pid) { sleep 2; call($base, POST => "/api/watch-a/cancel/$id", user => $S); POSIX::_exit(0) }
    my $t0 = time;
    my $out = `curl -s --http2-prior-knowledge -u $S:$S -N --max-time 30 '$base/api/watch-a/events/$id' -w '\\n%{http_version} %{http_code}'`;
    waitpid $pid, 0;
    ok($curl =~ /HTTP2/ && $out =~ /\n2 200$/, 'h2c: the stream is served over HTTP/2');
    ok($out =~ /"status"\s*:\s*"pending"/ && $out =~ /"status"\s*:\s*"cancelled"/,
       'h2c: it sees the change and the terminal event');
    $out = `curl -s --http2-prior-knowledge -u $W:$W --max-time 30 -H 'Content-Type: application/json' -H 'Prefer: wait=2' -d '{"prompt":"h2"}' '$base/api/watch-b/generate' -w '\\n%{http_version} %{http_code}'`;
    ok($out =~ /\n2 202$/, 'h2c: generate waits and answers 202');
    my ($gid) = $out =~ /"generationId"\s*:\s*"([^"]+)"/;
    call($base, POST => "/api/watch-b/cancel/$gid", user => $W) if $gid;
    is(health($base, $P)->{waiters}{parked}, 0, 'h2c: nothing was parked');
    ok(error_log_clean($dir), 'h2c: no crash');
    stop_own_server($dir);
}

# 8. worker: the MPM cannot park either; waits block a thread, within the
#    cap (half of ThreadsPerChild).
{
    local $GenFlowTest::MPM = 'mpm_worker';
    my ($dir, $base) = start_own_server(server_body('')
        =~ s/^(AsyncRequestWorkerFactor).*\n//mgr);
    my $t0 = time;
    my $res = call($base, POST => '/api/watch-b/generate', user => $W,
                   body => { prompt => 'worker' }, headers => { Prefer => 'wait=2' });
    ok($res->code == 202 && time - $t0 >= 1.8, 'worker: generate waits on its thread, then 202');
    my $gid = decode_json($res->decoded_content)->{generationId};
    my $pid = fork;
    if (!$pid) { sleep 1; call($base, POST => "/api/watch-b/cancel/$gid", user => $W); POSIX::_exit(0) }
    $res = call($base, GET => "/api/watch-b/events/$gid", user => $W);
    waitpid $pid, 0;
    ok($res->code == 200 && $res->decoded_content =~ /"status"\s*:\s*"cancelled"/,
       'worker: a stream waits for the change');
    is(health($base, $P)->{waiters}{parked}, 0, 'worker: nothing was parked');
    ok(error_log_clean($dir), 'worker: no crash');
    stop_own_server($dir);
}
