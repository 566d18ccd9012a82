# SPDX-License-Identifier: Apache-2.0
# Previews of a picture being drawn: OpenAI's Images API streamed
# (stream: true, partial_images), read as it comes, each partial picture
# shrunk, stored under previews/ and sent to the generation's event stream
# as "preview" events while it runs; never charged; at most one a second;
# swept from the store after GenFlowPreviewKeep (8 s in the tests). And
# the stream's faults: an error event after a partial picture (a refusal:
# CONTENT_FILTERED, no fallback, refunded), a stream cut before its
# picture (a transient failure: the chain goes on), a damaged partial
# picture (skipped), a server that answers JSON instead (read as JSON).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use HTTP::Request;
use JSON::PP;
use LWP::UserAgent;
use POSIX ();
use Time::HiRes qw(sleep time);

plan tests => 45;

my $u = new_user('preview');
api(GET => '/api/quota', user => $u);
grant($u, 100);
my $media = "$FindBin::Bin/media";
my $n = 0;

sub sent_for {
    my ($marker) = @_;
    return grep { index(($_->{fields} || {})->{prompt} // '', $marker) >= 0 } mock_journal();
}
sub start {
    my ($path, $prompt) = @_;
    my $tag = 'p' . ++$n . "-$$";
    my $res = api(POST => "/api/$path/generate", user => $u, body => { prompt => "$prompt $tag" },
                  headers => { Prefer => 'wait=0' });
    return ((json_of($res) || {})->{generationId}, $tag);
}
sub row { row_of('neo_glitch_media', @_) }
sub wait_terminal { wait_terminal_of('neo_glitch_media', $_[0]) }
sub ledger { ledger_of(@_) }
sub stored_previews {
    my ($id) = @_;
    opendir my $dh, "$media/previews" or return 0;
    return scalar grep { /^\Q$id\E-[0-9a-f]{16}\.jpg$/ } readdir $dh;
}
# The event stream of a generation, read as it comes: each event with the
# time it arrived.
sub watch {
    my ($path, $id, $base) = @_;
    my $req = HTTP::Request->new(GET => ($base // base_url()) . "/api/$path/events/$id");
    $req->authorization_basic($u, $u);
    my ($buf, @events) = ('');
    LWP::UserAgent->new(timeout => 60, keep_alive => 0)->request($req, sub {
        $buf .= $_[0];
        while ($buf =~ s/^(.*?)\n\n//s) {
            my $block = $1;
            my ($event) = $block =~ /^event: (.*)$/m;
            my ($data) = $block =~ /^data: (.*)$/m;
            push @events, { event => $event // '', data => $data ? decode_json($data) : undef,
                            at => time } if defined $data;
        }
    });
    return @events;
}
# A JPEG's width and height, from its frame header.
sub jpeg_size {
    my ($b) = @_;
    return () unless substr($b, 0, 2) eq "\xFF\xD8";
    my $i = 2;
    while ($i + 9 < length $b) {
        my ($m, $len) = unpack('x C n', substr($b, $i, 4));
        return (unpack('n', substr($b, $i + 7, 2)), unpack('n', substr($b, $i + 5, 2)))
            if $m >= 0xC0 && $m <= 0xC3;
        $i += 2 + $len;
    }
    return ();
}

# ---- previews while it is drawn ---------------------------------------
my ($id, $tag) = start('oai-stream', 'a fox [stream:slow]');
ok($id, 'a streamed generation starts');
my @ev = watch('oai-stream', $id);
my @previews = grep { $_->{event} eq 'preview' } @ev;
my ($done) = grep { $_->{event} eq 'status' && $_->{data}{status} eq 'completed' } @ev;
ok($done, 'the stream ends with the completed state') or diag explain \@ev;
ok(@previews >= 1 && @previews <= 2, 'the partial pictures reached the event stream as previews')
    or diag explain \@ev;
ok($done && @previews && $done->{at} - $previews[0]{at} >= 0.8,
   'the first preview came while the picture was drawn, not with its end');
is($previews[0]{data}{generationId}, $id, 'a preview names its generation');
like($previews[0]{data}{url} // '', qr{^/media/previews/\Q$id\E-[0-9a-f]{16}\.jpg$},
     'a preview is a URL under previews/ of the store');
is(stored_previews($id), 2, 'both partial pictures (1.5 s apart) were stored as previews');
my $img = LWP::UserAgent->new->get(base_url() . ($previews[-1]{data}{url} // '/none'));
is($img->header('Content-Type'), 'image/jpeg', 'a preview is a JPEG');
is(join('x', jpeg_size($img->content)), '384x288', 'shrunk: 800x600 becomes 384x288');
ok(length $img->content < 20000, 'a preview is small (' . length($img->content) . ' bytes)');
ok(!grep({ $previews[$_]{at} - $previews[$_ - 1]{at} < 0.9 } 1 .. $#previews),
   'at most one preview a second on a stream');
my ($req) = sent_for($tag);
is(ref $req->{fields}{stream} ? 0 + $req->{fields}{stream} : $req->{fields}{stream}, 1, 'asked with stream: true');
is($req->{fields}{partial_images}, 2, 'and partial_images: 2');
like($req->{headers}{accept} // '', qr{text/event-stream}, 'accepting text/event-stream');
is(row($id, 'provider'), 'oaistream', 'the picture is the stream\'s');
is(row($id, 'credits_charged'), 1, 'charged once, for the picture');
is(ledger($id), 'reserve:-1,charge:0', 'previews cost nothing: one charge, for the picture');
is(psql("SELECT usage::float8 || ' ' || usage_unit FROM genflow_provider_costs WHERE generation_id = '$id'"),
   '6290 tokens', 'the usage of the completed event is recorded');
my $first_url = $previews[0]{data}{url};

# ---- the local provider draws them too ----------------------------------
my ($lid) = start('drawing', 'a lighthouse drawn by hand');
my @lev = watch('drawing', $lid);
my @lp = grep { $_->{event} eq 'preview' } @lev;
is(scalar(@lp), 2, 'local previews=2: two previews while the picture is drawn') or diag explain \@lev;
my @sizes = map { join 'x', jpeg_size(LWP::UserAgent->new->get(base_url() . $_->{data}{url})->content) } @lp;
is("@sizes", '32x32 128x128', 'coarse, then sharper: drawn at 1/16, then 1/4 of its size');
is(row($lid, 'credits_charged'), 1, 'charged once, for the picture');

# ---- at most one a second from the source -------------------------------
my ($fid) = start('oai-stream3', 'three partial pictures at once');
is(wait_terminal($fid), 'completed', 'three partial pictures 50 ms apart: completed');
wait_for(sub { stored_previews($fid) >= 1 }, 10);
sleep 1;
is(stored_previews($fid), 1, 'one preview taken: the next two came within the second');

# ---- a damaged partial picture ---------------------------------------------
my ($bid) = start('oai-stream', 'a damaged partial [stream:slow] [stream:badpartial]');
is(wait_terminal($bid), 'completed', 'a partial picture that is no picture: the picture still comes');
wait_for(sub { stored_previews($bid) >= 1 }, 10);
sleep 1;
is(stored_previews($bid), 1, 'the damaged one was skipped, the next one became a preview');

# ---- the stream's own second, and the newest preview ----------------------------
# Announcements made by hand for a generation that never ends: three in
# 100 ms, then one taken before them, heard last.
my ($sid) = start('held-glitch', 'announced by hand');
my $kid = fork // die "fork: $!";
if (!$kid) {
    sleep 0.7;
    psql("SELECT pg_notify('genflow_preview', '$sid 1000 /media/hand-1.jpg')");
    sleep 0.1;
    psql("SELECT pg_notify('genflow_preview', '$sid 2000 /media/hand-2.jpg')");
    psql("SELECT pg_notify('genflow_preview', '$sid 3000 /media/hand-3.jpg')");
    sleep 0.1;
    psql("SELECT pg_notify('genflow_preview', '$sid 500 /media/hand-0.jpg')");
    sleep 2.5;
    api(POST => "/api/held-glitch/cancel/$sid", user => $u);
    POSIX::_exit(0);
}
my @hev = watch('held-glitch', $sid);
waitpid $kid, 0;
my @hp = grep { $_->{event} eq 'preview' } @hev;
is(join(' ', map { $_->{data}{url} } @hp), '/media/hand-1.jpg /media/hand-3.jpg',
   'a stream sends the first preview, then the newest one a second later; none taken earlier')
    or diag explain \@hev;
ok(@hp == 2 && $hp[1]{at} - $hp[0]{at} >= 0.9, 'a second apart on the stream')
    or diag explain [map { $_->{at} } @hp];
ok(scalar(grep { $_->{event} eq 'status' && $_->{data}{status} eq 'cancelled' } @hev),
   'the stream ends with the cancel, no preview after it');

# ---- the stream's faults ---------------------------------------------------------------
my ($eid, $etag) = start('oai-stream', 'refused halfway [fault:streamerror]');
is(wait_terminal($eid), 'failed', 'an error event after a partial picture fails the generation');
is(row($eid, 'error_code'), 'CONTENT_FILTERED', 'moderation_blocked in the stream is a refusal');
is(scalar(grep { ($_->{fields}{prompt} // '') =~ /\Q$etag\E/ } mock_journal()), 1,
   'asked once: no retry of a refusal');
is(row($eid, 'provider'), 'oaistream', 'no fallback after a refusal');
is(ledger($eid), 'reserve:-1,refund:1', 'refunded');

my ($cid) = start('oai-stream', 'cut short [fault:streamcut]');
is(wait_terminal($cid), 'completed', 'a stream cut before its picture: the chain goes on');
is(row($cid, 'provider'), 'local', 'to the next provider');
is(ledger($cid), 'reserve:-1,charge:0', 'charged once');

my ($jid, $jtag) = start('oai-stream', 'answers JSON [fault:streamjson]');
is(wait_terminal($jid), 'completed', 'a server that answers JSON instead of a stream: read as JSON');
is(row($jid, 'provider'), 'oaistream', 'by the provider asked');

# ---- swept after GenFlowPreviewKeep ---------------------------------------------
my $gone = 0;
for (1 .. 100) {
    if (!stored_previews($id) && LWP::UserAgent->new->get(base_url() . $first_url)->code == 404) {
        $gone = 1;
        last;
    }
    sleep 0.25;
}
ok($gone, 'previews are swept from the store after GenFlowPreviewKeep');
is(row($id, 'image_url') =~ m{^/media/} ? 1 : 0, 1, 'the picture itself stays');
ok(-e "$media/" . (row($id, 'image_url') =~ s{^/media/}{}r), 'its file is still there');

# ---- a watcher on another node ------------------------------------------------
# An httpd of its own on the same database, without workers: its listener
# hears the previews another node made.
my ($ndir, $nbase) = start_own_server(<<"BODY");
GenFlowWorkers 0
GenFlowProvider oaistream openai base_url=$ENV{GENFLOW_MOCK_URL}/openai/v1 key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=10000 max_bytes=1048576 breaker=off partial_images=2
<Location /api/health>
    SetHandler genflow-health
</Location>
<Location /api/oai-stream>
    GenFlowType neo-glitch
    GenFlowProviders oaistream
</Location>
BODY
ok(defined own_listening($nbase, $u, 30), 'a second node without workers listens');
my ($xid) = start('oai-stream', 'watched on another node [stream:slow]');
my @xev = watch('oai-stream', $xid, $nbase);
ok(scalar(grep { $_->{event} eq 'preview' && $_->{data}{generationId} eq $xid } @xev) >= 1,
   'a watcher on another node gets the previews') or diag explain \@xev;
ok(scalar(grep { $_->{event} eq 'status' && $_->{data}{status} eq 'completed' } @xev),
   'and the end');
stop_own_server($ndir);

# ---- configuration -------------------------------------------------------------
my $d2 = tempdir(CLEANUP => 1);
my $conf = own_httpd_conf($d2, free_port(), "GenFlowProvider bad openai key_env=HOME partial_images=4\n");
like(scalar(`/usr/sbin/apache2 -t -f '$conf' 2>&1`), qr/partial_images= must be one of 0\|1\|2\|3/,
     'apache2 -t refuses partial_images=4');
