# SPDX-License-Identifier: Apache-2.0
# The direct model APIs over libcurl against the mock providers (written
# from OpenAI's OpenAPI document and recorded exchanges, Google's protocol
# definitions and recordings, BFL's OpenAPI document): the requests the
# module sends, its reading of each answer, and each provider's faults.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use Compress::Zlib ();
use Digest::SHA qw(sha1_hex);
use File::Temp qw(tempdir);
use JSON::PP;
use LWP::UserAgent;
use Time::HiRes qw(sleep time);

plan tests => 118;

my $u = new_user('direct');
api(GET => '/api/quota', user => $u);
grant($u, 500);
my $KEY = $ENV{GENFLOW_MOCK_KEY};
my $n = 0;

# The foreign host: the same mock script on its own port and journal.
my $fport = free_port();
my $fstate = tempdir(CLEANUP => 1);
my $fpid = fork // die "fork: $!";
if (!$fpid) {
    open STDOUT, '>', "$fstate/out" or die;
    exec $^X, "$FindBin::Bin/mock/providers.pl", $fport, "$fstate/state" or die "exec: $!";
}
for (1 .. 50) { last if -s "$fstate/out"; sleep 0.1 }
END { kill 'TERM', $fpid if $fpid }
sub foreign_log {
    my $res = LWP::UserAgent->new(timeout => 10)->get("http://127.0.0.1:$fport/_log");
    return map { decode_json($_) } grep { length } split /\n/, $res->content;
}

