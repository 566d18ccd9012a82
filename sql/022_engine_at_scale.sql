-- SPDX-License-Identifier: Apache-2.0
-- 022: the engine at scale: claims, sweeps, gauges and reads in O(log n),
-- users in turn without sorting the queue, and providers' limits kept in
-- the database for every node together.
--
-- Every statement that runs per job, per wake or per scrape now reads an
-- index range that starts where its answer starts and stops at its first
-- row (or at the rows it counts), whatever the depth of the queue or of
-- the history (docs/architecture.md, "The queue"; t/41_plans.t pins the
-- plans at 100,000 rows):
--
--  * cur_provider: the provider of the row's current chain position, kept
--    by a trigger (genflow_keep_provider), so that the claims of one
--    provider read that provider's rows only, and a provider without a
--    place is never read. A trigger, not a stored generated column, which
--    would rewrite the whole table under an ACCESS EXCLUSIVE lock: this
--    migration only adds columns (no rewrite) and triggers, and holds each
--    type table for milliseconds; open rows get theirs in the batched
--    backfill of sql/038, and finished rows, which no claim reads, keep
--    NULL (all rows made from now on have it).
--  * turn: a queued generation's place in line. A user's next generation
--    of a type and provider gets greatest(the head of the line, the turn
--    of the user's previous one + 1) (genflow_turns keeps the latter): a
--    user with 500 queued and a user with one take turns, and the claim
--    reads the line in order and stops at its first row (start-time fair
--    queueing; the head never goes back, so nobody waits for ever).
--  * the queue split by what a claim takes: fresh (queued, never claimed:
--    by turn), again (claimed before, no provider job: retries, fallbacks,
--    rescues; by due time) and polls (an accepted provider job; by due
--    time), each led by cur_provider; created (never queued: the created
--    TTL); deadline (near-deadline gauge); status (admin lists by status).
--    sql/037 builds them CONCURRENTLY; the _due_new, _due_poll and _active
--    indexes they replace stay for 0.1.0's nodes until the contract step
--    (sql/039).
--  * genflow_status_counts: finished generations per type and status,
--    kept by triggers (sharded by backend, so concurrent finalizations do
--    not queue on one row), so that the metrics never count the history.
--    The rows finished before this migration are counted by the batched
--    backfill of sql/038, in id order; until it is done with a type
--    (genflow_count_progress), its triggers count only the rows it has
--    passed, so no row is counted twice or missed.
--  * genflow_provider_places and genflow_provider_limits: a provider's
--    max_concurrent= places and rate=/429 gate for every node of the
--    database (GenFlowProvider limits=site, the default). A claim takes a
--    place in the same statement that leases the row, so that no place is
--    held without a row and no row runs without a place; the place has a
--    lease of its own, renewed by the heartbeat and given back (guarded by
--    the generation and attempt that hold it, so never twice) when the
--    call ends. A node killed with calls open frees its places when their
--    leases run out.

-- ---- per type table ---------------------------------------------------

CREATE TABLE genflow_status_counts (
    gen_type  text NOT NULL,
    status    text NOT NULL CHECK (status IN ('completed', 'failed', 'cancelled')),
    shard     bigint NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (gen_type, status, shard)
);

-- A type whose finished rows the backfill (sql/038) is still counting, in
-- id order: its triggers count a row only once the backfill has passed it
-- (upto NULL: none yet). No row: every row counts.
CREATE TABLE genflow_count_progress (
    gen_type text PRIMARY KEY,
    upto     uuid
);

CREATE FUNCTION genflow_counts_row(p_type text, p_id uuid) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT NOT EXISTS (SELECT 1 FROM genflow_count_progress p
                        WHERE p.gen_type = p_type AND (p.upto IS NULL OR p_id > p.upto))
$fn$;

-- A finished generation counts once, in a shard of its own backend's: two
-- workers that finish at the same moment do not wait for each other.
CREATE FUNCTION genflow_count_finished() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT genflow_counts_row(TG_ARGV[0], NEW.id) THEN
        RETURN NULL;
    END IF;
    INSERT INTO genflow_status_counts (gen_type, status, shard, n)
    VALUES (TG_ARGV[0], NEW.status, pg_backend_pid() % 16, 1)
    ON CONFLICT (gen_type, status, shard) DO UPDATE SET n = genflow_status_counts.n + 1;
    RETURN NULL;
END
$fn$;

-- Deleted finished rows are counted out, once per statement.
CREATE FUNCTION genflow_count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO genflow_status_counts (gen_type, status, shard, n)
    SELECT TG_ARGV[0], g.status, pg_backend_pid() % 16, -count(*) FROM gone g
     WHERE g.status IN ('completed', 'failed', 'cancelled') AND genflow_counts_row(TG_ARGV[0], g.id)
     GROUP BY g.status
    ON CONFLICT (gen_type, status, shard) DO UPDATE
        SET n = genflow_status_counts.n + EXCLUDED.n;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION genflow_count_truncated() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM genflow_status_counts WHERE gen_type = TG_ARGV[0];
    RETURN NULL;
END
$fn$;

CREATE TABLE genflow_turns (
    gen_type   text NOT NULL,
    provider   text NOT NULL,
    user_id    text NOT NULL,
    last_turn  bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gen_type, provider, user_id)
);
-- The highest turn given in a line: the head of an empty line.
CREATE INDEX genflow_turns_last ON genflow_turns (gen_type, provider, last_turn);
-- Pruning old entries.
CREATE INDEX genflow_turns_updated ON genflow_turns (updated_at);

