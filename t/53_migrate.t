# SPDX-License-Identifier: Apache-2.0
# genflow-test: alone, because it bounds a read's wait during a migration in seconds
# genflow-migrate's mechanics on migrations of the test's own: phases
# (expand by default on a database with a schema, everything on a new one,
# contract on its own and never ahead of an expand step), files run
# outside a transaction (CONCURRENTLY) with the invalid index a stopped
# build left dropped before they run again, backfills in batches that
# resume where a failed run stopped, lock waits bounded by --lock-timeout
# and retried, and --status.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use Time::HiRes ();

plan tests => 38;

my $top = Apache::Test::vars('serverroot') . '/..';
my $db = "genflow_migrate_$$";
psql("DROP DATABASE IF EXISTS $db");
psql("CREATE DATABASE $db");
(my $uri = $ENV{GENFLOW_TEST_PG_URI}) =~ s{/[^/]+$}{/$db};
sub psql_db { local $ENV{GENFLOW_TEST_PG_URI} = $uri; return psql($_[0]) }
sub migrate {
    my (@args) = @_;
    my $out = qx(PATH='$ENV{GENFLOW_TEST_PG_BINDIR}':"\$PATH" '$top/scripts/genflow-migrate' @args '$uri' 2>&1);
    return ($? == 0, $out);
}
my $dir = tempdir(CLEANUP => 1);
sub file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die $!;
    print $fh $text;
    close $fh;
}

# --status first on a new database (docs/operations.md, "Upgrading") makes
# the table, applies nothing, and the next run is still a new database's.
my ($ok0, $out0) = migrate('--sql-dir', $dir, '--status');
ok($ok0, '--status on a new database') or diag $out0;
file('001_base.sql', <<'SQL');
-- genflow-migrate: locks=none (new tables)
CREATE TABLE t_items (id bigint PRIMARY KEY, v text, w text);
INSERT INTO t_items SELECT g, 'v' || g FROM generate_series(1, 12345) g;
SQL
file('002_drop_old.sql', "-- genflow-migrate: phase=contract\nSELECT 1;\n");
my ($ok, $out) = migrate('--sql-dir', $dir);
ok($ok && $out =~ /applying 001_base \(expand\).*applying 002_drop_old \(contract\)/s,
   'after --status, still a new database: every phase applied') or diag $out;
psql_db('DELETE FROM genflow_schema_version WHERE version = 2');

