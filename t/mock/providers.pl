#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Mock AI providers for the mod_genflow tests: Stability v2beta, fal queue,
# Replicate predictions, AIML images, OpenAI's Images API (under /openai/v1),
# Google's Gemini API (generateContent and Imagen's predict) and Black
# Forest Labs' FLUX API — one loopback HTTP server that speaks
# each protocol as docs/providers.md describes it, records
# every request it gets (GET /_log) and misbehaves on demand: a marker in
# the prompt picks the fault.
#
#   [fault:429] [fault:500] [fault:402] [fault:403] [fault:422]
#   [fault:moderation]  Stability 403 content_moderation
#   [fault:filtered]    Stability 200 with finish-reason CONTENT_FILTERED
#   [fault:badjson]     200 with malformed JSON
#   [fault:truncated]   Content-Length promises more than is sent
#   [fault:reset]       the connection closes without an answer
#   [fault:slow]        the answer comes after 5 s
#   [fault:then500]     Stability: the prompt's second call answers 500
#   [fault:then400]     Stability: its calls after the first answer 400
#   [fault:thenslow]    Stability: its calls after the first answer after 5 s
#   [fault:oversized]   a 3 MiB answer
#   [fault:wrongtype]   200 text/html
#   [fault:odd]         200 image with an empty seed and no finish-reason
#   [fault:async]       Stability answers {id}; results 202 twice, then 200
#   [fault:never]       fal/Replicate jobs never finish
#   [fault:failed]      Replicate prediction fails / fal result is 422
#   [fault:queue]       Replicate: starting, polled to succeeded
#   [fault:pollfail]    an accepted asynchronous job's FIRST status poll
#                       answers 503 (fal status, Replicate GET prediction,
#                       Stability results); later polls behave as usual
#   [fault:pollslow]    those status polls answer after 3 s
#   [fault:foreign:PORT]      fal's status/response/cancel URLs and
#                             Replicate's urls.get/cancel point at another
#                             origin, http://127.0.0.1:PORT (a second mock)
#   [fault:foreignfile:PORT]  the result picture's URL is on that origin
#   [fault:private]     the result picture's URL is https://169.254.169.254/…
#   [fault:private6]    … https://[fd00:ec2::254]/…
#   [fault:evilmsg]     the error text carries a newline, quotes and an
#                       escape sequence (fal 422 detail, AIML 400 message)
#   OpenAI, Gemini and BFL (written from their OpenAPI documents, protocol
#   definitions and recorded exchanges):
#   [fault:moderation]  OpenAI 400 moderation_blocked
#   [fault:quota]       OpenAI 429 insufficient_quota
#   [fault:badb64]      a base64 picture with characters outside the alphabet
#   [fault:notimage]    valid base64 of bytes that are no picture
#   [fault:bigb64]      a base64 picture of 3 MiB
#   [fault:url]         OpenAI answers DALL-E's shape, a URL (on [fault:foreignfile:PORT])
#   [fault:blocked]     Gemini promptFeedback.blockReason PROHIBITED_CONTENT
#   [fault:imagesafety] Gemini finishReason IMAGE_SAFETY, no content
#   [fault:noimage]     Gemini text only, finishReason NO_IMAGE; Imagen {}
#   [fault:filtered]    (Imagen) a prediction with raiFilteredReason
#   [fault:reqmod] [fault:moderated] [fault:error] [fault:lost]
#                       BFL's Request Moderated / Content Moderated / Error /
#                       Task not found
#   [fault:expired]     BFL Ready, its result.sample answers 403 (expired)
#   [fault:pollhost]    BFL's polling_url names http://localhost:PORT
#   [progress:SECS]     fal/Replicate: the job runs SECS seconds from its
#                       acceptance, and while it runs its logs carry a
#                       diffusion model's progress bar (tqdm's lines, 50
#                       steps, as Replicate's logs and fal's status logs
#                       with ?logs=1 show them), the step where the clock is
#
# Source images (uploads, t/24_uploads.t): what arrives is recorded in the
# request's fields as "_image" => {via, content_type, bytes, format, width,
# height, sha1} instead of the bytes themselves: via "part" for
# Stability's multipart image part (content_type from the part), "data"
# for a data: URI in fal's image_url, Replicate's input.image or AIML's
# image_url (the URI is replaced by "data:..." in the log), "url" for a
# URL. format/width/height come from the picture's own header (PNG IHDR,
# JPEG SOF, WebP VP8/VP8L/VP8X), so a test can tell the right picture
# arrived whole. Cloudinary keeps uploaded files and serves them back at
# their secure_url.
#
# Besides GET /_log (every request), for bench/chaos:
#   $STATE/submitted.log, GET /_submitted: one line per submission (a POST
#       that would create a job or an image, once authenticated):
#       PROVIDER<TAB>PROMPT
#   $STATE/accepted.log, GET /_accepted: one line each time a job is
#       accepted (fal submit answers a request_id, Replicate create answers
#       a prediction starting/processing/succeeded, Stability answers {id}):
#       PROVIDER<TAB>JOBID<TAB>PROMPT
#   $STATE/events.log, GET /_events: both, interleaved in the order they
#       happened: SEQ<TAB>TIME<TAB>submit|accept<TAB>PROVIDER<TAB>JOBID|-<TAB>PROMPT
#       (TIME in seconds since the epoch, with milliseconds)
#   PROVIDER names the protocol and the model: stability:core,
#   fal:fal-ai/flux/dev, replicate:owner/model, aiml:MODEL. Prompts have
#   tabs and newlines turned into spaces. Appends are serialised by flock.
#
# usage: providers.pl PORT STATE_DIR   (prints "ready" when listening)
use strict;
use warnings;
use HTTP::Daemon;
use HTTP::Response;
use HTTP::Status;
use JSON::PP;
use MIME::Base64;
use Fcntl qw(:flock);
use POSIX ':sys_wait_h';
use Digest::SHA qw(sha1_hex sha256_hex);
use Time::HiRes ();
use Compress::Zlib ();
use FindBin;
use lib "$FindBin::Bin/../lib";
use GenFlowPNG qw(png_make png_stats);

my ($port, $state) = @ARGV;
die "usage: providers.pl PORT STATE_DIR\n" unless $port && $state;
mkdir $state;
my $KEY = $ENV{GENFLOW_MOCK_KEY} // 'test-key';
my $json = JSON::PP->new->canonical->allow_nonref;
# A real 1x1 PNG.
my $PNG = decode_base64('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC');

my $d = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => $port, ReuseAddr => 1, Listen => 64)
    or die "cannot listen on $port: $!";
$SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };
$SIG{TERM} = sub { exit 0 };
print "ready\n";
$| = 1;

while (1) {
    my $c = $d->accept or next;
    my $pid = fork;
    if (!defined $pid) { $c->close; next }
    if ($pid) { $c->close; next }
    while (my $r = $c->get_request) {
        handle($c, $r);
        last;   # one request per connection keeps the fault cases simple
    }
    $c->close;
    exit 0;
}

