-- SPDX-License-Identifier: Apache-2.0
-- 023: the week's usage kept in the account, as the day's is.
--
-- GET /api/quota's weekly_used (credits of this ISO week's reservations
-- that were not refunded) was summed from the ledger on every read: a
-- read that cost the user's rows of the week, 4 answers a second for a
-- user with 250,000 of them. The account now keeps it beside daily_used:
-- the create adds its cost (starting again from 0 in a new week), and
-- every refund takes its amount back when the generation was created in
-- the week the account counts (the create and fail statements of
-- gf_sql.c, the sweeps' SWEEP_REFUND, and genflow_orphans_sql below).

ALTER TABLE genflow_accounts
    ADD COLUMN weekly_used  bigint NOT NULL DEFAULT 0 CHECK (weekly_used >= 0),
    ADD COLUMN weekly_start date;   -- the UTC Monday of the ISO week weekly_used counts

-- This week's usage so far, from the ledger, once.
UPDATE genflow_accounts a
   SET weekly_start = (date_trunc('week', now() AT TIME ZONE 'UTC'))::date,
       weekly_used = w.used
  FROM (SELECT r.user_id, sum(-r.amount) AS used FROM genflow_ledger r
         WHERE r.kind = 'reserve'
           AND r.created_at >= date_trunc('week', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
           AND NOT EXISTS (SELECT 1 FROM genflow_ledger f
                            WHERE f.generation_id = r.generation_id AND f.kind = 'refund')
         GROUP BY r.user_id) w
 WHERE a.user_id = w.user_id;

-- The orphans' sweep (sql/022), its refunds also taken off the week.
CREATE OR REPLACE FUNCTION genflow_orphans_sql(p_table text, p_type text) RETURNS text
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
                        THEN led.amount ELSE 0 END) AS today,
               sum(CASE WHEN (date_trunc('week', gen.created_at AT TIME ZONE 'UTC'))::date
                             = (date_trunc('week', now() AT TIME ZONE 'UTC'))::date
                        THEN led.amount ELSE 0 END) AS week
              FROM led JOIN gen ON gen.id = led.generation_id GROUP BY led.user_id),
         acct AS (UPDATE genflow_accounts a SET balance = a.balance + pu.amount,
               active = greatest(a.active - pu.n, 0),
               daily_used = CASE WHEN a.daily_date = (now() AT TIME ZONE 'UTC')::date
                                 THEN greatest(a.daily_used - pu.today, 0) ELSE a.daily_used END,
               weekly_used = CASE WHEN a.weekly_start = (date_trunc('week', now() AT TIME ZONE 'UTC'))::date
                                  THEN greatest(a.weekly_used - pu.week, 0) ELSE a.weekly_used END,
               updated_at = now()
              FROM per_user pu WHERE a.user_id = pu.user_id)
        SELECT count(*)::int FROM gen$sql$, p_table, p_type)
$fn$;
