# SPDX-License-Identifier: Apache-2.0
# Uploads: POST /api/uploads (SetHandler genflow-uploads) verifies an image
# by decoding it, stores it through the results' storage, and answers a
# sourceImage reference that only its owner's creates accept; the local
# provider works on it, and the network providers receive it the way their
# protocols take a picture (the mock providers decode what arrived).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use Compress::Zlib ();
use Digest::SHA qw(sha1_hex);
use IO::Socket::INET;
use JSON::PP;
use LWP::UserAgent;
use MIME::Base64 qw(decode_base64 encode_base64);
use Time::HiRes qw(sleep);

plan tests => 102;

# A PNG made here: 8-bit RGB, a gradient (or noise, which does not
# compress), zlib and CRCs from Compress::Zlib.
sub png_bytes {
    my ($w, $h, %o) = @_;
    my $raw = '';
    for my $y (0 .. $h - 1) {
        $raw .= "\0";
        for my $x (0 .. $w - 1) {
            $raw .= $o{noise} ? pack('C3', map { int rand 256 } 1 .. 3)
                              : pack('C3', int($x * 255 / ($w > 1 ? $w - 1 : 1)),
                                     int($y * 255 / ($h > 1 ? $h - 1 : 1)), $o{blue} // 90);
        }
    }
    my $chunk = sub {
        my ($t, $d) = @_;
        return pack('N', length $d) . $t . $d . pack('N', Compress::Zlib::crc32($t . $d));
    };
    return "\x89PNG\r\n\x1a\n" . $chunk->('IHDR', pack('NNC5', $w, $h, 8, 2, 0, 0, 0))
         . $chunk->('IDAT', Compress::Zlib::compress($raw)) . $chunk->('IEND', '');
}

# 16 x 12 pictures made with libjpeg (quality 60) and libwebp (lossless).
my $JPEG = decode_base64(<<'B64');
/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4p
LSwzOko+MzZGNywtQFdBRkxOUlNSMj5aYVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09P
T09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT0//wAARCAAMABADASIA
AhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQA
AAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3
ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWm
p6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEA
AwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSEx
BhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElK
U1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3
uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDm4tO8
zb8mMVq2uldPlrZtbaLj5a17W2i4+WvOxeZVasnObu2LKcwkrH//2Q==
B64
my $WEBP = decode_base64('UklGRj4AAABXRUJQVlA4TDEAAAAvD8ACAM1kRP9jE1Hw/gcUtW0DBUT4w929/0AQBIKkM8T+Mjsc'
                         . 'E4ATEUtRbZxCWe0dAA==');
my $GIF = decode_base64('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==');

sub upload {
    my ($path, $user, $bytes, $ct) = @_;
    return api(POST => $path, user => $user, body => $bytes, content_type => $ct);
}
sub uploads_of { psql("SELECT count(*) FROM genflow_uploads WHERE user_id = '$_[0]'") }

my $alice = new_user('upalice');
my $bob = new_user('upbob');
api(GET => '/api/quota', user => $alice);
grant($alice, 100);   # a generation through every provider
my $png = png_bytes(64, 48);

# --- a PNG ------------------------------------------------------------------
my $res = upload('/api/uploads', $alice, $png, 'image/png');
is($res->code, 201, 'a PNG upload answers 201');
like($res->header('Content-Type') // '', qr{^application/json}, 'as JSON');
my $u = json_of($res) || {};
like($u->{uploadId} // '', qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
     'uploadId is a random (version 4) UUID');
is($u->{sourceImage}, "upload:$u->{uploadId}", 'sourceImage is upload:<id>');
is($u->{contentType}, 'image/png', 'contentType');
is("$u->{width}x$u->{height}", '64x48', 'width and height from the decoded picture');
is($u->{bytes}, length $png, 'bytes');
like($u->{createdAt} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'createdAt is RFC 3339');
like($u->{url} // '', qr{^/media/uploads/\Q$u->{uploadId}\E\.png$}, 'url: the storage URL, under uploads/');
is($res->header('Location'), $u->{url}, 'Location is the url');
is_deeply([sort keys %$u], [sort qw(uploadId sourceImage url contentType width height bytes createdAt)],
          'exactly the documented fields');
my $stored = LWP::UserAgent->new->get(base_url() . $u->{url});
ok($stored->is_success && $stored->content eq $png, 'the stored bytes are served back unchanged');
is(psql("SELECT user_id || '|' || storage || '|' || storage_key || '|' || content_type || '|' "
        . "|| width || '|' || height || '|' || bytes FROM genflow_uploads WHERE id = '$u->{uploadId}'"),
   "$alice|local|uploads/$u->{uploadId}.png|image/png|64|48|" . length($png), 'the row');

# --- JPEG and WebP; the stored type is the decoded one ----------------------
$res = upload('/api/uploads', $alice, $JPEG, 'image/jpeg');
my $uj = json_of($res) || {};
ok($res->code == 201 && $uj->{contentType} eq 'image/jpeg' && "$uj->{width}x$uj->{height}" eq '16x12',
   'a JPEG upload: 201, image/jpeg, 16x12');
like($uj->{url} // '', qr/\.jpg$/, 'stored as .jpg');
$res = upload('/api/uploads', $alice, $WEBP, 'image/webp');
my $uw = json_of($res) || {};
ok($res->code == 201 && $uw->{contentType} eq 'image/webp' && "$uw->{width}x$uw->{height}" eq '16x12',
   'a WebP upload: 201, image/webp, 16x12');
$res = upload('/api/uploads', $alice, $JPEG, 'image/png; charset=binary');
is((json_of($res) || {})->{contentType}, 'image/jpeg',
   'JPEG bytes sent as image/png are stored as image/jpeg: the bytes decide, not the header');
is(psql("SELECT content_type FROM genflow_uploads WHERE id = '" . (json_of($res) || {})->{uploadId} . "'"),
   'image/jpeg', 'in the row too');
is(uploads_of($alice), 4, 'four uploads, four rows');

# --- refusals: no row, ever --------------------------------------------------
my $before = uploads_of($alice);
$res = upload('/api/uploads', $alice, "just some text\n", 'text/plain');
ok(is_json_error($res, 415, 'UNSUPPORTED_MEDIA_TYPE'), 'text/plain: 415');
$res = upload('/api/uploads', $alice, $GIF, 'image/gif');
ok(is_json_error($res, 415, 'UNSUPPORTED_MEDIA_TYPE'), 'image/gif: 415');
$res = upload('/api/uploads', $alice, $GIF, 'image/png');
ok(is_json_error($res, 415, 'UNSUPPORTED_MEDIA_TYPE'), 'GIF bytes called image/png: 415 (not recognised)');
$res = upload('/api/uploads', $alice, "just some text\n", 'image/webp');
ok(is_json_error($res, 415, 'UNSUPPORTED_MEDIA_TYPE'), 'text called image/webp: 415');
$res = api(POST => '/api/uploads', user => $alice, body => $png, content_type => 'application/json');
ok(is_json_error($res, 415, 'UNSUPPORTED_MEDIA_TYPE'), 'a PNG sent as application/json: 415');
$res = upload('/api/uploads', $alice, substr($png, 0, length($png) - 30), 'image/png');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a truncated PNG: 400');
like((json_of($res) || {})->{error}{message} // '', qr/PNG/, 'saying the PNG is corrupt');
$res = upload('/api/uploads', $alice, substr($JPEG, 0, 300), 'image/jpeg');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a truncated JPEG: 400');
$res = upload('/api/uploads', $alice, substr($WEBP, 0, 40), 'image/webp');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a truncated WebP: 400');
my $bad = $png;
substr($bad, 60, 20) = 'x' x 20;      # inside the compressed pixels
$res = upload('/api/uploads', $alice, $bad, 'image/png');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a PNG with damaged pixel data: 400');
$res = upload('/api/uploads', $alice, '', 'image/png');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'an empty body: 400');
$res = api(GET => '/api/uploads', user => $alice);
ok(is_json_error($res, 405, 'METHOD_NOT_ALLOWED'), 'GET: 405');
is($res->header('Allow'), 'POST', 'Allow: POST');
$res = upload('/api/uploads', undef, $png, 'image/png');
ok(is_json_error($res, 401, 'UNAUTHORIZED'), "without credentials: httpd's 401, as JSON");
$res = upload('/open/uploads', undef, $png, 'image/png');
ok(is_json_error($res, 401, 'UNAUTHORIZED'), 'no authentication configured: the module answers 401');

# Too large (GenFlowUploadMaxBytes 2048 there): by Content-Length, and a
# chunked body while it is read.
my $noise = png_bytes(40, 40, noise => 1);
cmp_ok(length $noise, '>', 2048, 'a picture over 2048 bytes');
$res = upload('/small/uploads', $alice, $noise, 'image/png');
ok(is_json_error($res, 413, 'PAYLOAD_TOO_LARGE'), 'over GenFlowUploadMaxBytes by Content-Length: 413');
like((json_of($res) || {})->{error}{message} // '', qr/2048/, 'naming the limit');
$res = upload('/small/uploads', $alice, png_bytes(8, 8), 'image/png');
is($res->code, 201, 'a small picture passes there');
$before++;
{
    my ($host, $port) = split /:/, Apache::TestRequest::hostport(Apache::Test::config());
    local $SIG{PIPE} = 'IGNORE';
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 30) or die "connect: $!";
    my $auth = encode_base64("$alice:$alice", '');
    print $s "POST /small/uploads HTTP/1.1\r\nHost: $host:$port\r\nAuthorization: Basic $auth\r\n"
           . "Content-Type: image/png\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    for (my $i = 0; $i < length $noise; $i += 700) {
        my $c = substr($noise, $i, 700);
        printf $s "%x\r\n%s\r\n", length $c, $c;
    }
    print $s "0\r\n\r\n";
    my $answer = do { local $/; <$s> } // '';
    my ($status) = $answer =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $answer =~ /\r\n\r\n(.*)\z/s;
    is($status, 413, 'a chunked body over the limit: 413 while it is read');
    like($body // '', qr/"code":"PAYLOAD_TOO_LARGE"/, 'PAYLOAD_TOO_LARGE');
}
# Too many pixels (GenFlowUploadMaxPixels 100 there): 20 x 10 = 200.
$res = upload('/fewpixels/uploads', $alice, png_bytes(20, 10), 'image/png');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'more pixels than GenFlowUploadMaxPixels: 400');
like((json_of($res) || {})->{error}{message} // '', qr/20 x 10 = 200 pixels.*limit of 100/,
     'the message gives the size and the limit');
$res = upload('/fewpixels/uploads', $alice, $JPEG, 'image/jpeg');
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a JPEG too (16 x 12 = 192)');
$res = upload('/fewpixels/uploads', $alice, png_bytes(10, 10), 'image/png');
is($res->code, 201, 'exactly the limit passes');
$before++;
is(uploads_of($alice), $before, 'no row for any refusal');
my @files = glob(Apache::Test::vars('serverroot') . '/media/uploads/*');
is(scalar(@files), psql("SELECT count(*) FROM genflow_uploads WHERE storage = 'local'"),
   'one stored file per row: a refusal stores nothing');

# The metrics count uploads by their status.
my $metrics = api(GET => '/api/metrics', user => 'admin', password => 'admin')->decoded_content // '';
like($metrics, qr/^genflow_requests_total\{[^}]*endpoint="uploads"[^}]*status="201"[^}]*\} [1-9]/m,
     'genflow_requests_total counts uploads (endpoint="uploads")');

