# SPDX-License-Identifier: Apache-2.0
# GenFlowReceiver: the webhook receiver of tests/webhooks/receiver.mjs for
# a test file, started once: it verifies every delivery with npm
# standardwebhooks under each secret given and logs it.
package GenFlowReceiver;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use FindBin;
use IPC::Open2 ();
use LWP::UserAgent ();
use JSON::PP ();
use GenFlowTest qw(free_port);

our @EXPORT = qw(start_receiver receiver_log);

my $top = "$FindBin::Bin/..";
my @pids;
END { kill 'TERM', @pids if @pids }

# A running receiver that verifies under each of @secrets: a hash with
# url and ready (it said so).
sub start_receiver {
    my (@secrets) = @_;
    system("cd '$top/tests/webhooks' && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1") == 0
        or die "npm ci in tests/webhooks failed";
    my $port = free_port();
    my $pid = IPC::Open2::open2(my $out, my $in, 'node', "$top/tests/webhooks/receiver.mjs", $port,
                                join(',', @secrets));
    push @pids, $pid;
    my $ready = <$out> // '';
    return { url => "http://127.0.0.1:$port", ready => $ready eq "ready\n" };
}

# What the receiver heard, oldest first.
sub receiver_log {
    my ($recv) = @_;
    my $res = LWP::UserAgent->new(timeout => 10)->get("$recv->{url}/_log");
    return $res->is_success ? @{ JSON::PP->new->decode($res->decoded_content) } : ();
}

1;
