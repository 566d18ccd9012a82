# SPDX-License-Identifier: Apache-2.0
# genflow-test: alone, because it bounds a request's wait during the upgrade in seconds
# The schema upgrade from the previous release (NEWS names it and its
# schema) on a database with history and a queue, while rows finish, are
# queued and are deleted under it: after the expand phase every open row
# has its provider, every queued one its turn and ticket, each type's
# finished counts equal its rows (none counted twice or missed by the
# batched backfill), each line counts its queued rows, no index is left
# invalid, and a type table made anew by genflow_create_type_table has the
# same indexes as a migrated one, before the contract phase and after it.
# The reads and writes that ran beside it waited less than 1 s.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use Time::HiRes ();

plan tests => 19;

my $top = Apache::Test::vars('serverroot') . '/..';
my ($prev, $schema) = do {
    open my $n, '<', "$top/NEWS" or die $!;
    my ($k, @r) = (0);
    while (<$n>) {
        $k++ if /^Release /;
        push @r, $1 if $k == 2 && (/^Release (\S+)/ || /^  schema: (\d+)/);
    }
    @r;
};
ok($prev && $schema, "NEWS names the previous release ($prev) and its schema ($schema)");

my $db = "genflow_upgrade_$$";
psql("DROP DATABASE IF EXISTS $db");
psql("CREATE DATABASE $db");
(my $uri = $ENV{GENFLOW_TEST_PG_URI}) =~ s{/[^/]+$}{/$db};
sub psql_db { local $ENV{GENFLOW_TEST_PG_URI} = $uri; return psql($_[0]) }
sub migrate {
    my $out = qx(PATH='$ENV{GENFLOW_TEST_PG_BINDIR}':"\$PATH" '$top/scripts/genflow-migrate' @_ '$uri' 2>&1);
    return ($? == 0, $out);
}
my $old = tempdir(CLEANUP => 1);
for (glob("$top/sql/[0-9][0-9][0-9]_*.sql")) {
    my ($n) = m{/(\d{3})_[^/]+$};
    copy($_, $old) or die $! if $n <= $schema;
}
my ($ok, $out) = migrate('--sql-dir', $old);
ok($ok, "the database at ${prev}'s schema") or diag $out;

# History (finished rows of every kind) and a queue of two providers'
# lines, as a node of the previous release writes them (with the columns 0.1.0 had).
psql_db(<<'SQL');
INSERT INTO neo_glitch_media (user_id, status, prompt, seed, input, image_url, provider, model,
        estimated_cost, credits_charged, created_at, started_at, finished_at, chain, attempts, error_code)
SELECT 'user' || (g % 50), (ARRAY['completed','failed','cancelled'])[1 + g % 3], 'p' || g, g, '{}',
       CASE WHEN g % 3 = 0 THEN 'https://media.example/' || g END, 'local', 'local', 1,
       CASE WHEN g % 3 = 0 THEN 1 ELSE 0 END, now() - make_interval(secs => g),
       now() - make_interval(secs => g), now() - make_interval(secs => g) + interval '1 s', 'local', 1,
       CASE WHEN g % 3 <> 0 THEN 'X' END
  FROM generate_series(1, 20000) g;
INSERT INTO neo_glitch_media (user_id, status, prompt, seed, input, estimated_cost, chain, chain_index,
        queued_at, next_attempt_at)
SELECT 'user' || (g % 7), 'pending', 'q' || g, g, '{}', 1,
       CASE WHEN g % 2 = 0 THEN 'fal:fal-ai/x,local' ELSE 'stability,local' END, g % 2,
       now(), now() + make_interval(secs => g)
  FROM generate_series(1, 3000) g;
SQL

