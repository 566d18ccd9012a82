# SPDX-License-Identifier: Apache-2.0
# Watching counted like streaming: a user's status long-polls and event
# streams count together against GenFlowEventsPerUser, for the whole
# server (every child: shared memory), and one more is 429 with
# Retry-After; and a crowd watching one queued generation costs the
# database what one watcher does: each child reads a queued generation's
# place at most once a second, whatever waits on it, while a plain status
# read still computes it afresh. What PostgreSQL ran is counted by
# pg_stat_statements (scripts/test loads it). One httpd for the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use JSON::PP qw(decode_json encode_json);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time sleep);
use POSIX ();

plan tests => 14;

psql("SELECT genflow_create_type_table('wl-a', 'wl_a_media')");
# What PostgreSQL ran is counted by pg_stat_statements, which the suite's
# cluster loads (GF_PG_STATS in scripts/lib.sh): without it nothing here
# could be measured, so say so at once.
my (undef, $pgss) = psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
                         . "SELECT count(*) FROM pg_stat_statements");
BAIL_OUT('pg_stat_statements is not loaded in the suite\'s PostgreSQL (scripts/lib.sh, GF_PG_STATS)')
    unless $pgss;
my $U = new_user('watching');

# Three children with every thread idle, kept alive (MinSpareThreads), so
# that connections land on several of them; no workers, so a queued
# generation stays in line for good.
my ($dir, $base) = start_own_server(<<'BODY');
StartServers 3
ServerLimit 4
ThreadsPerChild 25
MaxRequestWorkers 100
MinSpareThreads 75
MaxSpareThreads 100
AsyncRequestWorkerFactor 50
KeepAliveTimeout 60
MaxKeepAliveRequests 0
DBDMin 0
DBDKeep 2
DBDMax 8
GenFlowWorkers 0
GenFlowMaxActive 0
GenFlowStartingCredits 1000
GenFlowDailyLimit 0
GenFlowEventsPerUser 45
<Location /api/wl-a>
    GenFlowType wl-a
    GenFlowProviders local
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
BODY
(my $port = $base) =~ s/.*://;

sub call {   # as the user U unless another is named; recorded for the OpenAPI check
    my ($method, $path, %a) = @_;
    return own_api($base, $method, $path, %a, user => $a{user} // $U);
}
sub json { my $r = shift; return eval { decode_json($r->decoded_content) } // {} }

# A keep-alive connection of our own: it stays with the child that
# accepted it, so a health read on it says which child will park the next
# request sent on it.
sub connect_child {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10)
        or die "connect: $!";
    my $res = send_request($s, 'GET', '/api/health');
    my ($pid) = $res =~ /"pid"\s*:\s*(\d+)/;
    return ($s, $pid);
}
sub send_request {
    my ($s, $method, $path, @headers) = @_;
    my $auth = encode_base64("$U:$U", '');
    print $s "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nAuthorization: Basic $auth\r\n"
        . join('', map { "$_\r\n" } @headers) . "\r\n";
    return undef unless defined wantarray;
    return read_response($s);
}
sub read_response {
    my ($s) = @_;
    my ($head, $body) = ('', '');
    while (defined(my $line = <$s>)) {
        $head .= $line;
        last if $line eq "\r\n";
    }
    my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
    read($s, $body, $len) if $len;
    return $head . $body;
}
sub calls_of_get {   # what PostgreSQL ran of the type's status read so far
    return psql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                . "WHERE query LIKE '%FROM wl_a_media g CROSS JOIN LATERAL%'") + 0;
}
sub calls_of_line {  # ... and of its read of a line's watched generations
    return psql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                . "WHERE query LIKE '%jsonb_to_recordset%FROM wl_a_media t WHERE%'") + 0;
}

# ---- the cap, for every child together -----------------------------------------
my @pending = map { json(call(POST => '/api/wl-a/create', body => { prompt => "watched $_" }))->{generationId} } 1 .. 2;
my %etag = map { $_ => call(GET => "/api/wl-a/status/$_")->header('ETag') } @pending;
sub long_poll {   # on socket s (a new one without): a long-poll of a created generation
    my ($s) = @_;
    $s //= IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10)
        or die "connect: $!";
    send_request($s, 'GET', "/api/wl-a/status/$pending[0]", "If-None-Match: $etag{$pending[0]}",
                 'Prefer: wait=60');
    return $s;
}
# Two keep-alive connections on two different children, a long-poll on
# each, then the rest of the user's CAP on new connections, wherever the
# kernel puts them: no child holds them all.
my $CAP = 45;
my (%by_pid, @spare);
for (1 .. 60) {
    my ($s, $pid) = connect_child();
    if ($pid && !$by_pid{$pid}) { $by_pid{$pid} = $s } else { push @spare, $s }
    last if keys %by_pid >= 2;
}
my @pids = sort keys %by_pid;
ok(@pids >= 2, 'two connections held on two children (' . join(', ', @pids) . ')');
my @open = map { long_poll($_) } values %by_pid;
push @open, long_poll() for 1 .. $CAP - @open;
sleep 1;
my $over = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10);
my $answer = send_request($over, 'GET', "/api/wl-a/status/$pending[1]",
                          "If-None-Match: $etag{$pending[1]}", 'Prefer: wait=30');
