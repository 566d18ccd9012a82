-- SPDX-License-Identifier: Apache-2.0
-- 007: the engine under real load and real failures.
--
--  * NOTIFY: every type table tells listeners (one connection per httpd
--    child) when a generation's visible state changed (channel
--    genflow_change, payload: the generation id) and when work became due
--    now (channel genflow_work, payload: the type). Waiting clients and
--    idle workers wake on these instead of holding a pooled connection or
--    polling; the short poll stays as the backstop.
--  * poll_errors: failed status polls of an accepted provider job, so the
--    poll backs off and is retried without ever re-submitting the job.
--  * Idempotency records know their owner (a token chosen by the request
--    before its first statement, so a statement re-run after a lost
--    connection recognises its own row) and the generation they created,
--    in the same transaction as the create.
--  * Ledger grants carry an operation id chosen before the INSERT, so an
--    admin grant re-run after a lost connection is a no-op.
--  * genflow_expire_orphans: rows no worker will ever claim (a type that is
--    no longer mounted anywhere) expire and are refunded.
--  * genflow_check_invariants: the money and liveness rules, checkable at
--    any time.

CREATE FUNCTION genflow_notify_change() RETURNS trigger
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
        PERFORM pg_notify('genflow_work', TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION genflow_add_reliability(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS poll_errors integer NOT NULL DEFAULT 0',
                   p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_notify ON %I', p_table);
    EXECUTE format('CREATE TRIGGER genflow_notify AFTER INSERT OR UPDATE ON %I '
                   'FOR EACH ROW EXECUTE FUNCTION genflow_notify_change(%L)', p_table, p_type);
END
$fn$;

SELECT genflow_add_reliability(type_name, table_name) FROM genflow_types;

ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_003;

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM genflow_create_type_table_003(p_type, p_table);
    PERFORM genflow_add_reliability(p_type, p_table);
END
$fn$;

ALTER TABLE genflow_idempotency
    ADD COLUMN owner         text,          -- the token of the request that runs it; NULL: released
    ADD COLUMN claimed_at    timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN generation_id uuid;          -- set by the create (or queue) it ran

ALTER TABLE genflow_ledger ADD COLUMN op_id uuid;
CREATE UNIQUE INDEX genflow_ledger_one_op ON genflow_ledger (op_id) WHERE op_id IS NOT NULL;

-- Expire what no worker will claim: pending rows never started within the
-- TTL, and queued rows due for longer than the TTL without a live lease
-- (their type is mounted nowhere, or its chain can no longer run). Each is
-- failed with EXPIRED and refunded in the same statement, like every other
-- finalization. Returns how many were expired.
CREATE FUNCTION genflow_expire_orphans(p_ttl integer) RETURNS integer
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
                       AND ((d.queued_at IS NULL AND d.created_at < now() - make_interval(secs => $1))
                         OR (d.queued_at IS NOT NULL AND d.next_attempt_at < now() - make_interval(secs => $1)
                             AND (d.lease_until IS NULL OR d.lease_until < now())))
                     ORDER BY d.created_at LIMIT 100 FOR UPDATE SKIP LOCKED)
                    AND g.status IN ('pending', 'processing')
                  RETURNING g.*),
             led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)
                  SELECT user_id, 'refund', estimated_cost, %2$L, id, 'EXPIRED' FROM gen
                  RETURNING user_id, amount, generation_id),
             per_user AS (SELECT led.user_id, sum(led.amount) AS amount, count(*) AS n,
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
        INTO n USING p_ttl;
        total := total + n;
    END LOOP;
    RETURN total;
END
$fn$;

-- One row per broken rule; none when all is well. p_grace: how long past
-- its deadline a started generation, and past its queueing plus its
-- deadline one never claimed, may still be open; a generation never
-- queued may stay pending for p_pending_ttl (GenFlowPendingTTL) + p_grace.
-- Beyond that its reservation counts as held forever.
CREATE FUNCTION genflow_check_invariants(p_grace integer, p_pending_ttl integer DEFAULT 3600)
RETURNS SETOF text
LANGUAGE plpgsql AS $fn$
DECLARE
    t record;
    v text;
BEGIN
    RETURN QUERY
        SELECT format('balance of %s is %s, its ledger sums to %s', a.user_id, a.balance,
                      COALESCE(l.total, 0))
          FROM genflow_accounts a
          LEFT JOIN (SELECT user_id, sum(amount) AS total FROM genflow_ledger GROUP BY user_id) l
            ON l.user_id = a.user_id
         WHERE a.balance <> COALESCE(l.total, 0);
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
