# SPDX-License-Identifier: Apache-2.0
# sql/016 on a database shaped by the migrations before it: the active
# count of every account becomes its generations queued or processing, in
# the shipped type tables and in a site's own (genflow_create_type_table);
# created-only generations stop counting. Then the functions it replaced:
# genflow_check_invariants reports a wrong count, genflow_recount_active
# fixes it, genflow_expire_orphans gives created generations their own TTL
# and gives back the count only for queued ones. A second run applies
# nothing.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use File::Temp qw(tempdir);
use File::Copy qw(copy);

plan tests => 19;

my $top = Apache::Test::vars('serverroot') . '/..';
my $migrate = "$top/scripts/genflow-migrate";
my $db = "genflow_active_$$";
psql("DROP DATABASE IF EXISTS $db");
psql("CREATE DATABASE $db");
(my $uri = $ENV{GENFLOW_TEST_PG_URI}) =~ s{/[^/]+$}{/$db};
sub q_db {
    my ($sql) = @_;
    local $ENV{GENFLOW_TEST_PG_URI} = $uri;
    return psql($sql);
}
sub migrate {
    my ($dir) = @_;
    my $out = `PATH='$ENV{GENFLOW_TEST_PG_BINDIR}':"\$PATH" '$migrate' --sql-dir '$dir' '$uri' 2>&1`;
    return ($? == 0, $out);
}

# The migrations up to 015 only.
my $sql = tempdir(CLEANUP => 1);
my @files = sort glob("$top/sql/[0-9][0-9][0-9]_*.sql");
copy($_, $sql) or die "copy $_: $!" for grep { (m{/(\d{3})_[^/]*$})[0] < 16 } @files;
my ($ok, $out) = migrate($sql);
ok($ok, 'migrations 001..015 applied') or diag $out;
is(q_db('SELECT max(version) FROM genflow_schema_version'), 15, 'the schema is at 015');
q_db("SELECT genflow_create_type_table('site-type', 'site_type_media')");

# Accounts and generations as the module before 016 left them: active
# counted every generation not terminal, created ones included.
my %users = (a => 'mig_a', b => 'mig_b', c => 'mig_c', d => 'mig_d');
for my $u (values %users) {
    q_db("WITH g AS (INSERT INTO genflow_ledger (user_id, kind, amount, reason) "
         . "VALUES ('$u', 'grant', 100, 'test') RETURNING user_id, amount) "
         . "INSERT INTO genflow_accounts (user_id, balance) SELECT user_id, amount FROM g");
}
# kind: created | queued | processing | completed
sub gen {
    my ($table, $type, $user, $kind, $age) = @_;
    $age //= '1 second';
    my %cols = (
        created    => ["'pending'", 'NULL', 'NULL', 'NULL', 'NULL'],
        queued     => ["'pending'", "now() - interval '$age'", "now() - interval '$age'", 'NULL', 'NULL'],
        processing => ["'processing'", 'now()', 'now()', 'now()', 'NULL'],
        completed  => ["'completed'", 'now()', 'now()', 'now()', 'now()'],
    );
    my ($status, $queued, $next, $started, $finished) = @{ $cols{$kind} };
    q_db("WITH g AS (INSERT INTO $table (user_id, prompt, seed, input, estimated_cost, status, "
         . "created_at, queued_at, next_attempt_at, started_at, finished_at, image_url, credits_charged) "
         . "VALUES ('$user', 'old', 1, '{}', 2, $status, now() - interval '$age', $queued, $next, "
         . "$started, $finished, " . ($kind eq 'completed' ? "'https://x.test/a.png', 2" : 'NULL, 0')
         . ") RETURNING id, user_id, estimated_cost), "
         . "r AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason) "
         . "SELECT user_id, 'reserve', -estimated_cost, '$type', id, 'create' FROM g), "
         . "c AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason) "
         . "SELECT user_id, 'charge', 0, '$type', id, 'completed' FROM g WHERE '$kind' = 'completed') "
         . "UPDATE genflow_accounts a SET balance = a.balance - g.estimated_cost, "
         . "active = a.active + " . ($kind eq 'completed' ? 0 : 1) . " FROM g WHERE a.user_id = g.user_id");
}
# a: 2 created, 1 queued, 1 processing, 1 completed in neo-glitch; 1 created
#    and 1 processing in the site's type: old count 6, queued or processing 3.
gen('neo_glitch_media', 'neo-glitch', $users{a}, $_) for qw(created created queued processing completed);
gen('site_type_media', 'site-type', $users{a}, $_) for qw(created processing);
# b: only created generations (custom-prompt): old count 2, now 0.
gen('custom_prompt_media', 'custom-prompt', $users{b}, 'created', '2 minutes') for 1 .. 2;
# c: a count that had drifted low: 0, with one queued row of the site's type.
gen('site_type_media', 'site-type', $users{c}, 'queued', '2 hours');
q_db("UPDATE genflow_accounts SET active = 0 WHERE user_id = '$users{c}'");
# d: no generation at all, and a count of 5 that drifted.
q_db("UPDATE genflow_accounts SET active = 5 WHERE user_id = '$users{d}'");
sub active { q_db("SELECT active FROM genflow_accounts WHERE user_id = '$_[0]'") }
is(join(' ', map { scalar active($users{$_}) } qw(a b c d)), '6 2 0 5', 'the old counts, before 016');

