# SPDX-License-Identifier: Apache-2.0
# Event streams on a host of their own (GenFlowEventsBase), for sites on
# HTTP/2: httpd 2.4 cannot park an HTTP/2 stream, so each holds a thread,
# and mod_http2 runs 6 streams of a connection at first, so a page with
# streams open stalls its own other requests. The main host here speaks
# h2c and HTTP/1.1 behind Basic authentication; the events host, a virtual
# host on a port of its own, speaks HTTP/1.1 only and needs no login: its
# URLs carry a token of the owner's (GenFlowEventsSecretFile).
#
# The status object, the create answer and generate's 202 name the stream
# as eventsUrl; it streams without a login and with CORS for the site's
# origin; a token of another generation, a changed one, an expired one or
# none is a 401; a token made by hand from the documented form works.
# 1,000 streams through the events host park (one child of 25 threads) and
# all hear their generations end. A page on one HTTP/2 connection follows
# 8 generations by their eventsUrl, holding no thread, and still gets its
# other requests answered at once; with the streams on the same connection
# (a location without GenFlowEventsBase) each holds a thread. One httpd
# for the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use JSON::PP qw(decode_json encode_json);
use LWP::UserAgent;
use HTTP::Request;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use File::Temp qw(tempfile);
use Time::HiRes qw(time sleep);

plan tests => 35;

for my $t (qw(eh-a eh-b)) {
    (my $table = $t) =~ s/-/_/g;
    psql("SELECT genflow_create_type_table('$t', '${table}_media')");
}
my $U = new_user('eventshost');
my $secret = 'e' x 16 . join('', map { sprintf '%02x', int rand 256 } 1 .. 16);
my ($sfh, $secret_file) = tempfile(UNLINK => 1);
print $sfh "$secret\n";
close $sfh;
chmod 0644, $secret_file;
my $ep = free_port();

my ($dir, $base) = start_own_server(<<"BODY", 'http2');
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 25
AsyncRequestWorkerFactor 200
ListenBacklog 4096
Protocols h2c http/1.1
DBDMin 0
DBDKeep 4
DBDMax 8
GenFlowWorkers 0
GenFlowMaxActive 0
GenFlowStartingCredits 100000
GenFlowDailyLimit 0
GenFlowEventsPerUser 0
GenFlowEventsSecretFile "$secret_file"
<Location /api/eh-a>
    GenFlowType eh-a
    GenFlowProviders local
    GenFlowEventsBase http://127.0.0.1:$ep
</Location>
<Location /api/eh-b>
    GenFlowType eh-b
    GenFlowProviders local
</Location>
<Location /api/eh-a2>
    GenFlowType eh-a
    GenFlowProviders local
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
<Location /api/quota>
    SetHandler genflow-quota
</Location>
Listen 127.0.0.1:$ep
<VirtualHost 127.0.0.1:$ep>
    Protocols http/1.1
    # No access rule of its own: the module answers the streams alone
    # here, and their token is the credential the /api Require takes.
    <Location /api/eh-a>
        GenFlowCORSOrigins https://studio.example
    </Location>
</VirtualHost>
BODY