file('002_drop_old.sql', <<'SQL');
-- genflow-migrate: phase=contract
-- genflow-migrate: locks=ACCESS EXCLUSIVE on t_items for a moment (a column dropped)
ALTER TABLE t_items DROP COLUMN v;
SQL
file('003_index.sql', <<'SQL');
-- genflow-migrate: transaction=none
-- genflow-migrate: locks=SHARE UPDATE EXCLUSIVE on t_items while the index builds (writes go on)
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_items_w ON t_items (w);
SQL
file('004_fill.sql', <<'SQL');
-- genflow-migrate: backfill=t_fill_w
-- genflow-migrate: locks=ROW EXCLUSIVE on the rows of each batch
CREATE TABLE IF NOT EXISTS t_fill_progress (only_row boolean PRIMARY KEY, upto bigint NOT NULL);
INSERT INTO t_fill_progress VALUES (true, 0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION t_fill_w(p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    lo bigint;
    hi bigint;
    n integer;
BEGIN
    SELECT upto INTO lo FROM t_fill_progress FOR UPDATE;
    SELECT max(id), count(*) INTO hi, n FROM (SELECT id FROM t_items WHERE id > lo ORDER BY id LIMIT p_batch) b;
    IF n = 0 THEN RETURN 0; END IF;
    IF EXISTS (SELECT 1 FROM t_poison WHERE id BETWEEN lo + 1 AND hi) THEN
        RAISE EXCEPTION 'poisoned batch';
    END IF;
    UPDATE t_items SET w = 'w' || id WHERE id > lo AND id <= hi;
    UPDATE t_fill_progress SET upto = hi;
    RETURN n;
END
$fn$;
SQL
psql_db('CREATE TABLE t_poison (id bigint)');
psql_db('INSERT INTO t_poison VALUES (7777)');

# The 2nd run, on a database with a schema: expand only. The backfill
# fails at its batch holding row 7777: 003 (no transaction) is applied,
# 004 is not recorded, the batches before it stay done.
($ok, $out) = migrate('--sql-dir', $dir);
ok(!$ok, 'a failed backfill fails the run') or diag $out;
like($out, qr/poisoned batch/, "the function's error is shown");
is(psql_db("SELECT string_agg(version::text || ':' || phase, ',' ORDER BY version) FROM genflow_schema_version"),
   '1:expand,3:expand', '003 recorded, 002 (contract) and 004 (failed backfill) not');
is(psql_db('SELECT upto FROM t_fill_progress'), 5000, 'the batch before the failure is kept');
is(psql_db("SELECT count(*) FROM t_items WHERE w IS NOT NULL"), 5000, 'its rows filled');
is(psql_db("SELECT count(*) FROM t_items WHERE v IS NOT NULL"), 12345, 'the contract step did not run');

# Resumed.
psql_db('DELETE FROM t_poison');
($ok, $out) = migrate('--sql-dir', $dir);
ok($ok, 'the run resumes') or diag $out;
like($out, qr/backfill t_fill_w: 7345 rows in all/, 'the backfill does only the rows left') or diag $out;
like($out, qr/1 contract migration\(s\) pending: run genflow-migrate --phase contract/,
     'and says that a contract step waits');
is(psql_db("SELECT count(*) FROM t_items WHERE w = 'w' || id"), 12345, 'every row filled once');

# --status: phases, applied or pending, what each locks.
($ok, $out) = migrate('--sql-dir', $dir, '--status');
ok($ok, '--status') or diag $out;
like($out, qr/^2\s+002_drop_old\s+contract\s+pending\s+ACCESS EXCLUSIVE on t_items for a moment/m,
     '--status: the contract step pending, with its locks') or diag $out;
like($out, qr/^3\s+003_index\s+expand\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+SHARE UPDATE EXCLUSIVE/m,
     '--status: an applied step, when, and its locks') or diag $out;

# Contract.
($ok, $out) = migrate('--sql-dir', $dir, '--phase', 'contract');
ok($ok && $out =~ /applying 002_drop_old \(contract\)/, 'the contract phase') or diag $out;
is(psql_db("SELECT count(*) FROM information_schema.columns WHERE table_name = 't_items' AND column_name = 'v'"),
   0, 'the column is gone');

# A contract step never runs ahead of an expand step before it.
file('005_more.sql', "ALTER TABLE t_items ADD COLUMN IF NOT EXISTS x text;\n");
file('006_less.sql', "-- genflow-migrate: phase=contract\nALTER TABLE t_items DROP COLUMN IF EXISTS w2;\n");
($ok, $out) = migrate('--sql-dir', $dir, '--phase', 'contract');
ok(!$ok && $out =~ /006_less \(contract\) waits for 005_more \(expand\): run genflow-migrate --phase expand first/,
   'a contract step waits for the expand step before it') or diag $out;
is(psql_db('SELECT count(*) FROM genflow_schema_version WHERE version >= 5'), 0, 'neither applied');
($ok, $out) = migrate('--sql-dir', $dir, '--phase', 'all');
ok($ok && $out =~ /applying 005_more.*applying 006_less/s, '--phase all applies both, in order') or diag $out;

# A CONCURRENTLY build stopped part way leaves an invalid index: the next
# run drops it and builds it again.
psql_db("UPDATE t_items SET x = 'same' WHERE id <= 2");
file('007_unique_x.sql', <<'SQL');
-- genflow-migrate: transaction=none
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_items_x ON t_items (x);
SQL
($ok, $out) = migrate('--sql-dir', $dir);
ok(!$ok, 'a build that fails fails the run') or diag $out;
is(psql_db("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 't_items_x'"),
   'f', 'and leaves an invalid index');
psql_db("UPDATE t_items SET x = NULL WHERE id = 2");
($ok, $out) = migrate('--sql-dir', $dir);
ok($ok && $out =~ /dropping an index a stopped build left invalid: DROP INDEX CONCURRENTLY IF EXISTS t_items_x/,
   'the next run drops it') or diag $out;
is(psql_db("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 't_items_x'"),
   't', 'and builds it valid');

# A lock the migration cannot get within --lock-timeout: rolled back, tried
# again, applied once the lock is free; the reads that came meanwhile
# waited at most that long.
file('008_add_y.sql', <<'SQL');
-- genflow-migrate: locks=ACCESS EXCLUSIVE on t_items for a moment (a column added)
ALTER TABLE t_items ADD COLUMN y text;
SQL
my $bin = $ENV{GENFLOW_TEST_PG_BINDIR} ? "$ENV{GENFLOW_TEST_PG_BINDIR}/psql" : 'psql';
my $holder = fork // die;
if (!$holder) {
    exec $bin, '-X', '-q', $uri, '-c', 'BEGIN; LOCK TABLE t_items IN ACCESS SHARE MODE; SELECT pg_sleep(2.5); COMMIT;';
}
select undef, undef, undef, 0.5;
my $reader = fork // die;
if (!$reader) {
    # Reads while the migration waits: none waits more than the timeout.
    my $worst = 0;
    for (1 .. 25) {
        my $t = Time::HiRes::time();
        psql_db('SELECT count(*) FROM t_items WHERE id = 1');
        my $d = Time::HiRes::time() - $t;
        $worst = $d if $d > $worst;
        select undef, undef, undef, 0.1;
    }
    open my $fh, '>', "$dir/worst" or die;
    print $fh $worst;
    exit 0;
}
($ok, $out) = migrate('--sql-dir', $dir, '--lock-timeout', '300ms');
waitpid $holder, 0;
waitpid $reader, 0;
ok($ok, 'applied once the lock was free') or diag $out;
like($out, qr/a lock was not granted within 300ms \(try 1 of 40\): again in 1 s/, 'after retries') or diag $out;
my $worst = do { local (@ARGV, $/) = ("$dir/worst"); <> };
cmp_ok($worst, '<', 1.0, "a read waited at most ${worst} s meanwhile (the timeout is 0.3 s)");

# --retries 0: the lock not granted, nothing of the file applied.
file('009_add_z.sql', "ALTER TABLE t_items ADD COLUMN z text;\nCREATE TABLE t_marker (x int);\n");
$holder = fork // die;
if (!$holder) {
    exec $bin, '-X', '-q', $uri, '-c', 'BEGIN; LOCK TABLE t_items IN ACCESS SHARE MODE; SELECT pg_sleep(1.5); COMMIT;';
}
select undef, undef, undef, 0.5;
($ok, $out) = migrate('--sql-dir', $dir, '--lock-timeout', '200ms', '--retries', '0');
waitpid $holder, 0;
ok(!$ok && $out =~ /009_add_z: a lock was not granted within 200ms in 1 try; nothing of it is applied/,
   'without retries the run stops, saying why') or diag $out;
is(psql_db("SELECT count(*) FROM pg_class WHERE relname = 't_marker'")
   . psql_db('SELECT count(*) FROM genflow_schema_version WHERE version = 9'), '00', 'and nothing of the file is applied');
# The next run, the lock free, applies it (and, before the deadlock below,
# takes t_items only for its own file: the other side there waits for the
# migration's lock on t_items, and once caught this file's, went through
# before the deadlock's file began, and there was no deadlock).
($ok, $out) = migrate('--sql-dir', $dir);
ok($ok && $out =~ /applying 009_add_z/
   && psql_db('SELECT count(*) FROM genflow_schema_version WHERE version = 9') eq '1',
   'the next run applies it') or diag $out;

# A deadlock with a transaction of the site's: it holds t_deadlock and
# waits for t_items, which the migration took first; the migration then
# wants t_deadlock. The other side checks for deadlocks only after 10 s, so
# PostgreSQL rolls the migration back (40P01) a second after its wait
# began; the whole file is tried again, and applied once the other
# transaction is through. (With the default --lock-timeout, 500ms, below
# deadlock_timeout, the migration gives up its wait before.) The order is
# made, not waited for: the migration starts once the other side says it
# holds t_deadlock (a file its psql touches), and the file's first try
# asks for t_deadlock only once the other side waits for t_items, so the
# migration's own check finds the deadlock. (A fixed sleep was once too
# short on a loaded machine. Once the other side took another file's lock
# on t_items for the migration's, and was through before this file began:
# no file but this one is pending now.)
psql_db('CREATE TABLE t_deadlock (id int); CREATE SEQUENCE t_deadlock_tries');
file('010_two_tables.sql', <<'SQL');
-- genflow-migrate: locks=ACCESS EXCLUSIVE on t_items and t_deadlock for a moment
ALTER TABLE t_items ADD COLUMN d1 text;
DO $$ BEGIN
    -- A sequence counts the tries (nextval survives the rollback).
    IF nextval('t_deadlock_tries') = 1 THEN
        FOR i IN 1 .. 600 LOOP
            EXIT WHEN EXISTS (SELECT 1 FROM pg_locks WHERE relation = 't_items'::regclass
                                 AND NOT granted AND pid <> pg_backend_pid());
            PERFORM pg_sleep(0.05);
        END LOOP;
    END IF;
END $$;
ALTER TABLE t_deadlock ADD COLUMN d2 text;
SQL
my $side = tempdir(CLEANUP => 1);
chmod 0777, $side;
open my $hs, '>', "$side/holder.sql" or die $!;
print $hs <<"SQL";
BEGIN;
SET LOCAL deadlock_timeout = '10s';
LOCK TABLE t_deadlock IN ROW EXCLUSIVE MODE;
\\! touch '$side/ready'
SQL
print $hs <<'SQL';
DO $$ BEGIN
    WHILE NOT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 't_items'::regclass
                         AND mode = 'AccessExclusiveLock' AND granted) LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT count(*) FROM t_items;
COMMIT;
SQL
close $hs;
$holder = fork // die;
if (!$holder) {
    open STDOUT, '>', '/dev/null' or die;
    open STDERR, '>', "$side/holder.err" or die;
    exec $bin, '-X', '-q', '-v', 'ON_ERROR_STOP=1', $uri, '-f', "$side/holder.sql";
}
my $since = Time::HiRes::time();
Time::HiRes::sleep(0.05) while !-e "$side/ready" && Time::HiRes::time() - $since < 60;
ok(-e "$side/ready", sprintf('the other transaction holds t_deadlock (after %.1f s)', Time::HiRes::time() - $since))
    or diag(do { local (@ARGV, $/) = ("$side/holder.err"); <> } // 'no output');
($ok, $out) = migrate('--sql-dir', $dir, '--lock-timeout', '5s');
waitpid $holder, 0;
ok($ok && $out =~ /010_two_tables \(expand\)\n  a deadlock with another transaction, rolled back \(try 1 of 40\): again in 1 s/,
   'a deadlock: the file rolled back, tried again and applied')
    or diag($out . "the other transaction's psql (exit status $?): "
            . (do { local (@ARGV, $/) = ("$side/holder.err"); <> } // 'no output'));
is(psql_db("SELECT count(*) FROM information_schema.columns WHERE column_name IN ('d1', 'd2')"), 2,
   'both its columns are there');

# Names in the catalog are anybody's with CREATE on the schema: a table
# named to break out of a quoted string, with an invalid index, on a type
# table (genflow_types names it, so its index is dropped) and on a table
# of nobody's (kept). Neither name reaches SQL as text: the role the
# injection would promote stays as it was, and the run goes on.
my $role = "reporter_$$";
psql_db("DROP ROLE IF EXISTS $role; CREATE ROLE $role NOLOGIN");
my $evil = "x'; ALTER ROLE $role SUPERUSER; SELECT '";
(my $evil_sql = $evil) =~ s/"/""/g;
my $evil2 = "y\"; ALTER ROLE $role SUPERUSER; SELECT '";
(my $evil2_sql = $evil2) =~ s/"/""/g;
psql_db("CREATE TABLE genflow_types (table_name text)");
psql_db(qq{INSERT INTO genflow_types VALUES (\$n\$$evil\$n\$)});
for my $t ([$evil_sql, 'i_evil'], [$evil2_sql, "j\"\"; DROP TABLE t_items; --"]) {
    psql_db(qq{CREATE TABLE "$t->[0]" (v int); INSERT INTO "$t->[0]" VALUES (1), (1)});
}
my $bad = sub {
    my ($table, $index) = @_;
    system($bin, '-X', '-q', $uri, '-c', qq{CREATE UNIQUE INDEX CONCURRENTLY "$index" ON "$table" (v)});
};
$bad->($evil_sql, 'i_evil');
$bad->($evil2_sql, "j\"\"; DROP TABLE t_items; --");
is(psql_db("SELECT count(*) FROM pg_index WHERE NOT indisvalid"), 2, 'two invalid indexes on hostile tables');
file('011_concurrently.sql', <<'SQL');
-- genflow-migrate: transaction=none
CREATE INDEX CONCURRENTLY IF NOT EXISTS t_items_y ON t_items (y);
SQL
($ok, $out) = migrate('--sql-dir', $dir);
ok($ok && $out =~ /applying 011_concurrently/, 'the run goes on past hostile names') or diag $out;
is(psql_db("SELECT rolsuper FROM pg_roles WHERE rolname = '$role'"), 'f', 'no name was run as SQL: the role is not superuser');
is(psql_db("SELECT string_agg(c.relname, ',') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid"),
   'j"; DROP TABLE t_items; --', "the type table's invalid index dropped, by its quoted name; the other table's kept");
is(psql_db("SELECT count(*) FROM t_items"), 12345, 't_items is whole');
psql_db("DROP ROLE IF EXISTS $role");

psql("DROP DATABASE IF EXISTS $db WITH (FORCE)");
