# SPDX-License-Identifier: Apache-2.0
# The creates of a child written several to a statement (CREATE_BATCH,
# mod_genflow_handle_type_create_batch.c): creates that arrive while
# another create's statement runs wait for it and are then written
# together, each with its own reservation, row and ledger row.
#
# Each burst is made to meet a running statement: a session of this test
# holds the user's account row for a moment, so the first create's
# statement waits on it and the burst queues behind it. Counted by
# pg_stat_statements for this file's own database role (as t/68 does).
#
# 1. 12 creates at once, on a pool of 2 connections: all made, one
#    reservation each, in a few statements. A waiting create holds no
#    connection: were one held, the third create and those after it
#    would wait for a connection instead of joining, and each would be
#    its own statement.
# 2. 12 creates of a user who can afford 5: 5 made, 7 refused with 402,
#    the balance exactly spent, nothing else written.
# 3. A batch whose statement fails (a trigger of this test refuses one
#    row): each create is written alone, the refused one gets its error
#    and writes nothing, the others are made, each reserved once; the
#    error log says GF1307 (pg_stat_statements counts no failed
#    statement).
# 4. Creates with an Idempotency-Key never join: each is its own statement.
# 5. The same type on two virtual hosts sharing the pool of 2: a queue
#    for each (a create joins its own server's), both first creates
#    holding the pool's two connections while they wait on the account,
#    and still every other create joins a batch: all made.
# 6. A batch whose connection is lost while its statement runs (its
#    backend terminated): the session is made again and the batch's
#    statement run again, and every create of it is made once, with one
#    reservation, charged once.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use JSON::PP qw(decode_json);

plan tests => 46;

my $N = 12;
psql("SELECT genflow_create_type_table('cb-a', 'cb_a_media')");
my (undef, $pgss) = psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
                         . "SELECT count(*) FROM pg_stat_statements");
BAIL_OUT('pg_stat_statements is not loaded in the suite\'s PostgreSQL (scripts/lib.sh, GF_PG_STATS)')
    unless $pgss;
psql("DO \$\$ BEGIN CREATE ROLE gf_cbatch LOGIN SUPERUSER; "
     . "EXCEPTION WHEN duplicate_object THEN NULL; END \$\$");
my $role = psql("SELECT oid FROM pg_roles WHERE rolname = 'gf_cbatch'");

(my $dbd = $ENV{GENFLOW_TEST_DBD_PARAMS}) =~ s/\buser=\S+/user=gf_cbatch/;
local $GenFlowTest::own_dbd_params = $dbd;
my $port_of = sub { $_[0] =~ /:(\d+)$/ ? $1 : die "no port in $_[0]" };
# One child; a pool of 2 connections for 25 threads.
my ($dir, $base) = start_own_server(<<'BODY');
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
DBDMin 1
DBDKeep 2
DBDMax 2
GenFlowWorkers 1
GenFlowMaxActive 0
GenFlowStartingCredits 100000
GenFlowDailyLimit 0
GenFlowProvider cb-url local draw=none
<Location /api/cb-a>
    GenFlowType cb-a
    GenFlowProviders cb-url
    GenFlowWait 0
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
<VirtualHost *:*>
    ServerName localhost
</VirtualHost>
<VirtualHost *:*>
    ServerName cb-other.test
    <Location /api/cb-a>
        GenFlowType cb-a
        GenFlowProviders cb-url
        GenFlowWait 0
    </Location>
</VirtualHost>
BODY

