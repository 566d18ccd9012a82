# SPDX-License-Identifier: Apache-2.0
# generate: a completed generation in the same request, a PNG that Apache
# serves, credits moved exactly once, and the local provider's determinism.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use LWP::UserAgent;

plan tests => 34;

my $user = new_user('gen');

# One call: create fields → completed.
my $res = api(POST => '/api/neo-glitch/generate', user => $user,
              body => { prompt => 'a glitching lighthouse', parameters => { seed => 7 } },
              headers => { Prefer => 'wait=30' });
is($res->code, 200, 'generate with create fields answers 200');
my $g = json_of($res);
is($g->{status}, 'completed', 'completed in the same request');
is($g->{provider}, 'local', 'provider reported');
is($g->{model}, 'local-glitch-v1', 'model reported');
is($g->{creditsCharged}, 1, 'creditsCharged = cost');
is($g->{error}, undef, 'no error');
like($g->{imageUrl} // '', qr{^/media/neo-glitch/([0-9a-f]{2})/[0-9a-f-]{36}-\1[0-9a-f]{14}\.png$}, 'imageUrl under the storage URL');
ok(defined $g->{startedAt} && defined $g->{finishedAt}, 'start and finish times');
ok(defined $g->{processingTimeMs} && $g->{processingTimeMs} >= 0, 'processingTimeMs');
is($res->header('Preference-Applied'), 'wait=30', 'Prefer: wait is acknowledged');

# The image is a PNG served by Apache.
my $img = LWP::UserAgent->new->get(base_url() . $g->{imageUrl});
is($img->code, 200, 'imageUrl is served');
is($img->header('Content-Type'), 'image/png', 'as image/png');
is(substr($img->content, 0, 8), "\x89PNG\r\n\x1a\n", 'with a PNG signature');
my $first_png = $img->content;

# Credits moved exactly once: one reservation, one charge, no refund.
my $id = $g->{generationId};
is(psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
        . "WHERE generation_id = '$id'"), 'reserve:-1,charge:0', 'ledger: reserve then charge');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$user'"), 9, 'balance 10 - 1');

# Generating it again is refused: it is no longer pending.
$res = api(POST => '/api/neo-glitch/generate', user => $user, body => { generationId => $id });
ok(is_json_error($res, 409, 'INVALID_GENERATION_STATUS'), 'second generate is 409');
like(json_of($res)->{error}{message}, qr/completed/, 'the message says why');
is(psql("SELECT count(*) FROM genflow_ledger WHERE generation_id = '$id'"), 2,
   'the refused generate moved no credits');

# Two steps: create, then generate by id.
$res = api(POST => '/api/neo-glitch/create', user => $user,
           body => { prompt => 'a glitching lighthouse', parameters => { seed => 7 } });
is($res->code, 201, 'create');
my $id2 = json_of($res)->{generationId};
$res = api(POST => '/api/neo-glitch/generate', user => $user, body => { generationId => $id2 });
is($res->code, 200, 'generate by id answers 200');
my $g2 = json_of($res);
is($g2->{status}, 'completed', 'completed');
is($g2->{generationId}, $id2, 'the same generation');

# Same prompt and seed → identical bytes; another prompt → other bytes.
$img = LWP::UserAgent->new->get(base_url() . $g2->{imageUrl});
ok($img->content eq $first_png, 'same prompt and seed give identical PNG bytes');
$res = api(POST => '/api/neo-glitch/generate', user => $user,
           body => { prompt => 'a quiet forest', parameters => { seed => 7 } });
my $other = LWP::UserAgent->new->get(base_url() . json_of($res)->{imageUrl});
ok($other->code == 200 && $other->content ne $first_png, 'another prompt gives another picture');

# A status read shows the completed generation.
$res = api(GET => "/api/neo-glitch/status/$id2", user => $user);
is(json_of($res)->{status}, 'completed', 'status reads completed');

# Another user cannot start someone else's pending generation.
$res = api(POST => '/api/neo-glitch/create', user => $user, body => { prompt => 'mine' });
my $pending = json_of($res)->{generationId};
my $mallory = new_user('mallory');
$res = api(POST => '/api/neo-glitch/generate', user => $mallory, body => { generationId => $pending });
ok(is_json_error($res, 404, 'GENERATION_NOT_FOUND'), "someone else's generation is 404");
$res = api(GET => "/api/neo-glitch/status/$pending", user => $user);
is(json_of($res)->{status}, 'pending', 'and it stays pending');

# generationId must be alone and a UUID.
$res = api(POST => '/api/neo-glitch/generate', user => $user,
           body => { generationId => $pending, prompt => 'x' });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'generationId with create fields is 400');
$res = api(POST => '/api/neo-glitch/generate', user => $user, body => { generationId => 12 });
ok(is_json_error($res, 400, 'VALIDATION_ERROR'), 'a non-string generationId is 400');

# A chain with a declared provider and a model: custom-prompt uses sketch.
$res = api(POST => '/api/custom-prompt/generate', user => $user,
           body => { prompt => 'a paper crane', style => 'artistic' });
my $cp = json_of($res);
is($cp->{status}, 'completed', 'custom-prompt completes');
is($cp->{provider}, 'sketch', 'through the first provider of its chain');
is($cp->{model}, 'local-sketch-v1', 'with the model its declaration names');
is($cp->{prompt}, 'custom: a paper crane, artistic, painterly brushwork',
   'built from the configured GenFlowPromptTemplate');
is($cp->{creditsCharged}, 2, 'custom-prompt costs 2 by default');
