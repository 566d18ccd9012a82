# SPDX-License-Identifier: Apache-2.0
# Upload retention (GenFlowUploadRetention): an upload no create has named
# for the retention is deleted by the engine's sweep, row and stored
# picture, in a local directory and in an S3 bucket; one a create used
# lately stays; and a stored upload that no row names (a child killed
# between the store and the row) is found in the store and removed once it
# is older than the retention. One S3 server and two httpds for the file.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
$GenFlowTest::wait_step = 0.2;   # each look of its waits runs psql
use GenFlowS3;
use LWP::UserAgent;
use HTTP::Request;
use Time::HiRes qw(sleep time);

plan tests => 22;

my $S3 = start_s3();
ok($S3->{ready}, 'the S3 server listens');
my $ua = LWP::UserAgent->new(timeout => 30);
my $media = Apache::Test::vars('serverroot') . '/media';

sub has_row { psql("SELECT count(*) FROM genflow_uploads WHERE id = '$_[0]'") == 1 }
sub uuid { lc join '-', map { unpack 'H*', pack 'C*', map { int rand 256 } 1 .. $_ } 4, 2, 2, 2, 6 }

psql("SELECT genflow_create_type_table('keep-art', 'keep_art_media')");
my $u = new_user('keep');
api(GET => '/api/quota', user => $u);
grant($u, 50);

psql("SELECT genflow_create_type_table('keep-s3', 'keep_s3_media')");
# Each server mounts a type of its own: the other's workers would not find
# an upload of a store they do not have.
sub body {
    my ($type) = @_;
    return <<"BODY";
GenFlowUploadRetention 8
GenFlowDailyLimit 0
<Location /api/$type>
    GenFlowType $type
    GenFlowRequire sourceImage
    GenFlowProviders local
    GenFlowWait 30
</Location>
<Location /api/uploads>
    SetHandler genflow-uploads
</Location>
BODY
}
my ($ldir, $local) = start_own_server(body('keep-art'));
my ($sdir, $s3) = start_own_server("GenFlowS3 $S3->{conf} secret_file=$S3->{secret_file}\n" . body('keep-s3'));