sub base { 'http://127.0.0.1:' . $port }
# Where a job's URLs point: here, or the foreign origin the prompt names.
sub api_base {
    my ($prompt) = @_;
    return ($prompt // '') =~ /\[fault:foreign:(\d+)\]/ ? "http://127.0.0.1:$1" : base();
}
sub file_base {
    my ($prompt) = @_;
    $prompt //= '';
    return "http://127.0.0.1:$1" if $prompt =~ /\[fault:foreignfile:(\d+)\]/;
    return 'https://169.254.169.254' if $prompt =~ /\[fault:private\]/;
    return 'https://[fd00:ec2::254]' if $prompt =~ /\[fault:private6\]/;
    return base();
}
# (a sub, not a variable: the accept loop above runs before any later
# file-scope assignment would)
sub evil { "bad input\nAH00000: [fake] injected line \"quoted\" \e[31mred\e[0m \\ end" }

sub counter {            # persistent per-key counter across forked children
    my ($key) = @_;
    $key =~ s/[^A-Za-z0-9_.-]/_/g;
    open my $fh, '+>>', "$state/count.$key" or die;
    flock $fh, LOCK_EX;
    seek $fh, 0, 0;
    my $n = <$fh> // 0;
    $n++;
    truncate $fh, 0;
    print $fh $n;
    close $fh;
    return $n;
}

sub remember {           # the prompt of a job, for its later polls
    my ($id, $prompt) = @_;
    open my $fh, '>', "$state/job.$id" or die;
    print $fh $prompt;
    close $fh;
}
# [progress:SECS]: (seconds, steps done of 50, finished) of job id, by
# the clock since it was accepted (its job file's time); () without it.
sub progress_of {
    my ($id, $prompt) = @_;
    return () unless ($prompt // '') =~ /\[progress:(\d+(?:\.\d+)?)\]/;
    my $secs = $1;
    my $born = (Time::HiRes::stat("$state/job.$id"))[9] // Time::HiRes::time();
    my $f = (Time::HiRes::time() - $born) / $secs;
    return ($secs, $f >= 1 ? 50 : int($f * 50), $f >= 1);
}
# The lines tqdm prints for steps 0..k of 50 (Replicate's logs is their text).
sub tqdm_lines {
    my ($k) = @_;
    return ('Using seed: 42', map { sprintf '%3d%%|%-10s| %d/50 [00:0%d<00:0%d, 17.10it/s]', $_ * 2,
                                    '#' x int($_ / 5), $_, $_ / 17, (50 - $_) / 17 } 0 .. $k);
}
# How many pictures an answer carries for $n asked: one fewer with
# [fault:fewer] (a provider that delivered less than asked), at least one.
sub pictures_for {
    my ($n, $prompt) = @_;
    $n-- if $prompt =~ /\[fault:fewer\]/ && $n > 1;
    return $n;
}

sub recall {
    my ($id) = @_;
    open my $fh, '<', "$state/job.$id" or return '';
    local $/;
    return <$fh> // '';
}

# (format, width, height) of PNG, JPEG or WebP bytes, from their headers.
sub image_info {
    my ($b) = @_;
    return ('png', unpack('N2', substr($b, 16, 8))) if substr($b, 0, 8) eq "\x89PNG\r\n\x1a\n";
    if (substr($b, 0, 3) eq "\xff\xd8\xff") {
        my $i = 2;
        while ($i + 9 < length $b) {
            my ($ff, $m, $len) = unpack('CCn', substr($b, $i, 4));
            last unless $ff == 0xff;
            if ($m >= 0xc0 && $m <= 0xcf && $m != 0xc4 && $m != 0xc8 && $m != 0xcc) {
                my ($h, $w) = unpack('nn', substr($b, $i + 5, 4));
                return ('jpeg', $w, $h);
            }
            $i += 2 + $len;
        }
        return ('jpeg', 0, 0);
    }
    if (substr($b, 0, 4) eq 'RIFF' && substr($b, 8, 4) eq 'WEBP') {
        my $chunk = substr($b, 12, 4);
        if ($chunk eq 'VP8X') {
            my @w = unpack('C3', substr($b, 24, 3));
            my @h = unpack('C3', substr($b, 27, 3));
            return ('webp', 1 + $w[0] + ($w[1] << 8) + ($w[2] << 16), 1 + $h[0] + ($h[1] << 8) + ($h[2] << 16));
        }
        if ($chunk eq 'VP8L') {
            my $bits = unpack('V', substr($b, 21, 4));
            return ('webp', 1 + ($bits & 0x3fff), 1 + (($bits >> 14) & 0x3fff));
        }
        if ($chunk eq 'VP8 ') {
            my ($w, $h) = unpack('vv', substr($b, 26, 4));
            return ('webp', $w & 0x3fff, $h & 0x3fff);
        }
        return ('webp', 0, 0);
    }
    return ('unknown', 0, 0);
}

# What a source image field carried: a data: URI (decoded), or a URL.
sub describe_source {
    my ($v) = @_;
    return undef unless defined $v && !ref $v;
    if ($v =~ m{^data:([\w/+.-]+);base64,(.*)\z}s) {
        my ($type, $bytes) = ($1, decode_base64($2));
        my ($fmt, $w, $h) = image_info($bytes);
        return { via => 'data', content_type => $type, bytes => length $bytes, format => $fmt,
                 width => $w, height => $h, sha1 => sha1_hex($bytes), png_of($bytes) };
    }
    return { via => 'url', url => $v };
}

# A PNG's pixels as a mask reads them (t/lib/GenFlowPNG.pm): png =>
# {clear, white, pixels, color_type}, or nothing.
sub png_of {
    my $st = png_stats($_[0]) or return ();
    return (png => { map { $_ => $st->{$_} } qw(clear white pixels color_type) });
}

# A multipart picture part as the log shows it.
sub describe_part {
    my ($part) = @_;
    my $bytes = $part->content;
    my ($fmt, $w, $h) = image_info($bytes);
    my ($fname) = ($part->header('Content-Disposition') // '') =~ /filename="([^"]*)"/;
    return { via => 'part', content_type => scalar($part->header('Content-Type')), filename => $fname,
             bytes => length $bytes, format => $fmt, width => $w, height => $h, sha1 => sha1_hex($bytes),
             png_of($bytes) };
}

# The submission and acceptance journals of bench/chaos (see the top).
sub journal {
    my ($kind, $provider, $jobid, $prompt) = @_;
    $prompt //= '';
    $prompt =~ s/[\t\r\n]/ /g;
    open my $lock, '>>', "$state/journal.lock" or die;
    flock $lock, LOCK_EX;
    my $seq = 1;
    if (open my $in, '<', "$state/events.seq") { $seq = (<$in> // 0) + 1; close $in }
    open my $sq, '>', "$state/events.seq" or die;
    print $sq $seq;
    close $sq;
    my $file = $kind eq 'accept' ? 'accepted.log' : 'submitted.log';
    my $line = $kind eq 'accept' ? "$provider\t$jobid\t$prompt\n" : "$provider\t$prompt\n";
    my $event = join("\t", $seq, sprintf('%.3f', Time::HiRes::time()), $kind, $provider, $jobid // '-', $prompt);
    for ([$file, $line], ['events.log', "$event\n"]) {
        open my $fh, '>>', "$state/$_->[0]" or die;
        print $fh $_->[1];
        close $fh;
    }
    close $lock;
}
sub submitted { journal('submit', $_[0], undef, $_[1]) }
sub accepted  { journal('accept', @_) }

# [fault:pollfail] and [fault:pollslow] on a status poll of an accepted
# job; returns 1 when the poll is the one that fails.
sub poll_fault {
    my ($kind, $id, $prompt) = @_;
    sleep 3 if $prompt =~ /\[fault:pollslow\]/;
    return 0 unless $prompt =~ /\[fault:pollfail\]/;
    return counter("pollfail.$kind.$id") == 1;
}

sub record {
    my ($r, $fields) = @_;
    my %h;
    $r->headers->scan(sub { $h{lc $_[0]} = $_[1] });
    my $entry = { method => $r->method, path => $r->uri->path, query => $r->uri->query // '',
                  headers => \%h, fields => $fields, at => Time::HiRes::time() };
    open my $fh, '>>', "$state/requests.log" or die;
    flock $fh, LOCK_EX;
    print $fh $json->encode($entry), "\n";
    close $fh;
}

sub send_json {
    my ($c, $code, $doc, %h) = @_;
    my $res = HTTP::Response->new($code);
    $res->header('Content-Type' => 'application/json', %h);
    $res->content($json->encode($doc));
    $c->send_response($res);
}

sub send_png {
    my ($c, %h) = @_;
    my $res = HTTP::Response->new(200);
    $res->header('Content-Type' => 'image/png', %h);
    $res->content($PNG);
    $c->send_response($res);
}

# A PNG of w x h pixels of one colour (the partial pictures of a stream).
sub png_solid {
    my ($w, $h, @rgb) = @_;
    my $raw = ("\0" . pack('C3', @rgb) x $w) x $h;
    my $chunk = sub {
        my ($t, $d) = @_;
        return pack('N', length $d) . $t . $d . pack('N', Compress::Zlib::crc32($t . $d));
    };
    return "\x89PNG\r\n\x1a\n" . $chunk->('IHDR', pack('NNC5', $w, $h, 8, 2, 0, 0, 0))
         . $chunk->('IDAT', Compress::Zlib::compress($raw)) . $chunk->('IEND', '');
}

# OpenAI's streamed answer: text/event-stream, partial_images events (each
# a picture of 800x600 in its own colour), then the completed event with
# the picture and the usage. Faults: [stream:slow] 1.5 s between events
# (else 50 ms); [fault:streamerror] an error event after the first
# partial picture; [fault:streamcut] the connection closed after it;
# [stream:badpartial] a first partial picture that is no picture.
sub send_image_stream {
    my ($c, $op, $in, $prompt) = @_;
    my $fam = $op eq 'edits' ? 'image_edit' : 'image_generation';
    my $n = $in->{partial_images} // 0;
    my $gap = $prompt =~ /\[stream:slow\]/ ? 1.5 : 0.05;
    my %shape = (created_at => 1795300000, size => $in->{size} // '1024x1024', quality => $in->{quality} // 'high',
                 background => $in->{background} // 'opaque', output_format => $in->{output_format} // 'png');
    $c->autoflush(1);
    print $c "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
           . "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
    my $event = sub {
        my ($type, %doc) = @_;
        print $c "event: $type\ndata: " . $json->encode({ type => $type, %doc }) . "\n\n";
    };
    for my $i (0 .. $n - 1) {
        my $pic = $i == 0 && $prompt =~ /\[stream:badpartial\]/ ? 'not a picture'
                : png_solid(800, 600, 40 + 60 * $i, 90, 220 - 60 * $i);
        $event->("$fam.partial_image", %shape, b64_json => encode_base64($pic, ''), partial_image_index => $i);
        if ($prompt =~ /\[fault:streamerror\]/) {
            $event->('error', error => { type => 'image_generation_user_error', code => 'moderation_blocked', param => undef,
                     message => 'Your request was rejected as a result of our safety system.' });
            $c->close;
            exit 0;
        }
        if ($prompt =~ /\[fault:streamcut\]/) { $c->close; exit 0 }
        Time::HiRes::sleep($gap);
    }
    $event->("$fam.completed", %shape, b64_json => encode_base64($PNG, ''),
             usage => { input_tokens => 50, input_tokens_details => { text_tokens => 50, image_tokens => 0 },
                        output_tokens => 6240, total_tokens => 6290 });
    $c->close;
    exit 0;
}

# Faults common to every protocol; returns 1 when it answered.
sub common_fault {
    my ($c, $prompt) = @_;
    if ($prompt =~ /\[fault:reset\]/) { $c->close; exit 0 }
    if ($prompt =~ /\[fault:slow\]/) { sleep 5 }
    if ($prompt =~ /\[fault:truncated\]/) {
        print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"data\":[";
        $c->close;
        exit 0;
    }
    if ($prompt =~ /\[fault:badjson\]/) {
        my $res = HTTP::Response->new(200);
        $res->header('Content-Type' => 'application/json');
        $res->content('{"data": [ {"url": ');
        $c->send_response($res);
        return 1;
    }
    if ($prompt =~ /\[fault:oversized\]/) {
        my $res = HTTP::Response->new(200);
        $res->header('Content-Type' => 'image/png');
        $res->content($PNG . ("\0" x (3 * 1024 * 1024)));
        $c->send_response($res);
        return 1;
    }
    if ($prompt =~ /\[fault:wrongtype\]/) {
        my $res = HTTP::Response->new(200);
        $res->header('Content-Type' => 'text/html');
        $res->content('<html><body>maintenance</body></html>');
        $c->send_response($res);
        return 1;
    }
    return 0;
}

sub handle {
    my ($c, $r) = @_;
    my $path = $r->uri->path;
    my $auth = $r->header('Authorization') // '';

    if ($path eq '/_log') {
        # Nothing logged yet: no file (open's handle is a true value
        # even when it failed, so the open's own result decides). Read
        # under the writers' lock, so that a line being written is never
        # read half (a long one goes out in several writes).
        my $fh;
        my $res = HTTP::Response->new(200);
        $res->content(open($fh, '<', "$state/requests.log") && flock($fh, LOCK_SH)
                      ? do { local $/; <$fh> } : '');
        return $c->send_response($res);
    }
    if ($path =~ m{^/_(accepted|submitted|events)$}) {
        my ($fh, $log) = (undef, "$state/$1.log");
        my $res = HTTP::Response->new(200);
        $res->header('Content-Type' => 'text/plain; charset=utf-8');
        $res->content(open($fh, '<', $log) ? do { local $/; <$fh> } : '');
        return $c->send_response($res);
    }
    if ($path =~ m{^/_complete/([\w-]+)$}) {      # the test ends a job "on the provider"
        open my $fh, '>', "$state/done.$1" or die;
        close $fh;
        return send_json($c, 200, { ok => JSON::PP::true });
    }
    if ($path =~ m{^/_cloudinary_fail/(\d+)$}) {   # the next N uploads fail with 500
        open my $fh, '>', "$state/cloudinary_fail" or die;
        print $fh $1;
        close $fh;
        return send_json($c, 200, { ok => JSON::PP::true });
    }
    # ---- Cloudinary signed upload -------------------------------------------
    if ($path =~ m{^/v1_1/([\w-]+)/image/upload$} && $r->method eq 'POST') {
        my $cloud = $1;
        my (%f, $file);
        for my $part ($r->parts) {
            my ($name) = ($part->header('Content-Disposition') // '') =~ /name="([^"]+)"/;
            next unless defined $name;
            $f{$name} = $name eq 'file' ? length($part->content) : $part->content;
            $file = $part->content if $name eq 'file';
        }
        record($r, \%f);
        if (open my $fh, '+<', "$state/cloudinary_fail") {
            flock $fh, LOCK_EX;
            my $left = <$fh> // 0;
            if ($left > 0) {
                seek $fh, 0, 0; truncate $fh, 0; print $fh $left - 1; close $fh;
                return send_json($c, 500, { error => { message => 'General Error' } });
            }
            close $fh;
        }
        my $secret = $ENV{GENFLOW_MOCK_CLOUD_SECRET} // '';
        my $tosign = join '&', map { "$_=$f{$_}" }
            sort grep { !/^(file|cloud_name|resource_type|api_key|signature)$/ && length $f{$_} } keys %f;
        my $sig = $f{signature} // '';
        my $ok = $sig eq sha1_hex($tosign . $secret) || $sig eq sha256_hex($tosign . $secret);
        return send_json($c, 401, { error => { message => "Invalid Signature $sig. String to sign - '$tosign'." } })
            unless $ok && ($f{api_key} // '') eq 'cloud-api-key';
        return send_json($c, 400, { error => { message => 'Stale request - reported time is more than 1 hour ago' } })
            if abs(time - ($f{timestamp} // 0)) > 3600;
        return send_json($c, 400, { error => { message => 'Missing required parameter - file' } }) unless $f{file};
        my $pid = $f{public_id};
        # Kept, and served back at its secure_url (an upload read back).
        if (open my $fh, '>', "$state/cloudfile." . sha1_hex($pid)) { binmode $fh; print $fh $file; close $fh }
        return send_json($c, 200, { asset_id => 'a' x 32, public_id => $pid, version => 1795300000,
            signature => sha1_hex("public_id=$pid&version=1795300000$secret"), width => 1, height => 1,
            format => 'png', resource_type => 'image', created_at => '2026-11-22T00:00:00Z', bytes => $f{file},
            type => 'upload', url => base() . "/res/$cloud/image/upload/v1795300000/$pid.png",
            secure_url => base() . "/res/$cloud/image/upload/v1795300000/$pid.png" });
    }
    if ($path =~ m{^/res/}) {
        record($r, {});
        if ($path =~ m{^/res/[\w-]+/image/upload/v\d+/(.+)\.\w+$} && -e "$state/cloudfile." . sha1_hex($1)) {
            open my $fh, '<', "$state/cloudfile." . sha1_hex($1) or die;
            binmode $fh;
            my $bytes = do { local $/; <$fh> };
            my ($fmt) = image_info($bytes);
            my $res = HTTP::Response->new(200);
            $res->header('Content-Type' => "image/$fmt");
            $res->content($bytes);
            return $c->send_response($res);
        }
        return send_png($c);
    }
    if ($path =~ m{^/files/}) {
        record($r, {});
        return send_png($c);
    }

    # ---- pictures on a site's own origin (an edit's URLs, t/66) -----------
    # GET /pictures/WxH-KIND.png: rgb (a gradient, its blue 90), clearleft
    # (RGBA, transparent on the left half); notpng.png is text.
    if ($path =~ m{^/pictures/(\d{1,4})x(\d{1,4})-(rgb|clearleft)\.png$} && $r->method eq 'GET') {
        my ($w, $h, $kind) = ($1, $2, $3);
        record($r, {});
        my $png = $kind eq 'rgb' ? png_make($w, $h, 2, sub { ($_[0] * 4 % 256, $_[1] * 5 % 256, 90) })
                                 : png_make($w, $h, 6, sub { (0, 0, 0, $_[0] < $w / 2 ? 0 : 255) });
        my $res = HTTP::Response->new(200);
        $res->header('Content-Type' => 'image/png');
        $res->content($png);
        return $c->send_response($res);
    }
    if ($path eq '/pictures/notpng.png' && $r->method eq 'GET') {
        record($r, {});
        my $res = HTTP::Response->new(200);
        $res->header('Content-Type' => 'image/png');
        $res->content("this is not a picture\n");
        return $c->send_response($res);
    }

    # ---- Stability v2beta ------------------------------------------------
    # edit/inpaint: multipart image and mask (white: paint here; the mask
    # must be the image's size), prompt; the picture as generate answers.
    if ($path eq '/v2beta/stable-image/edit/inpaint' && $r->method eq 'POST') {
        my %f;
        for my $part ($r->parts) {
            my ($name) = ($part->header('Content-Disposition') // '') =~ /name="([^"]+)"/;
            next unless defined $name;
            if ($name eq 'image' || $name eq 'mask') { $f{"_$name"} = describe_part($part); next }
            $f{$name} = $part->content;
        }
        record($r, \%f);
        return send_json($c, 401, { id => 'x' x 32, name => 'unauthorized', errors => ['bad key'] })
            unless $auth eq "Bearer $KEY";
        my $prompt = $f{prompt} // '';
        submitted('stability:inpaint', $prompt);
        return if common_fault($c, $prompt);
        return send_json($c, 400, { id => 'a' x 32, name => 'bad_request', errors => ['image: is required'] })
            unless $f{_image} && length $prompt;
        return send_json($c, 400, { id => 'a' x 32, name => 'bad_request',
            errors => ['mask: the mask must have the same dimensions as the image'] })
            if $f{_mask} && ($f{_mask}{width} != $f{_image}{width} || $f{_mask}{height} != $f{_image}{height});
        return send_png($c, 'finish-reason' => 'SUCCESS', seed => '7');
    }
    if ($path =~ m{^/v2beta/stable-image/generate/(core|ultra|sd3)$} && $r->method eq 'POST') {
        my $endpoint = $1;
        my %f;
        my $ct = $r->header('Content-Type') // '';
        for my $part ($r->parts) {
            my ($name) = ($part->header('Content-Disposition') // '') =~ /name="([^"]+)"/;
            next unless defined $name;
            if ($name eq 'image') {       # image-to-image: the source picture
                my $bytes = $part->content;
                my ($fmt, $w, $h) = image_info($bytes);
                my ($fname) = ($part->header('Content-Disposition') // '') =~ /filename="([^"]*)"/;
                $f{_image} = { via => 'part', content_type => scalar($part->header('Content-Type')),
                               filename => $fname, bytes => length $bytes, format => $fmt,
                               width => $w, height => $h, sha1 => sha1_hex($bytes) };
                $f{image} = length($bytes) . ' bytes';
                next;
            }
            $f{$name} = $part->content;
        }
        $f{_multipart} = $ct =~ m{^multipart/form-data; boundary=} ? 1 : 0;
        record($r, \%f);
        return send_json($c, 401, { id => 'x' x 32, name => 'unauthorized', errors => ['bad key'] })
            unless $auth eq "Bearer $KEY";
        my $prompt = $f{prompt} // '';
        submitted("stability:$endpoint", $prompt);
        return if common_fault($c, $prompt);
        if ($prompt =~ /\[fault:then(500|400|slow)\]/) {
            # The first call of this prompt answers as usual; then [fault:then500]
            # fails the second with 500, [fault:then400] every later one with 400,
            # [fault:thenslow] answers every later one after 5 s.
            my ($what, $nth) = ($1, counter('then.' . sha1_hex($prompt)));
            return send_json($c, 500, { id => 'b' x 32, name => 'internal_error',
                errors => ['An unexpected server error has occurred, please try again later.'] })
                if $what eq '500' && $nth == 2;
            return send_json($c, 400, { id => 'a' x 32, name => 'bad_request',
                errors => ['prompt: this prompt cannot be drawn'] })
                if $what eq '400' && $nth >= 2;
            sleep 5 if $what eq 'slow' && $nth >= 2;
        }
        return send_json($c, 400, { id => 'a' x 32, name => 'bad_request', errors => ['prompt: is required'] })
            unless length $prompt && $f{_multipart};
        return send_json($c, 429, { id => 'rate_limit_exceeded', name => 'rate_limit_exceeded',
            errors => ['You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for 60 seconds.'] },
            'Retry-After' => 1) if $prompt =~ /\[fault:429\]/;
        return send_json($c, 500, { id => 'b' x 32, name => 'internal_error',
            errors => ['An unexpected server error has occurred, please try again later.'] })
            if $prompt =~ /\[fault:500\]/;
        return send_json($c, 402, { id => 'c' x 32, name => 'payment_required',
            errors => ['You lack sufficient credits to make this request.'] }) if $prompt =~ /\[fault:402\]/;
        return send_json($c, 403, { id => 'd' x 32, name => 'content_moderation',
            errors => ['Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.'] })
            if $prompt =~ /\[fault:moderation\]/;
        if ($prompt =~ /\[fault:async\]/) {
            my $id = join '', map { sprintf '%x', int rand 16 } 1 .. 64;
            remember($id, $prompt);
            accepted("stability:$endpoint", $id, $prompt);
            return send_json($c, 200, { id => $id });
        }
        return send_png($c, 'finish-reason' => 'CONTENT_FILTERED', seed => '42')
            if $prompt =~ /\[fault:filtered\]/;
        return send_png($c, seed => '') if $prompt =~ /\[fault:odd\]/;
        if ($prompt =~ /\[fault:json\]/) {     # the Accept: application/json shape
            my $res = HTTP::Response->new(200);
            $res->header('Content-Type' => 'application/json; type=image/png');
            $res->content($json->encode({ image => encode_base64($PNG, ''), seed => 343940597,
                                          finish_reason => 'SUCCESS' }));
            return $c->send_response($res);
        }
        return send_png($c, 'finish-reason' => 'SUCCESS', seed => '343940597', 'x-request-id' => 'r1');
    }
    if ($path =~ m{^/v2beta/results/([0-9a-f]{64})$}) {
        my $id = $1;
        record($r, {});
        return send_json($c, 503, { id => 'e' x 32, name => 'internal_error',
            errors => ['An unexpected server error has occurred, please try again later.'] })
            if poll_fault('stab', $id, recall($id));
        my $n = counter("stab.$id");
        return send_json($c, 202, { id => $id, status => 'in-progress' }) if $n <= 2;
        return send_png($c, 'finish-reason' => 'SUCCESS', seed => '1');
    }

    # ---- fal queue ---------------------------------------------------------
    if ($path =~ m{^/(fal-ai/[^/]+)/requests/([\w-]+)(/status|/cancel)?$}) {
        my ($app, $id, $what) = ($1, $2, $3 // '');
        record($r, {});
        return send_json($c, 401, { detail => 'Unauthorized' }) unless $auth eq "Key $KEY";
        my $prompt = recall($id);
        if ($what eq '/cancel') {
            return send_json($c, 202, { status => 'CANCELLATION_REQUESTED' });
        }
        my $urls = { request_id => $id, response_url => api_base($prompt) . "/$app/requests/$id",
                     status_url => api_base($prompt) . "/$app/requests/$id/status",
                     cancel_url => api_base($prompt) . "/$app/requests/$id/cancel" };
        if ($what eq '/status') {
            return send_json($c, 503, { detail => 'Runner unavailable' }) if poll_fault('fal', $id, $prompt);
            my $n = counter("fal.$id");
            return send_json($c, 200, { status => 'COMPLETED', logs => [], %$urls }) if -e "$state/done.$id";
            if (my ($secs, $k, $done) = progress_of($id, $prompt)) {
                return send_json($c, 200, { status => 'COMPLETED', logs => [], %$urls }) if $done;
                # fal sends the runner's logs only when asked (?logs=1).
                my @logs = ($r->uri->query // '') =~ /(?:^|&)logs=1(?:&|$)/
                    ? map { { message => $_, level => 'STDERR', source => 'USER',
                              timestamp => '2026-11-28T08:00:00.000000' } } tqdm_lines($k) : ();
                return send_json($c, 202, { status => 'IN_PROGRESS', logs => \@logs, %$urls });
            }
            return send_json($c, 202, { status => 'IN_QUEUE', queue_position => 0, %$urls }) if $n == 1;
            return send_json($c, 202, { status => 'IN_PROGRESS', logs => [], %$urls })
                if $n == 2 || ($prompt =~ /\[fault:never\]/ && !-e "$state/done.$id");
            return send_json($c, 200, { status => 'COMPLETED', logs => [], metrics => { inference_time => 1.2 }, %$urls });
        }
        return send_json($c, 422, { detail => [{ loc => ['body', 'prompt'], msg => 'prompt is not allowed', type => 'value_error' }] })
            if $prompt =~ /\[fault:failed\]/;
        return send_json($c, 422, { detail => evil() }) if $prompt =~ /\[fault:evilmsg\]/;
        my $count = pictures_for(recall("n.$id") || 1, $prompt);
        return send_json($c, 200, { images => [map { { url => file_base($prompt) . "/files/$id-$_.png", width => 1, height => 1,
                                                       content_type => 'image/png' } } 1 .. $count],
                                    seed => 123, prompt => $prompt,
                                    # fal's safety checker: a black picture, flagged
                                    has_nsfw_concepts => [$prompt =~ /\[fault:nsfw\]/ ? JSON::PP::true : JSON::PP::false],
                                    timings => { inference => 1.1 } });
    }
    if ($path =~ m{^/(fal-ai/[^/]+)(/[\w./-]+)?$} && $r->method eq 'POST') {
        my $app = $1;
        my $in = eval { $json->decode($r->content) } || {};
        if (defined $in->{image_url}) {
            $in->{_image} = describe_source($in->{image_url});
            $in->{image_url} = 'data:...' if $in->{image_url} =~ /^data:/;
        }
        record($r, $in);
        return send_json($c, 401, { detail => 'Unauthorized' }) unless $auth eq "Key $KEY";
        my $prompt = $in->{prompt} // '';
        my $provider = 'fal:' . substr($path, 1);
        submitted($provider, $prompt);
        return if common_fault($c, $prompt);
        return send_json($c, 422, { detail => [{ loc => ['body', 'prompt'], msg => 'field required', type => 'value_error.missing' }] })
            unless length $prompt;
        return send_json($c, 404, { detail => "Application 'broken-model' not found" })
            if $app eq 'fal-ai/broken-model';
        return send_json($c, 429, { detail => 'Too many requests' }, 'Retry-After' => 1) if $prompt =~ /\[fault:429\]/;
        return send_json($c, 503, { detail => 'Runner unavailable', error_type => 'runner_scheduling_failure' },
                         'X-Fal-Error-Type' => 'runner_scheduling_failure') if $prompt =~ /\[fault:500\]/;
        return send_json($c, 403, { detail => 'Forbidden' }) if $prompt =~ /\[fault:403\]/;
        my $id = sprintf '%08x-%04x-4%03x-8%03x-%06x%06x', int rand 2**32, int rand 2**16,
                         int rand 2**12, int rand 2**12, int rand 2**24, int rand 2**24;
        remember($id, $prompt);
        # num_images (1..4 on fal's image models): as many pictures in the result.
        return send_json($c, 422, { detail => [{ loc => ['body', 'num_images'], msg => 'ensure this value is less than or equal to 4',
                                                 type => 'value_error.number.not_le' }] })
            if defined $in->{num_images} && ($in->{num_images} !~ /^\d+$/ || $in->{num_images} < 1 || $in->{num_images} > 4);
        remember("n.$id", $in->{num_images} // 1);
        accepted($provider, $id, $prompt);
        # The returned URLs name owner/app only, without the model's sub-path.
        return send_json($c, 200, { request_id => $id, status => 'IN_QUEUE', queue_position => 0,
                                    response_url => api_base($prompt) . "/$app/requests/$id",
                                    status_url => api_base($prompt) . "/$app/requests/$id/status",
                                    cancel_url => api_base($prompt) . "/$app/requests/$id/cancel" });
    }

    # ---- Replicate ---------------------------------------------------------
    if ($path =~ m{^/v1/predictions/(\w+)(/cancel)?$}) {
        my ($id, $cancel) = ($1, $2);
        record($r, {});
        return send_json($c, 401, { title => 'Unauthenticated', detail => 'You did not pass a valid authentication token', status => 401 })
            unless $auth eq "Bearer $KEY";
        my $prompt = recall($id);
        return send_json($c, 200, prediction($id, 'canceled', $prompt)) if $cancel;
        return send_json($c, 503, { title => 'Service Unavailable', status => 503,
                                    detail => 'Replicate is temporarily unavailable' })
            if poll_fault('rep', $id, $prompt);
        my $n = counter("rep.$id");
        return send_json($c, 200, prediction($id, 'succeeded', $prompt)) if -e "$state/done.$id";
        if (my ($secs, $k, $done) = progress_of($id, $prompt)) {
            return send_json($c, 200, prediction($id, $done ? 'succeeded' : 'processing', $prompt,
                                                 join("\n", tqdm_lines($k))));
        }
        return send_json($c, 200, prediction($id, 'processing', $prompt))
            if $n < 2 || ($prompt =~ /\[fault:never\]/ && !-e "$state/done.$id");
        return send_json($c, 200, prediction($id, 'succeeded', $prompt));
    }
    if (($path =~ m{^/v1/models/[\w.-]+/[\w.-]+/predictions$} || $path eq '/v1/predictions')
        && $r->method eq 'POST') {
        my $in = eval { $json->decode($r->content) } || {};
        if (ref $in->{input} eq 'HASH' && defined $in->{input}{image}) {
            $in->{_image} = describe_source($in->{input}{image});
            $in->{input}{image} = 'data:...' if $in->{input}{image} =~ /^data:/;
        }
        record($r, $in);
        return send_json($c, 401, { title => 'Unauthenticated', detail => 'You did not pass a valid authentication token', status => 401 })
            unless $auth eq "Bearer $KEY";
        my $prompt = ($in->{input} || {})->{prompt} // '';
        my $provider = 'replicate:' . ($path =~ m{^/v1/models/([\w.-]+/[\w.-]+)/} ? $1 : $in->{version} // '');
        submitted($provider, $prompt);
        return if common_fault($c, $prompt);
        return send_json($c, 422, { type => 'about:blank', title => 'Input validation failed', status => 422,
                                    detail => '- input.prompt: Invalid type. Expected: string' })
            unless length $prompt;
        return send_json($c, 429, { detail => 'Request was throttled. Your rate limit resets in ~1s.' },
                         'Retry-After' => 1) if $prompt =~ /\[fault:429\]/;
        return send_json($c, 500, { type => 'about:blank', title => 'Internal Server Error', status => 500,
                                    detail => 'try again' }) if $prompt =~ /\[fault:500\]/;
        return send_json($c, 402, { title => 'Payment Required', detail => 'Insufficient credit', status => 402 })
            if $prompt =~ /\[fault:402\]/;
        my $id = join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 26;
        remember($id, $prompt);
        my $outputs = ($in->{input} || {})->{num_outputs};
        return send_json($c, 422, { type => 'about:blank', title => 'Input validation failed', status => 422,
                                    detail => '- input.num_outputs: Must be less than or equal to 4' })
            if defined $outputs && ($outputs !~ /^\d+$/ || $outputs < 1 || $outputs > 4);
        remember("n.$id", $outputs // 1);
        my $status = $prompt =~ /\[fault:failed\]/ ? 'failed'
                   : ($prompt =~ /\[(fault:queue|fault:never|fault:foreign:\d+|progress:[\d.]+)\]/ || ($r->header('Prefer') // '') !~ /wait/) ? 'starting'
                   : 'succeeded';
        accepted($provider, $id, $prompt) if $status ne 'failed';
        return send_json($c, 201, prediction($id, $status, $prompt));
    }

    # ---- AIML --------------------------------------------------------------
    if ($path eq '/v1/images/generations' && $r->method eq 'POST') {
        my $in = eval { $json->decode($r->content) } || {};
        if (defined $in->{image_url}) {
            $in->{_image} = describe_source($in->{image_url});
            $in->{image_url} = 'data:...' if $in->{image_url} =~ /^data:/;
        }
        record($r, $in);
        my $err = sub {
            my ($code, $msg) = @_;
            send_json($c, $code, { message => $msg, path => $path, requestId => 'f0e1d2c3-b4a5-4697-8899-aabbccddeeff',
                                   statusCode => "$code", timestamp => '2026-11-22T07:13:27.813Z' });
        };
        return $err->(401, 'Missing or invalid API key') unless $auth eq "Bearer $KEY";
        my $prompt = $in->{prompt} // '';
        submitted('aiml:' . ($in->{model} // ''), $prompt);
        return if common_fault($c, $prompt);
        return $err->(400, 'Body validation error!') unless length $prompt && $in->{model};
        return $err->(400, evil()) if $prompt =~ /\[fault:evilmsg\]/;
        return $err->(403, "You've run out of credits. Please top up your balance.") if $prompt =~ /\[fault:403\]/;
        return $err->(429, 'Too Many Requests') if $prompt =~ /\[fault:429\]/;
        return $err->(500, 'Internal server error') if $prompt =~ /\[fault:500\]/;
        return send_json($c, 201, { data => [{ url => undef, b64_json => encode_base64($PNG, '') }] })
            if $prompt =~ /\[fault:b64\]/;
        # OpenAI's models there take n, the others num_images (the model's document).
        my $asked = ($in->{model} =~ /^(dall-e|openai\/)/ ? $in->{n} : $in->{num_images}) // 1;
        return $err->(400, 'Body validation error!') if $asked !~ /^\d+$/ || $asked < 1 || $asked > 4;
        return send_json($c, 200, { data => [map { { url => file_base($prompt) . "/files/aiml-$_.png", b64_json => undef } }
                                             1 .. pictures_for($asked, $prompt)],
                                    meta => { usage => { credits_used => 120000 * $asked } } });
    }

    # ---- OpenAI Images (base_url .../openai/v1, as OpenAI's clients write it) ----
    if ($path =~ m{^/openai/v1/images/(generations|edits)$} && $r->method eq 'POST') {
        my $op = $1;
        my $in = eval { $json->decode($r->content) } || {};
        for my $ref (ref $in->{images} eq 'ARRAY' ? @{ $in->{images} } : ()) {
            next unless ref $ref eq 'HASH' && defined $ref->{image_url};
            $ref->{_image} = describe_source($ref->{image_url});
            $ref->{image_url} = 'data:...' if $ref->{image_url} =~ /^data:/;
        }
        if (ref $in->{mask} eq 'HASH' && defined $in->{mask}{image_url}) {
            $in->{mask}{_image} = describe_source($in->{mask}{image_url});
            $in->{mask}{image_url} = 'data:...' if $in->{mask}{image_url} =~ /^data:/;
        }
        record($r, $in);
        my $err = sub {
            my ($code, $msg, $type, $ecode, %h) = @_;
            send_json($c, $code, { error => { message => $msg, type => $type, param => undef, code => $ecode } }, %h);
        };
        return $err->(401, 'Incorrect API key provided: fake_key. You can find your API key at https://platform.openai.com/account/api-keys.',
                      'invalid_request_error', 'invalid_api_key', 'WWW-Authenticate' => 'Bearer realm="OpenAI API"')
            unless $auth eq "Bearer $KEY";
        my $prompt = $in->{prompt} // '';
        submitted("openai:$op:" . ($in->{model} // ''), $prompt);
        return if common_fault($c, $prompt);
        # What the GPT image models refuse (openapi.yaml, CreateImageRequest).
        return $err->(400, "Unknown parameter: 'response_format'.", 'invalid_request_error', 'unknown_parameter')
            if exists $in->{response_format};
        return $err->(400, "Missing required parameter: 'prompt'.", 'invalid_request_error', 'missing_required_parameter')
            unless length $prompt;
        return $err->(400, "Invalid value for 'n': must be 1..10.", 'invalid_request_error', 'invalid_value')
            if defined $in->{n} && ($in->{n} !~ /^\d+$/ || $in->{n} < 1 || $in->{n} > 10);
        return $err->(400, "Invalid value: '$in->{size}'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.",
                      'invalid_request_error', 'invalid_value')
            if defined $in->{size} && $in->{size} !~ /^(1024x1024|1024x1536|1536x1024|auto)$/;
        return $err->(400, "Invalid 'images': edits need 1..16 images.", 'invalid_request_error', 'invalid_value')
            if $op eq 'edits' && !(ref $in->{images} eq 'ARRAY' && @{ $in->{images} } >= 1 && @{ $in->{images} } <= 16);
        return $err->(400, 'Your request was rejected as a result of our safety system. Your request may contain content that is not allowed by our safety system.',
                      'image_generation_user_error', 'moderation_blocked') if $prompt =~ /\[fault:moderation\]/;
        return $err->(429, 'Rate limit reached for gpt-image-1 on images per min (IPM): Limit 5, Used 5, Requested 1. Please try again in 1s.',
                      'requests', 'rate_limit_exceeded', 'retry-after-ms' => 1500) if $prompt =~ /\[fault:429\]/;
        return $err->(429, 'You exceeded your current quota, please check your plan and billing details.',
                      'insufficient_quota', 'insufficient_quota') if $prompt =~ /\[fault:quota\]/;
        return $err->(500, 'The server had an error while processing your request. Sorry about that!', 'server_error', undef)
            if $prompt =~ /\[fault:500\]/;
        # Streamed (stream: true, partial_images 0..3; openapi.yaml
        # PartialImages and the ImageGen/ImageEdit stream events).
        if ($in->{stream} && $prompt !~ /\[fault:streamjson\]/) {
            return $err->(400, "Invalid value for 'partial_images': must be 0..3.", 'invalid_request_error', 'invalid_value')
                if defined $in->{partial_images} && ($in->{partial_images} !~ /^\d$/ || $in->{partial_images} > 3);
            return send_image_stream($c, $op, $in, $prompt);
        }
        my $b64 = encode_base64($PNG, '');
        $b64 = substr($b64, 0, 20) . '!!' . substr($b64, 22) if $prompt =~ /\[fault:badb64\]/;
        $b64 = encode_base64('not a picture at all', '') if $prompt =~ /\[fault:notimage\]/;
        $b64 = encode_base64($PNG . ("\0" x (3 * 1024 * 1024)), '') if $prompt =~ /\[fault:bigb64\]/;
        # DALL-E's shape: a URL, which a GPT image model never sends.
        my $item = $prompt =~ /\[fault:url\]/ ? { url => file_base($prompt) . '/files/openai.png' } : { b64_json => $b64 };
        # n pictures (a damaged second one with [fault:onebad]).
        my @items = map { $_ == 2 && $prompt =~ /\[fault:onebad\]/ ? { b64_json => encode_base64('no picture', '') } : {%$item} }
                    1 .. pictures_for($in->{n} // 1, $prompt);
        return send_json($c, 200, { created => 1795300000, data => \@items, background => 'opaque',
            output_format => $in->{output_format} // 'png', size => $in->{size} // '1024x1536', quality => $in->{quality} // 'high',
            usage => { input_tokens => 50, input_tokens_details => { text_tokens => 50, image_tokens => 0 },
                       output_tokens => 6240, output_tokens_details => { image_tokens => 6240, text_tokens => 0 },
                       total_tokens => 6290 } });
    }

    # ---- Google Gemini API: generateContent (Gemini) and predict (Imagen) ----
    if ($path =~ m{^/v1beta/models/([\w.-]+):(generateContent|predict)$} && $r->method eq 'POST') {
        my ($model, $op) = ($1, $2);
        my $in = eval { $json->decode($r->content) } || {};
        my $prompt = '';
        if ($op eq 'predict') {
            $prompt = ((ref $in->{instances} eq 'ARRAY' ? $in->{instances}[0] : undef) || {})->{prompt} // '';
        }
        else {
            for my $part (map { ref $_->{parts} eq 'ARRAY' ? @{ $_->{parts} } : () }
                          (ref $in->{contents} eq 'ARRAY' ? @{ $in->{contents} } : ())) {
                $prompt .= $part->{text} if defined $part->{text};
                if (ref $part->{inlineData} eq 'HASH') {
                    my $d = $part->{inlineData};
                    $d->{_image} = describe_source("data:" . ($d->{mimeType} // '') . ";base64," . ($d->{data} // ''));
                    $d->{data} = '...';
                }
            }
        }
        $in->{_prompt} = $prompt;
        record($r, $in);
        my $gerr = sub {
            my ($code, $status, $msg, @details) = @_;
            send_json($c, $code, { error => { code => $code, message => $msg, status => $status,
                                              (@details ? (details => \@details) : ()) } });
        };
        return $gerr->(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.',
                       { '@type' => 'type.googleapis.com/google.rpc.ErrorInfo', reason => 'API_KEY_INVALID',
                         domain => 'googleapis.com', metadata => { service => 'generativelanguage.googleapis.com' } })
            unless ($r->header('x-goog-api-key') // '') eq $KEY;
        submitted("gemini:$model", $prompt);
        return if common_fault($c, $prompt);
        return $gerr->(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified')
            unless length $prompt;
        return $gerr->(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan.',
                       { '@type' => 'type.googleapis.com/google.rpc.QuotaFailure',
                         violations => [{ quotaId => 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
                       { '@type' => 'type.googleapis.com/google.rpc.RetryInfo', retryDelay => '1.2s' })
            if $prompt =~ /\[fault:429\]/;
        return $gerr->(500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting')
            if $prompt =~ /\[fault:500\]/;
        my $b64 = encode_base64($PNG, '');
        $b64 = substr($b64, 0, 20) . '!!' . substr($b64, 22) if $prompt =~ /\[fault:badb64\]/;
        $b64 = encode_base64($PNG . ("\0" x (3 * 1024 * 1024)), '') if $prompt =~ /\[fault:bigb64\]/;
        my $usage = { promptTokenCount => 9, candidatesTokenCount => 1290, totalTokenCount => 1299,
                      candidatesTokensDetails => [{ modality => 'IMAGE', tokenCount => 1290 }] };
        if ($op eq 'predict') {
            return send_json($c, 200, { predictions => [{ raiFilteredReason => 'Your current safety filter threshold filtered out 1 generated images. You will not be charged for blocked images.' }] })
                if $prompt =~ /\[fault:filtered\]/;
            return send_json($c, 200, {}) if $prompt =~ /\[fault:noimage\]/;
            # sampleCount 1..4 pictures; [fault:onefiltered]: the second filtered.
            my $samples = (($in->{parameters} || {})->{sampleCount}) // 1;
            return $gerr->(400, 'INVALID_ARGUMENT', 'sampleCount must be between 1 and 4')
                if $samples !~ /^\d+$/ || $samples < 1 || $samples > 4;
            my @preds = map { $_ == 2 && $prompt =~ /\[fault:onefiltered\]/
                                  ? { raiFilteredReason => 'Your current safety filter threshold filtered out 1 generated images.' }
                                  : { bytesBase64Encoded => $b64, mimeType => 'image/png', prompt => "$prompt (rewritten)" } } 1 .. $samples;
            return send_json($c, 200, { predictions => [@preds,
                                                        { contentType => 'Positive Prompt', safetyAttributes => { categories => [], scores => [] } }] });
        }
        return send_json($c, 200, { promptFeedback => { blockReason => 'PROHIBITED_CONTENT' }, usageMetadata => $usage, modelVersion => $model })
            if $prompt =~ /\[fault:blocked\]/;
        return send_json($c, 200, { candidates => [{ finishReason => 'IMAGE_SAFETY', index => 0 }], usageMetadata => $usage, modelVersion => $model })
            if $prompt =~ /\[fault:imagesafety\]/;
        return send_json($c, 200, { candidates => [{ content => { parts => [{ text => 'I cannot draw that, but here is a poem instead.' }], role => 'model' },
                                                     finishReason => 'NO_IMAGE', index => 0 }], usageMetadata => $usage, modelVersion => $model })
            if $prompt =~ /\[fault:noimage\]/;
        return send_json($c, 200, { candidates => [{ content => { parts => [{ text => "Here's the picture you asked for! " },
                                                                             { inlineData => { mimeType => 'image/png', data => $b64 } }],
                                                                  role => 'model' },
                                                     finishReason => 'STOP', index => 0 }],
                                    usageMetadata => $usage, modelVersion => $model, responseId => 'r' . int rand 1e9 });
    }

    # ---- Black Forest Labs FLUX API ------------------------------------------
    if ($path eq '/v1/get_result' && $r->method eq 'GET') {
        my ($id) = ($r->uri->query // '') =~ /(?:^|&)id=([\w-]+)/;
        record($r, {});
        return send_json($c, 403, { detail => 'Not authenticated' }) unless ($r->header('x-key') // '') eq $KEY;
        my $prompt = defined $id ? recall($id) : '';
        return send_json($c, 200, { id => $id, status => 'Task not found', result => undef, progress => undef,
                                    details => undef, preview => undef })
            if !length $prompt || $prompt =~ /\[fault:lost\]/;
        return send_json($c, 503, { detail => 'Service temporarily unavailable' }) if poll_fault('bfl', $id, $prompt);
        my $n = counter("bfl.$id");
        my $st = sub { send_json($c, 200, { id => $id, status => $_[0], result => $_[1], progress => $_[2],
                                            details => undef, preview => undef }) };
        return $st->('Request Moderated', undef, undef) if $prompt =~ /\[fault:reqmod\]/;
        return $st->('Pending', undef, 0.1 * $n) if $n <= 2 || ($prompt =~ /\[fault:never\]/ && !-e "$state/done.$id");
        return $st->('Content Moderated', undef, undef) if $prompt =~ /\[fault:moderated\]/;
        return $st->('Error', undef, undef) if $prompt =~ /\[fault:error\]/;
        my $file = $prompt =~ /\[fault:expired\]/ ? "/expired/$id.png" : "/files/bfl-$id.png";
        return $st->('Ready', { sample => file_base($prompt) . $file, prompt => $prompt, seed => 42,
                                start_time => 1795300000.1, end_time => 1795300004.2, duration => 4.1 }, undef);
    }
    if ($path =~ m{^/expired/}) {     # an Azure blob whose signed URL has expired
        record($r, {});
        my $res = HTTP::Response->new(403);
        $res->header('Content-Type' => 'application/xml');
        $res->content('<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
                      . '<Message>Server failed to authenticate the request. Signed expiry time has passed.</Message></Error>');
        return $c->send_response($res);
    }
    if ($path =~ m{^/v1/(flux-[\w.-]+)$} && $r->method eq 'POST') {
        my $model = $1;
        my $in = eval { $json->decode($r->content) } || {};
        if (defined $in->{input_image}) {
            my $v = $in->{input_image};
            $in->{_image} = $v =~ m{^https?://} ? describe_source($v)
                          : describe_source('data:application/octet-stream;base64,' . $v);
            $in->{_image}{via} = 'base64' if $v !~ m{^https?://};
            $in->{input_image} = '...' if $v !~ m{^https?://};
        }
        # FLUX Fill's image and mask, Kontext's input_image_2..4: base64 (or a URL).
        for my $k ('image', 'mask', map { "input_image_$_" } 2 .. 4) {
            my $v = $in->{$k};
            next unless defined $v && !ref $v;
            $in->{"_$k"} = $v =~ m{^https?://} ? describe_source($v)
                         : describe_source('data:application/octet-stream;base64,' . $v);
            $in->{$k} = '...' if $v !~ m{^https?://};
        }
        record($r, $in);
        return send_json($c, 403, { detail => 'Not authenticated' }) unless ($r->header('x-key') // '') eq $KEY;
        my $prompt = $in->{prompt} // '';
        submitted("bfl:$model", $prompt);
        return if common_fault($c, $prompt);
        return send_json($c, 422, { detail => [{ loc => ['body', 'prompt'], msg => 'Field required', type => 'missing' }] })
            unless length $prompt;
        return send_json($c, 422, { detail => [{ loc => ['body', 'mask'], msg => 'Mask dimensions must match the image', type => 'value_error' }] })
            if $in->{_mask} && (!$in->{_image} || $in->{_mask}{width} != $in->{_image}{width}
                                || $in->{_mask}{height} != $in->{_image}{height});
        return send_json($c, 422, { detail => [{ loc => ['body', 'width'], msg => 'Input should be a multiple of 32', type => 'multiple_of' }] })
            if defined $in->{width} && ($in->{width} % 32 || $in->{width} < 256 || $in->{width} > 1440
                                        || ($in->{height} // 0) % 32 || ($in->{height} // 0) < 256 || ($in->{height} // 0) > 1440);
        return send_json($c, 402, { detail => 'Insufficient credits. Please add credits to your account.' }) if $prompt =~ /\[fault:402\]/;
        return send_json($c, 429, { detail => 'You have exceeded the number of concurrent tasks (24).' }, 'Retry-After' => 1)
            if $prompt =~ /\[fault:429\]/;
        return send_json($c, 500, { detail => 'Internal Server Error' }) if $prompt =~ /\[fault:500\]/;
        my $id = sprintf '%08x-%04x-4%03x-8%03x-%06x%06x', int rand 2**32, int rand 2**16,
                         int rand 2**12, int rand 2**12, int rand 2**24, int rand 2**24;
        remember($id, $prompt);
        accepted("bfl:$model", $id, $prompt);
        my $poll = $prompt =~ /\[fault:pollhost\]/ ? "http://localhost:$port/v1/get_result?id=$id"
                 : api_base($prompt) . "/v1/get_result?id=$id";
        return send_json($c, 200, { id => $id, polling_url => $poll, cost => 4.0, input_mp => 0, output_mp => 1.05 });
    }

    # ---- a moderation endpoint (OpenAI's POST /v1/moderations shape) -------
    # The input's markers choose the answer: [mod:flag] flags violence,
    # [mod:sexual] sexual; [mod:500] an error, [mod:slow] 5 s late,
    # [mod:badjson] a 200 that is not JSON; anything else is not flagged.
    # A picture (omni-moderation's image_url parts) 13 pixels wide is
    # flagged sexual.
    if ($path eq '/v1/moderations' && $r->method eq 'POST') {
        my $in = eval { $json->decode($r->content) } || {};
        # A string, strings, or omni-moderation's parts: {type: text, text}
        # and {type: image_url, image_url: {url}} (decoded into images).
        my (@texts, @images);
        for my $x (ref $in->{input} eq 'ARRAY' ? @{ $in->{input} } : ($in->{input} // '')) {
            if (ref $x eq 'HASH') {
                push @texts, $x->{text} // '' if ($x->{type} // '') eq 'text';
                push @images, describe_source(ref $x->{image_url} eq 'HASH' ? $x->{image_url}{url} : undef) // {}
                    if ($x->{type} // '') eq 'image_url';
            }
            else { push @texts, $x }
        }
        my $text = join "\n", @texts;
        # As text: other tests read fields.input as Replicate's object.
        record($r, { text => $text, model => $in->{model}, @images ? (images => \@images) : () });
        return send_json($c, 401, { error => { message => 'Incorrect API key provided', type => 'invalid_request_error',
                                               param => undef, code => 'invalid_api_key' } })
            unless $auth eq "Bearer $KEY";
        return send_json($c, 400, { error => { message => "'input' is a required property", type => 'invalid_request_error',
                                               param => undef, code => undef } }) unless length $text || @images;
        sleep 5 if $text =~ /\[mod:slow\]/;
        return send_json($c, 500, { error => { message => 'The server had an error', type => 'server_error',
                                               param => undef, code => undef } }) if $text =~ /\[mod:500\]/;
        if ($text =~ /\[mod:badjson\]/) {
            my $res = HTTP::Response->new(200);
            $res->header('Content-Type' => 'application/json');
            $res->content('{"results": [');
            return $c->send_response($res);
        }
        my @names = qw(harassment harassment/threatening hate hate/threatening illicit illicit/violent self-harm
                       self-harm/instructions self-harm/intent sexual sexual/minors violence violence/graphic);
        # A picture 13 pixels wide is flagged sexual (a marker a picture can carry).
        my $pic_hit = grep { ($_->{width} // 0) == 13 } @images;
        my %hit = (violence => $text =~ /\[mod:flag\]/ ? 1 : 0,
                   sexual => ($text =~ /\[mod:sexual\]/ || $pic_hit) ? 1 : 0);
        my (%cats, %scores, %types);
        for my $n (@names) {
            $cats{$n} = $hit{$n} ? JSON::PP::true : JSON::PP::false;
            $scores{$n} = $hit{$n} ? 0.91 : 0.0004;
            $types{$n} = $n eq 'sexual' && $pic_hit ? ['image'] : ['text'];
        }
        my $flagged = grep { $_ } values %hit;
        return send_json($c, 200, { id => 'modr-' . sha1_hex($text . rand()), model => $in->{model} // 'omni-moderation-latest',
                                    results => [{ flagged => $flagged ? JSON::PP::true : JSON::PP::false,
                                                  categories => \%cats, category_scores => \%scores,
                                                  category_applied_input_types => \%types }] });
    }

    record($r, {});
    send_json($c, 404, { detail => 'Not Found' });
}

sub prediction {
    my ($id, $status, $prompt, $logs) = @_;
    return { id => $id, model => 'owner/model', version => 'v' x 64, input => { prompt => $prompt },
             logs => $logs // '', status => $status, created_at => '2026-11-22T16:19:34.765994Z',
             # num_outputs (the models that take it): as many URLs.
             output => $status eq 'succeeded'
                 ? [ map { file_base($prompt) . "/files/$id-$_.png" } 1 .. pictures_for(recall("n.$id") || 1, $prompt) ]
                 : undef,
             error => $status eq 'failed' ? 'CUDA out of memory' : undef,
             data_removed => JSON::PP::false, source => 'api',
             # Terminal predictions say how long they ran (what Replicate bills).
             ($status =~ /^(succeeded|failed|canceled)$/ ? (metrics => { predict_time => 2.5 }) : ()),
             urls => { get => api_base($prompt) . "/v1/predictions/$id",
                       cancel => api_base($prompt) . "/v1/predictions/$id/cancel" } };
}
