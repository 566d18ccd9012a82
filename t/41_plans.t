# SPDX-License-Identifier: Apache-2.0
# The plans of the statements that run per job, per wake, per sweep or per
# scrape, pinned at 100,000 rows: no Seq Scan over a type table, the lines' counts or the
# webhook outbox, and no Sort of their rows, in the plan PostgreSQL makes for the
# prepared statement with its parameters unknown (the generic plan, which
# a prepared statement ends up with) and with them known (a custom plan);
# and, run on the rows, the claims, the due-work probe and a history page
# 5,000 rows deep read only a handful of them. A later change that brings
# a full scan or a sort of the queue back fails here, at any depth.
#
# The statements are the module's own text (bench/lib/print-sql, built by
# make check from the core library); the rows are a type table of this
# test's own (100,000 queued in two providers' lines, a tenth with a
# Cancel-After, 2,000 running, 10,000 asynchronous jobs held, 100,000 of
# history, one user 10,000 deep,
# 5,000 created and never queued, 2,000 failed) and 100,000 webhook
# deliveries, all removed at the end. admin_delete is left out: it deletes
# what an administrator asks for, in one go, and reads what it deletes.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use GenFlowTest;
use JSON::PP;

my $top = "$FindBin::Bin/..";
my $print = "$top/bench/lib/print-sql";
my ($type, $table) = ('plan-check', 'plan_check_media');
my $json = JSON::PP->new;

