-- SPDX-License-Identifier: Apache-2.0
-- 026: the account's changes in statements of their own.
--
-- The create, queue, complete and fail statements each changed the
-- account with an UPDATE among their other parts (the key's record, the
-- generation's row, the ledger, the upload). When another transaction
-- changed the account row after the statement began (one user's
-- generations at the same moment: a script, a burst from a page, a site
-- that calls the API as one user), PostgreSQL re-checks the row
-- (EvalPlanQual), and that check starts every part of the statement
-- again: the type table's insert or update with its indexes, the
-- ledger's, every CTE. Profiled under eight concurrent creates of one
-- user, those restarts were about a sixth of PostgreSQL's time for a
-- create. In these functions the UPDATE is the only statement, so a
-- re-check starts that UPDATE alone; the guards and the changes are those
-- the statements had, evaluated on the newest version of the account as
-- before.
--
-- genflow_reserve(user, cost, day_limit, max_active, queued): takes cost
-- from the balance and counts it into the day's and the week's usage (and
-- the generation as active when queued), if the balance covers it, the
-- day's allowance (the account's own limit, else day_limit; 0: none)
-- allows it and, when queued, the user has fewer than max_active (0: no
-- limit) active. Returns the user, or NULL when refused or when the user
-- has no account.
CREATE FUNCTION genflow_reserve(p_user text, p_cost integer, p_day_limit integer,
                                p_max_active integer, p_queued boolean) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    v_today date := (now() AT TIME ZONE 'UTC')::date;
    v_week  date := (date_trunc('week', now() AT TIME ZONE 'UTC'))::date;
    v_user  text;
BEGIN
    UPDATE genflow_accounts a SET balance = a.balance - p_cost,
           daily_used = CASE WHEN a.daily_date = v_today THEN a.daily_used ELSE 0 END + p_cost,
           daily_date = v_today,
           weekly_used = CASE WHEN a.weekly_start = v_week THEN a.weekly_used ELSE 0 END + p_cost,
           weekly_start = v_week, updated_at = now(),
           active = a.active + CASE WHEN p_queued THEN 1 ELSE 0 END
     WHERE a.user_id = p_user AND a.balance >= p_cost
       AND (NOT p_queued OR p_max_active = 0 OR a.active < p_max_active)
       AND (COALESCE(a.daily_limit, p_day_limit) = 0
            OR CASE WHEN a.daily_date = v_today THEN a.daily_used ELSE 0 END + p_cost
               <= COALESCE(a.daily_limit, p_day_limit))
    RETURNING a.user_id INTO v_user;
    RETURN v_user;
END
$fn$;

-- genflow_activate(user, max_active): counts a queued generation as
-- active, if the user has fewer than max_active (0: no limit). Returns the
-- user, or NULL when refused.
CREATE FUNCTION genflow_activate(p_user text, p_max_active integer) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    v_user text;
BEGIN
    UPDATE genflow_accounts a SET active = a.active + 1
     WHERE a.user_id = p_user AND (p_max_active = 0 OR a.active < p_max_active)
    RETURNING a.user_id INTO v_user;
    RETURN v_user;
END
$fn$;

-- genflow_settle(user, refund, created_at, was_active): a generation
-- finished. With a refund (a failure or a cancel; NULL for a completion,
-- whose reservation stands), the balance gets it back and so do the day's
-- and the week's usage when the generation was created on the day and in
-- the week they count; a generation that was queued (was_active 1) no
-- longer counts as active. Returns 1.
CREATE FUNCTION genflow_settle(p_user text, p_refund bigint, p_created timestamptz,
                               p_was_active integer) RETURNS integer
LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE genflow_accounts a SET balance = a.balance + COALESCE(p_refund, 0),
           daily_used = CASE WHEN p_refund IS NOT NULL
                              AND a.daily_date = (p_created AT TIME ZONE 'UTC')::date
                             THEN greatest(a.daily_used - p_refund, 0) ELSE a.daily_used END,
           weekly_used = CASE WHEN p_refund IS NOT NULL
                               AND a.weekly_start = (date_trunc('week', p_created AT TIME ZONE 'UTC'))::date
                              THEN greatest(a.weekly_used - p_refund, 0) ELSE a.weekly_used END,
           active = greatest(a.active - p_was_active, 0),
           updated_at = CASE WHEN p_refund IS NULL THEN a.updated_at ELSE now() END
     WHERE a.user_id = p_user;
    RETURN 1;
END
$fn$;
