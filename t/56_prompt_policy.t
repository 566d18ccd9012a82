# SPDX-License-Identifier: Apache-2.0
# GenFlowPromptPolicy: a deny list (normalised: full-width letters, dotted
# spellings and zero-width characters still match) and a moderation
# endpoint of OpenAI's shape (the mock's POST /v1/moderations), checked
# before anything is reserved: a refused create, generate or retry answers
# 400 CONTENT_POLICY naming no rule, writes no row, moves no credit and
# calls no provider. The moderation call carries the key and the trace of
# the generation it lets through; its failures answer 503 (on_error=deny)
# or let the prompt pass (on_error=allow); categories= limits what refuses.
# The policy as sites write it: on a parent <LocationMatch>, in the type's
# own location, in an Included file at server level, and "off" below a
# parent. A graceful restart reads the deny list again; a list that does
# not parse stops apache2 -t with its line. The metrics count each check.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use GenFlowPNG qw(png_make);
use File::Temp qw(tempdir);
use LWP::UserAgent;
use JSON::PP;
use Time::HiRes qw(time);

plan tests => 76;

my $json = JSON::PP->new;
my $mock = $ENV{GENFLOW_MOCK_URL};
my $run = "p$$";
my $tmp = tempdir(CLEANUP => 1);
chmod 0777, $tmp;
sub write_file { open my $fh, '>:raw', $_[0] or die $!; print $fh $_[1]; close $fh }
write_file("$tmp/deny.txt", "# words a site does not serve\nNSFW\nbad word\nre:^kill( |\$)\n");
write_file("$tmp/vhost-deny.txt", "giraffe\n");
my $vport = free_port();
my $policy_conf = <<"CONF";
GenFlowPromptPolicy deny_list=$tmp/deny.txt
<Location /api/pol-inc>
    GenFlowType pol-type
    GenFlowProviders polprov
</Location>
CONF
write_file("$tmp/policy.conf", $policy_conf);

psql("SELECT genflow_create_type_table('pol-type', 'pol_type_media')");
my $u = new_user('policy');
api(GET => '/api/quota', user => $u);
grant($u, 500);

my $prov = "aiml base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=3000 breaker=off";
my $mod = "moderation=$mock/v1/moderations key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=1500";
my ($dir, $base) = start_own_server(<<"BODY");
GenFlowDailyLimit 0
GenFlowMaxActive 100
GenFlowProvider polprov $prov
GenFlowProvider polfal fal base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=3000 breaker=off
Include "$tmp/policy.conf"
<Location /api/metrics>
    SetHandler genflow-metrics
</Location>
<LocationMatch "^/api/pp-">
    GenFlowPromptPolicy deny_list=$tmp/deny.txt
</LocationMatch>
<Location /api/pp-deny>
    GenFlowType pol-type
    GenFlowProviders polprov
</Location>
<Location /api/pol-mod>
    GenFlowType pol-type
    GenFlowProviders polprov
    GenFlowPromptPolicy deny_list=$tmp/deny.txt $mod model=omni-moderation-latest on_error=deny
</Location>
<Location /api/pol-allow>
    GenFlowType pol-type
    GenFlowProviders polprov
    GenFlowPromptPolicy $mod on_error=allow categories=sexual,sexual/minors
</Location>
# The pictures of a create go to moderation too (images=on).
GenFlowProvider polgem gemini base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on timeout=3000 breaker=off
<Location /api/uploads>
    SetHandler genflow-uploads
</Location>
<Location /api/pol-img>
    GenFlowType pol-type
    GenFlowProviders polgem
    GenFlowAccept referenceImages
    GenFlowPromptPolicy $mod images=on
</Location>
<Location /api/pol-fal>
    GenFlowType pol-type
    GenFlowProviders polfal local
    GenFlowPromptPolicy off
    GenFlowWait 30
</Location>
<Location /api/pp-off>
    GenFlowType pol-type
    GenFlowProviders polprov
    GenFlowPromptPolicy off
</Location>
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    ServerName policy-vhost.test
    GenFlowPromptPolicy deny_list=$tmp/vhost-deny.txt
    <Location /api/pol-vh>
        GenFlowType pol-type
        GenFlowProviders polprov
    </Location>
</VirtualHost>
BODY