my ($code) = ($answer // '') =~ m{^HTTP/1\.1 (\d+)};
is($code // 0, 429, "long-poll $CAP + 1 of a user whose $CAP are spread over the children: 429 "
                    . '(the children count together)')
    or diag($answer);
like($answer // '', qr/^Retry-After: \d+\r$/m, 'with Retry-After');
like($answer // '', qr/"RATE_LIMIT"/, 'and RATE_LIMIT');
my $res = call(GET => "/api/wl-a/events/$pending[1]");
is($res->code, 429, 'so is an event stream of the same user: streams and long-polls count together');
my $other = new_user('watching_other');
my $oid = json(call(POST => '/api/wl-a/create', user => $other, body => { prompt => 'other' }))->{generationId};
$res = call(GET => "/api/wl-a/status/$oid", user => $other,
            headers => { 'If-None-Match' => call(GET => "/api/wl-a/status/$oid", user => $other)->header('ETag'),
                         Prefer => 'wait=1' });
is($res->code, 304, "another user's long-poll waits as usual (304 after its wait)");
# Once the watchers go (their clients leave), the user may watch again.
close $_ for @open, @spare, $over;
my $ok = wait_for(sub {
    my $r = call(GET => "/api/wl-a/status/$pending[1]",
                 headers => { 'If-None-Match' => $etag{$pending[1]}, Prefer => 'wait=1' });
    return $r->code == 304;
}, 15);
ok($ok, 'once their clients left, the user may long-poll again');

# ---- one queued generation, watched by a crowd ----------------------------------
my $queued = json(call(POST => '/api/wl-a/generate', headers => { Prefer => 'wait=0' },
                       body => { prompt => 'in line' }))->{generationId};
my $st = call(GET => "/api/wl-a/status/$queued");
ok(defined json($st)->{queuePosition}, 'a generation no worker takes waits in line (queuePosition '
                                         . (json($st)->{queuePosition} // 'null') . ')');
my $before = calls_of_get();
call(GET => "/api/wl-a/status/$queued") for 1 .. 3;
is(calls_of_get() - $before, 3, 'each plain status read of it computes its place afresh (3 reads)');
# What PostgreSQL reads for long-polls held over SECS seconds, once they
# have all arrived (a crowd arriving at once may read in each child as
# many times as it has threads before the first read is kept: a burst,
# once): (status reads, reads of whole lines, seconds measured).
my $secs = 6;
sub watched {
    my (@polls) = @_;   # [id, etag] each
    my @socks = map { long_poll_of($_->[0], $_->[1], $secs + 4) } @polls;
    sleep 2;
    my ($g, $l, $t0) = (calls_of_get(), calls_of_line(), time);
    sleep $secs;
    my @got = (calls_of_get() - $g, calls_of_line() - $l, time - $t0);
    read_response($_) for @socks;
    return @got;
}
sub long_poll_of {
    my ($id, $etag, $wait) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 30)
        or die "connect: $!";
    send_request($s, 'GET', "/api/wl-a/status/$id", "If-None-Match: $etag", "Prefer: wait=$wait");
    return $s;
}
my $etag = call(GET => "/api/wl-a/status/$queued")->header('ETag');
my ($g1, $l1, $t1) = watched([$queued, $etag]);
my ($gn, $ln, $tn) = watched(map { [$queued, $etag] } 1 .. 40);
# One long-poll reads the place about once a second. Forty, unshared,
# would read forty times as often (over 200); shared, the server reads it
# about once a second whatever the children hold them (a child takes the
# place another read, and reads itself only when none did for two looks):
# at most twice the one long-poll's.
ok($g1 + $l1 >= $secs - 2 && $g1 + $l1 <= $secs + 2,
   sprintf('one long-poll of a queued generation reads its place about once a second (%d reads '
           . 'in %.1f s)', $g1 + $l1, $t1));
ok($gn + $ln <= 2 * ($secs + 1),
   sprintf('40 long-polls of it on 3 children share the reads: %d in %.1f s (one long-poll: %d; '
           . 'at most %d)', $gn + $ln, $tn, $g1 + $l1, 2 * ($secs + 1)));

# And a line whose generations are each watched: 30 queued generations,
# a long-poll on each, spread over the children. Read one by one, that is
# 30 reads a second; read together, one statement a second for the whole
# line in each child that holds some (3 at most), and a single read now
# and then where two of the ids share a slot of a child's status cache
# (direct-mapped: they push each other out): at most twice that.
my @line = map { json(call(POST => '/api/wl-a/generate', headers => { Prefer => 'wait=0' },
                           body => { prompt => "line $_" }))->{generationId} } 1 .. 30;
my @polls = map { [$_, call(GET => "/api/wl-a/status/$_")->header('ETag')] } @line;
my ($gets, $lines, $tl) = watched(@polls);
ok($gets + $lines <= 6 * ($secs + 1) && $lines >= 1,
   sprintf('30 long-polls of 30 queued generations of one line over %.1f s: %d single reads and '
           . '%d reads of the whole line (one by one they would be over %d)', $tl, $gets, $lines,
           30 * ($secs - 1)));

# Nothing left open: with no workers, the queued generations would wait
# past their deadlines after the file, where the suite's invariants find
# them (a reservation held forever).
call(POST => "/api/wl-a/cancel/$_") for @pending, $queued, @line;
call(POST => "/api/wl-a/cancel/$oid", user => $other);
is(psql("SELECT count(*) FROM wl_a_media WHERE status IN ('pending', 'processing')"), 0,
   'every generation of the file is cancelled, refunded, before the server stops');

my $crash = crash_report($dir);
is($crash, '', 'no child crashed') or diag($crash);
stop_own_server($dir);