-- A row's provider (its chain position's), and the turn of a row queued
-- without one: queued by a node of 0.1.0 while both releases run, or
-- queued before this migration (the backfill of sql/038 touches those).
-- Such a row takes the turn after the highest given in its line (first
-- come, first served, as all rows were before this release); this
-- release's own nodes give turns in the statement that queues.
CREATE FUNCTION genflow_take_turn(p_type text, p_provider text, p_user text) RETURNS bigint
LANGUAGE sql AS $fn$
    INSERT INTO genflow_turns (gen_type, provider, user_id, last_turn)
    SELECT p_type, p_provider, p_user,
           COALESCE((SELECT t.last_turn FROM genflow_turns t
                      WHERE t.gen_type = p_type AND t.provider = p_provider
                      ORDER BY t.last_turn DESC LIMIT 1), 0)
    ON CONFLICT (gen_type, provider, user_id) DO UPDATE
        SET last_turn = greatest(genflow_turns.last_turn + 1, EXCLUDED.last_turn), updated_at = now()
    RETURNING last_turn
$fn$;

CREATE FUNCTION genflow_keep_provider() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.cur_provider := split_part(split_part(NEW.chain, ',', NEW.chain_index + 1), ':', 1);
    IF NEW.turn IS NULL AND NEW.status = 'pending' AND NEW.queued_at IS NOT NULL THEN
        NEW.turn := genflow_take_turn(TG_ARGV[0], NEW.cur_provider, NEW.user_id);
    END IF;
    RETURN NEW;
END
$fn$;

