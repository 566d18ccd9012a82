# SPDX-License-Identifier: Apache-2.0
# S3-compatible storage (GenFlowS3): results and uploads go to a bucket
# over libcurl's own SigV4 signing, checked by an S3 server that computes
# every signature again with AWS's signer (tests/s3/server.mjs, s3rver
# behind it). Pictures load from the bucket; an upload is read back from
# it for a generation; a wrong secret fails the generation with
# STORAGE_ERROR and refunds it; a slow store either still completes or,
# past its timeout, fails and refunds; a generation cancelled while its
# picture is being stored has the object deleted. One S3 server and one
# httpd (with a virtual host that has the wrong secret) for the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use GenFlowS3;
use LWP::UserAgent;
use JSON::PP;
use Time::HiRes qw(sleep time);

plan tests => 42;

my $S3 = start_s3();
ok($S3->{ready}, 'the S3 server listens');
my ($s3, $key, $secret) = @$S3{qw(url key secret)};
my $ua = LWP::UserAgent->new(timeout => 30);
sub s3_call { s3_control($S3, @_) }
sub ledger { psql("SELECT string_agg(kind, ',' ORDER BY id) FROM genflow_ledger WHERE generation_id = '$_[0]'") }
# The keys of a generation's picture among those the S3 server saw.
sub keys_of {
    my ($id, $list) = @_;
    return grep { m{^genflow/s3-art/([0-9a-f]{2})/\Q$id\E-\1[0-9a-f]{14}\.png$} } @{ $list // [] };
}
my $first_picture;

psql("SELECT genflow_create_type_table('s3-art', 's3_art_media')");
# A type of its own for pictures from uploads: the suite's server works
# the built-in types' tables too, with its own storage.
psql("SELECT genflow_create_type_table('s3-mask', 's3_mask_media')");
my $u = new_user('s3user');
api(GET => '/api/quota', user => $u);
grant($u, 100);

my $wport = free_port();
my $pport = free_port();
my $vport = free_port();
my $s3conf = "$S3->{conf} prefix=genflow/ timeout=2000 attempts=2";
my ($dir, $base) = start_own_server(<<"BODY");
GenFlowS3 $s3conf secret_file=$S3->{secret_file}
GenFlowDailyLimit 0
<Location /api/s3-art>
    GenFlowType s3-art
    GenFlowProviders local
    GenFlowWait 30
</Location>
<Location /api/s3-later>
    GenFlowType s3-art
    GenFlowProviders local
    GenFlowWait 0
</Location>
<Location /api/s3-mask>
    GenFlowType s3-mask
    GenFlowRequire sourceImage
    GenFlowProviders local
    GenFlowWait 30
</Location>
<Location /api/uploads>
    SetHandler genflow-uploads
</Location>
Listen 127.0.0.1:$wport
<VirtualHost 127.0.0.1:$wport>
    ServerName wrong.test
    GenFlowS3 $s3conf secret_file=$S3->{wrong_file}
</VirtualHost>
Listen 127.0.0.1:$pport
<VirtualHost 127.0.0.1:$pport>
    ServerName presigned.test
    GenFlowS3 $s3conf secret_file=$S3->{secret_file} presign=600
</VirtualHost>
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    ServerName virtual.test
    GenFlowS3 bucket=genflow-pics region=eu-test-1 endpoint=http://localhost:$S3->{port} style=virtual key_file=$S3->{key_file} secret_file=$S3->{secret_file} insecure_loopback=on public_url=$s3/genflow-pics
</VirtualHost>
BODY
my $wrong = "http://127.0.0.1:$wport";
my $presigned = "http://127.0.0.1:$pport";
my $virtual = "http://127.0.0.1:$vport";

sub generate {
    my ($b, $path, $body) = @_;
    my $res = own_api($b, POST => "/api/$path/generate", user => $u, body => $body,
                      headers => { Prefer => 'wait=30' });
    return json_of($res) // {};
}

# 1. A result goes to the bucket, signed; clients load it from there.
{
    s3_call(POST => '/_reset');
    my $g = generate($base, 's3-art', { prompt => 'a lighthouse in the bucket' });
    is($g->{status}, 'completed', 'a generation completes with GenFlowS3');
    my $id = $g->{generationId} // 'none';
    like($g->{imageUrl} // '', qr{^\Q$s3\E/genflow-pics/genflow/s3-art/([0-9a-f]{2})/\Q$id\E-\1[0-9a-f]{14}\.png$},
         'its imageUrl is the object in the bucket, under the prefix and the type');
    $first_picture = $g->{imageUrl};
    my $pic = $ua->get($g->{imageUrl} // "$s3/none");
    is($pic->code, 200, 'the picture loads from the bucket');
    is(substr($pic->content, 1, 3), 'PNG', 'as a PNG');
    is($pic->header('Content-Type'), 'image/png', 'stored with its content type');
    my $st = s3_call(GET => '/_stats');
    is_deeply($st->{puts}, [keys_of($id, $st->{puts})], 'one PUT, of that object');
    is_deeply($st->{refused}, [], 'every signature checked out');
    is(ledger($g->{generationId}), 'reserve,charge', 'charged once');
}

# 2. An upload goes to the bucket too; the worker reads it back, signed.
{
    s3_call(POST => '/_reset');
    my $png = $ua->get($first_picture // "$s3/none")->content;
    my $res = own_api($base, POST => '/api/uploads', user => $u, body => $png,
                      headers => { 'Content-Type' => 'image/png' });
    is($res->code, 201, 'an upload is taken');
    my $up = json_of($res) // {};
    is(psql("SELECT storage FROM genflow_uploads WHERE id = '" . ($up->{uploadId} // '00000000-0000-4000-8000-000000000000') . "'"),
       's3', 'its row says the bucket holds it');
    like($up->{url} // '', qr{^\Q$s3\E/genflow-pics/genflow/uploads/}, 'its URL is in the bucket');
    my $gets = s3_call(GET => '/_stats')->{gets};
    my $g = generate($base, 's3-mask', { sourceImage => $up->{sourceImage} });
    is($g->{status}, 'completed', 'a generation from the upload completes');
    cmp_ok(s3_call(GET => '/_stats')->{gets}, '>', $gets, 'the worker read the upload from the bucket');
    is_deeply(s3_call(GET => '/_stats')->{refused}, [], 'with a signature that checked out');
}

# 3. A wrong secret: S3 refuses the signature, the generation fails with
#    STORAGE_ERROR at once (no retry helps) and is refunded.
{
    s3_call(POST => '/_reset');
    my $g = generate($wrong, 's3-art', { prompt => 'signed with the wrong secret' });
    is($g->{status}, 'failed', 'a wrong secret fails the generation');
    is(($g->{error} // {})->{code}, 'STORAGE_ERROR', 'with STORAGE_ERROR');
    is(ledger($g->{generationId} // 'none'), 'reserve,refund', 'and refunds it');
    my $st = s3_call(GET => '/_stats');
    is_deeply($st->{refused}, ['SignatureDoesNotMatch'],
              'S3 refused the signature once: the PUT was not tried again');
    is_deeply($st->{puts}, [], 'nothing was stored');
    like(do { local $/; open my $fh, '<', "$dir/error_log"; <$fh> // '' },
         qr/\Q$g->{generationId}\E: s3 PUT answered 403 SignatureDoesNotMatch/,
         "the error log says what S3 answered");
}

# 4. A slow store: within the timeout it completes; past it (both
#    attempts) the generation fails with STORAGE_ERROR and is refunded.
{
    s3_call(POST => '/_reset');
    s3_call(POST => '/_slow?ms=1200');
    my $g = generate($base, 's3-art', { prompt => 'a slow bucket' });
    is($g->{status}, 'completed', 'a store slower than a second still completes');
    s3_call(POST => '/_slow?ms=5000');
    my $t0 = time;
    $g = generate($base, 's3-art', { prompt => 'a bucket slower than its timeout' });
    my $took = time - $t0;
    is(($g->{error} // {})->{code}, 'STORAGE_ERROR', 'a store past its timeout: STORAGE_ERROR');
    is(ledger($g->{generationId} // 'none'), 'reserve,refund', 'refunded');
    cmp_ok($took, '<', 15, sprintf('after the two attempts of 2 s, not the store\'s 5 s each (%.1f s)', $took));
    my $st = s3_call(GET => '/_stats');
    is(scalar(keys_of($g->{generationId} // 'none', $st->{putsStarted})), 2,
       'the PUT was tried twice');
    is(scalar(keys_of($g->{generationId} // 'none', $st->{puts})), 0, 'and stored nothing');
    s3_call(POST => '/_slow?ms=0');
}

# 5. Cancelled while its picture is being stored: the object is deleted.
{
    s3_call(POST => '/_reset');
    s3_call(POST => '/_slow?ms=1500');
    my $res = own_api($base, POST => '/api/s3-later/generate', user => $u,
                      body => { prompt => 'cancelled in the middle of its store' });
    my $id = (json_of($res) // {})->{generationId} // 'none';
    my $k;
    ok(wait_for(sub { ($k) = keys_of($id, s3_call(GET => '/_stats')->{putsStarted}); $k }, 20),
       'its picture is on its way to the bucket');
    $k //= 'none';
    my $c = json_of(own_api($base, POST => "/api/s3-later/cancel/$id", user => $u)) // {};
    is($c->{status}, 'cancelled', 'the generation is cancelled meanwhile');
    ok(wait_for(sub { grep { $_ eq $k } @{ s3_call(GET => '/_stats')->{deletes} } }, 20),
       'the module deleted the object');
    is($ua->get("$s3/genflow-pics/$k")->code, 404, 'the bucket has no object for it');
    is(ledger($id), 'reserve,refund', 'refunded once');
    s3_call(POST => '/_slow?ms=0');
}

# 6. presign=600: clients get a presigned GET URL (SigV4 in the query),
#    which the S3 server checks with AWS's signer; a changed one is refused.
{
    s3_call(POST => '/_reset');
    my $g = generate($presigned, 's3-art', { prompt => 'a presigned picture' });
    is($g->{status}, 'completed', 'a generation with presign= completes');
    like($g->{imageUrl} // '', qr{^\Q$s3\E/genflow-pics/genflow/s3-art/.*\?X-Amz-Algorithm=AWS4-HMAC-SHA256&.*X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}$},
         'its imageUrl is presigned for 600 s');
    my $pic = $ua->get($g->{imageUrl} // "$s3/none");
    is($pic->code, 200, 'the presigned URL loads the picture');
    is(s3_call(GET => '/_stats')->{presigned}, 1, 'its signature checked out');
    (my $bad = $g->{imageUrl} // '') =~ s/X-Amz-Expires=600/X-Amz-Expires=6000/;
    is($ua->get($bad)->code, 403, 'a URL with a longer expiry than it was signed for: 403');
}

# 7. style=virtual: the bucket is the host's first label
#    (genflow-pics.localhost here), signed as such; clients load the picture
#    from public_url.
{
    s3_call(POST => '/_reset');
    my $g = generate($virtual, 's3-art', { prompt => 'a virtual-host bucket' });
    is($g->{status}, 'completed', 'a generation with style=virtual completes');
    my $st = s3_call(GET => '/_stats');
    is($st->{virtualHost}, 1, 'its PUT went to genflow-pics.localhost');
    is_deeply($st->{refused}, [], 'signed for that host');
    is($ua->get($g->{imageUrl} // "$s3/none")->code, 200, 'and the picture loads from public_url');
}

stop_own_server($dir);
unlike(do { local $/; open my $fh, '<', "$dir/error_log"; <$fh> // '' }, qr/\Q$secret\E|\Q$key\E/,
       'the key pair appears nowhere in the error log');
