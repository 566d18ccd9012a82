-- SPDX-License-Identifier: Apache-2.0
-- 032: a metrics scrape reads each type's gauges through indexes, whatever
-- the tables' statistics say.
--
-- The scrape's gauges of a type (generations by status, due, the longest
-- wait, near their deadline) are counts over the queue's partial indexes
-- (<table>_fresh, _created, _again, _polls, _deadline, _due: the open rows)
-- and sums of the finished totals with the deltas not yet folded into
-- them (sql/024, sql/025). The planner chose how to read them from the
-- tables' statistics, and those are what the last ANALYZE saw:
--
--  * after a burst (autovacuum analyzes a type table after 10,000
--    changes, sql/027: in the middle of one) they say most of the table is
--    pending, and stay so after it drained, until the next analyze a
--    minute or more later. The pending counts were then planned as
--    sequential scans of the whole type table, twice a scrape: on 21,400
--    rows right after they drained, 16.5 ms of a scrape's 17.8 against
--    0.3 ms by index; on a long history, the history's size.
--  * the deltas were read with a bitmap scan, which never marks the index
--    entries of rows it finds dead: after a fold deleted 21,400 deltas,
--    every scrape read all of them again (3.5 ms), until VACUUM.
--
-- Each type table now has a function of its own, <table>_gauges(), that
-- forbids sequential and bitmap scans: each count is a range of its
-- partial index, each sum a range of the deltas' key, and an index scan
-- marks the entries of dead rows it meets once no snapshot still sees
-- them, so the next scrape skips them (a long transaction delays that, as
-- it delays VACUUM). A scrape reads the open rows, the deltas of the last
-- few seconds and the entries not yet marked or vacuumed, never the
-- history. A function per table, with its statement written in
-- it, so that each connection plans it once (a statement made at each
-- call, EXECUTE, was planned at each scrape: 0.6 ms a type).
--
-- genflow_gauges_sql gives the statement (a test reads its plan:
-- t/41_plans.t); genflow_add_gauges makes a table's function, and
-- genflow_create_type_table now does too. Creating functions takes no
-- lock on any table.

CREATE FUNCTION genflow_gauges_sql(p_type text, p_table text) RETURNS text
LANGUAGE sql STABLE AS $fn$
    SELECT format($q$
        WITH o AS (SELECT
               (SELECT count(*) FROM %1$I g WHERE g.status = 'pending' AND g.queued_at IS NOT NULL) AS queued,
               (SELECT count(*) FROM %1$I g WHERE g.status = 'pending' AND g.queued_at IS NULL) AS created,
               (SELECT count(*) FROM %1$I g WHERE g.status = 'processing' AND g.provider_job_id IS NULL)
             + (SELECT count(*) FROM %1$I g WHERE g.status = 'processing' AND g.provider_job_id IS NOT NULL)
                   AS running,
               (SELECT count(*) FROM %1$I g WHERE g.status = 'processing' AND g.provider_job_id IS NULL
                   AND g.next_attempt_at <= now() AND (g.lease_until IS NULL OR g.lease_until < now()))
             + (SELECT count(*) FROM %1$I g WHERE g.status = 'processing' AND g.provider_job_id IS NOT NULL
                   AND g.next_attempt_at <= now() AND (g.lease_until IS NULL OR g.lease_until < now()))
                   AS due,
               COALESCE(extract(epoch FROM now() - (SELECT d.next_attempt_at FROM %1$I d
                   WHERE d.queued_at IS NOT NULL AND d.status IN ('pending', 'processing')
                     AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())
                   ORDER BY d.next_attempt_at LIMIT 1)), 0)::bigint AS oldest,
               (SELECT count(*) FROM %1$I g WHERE g.status = 'processing'
                   AND g.deadline_at < now() + interval '15 seconds') AS near)
        SELECT 'pending'::text, o.queued + o.created, o.queued + o.due, o.oldest, o.near FROM o
        UNION ALL
        SELECT 'processing', o.running, 0::bigint, 0::bigint, 0::bigint FROM o
        UNION ALL
        SELECT c.status, sum(c.n)::bigint, 0::bigint, 0::bigint, 0::bigint FROM
          (SELECT t.status, t.n FROM genflow_status_totals t WHERE t.gen_type = %2$L
           UNION ALL SELECT d.status, d.n FROM genflow_status_counts d WHERE d.gen_type = %2$L) c
         GROUP BY c.status$q$, p_table, p_type)
$fn$;

-- <table>_gauges(): a row per status. On the pending row: generations
-- pending (queued in a line, or only created), how many are due now (every
-- queued one, and the running and polled ones whose next attempt is due
-- and that no live lease holds), the longest due one's wait in seconds,
-- and the running ones within 15 s of their deadline. Then processing,
-- and the finished statuses from their totals and deltas.
CREATE FUNCTION genflow_add_gauges(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format($ddl$CREATE OR REPLACE FUNCTION %I(OUT status text, OUT n bigint, OUT due bigint,
            OUT oldest bigint, OUT near bigint)
        RETURNS SETOF record LANGUAGE plpgsql STABLE
        SET enable_seqscan = off SET enable_bitmapscan = off AS %L$ddl$,
        p_table || '_gauges',
        E'#variable_conflict use_column\nBEGIN RETURN QUERY ' || genflow_gauges_sql(p_type, p_table)
        || '; END');
END
$fn$;

SELECT genflow_add_gauges(type_name, table_name) FROM genflow_types;

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
END
$fn$;
