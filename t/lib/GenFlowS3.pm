# SPDX-License-Identifier: Apache-2.0
# GenFlowS3: the S3 server of tests/s3/server.mjs for a test file, started
# once: s3rver behind a check of every SigV4 signature with AWS's signer.
package GenFlowS3;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use FindBin;
use File::Temp ();
use IPC::Open2 ();
use LWP::UserAgent ();
use HTTP::Request ();
use JSON::PP ();
use GenFlowTest qw(free_port);

our @EXPORT = qw(start_s3 s3_control);

my $top = "$FindBin::Bin/..";
my @pids;
END { kill 'TERM', @pids if @pids }

# A running S3 server with bucket genflow-pics in region eu-test-1: a hash
# with url, key and secret, the files key_file, secret_file and
# wrong_file (a secret that is not it), and conf: GenFlowS3's arguments
# without the secret (add secret_file=...).
sub start_s3 {
    system("cd '$top/tests/s3' && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1") == 0
        or die "npm ci in tests/s3 failed";
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    chmod 0755, $dir;
    mkdir "$dir/objects";
    my %s = (key => 'AKIAGENFLOWTEST01', secret => 'gEnFlOw/s3cret+KEY/for+the+suite0123456');
    for my $f ([key => $s{key}], [secret => $s{secret}], [wrong => 'not-the-secret']) {
        open my $fh, '>', "$dir/s3.$f->[0]" or die $!;
        print $fh "$f->[1]\n";
        close $fh;
        $s{"$f->[0]_file"} = "$dir/s3.$f->[0]";
    }
    my $port = free_port();
    $s{url} = "http://127.0.0.1:$port";
    $s{port} = $port;
    my $pid = IPC::Open2::open2(my $out, my $in, 'node', "$top/tests/s3/server.mjs", $port,
                                'genflow-pics', 'eu-test-1', $s{key}, $s{secret}, "$dir/objects");
    push @pids, $pid;
    my $ready = <$out>;
    $s{ready} = defined $ready && $ready eq "ready\n";
    $s{conf} = "bucket=genflow-pics region=eu-test-1 endpoint=$s{url} key_file=$s{key_file} "
             . "insecure_loopback=on";
    return \%s;
}

# A control call (_stats, _reset, _slow?ms=N): its JSON, or {}.
sub s3_control {
    my ($s3, $method, $path) = @_;
    my $res = LWP::UserAgent->new(timeout => 30)->request(HTTP::Request->new($method => "$s3->{url}$path"));
    return $res->is_success && $res->decoded_content ? JSON::PP->new->decode($res->decoded_content) : {};
}

1;
