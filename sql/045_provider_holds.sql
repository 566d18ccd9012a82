-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=ACCESS EXCLUSIVE on genflow_provider_spend for a moment (a column with a constant default: no rewrite)
-- 045: what a job holds at its provider from its submission to its end,
-- for every node of the database together: its expected cost in its
-- budget's period (budget=), and one of the provider's job slots
-- (max_jobs=). A synchronous call holds until it answers; an asynchronous
-- job (fal's queue, Replicate past Prefer: wait, local async=) until the
-- poll that finishes it.
--
--  * genflow_provider_spend.held: what the period's jobs in flight hold of
--    its budget. The gate is one conditional update of the period's row
--    by its key: spent + held + this job's hold <= the budget.
--  * genflow_provider_jobs: a provider's jobs accepted and not finished
--    (max_jobs=), one row per provider, updated by its key.
--  * genflow_provider_holds: one row per job in flight of such a provider,
--    by (generation, provider), with what it holds and until when (its
--    deadline and a lease). A release deletes it and gives back what it
--    held in one statement, so a hold is released once, whoever releases
--    it: the job's cost record, the attempt that ends the job, or the
--    tidy sweep past the deadline (a child killed with the job, a
--    generation cancelled or expired while it ran).
ALTER TABLE genflow_provider_spend ADD COLUMN IF NOT EXISTS held numeric NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS genflow_provider_jobs (
    provider   text PRIMARY KEY,
    running    bigint NOT NULL DEFAULT 0 CHECK (running >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS genflow_provider_holds (
    generation_id uuid NOT NULL,
    provider      text NOT NULL,
    gen_type      text NOT NULL,
    job           boolean NOT NULL,        -- holds one of max_jobs=
    period_start  timestamptz,             -- the budget period it holds in, or NULL
    amount        numeric NOT NULL DEFAULT 0 CHECK (amount >= 0),
    until         timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (generation_id, provider)
);
CREATE INDEX IF NOT EXISTS genflow_provider_holds_until_idx ON genflow_provider_holds (until);

-- A budget period's row, made from the calls recorded since it began if
-- it has none yet (as genflow_spend_add's first call does).
CREATE OR REPLACE FUNCTION genflow_spend_row(p_provider text, p_start timestamptz)
RETURNS void LANGUAGE sql AS $fn$
    INSERT INTO genflow_provider_spend AS s (provider, period_start, spent, calls)
    SELECT p_provider, p_start, COALESCE(sum(c.cost), 0), count(*)
      FROM genflow_provider_costs c
     WHERE c.provider = p_provider AND c.created_at >= p_start
    ON CONFLICT (provider, period_start) DO NOTHING
$fn$;

-- Hold what generation p_gen's job needs at p_provider until p_until:
-- one of its p_max_jobs job slots (0: none counted), and of its budget
-- (p_budget per p_period in p_zone; p_period NULL: none) p_amount, or
-- with NULL what the period's priced calls cost on average. 'held' (or
-- this job holds already: a submission tried again after a lost answer,
-- or by a rescue), 'jobs' when every job slot is taken, 'budget' when
-- spent + held + the amount would pass the budget; nothing is held then.
CREATE OR REPLACE FUNCTION genflow_provider_hold(p_provider text, p_max_jobs integer,
                                                 p_period text, p_zone text, p_budget numeric,
                                                 p_amount numeric, p_gen uuid, p_type text,
                                                 p_until timestamptz)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    v_start timestamptz;
    v_amount numeric := p_amount;
BEGIN
    IF EXISTS (SELECT 1 FROM genflow_provider_holds
                WHERE generation_id = p_gen AND provider = p_provider) THEN
        RETURN 'held';
    END IF;
    IF p_max_jobs > 0 THEN
        INSERT INTO genflow_provider_jobs (provider) VALUES (p_provider)
        ON CONFLICT (provider) DO NOTHING;
        UPDATE genflow_provider_jobs j SET running = j.running + 1, updated_at = now()
         WHERE j.provider = p_provider AND j.running < p_max_jobs;
        IF NOT FOUND THEN
            RETURN 'jobs';
        END IF;
    END IF;
    IF p_period IS NOT NULL THEN
        v_start := genflow_period_start(p_period, p_zone, now());
        PERFORM genflow_spend_row(p_provider, v_start);
        IF v_amount IS NULL THEN
            SELECT CASE WHEN s.calls > 0 THEN s.spent / s.calls ELSE 0 END INTO v_amount
              FROM genflow_provider_spend s
             WHERE s.provider = p_provider AND s.period_start = v_start;
        END IF;
        UPDATE genflow_provider_spend s SET held = s.held + v_amount, updated_at = now()
         WHERE s.provider = p_provider AND s.period_start = v_start
           AND s.spent + s.held + v_amount <= p_budget + 0.000000001;
        IF NOT FOUND THEN
            IF p_max_jobs > 0 THEN
                UPDATE genflow_provider_jobs j SET running = GREATEST(j.running - 1, 0)
                 WHERE j.provider = p_provider;
            END IF;
            RETURN 'budget';
        END IF;
    END IF;
    INSERT INTO genflow_provider_holds (generation_id, provider, gen_type, job, period_start,
                                        amount, until)
    VALUES (p_gen, p_provider, p_type, p_max_jobs > 0, v_start, COALESCE(v_amount, 0), p_until)
    ON CONFLICT (generation_id, provider) DO NOTHING;
    IF NOT FOUND THEN
        -- The same job's hold, made meanwhile by another statement: what
        -- this one took goes back.
        IF p_max_jobs > 0 THEN
            UPDATE genflow_provider_jobs j SET running = GREATEST(j.running - 1, 0)
             WHERE j.provider = p_provider;
        END IF;
        IF p_period IS NOT NULL THEN
            UPDATE genflow_provider_spend s SET held = GREATEST(s.held - v_amount, 0)
             WHERE s.provider = p_provider AND s.period_start = v_start;
        END IF;
    END IF;
    RETURN 'held';
END
$fn$;

-- Release generation p_gen's hold at p_provider, if it has one: its job
-- slot and its amount (to the period it was taken in) go back. The
-- amount, or NULL when there was none.
CREATE OR REPLACE FUNCTION genflow_provider_release(p_gen uuid, p_provider text)
RETURNS numeric LANGUAGE plpgsql AS $fn$
DECLARE
    h genflow_provider_holds;
BEGIN
    DELETE FROM genflow_provider_holds
     WHERE generation_id = p_gen AND provider = p_provider
    RETURNING * INTO h;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF h.job THEN
        UPDATE genflow_provider_jobs j SET running = GREATEST(j.running - 1, 0), updated_at = now()
         WHERE j.provider = h.provider;
    END IF;
    IF h.period_start IS NOT NULL THEN
        UPDATE genflow_provider_spend s SET held = GREATEST(s.held - h.amount, 0), updated_at = now()
         WHERE s.provider = h.provider AND s.period_start = h.period_start;
    END IF;
    RETURN h.amount;
END
$fn$;

-- The cost record also settles the call's hold: the job is priced now.
CREATE OR REPLACE FUNCTION genflow_spend_add(p_provider text, p_period text, p_zone text,
                                             p_cost numeric, p_gen uuid, p_attempt integer)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    v_start timestamptz := genflow_period_start(p_period, p_zone, now());
BEGIN
    PERFORM genflow_provider_release(p_gen, p_provider);
    -- The usual case: the period has its row (one update by its key).
    UPDATE genflow_provider_spend s SET spent = s.spent + p_cost, calls = s.calls + 1,
           updated_at = now()
     WHERE s.provider = p_provider AND s.period_start = v_start;
    IF FOUND THEN
        RETURN;
    END IF;
    INSERT INTO genflow_provider_spend AS s (provider, period_start, spent, calls)
    SELECT p_provider, v_start, COALESCE(sum(c.cost), 0) + p_cost, count(*) + 1
      FROM genflow_provider_costs c
     WHERE c.provider = p_provider AND c.created_at >= v_start
       AND NOT (c.generation_id = p_gen AND c.attempt = p_attempt)
    ON CONFLICT (provider, period_start) DO UPDATE
        SET spent = s.spent + p_cost, calls = s.calls + 1, updated_at = now();
END
$fn$;
