# SPDX-License-Identifier: Apache-2.0
# Two httpd servers on one database: both work the queue, no attempt is
# worked twice, every generation is finalized exactly once.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);

plan tests => 8;

# Server B: its own httpd, same database, same storage, workers only.
my $dir = tempdir(CLEANUP => 1);
my $root = Apache::Test::vars('serverroot');
own_httpd_conf($dir, free_port(), <<"BODY");
GenFlowStorageDir "$root/media"
GenFlowStorageURL /media
GenFlowWorkers 4
GenFlowLeaseSeconds 5
GenFlowProvider shared local latency=2500
<Location /api/neo-glitch>
    GenFlowType neo-glitch
</Location>
BODY
ok(system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k start") == 0, 'server B started');
for (1 .. 50) { last if -s "$dir/httpd.pid"; sleep 0.1 }

# 16 slow jobs submitted to server A, whose provider "shared" has
# max_concurrent=4 there (t/conf/extra.conf.in): A never works more than 4
# at once, so B's workers find the others in the queue.
my $u = new_user('twoserver');
api(GET => '/api/quota', user => $u);
grant($u, 50);
my @ids;
for (1 .. 16) {
    my $res = api(POST => '/api/shared-glitch/generate', user => $u, body => { prompt => "two $_" },
                  headers => { Prefer => 'wait=0' });
    push @ids, json_of($res)->{generationId};
}
my $list = join(',', map { "'$_'" } @ids);
my $open = 16;
for (1 .. 240) {
    $open = psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($list) AND status <> 'completed'");
    last if $open == 0;
    sleep 0.25;
}
is($open, 0, 'all 16 completed');
system("/usr/sbin/apache2 -f '$dir/httpd.conf' -k stop");

# Who completed what, from each server's log.
sub completed_in {
    my ($file) = @_;
    open my $in, '<', $file or return ();
    my %ids = map { /GF1401: complete type=\S+ id=(\S+)/ ? ($1 => 1) : () } <$in>;
    return grep { $ids{$_} } @ids;
}
my @by_b = completed_in("$dir/error_log");
my @by_a = completed_in(Apache::Test::vars('t_logs') . '/error_log');
cmp_ok(scalar @by_b, '>', 0, scalar(@by_b) . ' completed by server B');
cmp_ok(scalar @by_a, '>', 0, scalar(@by_a) . ' completed by server A');
my %seen;
$seen{$_}++ for @by_a, @by_b;
is(scalar(grep { $seen{$_} > 1 } keys %seen), 0, 'no generation completed by both');
is(scalar keys %seen, 16, 'every generation completed by exactly one server');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($list) AND attempts <> 1"), 0,
   'no attempt was worked twice (one attempt each)');
is(psql("SELECT count(*) FROM genflow_ledger WHERE generation_id IN ($list) AND kind = 'charge'"), 16,
   'one charge per generation');
