# SPDX-License-Identifier: Apache-2.0
# comfyui: a site's own ComfyUI servers, two mock GPUs (t/mock/comfyui.pl,
# one prompt at a time each) behind an httpd of this test's own: the
# workflow filled in and submitted with the module's client_id, the end
# found on the poll path (history, queue), the picture fetched from that
# server, uploads, refusals named in the log only, cancels that touch
# only their own prompt, a restarted server, a group of GPUs, and the
# declaration's checks at startup.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use GenFlowPNG qw(png_make);
use Compress::Zlib ();
use Digest::SHA qw(sha1_hex);
use File::Temp qw(tempdir);
use JSON::PP;
use LWP::UserAgent;
use Time::HiRes qw(sleep time);

plan tests => 82;

my $tmp = tempdir(CLEANUP => 1);
my (@gpu, @pids);
for my $k (1 .. 2) {
    my $port = free_port();
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$tmp/gpu$k.out" or die;
        exec $^X, "$FindBin::Bin/mock/comfyui.pl", $port, "$tmp/gpu$k", 1 or die "exec: $!";
    }
    push @pids, $pid;
    push @gpu, "http://127.0.0.1:$port";
    for (1 .. 50) { last if -s "$tmp/gpu$k.out"; sleep 0.1 }
}
END { kill 'TERM', @pids if @pids }
sub gpu_log {
    my ($k) = @_;
    my $res = LWP::UserAgent->new(timeout => 10)->get("$gpu[$k - 1]/_log");
    return map { decode_json($_) } grep { length } split /\n/, $res->content;
}
sub gpu_for {   # the requests GPU k got about a prompt: its submission first
    my ($k, $tag) = @_;
    my @log = gpu_log($k);
    my ($sub) = grep { $_->{path} eq '/api/prompt' && index($_->{fields}{_text} // '', $tag) >= 0 } @log;
    return () unless $sub;
    my $id = $sub->{fields}{prompt_id};
    return ($sub, grep { index("$_->{path}?$_->{query}" . fields_text($_), $id) >= 0 && $_ != $sub } @log);
}
sub fields_text { JSON::PP->new->canonical->encode($_[0]{fields} // {}) }

# The site's workflow, in ComfyUI's API format (a text-to-image graph with
# a LoadImage for pictures to start from).
my $wf = {
    '3'  => { class_type => 'KSampler', inputs => { seed => 1, steps => 20, cfg => 7, sampler_name => 'euler',
              scheduler => 'normal', denoise => 1, model => ['4', 0], positive => ['6', 0], negative => ['7', 0],
              latent_image => ['5', 0] } },
    '4'  => { class_type => 'CheckpointLoaderSimple', inputs => { ckpt_name => 'flux1-dev.safetensors' } },
    '5'  => { class_type => 'EmptyLatentImage', inputs => { width => 512, height => 512, batch_size => 1 } },
    '6'  => { class_type => 'CLIPTextEncode', inputs => { text => 'placeholder', clip => ['4', 1] } },
    '7'  => { class_type => 'CLIPTextEncode', inputs => { text => 'blurry, watermark', clip => ['4', 1] } },
    '8'  => { class_type => 'VAEDecode', inputs => { samples => ['3', 0], vae => ['4', 2] } },
    '9'  => { class_type => 'SaveImage', inputs => { filename_prefix => 'genflow', images => ['8', 0] } },
    '10' => { class_type => 'LoadImage', inputs => { image => 'example.png' } },
};
open my $wfh, '>', "$tmp/flux.json" or die;
print $wfh JSON::PP->new->canonical->encode($wf);
close $wfh;
my $map = "workflow=$tmp/flux.json prompt=6.text seed=3.seed width=5.width height=5.height steps=3.steps image=10.image";
# Image to image: the LoadImage feeds the sampler through a VAEEncode (the
# server then checks that the uploaded file is there).
my $i2i = { %$wf, '11' => { class_type => 'VAEEncode', inputs => { pixels => ['10', 0], vae => ['4', 2] } } };
$i2i->{3} = { %{ $wf->{3} }, inputs => { %{ $wf->{3}{inputs} }, latent_image => ['11', 0], denoise => 0.6 } };
delete $i2i->{5};
open $wfh, '>', "$tmp/i2i.json" or die;
print $wfh JSON::PP->new->canonical->encode($i2i);
close $wfh;
# Inpainting: the source through VAEEncodeForInpaint with a LoadImageMask.
my $inpaint = { %$i2i, '12' => { class_type => 'LoadImageMask', inputs => { image => 'mask.png', channel => 'red' } } };
$inpaint->{11} = { class_type => 'VAEEncodeForInpaint',
                   inputs => { pixels => ['10', 0], vae => ['4', 2], mask => ['12', 0], grow_mask_by => 6 } };
open $wfh, '>', "$tmp/inpaint.json" or die;
print $wfh JSON::PP->new->canonical->encode($inpaint);
close $wfh;

# A type of this file's own: the suite's httpd, on the same database,
# serves neo-glitch too and would claim rows whose GPUs it does not know.
psql("SELECT genflow_create_type_table('gpu-art', 'gpu_art_media')");
my $u = new_user('gpu');
api(GET => '/api/quota', user => $u);
grant($u, 300);
my ($dir, $base) = start_own_server(<<"CONF");
LogLevel warn genflow:debug
# The same group written once in the parent <Location /api>, for a type
# below that names no chain of its own (the others here name theirs, in
# sections that come after this one, as httpd merges them in order).
<Location /api>
    GenFlowProviders {gpa gpb}\@least-busy -> local
</Location>
GenFlowWorkers 4
GenFlowProvider gpu1 comfyui base_url=$gpu[0] $map timeout=3000 max_bytes=1048576 breaker=off max_jobs=1
GenFlowProvider gpu2 comfyui base_url=$gpu[1] $map timeout=3000 breaker=off max_jobs=1
# The group's members: a server that is down opens its circuit at once.
GenFlowProvider gpa comfyui base_url=$gpu[0] $map timeout=3000 breaker_failures=1 max_jobs=1
GenFlowProvider gpb comfyui base_url=$gpu[1] $map timeout=3000 breaker_failures=1 max_jobs=1
# Declared only, for its settings: a slower pace of polls.
GenFlowProvider gpoll comfyui base_url=$gpu[1] $map poll=250
GenFlowProvider gpui comfyui base_url=$gpu[0] workflow=$tmp/i2i.json prompt=6.text seed=3.seed image=10.image timeout=3000 breaker=off
# Several pictures in one prompt: the empty latent's batch (batch=).
GenFlowProvider gpubatch comfyui base_url=$gpu[1] $map batch=5.batch_size timeout=3000 breaker=off
# An inpaint: the source and its mask (mask=), white where to paint.
GenFlowProvider gpumask comfyui base_url=$gpu[0] workflow=$tmp/inpaint.json prompt=6.text seed=3.seed image=10.image mask=12.image timeout=3000 breaker=off
<Location /api/gpu-mask>
    GenFlowType gpu-art
    GenFlowProviders gpumask
    GenFlowAccept mask
    GenFlowWait 0
</Location>
<Location /api/gpu-batch>
    GenFlowType gpu-art
    GenFlowProviders gpubatch
    GenFlowWait 0
</Location>
<Location /api/gpu-i2i>
    GenFlowType gpu-art
    GenFlowProviders gpui
    GenFlowMaxRetries 1
    GenFlowWait 0
</Location>
<Location /api/gpu>
    GenFlowType gpu-art
    GenFlowProviders gpu1 -> local
    GenFlowMaxRetries 1
    GenFlowWait 0
</Location>
<Location /api/gpu-only>
    GenFlowType gpu-art
    GenFlowProviders gpu1
    GenFlowMaxRetries 1
    GenFlowWait 0
</Location>
<Location /api/gpus>
    GenFlowType gpu-art
    GenFlowProviders {gpa gpb}\@least-busy -> local
    GenFlowWait 0
</Location>
<Location /api/uploads>
    SetHandler genflow-uploads
</Location>
<Location /api/admin>
    SetHandler genflow-admin
</Location>
<Location /api/pgpus>
    GenFlowType gpu-art
    GenFlowWait 0
</Location>
# A virtual host with GPUs of its own (the first host stays the default).
<VirtualHost *:*>
    ServerName localhost
</VirtualHost>
<VirtualHost *:*>
    ServerName gpus.test
    GenFlowProvider vga comfyui base_url=$gpu[0] $map timeout=3000 max_jobs=1
    GenFlowProvider vgb comfyui base_url=$gpu[1] $map timeout=3000 max_jobs=1
    <Location /api/vgpus>
        GenFlowType gpu-art
        GenFlowProviders {vga vgb}\@least-busy
        GenFlowWait 0
    </Location>
</VirtualHost>
CONF
END { stop_own_server($dir) if $dir }

my $n = 0;
sub gen {
    my ($path, $prompt, %body) = @_;
    my $tag = 'c' . ++$n . "-$$";
    my $g = json_of(own_api($base, POST => "/api/$path/generate", user => $u,
                            body => { prompt => "$prompt $tag", %body })) // {};
    return ($g, $tag);
}
sub row { my ($id, $col) = @_; psql("SELECT $col FROM gpu_art_media WHERE id = '$id'") }
sub wait_terminal {
    my ($id, $secs) = @_;
    wait_for(sub { row($id, 'status') =~ /^(completed|failed|cancelled)$/ }, $secs // 30);
    return row($id, 'status');
}
sub ledger {
    psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger WHERE generation_id = '$_[0]'");
}
sub own_log { local $/; open my $fh, '<', "$dir/error_log" or return ''; <$fh> }

# 1. A prompt on one GPU.
my ($g, $tag) = gen('gpu', 'a lighthouse', aspectRatio => '16:9', parameters => { seed => 77, num_inference_steps => 12 });
is(wait_terminal($g->{generationId}), 'completed', 'comfyui: queued, polled, completed');
is(row($g->{generationId}, 'provider'), 'gpu1', 'by gpu1');
my ($sub, @rest) = gpu_for(1, $tag);
ok($sub, 'the prompt was submitted to gpu1');
my $graph = $sub->{fields}{prompt} || {};
is($sub->{fields}{client_id}, 'mod_genflow', "with the module's own client_id");
like($sub->{fields}{prompt_id} // '', qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
     'and a prompt_id of its own (a lowercase UUID)');
is(row($g->{generationId}, 'provider_job_id'), $sub->{fields}{prompt_id}, 'recorded as the job id');
like($graph->{6}{inputs}{text}, qr/a lighthouse \Q$tag\E/, 'the prompt went into 6.text');
is($graph->{7}{inputs}{text}, 'blurry, watermark', "the workflow's other inputs are kept");
is($graph->{3}{inputs}{seed}, 77, 'the seed into 3.seed');
is($graph->{3}{inputs}{steps}, 12, 'parameters.num_inference_steps into 3.steps');
is("$graph->{5}{inputs}{width}x$graph->{5}{inputs}{height}", '1344x768', 'the size into 5.width and 5.height (16:9)');
is_deeply($graph->{3}{inputs}{model}, ['4', 0], 'links between nodes are kept');
my @hist = grep { $_->{path} =~ m{^/api/history/} } @rest;
ok(@hist >= 1 && (grep { $_->{method} eq 'GET' && $_->{path} eq '/api/queue' && $_->{at} < $hist[0]{at} } gpu_log(1)),
   'its end was found by polling the queue, then its history');
my @views = grep { $_->{path} eq '/api/view' } gpu_log(1);
ok((grep { $_->{query} =~ /^filename=genflow_\d{5}_\.png&subfolder=&type=output$/ } @views),
   "the output picture was fetched with /api/view (type=output; the temp preview is skipped)");
my $img = LWP::UserAgent->new->get(base_url() . (row($g->{generationId}, 'image_url') // '/none'));
is(substr($img->content, 1, 3), 'PNG', 'and stored, served by Apache');
is(ledger($g->{generationId}), 'reserve:-1,charge:0', 'charged once');

# 1b. Several pictures: one prompt with the batch, every output picture
# fetched (while both GPUs live: section 7 kills one of them).
{
    my ($bg, $btag) = gen('gpu-batch', 'three moons', count => 3);
    is(wait_terminal($bg->{generationId}), 'completed', 'comfyui, count 3: completed');
    my $imgs = decode_json(row($bg->{generationId}, 'images') || '[]');
    is(scalar @$imgs, 3, 'three pictures, each fetched from /view');
    my ($bsub, @brest) = gpu_for(2, $btag);
    is($bsub && $bsub->{fields}{prompt}{5}{inputs}{batch_size}, 3, 'one prompt, its batch_size 3');
    is(ledger($bg->{generationId}), 'reserve:-3,charge:0', 'charged three pictures');
}

# 2. From an upload: sent first with /api/upload/image, then named in 10.image.
my $png = do {
    my $raw = join '', map { "\0" . pack('C3', 10, $_, 90) x 20 } 0 .. 14;
    my $chunk = sub { pack('N', length $_[1]) . $_[0] . $_[1] . pack('N', Compress::Zlib::crc32($_[0] . $_[1])) };
    "\x89PNG\r\n\x1a\n" . $chunk->('IHDR', pack('NNC5', 20, 15, 8, 2, 0, 0, 0))
        . $chunk->('IDAT', Compress::Zlib::compress($raw)) . $chunk->('IEND', '');
};
my $up = do {
    my $req = HTTP::Request->new(POST => "$base/api/uploads");
    $req->authorization_basic($u, $u);
    $req->content($png);
    $req->header('Content-Type' => 'image/png');
    json_of(LWP::UserAgent->new->request($req)) // {};
};
($g, $tag) = gen('gpu-i2i', 'as a painting', sourceImage => $up->{sourceImage});
is(wait_terminal($g->{generationId}), 'completed', 'from an upload, image to image: completed (the server found the file)');
($sub) = gpu_for(1, $tag);
my ($upl) = grep { $_->{path} eq '/api/upload/image' && ($_->{fields}{_image} || {})->{filename} eq "$g->{generationId}.png" } gpu_log(1);
ok($upl, 'the picture was uploaded first (/api/upload/image)');
is(join(',', map { $upl->{fields}{$_} // '-' } qw(type subfolder overwrite)), 'input,genflow,true',
   'into input/genflow, overwriting');
is(($upl->{fields}{_image} || {})->{sha1}, sha1_hex($png), 'the uploaded bytes, whole');
is($sub->{fields}{prompt}{10}{inputs}{image}, "genflow/$g->{generationId}.png", 'and named in 10.image');
is($sub->{fields}{prompt}{3}{inputs}{steps}, 20, "without num_inference_steps the workflow's own steps stay");

# 2b. An inpaint: the mask (transparent on the left half) uploaded too,
# white there, named in the LoadImageMask's 12.image.
{
    my $mask = png_make(20, 15, 6, sub { (0, 0, 0, $_[0] < 10 ? 0 : 255) });
    my $req = HTTP::Request->new(POST => "$base/api/uploads");
    $req->authorization_basic($u, $u);
    $req->content($mask);
    $req->header('Content-Type' => 'image/png');
    my $mup = json_of(LWP::UserAgent->new->request($req)) // {};
    my ($mg, $mtag) = gen('gpu-mask', 'a door', sourceImage => $up->{sourceImage}, mask => $mup->{sourceImage});
    is(wait_terminal($mg->{generationId}), 'completed', 'comfyui, with a mask: completed (both files found)');
    my ($msub) = gpu_for(1, $mtag);
    my ($mupl) = grep { $_->{path} eq '/api/upload/image'
                        && ($_->{fields}{_image} || {})->{filename} eq "$mg->{generationId}-mask.png" } gpu_log(1);
    is(($mupl->{fields}{_image}{png} || {})->{white}, 150, 'the mask uploaded white on the half to change');
    is($msub->{fields}{prompt}{12}{inputs}{image}, "genflow/$mg->{generationId}-mask.png", 'and named in 12.image');
    is($msub->{fields}{prompt}{10}{inputs}{image}, "genflow/$mg->{generationId}.png", 'the source in 10.image');
}

# 3. A workflow the server refuses: permanent, the node named in the log only.
($g, $tag) = gen('gpu-only', 'a checkpoint [fault:nodeerror]');
is(wait_terminal($g->{generationId}), 'failed', 'node_errors: failed');
my $st = json_of(own_api($base, GET => "/api/gpu-only/status/$g->{generationId}", user => $u)) // {};
is($st->{error}{code}, 'VALIDATION_ERROR', 'VALIDATION_ERROR');
unlike($st->{error}{message} // '', qr/ckpt_name|CheckpointLoader|safetensors/, "the user's answer does not name the node");
like(own_log(), qr/provider gpu1: the server refused the workflow: 4 \(CheckpointLoaderSimple\): Value not in list: ckpt_name/,
     'the error_log does');
is(scalar(grep { $_->{path} eq '/api/prompt' } gpu_for(1, $tag)), 1, 'not submitted again');
is(ledger($g->{generationId}), 'reserve:-1,refund:1', 'refunded');
($g, $tag) = gen('gpu-only', 'a crash [fault:execerror]');
is(wait_terminal($g->{generationId}) . ' ' . row($g->{generationId}, 'error_code'), 'failed API_ERROR',
   'an execution_error: failed for good');
like(own_log(), qr/provider gpu1: prompt \S+ ended in error: node 3 \(KSampler\): CUDA out of memory/,
     'the failing node is named in the log');
# The fault matrix of a submission and of the picture's fetch.
my %fault = ('[fault:500]' => 2, '[fault:429]' => 2, '[fault:badjson]' => 2, '[fault:truncated]' => 2,
             '[fault:slow]' => 2, '[fault:bigview]' => 1);
my %fid;
for my $f (sort keys %fault) { my ($fg) = gen('gpu-only', "fault $f"); $fid{$f} = [$fg->{generationId}, $n] }
for my $f (sort keys %fault) {
    my ($id, $k) = @{ $fid{$f} };
    is(wait_terminal($id, 40) . ' ' . scalar(grep { $_->{path} eq '/api/prompt' && index($_->{fields}{_text} // '', "c$k-$$") >= 0 } gpu_log(1)),
       "failed $fault{$f}", "comfyui $f: failed, submitted $fault{$f} time(s), refunded");
}
like(row($fid{'[fault:bigview]'}[0], 'error_message'), qr/larger than 1048576 bytes/, 'an oversized picture is cut at max_bytes');
is(psql("SELECT count(*) FROM gpu_art_media WHERE id IN (" . join(',', map { "'$_->[0]'" } values %fid)
        . ") AND credits_charged = 0"), scalar(keys %fault), 'none charged');
($g, $tag) = gen('gpu', 'no picture [fault:noout]');
is(wait_terminal($g->{generationId}) . ' ' . row($g->{generationId}, 'provider'), 'completed local',
   'a prompt with no output picture: the chain went on');

# 4. Cancels: a queued prompt is deleted from the queue; a running one is
# interrupted by its own id; neither touches the other's.
# Long enough that it still runs when the cancel comes on a loaded
# machine (the interrupt ends it at once).
my ($g1, $t1) = gen('gpu-only', 'a long one [run:15]');
wait_for(sub { scalar(my @x = gpu_for(1, $t1)) }, 10);
my ($g2, $t2) = gen('gpu-only', 'queued behind [run:1]');
# (max_jobs=1 keeps the second in this site's line: it reaches the GPU
# only when the first ends. Cancel it there, then the running one.)
my $c = json_of(own_api($base, POST => "/api/gpu-only/cancel/$g2->{generationId}", user => $u)) // {};
is($c->{status}, 'cancelled', 'the second, waiting in the line, is cancelled');
is(scalar(my @none = gpu_for(1, $t2)), 0, 'it never reached the GPU');
# Running on the GPU itself, not queued there behind a prompt of an
# earlier case that a loaded machine has not finished yet (its cancel
# would then rightly interrupt nothing).
my $pid1;
ok(wait_for(sub {
       $pid1 = row($g1->{generationId}, 'provider_job_id') or return 0;
       my $q = eval { decode_json(LWP::UserAgent->new(timeout => 5)->get("$gpu[0]/api/queue")->content) } || {};
       scalar grep { ref $_ eq 'ARRAY' && ($_->[1] // '') eq $pid1 } @{ $q->{queue_running} || [] } }, 30),
   'the first is running on the GPU');
$c = json_of(own_api($base, POST => "/api/gpu-only/cancel/$g1->{generationId}", user => $u)) // {};
is($c->{status}, 'cancelled', 'the running one is cancelled');
ok(wait_for(sub { grep { $_->{path} eq '/api/interrupt' } gpu_log(1) }, 10), 'an interrupt was sent');
my @ints = grep { $_->{path} eq '/api/interrupt' } gpu_log(1);
is(scalar(grep { !$_->{fields}{_body} || ($_->{fields}{prompt_id} // '') ne $pid1 } @ints), 0,
   'every interrupt named its own prompt (never one without an id)');
ok((grep { $_->{method} eq 'POST' && $_->{path} eq '/api/queue' && ($_->{fields}{delete} || [])->[0] eq $pid1 } gpu_log(1)),
   'and the delete from the queue went first');
is(ledger($g1->{generationId}), 'reserve:-1,refund:1', 'refunded');

# A prompt queued on the server behind another site's: its cancel deletes
# it from the queue and interrupts nothing.
my $other = LWP::UserAgent->new->post("$gpu[1]/api/prompt", 'Content-Type' => 'application/json',
    Content => encode_json({ prompt => { '6' => { class_type => 'CLIPTextEncode', inputs => { text => 'another client [run:4]' } } },
                             client_id => 'someone-else' }));
my ($g3, $t3) = gen('gpus', 'behind a stranger');
my $k3;
ok(wait_for(sub { for my $k (1, 2) { if (scalar(my @x = gpu_for($k, $t3))) { $k3 = $k; return 1 } } 0 }, 10),
   'a group prompt reached a GPU')
    or diag(join '', grep { /gpa|gpb|\Q$g3->{generationId}\E/ } split /^/, own_log());
if (($k3 // 0) == 2) {
    $c = json_of(own_api($base, POST => "/api/gpus/cancel/$g3->{generationId}", user => $u)) // {};
    my $p3 = row($g3->{generationId}, 'provider_job_id');
    sleep 0.5;
    ok((grep { $_->{method} eq 'POST' && $_->{path} eq '/api/queue' && ($_->{fields}{delete} || [])->[0] eq $p3 } gpu_log(2)),
       "queued behind another client's prompt: deleted from gpu2's queue");
    is(scalar(grep { $_->{path} eq '/api/interrupt' } gpu_log(2)), 0, "and the stranger's running prompt was not interrupted");
}
else {
    is(scalar(grep { $_->{path} eq '/api/interrupt' } gpu_log(2)), 0,
       "least-busy chose the idle gpa; the stranger's prompt on the other GPU was left alone");
    is(row($g3->{generationId}, 'provider') // 'gpa', 'gpa', 'by gpa');
    wait_terminal($g3->{generationId});
}

# 5. A server that restarts forgets its queue: the prompt is lost there
# and submitted again (nothing of the first will come), one charge.
($g, $tag) = gen('gpu', 'forgotten [run:3]');
wait_for(sub { scalar(my @x = gpu_for(1, $tag)) }, 15);
LWP::UserAgent->new->post("$gpu[0]/_restart");
is(wait_terminal($g->{generationId}), 'completed', 'after the restart: completed');
is(row($g->{generationId}, 'provider'), 'gpu1', 'by the same server, which is up again');
is(scalar(grep { $_->{path} eq '/api/prompt' && index($_->{fields}{_text} // '', $tag) >= 0 } gpu_log(1)), 2,
   'submitted again once the server had forgotten it');
is(ledger($g->{generationId}), 'reserve:-1,charge:0', 'charged once');

# 6. A group of GPUs: six prompts at once use both, half of them through
# the group written once in the parent <Location /api>.
my @ids;
for (1 .. 6) { my ($gg) = gen($_ % 2 ? 'gpus' : 'pgpus', 'the fleet [run:1]'); push @ids, $gg->{generationId} }
wait_terminal($_, 40) for @ids;
is(psql("SELECT count(*) FROM gpu_art_media WHERE id IN (" . join(',', map { "'$_'" } @ids) . ") AND status = 'completed'"),
   6, 'six group prompts completed');
my %by = map { (row($_, 'provider') // '-') => 1 } @ids;
ok($by{gpa} && $by{gpb}, 'on both GPUs (' . join(',', sort keys %by) . ')');
ok(!$by{local}, 'none fell back to local while both GPUs were busy: they waited in the line');
# max_jobs=1: each GPU got a prompt only once its previous one had ended,
# so nothing waited in ComfyUI's memory (its queue, as the mock keeps it).
for my $k (1, 2) {
    open my $fh, '<', "$tmp/gpu$k/queue.json" or die;
    my $q = decode_json(do { local $/; <$fh> });
    my ($free, $waited) = (0, 0);
    for my $e (grep { !$_->{deleted} && $_->{text} =~ /the fleet/ } @$q) {
        $waited++ if $e->{queued} < $free - 0.05;
        my $start = $e->{queued} > $free ? $e->{queued} : $free;
        $free = $start + $e->{secs};
    }
    is($waited, 0, "GPU $k: no prompt of the group waited in the server's own queue");
}
# The virtual host's own group, on the same GPUs.
@ids = ();
for (1 .. 4) {
    my $tag = 'c' . ++$n . "-$$";
    my $g = json_of(own_api($base, POST => '/api/vgpus/generate', user => $u, headers => { Host => 'gpus.test' },
                            body => { prompt => "the vhost herd [run:1] $tag" })) // {};
    push @ids, $g->{generationId};
}
wait_terminal($_, 40) for grep { defined } @ids;
%by = map { (row($_, 'provider') // '-') => 1 } grep { defined } @ids;
is(psql("SELECT count(*) FROM gpu_art_media WHERE id IN (" . join(',', map { "'$_'" } grep { defined } @ids) . ") AND status = 'completed'"),
   4, "four prompts of the virtual host's group completed");
ok($by{vga} && $by{vgb} && keys(%by) == 2, "on the virtual host's own members (" . join(',', sort keys %by) . ')');
# While both GPUs were busy the waiting rows were not claimed over and
# over (a row comes back to a full GPU at most about once a second).
{
    my $log = own_log();
    my $churn = 0;
    for my $id (grep { defined } @ids) { $churn += () = $log =~ /GF1401: deferred [^\n]*id=\Q$id\E/g }
    cmp_ok($churn, '<', 20, "the virtual host's waiting rows were deferred $churn times, not claimed in a loop");
}

# 7. A GPU that goes down mid-prompt: its prompt is submitted to the
# other member of the group and charged once.
($g, $tag) = gen('gpus', 'on a dying GPU [run:4]');
my $k;
ok(wait_for(sub { for my $i (1, 2) { if (scalar(my @x = gpu_for($i, $tag))) { $k = $i; return 1 } } 0 }, 15),
   'a group prompt is running on a GPU');
kill 'KILL', $pids[$k - 1];
waitpid $pids[$k - 1], 0;
system("pkill -KILL -f 'comfyui.pl " . ($gpu[$k - 1] =~ /:(\d+)$/)[0] . "'");
is(wait_terminal($g->{generationId}, 40), 'completed', 'the GPU died: completed all the same');
is(row($g->{generationId}, 'provider'), $k == 1 ? 'gpb' : 'gpa', 'by the other GPU of the group');
is(ledger($g->{generationId}), 'reserve:-1,charge:0', 'charged once');
# With one GPU dead (its circuit open) and the other busy, the group's
# prompts wait for the living one: a full member is worth waiting for, a
# broken one is not (no fallback to local through the dead one).
my $living = $k == 1 ? 'gpb' : 'gpa';
@ids = ();
for (1 .. 3) { my ($gg) = gen('gpus', 'after the death [run:1]'); push @ids, $gg->{generationId} }
wait_terminal($_, 40) for @ids;
is(join(',', map { (row($_, 'status') // '-') . ':' . (row($_, 'provider') // '-') } @ids),
   join(',', ("completed:$living") x 3), 'all three waited for the living GPU and completed there')
    or diag(join("\n", "the rows (attempts, retries, chain index):",
                 (map { "  $_: " . row($_, "attempts || ' ' || retry_count || ' ' || chain_index") } @ids),
                 "what the error log says of them and of the GPUs' circuits:",
                 grep { my $l = $_; grep({ index($l, $_) >= 0 } @ids) || $l =~ /circuit|breaker|GF1401/ }
                      split /\n/, own_log()));

# 8. The declaration is checked at startup.
for my $case (['prompt=99.text', qr/prompt=99\.text: the workflow has no such node input/],
              ['image=6.image', qr/image=6\.image: the workflow has no such node input/],
              ['poll=10', qr/poll=10: milliseconds between two polls of a job, 50 to 60000/]) {
    my $d2 = tempdir(CLEANUP => 1);
    my $conf = own_httpd_conf($d2, free_port(), "GenFlowProvider bad comfyui base_url=$gpu[0] $map $case->[0]\n");
    my $out = `/usr/sbin/apache2 -t -f '$conf' 2>&1`;
    like($out, $case->[1], "apache2 -t refuses $case->[0]");
}
{
    my $d2 = tempdir(CLEANUP => 1);
    my $conf = own_httpd_conf($d2, free_port(), "GenFlowProvider bad openai key_env=HOME poll=100\n");
    like(scalar(`/usr/sbin/apache2 -t -f '$conf' 2>&1`), qr/'openai' provider answers at once; poll= is for the kinds whose jobs are polled/,
         'apache2 -t refuses poll= for a provider that answers at once');
}
# The pace of each one's polls, as an administrator sees it.
{
    my $res = own_api($base, GET => '/api/admin/providers', user => 'admin');
    my %p = map { $_->{name} => $_ } @{ (json_of($res) // {})->{items} || [] };
    is(join(',', map { ($p{$_}{kind} // '-') . ':' . ($p{$_}{pollMs} // 'null') } qw(gpu1 gpoll local)),
       'comfyui:100,comfyui:250,local:null', 'pollMs: comfyui polls every 100 ms unless poll= says');
}
open my $bad, '>', "$tmp/ui.json" or die;
print $bad encode_json({ nodes => [], links => [] });   # the UI's format, not the API's
close $bad;
my $d3 = tempdir(CLEANUP => 1);
my $conf = own_httpd_conf($d3, free_port(), "GenFlowProvider bad comfyui base_url=$gpu[0] workflow=$tmp/ui.json prompt=6.text\n");
like(scalar(`/usr/sbin/apache2 -t -f '$conf' 2>&1`), qr/API format/, "a workflow saved in the UI's format is refused, saying why");
is(crash_report($dir), '', 'no child crashed');
