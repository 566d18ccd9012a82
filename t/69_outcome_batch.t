# SPDX-License-Identifier: Apache-2.0
# The completions of a child written several to a statement
# (COMPLETE_BATCH, mod_genflow_engine_batch.c), and what a batch that
# goes wrong leaves: nothing lost, nothing charged twice.
#
# 1. The statement itself, run by hand on rows made by the API: each row
#    keeps its own guard. Of three, the one whose lease is someone
#    else's is left out and the two others complete, one charge each;
#    run again (a repeat after an answer lost), it changes nothing.
# 2. A batch whose statement fails: a trigger of this test refuses one
#    generation's completion, which rolls back the whole statement (the
#    batch is made to form behind a completion that waits on a lock of
#    the test, so that it does not hang on the machine's timing). Each
#    completion of the batch is then written alone: the others complete
#    at once, each charged once; the refused one is retried until the
#    trigger goes, then completes, charged once. No reservation is left
#    open and the account adds up.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use JSON::PP qw(decode_json);

plan tests => 25;

my $top = "$FindBin::Bin/..";
my $print = "$top/bench/lib/print-sql";
my $K = 8;

psql("SELECT genflow_create_type_table('ob-hand', 'ob_hand_media')");
psql("SELECT genflow_create_type_table('ob-fail', 'ob_fail_media')");
my $U = new_user('obatch');

my ($dir, $base) = start_own_server(<<'BODY');
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
DBDMin 1
DBDKeep 4
DBDMax 8
GenFlowWorkers 2
GenFlowMaxActive 0
GenFlowLeaseSeconds 3
GenFlowStartingCredits 100000
GenFlowDailyLimit 0
GenFlowProvider ob-url local draw=none
<Location /api/ob-hand>
    GenFlowType ob-hand
    GenFlowProviders ob-url
    GenFlowWait 0
</Location>
<Location /api/ob-fail>
    GenFlowType ob-fail
    GenFlowProviders ob-url
    GenFlowWait 0
</Location>
<Location /api/health>
    SetHandler genflow-health
</Location>
BODY

sub call { return own_api($base, $_[0], $_[1], user => $U, (@_ > 2 ? (body => $_[2]) : ())) }
sub json { my $r = shift; return eval { decode_json($r->decoded_content) } // {} }
sub create {
    my ($type, $prompt) = @_;
    my $r = call(POST => "/api/$type/create", { prompt => $prompt });
    return $r->code == 201 ? json($r)->{generationId} : undef;
}
sub charges {
    my ($id) = @_;
    return scalar psql("SELECT count(*) FROM genflow_ledger WHERE generation_id = '$id' "
                       . "AND kind = 'charge'");
}

ok(own_listening($base, $U, 30), 'the server listens');

# ---- 1. the statement by hand ------------------------------------------------
ok(-x $print, 'bench/lib/print-sql is built (make check)');
my @hand = map { create('ob-hand', "by hand $_") } 1 .. 3;
is(scalar(grep { defined } @hand), 3, 'three generations created (not queued: no worker takes them)');
# Each as a worker's attempt would hold it: processing, leased.
psql("UPDATE ob_hand_media SET status = 'processing', attempts = 1, lease_owner = 'w-mine', "
     . "lease_until = now() + interval '1 hour' WHERE id IN ('" . join("', '", @hand) . "')");
psql("UPDATE ob_hand_media SET lease_owner = 'w-other' WHERE id = '$hand[1]'");
my $sql = do {
    open my $fh, '-|', $print, 'ob-hand', 'ob_hand_media', 'completes' or die "print-sql: $!";
    local $/;
    <$fh>;
};
like($sql // '', qr/jsonb_to_recordset/, 'the statement is printed');
(my $arg = JSON::PP->new->canonical->encode([
    map { { id => $_, image_url => "https://img.test/$_.png",
            images => qq([{"url":"https://img.test/$_.png"}]), provider => 'ob-url',
            model => undef, lease_owner => 'w-mine', attempts => 1 } } @hand ])) =~ s/'/''/g;
$sql =~ s/%s/'$arg'/;
my @done = psql_rows($sql);
is_deeply([sort map { $_->[0] } @done], [sort @hand[0, 2]],
          'the statement completes the two rows whose lease it holds, and answers for them alone')
    or diag(explain(\@done));
is(psql("SELECT string_agg(status, ',' ORDER BY array_position(ARRAY['$hand[0]', '$hand[1]', "
        . "'$hand[2]']::uuid[], id)) FROM ob_hand_media WHERE id IN ('" . join("', '", @hand) . "')"),
   'completed,processing,completed', 'the row leased to another attempt is left as it was');
is(join(',', map { charges($_) } @hand), '1,0,1', 'one charge for each completed, none for the other');
my @again = psql_rows($sql);
is(scalar @again, 0, 'the same statement again (an answer lost) completes nothing');
is(join(',', map { charges($_) } @hand), '1,0,1', 'and charges nothing twice');
my $status = decode_json($done[0][1]);
is($status->{status}, 'completed', "each row's answer is its status object");

# ---- 2. a batch whose statement fails -----------------------------------------
psql(q{CREATE OR REPLACE FUNCTION ob_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ob_refuse: % may not complete', NEW.id;
END $$});
my $blocker = create('ob-fail', 'blocker');
my @ids = map { create('ob-fail', $_ == $K ? 'refused' : "batched $_") } 1 .. $K;
is(scalar(grep { defined } $blocker, @ids), $K + 1, ($K + 1) . " generations created");
my $refused = $ids[-1];
my @rest = @ids[0 .. $K - 2];
psql("CREATE TRIGGER ob_refuse BEFORE UPDATE ON ob_fail_media FOR EACH ROW "
     . "WHEN (NEW.status = 'completed' AND NEW.id = '$refused') EXECUTE FUNCTION ob_refuse()");
# The batch is made to form: the blocker's completion waits on an
# advisory lock a session of the test holds, so its statement runs on (on
# one worker: the other claims) while the K complete, and they wait for
# it together; once the lock
# goes, the next leader writes all of them in one statement, the refused
# one among them. Without it, a completion that finds no other in a few
# turns of the loop is written alone (on a loaded machine, the refused
# one too).
psql(q{CREATE OR REPLACE FUNCTION ob_wait() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(69069);
    RETURN NEW;
END $$});
psql("CREATE OR REPLACE TRIGGER ob_wait BEFORE UPDATE ON ob_fail_media FOR EACH ROW "
     . "WHEN (NEW.status = 'completed' AND NEW.id = '$blocker') EXECUTE FUNCTION ob_wait()");
psql('DROP TABLE IF EXISTS ob_release');
psql('CREATE TABLE ob_release ()');
my $holder = fork // die "fork: $!";
if (!$holder) {
    psql(q{SELECT pg_advisory_lock(69069);
           DO $$ DECLARE t timestamptz := clock_timestamp() + interval '60 s';
           BEGIN
               WHILE clock_timestamp() < t AND NOT EXISTS (SELECT FROM ob_release) LOOP
                   PERFORM pg_sleep(0.05);
               END LOOP;
           END $$});
    exit 0;
}
ok(wait_for(sub { psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 69069 "
                       . "AND granted") > 0 }, 10), "the test's session holds the lock");
my $balance0 = psql("SELECT balance FROM genflow_accounts WHERE user_id = '$U'");
my $queue = sub {
    my ($which) = @_;
    psql("WITH q AS (UPDATE ob_fail_media SET queued_at = now(), next_attempt_at = now() "
         . "WHERE user_id = '$U' AND status = 'pending' AND queued_at IS NULL AND $which RETURNING 1) "
         . "UPDATE genflow_accounts SET active = active + (SELECT count(*) FROM q) WHERE user_id = '$U'");
};
$queue->("id = '$blocker'");
ok(wait_for(sub { psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 69069 "
                       . "AND NOT granted") > 0 }, 30),
   "the blocker's completion waits");
