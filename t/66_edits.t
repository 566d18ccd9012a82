# SPDX-License-Identifier: Apache-2.0
# Edits: a mask and reference pictures. A type takes them only where
# GenFlowAccept says so (GenFlowMaxReferences bounds the references); they
# are the caller's uploads, and the mask a PNG the size of its source
# upload, all checked before anything is reserved (400 naming the field).
# One mask convention comes in (transparent marks what to change; a mask
# with no transparency, its white) and each provider gets its own, as
# the mocks decode it: transparent for OpenAI's edits, white for
# Stability's inpaint and FLUX Fill; reference pictures follow the
# source in OpenAI's images, Kontext's input_image_2.., and Gemini's
# inlineData parts. A chain whose provider cannot take what the type
# accepts stops startup.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use GenFlowPNG qw(png_make png_stats png_pixel);
use Digest::SHA qw(sha1_hex);
use File::Temp qw(tempdir);
use JSON::PP;
use LWP::UserAgent;
use MIME::Base64 qw(decode_base64);

plan tests => 90;

my $u = new_user('edit');
my $other = new_user('editother');
api(GET => '/api/quota', user => $_) for $u, $other;
grant($u, 100);
my $n = 0;

sub balance { psql("SELECT balance FROM genflow_accounts WHERE user_id = '$u'") }
sub upload {
    my ($bytes, $user) = @_;
    my $res = api(POST => '/api/uploads', user => $user // $u, body => $bytes, content_type => 'image/png');
    my $j = json_of($res) || {};
    return $j->{sourceImage} // die 'upload failed: ' . $res->status_line . ' ' . $res->content;
}
sub mock_log {
    my $r = LWP::UserAgent->new->get("$ENV{GENFLOW_MOCK_URL}/_log");
    return map { decode_json($_) } grep { length } split /\n/, $r->content;
}
# The requests the mock got whose prompt (any of the protocols' places
# for it) holds tag.
sub sent_for {
    my ($tag) = @_;
    return grep {
        my $f = $_->{fields} || {};
        my $p = $f->{prompt} // $f->{_prompt} // '';
        index($p, $tag) >= 0
    } mock_log();
}
sub generate {
    my ($path, $body, %o) = @_;
    my $tag = 'e' . ++$n . "-$$";
    my $res = api(POST => "/api/$path/generate", user => $o{user} // $u,
                  body => { prompt => "edit $tag", %$body }, headers => { Prefer => 'wait=30' });
    return ($res, $tag);
}
sub wait_done {
    my ($id) = @_;
    for (1 .. 120) {
        my $st = psql("SELECT status FROM neo_glitch_media WHERE id = '$id'");
        return $st if $st =~ /^(completed|failed|cancelled)$/;
        select undef, undef, undef, 0.25;
    }
    return 'timeout';
}

# ---- the pictures --------------------------------------------------------------
my $W = 64;
my $H = 48;
my $half = $W * $H / 2;
my $source_png = png_make($W, $H, 2, sub { ($_[0] * 4, $_[1] * 5, 90) });
# Transparent on the left half: change there.
my $clear_mask = png_make($W, $H, 6, sub { (0, 0, 0, $_[0] < $W / 2 ? 0 : 255) });
# No transparency: white on the top half marks the change.
my $white_mask = png_make($W, $H, 0, sub { $_[1] < $H / 2 ? 255 : 0 });
# Opaque and black: marks nothing.
my $empty_mask = png_make($W, $H, 6, sub { (0, 0, 0, 255) });
my $small_mask = png_make(32, 32, 6, sub { (0, 0, 0, 0) });
my @ref_png = map { my $k = $_; png_make(16, 16, 2, sub { (40 * $k, 200 - 30 * $k, $_[0] * 8) }) } 1 .. 4;
# 16 x 12, made with libjpeg (as t/24_uploads.t's).
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

my $source = upload($source_png);
my $clear = upload($clear_mask);
my $white = upload($white_mask);
my $empty = upload($empty_mask);
my $small = upload($small_mask);
my @refs = map { upload($_) } @ref_png;
my $jpeg_res = api(POST => '/api/uploads', user => $u, body => $JPEG, content_type => 'image/jpeg');
my $jpeg = (json_of($jpeg_res) || {})->{sourceImage};
ok(defined $jpeg, 'a JPEG upload (for a mask that is not a PNG)') or diag $jpeg_res->content;
my $theirs = upload($clear_mask, $other);
my $sha = sub { sha1_hex($_[0]) };

# ---- refused before anything is reserved ----------------------------------------
my $before = balance();
my $rows_before = psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$u'");
my @refusals = (
    ['neo-glitch', { sourceImage => $source, mask => $clear }, qr/^mask: this type takes no mask/,
     'a type without GenFlowAccept takes no mask'],
    ['neo-glitch', { referenceImages => [$refs[0]] }, qr/^referenceImages: this type takes no reference/,
     '… nor reference pictures'],
    ['edit-stab', { referenceImages => [$refs[0]] }, qr/^referenceImages: this type takes no reference/,
     'a type that accepts only a mask takes no references'],
    ['edit-oai', { mask => $clear }, qr/^mask: a mask marks what to change in a sourceImage/,
     'a mask without a source'],
    ['edit-oai', { sourceImage => 'https://example.com/a.png', mask => $clear },
     qr/^mask: a mask marks what to change in a sourceImage that is an upload/, 'a mask over a URL source'],
    ['edit-oai', { sourceImage => $source, mask => 'https://example.com/m.png' },
     qr/^mask: a URL is taken only from the origins this API allows \(GenFlowPictureOrigins\)/,
     'a mask given as a URL where no picture origin is allowed'],
    ['edit-local', { sourceImage => $source, mask => 'https://example.com/m.png' },
     qr/^mask: a URL is taken only from the origins/, 'a mask URL on an origin that is not allowed'],
    ['edit-local', { referenceImages => [$refs[0], "$ENV{GENFLOW_MOCK_URL}/pictures/missing.png"] },
     qr/^referenceImages\[1\]: the picture at the URL could not be fetched \(HTTP 404\)/,
     'a reference URL that answers 404'],
    ['edit-local', { referenceImages => ["$ENV{GENFLOW_MOCK_URL}/pictures/notpng.png"] },
     qr/^referenceImages\[0\]: the URL is not a PNG, JPEG or WebP picture/, 'a reference URL that is no picture'],
    ['edit-local', { sourceImage => "$ENV{GENFLOW_MOCK_URL}/pictures/64x48-rgb.png",
                     mask => "$ENV{GENFLOW_MOCK_URL}/pictures/32x32-clearleft.png" },
     qr/^mask is 32x32: it must be the size of sourceImage, 64x48/, 'URLs: a mask of another size than its source'],
    ['edit-oai', { sourceImage => $source, mask => 'upload:nope' }, qr/^mask: 'upload:…' must be followed/,
     'a mask reference that is no uuid'],
    ['edit-oai', { referenceImages => $refs[0] }, qr/^referenceImages must be an array/, 'references not an array'],
    ['edit-oai', { referenceImages => [] }, qr/^referenceImages must hold 1 to 16/, 'no references'],
    ['edit-oai', { referenceImages => [($refs[0]) x 17] }, qr/^referenceImages must hold 1 to 16/, '17 references'],
    ['edit-oai', { referenceImages => [$refs[0], $refs[0]] }, qr/^referenceImages\[1\] repeats referenceImages\[0\]/,
     'a reference twice'],
    ['edit-oai', { referenceImages => [$refs[0], 7] }, qr/^referenceImages\[1\] must be an upload reference/,
     'a reference that is not a string'],
    ['edit-oai', { referenceImages => [@refs] }, qr/^referenceImages: this type takes at most 3 \(GenFlowMaxReferences\)/,
     'more references than the type takes'],
    ['edit-oai', { sourceImage => $source, mask => $small }, qr/^mask is 32x32: it must be the size of sourceImage, 64x48/,
     'a mask of another size'],
    ['edit-oai', { sourceImage => $source, mask => $jpeg }, qr{^mask must be a PNG \(this upload is image/jpeg\)},
     'a mask that is not a PNG'],
    ['edit-oai', { sourceImage => $source, mask => $theirs }, qr/^mask: no upload of yours has this id/,
     'another user\'s upload as the mask'],
    ['edit-oai', { referenceImages => [$refs[0], $theirs] }, qr/^referenceImages\[1\]: no upload of yours has this id/,
     'another user\'s upload as a reference'],
    ['edit-oai', { sourceImage => $theirs, mask => $clear }, qr/^sourceImage: no upload of yours has this id/,
     'another user\'s upload as the source of an edit'],
);
for my $c (@refusals) {
    my ($res) = generate($c->[0], $c->[1]);
    my $j = json_of($res) || {};
    ok($res->code == 400 && ($j->{error}{code} // '') eq 'VALIDATION_ERROR' && ($j->{error}{message} // '') =~ $c->[2],
       "400: $c->[3]") or diag $res->code . ' ' . $res->content;
}
is(balance(), $before, 'nothing was reserved by any of them');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE user_id = '$u'"), $rows_before, 'and no generation was made');

# ---- OpenAI: the edits endpoint, the mask transparent where to change -----------
my ($res, $tag) = generate('edit-oai', { sourceImage => $source, mask => $clear,
                                         referenceImages => [$refs[0], $refs[1]] });
my $g = json_of($res) || {};
is($g->{status}, 'completed', 'openai: an edit with a mask and two references completes') or diag $res->content;
my ($call) = grep { $_->{path} eq '/openai/v1/images/edits' } sent_for($tag);
ok($call, 'openai: POST /images/edits');
my @imgs = @{ $call->{fields}{images} || [] };
is(scalar @imgs, 3, 'openai: images holds the source and the two references');
is_deeply([map { $_->{_image}{sha1} // '' } @imgs], [map { $sha->($_) } $source_png, @ref_png[0, 1]],
          'openai: the source first, then the references, in order, whole');
my $m = $call->{fields}{mask}{_image} || {};
is($m->{format}, 'png', 'openai: the mask is a PNG data: URL');
is("$m->{width}x$m->{height}", "${W}x$H", 'openai: the size of the source');
is($m->{png}{clear}, $half, 'openai: transparent exactly on the half to change');
is($m->{png}{color_type}, 6, 'openai: with an alpha channel');
is(psql("SELECT input->>'mask' || ' ' || (input->'referenceImages')::text FROM neo_glitch_media WHERE id = '$g->{generationId}'"),
   "$clear [\"$refs[0]\", \"$refs[1]\"]", 'the stored input keeps the mask and the references');
is(ledger_of($g->{generationId}), 'reserve:-1,charge:0', 'charged once');

($res, $tag) = generate('edit-oai', { sourceImage => $source, mask => $white });
is((json_of($res) || {})->{status}, 'completed', 'openai: a white-on-black mask');
($call) = grep { $_->{path} eq '/openai/v1/images/edits' } sent_for($tag);
$m = $call->{fields}{mask}{_image}{png} || {};
is($m->{clear}, $half, 'openai: its white half became the transparent half');
is($m->{pixels} - $m->{clear}, $half, 'openai: and the black half opaque');

($res, $tag) = generate('edit-oai', { referenceImages => [$refs[2]] });
is((json_of($res) || {})->{status}, 'completed', 'openai: references without a source');
($call) = grep { $_->{path} =~ m{^/openai/v1/images/} } sent_for($tag);
is($call->{path}, '/openai/v1/images/edits', 'openai: that is an edit too');
is_deeply([map { $_->{_image}{sha1} } @{ $call->{fields}{images} || [] }], [$sha->($ref_png[2])],
          'openai: its one picture, the reference');
ok(!exists $call->{fields}{mask}, 'openai: no mask');

# ---- Stability: inpaint, white where to paint ------------------------------------
($res, $tag) = generate('edit-stab', { sourceImage => $source, mask => $clear });
$g = json_of($res) || {};
is($g->{status}, 'completed', 'stability: an inpaint completes') or diag $res->content;
is($g->{model}, 'inpaint', 'stability: the model is inpaint');
($call) = sent_for($tag);
is($call->{path}, '/v2beta/stable-image/edit/inpaint', 'stability: POST /v2beta/stable-image/edit/inpaint');
is($call->{fields}{_image}{sha1}, $sha->($source_png), 'stability: the source as the image part');
is($call->{fields}{_mask}{png}{white}, $half, 'stability: the mask white on the half to change');
is($call->{fields}{_mask}{png}{color_type}, 0, 'stability: a greyscale mask');
is($call->{fields}{_mask}{png}{clear}, 0, 'stability: with no transparency');

($res, $tag) = generate('edit-stab', { sourceImage => $source, mask => $white });
($call) = sent_for($tag);
is($call->{fields}{_mask}{png}{white}, $half, 'stability: a white mask stays white where it was');
($res, $tag) = generate('edit-stab', { sourceImage => $source });
($call) = sent_for($tag);
like($call->{path} // '', qr{^/v2beta/stable-image/generate/}, 'stability: without a mask, generate as before');

# ---- BFL: FLUX Fill with a mask, Kontext's input_image_N for references ---------------
($res, $tag) = generate('edit-bfl', { sourceImage => $source, mask => $clear });
$g = json_of($res) || {};
is(wait_done($g->{generationId}), 'completed', 'bfl: a fill completes') or diag $res->content;
($call) = grep { $_->{method} eq 'POST' } sent_for($tag);
is($call->{path}, '/v1/flux-pro-1.0-fill', 'bfl: to FLUX Fill');
is($call->{fields}{_image}{sha1}, $sha->($source_png), 'bfl: image, the source in base64');
is($call->{fields}{_mask}{png}{white}, $half, 'bfl: mask, white on the half to change');
ok(!exists $call->{fields}{width} && !exists $call->{fields}{input_image}, 'bfl: no size, no input_image');
is(psql("SELECT model FROM neo_glitch_media WHERE id = '$g->{generationId}'"), 'flux-pro-1.0-fill',
   'bfl: the row names the fill model');

($res, $tag) = generate('edit-bfl', { sourceImage => $source, referenceImages => [@refs[0 .. 2]] });
$g = json_of($res) || {};
is(wait_done($g->{generationId}), 'completed', 'bfl: an edit with three references completes');
($call) = grep { $_->{method} eq 'POST' } sent_for($tag);
is($call->{path}, '/v1/flux-kontext-pro', 'bfl: to the chain\'s model');
is($call->{fields}{_image}{sha1}, $sha->($source_png), 'bfl: input_image, the source');
is_deeply([map { $call->{fields}{"_input_image_$_"}{sha1} // '' } 2 .. 4], [map { $sha->($_) } @ref_png[0 .. 2]],
          'bfl: input_image_2..4, the references in order');

# ---- Gemini: inlineData parts after the text ---------------------------------------
($res, $tag) = generate('edit-gem', { sourceImage => $source, referenceImages => [@refs[0, 1]] });
is((json_of($res) || {})->{status}, 'completed', 'gemini: an edit with two references completes')
    or diag $res->content;
($call) = sent_for($tag);
my @parts = map { @{ $_->{parts} || [] } } @{ $call->{fields}{contents} || [] };
like($parts[0]{text} // '', qr/\Q$tag\E/, 'gemini: the text first');
is_deeply([map { $_->{inlineData}{_image}{sha1} // '' } @parts[1 .. $#parts]],
          [map { $sha->($_) } $source_png, @ref_png[0, 1]], 'gemini: then the source and the references as inlineData');

# ---- local: the source kept outside the mask, the references along the bottom -------
{
    ($res, $tag) = generate('edit-local', { sourceImage => $source, mask => $clear,
                                            referenceImages => [@refs[0, 1]] });
    $g = json_of($res) || {};
    is($g->{status}, 'completed', 'local: an edit completes') or diag $res->content;
    my $pic = LWP::UserAgent->new->get(base_url() . ($g->{imageUrl} // '/none'))->content;
    my $st = png_stats($pic) || {};
    my ($pw, $ph) = ($st->{width} // 0, $st->{height} // 0);
    # The right half is kept: the source stretched, its blue exactly 90.
    my @kept = map { [png_pixel($pic, int($pw * $_ / 8), int($ph / 3))] } 5 .. 7;
    is(join(',', map { $_->[2] // '-' } @kept), '90,90,90', 'local: the source where the mask keeps it');
    my @drawn = map { [png_pixel($pic, int($pw * $_ / 8), int($ph / 3))] } 0 .. 2;
    ok((grep { ($_->[2] // 90) != 90 } @drawn) >= 2, 'local: drawn where the mask says change');
    my $cell = int($ph / 6);
    my @frame = png_pixel($pic, 2, $ph - $cell - 2);
    is(join(',', @frame), '255,255,255', 'local: a reference\'s white frame along the bottom');
    my @in1 = png_pixel($pic, 2 + int($cell / 2), $ph - int($cell / 2) - 2);
    my @in2 = png_pixel($pic, 2 + $cell + 2 + int($cell / 2), $ph - int($cell / 2) - 2);
    is(join(',', @in1[0, 1], @in2[0, 1]), '40,170,80,140', 'local: the two references, in order');
}

# ---- URLs on the location's GenFlowPictureOrigins: fetched, kept as uploads ----------
{
    my $m = $ENV{GENFLOW_MOCK_URL};
    my $uploads = psql("SELECT count(*) FROM genflow_uploads WHERE user_id = '$u'");
    ($res, $tag) = generate('edit-local', { sourceImage => "$m/pictures/64x48-rgb.png",
                                            mask => "$m/pictures/64x48-clearleft.png",
                                            referenceImages => ["$m/pictures/16x16-rgb.png"] });
    $g = json_of($res) || {};
    is($g->{status}, 'completed', 'URLs: an edit of three pictures fetched from the allowed origin')
        or diag $res->content;
    is(psql("SELECT count(*) FROM genflow_uploads WHERE user_id = '$u'"), $uploads + 3,
       'URLs: each kept as an upload of the caller');
    my $in = decode_json(psql("SELECT input FROM neo_glitch_media WHERE id = '$g->{generationId}'") || '{}');
    ok(($in->{sourceImage} // '') =~ /^upload:/ && ($in->{mask} // '') =~ /^upload:/
       && ($in->{referenceImages}[0] // '') =~ /^upload:/, 'URLs: the stored input names the uploads')
        or diag explain $in;
    my $pic = LWP::UserAgent->new->get(base_url() . ($g->{imageUrl} // '/none'))->content;
    my $st = png_stats($pic) || {};
    is((png_pixel($pic, int(($st->{width} // 8) * 7 / 8), int(($st->{height} // 3) / 3)))[2], 90,
       'URLs: the fetched source is kept where the fetched mask keeps it');
}

# ---- a mask that marks nothing fails, refunded, no provider asked ------------------
$before = balance();
($res, $tag) = generate('edit-oai', { sourceImage => $source, mask => $empty });
$g = json_of($res) || {};
is($g->{status}, 'failed', 'a mask that marks nothing: the generation fails');
is($g->{error}{code}, 'VALIDATION_ERROR', 'VALIDATION_ERROR');
like($g->{error}{message} // '', qr/the mask marks nothing to change/, 'saying why');
is(scalar(sent_for($tag)), 0, 'no provider was asked');
is(ledger_of($g->{generationId}), 'reserve:-1,refund:1', 'refunded whole');
is(balance(), $before, 'the balance is back');

# A retry makes a new generation with the same input: the same mask.
$res = api(POST => "/api/edit-oai/retry/$g->{generationId}", user => $u, headers => { Prefer => 'wait=30' });
my $again = json_of($res) || {};
is(psql("SELECT input->>'mask' FROM neo_glitch_media WHERE id = '$again->{generationId}'"), $empty,
   'a retry keeps the mask');

# ---- discovery says what each type takes ------------------------------------------
my $types = (json_of(api(GET => '/api/types', user => $u)) || {})->{types} || [];
my ($oai) = grep { $_->{base} eq '/api/edit-oai' } @$types;
my ($plain) = grep { $_->{base} eq '/api/neo-glitch' } @$types;
ok($oai && (grep { $_ eq 'mask' } @{ $oai->{fields} }) && (grep { $_ eq 'referenceImages' } @{ $oai->{fields} }),
   'discovery: edit-oai lists mask and referenceImages');
is($oai->{maxReferences}, 3, 'discovery: and its maxReferences');
ok($plain && !(grep { $_ eq 'mask' || $_ eq 'referenceImages' } @{ $plain->{fields} })
   && !exists $plain->{maxReferences}, 'discovery: neo-glitch lists neither');

# ---- a chain that cannot take the type's edits stops startup --------------------------
my $dir = tempdir(CLEANUP => 1);
sub syntax_check {
    my ($loc, $server) = @_;
    my $file = own_httpd_conf($dir, free_port(), <<"BODY");
GenFlowStorageDir "$dir"
GenFlowStorageURL /media
$server
<Location /api/x>
    GenFlowType neo-glitch
$loc
</Location>
BODY
    my $out = `/usr/sbin/apache2 -t -f '$file' 2>&1`;
    return ($? == 0, $out);
}
my ($ok, $out) = syntax_check("GenFlowProviders a\nGenFlowAccept mask", 'GenFlowProvider a aiml key_env=HOME');
ok(!$ok && $out =~ /GF1013.*type neo-glitch: GenFlowAccept: provider 'a' \(aiml\) takes no mask/,
   'startup: a mask on a chain with aiml is refused') or diag $out;
($ok, $out) = syntax_check("GenFlowProviders a", "GenFlowProvider a aiml key_env=HOME\n"
                           . "<Location /api>\n    GenFlowAccept mask\n</Location>");
ok(!$ok && $out =~ /GF1013.*provider 'a' \(aiml\) takes no mask/,
   'startup: GenFlowAccept in a parent <Location /api> is checked against the type\'s chain too') or diag $out;
($ok, $out) = syntax_check("GenFlowProviders b\nGenFlowAccept referenceImages",
                           "GenFlowProvider b bfl key_env=HOME\n<Location /api>\n    GenFlowMaxReferences 5\n</Location>");
ok(!$ok && $out =~ /provider 'b' \(bfl\) takes 3 reference pictures at most, and GenFlowMaxReferences is 5/,
   'startup: GenFlowMaxReferences in a parent section too') or diag $out;
($ok, $out) = syntax_check("GenFlowProviders b\nGenFlowAccept referenceImages\nGenFlowMaxReferences 4",
                           'GenFlowProvider b bfl key_env=HOME');
ok(!$ok && $out =~ /provider 'b' \(bfl\) takes 3 reference pictures at most, and GenFlowMaxReferences is 4/,
   'startup: more references than a provider takes is refused') or diag $out;
($ok, $out) = syntax_check("GenFlowProviders b\nGenFlowAccept mask referenceImages\nGenFlowMaxReferences 3",
                           'GenFlowProvider b bfl key_env=HOME');
ok($ok, 'startup: what bfl takes passes') or diag $out;
($ok, $out) = syntax_check("GenFlowProviders local\nGenFlowAccept mask referenceImages\nGenFlowMaxReferences 16", '');
ok($ok, 'startup: local takes a mask and 16 references') or diag $out;
($ok, $out) = syntax_check("GenFlowProviders local\nGenFlowAccept masks", '');
ok(!$ok && $out =~ /unknown input 'masks' \(mask, referenceImages or none\)/, 'GenFlowAccept: an unknown word')
    or diag $out;
