-- SPDX-License-Identifier: Apache-2.0
-- 003: columns of the background job engine (docs/operations.md) on every type table.
--
-- A generation is "queued" once generate/retry asked for it (queued_at);
-- workers claim queued rows whose next_attempt_at has come and whose lease
-- is free or expired, with FOR UPDATE SKIP LOCKED. The attempt counter
-- names one attempt: a worker's writes are guarded by (lease_owner,
-- attempts), so a worker whose lease was taken over can change nothing.

CREATE FUNCTION genflow_add_engine_columns(p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format($ddl$
        ALTER TABLE %I
            ADD COLUMN IF NOT EXISTS chain           text NOT NULL DEFAULT 'local',
            ADD COLUMN IF NOT EXISTS chain_index     integer NOT NULL DEFAULT 0,
            ADD COLUMN IF NOT EXISTS poll_count      integer NOT NULL DEFAULT 0,
            ADD COLUMN IF NOT EXISTS attempts        integer NOT NULL DEFAULT 0,
            ADD COLUMN IF NOT EXISTS deadline_secs   integer NOT NULL DEFAULT 120,
            ADD COLUMN IF NOT EXISTS queued_at       timestamptz,
            ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz,
            ADD COLUMN IF NOT EXISTS deadline_at     timestamptz,
            ADD COLUMN IF NOT EXISTS lease_owner     text,
            ADD COLUMN IF NOT EXISTS lease_until     timestamptz,
            ADD COLUMN IF NOT EXISTS provider_state  text,
            ADD COLUMN IF NOT EXISTS woken_at        timestamptz
        $ddl$, p_table);
    -- Webhooks find their generation by the provider's job id.
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (provider_job_id)
                        WHERE provider_job_id IS NOT NULL$ddl$,
                   p_table || '_provider_job', p_table);
    -- Due work, in the order workers take it.
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (next_attempt_at)
                        WHERE queued_at IS NOT NULL AND status IN ('pending', 'processing')$ddl$,
                   p_table || '_due', p_table);
END
$fn$;

SELECT genflow_add_engine_columns(table_name) FROM genflow_types;

-- Types created from now on get the engine columns too: the table DDL of
-- 002 stays as it is, wrapped by the function sites call.
ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_base;

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM genflow_create_type_table_base(p_type, p_table);
    PERFORM genflow_add_engine_columns(p_table);
END
$fn$;

-- Per-user count of generations not yet terminal, kept in the same
-- statements that create and finalize them, so the per-user limit
-- (429 RATE_LIMIT) is checked without counting rows of every type table.
ALTER TABLE genflow_accounts
    ADD COLUMN active integer NOT NULL DEFAULT 0 CHECK (active >= 0);

DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT table_name FROM genflow_types LOOP
        EXECUTE format('UPDATE genflow_accounts a SET active = a.active + c.n
                          FROM (SELECT user_id, count(*) AS n FROM %I
                                 WHERE status IN (''pending'', ''processing'')
                                 GROUP BY user_id) c
                         WHERE a.user_id = c.user_id', t);
    END LOOP;
END $$;
