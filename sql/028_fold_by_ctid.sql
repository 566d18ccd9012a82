-- SPDX-License-Identifier: Apache-2.0
-- 028: the fold of the finished counts takes its deltas by their place in
-- the table, whatever the statistics say.
--
-- sql/025's fold deleted the deltas whose key was IN (the first p_limit
-- keys). The deltas' table is empty most of the time (each sweep folds
-- it) and its statistics say so: right after a load of many finished rows
-- (a legacy import, a restored history, a test's 102,000) and before
-- autovacuum's next analyze, PostgreSQL estimated one row on each side of
-- that IN and joined them by a nested loop, reading the subquery again
-- for every delta: 100,000 deltas made 10^10 comparisons, a fold that
-- ran for hours with every delta locked, and every other fold (the other
-- children's, the other nodes') waiting behind it. The deltas are now
-- taken by their tuple ids (ctid = ANY(ARRAY(...))), a TID scan whose cost
-- no estimate can change: 100,000 deltas in 0.3 s with the statistics of
-- an empty table. Concurrent folds stay exact: a delta another fold
-- deleted first is skipped when its lock is granted (a delta is never
-- updated, only inserted and deleted, so a tuple id names one delta for
-- the life of the statement's snapshot).
CREATE OR REPLACE FUNCTION genflow_fold_status_counts(p_limit integer) RETURNS integer
LANGUAGE sql AS $fn$
    WITH d AS (DELETE FROM genflow_status_counts c
                WHERE c.ctid = ANY (ARRAY(SELECT o.ctid FROM genflow_status_counts o LIMIT p_limit))
            RETURNING c.gen_type, c.status, c.n),
         s AS (SELECT gen_type, status, sum(n) AS n, count(*) AS k FROM d GROUP BY gen_type, status),
         f AS (INSERT INTO genflow_status_totals (gen_type, status, n)
               SELECT gen_type, status, n FROM s
               ON CONFLICT (gen_type, status) DO UPDATE
                   SET n = genflow_status_totals.n + EXCLUDED.n)
    SELECT COALESCE(sum(k), 0)::int FROM s
$fn$;
