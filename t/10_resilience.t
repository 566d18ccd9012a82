# SPDX-License-Identifier: Apache-2.0
# Nothing lost, nothing doubled: a child killed with SIGKILL mid-job, a
# graceful restart mid-job, and 200 generations through flaky and broken
# providers, with the ledger invariant checked exactly in SQL.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use Time::HiRes qw(sleep time);

plan tests => 18;

my $u = new_user('resilient');
api(GET => '/api/quota', user => $u);
grant($u, 100);

sub start_slow {
    my $res = api(POST => '/api/slow-glitch/generate', user => $u, body => { prompt => "slow @_" },
                  headers => { Prefer => 'wait=0' });
    return json_of($res)->{generationId};
}
sub wait_status {
    my ($id, $want, $secs) = @_;
    my $st = '';
    for (1 .. $secs * 4) {
        $st = psql("SELECT status FROM neo_glitch_media WHERE id = '$id'");
        return $st if $st eq $want || ($want eq 'terminal' && $st =~ /^(completed|failed|cancelled)$/);
        sleep 0.25;
    }
    return $st;
}
sub ledger {
    my ($id) = @_;
    return psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
                . "WHERE generation_id = '$id'");
}

# --- SIGKILL of the child working a slow job --------------------------------
my $id = start_slow('kill');
my $owner = '';
for (1 .. 40) {
    $owner = psql("SELECT coalesce(lease_owner, '') FROM neo_glitch_media WHERE id = '$id'");
    last if $owner;
    sleep 0.1;
}
my ($pid) = $owner =~ /:(\d+):\d+$/;
ok($pid, "a worker holds the job ($owner)");
ok(kill('KILL', $pid), "SIGKILL to child $pid");
is(wait_status($id, 'terminal', 40), 'completed', 'the lease expired and another worker completed it');
cmp_ok(psql("SELECT attempts FROM neo_glitch_media WHERE id = '$id'"), '>=', 2,
       'it took a second attempt');
is(ledger($id), 'reserve:-1,charge:0', 'charged exactly once');

# --- graceful restart in the middle of a job ---------------------------------
$id = start_slow('graceful');
for (1 .. 40) {
    last if psql("SELECT coalesce(lease_owner, '') FROM neo_glitch_media WHERE id = '$id'");
    sleep 0.1;
}
my $pidfile = Apache::Test::vars('t_logs') . '/httpd.pid';
open my $fh, '<', $pidfile or die "$pidfile: $!";
chomp(my $parent = <$fh>);
ok(kill('USR1', $parent), 'graceful restart (SIGUSR1) while the job runs');
is(wait_status($id, 'terminal', 40), 'completed', 'the job still completes');
is(ledger($id), 'reserve:-1,charge:0', 'charged exactly once');
sleep 1;
my $after = api(POST => '/api/neo-glitch/generate', user => $u, body => { prompt => 'after graceful' });
is(json_of($after)->{status}, 'completed', 'new jobs run after the graceful restart');

# --- 200 generations, 30% transient failures, some permanent ------------------
my @users = map { my $x = new_user("load$_"); api(GET => '/api/quota', user => $x); grant($x, 50); $x } 1 .. 10;
my (@ids, @broken);
my $t0 = time;
for my $i (0 .. 199) {
    my $user = $users[$i % 10];
    my $path = $i % 10 == 7 ? 'allfail-glitch' : 'chaos-glitch';   # 10% permanent
    my $res = api(POST => "/api/$path/generate", user => $user, body => { prompt => "load $i" },
                  headers => { Prefer => 'wait=0' });
    my $gid = (json_of($res) || {})->{generationId};
    push @ids, $gid if $gid;
    push @broken, $gid if $gid && $path eq 'allfail-glitch';
}
is(scalar @ids, 200, '200 generations accepted');
my $list = join(',', map { "'$_'" } @ids);
my $open = 200;
for (1 .. 600) {
    $open = psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($list) "
                 . "AND status NOT IN ('completed', 'failed', 'cancelled')");
    last if $open == 0;
    sleep 0.25;
}
my $elapsed = time - $t0;
is($open, 0, sprintf('every generation reached a terminal state (%.1f s)', $elapsed));
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($list) AND error_code = 'TIMEOUT'"), 0,
   'none ran into its deadline');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($list) "
        . "AND finished_at > started_at + make_interval(secs => deadline_secs)"), 0,
   'all finished within their deadline');
my $blist = join(',', map { "'$_'" } @broken);
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($blist) AND status = 'failed'"),
   scalar @broken, 'the permanently failing ones failed');
is(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($list) AND status = 'completed'"),
   200 - @broken, 'all the others completed (retries and fallback)');
cmp_ok(psql("SELECT count(*) FROM neo_glitch_media WHERE id IN ($list) AND attempts > 1 "
            . "AND chain = 'flaky,local'"), '>', 0, 'transient failures were retried');
# docs/operations.md, exactly: per generation one reservation and one finalization
# (charge iff completed, refund iff failed); per user balance = ledger sum.
is(psql(<<"SQL"), 0, 'per generation: one reservation, one charge or refund matching the state');
SELECT count(*) FROM neo_glitch_media g WHERE g.id IN ($list) AND (
   (SELECT count(*) FROM genflow_ledger l WHERE l.generation_id = g.id AND l.kind = 'reserve') <> 1
   OR (SELECT count(*) FROM genflow_ledger l WHERE l.generation_id = g.id AND l.kind = 'charge')
      <> CASE WHEN g.status = 'completed' THEN 1 ELSE 0 END
   OR (SELECT count(*) FROM genflow_ledger l WHERE l.generation_id = g.id AND l.kind = 'refund')
      <> CASE WHEN g.status = 'failed' THEN 1 ELSE 0 END)
SQL
my $ulist = join(',', map { "'$_'" } @users);
is(psql(<<"SQL"), 0, 'per user: balance = grants - reservations + refunds, active = 0');
SELECT count(*) FROM genflow_accounts a WHERE a.user_id IN ($ulist) AND (
   a.balance <> (SELECT sum(amount) FROM genflow_ledger l WHERE l.user_id = a.user_id)
   OR a.active <> 0)
SQL
