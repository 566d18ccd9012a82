-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=none on existing tables (a new table and functions)
-- 042: provider budgets (GenFlowProvider … budget=AMOUNT/PERIOD
-- budget_tz=ZONE): what the site spent on each provider in each period,
-- for every node of the database together.
--
--  * genflow_provider_spend: one row per (provider, period start), with
--    what the period's calls cost and how many were priced. The module's
--    cost record (genflow_spend_add) adds each call's cost as it writes
--    the call's row of genflow_provider_costs; a period's first row starts
--    from what the period's calls cost before it (a budget set during a
--    period counts that period's calls from its start), read by the index
--    of sql/043. A submission reads its provider's row by its key before
--    the call.
--  * genflow_period_start(period, zone, at): where the period of `at`
--    began: the hour, midnight or the 1st in that zone.
CREATE TABLE IF NOT EXISTS genflow_provider_spend (
    provider     text NOT NULL,
    period_start timestamptz NOT NULL,
    spent        numeric NOT NULL DEFAULT 0 CHECK (spent >= 0),
    calls        bigint NOT NULL DEFAULT 0 CHECK (calls >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, period_start)
);

CREATE OR REPLACE FUNCTION genflow_period_start(p_period text, p_zone text, p_at timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $fn$
    SELECT date_trunc(p_period, p_at AT TIME ZONE p_zone) AT TIME ZONE p_zone
$fn$;

-- Add a call's cost to its period: the cost of attempt p_attempt of
-- generation p_gen, whose row of genflow_provider_costs the caller's
-- statement wrote. A period's first row starts from the other calls
-- recorded since the period began (that row left out, seen or not): read
-- once a period, later calls update the row by its key. Two first calls at
-- once count both: the second waits for the first's row and adds to it.
CREATE OR REPLACE FUNCTION genflow_spend_add(p_provider text, p_period text, p_zone text,
                                             p_cost numeric, p_gen uuid, p_attempt integer)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    v_start timestamptz := genflow_period_start(p_period, p_zone, now());
BEGIN
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
