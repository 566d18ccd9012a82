# SPDX-License-Identifier: Apache-2.0
# Several pictures per generation (the create's count): the reservation is
# count times the type's cost; each picture delivered is stored and
# charged, the rest given back in the statement that completes the row;
# a generation that delivered none fails and is refunded whole. The
# status object, the history, the event stream and the webhooks' payload
# carry images (url, width, height, seed) and count; imageUrl stays the
# first picture. Providers whose API takes a number get it in their one
# call: OpenAI's n, fal's num_images, AIML's n or num_images (the mocks
# answer as many, or one fewer with [fault:fewer]); the others get one
# call after another, each picture stored on the row as it comes, a retry
# or a fallback asking only for the missing ones. GenFlowMaxCount bounds
# count per type; bad counts are refused before anything is reserved.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use Digest::SHA qw(sha1_hex);
use File::Temp qw(tempdir);
use HTTP::Request;
use LWP::UserAgent;

plan tests => 128;

my $u = new_user('count');
api(GET => '/api/quota', user => $u);
grant($u, 200);
my $media = "$FindBin::Bin/media";
my $n = 0;

sub balance { psql("SELECT balance FROM genflow_accounts WHERE user_id = '$u'") }
sub row { row_of('neo_glitch_media', @_) }
sub ledger { ledger_of(@_) }
sub generate {
    my ($path, $body, %o) = @_;
    my $tag = 'c' . ++$n . "-$$";
    $body = { prompt => "pictures $tag", %$body };
    return api(POST => "/api/$path/generate", user => $o{user} // $u, body => $body,
               headers => { Prefer => 'wait=30' });
}
sub status_of {
    my ($path, $id) = @_;
    return json_of(api(GET => "/api/$path/status/$id", user => $u)) || {};
}
sub file_of { my ($url) = @_; return $url =~ m{^/media/(.+)$} ? "$media/$1" : undef }

