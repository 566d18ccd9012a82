# SPDX-License-Identifier: Apache-2.0
# The demo's providers from the environment (gf_demo_providers in
# scripts/lib.sh, what scripts/demo writes into providers.conf): the
# lines each key and COMFYUI_URL give, and the COMFYUI_URL shape served
# for real: Included into an httpd of this test's own, with the shipped
# workflow (conf/comfyui-txt2img.json, whose inputs the declaration's
# mapping is checked against), two mock GPUs as one group.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use JSON::PP;
use LWP::UserAgent;
use Time::HiRes qw(sleep);

plan tests => 12;

my $top = "$FindBin::Bin/..";
-e "$top/scripts/lib.sh" && -e "$top/conf/comfyui-txt2img.json" or die "no scripts/lib.sh or conf/ beside t/";
my $tmp = tempdir(CLEANUP => 1);
sub providers {
    my (%env) = @_;
    my $vars = join ' ', map { "$_='$env{$_}'" } sort keys %env;
    return scalar `env -i PATH="\$PATH" $vars bash -c '. "$top/scripts/lib.sh"; gf_demo_providers "$top"'`;
}

is(providers(), '', 'no key, no COMFYUI_URL: nothing (local alone)');
my $conf = providers(BFL_API_KEY => 'k', OPENAI_API_KEY => 'k', AIMLAPI_KEY => 'k');
like($conf, qr/^GenFlowProvider bfl bfl key_env=BFL_API_KEY max_jobs=24$/m, 'BFL_API_KEY: bfl, with max_jobs=24');
like($conf, qr/^GenFlowProvider openai openai key_env=OPENAI_API_KEY partial_images=2$/m, 'OPENAI_API_KEY: openai, streamed (previews)');
like($conf, qr/^GenFlowPromptPolicy moderation=https:\/\/api\.openai\.com\/v1\/moderations /m,
     "and OpenAI's moderation endpoint for prompts");
is(scalar(() = $conf =~ /^    GenFlowProviders aiml -> openai -> bfl -> local$/mg), 5,
   'every type: the keys in order, then local');

my @gpu;
my @pids;
for my $k (1, 2) {
    my $port = free_port();
    my $pid = fork // die;
    if (!$pid) {
        open STDOUT, '>', "$tmp/g$k.out" or die;
        exec $^X, "$FindBin::Bin/mock/comfyui.pl", $port, "$tmp/g$k", 0.3 or die;
    }
    push @pids, $pid;
    push @gpu, "http://127.0.0.1:$port";
    for (1 .. 50) { last if -s "$tmp/g$k.out"; sleep 0.1 }
}
END { kill 'TERM', @pids if @pids }
$conf = providers(COMFYUI_URL => join(',', @gpu), GEMINI_API_KEY => 'k');
like($conf, qr/^GenFlowProvider gpu1 comfyui base_url=\Q$gpu[0]\E workflow=\S+\/conf\/comfyui-txt2img\.json prompt=6\.text seed=3\.seed width=5\.width height=5\.height steps=3\.steps max_jobs=1 breaker_failures=2$/m,
     'COMFYUI_URL: gpu1 with the shipped workflow, one prompt at a time');
like($conf, qr/^GenFlowProvider gpu2 comfyui base_url=\Q$gpu[1]\E /m, 'gpu2');
like($conf, qr/^    GenFlowProviders \{gpu1 gpu2\}\@least-busy -> gemini -> local$/m, 'the GPUs first, as one group');
is(scalar(() = providers(COMFYUI_URL => $gpu[0]) =~ /^    GenFlowProviders gpu1 -> local$/mg), 5, 'one address: gpu1 alone');

# The demo's shape, served: its file Included after the site's Locations.
open my $fh, '>', "$tmp/providers.conf" or die;
print $fh providers(COMFYUI_URL => join(',', @gpu));
close $fh;
# The demo's path with a type of this file's own: the suite's httpd, on
# the same database, serves neo-glitch too and would claim rows whose
# GPUs it does not know (it sent one to local that way).
psql("SELECT genflow_create_type_table('gpu-demo', 'gpu_demo_media')");
my $u = new_user('demo_gpu');
api(GET => '/api/quota', user => $u);
grant($u, 20);
my ($dir, $base) = start_own_server(<<"CONF");
<Location /api/neo-glitch>
    GenFlowType gpu-demo
    GenFlowWait 30
</Location>
Include "$tmp/providers.conf"
CONF
END { stop_own_server($dir) if $dir }
my @got;
for my $i (1 .. 4) {
    my $g = json_of(own_api($base, POST => '/api/neo-glitch/generate', user => $u,
                            body => { prompt => "a demo fleet $i $$" }, headers => { Prefer => 'wait=30' })) // {};
    push @got, $g;
}
is(scalar(grep { ($_->{status} // '') eq 'completed' } @got), 4, 'four generations completed');
is(scalar(grep { ($_->{provider} // '') =~ /^gpu[12]$/ } @got), 4, 'all on the GPUs')
    or diag(join ' ', map { $_->{provider} // '-' } @got);
is(crash_report($dir), '', 'no child crashed');