-- Per type table: columns (no default: no rewrite) and triggers, each
-- lock held for milliseconds. The indexes are sql/037's (CONCURRENTLY),
-- the rows' own values sql/038's backfill.
CREATE FUNCTION genflow_add_scale(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
DECLARE
    has_rows boolean;
BEGIN
    EXECUTE format($ddl$ALTER TABLE %I
        ADD COLUMN IF NOT EXISTS cur_provider text,
        ADD COLUMN IF NOT EXISTS turn bigint$ddl$, p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_provider_insert ON %I', p_table);
    EXECUTE format($ddl$CREATE TRIGGER genflow_provider_insert BEFORE INSERT ON %I
        FOR EACH ROW EXECUTE FUNCTION genflow_keep_provider(%L)$ddl$, p_table, p_type);
    -- Only when the provider may change, or a row lacks what this release
    -- needs: the engine's own updates (leases, polls) run no function.
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_provider_update ON %I', p_table);
    EXECUTE format($ddl$CREATE TRIGGER genflow_provider_update BEFORE UPDATE ON %I
        FOR EACH ROW WHEN (NEW.chain IS DISTINCT FROM OLD.chain
                           OR NEW.chain_index IS DISTINCT FROM OLD.chain_index
                           OR (NEW.cur_provider IS NULL AND NEW.status IN ('pending', 'processing'))
                           OR (NEW.turn IS NULL AND NEW.status = 'pending' AND NEW.queued_at IS NOT NULL))
        EXECUTE FUNCTION genflow_keep_provider(%L)$ddl$, p_table, p_type);

    EXECUTE format('DROP TRIGGER IF EXISTS genflow_count_update ON %I', p_table);
    EXECUTE format($ddl$CREATE TRIGGER genflow_count_update AFTER UPDATE OF status ON %I
        FOR EACH ROW WHEN (NEW.status IN ('completed', 'failed', 'cancelled')
                           AND OLD.status IN ('pending', 'processing'))
        EXECUTE FUNCTION genflow_count_finished(%L)$ddl$, p_table, p_type);
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_count_insert ON %I', p_table);
    EXECUTE format($ddl$CREATE TRIGGER genflow_count_insert AFTER INSERT ON %I
        FOR EACH ROW WHEN (NEW.status IN ('completed', 'failed', 'cancelled'))
        EXECUTE FUNCTION genflow_count_finished(%L)$ddl$, p_table, p_type);
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_count_delete ON %I', p_table);
    EXECUTE format($ddl$CREATE TRIGGER genflow_count_delete AFTER DELETE ON %I
        REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
        EXECUTE FUNCTION genflow_count_deleted(%L)$ddl$, p_table, p_type);
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_count_truncate ON %I', p_table);
    EXECUTE format($ddl$CREATE TRIGGER genflow_count_truncate AFTER TRUNCATE ON %I
        FOR EACH STATEMENT EXECUTE FUNCTION genflow_count_truncated(%L)$ddl$, p_table, p_type);

    -- Its finished rows, counted by the backfill from the lowest id up. A
    -- new table has none: its triggers count every row from the first.
    -- (The ALTER TABLE above holds the table: no row comes meanwhile.)
    DELETE FROM genflow_status_counts WHERE gen_type = p_type;
    DELETE FROM genflow_count_progress WHERE gen_type = p_type;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', p_table) INTO has_rows;
    IF has_rows THEN
        INSERT INTO genflow_count_progress (gen_type, upto) VALUES (p_type, NULL);
    END IF;
END
$fn$;

SELECT genflow_add_scale(type_name, table_name) FROM genflow_types;

ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_021;

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM genflow_create_type_table_021(p_type, p_table);
    PERFORM genflow_add_scale(p_type, p_table);
END
$fn$;

-- ---- providers' limits for every node ------------------------------------

-- One row per provider name: the rate's next start (rate=N/S spaces the
-- starts S/N apart, so that the budget is spent evenly and no window of S
-- seconds ever holds more than N) and the pause a 429 asked for.
CREATE TABLE genflow_provider_limits (
    provider      text PRIMARY KEY CHECK (length(provider) BETWEEN 1 AND 64),
    next_start_at timestamptz NOT NULL DEFAULT '-infinity',
    paused_until  timestamptz NOT NULL DEFAULT '-infinity'
);

-- One row per place of a provider's max_concurrent=: free (no
-- generation, or its lease passed), or held by one call of one attempt.
CREATE TABLE genflow_provider_places (
    provider      text NOT NULL CHECK (length(provider) BETWEEN 1 AND 64),
    place         integer NOT NULL CHECK (place BETWEEN 1 AND 100000),
    generation_id uuid,
    attempt       integer,
    lease_owner   text,
    lease_until   timestamptz,
    PRIMARY KEY (provider, place),
    CHECK ((generation_id IS NULL) = (attempt IS NULL))
);
CREATE INDEX genflow_provider_places_holder ON genflow_provider_places (generation_id)
    WHERE generation_id IS NOT NULL;

-- ---- sweeps ----------------------------------------------------------------

