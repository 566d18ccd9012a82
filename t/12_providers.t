# SPDX-License-Identifier: Apache-2.0
# Real provider protocols over libcurl against the mock providers: the seed
# scenarios of the issue, the requests the module sends, and every fault.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use LWP::UserAgent;
use JSON::PP;
use Time::HiRes qw(sleep time);

plan tests => 90;

my $u = new_user('providers');
api(GET => '/api/quota', user => $u);
grant($u, 500);
my $KEY = $ENV{GENFLOW_MOCK_KEY};
my $n = 0;

sub mock_log {
    my $res = LWP::UserAgent->new->get("$ENV{GENFLOW_MOCK_URL}/_log");
    return map { decode_json($_) } grep { length } split /\n/, $res->content;
}
# Requests the mock got for a prompt marker (the prompt is in the body).
sub sent_for {
    my ($marker) = @_;
    return grep {
        my $f = $_->{fields} || {};
        my $p = $f->{prompt} // ($f->{input} || {})->{prompt} // '';
        index($p, $marker) >= 0
    } mock_log();
}
sub gen {
    my ($path, $prompt, $wait) = @_;
    my $tag = 'p' . ++$n . '-' . $$;
    my $res = api(POST => "/api/$path/generate", user => $u, body => { prompt => "$prompt $tag",
                  parameters => { seed => 77 } }, headers => { Prefer => 'wait=' . ($wait // 30) });
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
    for (1 .. 160) {
        my $st = row($id, 'status');
        return $st if $st =~ /^(completed|failed|cancelled)$/;
        sleep 0.25;
    }
    return row($id, 'status');
}

# 1. Stability immediate success: completed inside generate, 1 charge, no polling.
my ($g, $tag) = gen('stab', 'a lighthouse');
is($g->{status}, 'completed', 'stability: completed in the generate response');
is($g->{provider}, 'stab', 'by stability');
is($g->{model}, 'core', 'default model core');
is(ledger($g->{generationId}), 'reserve:-1,charge:0', 'one charge');
is(row($g->{generationId}, 'poll_count') . '/' . row($g->{generationId}, 'attempts'), '0/1',
   'no polling, one attempt');
my ($req) = sent_for($tag);
is($req->{method} . ' ' . $req->{path}, 'POST /v2beta/stable-image/generate/core', 'v2beta generate endpoint');
like($req->{headers}{'content-type'}, qr{^multipart/form-data; boundary=}, 'multipart/form-data even for text');
is($req->{headers}{authorization}, "Bearer $KEY", 'Authorization: Bearer <key>');
is($req->{headers}{accept}, 'image/*', 'Accept: image/*');
is($req->{fields}{output_format}, 'png', 'output_format=png');
is($req->{fields}{seed}, 77, 'seed passed through');
my $img = LWP::UserAgent->new->get(base_url() . $g->{imageUrl});
is($img->header('Content-Type'), 'image/png', 'the picture was stored and is served by Apache');
is(substr($img->content, 1, 3), 'PNG', 'as the PNG the provider returned');

# 2. Stability fails (402) → AIML succeeds → exactly one charge.
($g, $tag) = gen('stab-aiml', 'a fox [fault:402]');
is($g->{status}, 'completed', 'stability 402 → fallback → completed');
is($g->{provider}, 'aiml', 'by AIML');
is(ledger($g->{generationId}), 'reserve:-1,charge:0', 'exactly one charge');
my @sent = sent_for($tag);
is(scalar(grep { $_->{path} =~ m{^/v2beta} } @sent), 1, 'stability asked once (402 is permanent)');
my ($aiml) = grep { $_->{path} eq '/v1/images/generations' } @sent;
ok($aiml, 'AIML was asked');
is($aiml->{headers}{authorization}, "Bearer $KEY", 'AIML: Bearer key');
like($aiml->{headers}{'content-type'}, qr{^application/json}, 'AIML: JSON body');
is($aiml->{fields}{model}, 'flux/schnell', 'AIML: default model');
like($aiml->{fields}{prompt}, qr/a fox/, 'AIML: the prompt');
ok(grep({ $_->{path} eq '/files/aiml-1.png' } mock_log()), 'the AIML result URL was downloaded');

# 3. Both fail → failed, 0 charged.
($g, $tag) = gen('stab-aiml', 'a wolf [fault:500]');
is($g->{status}, 'failed', 'both providers failing → failed');
is($g->{error}{code}, 'MAX_RETRIES_EXCEEDED', 'after their retries');
is(ledger($g->{generationId}), 'reserve:-1,refund:1', 'refunded: 0 charged');
@sent = sent_for($tag);
is(scalar(grep { $_->{path} =~ m{^/v2beta} } @sent), 2, 'stability tried twice (1 retry)');
is(scalar(grep { $_->{path} =~ m{^/v1/images} } @sent), 2, 'AIML tried twice (1 retry)');

# 4. fal queue: a model chain on one provider, background polling, returned URLs.
($g, $tag) = gen('fal-chain', 'a castle', 0);
like($g->{status} // '', qr/^(pending|processing)$/, 'fal: 202 while queued');
my $fid = $g->{generationId};
is(wait_terminal($fid), 'completed', 'fal: completed by background polling');
my $fs = json_of(api(GET => "/api/fal-chain/status/$fid", user => $u));
is($fs->{model}, 'fal-ai/flux/dev', 'the broken first model fell back to the next model');
like($fs->{providerJobId} // '', qr/^[0-9a-f-]{36}$/, 'the fal request id is recorded');
@sent = sent_for($tag);
is(join(',', map { "$_->{method} $_->{path}" } grep { $_->{method} eq 'POST' } @sent),
   'POST /fal-ai/broken-model,POST /fal-ai/flux/dev', 'submits use the full model id with sub-path');
is($sent[-1]{headers}{authorization}, "Key $KEY", 'Authorization: Key <key>');
is($sent[-1]{fields}{seed}, 77, 'fal input carries the seed');
my @polls = grep { $_->{path} =~ m{/requests/} } mock_log();
my @mine = grep { index($_->{path}, $fs->{providerJobId}) >= 0 } @polls;
ok((grep { $_->{path} eq "/fal-ai/flux/requests/$fs->{providerJobId}/status" } @mine) >= 3,
   'status polled at the returned status_url (no sub-path) until COMPLETED');
ok((grep { $_->{path} eq "/fal-ai/flux/requests/$fs->{providerJobId}" } @mine) == 1,
   'the result fetched once from response_url');
is(ledger($fid), 'reserve:-1,charge:0', 'one charge');

# 5. Replicate with Prefer: wait.
($g, $tag) = gen('rep', 'a river');
is($g->{status}, 'completed', 'replicate: completed through Prefer: wait');
is(row($g->{generationId}, 'poll_count'), 0, 'no polling needed');
($req) = grep { $_->{method} eq 'POST' } sent_for($tag);
is($req->{path}, '/v1/models/owner/model/predictions', 'official-model create endpoint');
is($req->{headers}{prefer}, 'wait=5', 'Prefer: wait=5');
is($req->{headers}{authorization}, "Bearer $KEY", 'Bearer key');
like($req->{fields}{input}{prompt}, qr/a river/, 'prompt inside input');
($g, $tag) = gen('rep', 'a delta [fault:queue]');
is($g->{status}, 'completed', 'replicate: a starting prediction is polled to success');
cmp_ok(row($g->{generationId}, 'poll_count'), '>=', 1, 'polled by urls.get');
($g, $tag) = gen('rep', 'a flood [fault:500]');
is($g->{status}, 'failed', 'replicate create 500 → failed');
is(scalar(grep { $_->{method} eq 'POST' } sent_for($tag)), 1, 'the create was NOT re-posted (no idempotency key)');
($g, $tag) = gen('rep', 'a drought [fault:failed]');
is($g->{error}{code}, 'API_ERROR', 'a failed prediction fails the job');
like($g->{error}{message}, qr/CUDA out of memory/, 'with the provider\'s error text');

# 6. Content moderation → failed, refunded, no fallback.
($g, $tag) = gen('stab-aiml', 'a scene [fault:filtered]');
is($g->{error}{code}, 'CONTENT_FILTERED', 'finish-reason CONTENT_FILTERED → failed');
is(ledger($g->{generationId}), 'reserve:-1,refund:1', 'refunded');
is(scalar(grep { $_->{path} =~ m{^/v1/images} } sent_for($tag)), 0, 'no fallback to AIML');
($g, $tag) = gen('stab-aiml', 'a scene [fault:moderation]');
is($g->{error}{code}, 'CONTENT_FILTERED', '403 content_moderation → CONTENT_FILTERED');
is(scalar(grep { $_->{path} =~ m{^/v1/images} } sent_for($tag)), 0, 'no fallback either');

# 7. 200 with an image but an odd side field → completed, no fallback.
($g, $tag) = gen('stab-aiml', 'a chair [fault:odd]');
is($g->{status}, 'completed', 'odd/empty side fields with an image → completed');
is($g->{provider}, 'stab', 'by the first provider');

# 8. Faults: each ends terminal, classified, refunded.
my %fault = (
    '[fault:429]'       => 'MAX_RETRIES_EXCEEDED',
    '[fault:badjson]'   => 'MAX_RETRIES_EXCEEDED',
    '[fault:truncated]' => 'MAX_RETRIES_EXCEEDED',
    '[fault:reset]'     => 'MAX_RETRIES_EXCEEDED',
    '[fault:slow]'      => 'MAX_RETRIES_EXCEEDED',
    '[fault:oversized]' => 'API_ERROR',
    '[fault:wrongtype]' => 'MAX_RETRIES_EXCEEDED',
    '[fault:403]'       => 'PROVIDER_CREDITS',
);
my %ids;
for my $f (sort keys %fault) {
    my ($fg) = gen('aiml', "fault $f", 0);
    $ids{$f} = $fg->{generationId};
}
for my $f (sort keys %fault) {
    my $id = $ids{$f};
    wait_terminal($id);
    is(row($id, 'error_code'), $fault{$f}, "aiml $f → $fault{$f}");
}
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ("
        . join(',', map { "'$_'" } values %ids) . ") AND credits_charged = 0 AND status = 'failed'"),
   scalar(keys %fault), 'every faulted generation failed and was refunded');
like(row($ids{'[fault:slow]'}, 'error_message'), qr/imeout/, 'a slow answer hits the client timeout');
like(row($ids{'[fault:wrongtype]'}, 'error_message'), qr{content type 'text/html'}, 'a wrong content type is named');
like(row($ids{'[fault:oversized]'}, 'error_message'), qr/larger than 1048576 bytes/, 'an oversized answer is cut off at max_bytes');

# 8b. A submission whose answer never came (the client timeout struck after
# the request went out) may have been accepted: Stability, which keeps the
# jobs it accepts, is not sent it again while the chain has a next entry;
# the chain goes on to AIML (which has no jobs to keep: it is retried).
($g, $tag) = gen('stab-aiml', 'a lighthouse [fault:slow]', 0);
is(wait_terminal($g->{generationId}), 'failed', 'a slow chain fails in the end');
is(scalar(grep { $_->{path} =~ m{^/v2beta/stable-image/} } sent_for($tag)), 1,
   'Stability was sent the submission once, not again after its timeout');
is(scalar(grep { $_->{path} =~ m{^/v1/images} } sent_for($tag)), 2,
   'the chain went on to AIML at once, which was retried (GenFlowMaxRetries 1)');

# 9. Stability's asynchronous pattern: {id}, then /v2beta/results/{id}.
($g, $tag) = gen('stab', 'an upscale [fault:async]');
is($g->{status}, 'completed', 'stability async start → polled → completed');
like($g->{providerJobId} // '', qr/^[0-9a-f]{64}$/, 'the 64-hex generation id is recorded');
my @res = grep { $_->{path} eq "/v2beta/results/$g->{providerJobId}" } mock_log();
is(scalar @res, 3, 'polled at /v2beta/results/{id}: 202, 202, 200');
is($res[0]{headers}{authorization}, "Bearer $KEY", 'with the key');

# 10. A fal job that never finishes: TIMEOUT at the deadline, refunded; the
# fal key came from key_file. Cancel reaches the returned cancel_url.
($g, $tag) = gen('fal-chain', 'a maze [fault:never]', 0);
my $never = $g->{generationId};
is(wait_terminal($never), 'failed', 'a fal job that never finishes fails');
is(row($never, 'error_code'), 'TIMEOUT', 'with TIMEOUT at its deadline');
is(ledger($never), 'reserve:-1,refund:1', 'and is refunded');
($g, $tag) = gen('fal-chain', 'a labyrinth [fault:never]', 0);
my $c;
for (1 .. 40) { last if row($g->{generationId}, 'provider_job_id'); sleep 0.1 }
my $rid = row($g->{generationId}, 'provider_job_id');
my $cres = api(POST => "/api/fal-chain/cancel/$g->{generationId}", user => $u);
is(json_of($cres)->{status}, 'cancelled', 'cancel of a queued fal job');
ok((grep { $_->{method} eq 'PUT' && $_->{path} eq "/fal-ai/flux/requests/$rid/cancel" } mock_log()),
   'fal: PUT to the returned cancel_url');

# 11. Other answer shapes: Stability's JSON {image, seed, finish_reason},
# AIML's 201 with b64_json, and a Replicate cancel through urls.cancel.
($g, $tag) = gen('stab', 'a bridge [fault:json]');
is($g->{status}, 'completed', 'stability JSON answer (base64 image) → completed');
$img = LWP::UserAgent->new->get(base_url() . $g->{imageUrl});
is(substr($img->content, 1, 3), 'PNG', 'the decoded picture was stored');
($g, $tag) = gen('aiml', 'a tower [fault:b64]');
is($g->{status}, 'completed', 'AIML 201 with b64_json → completed');
like($g->{imageUrl}, qr{^/media/neo-glitch/}, 'the decoded bytes were stored locally');
($g, $tag) = gen('rep', 'a glacier [fault:never]', 0);
my $rid2;
for (1 .. 40) { $rid2 = row($g->{generationId}, 'provider_job_id'); last if $rid2; sleep 0.1 }
ok($rid2, 'replicate prediction accepted');
$cres = api(POST => "/api/rep/cancel/$g->{generationId}", user => $u);
is(json_of($cres)->{status}, 'cancelled', 'cancelled');
ok((grep { $_->{method} eq 'POST' && $_->{path} eq "/v1/predictions/$rid2/cancel" } mock_log()),
   'replicate: POST to urls.cancel');
is(ledger($g->{generationId}), 'reserve:-1,refund:1', 'refunded');

# 9. Keys are never logged.
my $log = do { local $/; open my $fh, '<', Apache::Test::vars('t_logs') . '/error_log' or die; <$fh> };
is(index($log, $KEY), -1, 'the API key appears nowhere in the error_log');
