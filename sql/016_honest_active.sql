-- SPDX-License-Identifier: Apache-2.0
-- 016: the active count means "queued or processing".
--
-- genflow_accounts.active (sql/003) counted every generation not yet
-- terminal, from its create on, and GenFlowMaxActive (429 RATE_LIMIT)
-- compared against it: a user who created generations and never started
-- them was blocked until they expired. From this migration on a generation
-- counts from the moment it is queued (generate, retry, or the one-call
-- generate that creates it queued) until it is terminal; one that was only
-- created does not count. The module's statements keep the count that way
-- (docs/architecture.md, "The active count"); this migration
--
--  * recounts every account from the rows themselves, over every type
--    table genflow_types lists (the five shipped ones and any a site
--    created with genflow_create_type_table), with genflow_recount_active(),
--    which an operator may also run at any time;
--  * replaces genflow_expire_orphans: an expired generation that was never
--    queued gives back no active count, and it gets a TTL of its own
--    (GenFlowCreatedTTL) besides the queued one (GenFlowPendingTTL);
--  * makes genflow_check_invariants also report an account whose active
--    count differs from its generations queued or processing.
--
-- Stop every httpd that runs a module older than this migration before
-- applying it: such a module still counts at create, and its counts would
-- drift (genflow_check_invariants then lists them; genflow_recount_active()
-- corrects them).

-- Sets each account's active count to its generations queued or processing
-- in all type tables; returns how many accounts changed. The accounts are
-- locked against writes (reads go on) until the transaction ends: the lock
-- waits for every statement that has already locked an account row (each
-- create, queue and finalization does, in the one statement that also
-- changes its generation row), and holds back new ones until the recount
-- commits, so none falls between the count and the update. Meanwhile the
-- whole site's creates, queues and finalizations wait: run it when quiet.
CREATE FUNCTION genflow_recount_active() RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    counts text;
    n integer;
BEGIN
    LOCK TABLE genflow_accounts IN EXCLUSIVE MODE;
    SELECT string_agg(format('SELECT user_id, count(*) AS n FROM %I'
                             ' WHERE queued_at IS NOT NULL AND status IN (''pending'', ''processing'')'
                             ' GROUP BY user_id', table_name), ' UNION ALL ' ORDER BY table_name)
      INTO counts FROM genflow_types;
    IF counts IS NULL THEN
        counts := 'SELECT NULL::text AS user_id, 0::bigint AS n WHERE false';
    END IF;
    EXECUTE format($sql$
        WITH c AS (SELECT user_id, sum(n)::integer AS n FROM (%s) u GROUP BY user_id)
        UPDATE genflow_accounts a SET active = COALESCE(c.n, 0)
          FROM genflow_accounts a0 LEFT JOIN c ON c.user_id = a0.user_id
         WHERE a.user_id = a0.user_id AND a.active <> COALESCE(c.n, 0)$sql$, counts);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

SELECT genflow_recount_active();

-- As in sql/007, with two TTLs: a generation never queued expires when it
-- was created more than p_created_ttl seconds ago (NULL: p_ttl), a queued
-- one when it has been due for more than p_ttl seconds without a live
-- lease. Only the queued ones give back an active count.
DROP FUNCTION genflow_expire_orphans(integer);