# --- sourceImage: upload:<id> of the same user only --------------------------
my $ref = $u->{sourceImage};
api(GET => '/api/quota', user => $bob);
my $bob_balance = psql("SELECT balance FROM genflow_accounts WHERE user_id = '$bob'");
$res = api(POST => '/api/emotion-mask/create', user => $bob, body => { sourceImage => $ref });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), "another user's upload is refused at create: 400");
my $msg_foreign = (json_of($res) || {})->{error}{message} // '';
like($msg_foreign, qr/sourceImage/, 'the message names sourceImage');
$res = api(POST => '/api/emotion-mask/create', user => $bob,
           body => { sourceImage => 'upload:00000000-0000-4000-8000-000000000000' });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'an unknown upload id: 400');
is((json_of($res) || {})->{error}{message}, $msg_foreign,
   'the same message whether the upload is missing or not yours (no existence leak)');
is(psql("SELECT count(*) FROM emotion_mask_media WHERE user_id = '$bob'"), 0, 'no generation row');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$bob'"), $bob_balance, 'no credit taken');
is(psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$bob' AND kind <> 'grant'"), 0,
   'nothing in the ledger but the starting grant');
my $carol = new_user('upcarol');
$res = api(POST => '/api/emotion-mask/create', user => $carol, body => { sourceImage => $ref });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), "a user's very first create with someone's upload: 400");
$res = api(POST => '/api/emotion-mask/create', user => $alice, body => { sourceImage => 'upload:nope' });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'upload:<not a uuid>: 400');
like((json_of($res) || {})->{error}{message} // '', qr/sourceImage/, 'naming sourceImage');
$res = api(POST => '/api/emotion-mask/create', user => $alice, body => { sourceImage => 'ftp://x/y.png' });
like((json_of($res) || {})->{error}{message} // '', qr/https URL or an upload reference/,
     'the message says what sourceImage accepts');
$res = api(POST => '/api/emotion-mask/create', user => $alice, body => { sourceImage => uc($ref) =~ s/^UPLOAD:/upload:/r });
is($res->code, 201, 'the owner may create with it (the id in any case)');
my $cid = (json_of($res) || {})->{generationId} // '';
is(psql("SELECT source_image FROM emotion_mask_media WHERE id = '$cid'"), $ref, 'stored as upload:<id>, lower case');
api(POST => "/api/emotion-mask/cancel/$cid", user => $alice);

# --- the local provider works on it -------------------------------------------
$res = api(POST => '/api/emotion-mask/generate', user => $alice, body => { sourceImage => $ref, parameters => { seed => 3 } },
           headers => { Prefer => 'wait=30' });
my $g = json_of($res) || {};
is($g->{status}, 'completed', 'the local provider completes a generation from an upload');
my $pic = LWP::UserAgent->new->get(base_url() . ($g->{imageUrl} // '/none'));
is(substr($pic->content, 1, 3), 'PNG', 'its picture is stored');
is(psql("SELECT string_agg(kind, ',' ORDER BY id) FROM genflow_ledger WHERE generation_id = '$g->{generationId}'"),
   'reserve,charge', 'charged once');
for my $x ([$uj, 'JPEG'], [$uw, 'WebP']) {
    $res = api(POST => '/api/ghibli-reaction/generate', user => $alice,
               body => { sourceImage => $x->[0]{sourceImage} }, headers => { Prefer => 'wait=30' });
    is((json_of($res) || {})->{status}, 'completed', "and from a $x->[1] upload");
}

# --- the network providers receive the picture --------------------------------
sub mock_log {
    my $r = LWP::UserAgent->new->get("$ENV{GENFLOW_MOCK_URL}/_log");
    return map { decode_json($_) } grep { length } split /\n/, $r->content;
}
sub sent_for {
    my ($marker) = @_;
    return grep {
        my $f = $_->{fields} || {};
        my $p = $f->{prompt} // (ref $f->{input} eq 'HASH' ? $f->{input}{prompt} : undef) // '';
        index($p, $marker) >= 0
    } mock_log();
}
sub wait_terminal {
    my ($id) = @_;
    for (1 .. 160) {
        my $st = psql("SELECT status FROM neo_glitch_media WHERE id = '$id'");
        return $st if $st =~ /^(completed|failed|cancelled)$/;
        sleep 0.25;
    }
    return psql("SELECT status FROM neo_glitch_media WHERE id = '$id'");
}
my $n = 0;
sub gen_with {
    my ($path, $up, %params) = @_;
    my $tag = 'up' . ++$n . "-$$";
    my $r = api(POST => "/api/$path/generate", user => $alice,
                body => { prompt => "a cat $tag", sourceImage => $up->{sourceImage},
                          parameters => { seed => 5, %params } },
                headers => { Prefer => 'wait=30' });
    return (json_of($r) || {}, $tag);
}
sub same_picture {
    my ($img, $bytes, $ctype, $w, $h) = @_;
    return $img && $img->{bytes} == length($bytes) && $img->{sha1} eq sha1_hex($bytes)
        && ($img->{content_type} // '') eq $ctype && $img->{width} == $w && $img->{height} == $h;
}

# Stability: image-to-image, the picture as the multipart "image" part.
($g, my $tag) = gen_with('stab', $u, strength => 0.35);
is($g->{status}, 'completed', 'stability: completed from an upload');
my ($req) = grep { $_->{method} eq 'POST' } sent_for($tag);
is($req->{path}, '/v2beta/stable-image/generate/sd3', 'core has no image input: the sd3 endpoint');
is($req->{fields}{mode}, 'image-to-image', 'mode=image-to-image');
is($req->{fields}{strength}, '0.35', 'strength from parameters.strength');
is($req->{fields}{model}, 'sd3.5-large', 'model sd3.5-large');
ok(!exists $req->{fields}{aspect_ratio}, 'no aspect_ratio (text-to-image only)');
is(($req->{fields}{_image} || {})->{via}, 'part', 'the image came as a multipart part');
ok(same_picture($req->{fields}{_image}, $png, 'image/png', 64, 48),
   'the part is the uploaded PNG, whole: its bytes, type and 64x48 size');
is(($req->{fields}{_image} || {})->{filename}, 'source.png', 'as a file part');
like($req->{headers}{'content-type'} // '', qr{^multipart/form-data; boundary=}, 'multipart/form-data');
is($g->{model}, 'sd3.5-large', 'the status names the model used');
($g, $tag) = gen_with('stab', $uj);
($req) = grep { $_->{method} eq 'POST' } sent_for($tag);
ok(same_picture($req->{fields}{_image}, $JPEG, 'image/jpeg', 16, 12), 'a JPEG upload goes as image/jpeg');
is($req->{fields}{strength}, '0.5', 'strength defaults to 0.5 (Stability requires one)');

# fal: a data: URI in image_url.
($g, $tag) = gen_with('fal', $uw, strength => 0.8);
is(wait_terminal($g->{generationId}), 'completed', 'fal: completed from an upload');
($req) = grep { $_->{method} eq 'POST' } sent_for($tag);
is(($req->{fields}{_image} || {})->{via}, 'data', 'fal: image_url is a data: URI');
ok(same_picture($req->{fields}{_image}, $WEBP, 'image/webp', 16, 12),
   'that decodes to the uploaded WebP, 16x12');
is($req->{fields}{strength}, 0.8, 'fal: strength');

# Replicate: a data: URI in input.image.
($g, $tag) = gen_with('rep', $uj);
is($g->{status}, 'completed', 'replicate: completed from an upload');
($req) = grep { $_->{method} eq 'POST' } sent_for($tag);
is(($req->{fields}{_image} || {})->{via}, 'data', 'replicate: input.image is a data: URI');
ok(same_picture($req->{fields}{_image}, $JPEG, 'image/jpeg', 16, 12), 'of the uploaded JPEG');
ok(!exists $req->{fields}{input}{prompt_strength}, 'no prompt_strength when none was given');

# AIML: no https URL for a local upload, so the data: URI.
($g, $tag) = gen_with('aiml', $u, strength => 0.6);
is($g->{status}, 'completed', 'aiml: completed from an upload');
($req) = grep { $_->{method} eq 'POST' } sent_for($tag);
ok(same_picture($req->{fields}{_image}, $png, 'image/png', 64, 48), 'aiml: image_url is the PNG as a data: URI');

# A URL source still goes as the URL.
$tag = 'url' . $$;
$res = api(POST => '/api/aiml/generate', user => $alice, headers => { Prefer => 'wait=30' },
           body => { prompt => "a dog $tag", sourceImage => 'https://images.example/dog.png' });
($req) = grep { $_->{method} eq 'POST' } sent_for($tag);
is(($req->{fields}{_image} || {})->{url}, 'https://images.example/dog.png', 'an https source is sent as is');

# An upload that disappeared: the generation fails (refunded), nothing is sent.
$res = upload('/api/uploads', $alice, png_bytes(12, 12), 'image/png');
my $gone = json_of($res) || {};
$res = api(POST => '/api/stab/create', user => $alice, body => { prompt => "gone $$", sourceImage => $gone->{sourceImage} });
my $gid = (json_of($res) || {})->{generationId};
psql("DELETE FROM genflow_uploads WHERE id = '$gone->{uploadId}'");
$res = api(POST => '/api/stab/generate', user => $alice, body => { generationId => $gid }, headers => { Prefer => 'wait=30' });
$g = json_of($res) || {};
is($g->{status}, 'failed', 'a deleted upload fails the generation');
is(($g->{error} || {})->{code}, 'STORAGE_ERROR', 'STORAGE_ERROR');
is(psql("SELECT string_agg(kind, ',' ORDER BY id) FROM genflow_ledger WHERE generation_id = '$gid'"),
   'reserve,refund', 'refunded');
is(scalar(grep { ($_->{fields}{prompt} // '') =~ /gone $$/ } mock_log()), 0, 'no provider was asked');

# --- Cloudinary: uploads stored there, read back from its delivery origin -----
# A second httpd on the same database, with a type of its own (as
# t/14_storage.t), so its workers never take the main server's rows.
{
    ok(defined psql("SELECT genflow_create_type_table('upload-art', 'upload_art_media')"),
       'a site-defined type for the Cloudinary server');
    use File::Temp qw(tempdir);
    my $tmp = tempdir(CLEANUP => 1);
    chmod 0755, $tmp;
    my $root = Apache::Test::vars('serverroot');
    my $port = free_port();
    my $mock = $ENV{GENFLOW_MOCK_URL};
    own_httpd_conf($tmp, $port, <<"BODY", qw(authz_user authn_core authn_file auth_basic alias));
GenFlowCloudinary cloud=demo api_key=cloud-api-key secret_env=GENFLOW_MOCK_CLOUD_SECRET base_url=$mock insecure_loopback=on folder=gf
GenFlowProvider fal fal base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=2000
GenFlowProvider stab stability base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=2000
<Location /api>
    AuthType Basic
    AuthName "c"
    AuthBasicProvider file
    AuthUserFile "$root/conf/htpasswd"
    Require valid-user
    GenFlowWait 30
</Location>
<Location /api/uploads>
    SetHandler genflow-uploads
</Location>
<Location /api/stab>
    GenFlowType upload-art
    GenFlowProviders stab
</Location>
<Location /api/fal>
    GenFlowType upload-art
    GenFlowProviders fal:fal-ai/flux/dev
</Location>
BODY
    ok(system("/usr/sbin/apache2 -f '$tmp/httpd.conf' -k start") == 0, 'a server with Cloudinary started');
    for (1 .. 50) { last if -s "$tmp/httpd.pid"; sleep 0.1 }
    my $ua = LWP::UserAgent->new(timeout => 60);
    my $b = "http://127.0.0.1:$port";
    my $post = sub {
        my ($path, $ct, $body, %h) = @_;
        my $r = HTTP::Request->new(POST => "$b$path");
        $r->authorization_basic($alice, $alice);
        $r->header('Content-Type' => $ct, %h);
        $r->content($body);
        return $ua->request($r);
    };
    my $r = $post->('/api/uploads', 'image/png', $png);
    my $cu = eval { decode_json($r->content) } || {};
    is($r->code, 201, 'upload to Cloudinary: 201');
    like($cu->{url} // '', qr{^\Q$mock\E/res/demo/image/upload/v\d+/gf/uploads/\Q$cu->{uploadId}\E\.png$},
         'url is the secure_url');
    is(psql("SELECT storage FROM genflow_uploads WHERE id = '" . ($cu->{uploadId} // '') . "'"), 'cloudinary',
       'the row says cloudinary');
    my $t1 = "cloud-stab-$$";
    $r = $post->('/api/stab/generate', 'application/json',
                 encode_json({ prompt => "a cat $t1", sourceImage => $cu->{sourceImage} }), Prefer => 'wait=30');
    is((eval { decode_json($r->content) } || {})->{status}, 'completed', 'stability from a Cloudinary upload');
    ($req) = grep { $_->{method} eq 'POST' } sent_for($t1);
    ok(same_picture($req->{fields}{_image}, $png, 'image/png', 64, 48),
       'the bytes were read back from Cloudinary and sent whole as the image part');
    my $t2 = "cloud-fal-$$";
    $r = $post->('/api/fal/generate', 'application/json',
                 encode_json({ prompt => "a cat $t2", sourceImage => $cu->{sourceImage} }), Prefer => 'wait=0');
    my $fid = (eval { decode_json($r->content) } || {})->{generationId} // '';
    my $st = '';
    for (1 .. 160) {
        $st = psql("SELECT status FROM upload_art_media WHERE id = '$fid'");
        last if $st =~ /^(completed|failed|cancelled)$/;
        sleep 0.25;
    }
    is($st, 'completed', 'fal from a Cloudinary upload');
    ($req) = grep { $_->{method} eq 'POST' } sent_for($t2);
    # A real secure_url is https and goes as the URL (tests/unit); the
    # mock's is http on loopback, which no provider could fetch: inline.
    ok(same_picture($req->{fields}{_image}, $png, 'image/png', 64, 48),
       'fal gets the picture read back from Cloudinary');
    system("/usr/sbin/apache2 -f '$tmp/httpd.conf' -k stop");
}
