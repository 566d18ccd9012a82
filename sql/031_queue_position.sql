-- SPDX-License-Identifier: Apache-2.0
-- 031: a queued generation's place in its provider's line (queuePosition).
--
-- A line is the queued, never started rows of one type and one provider
-- (cur_provider), claimed in the order (turn, ticket): turn is the user's
-- round (sql/022), ticket a site-wide number given when the row is queued,
-- which orders the users of one round as they came. A row's place is the
-- number of rows of its line with a smaller (turn, ticket). A new user's
-- row is put ahead of later rounds, so that number cannot be a subtraction
-- of order numbers, and PostgreSQL's B-trees count a key range by visiting
-- every entry in it. So the line is counted in buckets (genflow_line_counts)
-- kept by the type table's statement triggers, and a place is a prefix sum
-- of at most eight index ranges of at most 15 live buckets each, however
-- long the line:
--
--   lvl 0..3:   rows of 16^lvl consecutive turns (turn >> 4*lvl)
--   lvl -1..-4: rows of one turn whose tickets fall in a block of 16^|lvl|
--               (ticket >> 4*|lvl|)
--
-- Every row of a line counts in exactly one bucket of each level. The
-- triggers see each statement's rows that entered or left a line (its
-- transition tables) and add their deltas once per bucket and statement:
-- a statement that queues or cancels 100,000 rows updates each bucket once
-- (a row per generation would update one counter row 100,000 times in one
-- transaction, which PostgreSQL makes quadratic: sql/024).
-- The read is the module's (gf_sql.c, LINE_PLACE). Concurrent
-- writers add into one of four shards by backend, so they rarely wait on
-- one counter row; the sweep folds the shards into shard 0 and drops the
-- buckets that sum to nothing (genflow_fold_line_counts).
--
-- Every way a row enters or leaves a line (the module's statements, the
-- sweeps, an administrator's SQL, a bulk load) goes through the triggers;
-- genflow_line_rebuild() recounts a type from its rows should a count ever
-- be doubted (genflow_line_check() lists the buckets that differ).

CREATE SEQUENCE genflow_ticket;

CREATE TABLE genflow_line_counts (
    gen_type text     NOT NULL,
    provider text     NOT NULL,
    lvl      smallint NOT NULL CHECK (lvl BETWEEN -4 AND 3),
    turn     bigint   NOT NULL,
    sub      bigint   NOT NULL,
    shard    smallint NOT NULL,
    n        bigint   NOT NULL,
    PRIMARY KEY (gen_type, provider, lvl, turn, sub, shard)
) WITH (fillfactor = 50);

-- The buckets the sweep has to fold (n is in no index: updates stay HOT).
CREATE INDEX genflow_line_counts_shards ON genflow_line_counts (gen_type, provider, lvl, turn, sub)
    WHERE shard <> 0;

-- The eight buckets a row of a line counts in, in key order (the order
-- in which writers lock them, so two never wait on each other in a circle).
CREATE FUNCTION genflow_line_keys(p_turn bigint, p_ticket bigint,
    OUT lvl smallint, OUT turn bigint, OUT sub bigint) RETURNS SETOF record
LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 8 AS $$
    SELECT v.l::smallint,
           CASE WHEN v.l >= 0 THEN p_turn >> (4 * v.l) ELSE p_turn END,
           CASE WHEN v.l >= 0 THEN 0::bigint ELSE p_ticket >> (-4 * v.l) END
      FROM (VALUES (-4), (-3), (-2), (-1), (0), (1), (2), (3)) v(l)
$$;

-- Add rows to (d = 1) or take them from (d = -1) their lines' counts, in
-- this backend's shard, one upsert per bucket, in key order. PL/pgSQL, not
-- SQL: a session plans the statement once (an SQL function's would be
-- planned at every call, 0.3 ms of every queue and claim).
CREATE FUNCTION genflow_line_apply(p_type text, p_provider text[], p_turn bigint[],
                                   p_ticket bigint[], p_d int[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO genflow_line_counts AS l (gen_type, provider, lvl, turn, sub, shard, n)
    SELECT p_type, s.provider, k.lvl, k.turn, k.sub, (pg_backend_pid() % 4 + 1)::smallint, sum(s.d)
      FROM unnest(p_provider, p_turn, p_ticket, p_d) s(provider, turn, ticket, d)
     CROSS JOIN LATERAL genflow_line_keys(s.turn, s.ticket) k
     GROUP BY s.provider, k.lvl, k.turn, k.sub
    HAVING sum(s.d) <> 0
     ORDER BY 2, 3, 4, 5
    ON CONFLICT (gen_type, provider, lvl, turn, sub, shard) DO UPDATE SET n = l.n + EXCLUDED.n;
END
$fn$;

-- The statement triggers of a type table (TG_ARGV[0]: the type): the rows
-- that entered a line (queued, not started) and those that left it. A
-- statement that moves no row in or out (a lease renewed, a poll
-- scheduled) reads its one or few transition rows and writes nothing.
CREATE FUNCTION genflow_line_count() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM genflow_line_apply(TG_ARGV[0], array_agg(n.cur_provider), array_agg(n.turn),
                                   array_agg(n.ticket), array_agg(1))
           FROM line_new n
          WHERE n.status = 'pending' AND n.queued_at IS NOT NULL
            AND n.turn IS NOT NULL AND n.ticket IS NOT NULL
         HAVING count(*) > 0;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM genflow_line_apply(TG_ARGV[0], array_agg(s.p), array_agg(s.turn),
                                   array_agg(s.ticket), array_agg(s.d))
           FROM (SELECT n.cur_provider AS p, n.turn, n.ticket, 1 AS d FROM line_new n
                  WHERE n.status = 'pending' AND n.queued_at IS NOT NULL
                    AND n.turn IS NOT NULL AND n.ticket IS NOT NULL
                 UNION ALL
                 SELECT o.cur_provider, o.turn, o.ticket, -1 FROM line_old o
                  WHERE o.status = 'pending' AND o.queued_at IS NOT NULL
                    AND o.turn IS NOT NULL AND o.ticket IS NOT NULL) s
         HAVING count(*) > 0;
    ELSE
        PERFORM genflow_line_apply(TG_ARGV[0], array_agg(o.cur_provider), array_agg(o.turn),
                                   array_agg(o.ticket), array_agg(-1))
           FROM line_old o
          WHERE o.status = 'pending' AND o.queued_at IS NOT NULL
            AND o.turn IS NOT NULL AND o.ticket IS NOT NULL
         HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END
$fn$;

-- Recount a type's lines from its rows (after a restore, or should a
-- count be doubted). Locks the type table against writes meanwhile.
CREATE FUNCTION genflow_line_rebuild(p_type text) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    tbl text;
    n bigint;
BEGIN
    SELECT table_name INTO STRICT tbl FROM genflow_types WHERE type_name = p_type;
    EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', tbl);
    DELETE FROM genflow_line_counts WHERE gen_type = p_type;
    EXECUTE format($q$INSERT INTO genflow_line_counts (gen_type, provider, lvl, turn, sub, shard, n)
        SELECT %L, d.cur_provider, k.lvl, k.turn, k.sub, 0, count(*)
          FROM %I d CROSS JOIN LATERAL genflow_line_keys(d.turn, d.ticket) k
         WHERE d.status = 'pending' AND d.queued_at IS NOT NULL
           AND d.turn IS NOT NULL AND d.ticket IS NOT NULL
         GROUP BY d.cur_provider, k.lvl, k.turn, k.sub$q$, p_type, tbl);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

-- The buckets of a type whose count differs from its rows: none, unless
-- something bypassed the triggers (session_replication_role = replica,
-- a trigger disabled). O(rows): for checks, not for the engine.
CREATE FUNCTION genflow_line_check(p_type text,
    OUT provider text, OUT lvl smallint, OUT turn bigint, OUT sub bigint,
    OUT counted bigint, OUT queued bigint) RETURNS SETOF record
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    tbl text;
BEGIN
    SELECT table_name INTO STRICT tbl FROM genflow_types WHERE type_name = p_type;
    RETURN QUERY EXECUTE format($q$
        SELECT COALESCE(c.provider, q.provider), COALESCE(c.lvl, q.lvl),
               COALESCE(c.turn, q.turn), COALESCE(c.sub, q.sub),
               COALESCE(c.n, 0)::bigint, COALESCE(q.n, 0)::bigint
          FROM (SELECT x.provider, x.lvl, x.turn, x.sub, sum(x.n) AS n FROM genflow_line_counts x
                 WHERE x.gen_type = %L GROUP BY 1, 2, 3, 4) c
          FULL JOIN (SELECT d.cur_provider AS provider, k.lvl, k.turn, k.sub, count(*) AS n
                       FROM %I d CROSS JOIN LATERAL genflow_line_keys(d.turn, d.ticket) k
                      WHERE d.status = 'pending' AND d.queued_at IS NOT NULL
                        AND d.turn IS NOT NULL AND d.ticket IS NOT NULL
                      GROUP BY 1, 2, 3, 4) q
            ON (c.provider, c.lvl, c.turn, c.sub) = (q.provider, q.lvl, q.turn, q.sub)
         WHERE COALESCE(c.n, 0) <> COALESCE(q.n, 0)$q$, p_type, tbl);
END
$fn$;

-- Fold up to p_limit shard rows into their buckets' shard 0 rows, and drop
-- the shard 0 rows that then hold nothing (the line moved past them): the
-- table keeps about one row per live bucket, and a read sums few rows.
-- Writers (the triggers) lock the shard rows they add to, in key order;
-- the fold takes only shard rows no writer holds (SKIP LOCKED), and shard
-- 0 rows, which no writer touches: it never waits for a writer, so the
-- two never deadlock (a writer may wait for the fold's commit, then adds
-- its shard row anew). One node folds at a time. Returns how many shard
-- rows it folded.
CREATE FUNCTION genflow_fold_line_counts(p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    k integer;
    z_type text[]; z_provider text[]; z_lvl smallint[]; z_turn bigint[]; z_sub bigint[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('genflow_fold_line_counts')) THEN
        RETURN 0;
    END IF;
    WITH d AS (DELETE FROM genflow_line_counts c
                WHERE c.ctid = ANY(ARRAY(SELECT o.ctid FROM genflow_line_counts o
                                          WHERE o.shard <> 0 LIMIT p_limit
                                          FOR UPDATE SKIP LOCKED))
               RETURNING c.gen_type, c.provider, c.lvl, c.turn, c.sub, c.n),
         s AS (SELECT d.gen_type, d.provider, d.lvl, d.turn, d.sub, sum(d.n) AS n, count(*) AS rows
                 FROM d GROUP BY 1, 2, 3, 4, 5),
         f AS (INSERT INTO genflow_line_counts AS l (gen_type, provider, lvl, turn, sub, shard, n)
               SELECT s.gen_type, s.provider, s.lvl, s.turn, s.sub, 0, s.n FROM s
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

-- A type table gets its tickets (the column's default: no rewrite) and its
-- line's triggers, each lock held for milliseconds. Its line index in
-- claim order (cur_provider, turn, ticket) is sql/037's (CONCURRENTLY);
-- rows already queued get their tickets from sql/038's backfill, in the
-- order claims used before (due time), and enter the counts as they get
-- them (the update trigger counts a row that enters the line).
CREATE FUNCTION genflow_add_line(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS ticket bigint', p_table);
    EXECUTE format($q$ALTER TABLE %I ALTER COLUMN ticket SET DEFAULT nextval('genflow_ticket')$q$,
                   p_table);
    EXECUTE format($ddl$CREATE OR REPLACE TRIGGER %I AFTER INSERT ON %I
                        REFERENCING NEW TABLE AS line_new
                        FOR EACH STATEMENT EXECUTE FUNCTION genflow_line_count(%L)$ddl$,
                   p_table || '_line_ins', p_table, p_type);
    EXECUTE format($ddl$CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %I
                        REFERENCING OLD TABLE AS line_old NEW TABLE AS line_new
                        FOR EACH STATEMENT EXECUTE FUNCTION genflow_line_count(%L)$ddl$,
                   p_table || '_line_upd', p_table, p_type);
    EXECUTE format($ddl$CREATE OR REPLACE TRIGGER %I AFTER DELETE ON %I
                        REFERENCING OLD TABLE AS line_old
                        FOR EACH STATEMENT EXECUTE FUNCTION genflow_line_count(%L)$ddl$,
                   p_table || '_line_del', p_table, p_type);
END
$fn$;

SELECT genflow_add_line(type_name, table_name) FROM genflow_types;

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
END
$fn$;

-- A truncated type table has no line either.
CREATE OR REPLACE FUNCTION genflow_count_truncated() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM genflow_status_counts WHERE gen_type = TG_ARGV[0];
    DELETE FROM genflow_status_totals WHERE gen_type = TG_ARGV[0];
    DELETE FROM genflow_line_counts WHERE gen_type = TG_ARGV[0];
    -- An empty table is counted: nothing is left for a backfill (sql/038).
    DELETE FROM genflow_count_progress WHERE gen_type = TG_ARGV[0];
    RETURN NULL;
END
$fn$;

-- A created generation that is queued now shows its place in line: the
-- children that cached its answer while it was only created must forget
-- it (genflow_change). The trigger's WHEN (sql/011) already fires here: a
-- queue makes the row due now and free.
CREATE OR REPLACE FUNCTION genflow_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT'
       OR NEW.status IS DISTINCT FROM OLD.status
       OR NEW.provider IS DISTINCT FROM OLD.provider
       OR NEW.provider_job_id IS DISTINCT FROM OLD.provider_job_id
       OR NEW.retry_count IS DISTINCT FROM OLD.retry_count
       OR NEW.chain_index IS DISTINCT FROM OLD.chain_index
       OR NEW.image_url IS DISTINCT FROM OLD.image_url
       OR NEW.started_at IS DISTINCT FROM OLD.started_at
       OR NEW.queued_at IS DISTINCT FROM OLD.queued_at THEN
        PERFORM pg_notify('genflow_change', NEW.id::text);
    END IF;
    -- Due now and free: a worker anywhere should take it at once.
    IF NEW.queued_at IS NOT NULL AND NEW.status IN ('pending', 'processing')
       AND NEW.lease_owner IS NULL AND NEW.next_attempt_at <= now()
       AND (TG_OP = 'INSERT' OR OLD.lease_owner IS NOT NULL
            OR NEW.next_attempt_at IS DISTINCT FROM OLD.next_attempt_at) THEN
        PERFORM pg_notify('genflow_work', TG_ARGV[0] || E'\n' || COALESCE(NEW.cur_provider, ''));
    END IF;
    RETURN NULL;
END
$fn$;