-- As in sql/016, each part read from its own index: never-queued rows by
-- created_at (<table>_created), queued ones by next_attempt_at (<table>_due),
-- so that a sweep reads only the rows it expires, however long the queue.
-- A queued row gets 5 s more than p_ttl here: a server that has it fails
-- it first (its sweep runs every 2 s), with its own code (QUEUE_TIMEOUT:
-- it waited in the line); this sweep is for the rows no server takes.
DROP FUNCTION genflow_expire_orphans(integer, integer);

-- The statement genflow_expire_orphans runs on one type table ($1: the
-- queued TTL, $2: the created TTL), as text, so that its plan can be read
-- (t/41_plans.t).
CREATE FUNCTION genflow_orphans_sql(p_table text, p_type text) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT format($sql$
        WITH cand AS (
              (SELECT d.id FROM %1$I d
                WHERE d.status = 'pending' AND d.queued_at IS NULL
                  AND d.created_at < now() - make_interval(secs => $2)
                ORDER BY d.created_at LIMIT 100)
              UNION ALL
              (SELECT d.id FROM %1$I d
                WHERE d.queued_at IS NOT NULL AND d.status IN ('pending', 'processing')
                  AND d.next_attempt_at < now() - make_interval(secs => $1 + 5)
                  AND (d.lease_until IS NULL OR d.lease_until < now())
                ORDER BY d.next_attempt_at LIMIT 100)),
         gen AS (UPDATE %1$I g SET status = 'failed', error_code = 'EXPIRED',
               error_message = 'no worker took the generation in time', credits_charged = 0,
               finished_at = now(), lease_owner = NULL, lease_until = NULL
              WHERE g.id = ANY(ARRAY(SELECT l.id FROM %1$I l
                                      WHERE l.id = ANY(ARRAY(SELECT id FROM cand))
                                      FOR UPDATE SKIP LOCKED))
                AND g.status IN ('pending', 'processing')
              RETURNING g.*),
         led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)
              SELECT user_id, 'refund', estimated_cost, %2$L, id, 'EXPIRED' FROM gen
              RETURNING user_id, amount, generation_id),
         per_user AS (SELECT led.user_id, sum(led.amount) AS amount,
               count(*) FILTER (WHERE gen.queued_at IS NOT NULL) AS n,
               sum(CASE WHEN (gen.created_at AT TIME ZONE 'UTC')::date
                             = (now() AT TIME ZONE 'UTC')::date
                        THEN led.amount ELSE 0 END) AS today
              FROM led JOIN gen ON gen.id = led.generation_id GROUP BY led.user_id),
         acct AS (UPDATE genflow_accounts a SET balance = a.balance + pu.amount,
               active = greatest(a.active - pu.n, 0),
               daily_used = CASE WHEN a.daily_date = (now() AT TIME ZONE 'UTC')::date
                                 THEN greatest(a.daily_used - pu.today, 0) ELSE a.daily_used END,
               updated_at = now()
              FROM per_user pu WHERE a.user_id = pu.user_id)
        SELECT count(*)::int FROM gen$sql$, p_table, p_type)
$fn$;

CREATE FUNCTION genflow_expire_orphans(p_ttl integer, p_created_ttl integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    t record;
    n integer;
    total integer := 0;
BEGIN
    FOR t IN SELECT type_name, table_name FROM genflow_types ORDER BY type_name LOOP
        EXECUTE genflow_orphans_sql(t.table_name, t.type_name)
        INTO n USING p_ttl, COALESCE(p_created_ttl, p_ttl);
        total := total + n;
    END LOOP;
    RETURN total;
END
$fn$;

-- The outbox's two new indexes are built CONCURRENTLY by sql/035, and
-- the index they replace dropped by sql/036 (contract).

-- ---- wakes ----------------------------------------------------------------

-- genflow_work names the provider of the row's chain position as well as
-- its type ("type\nprovider"): a listener whose node knows that provider
-- to have no place now wakes no worker for it, however many rows are
-- queued behind it (docs/architecture.md, "How a job flows"). Within one
-- transaction PostgreSQL sends a payload once, so a statement that queues
-- any number of rows of one provider is one notification.
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
       OR NEW.started_at IS DISTINCT FROM OLD.started_at THEN
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
