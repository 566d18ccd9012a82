-- SPDX-License-Identifier: Apache-2.0
-- 027: type tables vacuumed by what changed in them, not by their size.
--
-- A type table is a queue and a history at once: the queue's rows churn
-- (each claim, retry and finish leaves a dead version, and a dead entry
-- in the partial index the claims read in order, <table>_fresh), while
-- the completed rows stay as the users' galleries. PostgreSQL's default
-- autovacuum waits for dead rows to reach 20 % of the table: with a
-- million rows of history, 200,000 of them. Until then the line's index
-- keeps the entries of every row already taken at its head, and every
-- claim and every queued create walks them from the start (measured: a
-- claim read 397 index pages for its one row after 86,000 rows had left
-- the line; a drain of 80,000 on such a table ran at 21 jobs/s). The
-- tables now ask for a vacuum after 10,000 dead rows whatever their size,
-- and always clean their indexes (PostgreSQL would otherwise skip the
-- index pass when the dead rows sit on few pages, which is exactly a
-- drained line); an analyze after 10,000 changes, so that a burst queued
-- into a long history is planned with its real size. A vacuum of a table
-- of 1.1 million rows with 114,000 dead took 0.24 s of CPU here; autovacuum
-- looks at most once per autovacuum_naptime (a minute by default:
-- docs/operations.md, "Deep queues and long histories").
CREATE FUNCTION genflow_tune_type_table(p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format($ddl$ALTER TABLE %I SET (
        autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
        autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000,
        vacuum_index_cleanup = on)$ddl$, p_table);
END
$fn$;

SELECT genflow_tune_type_table(table_name) FROM genflow_types;

CREATE OR REPLACE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM genflow_create_type_table_021(p_type, p_table);
    PERFORM genflow_add_scale(p_type, p_table);
    DELETE FROM genflow_status_totals WHERE gen_type = p_type;
    PERFORM genflow_tune_type_table(p_table);
END
$fn$;