sub mock_log {
    my $res = LWP::UserAgent->new->get("$ENV{GENFLOW_MOCK_URL}/_log");
    return map { decode_json($_) } grep { length } split /\n/, $res->content;
}
# The requests the mock got whose prompt (wherever the protocol puts it)
# carries the marker.
sub sent_for {
    my ($marker) = @_;
    return grep {
        my $f = $_->{fields} || {};
        my $p = $f->{_prompt} // $f->{prompt} // '';
        index($p, $marker) >= 0
    } mock_log();
}
sub gen {
    my ($path, $prompt, %o) = @_;
    my $tag = 'd' . ++$n . '-' . $$;
    my $res = api(POST => "/api/$path/generate", user => $u,
                  body => { prompt => "$prompt $tag", parameters => { seed => 77 }, %{ $o{body} || {} } },
                  headers => { Prefer => 'wait=' . ($o{wait} // 30) });
    return (json_of($res) || {}, $tag, $res);
}
sub ledger {
    my ($id) = @_;
    return psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
                . "WHERE generation_id = '$id'");
}
sub row { my ($id, $col) = @_; psql("SELECT $col FROM neo_glitch_media WHERE id = '$id'") }
sub wait_terminal {
    my ($id) = @_;
    for (1 .. 200) {
        my $st = row($id, 'status');
        return $st if $st =~ /^(completed|failed|cancelled)$/;
        sleep 0.1;
    }
    return row($id, 'status');
}
sub stored_png {
    my ($g) = @_;
    my $img = LWP::UserAgent->new->get(base_url() . ($g->{imageUrl} // '/none'));
    return $img->is_success && $img->header('Content-Type') eq 'image/png' && substr($img->content, 1, 3) eq 'PNG';
}
sub png_bytes {
    my ($w, $h) = @_;
    my $raw = join '', map { "\0" . pack('C3', 10, $_ % 256, 90) x $w } 0 .. $h - 1;
    my $chunk = sub {
        my ($t, $d) = @_;
        return pack('N', length $d) . $t . $d . pack('N', Compress::Zlib::crc32($t . $d));
    };
    return "\x89PNG\r\n\x1a\n" . $chunk->('IHDR', pack('NNC5', $w, $h, 8, 2, 0, 0, 0))
         . $chunk->('IDAT', Compress::Zlib::compress($raw)) . $chunk->('IEND', '');
}
my $png = png_bytes(40, 30);
my $up = json_of(api(POST => '/api/uploads', user => $u, body => $png, content_type => 'image/png')) || {};
my $cost_row = sub {
    my ($id) = @_;
    return psql("SELECT usage::float8 || ' ' || usage_unit FROM genflow_provider_costs WHERE generation_id = '$id'");
};

# ---- OpenAI Images ----------------------------------------------------------
my ($g, $tag) = gen('oai', 'a lighthouse', body => { aspectRatio => '16:9' });
is($g->{status}, 'completed', 'openai: completed in the generate response (synchronous)');
is($g->{provider} . ' ' . $g->{model}, 'oai gpt-image-1', 'by gpt-image-1, the default model');
ok(stored_png($g), 'the decoded base64 picture was stored and is served');
is(ledger($g->{generationId}), 'reserve:-1,charge:0', 'charged once');
my @sent = sent_for($tag);
is(scalar @sent, 1, 'one request');
my $req = $sent[0];
is("$req->{method} $req->{path}", 'POST /openai/v1/images/generations', 'POST {base}/images/generations');
is($req->{headers}{authorization}, "Bearer $KEY", 'Authorization: Bearer <key>');
like($req->{headers}{'content-type'}, qr{^application/json}, 'a JSON body');
is($req->{fields}{model}, 'gpt-image-1', 'model');
is($req->{fields}{n}, 1, 'n: one picture asked');
is($req->{fields}{size}, '1536x1024', 'size from the aspect ratio 16:9 (landscape)');
is(join(',', map { $req->{fields}{$_} // '-' } qw(quality moderation background output_format)),
   'high,low,opaque,-', 'quality=, moderation=, background= from the declaration; output_format not set');
ok(!exists $req->{fields}{response_format} && !exists $req->{fields}{seed},
   'no response_format (the GPT image models refuse it) and no seed (they have none)');
is($cost_row->($g->{generationId}), '6290 tokens', "the answer's total tokens recorded as the call's usage");
($g, $tag) = gen('oai', 'a portrait', body => { aspectRatio => '2:3' });
is((sent_for($tag))[0]{fields}{size}, '1024x1536', 'a portrait ratio asks 1024x1536');

# Edits: the upload inline as a data: URL; an https source as itself.
($g, $tag) = gen('oai', 'make it night', body => { sourceImage => $up->{sourceImage} });
is($g->{status}, 'completed', 'openai edit from an upload: completed');
($req) = sent_for($tag);
is($req->{path}, '/openai/v1/images/edits', 'POST {base}/images/edits');
my $img = (($req->{fields}{images} || [])->[0] || {})->{_image} || {};
is(join(' ', map { $img->{$_} // '-' } qw(via content_type format width height sha1)),
   "data image/png png 40 30 " . sha1_hex($png), 'images[0].image_url: the uploaded PNG whole, as a data URL');
($g, $tag) = gen('oai', 'from a link', body => { sourceImage => 'https://example.com/photo.png' });
($req) = sent_for($tag);
is((($req->{fields}{images} || [])->[0] || {})->{image_url}, 'https://example.com/photo.png',
   'an https source goes as its URL');

# Refusal, credits, waits, answers that are not pictures.
($g, $tag) = gen('oai-local', 'a scene [fault:moderation]');
is($g->{error}{code}, 'CONTENT_FILTERED', '400 moderation_blocked → CONTENT_FILTERED');
is(ledger($g->{generationId}), 'reserve:-1,refund:1', 'refunded');
is($g->{provider}, 'oai', 'no fallback to local after a refusal');
like(row($g->{generationId}, 'error_message'), qr/safety system/, "the provider's reason is kept");
($g, $tag) = gen('oai-local', 'a bill [fault:quota]');
is($g->{status} . ' ' . $g->{provider}, 'completed local', '429 insufficient_quota → the next entry at once');
is(scalar(sent_for($tag)) - 0, 1, 'not retried: the account is out of credits (PROVIDER_CREDITS)');
($g, $tag) = gen('oai', 'a queue [fault:429]');
is($g->{error}{code}, 'MAX_RETRIES_EXCEEDED', '429 twice → failed after the retry');
@sent = sort { $a->{at} <=> $b->{at} } sent_for($tag);
is(scalar @sent, 2, 'asked twice (GenFlowMaxRetries 1)');
cmp_ok($sent[1]{at} - $sent[0]{at}, '>=', 1.5, 'the retry waited for retry-after-ms (1500)');
($g, $tag) = gen('oai', 'a link [fault:url] [fault:foreignfile:' . $fport . ']');
is($g->{status}, 'failed', "DALL-E's URL answer from a GPT image model: failed");
is(scalar(foreign_log()), 0, 'and the URL was never fetched');

my %oai_fault = (
    '[fault:500]'       => 'MAX_RETRIES_EXCEEDED',
    '[fault:badb64]'    => 'MAX_RETRIES_EXCEEDED',
    '[fault:notimage]'  => 'MAX_RETRIES_EXCEEDED',
    '[fault:bigb64]'    => 'API_ERROR',
    '[fault:truncated]' => 'MAX_RETRIES_EXCEEDED',
    '[fault:badjson]'   => 'MAX_RETRIES_EXCEEDED',
    '[fault:slow]'      => 'MAX_RETRIES_EXCEEDED',
    '[fault:reset]'     => 'MAX_RETRIES_EXCEEDED',
);
my %ids;
for my $f (sort keys %oai_fault) { ($g) = gen('oai', "fault $f", wait => 0); $ids{$f} = $g->{generationId} }
for my $f (sort keys %oai_fault) {
    wait_terminal($ids{$f});
    is(row($ids{$f}, 'error_code'), $oai_fault{$f}, "openai $f → $oai_fault{$f}");
}
like(row($ids{'[fault:badb64]'}, 'error_message'), qr/not valid base64/, 'damaged base64 is named');
like(row($ids{'[fault:notimage]'}, 'error_message'), qr/not a PNG, JPEG or WebP/, 'bytes that are no picture are named');
like(row($ids{'[fault:bigb64]'}, 'error_message'), qr/larger than 1048576 bytes/, 'an oversized base64 answer is cut at max_bytes');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN (" . join(',', map { "'$_'" } values %ids)
        . ") AND status = 'failed' AND credits_charged = 0"), scalar(keys %oai_fault), 'every one failed and was refunded');

# ---- Gemini image models ---------------------------------------------------
($g, $tag) = gen('gem', 'a red fox', body => { aspectRatio => '21:9' });
is($g->{status} . ' ' . $g->{provider} . ' ' . $g->{model}, 'completed gem gemini-2.5-flash-image',
   'gemini: completed by the default image model');
ok(stored_png($g), "the inlineData picture was stored (the text part beside it ignored)");
($req) = sent_for($tag);
is("$req->{method} $req->{path}", 'POST /v1beta/models/gemini-2.5-flash-image:generateContent',
   'POST {base}/v1beta/models/{model}:generateContent');
is($req->{headers}{'x-goog-api-key'}, $KEY, 'x-goog-api-key: <key>');
ok(!exists $req->{headers}{authorization}, 'no Authorization header');
my $gc = $req->{fields}{generationConfig} || {};
is(join(',', @{ $gc->{responseModalities} || [] }), 'TEXT,IMAGE', 'responseModalities TEXT, IMAGE');
is(($gc->{imageConfig} || {})->{aspectRatio}, '21:9', 'imageConfig.aspectRatio');
is($gc->{seed} . '/' . $gc->{candidateCount}, '77/1', 'the seed, one candidate');
is($req->{fields}{contents}[0]{role}, 'user', 'one user turn');
is($cost_row->($g->{generationId}), '1299 tokens', 'usageMetadata.totalTokenCount recorded');
($g, $tag) = gen('gem', 'as a painting', body => { sourceImage => $up->{sourceImage} });
is($g->{status}, 'completed', 'gemini from an upload: completed');
($req) = sent_for($tag);
my ($inl) = grep { $_->{inlineData} } @{ $req->{fields}{contents}[0]{parts} || [] };
$img = (($inl || {})->{inlineData} || {})->{_image} || {};
is(join(' ', map { $img->{$_} // '-' } qw(content_type format width height sha1)),
   "image/png png 40 30 " . sha1_hex($png), 'the upload went as an inlineData part, whole');
($g, $tag) = gen('gem', 'a refusal [fault:blocked]');
is($g->{error}{code} . ' ' . $g->{provider}, 'CONTENT_FILTERED gem', 'promptFeedback.blockReason → CONTENT_FILTERED, no fallback');
like(row($g->{generationId}, 'error_message'), qr/PROHIBITED_CONTENT/, 'the block reason is named in the row');
($g, $tag) = gen('gem', 'a refusal [fault:imagesafety]');
is($g->{error}{code}, 'CONTENT_FILTERED', 'finishReason IMAGE_SAFETY → CONTENT_FILTERED');
is(ledger($g->{generationId}), 'reserve:-1,refund:1', 'refunded');
($g, $tag) = gen('gem', 'a poem [fault:noimage]');
is($g->{status} . ' ' . $g->{provider}, 'completed local', 'an answer without a picture fails gemini and falls back');
is(scalar(grep { $_->{path} =~ /generateContent/ } sent_for($tag)), 2, 'after a retry (an error of its own, transient)');
($g, $tag) = gen('gem', 'busy [fault:429]');
@sent = sort { $a->{at} <=> $b->{at} } grep { $_->{path} =~ /generateContent/ } sent_for($tag);
is(scalar @sent, 2, 'RESOURCE_EXHAUSTED: retried once');
cmp_ok($sent[1]{at} - $sent[0]{at}, '>=', 1.9, "the retry waited for RetryInfo's retryDelay (1.2 s, rounded up to 2)");
is($g->{provider}, 'local', 'then the chain went on');
for my $f ('[fault:500]', '[fault:badb64]', '[fault:truncated]', '[fault:wrongtype]', '[fault:badjson]',
           '[fault:slow]', '[fault:reset]') {
    ($g, $tag) = gen('gem', "fault $f");
    is($g->{provider} . ' ' . scalar(grep { $_->{path} =~ /generateContent/ } sent_for($tag)), 'local 2',
       "gemini $f: retried, then the next entry");
}
($g, $tag) = gen('gem', 'fault [fault:bigb64]');
is($g->{provider} . ' ' . scalar(grep { $_->{path} =~ /generateContent/ } sent_for($tag)), 'local 1',
   'gemini: an oversized base64 answer is cut at max_bytes, not retried, the next entry');

# ---- Imagen through the Gemini API -----------------------------------------
($g, $tag) = gen('imagen', 'a tower', body => { aspectRatio => '9:16' });
is($g->{status} . ' ' . $g->{model}, 'completed imagen-4.0-generate-001', 'imagen: completed');
ok(stored_png($g), "the first prediction's picture stored (the safety prediction skipped)");
($req) = sent_for($tag);
is($req->{path}, '/v1beta/models/imagen-4.0-generate-001:predict', 'POST {base}/v1beta/models/{model}:predict');
is(join(',', $req->{fields}{parameters}{sampleCount}, $req->{fields}{parameters}{aspectRatio}), '1,9:16',
   'parameters: sampleCount 1, aspectRatio');
($g) = gen('imagen', 'a tower [fault:filtered]');
is($g->{error}{code}, 'CONTENT_FILTERED', 'a raiFilteredReason prediction → CONTENT_FILTERED');
($g) = gen('imagen', 'nothing [fault:noimage]');
is($g->{error}{code}, 'MAX_RETRIES_EXCEEDED', 'an empty answer is an error (retried)');
($g, $tag) = gen('imagen', 'from a picture', body => { sourceImage => $up->{sourceImage} });
is($g->{error}{code}, 'VALIDATION_ERROR', 'Imagen takes no source picture: a validation error');
is(scalar(sent_for($tag)), 0, 'without a call');

# ---- Black Forest Labs FLUX ------------------------------------------------
($g, $tag) = gen('bfl', 'a castle', body => { aspectRatio => '16:9' }, wait => 0);
is(wait_terminal($g->{generationId}), 'completed', 'bfl: submitted, polled, completed');
$g = json_of(api(GET => "/api/bfl/status/$g->{generationId}", user => $u));
is($g->{provider} . ' ' . $g->{model}, 'bfl flux-pro-1.1', 'by flux-pro-1.1');
ok(stored_png($g), 'the picture at result.sample was fetched and stored');
@sent = sent_for($tag);
($req) = grep { $_->{method} eq 'POST' } @sent;
is("$req->{method} $req->{path}", 'POST /v1/flux-pro-1.1', 'POST {base}/v1/{model}');
is($req->{headers}{'x-key'}, $KEY, 'x-key: <key>');
is(join(',', map { $req->{fields}{$_} // '-' } qw(width height seed output_format safety_tolerance)),
   '1344,768,77,png,2', 'width and height for 16:9 in multiples of 32, the seed, png, safety_tolerance=');
my $jid = $g->{providerJobId};
like($jid // '', qr/^[0-9a-f-]{36}$/, 'the task id is recorded');
my @polls = grep { $_->{path} eq '/v1/get_result' && $_->{query} eq "id=$jid" } mock_log();
cmp_ok(scalar @polls, '>=', 3, 'polled at polling_url until Ready');
is(scalar(grep { $_->{headers}{'x-key'} ne $KEY } @polls), 0, 'every poll with the key');
is(scalar(grep { $_->{method} eq 'POST' } @sent), 1, 'submitted once');
is(scalar(grep { $_->{path} eq "/files/bfl-$jid.png" } mock_log()), 1, 'the picture downloaded once');
is($cost_row->($g->{generationId}), '4 credits', "the submit's cost recorded as credits");

($g, $tag) = gen('bfl', 'a restyle', body => { sourceImage => $up->{sourceImage} }, wait => 0);
wait_terminal($g->{generationId});
($req) = grep { $_->{method} eq 'POST' } sent_for($tag);
is(join(' ', map { ($req->{fields}{_image} || {})->{$_} // '-' } qw(via format width height sha1)),
   "base64 png 40 30 " . sha1_hex($png), 'input_image: the upload in base64, whole');

my %bfl_fault = (
    '[fault:moderated]' => 'CONTENT_FILTERED',
    '[fault:reqmod]'    => 'CONTENT_FILTERED',
);
for my $f (sort keys %bfl_fault) {
    ($g, $tag) = gen('bfl', "fault $f", wait => 0);
    is(wait_terminal($g->{generationId}) . ' ' . row($g->{generationId}, 'error_code'), "failed $bfl_fault{$f}",
       "bfl $f → $bfl_fault{$f}, no fallback");
}
for my $f ('[fault:error]', '[fault:lost]', '[fault:expired]', '[fault:foreign:' . $fport . ']') {
    ($g, $tag) = gen('bfl', "fault $f", wait => 0);
    wait_terminal($g->{generationId});
    is(row($g->{generationId}, 'status') . ' ' . row($g->{generationId}, 'provider'), 'completed local',
       "bfl $f: the task failed for good, the chain went on");
    is(scalar(grep { $_->{method} eq 'POST' && $_->{path} =~ m{^/v1/flux} } sent_for($tag)), 1,
       "bfl $f: never submitted again");
}
($g, $tag) = gen('bfl', 'fault [fault:expired] again', wait => 0);
wait_terminal($g->{generationId});
ok((do { local $/; open my $fh, '<', Apache::Test::vars('t_logs') . '/error_log'; <$fh> } // '')
   =~ qr/fallback type=neo-glitch id=\S+ user=\S+ provider=bfl .*error=API_ERROR: bfl: the result's picture has expired or is gone \(HTTP 403/, 'an expired picture is named as such in the log');
is(scalar(foreign_log()), 0, 'a polling_url on another origin got no request (nor the key)');
($g, $tag) = gen('bfl', 'a poll elsewhere [fault:pollhost]', wait => 0);
is(wait_terminal($g->{generationId}) . ' ' . row($g->{generationId}, 'provider'), 'completed bfl',
   'a polling_url on a host of poll_hosts= is followed');
($g, $tag) = gen('bfl', 'slow poll [fault:pollfail]', wait => 0);
is(wait_terminal($g->{generationId}) . ' ' . row($g->{generationId}, 'provider'), 'completed bfl',
   'a failing poll is polled again, not submitted again');
is(scalar(grep { $_->{method} eq 'POST' } sent_for($tag)), 1, 'one submission');
# Submissions that fail: 500 and broken answers are retried (nothing was
# accepted); a timeout after the request went out may have been: not sent
# again while the chain has a next entry.
for my $f ('[fault:500]', '[fault:badjson]') {
    ($g, $tag) = gen('bfl', "submit $f", wait => 0);
    is(wait_terminal($g->{generationId}) . ' ' . row($g->{generationId}, 'provider') . ' '
       . scalar(grep { $_->{method} eq 'POST' } sent_for($tag)), 'completed local 2',
       "bfl $f on submit: tried twice, then the next entry");
}
for my $f ('[fault:slow]', '[fault:truncated]') {
    ($g, $tag) = gen('bfl', "submit $f", wait => 0);
    is(wait_terminal($g->{generationId}) . ' ' . row($g->{generationId}, 'provider') . ' '
       . scalar(grep { $_->{method} eq 'POST' } sent_for($tag)), 'completed local 1',
       "bfl $f on submit (it may have been accepted): not sent again, the next entry");
}
($g, $tag) = gen('bfl', 'busy [fault:429]', wait => 0);
wait_terminal($g->{generationId});
is(scalar(grep { $_->{method} eq 'POST' } sent_for($tag)), 2, 'a 429 on submit is tried again (nothing was accepted)');

# 402: out of credits, permanent, and the circuit opens at once.
($g, $tag) = gen('bfl-paid', 'pay [fault:402]');
is($g->{status} . ' ' . $g->{provider}, 'completed local', '402 → the next entry at once');
is(scalar(sent_for($tag)), 1, 'not retried (PROVIDER_CREDITS)');
($g, $tag) = gen('bfl-paid', 'after the 402');
is($g->{provider}, 'local', 'the next generation skips bflpaid: its circuit is open');
is(scalar(sent_for($tag)), 0, 'without a call to it');
ok((do { local $/; open my $fh, '<', Apache::Test::vars('t_logs') . '/error_log'; <$fh> } // '')
   =~ qr/provider bflpaid: the account is out of credits \(PROVIDER_CREDITS\), circuit opened/,
     'the error log says why');

my $log = do { local $/; open my $fh, '<', Apache::Test::vars('t_logs') . '/error_log' or die; <$fh> };
is(index($log, $KEY), -1, 'the API key appears nowhere in the error_log');
