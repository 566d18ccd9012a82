-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=SHARE ROW EXCLUSIVE on each type table for a moment (its trigger replaced: reads go on, writes wait for it)
-- 052: the status counts of the rows a statement finishes, written once
-- per statement and status instead of once per row.
--
-- genflow_count_update (sql/022) was a row trigger: each generation that
-- finished inserted a delta row of its own into genflow_status_counts
-- (sql/024), with its entry in the counts' key. The engine now finishes
-- several generations in one statement (the outcomes' batch), and the
-- delta rows were 181 bytes of WAL a job in a drain (bench/cost). As a
-- statement trigger it sees the statement's rows that went from open
-- (pending, processing) to finished in its transition tables and adds one
-- delta per status: a batch of 64 completions writes one row, not 64.
--
-- Every UPDATE of a type table already keeps its old and new rows for
-- the line's statement trigger (sql/031), so this one adds no capture;
-- a statement that finishes nothing (a claim, a lease renewed) looks
-- once at its new rows and writes nothing. The sum of a type's counts is
-- the same, folded or not; only rows the backfill of sql/038 has passed
-- count (genflow_counts_row), as before.
CREATE FUNCTION genflow_count_finished_rows() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    every_row boolean;
BEGIN
    -- Most statements finish nothing (claims, leases, polls): one look at
    -- their new rows, no join.
    IF NOT EXISTS (SELECT 1 FROM count_new n WHERE n.status IN ('completed', 'failed', 'cancelled')) THEN
        RETURN NULL;
    END IF;
    -- Only rows the backfill of sql/038 has passed count (genflow_counts_row):
    -- while no backfill runs (a progress row), every row, asked once.
    every_row := NOT EXISTS (SELECT 1 FROM genflow_count_progress p WHERE p.gen_type = TG_ARGV[0]);
    INSERT INTO genflow_status_counts (gen_type, status, shard, n)
    SELECT TG_ARGV[0], n.status, nextval('genflow_status_count_shard'), count(*)
      FROM count_new n JOIN count_old o ON o.id = n.id
     WHERE n.status IN ('completed', 'failed', 'cancelled')
       AND o.status IN ('pending', 'processing')
       AND (every_row OR genflow_counts_row(TG_ARGV[0], n.id))
     GROUP BY n.status;
    RETURN NULL;
END
$fn$;

-- A type table's finishing trigger, by statement. CREATE OR REPLACE
-- swaps it under one lock (SHARE ROW EXCLUSIVE), with no moment in which
-- the table has none.
CREATE FUNCTION genflow_add_count_by_statement(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format($ddl$CREATE OR REPLACE TRIGGER genflow_count_update AFTER UPDATE ON %I
        REFERENCING OLD TABLE AS count_old NEW TABLE AS count_new
        FOR EACH STATEMENT EXECUTE FUNCTION genflow_count_finished_rows(%L)$ddl$, p_table, p_type);
END
$fn$;

SELECT genflow_add_count_by_statement(type_name, table_name) FROM genflow_types;

-- A new type table gets it too: the previous genflow_create_type_table
-- (sql/047's) runs under the name genflow_create_type_table_051, then this.
ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_051;
CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM genflow_create_type_table_051(p_type, p_table);
    PERFORM genflow_add_count_by_statement(p_type, p_table);
END
$fn$;