sub json { my $r = shift; return eval { decode_json($r->decoded_content) } // {} }
sub create {
    my ($user, $prompt, %h) = @_;
    return own_api($base, POST => '/api/cb-a/create', user => $user, body => { prompt => $prompt },
                   headers => \%h);
}
# The role's create statements since the reset: (alone, several).
sub statements {
    my %c;
    for my $row (psql_rows("SELECT regexp_replace(query, '^PREPARE (\\S+) .*\$', '\\1'), calls "
                           . "FROM pg_stat_statements WHERE userid = $role")) {
        $c{$1} += $row->[1] if $row->[0] =~ /^gf_cb_a_media_(create|creates)$/;
    }
    return ($c{create} // 0, $c{creates} // 0);
}
sub reset_calls { psql("SELECT pg_stat_statements_reset($role)") }
# Hold USER's account row for SECS in a session of the test's own, so a
# create's statement waits on it; returns once the row is held.
sub hold_account {
    my ($user, $secs) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        psql("BEGIN; SELECT 1 FROM genflow_accounts WHERE user_id = '$user' FOR UPDATE; "
             . "SELECT pg_sleep($secs); COMMIT");
        exit 0;
    }
    wait_for(sub { psql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                        . "WHERE a.query LIKE '%pg_sleep($secs)%' AND l.locktype = 'transactionid' "
                        . "AND a.pid <> pg_backend_pid()") > 0 }, 10);
    return $pid;
}
# N clients at once, each calling $call->($i); returns the list of
# [code, generationId or error code] in client order.
sub burst {
    my ($n, $call) = @_;
    return map { [split / /, $_, 2] } burst_clients($n, $call, sub {
        my ($res, $doc) = @_;
        join(' ', $res->code, $doc->{generationId} // $doc->{error}{code} // 'none');
    });
}
sub reserves {
    my ($user) = @_;
    return scalar psql("SELECT count(*) FROM genflow_ledger WHERE user_id = '$user' AND kind = 'reserve'");
}
sub balance { scalar psql("SELECT balance FROM genflow_accounts WHERE user_id = '$_[0]'") }
# The ids made: each a row of the user's, each with one reservation.
sub each_reserved_once {
    my ($user, @ids) = @_;
    return 0 unless @ids;
    my $in = "('" . join("', '", @ids) . "')";
    return psql("SELECT count(*) FROM cb_a_media g WHERE g.id IN $in AND g.user_id = '$user' "
                . "AND (SELECT count(*) FROM genflow_ledger l WHERE l.generation_id = g.id "
                . "AND l.kind = 'reserve' AND l.amount = -g.estimated_cost) = 1") == @ids;
}

my $U = new_user('cbatch');
ok(own_listening($base, $U, 30), 'the server listens');
is(create($U, 'warm-up')->code, 201, 'the user is known');

# ---- 1. a burst on a pool of 2 ----------------------------------------------
my ($b0, $r0) = (balance($U), reserves($U));
reset_calls();
my $holder = hold_account($U, 2);
my @got = burst($N, sub { create($U, "burst $_[0]") });
waitpid $holder, 0;
my @ids = map { $_->[1] } grep { $_->[0] == 201 } @got;
is(scalar @ids, $N, "$N creates at once, all 201") or diag(explain(\@got));
my %uniq = map { $_ => 1 } @ids;
is(scalar keys %uniq, $N, 'each its own generation');
ok(each_reserved_once($U, @ids), 'each a row of the user\'s with one reservation of its cost');
is(reserves($U) - $r0, $N, "$N reservations in all");
my $cost = psql("SELECT estimated_cost FROM cb_a_media WHERE id = '$ids[0]'");
is($b0 - balance($U), $N * $cost, 'the balance went down by their cost, once each');
my ($alone, $several) = statements();
cmp_ok($several, '>=', 1, 'creates that waited were written several to a statement');
cmp_ok($alone + $several, '<=', $N / 2, "$N creates took at most " . ($N / 2)
       . " statements ($alone alone, $several several)");

# ---- 2. a user who can afford 5 of 12 ----------------------------------------
my $P = new_user('cbpoor');
is(create($P, 'poor warm-up')->code, 201, 'the second user is known');
# What it has beyond 5 creates taken away, as an admin's grant does.
grant($P, 5 * $cost - balance($P));
my $rp = reserves($P);
reset_calls();
$holder = hold_account($P, 2);
@got = burst($N, sub { create($P, "poor $_[0]") });
waitpid $holder, 0;
my @made = map { $_->[1] } grep { $_->[0] == 201 } @got;
my @refused = grep { $_->[0] == 402 } @got;
is(scalar @made, 5, 'five made') or diag(explain(\@got));
is(scalar @refused, $N - 5, 'the others refused with 402');
is(scalar(grep { $_->[1] eq 'INSUFFICIENT_CREDITS' } @refused), $N - 5, 'INSUFFICIENT_CREDITS each');
ok(each_reserved_once($P, @made), 'each made one with one reservation');
is(reserves($P) - $rp, 5, 'no reservation for a refused one');
is(balance($P), 0, 'the balance exactly spent, never below zero');
is(psql("SELECT count(*) FROM cb_a_media WHERE user_id = '$P' AND prompt LIKE '%poor %' "
        . "AND prompt NOT LIKE '%warm-up%'"), 5, 'no row for a refused one');
($alone, $several) = statements();
cmp_ok($several, '>=', 1, 'they were written several to a statement');

# ---- 3. a batch whose statement fails ----------------------------------------
psql(q{CREATE OR REPLACE FUNCTION cb_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cb_refuse: % may not be created', NEW.id;
END $$});
psql("CREATE TRIGGER cb_refuse BEFORE INSERT ON cb_a_media FOR EACH ROW "
     . "WHEN (NEW.user_prompt = 'refused') EXECUTE FUNCTION cb_refuse()");
my ($b3, $r3) = (balance($U), reserves($U));
reset_calls();
$holder = hold_account($U, 3);
# The first create, alone, waits on the account; the burst queues behind
# it, the refused one among them, so it is in the batch.
my $first = fork // die "fork: $!";
if (!$first) {
    exit(create($U, 'failing batch 0')->code == 201 ? 0 : 1);
}
wait_for(sub { psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'gf_cbatch' "
                    . "AND wait_event_type = 'Lock'") > 0 }, 10);
