-- SPDX-License-Identifier: Apache-2.0
-- 033: the lines' fold (sql/031) finds its shard rows through their index,
-- and folds a bucket whose rows cancel out by deleting them.
--
-- The fold took "the first p_limit rows with shard <> 0" without an order,
-- and the planner read them with a sequential scan of genflow_line_counts
-- from its first page. Once a line of 100,000 rows queued in one
-- statement was folded (about 500,000 shard 0 rows), each fold statement
-- read the whole table to find the few shard rows the claims had added
-- since (73 ms a statement even with nothing to fold); while the line
-- drained, each statement held the rows it had taken that much longer,
-- and the claims adding to them waited for it.
-- It now takes them in the order of their partial index
-- (genflow_line_counts_shards, which holds only shard rows), so a
-- statement reads what it folds and an empty fold reads an empty index;
-- the function forbids the sequential scan, whatever the statistics say.
--
-- A row that entered a line and left it again (queued by one writer,
-- claimed by another) leaves a +1 and a -1 in two shards of each of its
-- buckets; the two are neighbours in that index, so a fold takes both at
-- once. The fold wrote their sum, 0, into shard 0 and then deleted the
-- shard 0 row that held nothing; a bucket whose taken rows sum to nothing
-- now changes no shard 0 row at all (its value stays what it was).
--
-- CREATE OR REPLACE FUNCTION takes no lock on any table.

CREATE OR REPLACE FUNCTION genflow_fold_line_counts(p_limit integer) RETURNS integer
LANGUAGE plpgsql SET enable_seqscan = off SET enable_bitmapscan = off AS $fn$
DECLARE
    k integer;
    z_type text[]; z_provider text[]; z_lvl smallint[]; z_turn bigint[]; z_sub bigint[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('genflow_fold_line_counts')) THEN
        RETURN 0;
    END IF;
    WITH d AS (DELETE FROM genflow_line_counts c
                WHERE c.ctid = ANY(ARRAY(SELECT o.ctid FROM genflow_line_counts o
                                          WHERE o.shard <> 0
                                          ORDER BY o.gen_type, o.provider, o.lvl, o.turn, o.sub
                                          LIMIT p_limit
                                          FOR UPDATE SKIP LOCKED))
               RETURNING c.gen_type, c.provider, c.lvl, c.turn, c.sub, c.n),
         s AS (SELECT d.gen_type, d.provider, d.lvl, d.turn, d.sub, sum(d.n) AS n, count(*) AS rows
                 FROM d GROUP BY 1, 2, 3, 4, 5),
         f AS (INSERT INTO genflow_line_counts AS l (gen_type, provider, lvl, turn, sub, shard, n)
               SELECT s.gen_type, s.provider, s.lvl, s.turn, s.sub, 0, s.n FROM s
                WHERE s.n <> 0
                ORDER BY 1, 2, 3, 4, 5
               ON CONFLICT (gen_type, provider, lvl, turn, sub, shard)
                  DO UPDATE SET n = l.n + EXCLUDED.n
               RETURNING l.gen_type, l.provider, l.lvl, l.turn, l.sub, l.n)
    SELECT (SELECT COALESCE(sum(s.rows), 0) FROM s),
           array_agg(f.gen_type), array_agg(f.provider), array_agg(f.lvl), array_agg(f.turn),
           array_agg(f.sub)
      INTO k, z_type, z_provider, z_lvl, z_turn, z_sub
      FROM f WHERE f.n = 0;
    DELETE FROM genflow_line_counts c
     USING unnest(z_type, z_provider, z_lvl, z_turn, z_sub) z(gen_type, provider, lvl, turn, sub)
     WHERE (c.gen_type, c.provider, c.lvl, c.turn, c.sub, c.shard)
         = (z.gen_type, z.provider, z.lvl, z.turn, z.sub, 0)
       AND c.n = 0;
    RETURN k;
END
$fn$;
