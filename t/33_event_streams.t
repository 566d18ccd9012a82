# SPDX-License-Identifier: Apache-2.0
# Event streams done properly: ids that name the state, Last-Event-ID
# resumes without a lost or repeated event, retry:, 204 once the terminal
# event was seen (EventSource stops reconnecting), a comment heartbeat,
# GenFlowEventsMaxSeconds and the per-user cap on open streams. The client
# is the eventsource npm package itself (tests/sse).
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

plan tests => 22;

my $top = "$FindBin::Bin/..";
for my $t (qw(sse-a)) {
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
    return LWP::UserAgent->new(timeout => 60, keep_alive => 0)->request($req);
}

sub create {
    my ($base, $user, $path) = @_;
    my $res = call($base, POST => "$path/create", user => $user, body => { prompt => 'streamed' });
    return decode_json($res->decoded_content)->{generationId};
}

# The package, installed from the lock file (npm's registry).
system("cd '$top/tests/sse' && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1") == 0
    or die "npm ci in tests/sse failed";

my ($dir, $base) = start_own_server(<<'BODY');
ThreadsPerChild 25
MaxRequestWorkers 25
AsyncRequestWorkerFactor 100
DBDMin 0
DBDKeep 2
DBDMax 8
GenFlowWorkers 2
GenFlowEventsPerUser 2
GenFlowProvider slow4 local latency=4000
<Location /api/sse-a>
    GenFlowType sse-a
    GenFlowProviders slow4
    GenFlowEventsHeartbeat 1
</Location>
<Location /api/sse-short>
    GenFlowType sse-a
    GenFlowProviders slow4
    GenFlowEventsMaxSeconds 2
</Location>
BODY
my $u = new_user('sse');
call($base, GET => '/api/sse-a/history', user => $u);

# 1. The eventsource package follows a generation it loses the connection
#    to after the first event, and is never closed by hand.
{
    my $out = `cd '$top/tests/sse' && node follow.mjs '$base' '$u' sse-a 2>&1`;
    my $r = eval { decode_json((split /\n/, $out)[-1]) } || {};
    diag($out) unless $r->{events};
    my @states = map { $_->{status} } @{ $r->{events} || [] };
    is(join(',', @states), 'pending,processing,completed',
       'every state once, in order, across the dropped connection');
    my %ids = map { $_->{id} => 1 } @{ $r->{events} || [] };
    is(scalar keys %ids, 3, 'each event has its own id');
    my @conns = @{ $r->{connections} || [] };
    is(scalar @conns, 3, 'three connections: the first, the resume, the one after the end');
    is($conns[1]{lastEventId} // '', $r->{events}[0]{id} // 'none',
       'the resume sends the id of the first event');
    is($conns[1]{status}, 200, 'and gets the states it missed');
    is($conns[2]{lastEventId} // '', $r->{events}[-1]{id} // 'none',
       'after the terminal event the client comes back with its id');
    is($conns[2]{status}, 204, 'and gets 204');
    is($r->{readyState}, 2, 'so EventSource stops reconnecting (CLOSED)');
}

# 2. The raw stream: retry:, the event's id, and the heartbeat.
{
    my $id = create($base, $u, '/api/sse-a');
    my $raw = `curl -s -N -u '$u:$u' --max-time 3 '$base/api/sse-a/events/$id'`;
    like($raw, qr/\Aretry: 2000\n\n/, 'the stream starts with retry:');
    my ($eid) = $raw =~ /^id: (\S+)\nevent: status\ndata: \{/m;
    ok(defined $eid, 'each event carries an id');
    my $etag = call($base, GET => "/api/sse-a/status/$id", user => $u)->header('ETag');
    is("\"$eid\"", $etag, "the id is the state's ETag");
    my $beats = () = $raw =~ /^: keep-alive\n\n/mg;
    ok($beats >= 2, "a comment heartbeat every GenFlowEventsHeartbeat s ($beats in 3 s)");
    # Resuming from the current state sends nothing until it changes.
    $raw = `curl -s -N -u '$u:$u' --max-time 2 -H 'Last-Event-ID: $eid' '$base/api/sse-a/events/$id'`;
    ok($raw !~ /^data:/m, 'Last-Event-ID of the current state: no repeat');
    call($base, POST => "/api/sse-a/cancel/$id", user => $u);
    my $res;
    for (1 .. 20) {
        $res = call($base, GET => "/api/sse-a/events/$id", user => $u,
                    headers => { 'Last-Event-ID' => $eid });
        last if $res->decoded_content =~ /cancelled/;
        sleep 0.1;
    }
    like($res->decoded_content, qr/"status"\s*:\s*"cancelled"/, 'an older id gets the new state');
    my ($tid) = $res->decoded_content =~ /^id: (\S+)/m;
    $res = call($base, GET => "/api/sse-a/events/$id", user => $u,
                headers => { 'Last-Event-ID' => $tid });
    is($res->code, 204, 'the terminal id: 204');
    $res = call($base, GET => "/api/sse-a/events/$id", user => $u);
    ok($res->code == 200 && $res->decoded_content =~ /cancelled/,
       'without Last-Event-ID a finished generation sends its terminal event');
}

# 3. GenFlowEventsMaxSeconds ends a stream (the client resumes).
{
    my $id = create($base, $u, '/api/sse-short');
    my $t0 = time;
    my $raw = `curl -s -N -u '$u:$u' --max-time 20 '$base/api/sse-short/events/$id'`;
    my $took = time - $t0;
    ok($took >= 1.5 && $took < 10, sprintf('the stream ended after GenFlowEventsMaxSeconds (%.1f s)', $took));
    like($raw, qr/"status"\s*:\s*"pending"/, 'having sent the state');
    call($base, POST => "/api/sse-a/cancel/$id", user => $u);
}

# 4. One user's open streams are capped (GenFlowEventsPerUser 2).
{
    my @ids = map { create($base, $u, '/api/sse-a') } 1 .. 3;
    my @kids;
    for my $id (@ids[0, 1]) {
        my $pid = fork;
        if (!$pid) {
            exec('curl', '-s', '-o', '/dev/null', '-N', '-u', "$u:$u", '--max-time', '4',
                 "$base/api/sse-a/events/$id");
        }
        push @kids, $pid;
    }
    sleep 1;
    my $res = call($base, GET => "/api/sse-a/events/$ids[2]", user => $u);
    is($res->code, 429, 'a third stream of the same user: 429');
    like($res->decoded_content, qr/"RATE_LIMIT"/, 'with RATE_LIMIT');
    my $other = new_user('sse_other');
    $res = call($base, GET => "/api/sse-a/events/$ids[2]", user => $other);
    is($res->code, 404, "another user is not capped by it (and never sees the id)");
    waitpid $_, 0 for @kids;
    $res = call($base, GET => "/api/sse-a/status/$ids[2]", user => $u);
    my $n = 0;
    my $pid = fork;
    if (!$pid) { sleep 1; call($base, POST => "/api/sse-a/cancel/$ids[2]", user => $u); POSIX::_exit(0) }
    $res = call($base, GET => "/api/sse-a/events/$ids[2]", user => $u);
    waitpid $pid, 0;
    ok($res->code == 200 && $res->decoded_content =~ /cancelled/,
       'once those streams closed, the user may open another');
    call($base, POST => "/api/sse-a/cancel/$_", user => $u) for @ids[0, 1];
}

stop_own_server($dir);