@got = burst($N, sub { create($U, $_[0] == $N ? 'refused' : "failing batch $_[0]") });
waitpid $first, 0;
my $first_rc = $?;
waitpid $holder, 0;
psql('DROP TRIGGER cb_refuse ON cb_a_media');
@made = map { $_->[1] } grep { $_->[0] == 201 } @got;
is(scalar @made, $N - 1, 'the others are made, each written alone') or diag(explain(\@got));
is($got[$N - 1][0], 500, 'the refused one gets its error');
is($first_rc, 0, 'the first, alone, is made too');
push @made, scalar psql("SELECT id FROM cb_a_media WHERE user_id = '$U' AND user_prompt = 'failing batch 0'");
ok(each_reserved_once($U, @made), 'each made one with one reservation');
is(reserves($U) - $r3, $N, 'no reservation for the refused one');
is($b3 - balance($U), $N * $cost, 'the balance went down by the made ones\' cost alone');
is(psql("SELECT count(*) FROM cb_a_media WHERE user_prompt = 'refused'"), 0, 'no row for it');
($alone, $several) = statements();
is($alone, $N, 'each made one was its own statement (a failed one is not counted)');
my $log = do { open my $fh, '<', "$dir/error_log" or die; local $/; <$fh> };
like($log, qr/GF1307: a statement of \d+ creates of cb-a failed; each is written alone/,
     'the error log says so');

# ---- 4. an Idempotency-Key never joins ----------------------------------------
reset_calls();
$holder = hold_account($U, 1);
@got = burst(6, sub { create($U, "keyed $_[0]", 'Idempotency-Key' => "cb-key-$$-$_[0]") });
waitpid $holder, 0;
is(scalar(grep { $_->[0] == 201 } @got), 6, 'six keyed creates made') or diag(explain(\@got));
($alone, $several) = statements();
is($several, 0, 'none written with another');
is($alone, 6, 'each its own statement');

# ---- 5. a virtual host and the main server ------------------------------------
my ($b5, $r5) = (balance($U), reserves($U));
reset_calls();
$holder = hold_account($U, 2);
@got = burst($N, sub {
    my $i = shift;
    $i % 2 ? create($U, "main $i") : create($U, "vhost $i", Host => 'cb-other.test:' . $port_of->($base));
});
waitpid $holder, 0;
@made = map { $_->[1] } grep { $_->[0] == 201 } @got;
is(scalar @made, $N, 'all made, half of them on the virtual host') or diag(explain(\@got));
($alone, $several) = statements();
cmp_ok($several, '>=', 1, 'written several to a statement on each server\'s queue');
ok(each_reserved_once($U, @made), 'each with one reservation');
is($b5 - balance($U), $N * $cost, 'charged once each');