# ---- one picture, as before ------------------------------------------------------
my $one = json_of(generate('neo-glitch', {})) || {};
is($one->{status}, 'completed', 'no count: one picture');
is($one->{count}, 1, 'count is 1');
is(scalar @{ $one->{images} || [] }, 1, 'images has the one picture');
is($one->{images}[0]{url}, $one->{imageUrl}, 'imageUrl is the first picture');
ok(($one->{images}[0]{width} // 0) > 0 && ($one->{images}[0]{height} // 0) > 0,
   'its width and height, read from the picture') or diag explain $one->{images};
is($one->{images}[0]{seed}, psql("SELECT seed FROM neo_glitch_media WHERE id = '$one->{generationId}'"),
   'its seed, the generation\'s');
is(ledger($one->{generationId}), 'reserve:-1,charge:0', 'charged its one picture');

# ---- three pictures, all delivered ------------------------------------------------
my $before = balance();
my $res = generate('count-glitch', { count => 3 });
my $three = json_of($res) || {};
is($three->{status}, 'completed', 'count 3: completed') or diag $res->decoded_content;
is($three->{estimatedCost}, 6, 'estimatedCost is count times the cost (3 x 2)');
is($three->{creditsCharged}, 6, 'charged for the three delivered');
is($three->{count}, 3, 'count is 3');
my @imgs = @{ $three->{images} || [] };
is(scalar @imgs, 3, 'three pictures');
is(scalar(keys %{ { map { $_->{url} => 1 } @imgs } }), 3, 'at three URLs');
is(scalar(grep { defined file_of($_->{url}) && -s file_of($_->{url}) } @imgs), 3, 'each stored');
my $seed = psql("SELECT seed FROM neo_glitch_media WHERE id = '$three->{generationId}'");
is(join(',', map { $_->{seed} } @imgs), join(',', $seed, $seed + 1, $seed + 2),
   'each drawn with its own seed: the generation\'s, then one more each');
isnt(sha1_hex(slurp(file_of($imgs[0]{url}) // '')), sha1_hex(slurp(file_of($imgs[1]{url}) // '')),
     'different pictures');
is($three->{imageUrl}, $imgs[0]{url}, 'imageUrl is the first');
is(ledger($three->{generationId}), 'reserve:-6,charge:0', 'reserved 6, nothing given back');
is(balance(), $before - 6, 'the balance moved by 6');

my $hist = json_of(api(GET => '/api/count-glitch/history?limit=5', user => $u)) || {};
my ($item) = grep { $_->{generationId} eq $three->{generationId} } @{ $hist->{items} || [] };
is_deeply($item && $item->{images}, \@imgs, 'the history item carries the same images');
is(psql("SELECT (genflow_status_object('neo-glitch', to_jsonb(g))::jsonb->'images') = '"
        . JSON::PP->new->canonical->encode(\@imgs) . "'::jsonb FROM neo_glitch_media g "
        . "WHERE id = '$three->{generationId}'"), 't',
   'the webhooks\' payload (genflow_status_object) carries the same images');

# The event stream's last status carries them too.
{
    my $req = HTTP::Request->new(GET => base_url() . "/api/count-glitch/events/$three->{generationId}");
    $req->authorization_basic($u, $u);
    my $body = LWP::UserAgent->new(timeout => 20)->request($req)->decoded_content // '';
    my ($last) = reverse($body =~ /^data: (\{.*\})$/mg);
    my $ev = $last ? eval { JSON::PP->new->decode($last) } : undef;
    is(scalar @{ ($ev || {})->{images} || [] }, 3, 'the event stream\'s status has the three pictures');
}

# ---- fewer delivered than asked: charged per picture, the rest given back ----------
$before = balance();
my $daily = (json_of(api(GET => '/api/quota', user => $u)) || {})->{daily_used};
$res = generate('few-glitch', { count => 4 });
my $few = json_of($res) || {};
is($few->{status}, 'completed', 'count 4 from a provider that brings two: completed');
is($few->{estimatedCost}, 12, 'reserved 4 x 3');
is(scalar @{ $few->{images} || [] }, 2, 'two pictures delivered');
is($few->{creditsCharged}, 6, 'charged for two: 6');
is(ledger($few->{generationId}), 'reserve:-12,charge:6', 'the charge row gives back the other two (6)');
is(balance(), $before - 6, 'the balance moved by 6, not 12');
is((json_of(api(GET => '/api/quota', user => $u)) || {})->{daily_used}, $daily + 6,
   'the day\'s allowance counts the 6 charged, not the 12 reserved');

# ---- none delivered: failed, refunded whole ------------------------------------------
$before = balance();
my $broke = json_of(generate('count-broke', { count => 3 })) || {};
is($broke->{status}, 'failed', 'count 3 from a failing provider: failed');
is_deeply($broke->{images}, [], 'no pictures');
is($broke->{creditsCharged}, 0, 'nothing charged');
is(ledger($broke->{generationId}), 'reserve:-6,refund:6', 'refunded whole');
is(balance(), $before, 'the balance is back');
my $retry = json_of(api(POST => "/api/count-broke/retry/$broke->{generationId}", user => $u,
                        headers => { Prefer => 'wait=30' })) || {};
is($retry->{count}, 3, 'a retry asks for the same count');
is($retry->{estimatedCost}, 6, 'and reserves it again');

# ---- providers that take a number ----------------------------------------------------
my @journal_before = mock_journal();
my $oai = json_of(generate('oai', { count => 3 })) || {};
is($oai->{status}, 'completed', 'OpenAI, count 3: completed') or diag explain $oai;
is(scalar @{ $oai->{images} || [] }, 3, 'three pictures from one answer');
my @oai_calls = grep { ($_->{path} // '') =~ m{^/openai/v1/images/generations$} } mock_journal();
splice @oai_calls, 0, scalar(grep { ($_->{path} // '') =~ m{^/openai/v1/images/generations$} } @journal_before);
is(scalar @oai_calls, 1, 'one call');
is($oai_calls[-1]{fields}{n}, 3, 'with n = 3');

my $oaifew = json_of(generate('oai', { count => 3, prompt => 'one bad [fault:onebad]' })) || {};
is(scalar @{ $oaifew->{images} || [] }, 2, 'OpenAI: a picture that does not decode is left out');
is($oaifew->{creditsCharged}, 2, 'and not charged');
is(ledger($oaifew->{generationId}), 'reserve:-3,charge:1', 'its share given back');

my $fal = json_of(generate('fal', { count => 4 })) || {};
is($fal->{status}, 'completed', 'fal, count 4: completed') or diag explain $fal;
is(scalar @{ $fal->{images} || [] }, 4, 'four pictures, each downloaded');
my ($fal_submit) = grep { ($_->{path} // '') =~ m{^/fal-ai/flux/dev$} && ($_->{fields}{prompt} // '') eq ($fal->{prompt} // '-') }
                   mock_journal();
is($fal_submit && $fal_submit->{fields}{num_images}, 4, 'one submission with num_images = 4');
is($fal->{images}[0]{seed}, 123, 'the first picture\'s seed is the one fal said');

my $falfew = json_of(generate('fal', { count => 3, prompt => 'fewer [fault:fewer]' })) || {};
is(scalar @{ $falfew->{images} || [] }, 2, 'fal brought one fewer: two pictures');
is(ledger($falfew->{generationId}), 'reserve:-3,charge:1', 'charged two, one given back');

my $aiml = json_of(generate('aiml', { count => 2 })) || {};
is(scalar @{ $aiml->{images} || [] }, 2, 'AIML (flux/schnell), count 2: two pictures');
my ($aiml_call) = grep { ($_->{path} // '') eq '/v1/images/generations' && ($_->{fields}{prompt} // '') eq ($aiml->{prompt} // '-') }
                  mock_journal();
is($aiml_call && $aiml_call->{fields}{num_images}, 2, 'asked with num_images (its model\'s name for it)');

my $img = json_of(generate('imagen', { count => 3 })) || {};
is(scalar @{ $img->{images} || [] }, 3, 'Imagen, count 3: three pictures');
my ($img_call) = grep { ($_->{path} // '') =~ /:predict$/ && (($_->{fields}{instances} || [{}])->[0]{prompt} // '') eq ($img->{prompt} // '-') }
                 mock_journal();
is($img_call && $img_call->{fields}{parameters}{sampleCount}, 3, 'asked with sampleCount = 3');
my $imgf = json_of(generate('imagen', { count => 3, prompt => 'one filtered [fault:onefiltered]' })) || {};
is(scalar @{ $imgf->{images} || [] }, 2, 'Imagen: a filtered picture is left out, the others delivered');
is(ledger($imgf->{generationId}), 'reserve:-3,charge:1', 'and its share given back');

my $rep = json_of(generate('rep-many', { count => 2 })) || {};
is(scalar @{ $rep->{images} || [] }, 2, 'Replicate with count_input=num_outputs, count 2: two pictures');
my ($rep_call) = grep { ($_->{path} // '') =~ m{/predictions$} && ((($_->{fields} || {})->{input} || {})->{prompt} // '') eq ($rep->{prompt} // '-') }
                 mock_journal();
is($rep_call && $rep_call->{fields}{input}{num_outputs}, 2, 'asked with num_outputs = 2');
my $rep1 = json_of(generate('rep', { count => 2 })) || {};
is(scalar @{ $rep1->{images} || [] }, 2, 'Replicate without count_input, count 2: two pictures');
is(ledger($rep1->{generationId}), 'reserve:-2,charge:0', 'both charged');
my @rep1_calls = grep { ($_->{method} // '') eq 'POST' && ((($_->{fields} || {})->{input} || {})->{prompt} // '') eq ($rep1->{prompt} // '-') } mock_journal();
is(scalar @rep1_calls, 2, 'in two predictions, one picture each (its model may take no number)');
ok(@rep1_calls && !grep({ exists $_->{fields}{input}{num_outputs} } @rep1_calls),
   'and nothing asked of it that it may not take');

# ---- providers that take no number: one call after another ----------------------------
# Each call is a claim of its own (its place, its rate's start, its budget
# hold); its pictures are stored on the row as they come, charged when the
# generation completes; a retry or a fallback asks only for the missing.
sub stab_calls {
    my ($prompt) = @_;
    return scalar grep { ($_->{path} // '') =~ m{^/v2beta/stable-image/} && ($_->{fields}{prompt} // '') eq $prompt }
                 mock_journal();
}
$before = balance();
my $st3 = json_of(generate('count-stab', { count => 3 })) || {};
is($st3->{status}, 'completed', 'Stability, count 3: completed') or diag explain $st3;
is(scalar @{ $st3->{images} || [] }, 3, 'three pictures');
is(scalar(grep { defined file_of($_->{url}) && -s file_of($_->{url}) } @{ $st3->{images} || [] }), 3,
   'each stored');
is(scalar(keys %{ { map { $_->{url} => 1 } @{ $st3->{images} || [] } } }), 3, 'at three URLs');
is($st3->{imageUrl}, ($st3->{images} || [{}])->[0]{url}, 'imageUrl is the first');
is(stab_calls($st3->{prompt} // '-'), 3, 'in three calls, one picture each');
is(ledger($st3->{generationId}), 'reserve:-6,charge:0', 'all three charged, in one charge row');
is(balance(), $before - 6, 'the balance moved by 6');
is(psql("SELECT attempts FROM neo_glitch_media WHERE id = '$st3->{generationId}'"), 3,
   'each call its own claim (attempt)');

my $st5 = json_of(generate('count-stab', { count => 2, prompt => 'second fails once ' . ++$n . "-$$ [fault:then500]" })) || {};
is(scalar @{ $st5->{images} || [] }, 2, 'count 2, the second call fails once: both pictures');
is(stab_calls($st5->{prompt} // '-'), 3, 'three calls: the retry asked only for the missing one');
is(ledger($st5->{generationId}), 'reserve:-4,charge:0', 'both charged');

$before = balance();
my $st4 = json_of(generate('count-stab', { count => 3, prompt => 'then refused ' . ++$n . "-$$ [fault:then400]" })) || {};
is($st4->{status}, 'completed', 'count 3, refused after the first picture: completed with it')
    or diag explain $st4;
is(scalar @{ $st4->{images} || [] }, 1, 'one picture');
is($st4->{creditsCharged}, 2, 'charged for it alone');
is(ledger($st4->{generationId}), 'reserve:-6,charge:4', 'the other two given back');
is(balance(), $before - 2, 'the balance moved by 2');

my $fb = json_of(generate('count-stab-oai', { count => 3, prompt => 'then falls back ' . ++$n . "-$$ [fault:then400]" })) || {};
is(scalar @{ $fb->{images} || [] }, 3, 'count 3, Stability refuses after one, OpenAI brings the rest');
my ($fb_oai) = grep { ($_->{path} // '') =~ m{/images/generations$} && ($_->{fields}{prompt} // '') eq ($fb->{prompt} // '-') }
               mock_journal();
is($fb_oai && $fb_oai->{fields}{n}, 2, 'OpenAI asked for the two missing (n = 2)');
is($fb->{provider}, 'oai', 'the provider of the last call');

my @bfl_before = mock_journal();
my $bf = json_of(generate('bfl', { count => 2 })) || {};
is(scalar @{ $bf->{images} || [] }, 2, 'BFL, count 2: two pictures') or diag explain $bf;
is($bf->{provider}, 'bfl', 'both from BFL');
my @bfl_new = @{ [mock_journal()] }[scalar(@bfl_before) .. $#{ [mock_journal()] }];
is(scalar(grep { ($_->{path} // '') eq '/v1/flux-pro-1.1' && ($_->{fields}{prompt} // '') eq ($bf->{prompt} // '-') } @bfl_new),
   2, 'two submissions');
my %bfl_ids = map { (($_->{query} // '') =~ /id=([^&]+)/)[0] => 1 }
              grep { ($_->{path} // '') eq '/v1/get_result' } @bfl_new;
cmp_ok(scalar(keys %bfl_ids), '>=', 2, 'two jobs polled, each by its own id');

my $gm = json_of(generate('gem', { count => 2 })) || {};
is(scalar @{ $gm->{images} || [] }, 2, 'Gemini (a content model), count 2: two pictures');
is(scalar(grep { ($_->{path} // '') =~ /:generateContent$/
                 && ((((($_->{fields}{contents} || [{}])->[0]{parts}) || [{}])->[0]{text}) // '') eq ($gm->{prompt} // '-') }
          mock_journal()), 2, 'in two calls');

# Each call has its own place, its own start under the rate and its own
# hold of the budget.
{
    my $bu = json_of(generate('count-each-budget', { count => 3 })) || {};
    is($bu->{status}, 'completed', 'count 3 at a provider whose budget holds two pictures: completed')
        or diag explain $bu;
    is(scalar @{ $bu->{images} || [] }, 2, 'with two: the third call found the budget spent');
    is(ledger($bu->{generationId}), 'reserve:-3,charge:1', 'charged two, the third given back');
    is(psql("SELECT count(*) || ':' || sum(cost)::int FROM genflow_provider_costs WHERE generation_id = '$bu->{generationId}'"),
       '2:2', 'two calls, each its own cost record');

    my $ra = json_of(generate('count-each-rate', { count => 3 })) || {};
    is(scalar @{ $ra->{images} || [] }, 3, 'count 3 at a provider of rate=2/1: three pictures');
    cmp_ok($ra->{processingTimeMs} // 0, '>=', 950,
           'its three calls took three starts of the rate, half a second apart');

    my @pl = map { json_of(api(POST => '/api/count-each-place/generate', user => $u,
                                body => { prompt => "one place $_ " . ++$n . "-$$", count => 2 },
                                headers => { Prefer => 'wait=0' })) || {} } 1 .. 2;
    my @pid = map { $_->{generationId} // 'none' } @pl;
    is(join(',', map { wait_terminal_of('neo_glitch_media', $_, 20) } @pid), 'completed,completed',
       'two generations of count 2 at a provider of max_concurrent=1: both completed');
    is(psql("SELECT count(*) FROM genflow_provider_costs WHERE generation_id IN ('$pid[0]', '$pid[1]')"), 4,
       'in four calls');
    cmp_ok(psql("SELECT extract(epoch FROM max(created_at) - min(created_at)) * 1000 FROM genflow_provider_costs "
                . "WHERE generation_id IN ('$pid[0]', '$pid[1]')"), '>=', 850,
           'one at a time: each call of 300 ms took the one place in turn');
}

# The deadline passes after the first picture (the second call is slower
# than the provider's 2 s timeout, then its retry is due past the 3 s
# deadline): completed with the one stored, charged for it alone.
my $late = json_of(generate('count-stab-late', { count => 2, prompt => "late second " . ++$n . "-$$ [fault:thenslow]" })) || {};
is($late->{status}, 'completed', 'count 2, the deadline passes after the first picture: completed')
    or diag explain $late;
is(scalar @{ $late->{images} || [] }, 1, 'with the one stored');
is(ledger($late->{generationId}), 'reserve:-2,charge:1', 'charged for it, the other given back');

# A Cancel-After that passes after the first picture: cancelled, nothing
# charged (a cancel of the request's own, as the user's is).
{
    my $r = api(POST => '/api/count-stab/generate', user => $u,
                body => { prompt => "cancel-after one " . ++$n . "-$$ [fault:thenslow]", count => 2 },
                headers => { Prefer => 'wait=15', 'Cancel-After' => 3 });
    my $ca = json_of($r) || {};
    my $cid = $ca->{generationId} // 'none';
    is(wait_terminal_of('neo_glitch_media', $cid, 15), 'cancelled', 'count 2, Cancel-After passes after the first: cancelled');
    is(psql("SELECT jsonb_array_length(images) FROM neo_glitch_media WHERE id = '$cid'"), 1,
       'its first picture had been stored');
    is(ledger($cid), 'reserve:-4,refund:4', 'refunded whole');
}

# A cancel while some pictures are stored charges nothing: only a
# completed generation delivers its pictures.
{
    my $sc = json_of(api(POST => '/api/count-stab/generate', user => $u,
                         body => { prompt => "cancel after one " . ++$n . "-$$ [fault:thenslow]", count => 3 },
                         headers => { Prefer => 'wait=0' })) || {};
    my $sid = $sc->{generationId} // 'none';
    ok(wait_for(sub { psql("SELECT COALESCE(jsonb_array_length(images), 0) FROM neo_glitch_media WHERE id = '$sid'") == 1 }, 15),
       'count 3: the first picture is stored on the row');
    is_deeply(status_of('count-stab', $sid)->{images}, [], 'its status lists none while it is open');
    is(api(POST => "/api/count-stab/cancel/$sid", user => $u)->code, 200, 'cancelled then');
    is(ledger($sid), 'reserve:-6,refund:6', 'refunded whole: nothing charged');
    is_deeply(status_of('count-stab', $sid)->{images}, [], 'its status lists no pictures');
    is(psql("SELECT genflow_status_object('neo-glitch', to_jsonb(g))::jsonb->'images' FROM neo_glitch_media g WHERE id = '$sid'"),
       '[]', 'nor does the webhooks\' payload');
}

# ---- refused before anything is reserved ----------------------------------------------
$before = balance();
my $bad = 0;
for my $case ([neo => 'neo-glitch', 5, 'above the default GenFlowMaxCount of 4'],
              [max => 'count-glitch', 7, 'above the type\'s GenFlowMaxCount 6'],
              [one => 'one-glitch', 2, 'above GenFlowMaxCount 1'],
              [zero => 'neo-glitch', 0, 'zero'],
              [big => 'neo-glitch', 11, 'above 10'],
              [str => 'neo-glitch', '2', 'a string'],
              [frac => 'neo-glitch', 2.5, 'not whole']) {
    my ($name, $path, $count, $why) = @$case;
    my $r = api(POST => "/api/$path/create", user => $u, body => { prompt => 'x', count => $count });
    ok(is_json_error($r, 400, 'VALIDATION_ERROR') && (json_of($r)->{error}{message} // '') =~ /^count\b/,
       "count $why: 400 naming count") or diag $r->decoded_content;
}
is(balance(), $before, 'nothing reserved by any of them');

my $poor = new_user('countpoor');
api(GET => '/api/quota', user => $poor);
my $pb = psql("SELECT balance FROM genflow_accounts WHERE user_id = '$poor'");
my $r402 = api(POST => '/api/count-glitch/create', user => $poor,
               body => { prompt => 'x', count => int($pb / 2) + 1 });
ok(is_json_error($r402, 402, 'INSUFFICIENT_CREDITS'), 'count x cost above the balance: 402')
    or diag $r402->decoded_content;

# ---- the ledger's rules ------------------------------------------------------------------
my $pend = json_of(api(POST => '/api/count-glitch/create', user => $u, body => { prompt => 'pending', count => 2 })) || {};
my $over = `psql -X -q -d '$ENV{GENFLOW_TEST_PG_URI}' -c "INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason) VALUES ('$u', 'charge', 5, 'neo-glitch', '$pend->{generationId}', 'test')" 2>&1`;
like($over, qr/outside 0\.\.4/, 'a charge that gives back more than was reserved is refused');
is(psql("SELECT count(*) FROM genflow_ledger WHERE generation_id = '$pend->{generationId}'"), 1,
   'nothing written');
api(POST => "/api/count-glitch/cancel/$pend->{generationId}", user => $u);
is(ledger($pend->{generationId}), 'reserve:-4,refund:4', 'a cancel before any picture refunds the whole count');

# A cancel while the pictures are being made: nothing charged, nothing
# stored (the pictures of a generation come all at once, at its end).
{
    my $sc = json_of(api(POST => '/api/slow-count/generate', user => $u,
                         body => { prompt => "cancelled pictures $$", count => 3 },
                         headers => { Prefer => 'wait=0' })) || {};
    my $sid = $sc->{generationId} // 'none';
    wait_for(sub { row($sid, 'status') eq 'processing' }, 10);
    my $cancel = api(POST => "/api/slow-count/cancel/$sid", user => $u);
    is((json_of($cancel) || {})->{status}, 'cancelled', 'count 3, cancelled while its pictures are made');
    sleep 3.5;   # past the provider's 2.5 s: its pictures came, and were dropped
    is(ledger($sid), 'reserve:-6,refund:6', 'refunded whole: nothing charged');
    is(scalar(my @f = glob("$media/neo-glitch/$sid-* $media/neo-glitch/*/$sid-*")), 0,
       'and none of its pictures stored');
    is_deeply(status_of('slow-count', $sid)->{images}, [], 'its status has no pictures');
}

# A row completed before images existed reads as one picture.
# (Read from the history: a finished generation's status is cached.)
psql("UPDATE neo_glitch_media SET images = NULL WHERE id = '$one->{generationId}'");
my ($old) = grep { $_->{generationId} eq $one->{generationId} }
            @{ (json_of(api(GET => '/api/neo-glitch/history?limit=100', user => $u)) || {})->{items} || [] };
is_deeply($old && $old->{images}, [{ url => $one->{imageUrl}, width => undef, height => undef, seed => undef }],
          'a row completed before images: its imageUrl as its one picture');

is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0,
   'genflow_check_invariants finds nothing wrong')
    or diag(psql("SELECT * FROM genflow_check_invariants(600)"));

# ---- configuration -------------------------------------------------------------------------
my $d = tempdir(CLEANUP => 1);
for my $v (0, 11) {
    my $conf = own_httpd_conf($d, free_port(), "<Location /api/x>\n GenFlowType neo-glitch\n GenFlowMaxCount $v\n</Location>\n");
    like(scalar(`/usr/sbin/apache2 -t -f '$conf' 2>&1`), qr/GenFlowMaxCount/, "apache2 -t refuses GenFlowMaxCount $v");
}

sub slurp {
    my ($f) = @_;
    return '' unless defined $f;
    open my $fh, '<:raw', $f or return '';
    local $/;
    return <$fh>;
}