sub call {
    my ($method, $url, %a) = @_;
    my $req = HTTP::Request->new($method => $url =~ m{^/} ? "$base$url" : $url);
    $req->authorization_basic($U, $U) if $a{login} // 1;
    if ($a{body}) {
        $req->content(encode_json($a{body}));
        $req->header('Content-Type' => 'application/json');
    }
    my $h = $a{headers} || {};
    $req->header($_ => $h->{$_}) for keys %$h;
    return LWP::UserAgent->new(timeout => 30, keep_alive => 0)->request($req);
}
sub json { my $r = shift; return eval { decode_json($r->decoded_content) } // {} }
sub create {
    my ($type) = @_;
    return json(call(POST => "/api/$type/create", body => { prompt => 'followed' }));
}
# The first event of a stream (no login), and the answer's headers.
sub first_event {
    my ($url, %h) = @_;
    my ($buf, $ev) = ('', undef);
    my $req = HTTP::Request->new(GET => $url);
    $req->header($_ => $h{$_}) for keys %h;
    my $res = LWP::UserAgent->new(timeout => 15)->request($req, sub {
        $buf .= $_[0];
        if ($buf =~ /^data: (.*)\n/m) { $ev = decode_json($1); die "enough\n" }
    }, 256);
    return ($res, $ev);
}
sub token {
    my ($type, $id, $user, $exp) = @_;
    my $mac = hmac_sha256("genflow-events-v1\n$type\n$id\n$user\n$exp", $secret);
    return "$exp." . encode_base64url($user) . '.' . encode_base64url($mac);
}

call(GET => '/api/quota');

# ---- eventsUrl --------------------------------------------------------------
my $c = create('eh-a');
my $id = $c->{generationId};
my $want = qr{^http://127\.0\.0\.1:$ep/api/eh-a/events/$id\?token=\d+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$};
like($c->{eventsUrl} // '', $want, 'the create answer names the stream on the events host, with a token');
my $s = json(call(GET => "/api/eh-a/status/$id"));
is($s->{eventsUrl}, $c->{eventsUrl}, 'so does the status object (the same URL)');
my $g = call(POST => '/api/eh-a/generate', body => { prompt => 'queued' },
             headers => { Prefer => 'wait=0' });
like(json($g)->{eventsUrl} // '', qr{^http://127\.0\.0\.1:$ep/api/eh-a/events/}, "and generate's 202");
my $b = create('eh-b');
is($b->{eventsUrl}, "/api/eh-b/events/$b->{generationId}",
   'without GenFlowEventsBase: the path on the same host');

# ---- the answer each child keeps dressed for its reader ---------------------------
# A child keeps a status answer with its reader's eventsUrl (the token's
# HMAC and the ETag's hash made once, not per read), under what the URL
# depends on: the same type read through another mount (no events host)
# names its own URL, and the first mount's answers, read again in turn
# across both children, never take the other's; the token is the one the
# documented form gives; its ETag answers 304.
{
    my $exp = (int(time / 86400) + 2) * 86400;
    my $tok_url = "http://127.0.0.1:$ep/api/eh-a/events/$id?token=" . token('eh-a', $id, $U, $exp);
    my (%urls, %etags, $bad);
    for my $i (1 .. 8) {
        for my $mount (qw(eh-a eh-a2)) {
            my $r = call(GET => "/api/$mount/status/$id");
            my $u = json($r)->{eventsUrl} // '';
            $urls{$mount}{$u}++;
            $etags{$mount}{$r->header('ETag') // ''}++;
        }
    }
    is(join(' ', sort keys %{ $urls{'eh-a'} }), $tok_url,
       'read 8 times through its events mount: the token of the documented form, every time');
    is(join(' ', sort keys %{ $urls{'eh-a2'} }), "/api/eh-a2/events/$id",
       'read between them through another mount: its own path, every time');
    my ($ea) = keys %{ $etags{'eh-a'} };
    ok(keys %{ $etags{'eh-a'} } == 1 && keys %{ $etags{'eh-a2'} } == 1 && $ea ne (keys %{ $etags{'eh-a2'} })[0],
       'one ETag per mount, the ETag of the answer as sent');
    is(call(GET => "/api/eh-a/status/$id", headers => { 'If-None-Match' => $ea })->code, 304,
       'which a reader sends back for a 304');
}

# ---- the events host ----------------------------------------------------------
my ($res, $ev) = first_event($s->{eventsUrl}, Origin => 'https://studio.example');
is($res->code, 200, 'the eventsUrl streams without a login');
like($res->header('Content-Type') // '', qr{^text/event-stream}, 'as text/event-stream');
is($ev->{generationId}, $id, "the generation's state is its first event");
is($res->header('Access-Control-Allow-Origin'), 'https://studio.example',
   "CORS allows the site's origin (GenFlowCORSOrigins there)");
is($res->protocol, 'HTTP/1.1', 'over HTTP/1.1, where it parks');
my $other = create('eh-a');
(my $swapped = $s->{eventsUrl}) =~ s/$id/$other->{generationId}/;
$res = call(GET => $swapped, login => 0);
is($res->code, 401, "a token of another generation: 401");
is(json($res)->{error}{code}, 'UNAUTHORIZED', 'UNAUTHORIZED') or diag($res->as_string);
(my $changed = $s->{eventsUrl}) =~ s/\.([A-Za-z0-9_-])([A-Za-z0-9_-]{42})$/'.' . ($1 eq 'A' ? 'B' : 'A') . $2/e;
is(call(GET => $changed, login => 0)->code, 401, 'a changed token: 401');
$res = call(GET => "http://127.0.0.1:$ep/api/eh-a/events/$id?token=" . token('eh-a', $id, $U, int(time) - 10),
            login => 0);
is($res->code, 401, 'an expired token: 401');
like(json($res)->{error}{message} // '', qr/expired/, 'saying it expired');
is(call(GET => "http://127.0.0.1:$ep/api/eh-a/events/$id", login => 0)->code, 401,
   'no token and no login: 401');
(my $status_url = $s->{eventsUrl}) =~ s{/events/}{/status/};
$res = call(GET => $status_url, login => 0);
ok($res->code == 404 && json($res)->{error}{code} eq 'NOT_FOUND',
   'a token opens the stream only: the status is no endpoint of the events host (404)');
$res = call(GET => "http://127.0.0.1:$ep/api/quota");
ok($res->code == 404 && json($res)->{error}{code} eq 'NOT_FOUND',
   "the events host's other paths are 404, a login or not")
    or diag($res->as_string);
my $by_hand = "http://127.0.0.1:$ep/api/eh-a/events/$id?token=" . token('eh-a', $id, $U, int(time) + 3600);
($res, $ev) = first_event($by_hand);
ok($res->code == 200 && $ev && $ev->{generationId} eq $id,
   'a token made by hand from the documented form works');
# Its expiry (an hour) is not the one the site gives (the end of the next
# day): an event that minted a token would show the site's.
is($ev->{eventsUrl}, $by_hand, "the stream's events repeat the URL it was opened with: a token never "
                               . 'renews itself');
($res, $ev) = first_event("http://127.0.0.1:$ep/api/eh-a/events/$id?token="
                          . token('eh-a', $id, $U, int(time) + 3600), Authorization => 'Basic '
                          . MIME::Base64::encode_base64("$U:$U", ''));
ok($res->code == 200, 'a login beside the token changes nothing');
$res = call(GET => "http://127.0.0.1:$ep/api/eh-a/events/$id");
is($res->code, 401, 'a login without a token opens no stream on the events host');

# ---- 1,000 streams through the events host ------------------------------------
my @ids = map { create('eh-a')->{generationId} } 1 .. 4;
my @paths = map { my $u = json(call(GET => "/api/eh-a/status/$_"))->{eventsUrl}; $u =~ s{^http://[^/]+}{}; $u } @ids;
my ($parked, $blocking) = (0, -1);
my $sum;
{
    local $ENV{WATCH_JOB} = encode_json({
        host => '127.0.0.1', port => $ep + 0, timeoutMs => 90000, settleMs => 1500,
        streams => [map { { path => $_, n => 250 } } @paths],
    });
    open my $node, '-|', 'sh', '-c', "ulimit -n \$(ulimit -Hn); exec node '$FindBin::Bin/lib/watchers.mjs'"
        or die "node: $!";
    while (my $line = <$node>) {
        chomp $line;
        if ($line =~ /^\{/) { $sum = decode_json($line); next }
        next unless $line eq 'opened';
        sleep 1;
        my $w = json(call(GET => '/api/health'))->{waiters} // {};
        ($parked, $blocking) = ($w->{parked} // 0, $w->{blocking} // -1);
        call(POST => "/api/eh-a/cancel/$_") for @ids;
    }
    close $node;
}
$sum //= {};
ok($parked >= 950 && $blocking == 0,
   "1,000 streams parked in one child of 25 threads, no thread held ($parked parked, $blocking blocking)");
is($sum->{streamCodes}{200} // 0, 1000, 'every stream answered 200');
is($sum->{streamsTerminal} // 0, 1000, 'and heard its generation end');

# ---- a page on HTTP/2 -----------------------------------------------------------
sub page {
    my ($type) = @_;
    my @ids = map { create($type)->{generationId} } 1 .. 8;
    local $ENV{H2_JOB} = encode_json({ main => $base, user => $U, type => $type, ids => \@ids,
                                       requests => 3, timeoutMs => 3000 });
    my $out = `node '$FindBin::Bin/lib/h2page.mjs'`;
    call(POST => "/api/$type/cancel/$_") for @ids;
    return eval { decode_json($out) } // { streams => [], requests => [] };
}
my $p = page('eh-a');
is(scalar(grep { $_->{via} eq 'http/1.1' && ($_->{status} // '') eq 'pending' } @{ $p->{streams} }), 8,
   'with GenFlowEventsBase: the page follows 8 generations on the events host');
ok(($p->{waiters}{parked} // 0) >= 8 && ($p->{waiters}{blocking} // -1) == 0,
   "where they park: no thread held ($p->{waiters}{parked} parked, $p->{waiters}{blocking} blocking)");
is(scalar(grep { $_->{status} == 200 && $_->{ms} < 2000 } @{ $p->{requests} }), 3,
   'and its other requests on its HTTP/2 connection are answered at once ('
   . join(', ', map { "$_->{status} in $_->{ms} ms" } @{ $p->{requests} }) . ')');
$p = page('eh-b');
is(scalar(grep { $_->{via} eq 'h2' } @{ $p->{streams} }), 8,
   'without: its 8 streams share its HTTP/2 connection');
# mod_http2 runs 6 streams of a new connection at once and raises that as
# requests on it finish: whether the page's status reads raised it before
# the streams opened is a matter of timing, so the stall behind them is
# shown, not asserted. The threads they hold are asserted.
ok(($p->{waiters}{blocking} // 0) >= 6,
   "where each holds a thread ($p->{waiters}{blocking} blocking)");
diag('without: the requests behind its streams: '
     . join(', ', map { $_->{status} ? "$_->{status} in $_->{ms} ms" : 'no answer in 3 s' } @{ $p->{requests} }));

# Everything this file made ends, refunded (the suite's invariants hold
# no generation open for good).
for my $t (qw(eh-a eh-b)) {
    (my $table = $t) =~ s/-/_/g;
    call(POST => "/api/$t/cancel/$_")
        for split /\n/, scalar psql("SELECT id FROM ${table}_media WHERE status IN ('pending', 'processing')");
}
is(scalar psql("SELECT count(*) FROM eh_a_media WHERE status IN ('pending', 'processing') "
               . "UNION ALL SELECT count(*) FROM eh_b_media WHERE status IN ('pending', 'processing')"),
   "0\n0", 'every generation of the file ended');

my $crash = crash_report($dir);
is($crash, '', 'no crash in the error_log');
stop_own_server($dir);