# Beside the upgrade: the previous release's writes (queued rows finishing, new rows
# queued, finished rows pruned) and reads by primary key, each timed.
my $stop = "$old/stop";
my $busy = fork // die;
if (!$busy) {
    my ($worst, $n) = (0, 0);
    while (!-e $stop) {
        for my $sql (
            "UPDATE neo_glitch_media SET status = 'completed', image_url = 'https://media.example/x',"
              . " credits_charged = estimated_cost, started_at = now(), finished_at = now()"
              . " WHERE id IN (SELECT id FROM neo_glitch_media WHERE status = 'pending' ORDER BY random() LIMIT 3)",
            "INSERT INTO neo_glitch_media (user_id, status, prompt, seed, input, estimated_cost, chain,"
              . " queued_at, next_attempt_at) SELECT 'late' || g, 'pending', 'late', g, '{}', 1, 'local', now(), now()"
              . " FROM generate_series(1, 2) g",
            "DELETE FROM neo_glitch_media WHERE id IN (SELECT id FROM neo_glitch_media WHERE status = 'failed'"
              . " ORDER BY random() LIMIT 2)",
            "SELECT status FROM neo_glitch_media WHERE id = (SELECT id FROM neo_glitch_media LIMIT 1)") {
            my $t = Time::HiRes::time();
            psql_db($sql);
            my $d = Time::HiRes::time() - $t;
            $worst = $d if $d > $worst;
            $n++;
            open my $c, '>>', "$old/ops" or die;
            print $c '.';
            close $c;
        }
    }
    open my $fh, '>', "$old/worst" or die;
    print $fh "$worst $n";
    exit 0;
}
my $t0 = Time::HiRes::time();
($ok, $out) = migrate('--phase', 'expand', '--batch', '200');
my $secs = Time::HiRes::time() - $t0;
# An expand phase without a backfill takes a moment: the writes go on
# until it is done and they are 20 at least (each counted in its file).
my $since = Time::HiRes::time();
Time::HiRes::sleep(0.1) while (-s "$old/ops" // 0) < 24 && Time::HiRes::time() - $since < 30;
open my $s, '>', $stop or die;
close $s;
waitpid $busy, 0;
ok($ok, sprintf('the expand phase (%.1f s, backfill batches of 200)', $secs)) or diag $out;
# The contract steps released after the previous release's schema, and
# the floor the newest of them sets (sql/038: greatest(needs_at_least, N)).
my ($contract, $floor) = (0, 0);
for my $f (glob("$top/sql/[0-9][0-9][0-9]_*.sql")) {
    my ($n) = $f =~ m{/(\d{3})_[^/]+$};
    open my $h, '<', $f or die $!;
    my $text = do { local $/; <$h> };
    next unless $text =~ /^-- genflow-migrate: phase=contract$/m;
    $contract++ if $n > $schema;
    $floor = $1 if $text =~ /needs_at_least = greatest\(needs_at_least, (\d+)\)/ && $1 > $floor;
}
like($out, qr/$contract contract migration\(s\) pending/, "the contract steps wait ($contract)") or diag $out;
my ($worst, $ops) = split ' ', do { local (@ARGV, $/) = ("$old/worst"); <> };
cmp_ok($ops, '>', 20, "writes and reads ran meanwhile ($ops)");
cmp_ok($worst, '<', 1.0, "none waited 1 s (the worst: ${worst} s, psql's own start included)");

is(psql_db("SELECT count(*) FROM neo_glitch_media WHERE status IN ('pending', 'processing') AND cur_provider IS NULL"),
   0, 'every open row has its provider');
is(psql_db("SELECT string_agg(DISTINCT cur_provider, ',' ORDER BY cur_provider) FROM neo_glitch_media WHERE status = 'pending'"),
   'fal,local', "each row's provider is its chain position's");
is(psql_db("SELECT count(*) FROM neo_glitch_media WHERE status = 'pending' AND queued_at IS NOT NULL AND (turn IS NULL OR ticket IS NULL)"),
   0, 'every queued row has its turn and ticket');
is(psql_db('SELECT count(*) FROM genflow_count_progress'), 0, 'the counts backfill is done');
is(psql_db(<<'SQL'), '', "each finished count equals the type's rows");
SELECT string_agg(format('%s: counted %s, rows %s', s.status, c.n, r.n), '; ')
  FROM (VALUES ('completed'), ('failed'), ('cancelled')) s(status),
  LATERAL (SELECT COALESCE(sum(u.n), 0) AS n FROM (
             SELECT t.n FROM genflow_status_totals t WHERE t.gen_type = 'neo-glitch' AND t.status = s.status
             UNION ALL SELECT d.n FROM genflow_status_counts d WHERE d.gen_type = 'neo-glitch' AND d.status = s.status) u) c,
  LATERAL (SELECT count(*) AS n FROM neo_glitch_media m WHERE m.status = s.status) r
 WHERE c.n <> r.n
SQL
is(psql_db("SELECT count(*) FROM genflow_line_check('neo-glitch')"), 0, 'each line counts its queued rows');
is(psql_db('SELECT count(*) FROM pg_index WHERE NOT indisvalid'), 0, 'no index left invalid');

my $same_indexes = <<'SQL';
SELECT COALESCE(string_agg(w || ': ' || d, '; '), '') FROM (
  (SELECT 'only migrated' w, replace(indexdef, 'neo_glitch_media', 'T') d FROM pg_indexes WHERE tablename = 'neo_glitch_media'
   EXCEPT SELECT 'only migrated', replace(indexdef, 'NEWT', 'T') FROM pg_indexes WHERE tablename = 'NEWT')
  UNION ALL
  (SELECT 'only new', replace(indexdef, 'NEWT', 'T') FROM pg_indexes WHERE tablename = 'NEWT'
   EXCEPT SELECT 'only new', replace(indexdef, 'neo_glitch_media', 'T') FROM pg_indexes WHERE tablename = 'neo_glitch_media')) x
SQL
psql_db("SELECT genflow_create_type_table('upgrade-new', 'upgrade_new_media')");
(my $q = $same_indexes) =~ s/NEWT/upgrade_new_media/g;
is(psql_db($q), '', 'a new type table has the indexes of a migrated one');
my $same_triggers = <<'SQL';
SELECT COALESCE(string_agg(w || ': ' || d, '; '), '') FROM (
  (SELECT 'only migrated' w, replace(pg_get_triggerdef(oid), 'neo_glitch_media', 'T') d FROM pg_trigger
    WHERE tgrelid = 'neo_glitch_media'::regclass AND NOT tgisinternal
   EXCEPT SELECT 'only migrated', replace(replace(pg_get_triggerdef(oid), 'NEWT', 'T'), 'NEWTYPE', 'neo-glitch')
    FROM pg_trigger WHERE tgrelid = 'NEWT'::regclass AND NOT tgisinternal)
  UNION ALL
  (SELECT 'only new', replace(replace(pg_get_triggerdef(oid), 'NEWT', 'T'), 'NEWTYPE', 'neo-glitch') FROM pg_trigger
    WHERE tgrelid = 'NEWT'::regclass AND NOT tgisinternal
   EXCEPT SELECT 'only new', replace(pg_get_triggerdef(oid), 'neo_glitch_media', 'T') FROM pg_trigger
    WHERE tgrelid = 'neo_glitch_media'::regclass AND NOT tgisinternal)) x
SQL
(my $t = $same_triggers) =~ s/NEWTYPE/upgrade-new/g;
$t =~ s/NEWT/upgrade_new_media/g;
is(psql_db($t), '', 'and its triggers (the finished counts by statement among them)');

# The finished counts are written once per statement and status: a
# statement that finishes 3 rows as failed and 2 as cancelled adds two
# deltas (3 and 2), one that finishes none adds nothing. Rolled back:
# the rows stay as the checks above found them.
is(psql_db(<<'SQL'), '0;cancelled=2,failed=3', 'a statement that finishes rows adds one count per status, not one per row');
BEGIN;
DELETE FROM genflow_status_counts WHERE gen_type = 'neo-glitch' AND shard <> 0;
UPDATE neo_glitch_media SET lease_until = lease_until WHERE status IN ('pending', 'processing');
CREATE TEMP TABLE first_counts ON COMMIT DROP AS
SELECT count(*) AS k FROM genflow_status_counts WHERE gen_type = 'neo-glitch' AND shard <> 0;
UPDATE neo_glitch_media g SET status = CASE WHEN k.n <= 3 THEN 'failed' ELSE 'cancelled' END,
       credits_charged = 0, finished_at = now(), lease_owner = NULL, lease_until = NULL
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM neo_glitch_media
         WHERE status = 'pending' ORDER BY id LIMIT 5) k
 WHERE g.id = k.id;
SELECT (SELECT k FROM first_counts) || ';' || string_agg(status || '=' || n, ',' ORDER BY status) FROM genflow_status_counts
 WHERE gen_type = 'neo-glitch' AND shard <> 0;
ROLLBACK;
SQL

($ok, $out) = migrate('--phase', 'contract');
ok($ok, 'the contract phase') or diag $out;
is(psql_db('SELECT needs_at_least FROM genflow_schema_floor'), $floor,
   "it raised the floor to $floor (what the modules that survive the newest contract step need)");
psql_db("SELECT genflow_create_type_table('upgrade-late', 'upgrade_late_media')");
($q = $same_indexes) =~ s/NEWT/upgrade_late_media/g;
is(psql_db($q), '', "and after it, a new type table still has a migrated one's indexes (the indexes the contract steps drop gone from both)");

psql("DROP DATABASE IF EXISTS $db WITH (FORCE)");
