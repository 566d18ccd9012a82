-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: backfill=genflow_backfill_0_2
-- genflow-migrate: locks=ROW SHARE on the rows of each batch (5,000 by id, or the open rows one by one) while it runs
-- 037: what the rows of a 0.1.0 database need for 0.2.0, filled in
-- batches while the site runs (genflow-migrate calls
-- genflow_backfill_0_2(5000) until it returns 0; each call is a
-- transaction of its own, and a stopped run resumes where it was):
--
--  * open rows (pending, processing) get their provider (cur_provider),
--    and queued ones their turn and their ticket, one row at a time in
--    the order claims took them before (due time), through the type
--    table's own triggers (sql/022 gives the turn, sql/031 counts the row
--    into its line as it gets its ticket). Finished rows keep NULL there:
--    no claim reads them.
--  * each type's finished rows are counted into genflow_status_counts,
--    5,000 at a time in id order. The rows of a batch are locked (FOR
--    SHARE) while it counts them, so a row finished or deleted meanwhile
--    is either counted here or, once the batch has passed it, by the
--    triggers (genflow_counts_row, sql/022): never both, never neither.
--    One case escapes the locks: a row inserted already finished (only
--    genflow-migrate-legacy does that) into the id range of the batch
--    running at that moment. Run no legacy import during the backfill.
--
-- Also the new-table side of sql/036: genflow_create_type_table builds
-- the same indexes (genflow_type_indexes) on the empty table it makes.

CREATE OR REPLACE FUNCTION genflow_backfill_open(p_table text, p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    r record;
    n integer := 0;
BEGIN
    -- Through <table>_active (sql/007: the open rows), kept until the
    -- contract step: the open rows only, however long the history.
    FOR r IN EXECUTE format($q$SELECT id FROM %I
        WHERE status IN ('pending', 'processing')
          AND (cur_provider IS NULL
               OR (status = 'pending' AND queued_at IS NOT NULL AND (turn IS NULL OR ticket IS NULL)))
        ORDER BY next_attempt_at NULLS LAST, id LIMIT $1$q$, p_table) USING p_batch LOOP
        -- The update fires genflow_keep_provider (provider and turn); the
        -- ticket is given here, in the same order.
        EXECUTE format($q$UPDATE %I SET ticket = CASE WHEN status = 'pending' AND queued_at IS NOT NULL
                                                   THEN COALESCE(ticket, nextval('genflow_ticket'))
                                                   ELSE ticket END,
                                        cur_provider = NULL
                           WHERE id = $1$q$, p_table) USING r.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;

CREATE OR REPLACE FUNCTION genflow_backfill_counts(p_type text, p_table text, p_batch integer)
RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    lo uuid;
    hi uuid;
    n integer;
    k_completed bigint;
    k_failed bigint;
    k_cancelled bigint;
BEGIN
    SELECT p.upto INTO lo FROM genflow_count_progress p WHERE p.gen_type = p_type FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    EXECUTE format($q$SELECT max(b.id::text)::uuid, count(*),
                            count(*) FILTER (WHERE b.status = 'completed'),
                            count(*) FILTER (WHERE b.status = 'failed'),
                            count(*) FILTER (WHERE b.status = 'cancelled')
                       FROM (SELECT id, status FROM %I WHERE id > $1 ORDER BY id LIMIT $2 FOR SHARE) b$q$,
                   p_table)
       INTO hi, n, k_completed, k_failed, k_cancelled
      USING COALESCE(lo, '00000000-0000-0000-0000-000000000000'::uuid), p_batch;
    IF n = 0 THEN
        DELETE FROM genflow_count_progress WHERE gen_type = p_type;
        RETURN 0;
    END IF;
    INSERT INTO genflow_status_counts (gen_type, status, shard, n)
    SELECT p_type, v.status, nextval('genflow_status_count_shard'), v.k
      FROM (VALUES ('completed', k_completed), ('failed', k_failed), ('cancelled', k_cancelled)) v(status, k)
     WHERE v.k > 0;
    UPDATE genflow_count_progress SET upto = hi WHERE gen_type = p_type;
    RETURN n;
END
$fn$;

-- One call of the backfill: every type's open rows, then every type's
-- counts, at most p_batch rows each; how many rows it did (0: done).
CREATE OR REPLACE FUNCTION genflow_backfill_0_2(p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    t record;
    n integer := 0;
BEGIN
    FOR t IN SELECT type_name, table_name FROM genflow_types
              WHERE to_regclass(table_name) IS NOT NULL ORDER BY type_name LOOP
        n := n + genflow_backfill_open(t.table_name, p_batch);
        n := n + genflow_backfill_counts(t.type_name, t.table_name, p_batch);
    END LOOP;
    RETURN n;
END
$fn$;

-- A new type table's indexes, as sql/036 builds them on the existing ones
-- (t/54_upgrade_schema.t holds the two lists equal). Built in the transaction that
-- makes the table, empty: nothing waits for them.
CREATE OR REPLACE FUNCTION genflow_type_indexes(p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (cur_provider, turn, ticket)
                        WHERE status = 'pending' AND queued_at IS NOT NULL$ddl$, p_table || '_fresh', p_table);
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (cur_provider, next_attempt_at)
                        WHERE status = 'processing' AND provider_job_id IS NULL$ddl$, p_table || '_again', p_table);
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (cur_provider, next_attempt_at)
                        WHERE status = 'processing' AND provider_job_id IS NOT NULL$ddl$,
                   p_table || '_polls', p_table);
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (created_at)
                        WHERE status = 'pending' AND queued_at IS NULL$ddl$, p_table || '_created', p_table);
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (deadline_at)
                        WHERE status = 'processing'$ddl$, p_table || '_deadline', p_table);
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (status, created_at DESC, id DESC)$ddl$,
                   p_table || '_status', p_table);
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (cancel_at)
                        WHERE cancel_at IS NOT NULL AND status = 'pending'$ddl$, p_table || '_cancel_at', p_table);
    -- Once the contract step has run (sql/039), no node reads 0.1.0's
    -- indexes of the queue: a new table goes without them.
    IF (SELECT max(needs_at_least) FROM genflow_schema_floor) >= 37 THEN
        EXECUTE format('DROP INDEX IF EXISTS %I', p_table || '_due_new');
        EXECUTE format('DROP INDEX IF EXISTS %I', p_table || '_due_poll');
        EXECUTE format('DROP INDEX IF EXISTS %I', p_table || '_active');
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM genflow_create_type_table_021(p_type, p_table);
    PERFORM genflow_add_scale(p_type, p_table);
    DELETE FROM genflow_status_totals WHERE gen_type = p_type;
    PERFORM genflow_tune_type_table(p_table);
    PERFORM genflow_add_cancel_at(p_table);
    PERFORM genflow_add_trace(p_table);
    PERFORM genflow_add_line(p_type, p_table);
    PERFORM genflow_add_gauges(p_type, p_table);
    PERFORM genflow_type_indexes(p_table);
END
$fn$;