CREATE FUNCTION genflow_expire_orphans(p_ttl integer, p_created_ttl integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    t record;
    n integer;
    total integer := 0;
BEGIN
    FOR t IN SELECT type_name, table_name FROM genflow_types ORDER BY type_name LOOP
        EXECUTE format($sql$
            WITH gen AS (UPDATE %1$I g SET status = 'failed', error_code = 'EXPIRED',
                   error_message = 'no worker took the generation in time', credits_charged = 0,
                   finished_at = now(), lease_owner = NULL, lease_until = NULL
                  WHERE g.id IN (SELECT d.id FROM %1$I d
                     WHERE d.status IN ('pending', 'processing')
                       AND ((d.queued_at IS NULL AND d.created_at < now() - make_interval(secs => $2))
                         OR (d.queued_at IS NOT NULL AND d.next_attempt_at < now() - make_interval(secs => $1)
                             AND (d.lease_until IS NULL OR d.lease_until < now())))
                     ORDER BY d.created_at LIMIT 100 FOR UPDATE SKIP LOCKED)
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
            SELECT count(*)::int FROM gen$sql$, t.table_name, t.type_name)
        INTO n USING p_ttl, COALESCE(p_created_ttl, p_ttl);
        total := total + n;
    END LOOP;
    RETURN total;
END
$fn$;

-- As in sql/007, plus one rule: per account, active = its generations
-- queued or processing, counted over all type tables in one statement
-- (one snapshot: each statement of the module changes a generation's
-- state and the count together, so a consistent snapshot always agrees).
-- p_pending_ttl: how long a generation never queued may stay pending
-- (GenFlowCreatedTTL, or the orphan sweep's TTL) before p_grace starts.
CREATE OR REPLACE FUNCTION genflow_check_invariants(p_grace integer, p_pending_ttl integer DEFAULT 3600)
RETURNS SETOF text
LANGUAGE plpgsql AS $fn$
DECLARE
    t record;
    v text;
    counts text;
BEGIN
    RETURN QUERY
        SELECT format('balance of %s is %s, its ledger sums to %s', a.user_id, a.balance,
                      COALESCE(l.total, 0))
          FROM genflow_accounts a
          LEFT JOIN (SELECT user_id, sum(amount) AS total FROM genflow_ledger GROUP BY user_id) l
            ON l.user_id = a.user_id
         WHERE a.balance <> COALESCE(l.total, 0);
    SELECT string_agg(format('SELECT user_id, count(*) AS n FROM %I'
                             ' WHERE queued_at IS NOT NULL AND status IN (''pending'', ''processing'')'
                             ' GROUP BY user_id', table_name), ' UNION ALL ' ORDER BY table_name)
      INTO counts FROM genflow_types;
    IF counts IS NOT NULL THEN
        RETURN QUERY EXECUTE format($sql$
            SELECT format('active of %%s is %%s, but %%s of its generations are queued or processing',
                          a.user_id, a.active, COALESCE(c.n, 0))
              FROM genflow_accounts a
              LEFT JOIN (SELECT user_id, sum(n) AS n FROM (%s) u GROUP BY user_id) c
                ON c.user_id = a.user_id
             WHERE a.active <> COALESCE(c.n, 0)$sql$, counts);
    END IF;
    FOR t IN SELECT type_name, table_name FROM genflow_types ORDER BY type_name LOOP
        FOR v IN EXECUTE format($sql$
            SELECT format('%%s %%s (%%s): %%s reservation(s), %%s charge(s), %%s refund(s)',
                          %1$L, g.id, g.status, r.n, c.n, f.n)
              FROM %2$I g
              CROSS JOIN LATERAL (SELECT count(*) AS n FROM genflow_ledger
                                   WHERE generation_id = g.id AND kind = 'reserve') r
              CROSS JOIN LATERAL (SELECT count(*) AS n FROM genflow_ledger
                                   WHERE generation_id = g.id AND kind = 'charge') c
              CROSS JOIN LATERAL (SELECT count(*) AS n FROM genflow_ledger
                                   WHERE generation_id = g.id AND kind = 'refund') f
             WHERE r.n <> 1
                OR (g.status = 'completed' AND (c.n <> 1 OR f.n <> 0))
                OR (g.status IN ('failed', 'cancelled') AND (f.n <> 1 OR c.n <> 0))
                OR (g.status IN ('pending', 'processing') AND c.n + f.n <> 0)
            UNION ALL
            SELECT format('%%s %%s is %%s since %%s: held past its deadline', %1$L, g.id,
                          g.status, g.created_at)
              FROM %2$I g
             WHERE g.status IN ('pending', 'processing')
               AND CASE WHEN g.deadline_at IS NOT NULL THEN g.deadline_at
                        WHEN g.queued_at IS NOT NULL
                             THEN g.queued_at + make_interval(secs => g.deadline_secs)
                        ELSE g.created_at + make_interval(secs => $2) END
                   < now() - make_interval(secs => $1)
            $sql$, t.type_name, t.table_name) USING p_grace, p_pending_ttl LOOP
            RETURN NEXT v;
        END LOOP;
    END LOOP;
END
$fn$;
