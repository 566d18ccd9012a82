# SPDX-License-Identifier: Apache-2.0
# Polls of accepted jobs kept by the child that made them
# (GenFlowKeptPolls): a provider holds 20 jobs for as long as they run;
# after their first poll each is polled from its child's memory, with no
# claim and no write of its row per poll (the row's lease, with the polls
# made so far, is written every few polls), while the rows stay leased to
# the child. A cancelled one ends at once and is refunded once. A child
# killed with kept polls loses nothing: the child that replaces it
# rescues every one of its rows when their leases end. A stopping httpd
# gives its kept rows back at once, due now. The ledger's invariants hold.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
$GenFlowTest::wait_step = 0.2;
use Time::HiRes qw(sleep time);

plan tests => 16;

my $table = 'kept_type_media';
psql("SELECT genflow_create_type_table('kept-type', '$table')");
my $u = new_user('kept');
api(GET => '/api/quota', user => $u);
grant($u, 1000);

my ($dir, $base) = start_own_server(<<"BODY");
StartServers 1
ServerLimit 1
ThreadsPerChild 10
MaxRequestWorkers 10
MinSpareThreads 5
MaxSpareThreads 10
GenFlowWorkers 2
GenFlowLeaseSeconds 4
GenFlowKeptPolls 1000
GenFlowMaxActive 0
GenFlowProvider held local async=never
<Location /api/metrics>
    SetHandler genflow-metrics
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
<Location /api/kept>
    GenFlowType kept-type
    GenFlowProviders held
    GenFlowDeadline 600
    GenFlowWait 0
</Location>
BODY

# The shared counters of the httpd: provider calls to held, and claims
# that took a row.
sub counters {
    my $m = own_api($base, GET => '/api/metrics', user => 'admin')->decoded_content;
    my ($calls, $claims) = (0, 0);
    $calls += $1 while $m =~ /^genflow_provider_calls_total\{provider="held"[^}]*\} (\d+)/mg;
    $claims = $1 if $m =~ /^genflow_claims_total\{result="claimed"\} (\d+)/m;
    return ($calls, $claims);
}
# The child's pid and the polls it keeps (/api/health: one child).
sub kept_now {
    my $w = (json_of(own_api($base, GET => '/api/health', user => $u)) || {})->{workers} || {};
    return ($w->{pid} // 0, $w->{keptPolls} // -1);
}
# Row updates of the type table, counted as they happen by a trigger of
# the test's own (PostgreSQL's table statistics reach other sessions up
# to ten seconds late).
psql("CREATE SEQUENCE kept_row_updates");
psql("CREATE FUNCTION kept_count_update() RETURNS trigger LANGUAGE plpgsql AS "
     . "\$\$BEGIN PERFORM nextval('kept_row_updates'); RETURN NULL; END\$\$");
psql("CREATE TRIGGER kept_count_update AFTER UPDATE ON $table FOR EACH ROW "
     . "EXECUTE FUNCTION kept_count_update()");
sub row_updates {
    psql("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM kept_row_updates");
}
sub open_rows {
    psql("SELECT count(*) FROM $table WHERE status IN ('pending', 'processing')");
}

my @ids;
for my $i (1 .. 20) {
    my $r = own_api($base, POST => '/api/kept/generate', user => $u, body => { prompt => "kept $i" });
    push @ids, (json_of($r) || {})->{generationId} if $r->code == 202;
}
is(scalar @ids, 20, '20 generations started at a provider that never finishes');
# Accepted, polled once through a claim, then kept: the keep's first
# write records the second poll (poll_count 2).
ok(wait_for(sub { psql("SELECT count(*) FROM $table WHERE poll_count >= 2") == 20 }, 30),
   'every job accepted and its polls kept');

my ($calls0, $claims0) = counters();
my $upd0 = row_updates();
my $t0 = time;
sleep 8;
my ($calls1, $claims1) = counters();
my $secs = time - $t0;
my $updates = row_updates() - $upd0;
my ($polls, $claims) = ($calls1 - $calls0, $claims1 - $claims0);
cmp_ok($polls, '>=', 40, sprintf('the provider was polled %d times in %.1f s', $polls, $secs));
cmp_ok($claims, '<=', 2, "with $claims claims: the polls came from memory, not the queue");
cmp_ok($updates, '<', $polls / 2, "and $updates updates of the rows (a claim and a schedule "
                                  . "each were two a poll)");
my ($pid, $kept) = kept_now();
cmp_ok($kept, '>=', 18, "the child ($pid) keeps the polls ($kept of 20; one may be in flight)");
is(psql("SELECT count(*) FROM $table WHERE status = 'processing' AND lease_owner LIKE '%:$pid:%' "
        . "AND lease_until > now() AND next_attempt_at > now()"), 20,
   'each row leased to the child, not due for anyone else');

# A kept generation cancelled: it ends at once, refunded once, and its
# child forgets it.
my $gone = shift @ids;
my $res = own_api($base, POST => "/api/kept/cancel/$gone", user => $u);
is((json_of($res) || {})->{status}, 'cancelled', 'a kept generation can be cancelled');
is(psql("SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) FROM genflow_ledger "
        . "WHERE generation_id = '$gone'"), 'reserve:-1,refund:1', '... and is refunded once');
ok(wait_for(sub { (kept_now())[1] == 19 }, 10), '... and the child keeps it no more');

# The child killed with its kept polls: the child that replaces it
# rescues every one of its rows when their leases end, and keeps them.
kill 'KILL', $pid;
ok(wait_for(sub { psql("SELECT count(*) FROM $table WHERE status = 'processing' "
                       . "AND lease_owner LIKE '%:$pid:%'") == 0 }, 60),
   "every row of the killed child ($pid) was taken by its successor when its lease ended");
ok(wait_for(sub { my ($p, $k) = kept_now(); $p != $pid && $k == 19 }, 30),
   'which keeps all 19 again');

# A stopping httpd gives its kept rows back, due now.
stop_own_server($dir);
is(psql("SELECT count(*) FROM $table WHERE status = 'processing' AND lease_owner IS NULL "
        . "AND next_attempt_at <= now()"), 19, 'the stopped httpd gave back every kept row, due now');
is(open_rows(), 19, 'nothing ended meanwhile');

# Clean up: cancelled and refunded as a cancel does it.
psql("WITH gen AS (UPDATE $table g SET status = 'cancelled', error_code = 'CANCELLED', "
     . "error_message = 'test', credits_charged = 0, finished_at = now(), lease_owner = NULL, "
     . "lease_until = NULL WHERE g.status IN ('pending', 'processing') RETURNING g.*), "
     . "led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason) "
     . "SELECT user_id, 'refund', estimated_cost, 'kept-type', id, 'CANCELLED' FROM gen "
     . "RETURNING user_id, amount), pu AS (SELECT user_id, sum(amount) AS a, count(*) AS n "
     . "FROM led GROUP BY user_id) UPDATE genflow_accounts a SET balance = a.balance + pu.a, "
     . "active = greatest(a.active - pu.n, 0) FROM pu WHERE a.user_id = pu.user_id");
is(open_rows(), 0, 'the rest cancelled and refunded');
is(psql("SELECT count(*) FROM genflow_check_invariants(600)"), 0,
   'genflow_check_invariants finds nothing wrong')
    or diag(scalar psql("SELECT * FROM genflow_check_invariants(600)"));