# Queued in one statement: one claim takes them all; each completes at
# once and waits for the blocker's statement.
$queue->("id <> '$blocker'");
my $in = "('" . join("', '", @ids) . "')";
ok(wait_for(sub { psql("SELECT count(*) FROM ob_fail_media WHERE id IN $in AND status = 'processing'")
                  == $K }, 30), "the $K are claimed");
select(undef, undef, undef, 1);   # their provider answers at once: each reaches the batch
psql('INSERT INTO ob_release DEFAULT VALUES');
waitpid $holder, 0;
$in = "('" . join("', '", @rest) . "')";
ok(wait_for(sub { psql("SELECT count(*) FROM ob_fail_media WHERE id IN $in AND status = 'completed'")
                  == $K - 1 }, 30),
   'the others of the batch completed, each written alone');
is(join(',', map { charges($_) } @rest), join(',', (1) x ($K - 1)), 'each charged once');
my $log = sub { open my $fh, '<', "$dir/error_log" or return ''; local $/; <$fh> };
like($log->(), qr/GF1423: type=ob-fail: a statement of \d+ completions failed; each is written alone/,
     'the error log says the statement of the batch failed and each was written alone');
is(psql("SELECT status FROM ob_fail_media WHERE id = '$refused'"), 'processing',
   'the refused one is not completed while the trigger refuses it');
is(charges($refused), 0, 'nor charged');
psql('DROP TRIGGER ob_refuse ON ob_fail_media');
psql('DROP TRIGGER ob_wait ON ob_fail_media');
psql('DROP TABLE ob_release');
ok(wait_for(sub { psql("SELECT status FROM ob_fail_media WHERE id = '$refused'") eq 'completed' }, 30),
   'once the trigger is gone, the refused one completes (retried, or rescued after its lease)');
is(charges($refused), 1, 'charged once');
# Every reservation finalized once; the account is the reservations'
# charges (no refund: all completed) and nothing is active.
is(psql("SELECT count(*) FROM genflow_ledger l WHERE l.generation_id IN ('" . join("', '", @ids)
        . "') AND kind IN ('charge', 'refund')"), $K, "$K finalizations, one each");
is(psql("SELECT active FROM genflow_accounts WHERE user_id = '$U'"), 0, 'nothing left active');
is(psql("SELECT balance FROM genflow_accounts WHERE user_id = '$U'"), $balance0,
   'the balance is what the reservations left: every picture delivered, none charged twice');

stop_own_server($dir);
is(crash_report($dir), '', 'no crash');