sub mock_log {
    my $res = LWP::UserAgent->new(timeout => 10)->get("$mock/_log");
    return map { $json->decode($_) } grep { length } split /\n/, $res->decoded_content;
}
sub rows_with { psql("SELECT count(*) FROM pol_type_media WHERE prompt LIKE '%$_[0]%'") }
sub balance { psql("SELECT balance FROM genflow_accounts WHERE user_id = '$u'") }
sub provider_calls { scalar grep { $_->{path} eq '/v1/images/generations' && ($_->{fields}{prompt} // '') =~ /\Q$_[0]\E/ } mock_log() }
# Bodies as UTF-8 bytes (the prompts hold characters beyond Latin-1).
sub create { own_api($base, POST => "/api/$_[0]/create", user => $u, body => encode_json({ prompt => $_[1] })) }

# A refusal: 400 CONTENT_POLICY naming no rule, nothing written or moved,
# no provider called.
sub refused {
    my ($res, $tag, $before, $what) = @_;
    my $e = (json_of($res) // {})->{error} // {};
    ok($res->code == 400 && ($e->{code} // '') eq 'CONTENT_POLICY'
       && ($e->{message} // '') eq "the prompt is not allowed by this site's content policy",
       "$what: 400 CONTENT_POLICY, one message for every rule") or diag $res->code . ' ' . $res->decoded_content;
    ok(rows_with($tag) == 0 && balance() == $before && provider_calls($tag) == 0,
       "$what: no row, no credit moved, no provider call");
}

sub refused_pictures {
    my ($res, $tag, $before, $what) = @_;
    my $e = (json_of($res) // {})->{error} // {};
    ok($res->code == 400 && ($e->{code} // '') eq 'CONTENT_POLICY'
       && ($e->{message} // '') eq "the prompt or a picture is not allowed by this site's content policy",
       "$what: 400 CONTENT_POLICY") or diag $res->code . ' ' . $res->decoded_content;
    ok(rows_with($tag) == 0 && balance() == $before && provider_calls($tag) == 0,
       "$what: no row, no credit moved, no provider call");
}

# 1. The deny list of a parent section (a <LocationMatch> over the types'
#    locations), normalised.
my $b0 = balance();
refused(create('pp-deny', "a \x{ff2e}\x{ff33}\x{ff26}\x{ff37} picture $run-a"), "$run-a", $b0,
        'full-width NSFW');
refused(own_api($base, POST => '/api/pp-deny/generate', user => $u,
                body => encode_json({ prompt => "n.s.f.w $run-b" })), "$run-b", $b0, 'n.s.f.w through generate');
refused(create('pp-deny', "ns\x{200b}fw $run-c"), "$run-c", $b0, 'a zero-width space inside');
refused(create('pp-deny', "such a BAD,  Word $run-d"), "$run-d", $b0, 'a phrase');
refused(own_api($base, POST => '/api/pp-deny/create', user => $u,
                body => encode_json({ prompt => "a cat $run-e", customPrompt => 'Kill it' })), "$run-e", $b0,
        'a pattern in customPrompt');
my $ok = create('pp-deny', "a nsfwish cat $run-f");
is($ok->code, 201, 'a prompt with no denied word is created (whole words only)');
is(balance(), $b0 - 1, 'and reserves its cost');

# 2. In an Included file at server level: every location without its own.
refused(create('pol-inc', "NSFW $run-g"), "$run-g", balance(), 'the server-level policy of an Included file');
# 3. "off" below a parent that has one.
is(create('pp-off', "nsfw $run-h")->code, 201, '"off" in a child location lets the word through');

# 3b. A virtual host's own policy, in place of the main server's.
{
    my $vbase = "http://127.0.0.1:$vport";
    my $b = balance();
    my $res = own_api($vbase, POST => '/api/pol-vh/create', user => $u, body => encode_json({ prompt => "a Giraffe $run-u" }));
    is((json_of($res) // {})->{error}{code} // $res->code, 'CONTENT_POLICY', "a virtual host's own deny list refuses");
    is(own_api($vbase, POST => '/api/pol-vh/create', user => $u, body => encode_json({ prompt => "nsfw $run-v" }))->code,
       201, "and the main server's list is not the virtual host's");
    is(create('pp-deny', "a giraffe $run-w")->code, 201, "nor the virtual host's the main server's");
}

# 4. A retry is a new generation under the policy as it is now.
{
    my $gen = json_of(create('pp-off', "nsfw retry $run-i"));
    own_api($base, POST => "/api/pp-off/cancel/$gen->{generationId}", user => $u);
    my $b = balance();
    my $res = own_api($base, POST => "/api/pp-deny/retry/$gen->{generationId}", user => $u);
    is((json_of($res) // {})->{error}{code} // $res->code, 'CONTENT_POLICY', 'a retry of a denied prompt is refused');
    is(rows_with("$run-i"), 1, 'and creates nothing');
    is(balance(), $b, 'nor reserves');
}

# 5. The moderation endpoint.
{
    my $b = balance();
    refused(create('pol-mod', "[mod:flag] a fight $run-j"), "$run-j", $b, 'flagged by the moderation endpoint');
    my ($call) = grep { $_->{path} eq '/v1/moderations' && ($_->{fields}{text} // '') =~ /\Q$run-j\E/ } mock_log();
    my $key = $ENV{GENFLOW_MOCK_KEY} // 'test-key';
    ok($call && ($call->{headers}{authorization} // '') eq "Bearer $key"
       && ($call->{fields}{model} // '') eq 'omni-moderation-latest'
       && ($call->{headers}{'content-type'} // '') =~ m{^application/json},
       'the moderation call: POST {input, model} with the key') or diag explain $call;
    refused(own_api($base, POST => '/api/pol-mod/create', user => $u,
                    body => encode_json({ prompt => "a calm sea $run-x", customPrompt => '[mod:flag] a fight' })),
            "$run-x", $b, 'a flagged customPrompt beside a clean prompt, with a deny list too');
    refused(create('pol-mod', "nsfw [mod:flag] $run-k"), "$run-k", $b, 'the deny list first');
    ok(!grep({ ($_->{fields}{text} // '') =~ /\Q$run-k\E/ } mock_log()), 'and no moderation call for what it refused');

    my $res = create('pol-mod', "a calm lake $run-l");
    is($res->code, 201, 'a prompt the endpoint does not flag is created');
    my $gen = json_of($res) // {};
    my $st = json_of(own_api($base, GET => "/api/pol-mod/status/$gen->{generationId}", user => $u)) // {};
    my ($mc) = grep { $_->{path} eq '/v1/moderations' && ($_->{fields}{text} // '') =~ /\Q$run-l\E/ } mock_log();
    my ($tid) = (($mc // {})->{headers}{traceparent} // '') =~ /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/;
    ok($tid && $tid eq ($st->{traceId} // ''), "the moderation call carries the generation's trace ($st->{traceId})")
        or diag explain $mc;

    for my $fault (qw(500 badjson)) {
        my $r = create('pol-mod', "[mod:$fault] $run-m$fault");
        my $e = (json_of($r) // {})->{error} // {};
        ok($r->code == 503 && ($e->{code} // '') eq 'SERVICE_UNAVAILABLE' && $r->header('Retry-After'),
           "on_error=deny: the endpoint's $fault answers 503 with Retry-After") or diag $r->decoded_content;
        is(rows_with("$run-m$fault"), 0, "  and nothing is created ($fault)");
    }
    my $t0 = time;
    my $r = create('pol-mod', "[mod:slow] $run-n");
    my $took = time - $t0;
    ok($r->code == 503 && $took < 4, sprintf('a slow endpoint is cut at timeout=1500 (503 after %.1f s)', $took));
    is(balance(), $b - 1, 'only the created one reserved its cost');
}

# 6. on_error=allow, categories=.
{
    is(create('pol-allow', "[mod:500] $run-o")->code, 201, 'on_error=allow: an endpoint error lets the prompt pass');
    is(create('pol-allow', "[mod:flag] $run-p")->code, 201, 'categories=: a flag in another category passes');
    my $b = balance();
    refused(create('pol-allow', "[mod:sexual] $run-q"), "$run-q", $b, 'a category asked for refuses');
}

# 6b. images=on: the create's pictures go to the moderation endpoint in
#     omni-moderation's parts, uploads as small JPEG data: URLs (the
#     endpoint cannot reach the site's media), an https source as its URL;
#     a flagged picture refuses the create as a flagged prompt does.
{
    my $upload = sub {
        my ($w, $h, $user) = @_;
        my $png = png_make($w, $h, 2, sub { ($_[0] % 256, $_[1] % 256, 120) });
        my $res = own_api($base, POST => '/api/uploads', user => $user // $u, body => $png,
                          headers => { 'Content-Type' => 'image/png' });
        return (json_of($res) // {})->{sourceImage};
    };
    my $img_call = sub {
        my ($tag) = @_;
        my ($c) = grep { $_->{path} eq '/v1/moderations' && ($_->{fields}{text} // '') =~ /\Q$tag\E/ } mock_log();
        return $c // {};
    };
    my $create_img = sub {
        my ($tag, %f) = @_;
        return own_api($base, POST => '/api/pol-img/create', user => $u, body => encode_json({ prompt => "a sky $tag", %f }));
    };
    my ($clean, $flagged, $big) = ($upload->(20, 15), $upload->(13, 10), $upload->(1200, 900));
    my $res = $create_img->("$run-u1", sourceImage => $clean);
    is($res->code, 201, 'images=on: a clean upload as the source is created') or diag $res->decoded_content;
    my @imgs = @{ $img_call->("$run-u1")->{fields}{images} || [] };
    is(scalar @imgs, 1, 'images=on: the moderation call had one picture beside the text');
    is(join(',', map { $_ // '' } @{ $imgs[0] || {} }{qw(via format width height)}), 'data,jpeg,20,15',
       'images=on: a JPEG data: URL of the upload, its size kept');
    my $b = balance();
    refused_pictures($create_img->("$run-u2", sourceImage => $flagged), "$run-u2", $b, 'a flagged upload as the source');
    refused_pictures($create_img->("$run-u3", sourceImage => $clean, referenceImages => [$upload->(16, 16), $flagged]),
                     "$run-u3", $b, 'a flagged reference picture');
    $res = $create_img->("$run-u4", sourceImage => $big);
    @imgs = @{ $img_call->("$run-u4")->{fields}{images} || [] };
    is(join('x', map { $_ // '' } @{ $imgs[0] || {} }{qw(width height)}), '512x384',
       'images=on: a large upload goes at most 512 pixels on its longer side');
    $res = $create_img->("$run-u5", sourceImage => 'https://pictures.example/cat.png');
    @imgs = @{ $img_call->("$run-u5")->{fields}{images} || [] };
    is(join(',', map { $_ // '' } @{ $imgs[0] || {} }{qw(via url)}), 'url,https://pictures.example/cat.png',
       'images=on: an https source goes as its URL');
    # Another user's upload is not read: the create refuses it after the policy.
    my $theirs = $upload->(13, 10, 'admin');
    $res = $create_img->("$run-u6", sourceImage => $theirs);
    my $e = (json_of($res) // {})->{error} // {};
    ok($res->code == 400 && ($e->{code} // '') eq 'VALIDATION_ERROR'
       && !@{ $img_call->("$run-u6")->{fields}{images} || [] },
       "images=on: another user's upload is not read, and the create answers 400 for it")
        or diag $res->decoded_content;
    # images= is off unless said: pol-mod sends the text alone.
    $res = own_api($base, POST => '/api/pol-mod/create', user => $u,
                   body => encode_json({ prompt => "a sea $run-u7", sourceImage => $flagged }));
    ok($res->code == 201 && !exists $img_call->("$run-u7")->{fields}{images},
       'without images=on the pictures are not sent') or diag $res->decoded_content;
}

# 7. A provider's own refusal, after the policy let the prompt through:
#    fal's safety checker (has_nsfw_concepts) fails the generation with
#    CONTENT_FILTERED, without falling back, refunded.
{
    my $b = balance();
    my $res = own_api($base, POST => '/api/pol-fal/generate', user => $u,
                      body => encode_json({ prompt => "[fault:nsfw] $run-t" }));
    my $st = json_of($res) // {};
    ok(($st->{status} // '') eq 'failed' && ($st->{error}{code} // '') eq 'CONTENT_FILTERED'
       && ($st->{provider} // '') eq 'polfal',
       "fal's has_nsfw_concepts: CONTENT_FILTERED at fal, no fallback to local") or diag $res->decoded_content;
    is(psql("SELECT string_agg(kind, ',' ORDER BY id) FROM genflow_ledger WHERE generation_id = '"
            . ($st->{generationId} // '00000000-0000-0000-0000-000000000000') . "'"), 'reserve,refund',
       'and refunded');
    is(balance(), $b, 'the balance is as before');
}

# 8. The metrics.
{
    my $m = own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content;
    my %v;
    $v{"$1/$2"} = $3 while $m =~ /^genflow_prompt_policy_checks_total\{check="(\w+)",outcome="(\w+)"\} (\d+)$/mg;
    cmp_ok($v{'deny_list/refused'} // 0, '>=', 8, "deny-list refusals counted ($v{'deny_list/refused'})");
    cmp_ok($v{'moderation/refused'} // 0, '>=', 3, 'moderation refusals counted');
    cmp_ok($v{'moderation/error'} // 0, '>=', 4, 'moderation errors counted');
    cmp_ok($v{'moderation/allowed'} // 0, '>=', 2, 'moderation passes counted');
    my ($n) = $m =~ /^genflow_moderation_duration_seconds_count (\d+)$/m;
    cmp_ok($n // 0, '>=', 8, 'the moderation calls\' time is a histogram');
}

# 9. The site's log says which rule; the key is never in it.
{
    my $key = $ENV{GENFLOW_MOCK_KEY} // 'test-key';
    open my $fh, '<', "$dir/error_log" or die $!;
    my $log = do { local $/; <$fh> };
    like($log, qr/GF5401: prompt refused by the deny list \(\S+deny\.txt line 2\)/, 'the log names the deny list line');
    like($log, qr/GF5402: prompt refused by the moderation endpoint \(categories: violence\)/, 'and the flagged categories');
    unlike($log, qr/\Q$key\E/, 'the key is not logged');
}

# 10. A graceful restart reads the deny list again; a broken one stops -t.
{
    my $resumed = sub { open my $fh, '<', "$dir/error_log" or die; scalar grep { /resuming normal operations/ } <$fh> };
    my $n = $resumed->();
    write_file("$tmp/deny.txt", "NSFW\nzebra\n");
    is(create('pp-deny', "a zebra $run-s")->code, 201, 'before the restart, the new entry is not read');
    system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k graceful") == 0 or die;
    ok(wait_for(sub { $resumed->() > $n }, 20), 'graceful restart');
    my $b = balance();
    refused(create('pp-deny', "a zebra $run-r"), "$run-r", $b, 'after a graceful restart, the new entry');
    write_file("$tmp/deny.txt", "# nothing yet\n");
    my $empty = `/usr/sbin/apache2 -f '$dir/httpd.conf' -t 2>&1`;
    ok($? == 0 && $empty =~ /GF5404: GenFlowPromptPolicy at \S+:\d+: deny_list=\S+deny\.txt has no entry: it refuses nothing/,
       'an empty deny list starts, with a warning') or diag $empty;
    write_file("$tmp/deny.txt", "NSFW\n\n...\n");
    my $out = `/usr/sbin/apache2 -f '$dir/httpd.conf' -t 2>&1`;
    ok($? != 0 && $out =~ /GenFlowPromptPolicy: deny_list=\S+deny\.txt: line 3: no letter or digit to match/,
       'a deny list that does not parse stops apache2 -t with its line') or diag $out;
    write_file("$tmp/deny.txt", "NSFW\n");
}

# 11. Bad lines of the directive itself.
{
    my %bad = ('GenFlowPromptPolicy' => 'off, or deny_list=FILE',
               'GenFlowPromptPolicy moderation=http://example.com/v1/moderations' => 'moderation=http://example.com',
               "GenFlowPromptPolicy deny_list=$tmp/deny.txt timeout=5" => 'timeout=5: a whole number from 100',
               "GenFlowPromptPolicy deny_list=$tmp/deny.txt on_error=allow" => 'go with moderation=URL');
    for my $line (sort keys %bad) {
        write_file("$tmp/policy.conf", "$line\n");
        my $out = `/usr/sbin/apache2 -f '$dir/httpd.conf' -t 2>&1`;
        ok($? != 0 && index($out, $bad{$line}) >= 0, "-t refuses: $line") or diag $out;
    }
    # The demo's line for a real OpenAI key (gf_demo_providers in
    # scripts/lib.sh, which scripts/demo runs), as it writes it.
    my $top = Apache::Test::vars('serverroot') . '/..';
    my ($demo) = do { open my $d, '<', "$top/scripts/lib.sh" or die $!; map { /echo "(GenFlowPromptPolicy [^"]+)"/ ? $1 : () } <$d> };
    write_file("$tmp/policy.conf", ($demo // 'missing') . "\n");
    my $out = `OPENAI_API_KEY=sk-test /usr/sbin/apache2 -f '$dir/httpd.conf' -t 2>&1`;
    ok($demo && $? == 0, "the demo's line for an OpenAI key passes apache2 -t") or diag(($demo // 'no line') . "\n$out");
    # As it was: apache2 -k stop reads the configuration too.
    write_file("$tmp/policy.conf", $policy_conf);
}

unlike(crash_report($dir), qr/\S/, 'no child crashed');
stop_own_server($dir);
ok(!-e "$dir/httpd.pid", 'the server stopped');