# Each statement: a label, how to print it, and the parameters of its
# EXECUTE (SQL expressions).
# Values taken from the rows (an EXECUTE's parameters cannot be
# subqueries): set as psql variables before each statement (\gset).
my %picks = (
    cursor => "SELECT id FROM $table WHERE user_id = 'plan-deep' ORDER BY created_at DESC, id DESC "
              . "OFFSET 5000 LIMIT 1",
    some => "SELECT id FROM $table WHERE status = 'processing' LIMIT 1",
    linea => "SELECT id FROM $table WHERE status = 'pending' AND queued_at IS NULL LIMIT 1",
    lastq => "SELECT id FROM $table WHERE status = 'pending' AND queued_at IS NOT NULL "
             . "AND cur_provider = 'plan-a' ORDER BY turn DESC, ticket DESC LIMIT 1",
    lastu => "SELECT user_id FROM $table WHERE status = 'pending' AND queued_at IS NOT NULL "
             . "AND cur_provider = 'plan-a' ORDER BY turn DESC, ticket DESC LIMIT 1",
);
my $picks = join('', map { "SELECT ($picks{$_}) AS $_ \\gset\n" } sort keys %picks);
my ($cursor, $some, $lineA) = (":'cursor'", ":'some'", ":'linea'");
my ($lastq, $lastu) = (":'lastq'", ":'lastu'");
my @type_ops = (
    [claim => "'w', 30, NULL, 'plan-a', 8, 0, 1, 0, NULL, 0, 0"],
    [claim => "'w', 30, NULL, 'plan-a', 8, 0, 1, 3, $some, 1, 0", 'claim (a place handed on)'],
    [claim => "'w', 30, NULL, 'plan-a', 8, 0, 1, 3, $some, 1, 1", 'claim (a standby for a place)'],
    [claim => "'w', 30, NULL, 'plan-b', 0, 100000, 1, 0, NULL, 0, 0", 'claim (rate)'],
    [claim => "'w', 30, NULL, 'plan-b', 0, 100000, 1, 0, NULL, 0, 2", 'claim (the pacer of a rate)'],
    [claim => "'w', 30, NULL, 'plan-b', 0, 0, 1, 0, NULL, 0, 0", 'claim (no limits)'],
    [claim => "'w', 30, NULL, 'plan-a', 0, 0, 16, 0, NULL, 0, 0", 'claim (a batch of new work)'],
    [claim => "'w', 30, NULL, 'plan-a', 0, 0, 12, 0, NULL, 0, 0", 'claim (a small batch: 8 of 12 places)'],
    [claim_polls => "'w', 30, NULL, 'plan-a', 8, 0, 16, 0, NULL, 0, 0"],
    [queue => "$lineA, 'plan-u1', NULL, NULL, 0, 30, 4, 'premium'"],
    [create_queue => "'plan-u1', 1, 0, 'p', 'p', NULL, NULL, NULL, 1, '{\"cancelAfter\":30}', 3, "
                     . "'plan-a', 120, 0, gen_random_uuid(), NULL, NULL, NULL, NULL, 4, 'premium'"],
    [create => "'plan-u1', 1, 0, 'p', 'p', NULL, NULL, NULL, 1, '{}', 3, 'plan-a', 120, 0, "
               . "gen_random_uuid(), NULL, NULL, NULL, "
               . "'00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 1, NULL"],
    [creates => "jsonb_build_array(" . join(', ', map {
        "jsonb_build_object('n', $_, 'user_id', 'plan-u$_', 'cost', 1, 'day_limit', 0, 'prompt', 'p', "
        . "'user_prompt', 'p', 'seed', 1, 'input', '{}', 'max_retries', 3, 'chain', 'plan-a', "
        . "'deadline_secs', 120, 'id', gen_random_uuid(), 'server_name', 'x')" } 0, 1) . ")",
     'creates (two)'],
    [get => "$some, 'plan-u1'"],
    [get => "$lastq, $lastu", 'get (the last of a line 50,000 deep: its place)'],
    [get_line => "jsonb_build_array(jsonb_build_object('id', $lastq, 'u', $lastu), "
                 . "jsonb_build_object('id', $some, 'u', 'plan-u1'))",
     'get_line (the watched of a line, the last of 50,000 among them)'],
    [schedule => "1000, 0, 0, 0, 0, NULL, NULL, 'plan-a', NULL, $some, 'w', 1"],
    [complete => "$some, 'x', '[{\"url\":\"x\"}]', 'plan-a', NULL, 'w', 1"],
    [completes => "jsonb_build_array(jsonb_build_object('id', $some, 'image_url', 'x', "
                       . "'images', '[{\"url\":\"x\"}]', 'provider', 'plan-a', 'lease_owner', 'w', "
                       . "'attempts', 1), jsonb_build_object('id', $lastq, 'image_url', 'y', "
                       . "'images', '[{\"url\":\"y\"}]', 'provider', 'plan-a', 'lease_owner', 'w', "
                       . "'attempts', 1))", 'completes (two rows)'],
    [fail => "$some, 'failed', 'API_ERROR', 'm', NULL, NULL, 'w', 1, NULL"],
    [renew => "30, $some, 'w', 1, NULL, 0"],
    [renew => "30, $some, 'w', 1, $some, 2", 'renew (a place passed on)'],
    [keep => "30, 3, $some, 'w', 1"],
    [progress => "0.5, $some, 'w', 1"],
    [more => "'[{\"url\":\"x\"}]', 'plan-a', NULL, $some, 'w', 1"],
    [release => "0, 0, $some, 'w', 1"],
    [accepted => "'job', NULL, 'plan-a', $some, 'w', 1"],
    [release_rest => "$some, 'w'"],
    [input => "$some, 'plan-u1'"],
    [wake => "'job77'"],
    [expire => "900"],
    [expire_line => "3600, NULL"],
    [expire_late => "10"],
    [abort => "100"],
    [prune => "2592000"],
    [metrics => "'x'"],
    [history => "'plan-deep', 21"],
    [history_next => "'plan-deep', $cursor, 21"],
    [admin_list => "50"],
    [admin_status => "'failed', 50"],
    [admin_user => "'plan-deep', 'completed', 50"],
    [strays => "'plan-a'"],
);
my @global_ops = (
    [gf_budget_spent => "'plan-a', 'day', 'UTC'"],
    [gf_holds_expire => ""],
    [gf_group_stats => "'node-x', 'plan-s7|plan-s99999'"],
    [gf_group_open => "'plan-o7|plan-o8', '2|0', 'node-x', 'node-x'"],
    [gf_group_open_prune => ""],
    [gf_group_record => "'plan-s42', '120.5', '0.002'"],
    [gf_webhook_claim => "20, 32"],
    [gf_webhook_prune => "2592000"],
    [gf_webhook_backlog => "'x'"],
    [gf_webhook_failed => "'failed', 50"],
    [gf_turns_prune => "90000"],
    [gf_counts_fold => "100000"],
    [gf_line_fold => "100000"],
    [gf_places_ensure => "'plan-a', 8"],
    [gf_place_release => "'plan-a', 1, $some, 1"],
    [gf_place_take => "'plan-a', 8, 0, $some, 1, 'w', 30"],
    [gf_provider_pause => "'plan-a', 1000"],
    [gf_provider_state => "'plan-a', 8"],
);

plan tests => 2 * (@type_ops + @global_ops + 4 + 4) + @type_ops + 24;

ok(-x $print, 'bench/lib/print-sql is built (make check)');

# ---- the rows -------------------------------------------------------------
psql("SELECT genflow_create_type_table('$type', '$table')");
psql(<<"SQL");
INSERT INTO $table (user_id, status, prompt, seed, input, estimated_cost, created_at, started_at,
                    finished_at, image_url, chain, queued_at, next_attempt_at)
SELECT CASE WHEN i <= 10000 THEN 'plan-deep' ELSE 'plan-u' || (i % 500) END, 'completed', 'p', 1,
       '{}', 1, now() - interval '2 days' + i * interval '1 ms', now() - interval '2 days',
       now() - interval '2 days', 'x', 'plan-a', now() - interval '2 days', now() - interval '2 days'
  FROM generate_series(1, 100000) i;
INSERT INTO $table (user_id, status, prompt, seed, input, estimated_cost, created_at, chain,
                    queued_at, next_attempt_at, turn, cancel_at)