# ---- 6. a batch whose connection is lost mid-statement -----------------------
# The lead's insert waits on one advisory lock of the test, the batch's
# on another: once the first goes, the batch's statement runs and waits;
# its backend is then terminated (the connection lost under it), and the
# creates of the batch must still each be made once, charged once.
psql(q{CREATE OR REPLACE FUNCTION cb_wait() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(CASE WHEN NEW.user_prompt = 'lead' THEN 70071 ELSE 70072 END);
    RETURN NEW;
END $$});
psql("CREATE OR REPLACE TRIGGER cb_wait BEFORE INSERT ON cb_a_media FOR EACH ROW "
     . "WHEN (NEW.user_prompt = 'lead' OR NEW.user_prompt LIKE 'lost batch %') EXECUTE FUNCTION cb_wait()");
psql('DROP TABLE IF EXISTS cb_release');
psql('CREATE TABLE cb_release (k int)');
# Hold advisory lock KEY in a session of the test until cb_release has KEY.
sub hold_lock {
    my ($key) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        psql("SELECT pg_advisory_lock($key); DO \$\$ DECLARE t timestamptz := clock_timestamp() + interval '60 s'; "
             . "BEGIN WHILE clock_timestamp() < t AND NOT EXISTS (SELECT FROM cb_release WHERE k = $key) LOOP "
             . "PERFORM pg_sleep(0.05); END LOOP; END \$\$");
        exit 0;
    }
    return $pid;
}
sub waiting_on { scalar psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $_[0] AND NOT granted") }
my ($b6, $r6) = (balance($U), reserves($U));
my $log6 = -s "$dir/error_log";
my %holder = map { $_ => hold_lock($_) } 70071, 70072;
ok(wait_for(sub { psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                       . "AND objid IN (70071, 70072) AND granted") == 2 }, 10), "the test's sessions hold both locks");
my $lead = fork // die "fork: $!";
if (!$lead) {
    exit(create($U, 'lead')->code == 201 ? 0 : 1);
}
ok(wait_for(sub { waiting_on(70071) > 0 }, 10), "the lead's statement waits");
# The burst from a process of its own: its creates wait until the end.
my $out = "$dir/lost-batch.out";
my $burster = fork // die "fork: $!";
if (!$burster) {
    my @r = burst($N - 1, sub { create($U, "lost batch $_[0]") });
    open my $fh, '>', $out or die;
    print $fh join("\n", map { "@$_" } @r), "\n";
    close $fh;
    exit 0;
}
select(undef, undef, undef, 1);   # the burst's creates reach the lead's queue
psql('INSERT INTO cb_release VALUES (70071)');
waitpid $holder{70071}, 0;
ok(wait_for(sub { waiting_on(70072) > 0 }, 20), "the batch's statement runs and waits");
cmp_ok(psql("SELECT count(*) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objid = 70072 "
            . "AND NOT l.granted AND pg_terminate_backend(l.pid)"), '>=', 1, 'its connection is cut under it');
psql('INSERT INTO cb_release VALUES (70072)');
waitpid $holder{70072}, 0;
waitpid $burster, 0;
waitpid $lead, 0;
is($?, 0, 'the lead is made');
@got = do { open my $fh, '<', $out or die "no burst results"; map { chomp; [split / /, $_, 2] } <$fh> };
@made = map { $_->[1] } grep { $_->[0] == 201 } @got;
is(scalar @made, $N - 1, 'every create of the cut batch is made') or diag(explain(\@got));
push @made, scalar psql("SELECT id FROM cb_a_media WHERE user_id = '$U' AND user_prompt = 'lead'");
ok(each_reserved_once($U, @made), 'each once, with one reservation');
is(psql("SELECT count(*) FROM cb_a_media WHERE user_id = '$U' AND user_prompt LIKE 'lost batch %'"), $N - 1,
   'no row twice');
is($b6 - balance($U), $N * $cost, 'charged once each');
my $since6 = do { open my $fh, '<', "$dir/error_log" or die; seek $fh, $log6, 0; local $/; <$fh> };
like($since6, qr/GF1104: database session was reset/, 'the connection is made again and the statement run again');
unlike($since6, qr/GF1307/, 'as one batch still: none written alone');
psql('DROP TRIGGER cb_wait ON cb_a_media');
psql('DROP TABLE cb_release');

stop_own_server($dir);
is(crash_report($dir), '', 'no crash');
