-- SPDX-License-Identifier: Apache-2.0
-- 024: finished generations counted without updating one row many times
-- in one transaction.
--
-- sql/022 counted each finished generation into a row per (type, status,
-- backend % 16) with an upsert. A transaction that finishes or inserts
-- many finished rows (a legacy import, a bulk cancel by an administrator,
-- a history loaded at once) then updated one row once per generation, and
-- PostgreSQL walks every earlier version of a row updated in the same
-- transaction to find the newest: loading a million finished rows in one
-- statement did not end in 20 minutes (quadratic). Each count is now a
-- row of its own, a delta with a shard number of its own from a sequence;
-- the engine's global sweep folds the deltas into the shard 0 totals
-- every 10 s (genflow_fold_status_counts, up to 100,000 at a time), so
-- the table stays small, and the sum of a type's rows is its count at
-- any moment, folded or not.

ALTER TABLE genflow_status_counts ALTER COLUMN shard TYPE bigint;
CREATE SEQUENCE genflow_status_count_shard MINVALUE 1;

-- Both still count only the rows the backfill of sql/038 has passed while
-- it counts a type (genflow_counts_row, sql/022).
CREATE OR REPLACE FUNCTION genflow_count_finished() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT genflow_counts_row(TG_ARGV[0], NEW.id) THEN
        RETURN NULL;
    END IF;
    INSERT INTO genflow_status_counts (gen_type, status, shard, n)
    VALUES (TG_ARGV[0], NEW.status, nextval('genflow_status_count_shard'), 1);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION genflow_count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO genflow_status_counts (gen_type, status, shard, n)
    SELECT TG_ARGV[0], g.status, nextval('genflow_status_count_shard'), -count(*) FROM gone g
     WHERE g.status IN ('completed', 'failed', 'cancelled') AND genflow_counts_row(TG_ARGV[0], g.id)
     GROUP BY g.status;
    RETURN NULL;
END
$fn$;

-- Fold up to p_limit deltas into the totals; how many were folded. Nodes
-- may fold at once: a delta is deleted by one statement only (the other
-- waits for its lock and finds it gone), and the totals' upsert adds to
-- the newest version of each total.
CREATE FUNCTION genflow_fold_status_counts(p_limit integer) RETURNS integer
LANGUAGE sql AS $fn$
    WITH d AS (DELETE FROM genflow_status_counts c
                WHERE (c.gen_type, c.status, c.shard) IN
                      (SELECT o.gen_type, o.status, o.shard FROM genflow_status_counts o
                        WHERE o.shard <> 0 LIMIT p_limit)
            RETURNING c.gen_type, c.status, c.n),
         s AS (SELECT gen_type, status, sum(n) AS n, count(*) AS k FROM d GROUP BY gen_type, status),
         f AS (INSERT INTO genflow_status_counts (gen_type, status, shard, n)
               SELECT gen_type, status, 0, n FROM s
               ON CONFLICT (gen_type, status, shard) DO UPDATE
                   SET n = genflow_status_counts.n + EXCLUDED.n)
    SELECT COALESCE(sum(k), 0)::int FROM s
$fn$;

SELECT genflow_fold_status_counts(1000000);