copy("$top/sql/016_honest_active.sql", $sql) or die "copy 016: $!";
($ok, $out) = migrate($sql);
ok($ok, '016 applied') or diag $out;
like($out, qr/1 migration\(s\) applied; schema at version 16/, 'exactly one migration, to version 16');
is(active($users{a}), 3, 'a: queued or processing across a shipped and a site type table (3)');
is(active($users{b}), 0, 'b: created-only generations no longer count');
is(active($users{c}), 1, 'c: a drifted count is set from the rows');
is(active($users{d}), 0, 'd: no generation, so a drifted count of 5 becomes 0');
is(q_db('SELECT count(*) FROM genflow_check_invariants(1000000, 1000000)'), 0,
   'genflow_check_invariants finds nothing wrong after 016')
    or diag(q_db('SELECT * FROM genflow_check_invariants(1000000, 1000000)'));

($ok, $out) = migrate($sql);
like($out, qr/0 migration\(s\) applied/, 'a second run applies nothing');

# The invariant check now compares the count with the rows.
q_db("UPDATE genflow_accounts SET active = 7 WHERE user_id = '$users{d}'");
like(q_db('SELECT * FROM genflow_check_invariants(1000000, 1000000)') // '',
     qr/^active of mig_d is 7, but 0 of its generations are queued or processing$/m,
     'genflow_check_invariants reports a wrong active count');
is(q_db('SELECT genflow_recount_active()'), 1, 'genflow_recount_active corrects one account');
is(active($users{d}), 0, 'back to 0');

# Orphan expiry with its two TTLs: b's created rows (2 minutes old) go after
# a created TTL of 60 s, c's queued row (due 2 hours) after 3600 s; a's
# created rows (seconds old) stay.
is(q_db('SELECT genflow_expire_orphans(3600, 60)'), 3, 'three orphans expire');
is(q_db("SELECT count(*) FROM genflow_ledger WHERE user_id IN ('$users{b}', '$users{c}') "
        . "AND kind = 'refund' AND reason = 'EXPIRED'"), 3, 'each refunded');
is(active($users{b}) . ' ' . active($users{c}), '0 0',
   'only the queued one gave back an active count (b stays 0, c 1 → 0)');
is(active($users{a}), 3, 'a is untouched');
is(q_db('SELECT count(*) FROM genflow_check_invariants(1000000, 1000000)'), 0,
   'every rule holds afterwards');

psql("DROP DATABASE IF EXISTS $db");