SELECT 'plan-u' || (i % 500), 'pending', 'p', 1, '{}', 1, now() - interval '1 hour' + i * interval '1 ms',
       CASE WHEN i % 2 = 0 THEN 'plan-a' ELSE 'plan-b' END, now() - interval '1 hour' + i * interval '1 ms',
       now() - interval '1 hour' + i * interval '1 ms', i / 500,
       CASE WHEN i % 10 = 0 THEN now() + interval '1 hour' + i * interval '1 ms' END
  FROM generate_series(1, 100000) i;
-- Running attempts and kept polls, none due for an hour: the file runs for
-- half a minute or more (longer under the sanitizers), and leases of 30 s
-- fell due during it, which the due-work probe then read.
INSERT INTO $table (user_id, status, prompt, seed, input, estimated_cost, created_at, chain,
                    queued_at, next_attempt_at, lease_owner, lease_until, started_at, deadline_at, attempts)
SELECT 'plan-u' || (i % 500), 'processing', 'p', 1, '{}', 1, now(), 'plan-a', now(),
       now() + interval '1 hour', 'w', now() + interval '1 hour', now(), now() + interval '2 hours', 1
  FROM generate_series(1, 2000) i;
INSERT INTO $table (user_id, status, prompt, seed, input, estimated_cost, created_at, chain,
                    queued_at, next_attempt_at, provider_job_id, started_at, deadline_at, attempts)
SELECT 'plan-u' || (i % 500), 'processing', 'p', 1, '{}', 1, now(), 'plan-a', now(),
       now() + interval '1 hour', 'job' || i, now(), now() + interval '1 day', 1
  FROM generate_series(1, 10000) i;
INSERT INTO $table (user_id, status, prompt, seed, input, estimated_cost, created_at, chain)
SELECT 'plan-u' || (i % 500), 'pending', 'p', 1, '{}', 1, now() - i * interval '100 ms', 'plan-a'
  FROM generate_series(1, 5000) i;
INSERT INTO $table (user_id, status, prompt, seed, input, estimated_cost, created_at, chain,
                    started_at, finished_at, error_code)
SELECT 'plan-u' || (i % 500), 'failed', 'p', 1, '{}', 1, now() - interval '1 day', 'plan-a',
       now() - interval '1 day', now() - interval '1 day', 'API_ERROR'
  FROM generate_series(1, 2000) i;
INSERT INTO genflow_webhook_outbox (webhook_id, generation_id, gen_type, user_id, event, url, payload,
                                    state, delivered_at, created_at, next_attempt_at)
SELECT 'msg_plan_' || i, gen_random_uuid(), '$type', 'plan-u1', 'completed', 'https://x.test/h', '{}',
       CASE WHEN i % 100 = 0 THEN 'pending' WHEN i % 1000 = 1 THEN 'failed' ELSE 'delivered' END,
       CASE WHEN i % 100 = 0 OR i % 1000 = 1 THEN NULL ELSE now() - interval '1 day' END,
       now() - interval '1 day' + i * interval '1 ms', now() - interval '1 hour'
  FROM generate_series(1, 100000) i;
INSERT INTO genflow_provider_limits (provider) VALUES ('plan-a'), ('plan-b') ON CONFLICT DO NOTHING;
INSERT INTO genflow_provider_stats (provider, latency_ms)
SELECT 'plan-s' || i, i FROM generate_series(1, 100000) i ON CONFLICT DO NOTHING;
ANALYZE genflow_provider_stats;
INSERT INTO genflow_provider_open (provider, node, open, updated_at)
SELECT 'plan-o' || (i % 1000), 'node-' || i, 1, now() - (i % 1000) * interval '1 ms'
  FROM generate_series(1, 100000) i ON CONFLICT DO NOTHING;
ANALYZE genflow_provider_open;
INSERT INTO genflow_provider_costs (generation_id, gen_type, attempt, provider, cost, created_at)
SELECT gen_random_uuid(), 'plan', 1, 'plan-c' || (i % 10), 0.01, now() - i * interval '1 s'
  FROM generate_series(1, 100000) i;
INSERT INTO genflow_provider_spend (provider, period_start, spent, calls)
SELECT 'plan-p' || i, date_trunc('day', now()), 1, 1 FROM generate_series(1, 100000) i
    ON CONFLICT DO NOTHING;
ANALYZE genflow_provider_costs;
ANALYZE genflow_provider_spend;
INSERT INTO genflow_provider_holds (generation_id, provider, gen_type, job, period_start, amount, until)
SELECT gen_random_uuid(), 'plan-h' || (i % 100), 'plan', true, date_trunc('day', now()), 1,
       now() + (i % 3600) * interval '1 s'
  FROM generate_series(1, 100000) i;
INSERT INTO genflow_provider_jobs (provider, running)
SELECT 'plan-j' || i, 1 FROM generate_series(1, 100000) i ON CONFLICT DO NOTHING;
ANALYZE genflow_provider_holds;
ANALYZE genflow_provider_jobs;
INSERT INTO genflow_provider_places (provider, place) SELECT 'plan-a', n FROM generate_series(1, 8) n
    ON CONFLICT DO NOTHING;
