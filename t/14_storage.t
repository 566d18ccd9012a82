# SPDX-License-Identifier: Apache-2.0
# Result storage: Cloudinary signed upload (the mock checks the signature),
# the provider's URL kept when Cloudinary fails, the local directory as the
# last resort for bytes, and STORAGE_ERROR with a refund when nothing can
# take them. Cloudinary runs in a second httpd on the same database, with a
# site-defined type of its own (one SQL call and one <Location>).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use LWP::UserAgent;
use JSON::PP;
use Digest::SHA qw(sha1_hex);
use Time::HiRes qw(sleep);

plan tests => 16;

my $ua = LWP::UserAgent->new;
my $mock = $ENV{GENFLOW_MOCK_URL};
sub mock_log { map { decode_json($_) } grep { length } split /\n/, $ua->get("$mock/_log")->content }

# --- STORAGE_ERROR on the main server: nothing can take the bytes ---------
my $u = new_user('storage');
api(GET => '/api/quota', user => $u);
my $dir = Apache::Test::vars('serverroot') . '/media/presets';
mkdir $dir;
chmod 0555, $dir;
my $preset = json_of(api(GET => '/api/presets/presets', user => $u))->{presets}[0]{key};
my $res = api(POST => '/api/presets/generate', user => $u, body => { preset => $preset });
my $g = json_of($res) || {};
chmod 0755, $dir;
is($g->{status}, 'failed', 'bytes that cannot be stored fail the generation');
is(($g->{error} || {})->{code}, 'STORAGE_ERROR', 'with STORAGE_ERROR');
is(psql("SELECT string_agg(kind, ',' ORDER BY id) FROM genflow_ledger WHERE generation_id = '$g->{generationId}'"),
   'reserve,refund', 'and refunded');

# --- a second server with Cloudinary ----------------------------------------
ok(defined psql("SELECT genflow_create_type_table('cloud-art', 'cloud_art_media')"),
   'a site-defined type: one SQL call');
my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;
mkdir "$tmp/media";   # startup refuses a storage directory that is missing
my $root = Apache::Test::vars('serverroot');
my $port = free_port();
own_httpd_conf($tmp, $port, <<"BODY", qw(authz_user authn_core authn_file auth_basic alias));
GenFlowStorageDir "$tmp/media"
GenFlowStorageURL /media
GenFlowCloudinary cloud=demo api_key=cloud-api-key secret_env=GENFLOW_MOCK_CLOUD_SECRET base_url=$mock insecure_loopback=on folder=genflow
GenFlowProvider aiml aiml base_url=$mock key_env=GENFLOW_MOCK_KEY insecure_loopback=on
<Location /api>
    AuthType Basic
    AuthName "b"
    AuthBasicProvider file
    AuthUserFile "$root/conf/htpasswd"
    Require valid-user
    GenFlowWait 30
</Location>
<Location /api/cloud-art>
    GenFlowType cloud-art
    GenFlowProviders local
</Location>
<Location /api/cloud-aiml>
    GenFlowType cloud-art
    GenFlowProviders aiml
</Location>
BODY
ok(system("/usr/sbin/apache2 -f '$tmp/httpd.conf' -k start") == 0, 'server with Cloudinary started');
for (1 .. 50) { last if -s "$tmp/httpd.pid"; sleep 0.1 }
my $b = "http://127.0.0.1:$port";
sub gen_b {
    my ($path, $prompt) = @_;
    my $req = HTTP::Request->new(POST => "$b/api/$path/generate");
    $req->authorization_basic($u, $u);
    $req->header('Content-Type' => 'application/json');
    $req->content(encode_json({ prompt => $prompt }));
    return decode_json($ua->request($req)->content);
}

# 1. Signed upload.
$g = gen_b('cloud-art', 'uploaded to the cloud');
is($g->{status}, 'completed', 'completed through Cloudinary');
like($g->{imageUrl}, qr{^\Q$mock\E/res/demo/image/upload/v\d+/genflow/cloud-art/([0-9a-f]{2})/[0-9a-f-]{36}-\1[0-9a-f]{14}\.png$},
     'imageUrl is the secure_url Cloudinary returned');
my ($up) = grep { $_->{path} eq '/v1_1/demo/image/upload' } mock_log();
is_deeply([sort keys %{ $up->{fields} }], [sort qw(api_key file overwrite public_id signature timestamp)],
          'multipart fields: file, api_key, timestamp, public_id, overwrite, signature');
is($up->{fields}{overwrite}, '1', 'booleans are sent as 1');
my %f = %{ $up->{fields} };
my $tosign = join '&', map { "$_=$f{$_}" } sort grep { !/^(file|api_key|signature)$/ } keys %f;
is($f{signature}, sha1_hex($tosign . $ENV{GENFLOW_MOCK_CLOUD_SECRET}), 'SHA-1 signature of the sorted parameters + secret');

# 2. Cloudinary down, provider URL available → kept.
$ua->get("$mock/_cloudinary_fail/3");
$g = gen_b('cloud-aiml', 'cloud down, url kept');
is($g->{status}, 'completed', 'Cloudinary failing after its retries does not fail the job');
is($g->{imageUrl}, "$mock/files/aiml-1.png", "the provider's URL is kept");
my $blog = do { local $/; open my $l, '<', "$tmp/error_log" or die; <$l> };
like($blog, qr/keeping the provider's temporary URL/, 'and the log says so');

# 3. Cloudinary down, bytes only → the local directory.
$ua->get("$mock/_cloudinary_fail/3");
$g = gen_b('cloud-art', 'cloud down, bytes local');
is($g->{status}, 'completed', 'bytes only: completed');
like($g->{imageUrl}, qr{^/media/cloud-art/([0-9a-f]{2})/[0-9a-f-]{36}-\1[0-9a-f]{14}\.png$}, 'stored in the local directory instead');
system("/usr/sbin/apache2 -f '$tmp/httpd.conf' -k stop");
is(psql("SELECT count(*) FROM genflow_ledger l JOIN cloud_art_media g ON g.id = l.generation_id "
        . "WHERE l.kind = 'charge'"), 3, 'three generations, three charges');