# A picture to upload: the local provider's, from a first generation.
my $png = do {
    my $g = json_of(api(POST => '/api/neo-glitch/generate', user => $u, body => { prompt => 'a source' },
                        headers => { Prefer => 'wait=30' })) // {};
    $ua->get(base_url() . ($g->{imageUrl} // '/none'))->content;
};
sub upload {
    my ($b) = @_;
    return json_of(own_api($b, POST => '/api/uploads', user => $u, body => $png,
                           headers => { 'Content-Type' => 'image/png' })) // {};
}
# As if nobody had used the upload for an hour.
sub age { psql("UPDATE genflow_uploads SET last_used_at = now() - interval '1 hour' WHERE id = '$_[0]'") }
# As if used a minute from now: the retention of 8 s is shorter than these
# steps can take on a loaded machine (a sanitizer build), so the upload
# that must stay is put out of its reach, and only the aged one is due.
sub fresh { psql("UPDATE genflow_uploads SET last_used_at = now() + interval '1 minute' WHERE id = '$_[0]'") }

# 1. In the local directory: the unused upload goes, the used one stays.
{
    my ($a, $b) = (upload($local), upload($local));
    ok($a->{uploadId} && $b->{uploadId}, 'two uploads to the local directory');
    my $g = json_of(own_api($local, POST => '/api/keep-art/generate', user => $u,
                            body => { sourceImage => $a->{sourceImage} })) // {};
    is($g->{status}, 'completed', 'a generation from the first');
    is(psql("SELECT last_used_at > created_at FROM genflow_uploads WHERE id = '$a->{uploadId}'"), 't',
       'the create marked it used');
    fresh($a->{uploadId});
    age($b->{uploadId});
    ok(wait_for(sub { !has_row($b->{uploadId}) }, 20), 'the upload unused for an hour is deleted');
    ok(!-e "$media/uploads/$b->{uploadId}.png", 'its file too');
    ok(has_row($a->{uploadId}) && -e "$media/uploads/$a->{uploadId}.png",
       'the one used just now stays, row and file');
    ok(is_json_error(own_api($local, POST => '/api/keep-art/generate', user => $u,
                             body => { sourceImage => $b->{sourceImage} }), 400, 'VALIDATION_ERROR'),
       'a create that names the deleted upload: 400');
}

# 2. In the bucket: the same, the object deleted with a signed DELETE.
{
    s3_control($S3, POST => '/_reset');
    my ($c, $d) = (upload($s3), upload($s3));
    ok($c->{uploadId} && $d->{uploadId}, 'two uploads to the bucket');
    fresh($c->{uploadId});
    age($d->{uploadId});
    ok(wait_for(sub { !has_row($d->{uploadId}) }, 20), 'the unused one is deleted');
    my $st = s3_control($S3, GET => '/_stats');
    ok((grep { $_ eq "uploads/$d->{uploadId}.png" } @{ $st->{deletes} }), 'its object deleted from the bucket');
    is($ua->get("$S3->{url}/genflow-pics/uploads/$d->{uploadId}.png")->code, 404, 'the bucket has it no more');
    is_deeply($st->{refused}, [], 'every request signed right');
    ok(has_row($c->{uploadId}) && $ua->get("$S3->{url}/genflow-pics/uploads/$c->{uploadId}.png")->code == 200,
       'the other stays, row and object');
}

# 3. Stored uploads no row names. In the directory: an old file and an old
#    temporary name go; one younger than the retention (its mtime in the
#    future here) stays, as does every file that has a row.
{
    # An upload with a row, used as if it had just been (the retention of 8 s
    # would take it during the wait otherwise).
    my $kept = upload($local)->{uploadId} // '';
    fresh($kept);
    my ($old, $tmp, $young) = (uuid(), uuid(), uuid());
    for my $f ("$old.png", "$tmp.webp.Ab12Cd", "$young.jpg") {
        open my $fh, '>', "$media/uploads/$f" or die "$f: $!";
        print $fh $png;
        close $fh;
    }
    utime time - 3600, time - 3600, "$media/uploads/$old.png", "$media/uploads/$tmp.webp.Ab12Cd";
    utime time + 3600, time + 3600, "$media/uploads/$young.jpg";
    ok(wait_for(sub { !-e "$media/uploads/$old.png" && !-e "$media/uploads/$tmp.webp.Ab12Cd" }, 30),
       'the old files without a row are removed');
    ok(-e "$media/uploads/$young.jpg", 'the young one stays');
    unlink "$media/uploads/$young.jpg";
    ok($kept && has_row($kept) && -e "$media/uploads/$kept.png", 'files with a row stay');
}
# In the bucket: an object put there behind the module's back goes once it
# is older than the retention (8 s).
{
    my $orphan = uuid();
    my $put = $ua->request(HTTP::Request->new(POST => "$S3->{url}/_put?key=uploads/$orphan.png",
                                              undef, $png));
    is($put->code, 200, 'an object without a row in the bucket');
    my $t0 = time;
    ok(wait_for(sub { grep { $_ eq "uploads/$orphan.png" } @{ s3_control($S3, GET => '/_stats')->{deletes} } }, 40),
       'the sweep found it and deleted it');
    cmp_ok(time - $t0, '>=', 7, sprintf('not before it was older than the retention (%.1f s)', time - $t0));
    is($ua->get("$S3->{url}/genflow-pics/uploads/$orphan.png")->code, 404, 'gone from the bucket');
    is_deeply(s3_control($S3, GET => '/_stats')->{refused}, [],
              'its listing (ListObjectsV2, a signed query) and delete were signed right');
}

stop_own_server($_) for $ldir, $sdir;