ANALYZE $table;
ANALYZE genflow_webhook_outbox;
SQL
is(psql("SELECT count(*) FROM $table WHERE status = 'pending' AND queued_at IS NOT NULL"), 100000,
   '100,000 queued in the lines of two providers');

# ---- reading plans ----------------------------------------------------------

# Run a psql script; the outputs of its EXPLAINs, in order.
sub explain_all {
    my ($script) = @_;
    my $bin = $ENV{GENFLOW_TEST_PG_BINDIR} ? "$ENV{GENFLOW_TEST_PG_BINDIR}/psql" : 'psql';
    my $file = "/tmp/genflow-plans-$$.sql";
    open my $fh, '>', $file or die $!;
    print $fh $picks, $script;
    close $fh;
    my $out = `$bin -X -q -At -v ON_ERROR_STOP=1 "$ENV{GENFLOW_TEST_PG_URI}" -f $file 2>&1`;
    unlink $file;
    return ($out, $? == 0);
}

# The statement's text with apr_dbd's placeholders as PostgreSQL's.
sub numbered {
    my ($sql) = @_;
    my $n = 0;
    $sql =~ s/%[sd]/'$' . ++$n/ge;
    return $sql;
}

# Every node of a plan (JSON), depth first.
sub nodes {
    my ($n) = @_;
    return ($n, map { nodes($_) } @{ $n->{Plans} // [] });
}

# Does the plan below n read the type table or the outbox itself (not
# through a CTE, whose rows a LIMIT of the statement bounds)?
sub reads_big {
    my ($n, $tbl) = @_;
    my $rel = $n->{'Relation Name'} // '';
    return 1 if $rel eq ($tbl // $table) || $rel eq 'genflow_webhook_outbox';
    return scalar grep { reads_big($_, $tbl) } @{ $n->{Plans} // [] };
}

# What is wrong with a plan: a Seq Scan of the type table or the outbox,
# or a Sort of their rows (a sort of a statement's own few rows, say the
# refunds of a sweep's batch grouped by user, is no fault).
sub faults {
    my ($plan, $tbl) = @_;
    my $big = $tbl // $table;
    my @bad;
    for my $n (nodes($plan)) {
        my $t = $n->{'Node Type'} // '';
        my $rel = $n->{'Relation Name'} // '';
        push @bad, "Seq Scan on $rel" if $t eq 'Seq Scan'
            && ($rel eq $big || $rel eq 'genflow_webhook_outbox' || $rel eq 'genflow_line_counts'
                || $rel eq 'genflow_provider_stats' || $rel eq 'genflow_provider_spend'
                || $rel eq 'genflow_provider_costs' || $rel eq 'genflow_provider_open'
                || $rel eq 'genflow_provider_holds' || $rel eq 'genflow_provider_jobs');
        push @bad, "$t of " . join(', ', @{ $n->{'Sort Key'} // [] }) if $t =~ /Sort$/ && reads_big($n, $tbl);
    }
    return @bad;
}

sub check_plans {
    my ($name, $sql, $args) = @_;
    for my $mode (qw(force_generic_plan force_custom_plan)) {
        my ($out, $ok) = explain_all("SET plan_cache_mode = $mode;\nPREPARE s AS " . numbered($sql)
                                     . ";\nEXPLAIN (FORMAT JSON) EXECUTE s" . ($args ne '' ? "($args)" : '') . ";\n");
        my $doc = $ok ? eval { $json->decode($out) } : undef;
        my @bad = $doc ? faults($doc->[0]{Plan}) : ("no plan: $out");
        (my $short = $mode) =~ s/force_(\w+)_plan/$1/;
        ok(!@bad, "$name, $short plan: " . (@bad ? join(', ', @bad) : 'index ranges only'));
    }
}

sub print_sql {
    my @args = @_;
    open my $fh, '-|', $print, @args or die "print-sql: $!";
    local $/;
    my $sql = <$fh>;
    close $fh;
    return $sql // '';
}

for my $op (@type_ops) {
    my ($name, $args, $label) = @$op;
    check_plans($label // $name, print_sql($type, $table, $name), $args);
}
for my $op (@global_ops) {
    my ($label, $args) = @$op;
    check_plans($label, print_sql('global', $label), $args);
}
check_plans('due-work probe', print_sql('due', $type, $table, 'plan-a,plan-b'), 'NULL');
# genflow_spend_add (sql/042), which every priced call of a provider with a
# budget runs inside COST_RECORD: its two statements as the function has
# them (a plpgsql function is a Function Scan to EXPLAIN): the period's row
# by its key, and a period's first row from that period's costs, one range
# of genflow_provider_costs' index by provider and time (sql/043).
check_plans('genflow_spend_add: the period row by its key',
            "UPDATE genflow_provider_spend s SET spent = s.spent + %s::numeric, calls = s.calls + 1,"
            . " updated_at = now() WHERE s.provider = %s"
            . " AND s.period_start = genflow_period_start(%s, %s, now())",
            "1, 'plan-p7', 'day', 'UTC'");
check_plans("genflow_spend_add: a period's first row",
            "INSERT INTO genflow_provider_spend AS s (provider, period_start, spent, calls)"
            . " SELECT %s, genflow_period_start(%s, %s, now()), COALESCE(sum(c.cost), 0) + %s::numeric,"
            . " count(*) + 1 FROM genflow_provider_costs c WHERE c.provider = %s"
            . " AND c.created_at >= genflow_period_start(%s, %s, now())"
            . " AND NOT (c.generation_id = %s::uuid AND c.attempt = %s::int)"
            . " ON CONFLICT (provider, period_start) DO UPDATE"
            . " SET spent = s.spent + 1, calls = s.calls + 1, updated_at = now()",
            "'plan-c3', 'day', 'UTC', 1, 'plan-c3', 'day', 'UTC', $some, 1");
# genflow_provider_hold and genflow_provider_release (sql/045), run per
# submission and per job end of a provider with a budget or max_jobs=:
# their statements as the functions have them, each by a key.
check_plans("genflow_provider_hold: this job's hold by its key",
            "SELECT 1 FROM genflow_provider_holds WHERE generation_id = %s::uuid AND provider = %s",
            "$some, 'plan-h7'");
check_plans('genflow_provider_hold: a job slot of the provider\'s row',
            "UPDATE genflow_provider_jobs j SET running = j.running + 1, updated_at = now()"
            . " WHERE j.provider = %s AND j.running < %s::int",
            "'plan-j7', 2");
check_plans("genflow_provider_hold: room in the period's row",
            "UPDATE genflow_provider_spend s SET held = s.held + %s::numeric, updated_at = now()"
            . " WHERE s.provider = %s AND s.period_start = genflow_period_start(%s, %s, now())"
            . " AND s.spent + s.held + %s::numeric <= %s::numeric + 0.000000001",
            "1, 'plan-p7', 'day', 'UTC', 1, 10");
check_plans('genflow_provider_release: the hold by its key',
            "DELETE FROM genflow_provider_holds WHERE generation_id = %s::uuid AND provider = %s",
            "$some, 'plan-h7'");
check_plans('genflow_expire_orphans', scalar psql("SELECT genflow_orphans_sql('$table', '$type')"), '3600, 900');

# A scrape's gauges of a type (sql/032) are read by <table>_gauges(), which
# forbids sequential and bitmap scans: each count a range of a partial
# index, each sum a range of the deltas' key. A read no index serves would
# still be a Seq Scan there.
{
    my ($out, $ok) = explain_all("SET enable_seqscan = off;\nSET enable_bitmapscan = off;\n"
                                 . "EXPLAIN (FORMAT JSON) " . psql("SELECT genflow_gauges_sql('$type', '$table')") . ";\n");
    my $doc = $ok ? eval { $json->decode($out) } : undef;
    my @bad = $doc ? faults($doc->[0]{Plan}) : ("no plan: $out");
    ok(!@bad, "$table" . "_gauges(), the scrape's counts: "
              . (@bad ? join(', ', @bad) : 'index ranges only'));
}

# ---- plans made while a type table is new -----------------------------------

# mod_dbd's connections keep each statement's generic plan from its first
# runs. For a new type (a site's first hour) that plan is made while the
# table is empty and was never vacuumed, which PostgreSQL takes for ten
# pages: a plan that scans the table there (a hash join of a claim's
# picks with all of it) then reads every row, each time, once the queue
# is deep, until an ANALYZE has the plan made again. Each statement's
# generic plan on a new, empty table must read it by index or tuple id.
my ($new_type, $new_table) = ('plan-new', 'plan_new_media');
psql("SELECT genflow_create_type_table('$new_type', '$new_table')");
for my $op (@type_ops) {
    my ($name, $args, $label) = @$op;
    my ($out, $ok) = explain_all("SET plan_cache_mode = force_generic_plan;\nPREPARE s AS "
                                 . numbered(print_sql($new_type, $new_table, $name))
                                 . ";\nEXPLAIN (FORMAT JSON) EXECUTE s($args);\n");
    my $doc = $ok ? eval { $json->decode($out) } : undef;
    my @bad = $doc ? faults($doc->[0]{Plan}, $new_table) : ("no plan: $out");
    ok(!@bad, ($label // $name) . ', planned while its table was new: '
              . (@bad ? join(', ', @bad) : 'index ranges only'));
}

# ---- how much the statements read, run on the rows ---------------------------

# The most rows one scan of the type table (or of $rel) returned in a run
# (per loop).
sub rows_read {
    my ($sql, $args, $rel) = @_;
    my ($out, $ok) = explain_all("BEGIN;\nSET plan_cache_mode = force_generic_plan;\n"
                                 . "PREPARE s AS " . numbered($sql) . ";\n"
                                 . "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE s($args);\nROLLBACK;\n");
    my $doc = $ok ? eval { $json->decode($out) } : undef;
    return -1 unless $doc;
    my $most = 0;
    for my $n (nodes($doc->[0]{Plan})) {
        next unless ($n->{'Relation Name'} // '') eq ($rel // $table);
        my $r = $n->{'Actual Rows'} // 0;
        $most = $r if $r > $most;
    }
    return $most;
}

my $r = rows_read(print_sql($type, $table, 'claim'), "'w', 30, NULL, 'plan-a', 8, 0, 1, 0, NULL, 0, 0");
ok($r >= 0 && $r <= 2, "a claim at 100,000 queued reads one row of the line ($r)");
# A batch of new work (a plain provider, a loop with its places free):
# its rows of the line and no more, 16, or 8 with fewer places.
$r = rows_read(print_sql($type, $table, 'claim'), "'w', 30, NULL, 'plan-a', 0, 0, 16, 0, NULL, 0, 0");
is($r, 16, "a claim of a batch at 100,000 queued reads its 16 rows of the line");
$r = rows_read(print_sql($type, $table, 'claim'), "'w', 30, NULL, 'plan-a', 0, 0, 12, 0, NULL, 0, 0");
is($r, 8, "a claim with 12 places free reads the small batch's 8 rows");
$r = rows_read(print_sql($type, $table, 'claim_polls'), "'w', 30, NULL, 'plan-a', 8, 0, 16, 0, NULL, 0, 0");
ok($r >= 0 && $r <= 16, "a claim of polls reads at most its batch ($r)");
$r = rows_read(print_sql('due', $type, $table, 'plan-a,plan-b'), 'NULL');
ok($r >= 0 && $r <= 2, "the due-work probe reads a row per provider and line ($r)");
$r = rows_read(print_sql($type, $table, 'history_next'), "'plan-deep', $cursor, 21");
ok($r >= 0 && $r <= 21, "a history page 5,000 rows deep reads its 21 rows ($r)");
# A place in line is counted, not searched: the row, at most 15 entries of
# its own block of tickets, and the line's buckets (at most 15 live ones a
# level and shard, eight levels), whatever the depth.
$r = rows_read(print_sql($type, $table, 'get'), "$lastq, $lastu");
ok($r >= 0 && $r <= 16, "the status of the last of 50,000 queued reads $r rows of the type table");
# The watched of a line read together: each by its key, its place counted.
$r = rows_read(print_sql($type, $table, 'get_line'),
               "jsonb_build_array(jsonb_build_object('id', $lastq, 'u', $lastu), "
               . "jsonb_build_object('id', $some, 'u', 'plan-u1'))");
ok($r >= 0 && $r <= 16, "the statuses of two watched of a line, one of them the last of 50,000, "
                        . "read $r rows of the type table a loop");
$r = rows_read(print_sql($type, $table, 'get'), "$lastq, $lastu", 'genflow_line_counts');
ok($r >= 0 && $r <= 300, "and $r rows of the line's counts");

# The lines' fold reads the shard rows it folds, not the table (sql/033):
# beside 200,000 folded buckets (shard 0, as a line of 40,000 queued in
# one statement leaves them), ten shard rows are folded by a statement
# that reads a few pages of the counts. The sequential scan it was read
# every page to find them, at every sweep. What the rows above left is
# folded and vacuumed first (each under the fold's advisory lock, so the
# suite server's sweep cannot hold it meanwhile); then one transaction,
# rolled back.
psql(<<"SQL");
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('genflow_fold_line_counts'));
SELECT genflow_fold_line_counts(10000000);
COMMIT;
SQL
psql("VACUUM genflow_line_counts");
my @fold = psql_rows(<<"SQL");
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('genflow_fold_line_counts'));
INSERT INTO genflow_line_counts (gen_type, provider, lvl, turn, sub, shard, n)
SELECT 'plan-fold', 'x', 0, i, 0, 0, 1 FROM generate_series(1, 200000) i;
INSERT INTO genflow_line_counts (gen_type, provider, lvl, turn, sub, shard, n)
SELECT 'plan-fold', 'x', 0, i * 1000, 0, 2, -1 FROM generate_series(1, 10) i;
-- A row queued and claimed between two sweeps (+1 and -1 in two shards of
-- a bucket with no shard 0 row), and the same in a bucket that holds 5:
-- the first leaves no row, the second its 5 untouched.
INSERT INTO genflow_line_counts (gen_type, provider, lvl, turn, sub, shard, n)
VALUES ('plan-fold', 'x', 1, 1, 0, 1, 1), ('plan-fold', 'x', 1, 1, 0, 3, -1),
       ('plan-fold', 'x', 1, 2, 0, 0, 5), ('plan-fold', 'x', 1, 2, 0, 1, 1),
       ('plan-fold', 'x', 1, 2, 0, 3, -1);
SELECT 'pages', pg_relation_size('genflow_line_counts') / 8192;
SELECT 'before', pg_stat_get_xact_blocks_fetched('genflow_line_counts'::regclass);
SELECT 'folded', genflow_fold_line_counts(5000);
SELECT 'after', pg_stat_get_xact_blocks_fetched('genflow_line_counts'::regclass);
SELECT 'left', count(*) FROM genflow_line_counts WHERE gen_type = 'plan-fold' AND (shard <> 0 OR n = 0);
SELECT 'pairs', string_agg(turn || ':' || n, ',' ORDER BY turn) FROM genflow_line_counts
 WHERE gen_type = 'plan-fold' AND lvl = 1;
ROLLBACK;
SQL
my %fold = map { $_->[0] => $_->[1] } grep { @$_ == 2 } @fold;
my $fold_read = ($fold{after} // 0) - ($fold{before} // 0);
ok(($fold{folded} // 0) >= 14 && ($fold{left} // -1) == 0 && ($fold{pages} // 0) >= 1000
   && defined $fold{before} && $fold_read <= 200,
   "a fold of 14 shard rows beside 200,000 buckets reads $fold_read pages of the counts' "
   . ($fold{pages} // '?') . " (folded " . ($fold{folded} // 'none') . ', left ' . ($fold{left} // '?') . ')');
is($fold{pairs}, '2:5', 'a +1 and a -1 of one bucket leave no row, and a shard 0 row they cancel out in '
   . 'keeps its count');

# ---- the finished counts after a load of 102,000 -----------------------------
# The load counted each finished row as a delta. Folded, the totals hold
# them and the deltas' table is empty: VACUUM cuts it back to nothing, so
# a scrape reads a few rows, not the pages a million deltas once filled.
# A fold right after a load, as the sweep folds, before autovacuum has
# analyzed the deltas' table: its statistics are still those of the empty
# table it usually is. A plan built on them must not be quadratic: sql/025's
# IN (subquery) became a nested loop that read the subquery once per delta
# (hours for 100,000; a CI run hung on it), the tuple ids of sql/028 take
# well under a second. In one transaction, so that the 102,000 deltas
# (n = 0: the totals stay as they are) are this fold's alone and not the
# suite server's sweep's; the statistics set there, so the test does not
# depend on when autovacuum last looked; the timeout turns a quadratic plan
# into a failure instead of a hang.
my ($folded, $fold_ok) = psql(<<"SQL");
BEGIN;
INSERT INTO genflow_status_counts (gen_type, status, shard, n)
SELECT '$type', 'completed', -i, 0 FROM generate_series(1, 102000) i;
UPDATE pg_class SET relpages = 1, reltuples = 0 WHERE relname = 'genflow_status_counts';
SET LOCAL statement_timeout = '60s';
SELECT genflow_fold_status_counts(10000000);
COMMIT;
SQL
ok($fold_ok && ($folded // 0) >= 102000,
   'with the statistics of an empty table, a fold takes 102,000 deltas in one statement (folded: '
   . ($folded // 'none') . ')');
psql("SELECT genflow_fold_status_counts(10000000)");
psql("VACUUM genflow_status_counts");
cmp_ok(psql("SELECT pg_relation_size('genflow_status_counts') / 8192"), '<=', 2,
       "folded and vacuumed, the deltas' table is back to a page or two");
my $metrics = print_sql($type, $table, 'metrics');
$metrics =~ s/%s/'x'/;
my %finished = map { $_->[0] => $_->[1] } psql_rows($metrics);
is("$finished{completed}/$finished{failed}", '100000/2000',
   'the scrape counts the finished rows from the totals: 100,000 completed, 2,000 failed');

# ---- a scrape after a burst: the statistics of a table mostly queued -----------
# Autovacuum analyzes a type table after 10,000 changes (sql/027), so in the
# middle of a burst: its statistics then say most rows are pending, and
# stay so after they drained, until the next analyze. A count of the
# pending rows planned on them read the whole table (twice a scrape: 16 of
# a scrape's 17.8 ms on 21,400 rows right after they drained); the scrape
# must read the open rows through their indexes whatever the statistics.
my ($burst_type, $burst) = ('plan-burst', 'plan_burst_media');
psql("SELECT genflow_create_type_table('$burst_type', '$burst')");
# No autovacuum on it: an analyze during the test would end the situation
# under test.
psql("ALTER TABLE $burst SET (autovacuum_enabled = false)");
psql(<<"SQL");
SET session_replication_role = replica;
INSERT INTO $burst (user_id, status, prompt, seed, input, estimated_cost, chain, queued_at, next_attempt_at,
                    turn)
SELECT 'plan-u' || (i % 500), 'pending', 'p', 1, '{}', 1, 'plan-a', now(), now(), i / 500
  FROM generate_series(1, 50000) i;
ANALYZE $burst;
SQL
# Queued and drained without the triggers (no notification to the suite's
# server, no counts: only the plans are under test here).
psql("SET session_replication_role = replica; UPDATE $burst SET status = 'completed', finished_at = now(), "
     . "started_at = now(), credits_charged = 1, image_url = 'x'");
like((explain_all("EXPLAIN SELECT count(*) FROM $burst g WHERE g.status = 'pending' "
                        . "AND g.queued_at IS NOT NULL;\n"))[0], qr/Seq Scan on $burst/,
     'after the burst drained, a plain count of the pending rows is planned as a scan of the table');
my $burst_metrics = print_sql($burst_type, $burst, 'metrics');
$burst_metrics =~ s/%s/'x'/;
my $seq = "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = '$burst'";
my $seq0 = psql($seq);
psql_rows($burst_metrics) for 1 .. 3;
my %open = map { $_->[0] => $_->[1] } psql_rows($burst_metrics);
is(psql($seq) - $seq0, 0, 'three scrapes of that type read none of its table by a sequential scan');
is(($open{pending} // 'none') . '/' . ($open{processing} // 'none'), '0/0',
   'and count 0 pending and 0 processing');
# The function itself forbids the scans, whatever the session's settings:
# a bitmap scan never marks the entries of dead rows (after a fold of
# 20,000 deltas, every scrape read all 20,000 again until VACUUM; an index
# scan marks them once no snapshot still sees the rows, and the next
# scrapes skip them).
is(psql("SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE proname = '${burst}_gauges'"),
   'enable_seqscan=off,enable_bitmapscan=off',
   "${burst}_gauges() runs with sequential and bitmap scans off");
psql("DROP TABLE $burst; DROP FUNCTION ${burst}_gauges()");
psql("DELETE FROM genflow_types WHERE type_name = '$burst_type'");
psql("DELETE FROM genflow_line_counts WHERE gen_type = '$burst_type'");
psql("DELETE FROM genflow_status_counts WHERE gen_type = '$burst_type'");
psql("DELETE FROM genflow_status_totals WHERE gen_type = '$burst_type'");

# ---- genflow_check_invariants: each row's ledger by its indexes ----------------
# Its per-row read of the ledger, as the function has it (sql/047), under
# 100,000 rows of the type table: by the reservation's and the
# finalization's partial indexes, never a scan of the ledger per row.
{
    my $src = psql("SELECT prosrc FROM pg_proc WHERE proname = 'genflow_check_invariants'");
    my ($read) = $src =~ /(\(SELECT count\(\*\) FILTER .*?FROM genflow_ledger WHERE generation_id = g\.id.*?\)\) l)/s;
    my ($out, $ok) = $read ? explain_all("EXPLAIN (FORMAT JSON) SELECT * FROM $table g CROSS JOIN LATERAL $read;\n")
                           : ('the function has no such read', 0);
    my $doc = $ok ? eval { $json->decode($out) } : undef;
    my @ledger = $doc ? grep { ($_->{'Relation Name'} // '') eq 'genflow_ledger' } nodes($doc->[0]{Plan}) : ();
    ok(@ledger && !grep({ ($_->{'Node Type'} // '') eq 'Seq Scan' } @ledger),
       'genflow_check_invariants reads each row\'s ledger by its indexes, no scan of the ledger per row: '
       . join(', ', map { $_->{'Node Type'} . (defined $_->{'Index Name'} ? " ($_->{'Index Name'})" : '') } @ledger))
        or diag($out);
}

# ---- the table's own autovacuum settings (sql/027) -----------------------------
like(psql("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = '$table'"),
     qr/autovacuum_vacuum_scale_factor=0\b.*autovacuum_vacuum_threshold=10000.*vacuum_index_cleanup=on/,
     'a type table is vacuumed after 10,000 dead rows whatever its size, indexes always cleaned');

# ---- gone again ---------------------------------------------------------------
psql("DROP TABLE $table; DROP FUNCTION ${table}_gauges()");
psql("DELETE FROM genflow_types WHERE type_name = '$type'");
psql("DELETE FROM genflow_status_counts WHERE gen_type = '$type'");
psql("DELETE FROM genflow_status_totals WHERE gen_type = '$type'");
psql("DELETE FROM genflow_turns WHERE gen_type = '$type'");
psql("DELETE FROM genflow_webhook_outbox WHERE webhook_id LIKE 'msg_plan_%'");
psql("DELETE FROM genflow_provider_places WHERE provider IN ('plan-a', 'plan-b')");
psql("DELETE FROM genflow_provider_stats WHERE provider LIKE 'plan-s%'");
psql("DELETE FROM genflow_provider_open WHERE provider LIKE 'plan-o%'");
psql("DELETE FROM genflow_provider_costs WHERE provider LIKE 'plan-c%'");
psql("DELETE FROM genflow_provider_spend WHERE provider LIKE 'plan-p%'");
psql("DELETE FROM genflow_provider_holds WHERE provider LIKE 'plan-h%'");
psql("DELETE FROM genflow_provider_jobs WHERE provider LIKE 'plan-j%'");
psql("DELETE FROM genflow_provider_limits WHERE provider IN ('plan-a', 'plan-b')");
is(psql("SELECT count(*) FROM genflow_types WHERE type_name = '$type'"), 0,
   "the test's type and its rows are gone");
