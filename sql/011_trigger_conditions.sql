-- SPDX-License-Identifier: Apache-2.0
-- 011: triggers that run only when they have something to do.
--
-- Every create inserted a ledger row and a generation row, and each insert
-- called a PL/pgSQL trigger function that then did nothing: the ledger
-- check only looks at charges and refunds, and a new generation is neither
-- visible to any waiter (nobody knows its id before the create answers)
-- nor due work (the create does not queue it). The same went for every
-- lease renewal (heartbeat) of a running attempt. A trigger's WHEN
-- condition is evaluated by the executor without calling the function, so
-- the conditions move there; the functions themselves are unchanged and
-- still check what they checked.

DROP TRIGGER genflow_ledger_finalization ON genflow_ledger;
CREATE TRIGGER genflow_ledger_finalization BEFORE INSERT ON genflow_ledger
    FOR EACH ROW WHEN (NEW.kind IN ('charge', 'refund'))
    EXECUTE FUNCTION genflow_ledger_check_finalization();

-- genflow_notify_change (sql/007) notifies genflow_change when a
-- generation's visible state changed and genflow_work when it became due
-- now and free. The WHEN conditions below are the same tests, so the
-- function runs exactly when it would notify.
CREATE OR REPLACE FUNCTION genflow_add_reliability(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS poll_errors integer NOT NULL DEFAULT 0',
                   p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_notify ON %I', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_notify_insert ON %I', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_notify_update ON %I', p_table);
    -- An inserted row is due work only when it arrives queued (the create
    -- inserts it unqueued; generate queues it with an UPDATE).
    EXECUTE format($ddl$CREATE TRIGGER genflow_notify_insert AFTER INSERT ON %I
                        FOR EACH ROW WHEN (NEW.queued_at IS NOT NULL)
                        EXECUTE FUNCTION genflow_notify_change(%L)$ddl$, p_table, p_type);
    EXECUTE format($ddl$CREATE TRIGGER genflow_notify_update AFTER UPDATE ON %I
                        FOR EACH ROW WHEN (
                            NEW.status IS DISTINCT FROM OLD.status
                         OR NEW.provider IS DISTINCT FROM OLD.provider
                         OR NEW.provider_job_id IS DISTINCT FROM OLD.provider_job_id
                         OR NEW.retry_count IS DISTINCT FROM OLD.retry_count
                         OR NEW.chain_index IS DISTINCT FROM OLD.chain_index
                         OR NEW.image_url IS DISTINCT FROM OLD.image_url
                         OR NEW.started_at IS DISTINCT FROM OLD.started_at
                         OR (NEW.queued_at IS NOT NULL AND NEW.status IN ('pending', 'processing')
                             AND NEW.lease_owner IS NULL AND NEW.next_attempt_at <= now()
                             AND (OLD.lease_owner IS NOT NULL
                                  OR NEW.next_attempt_at IS DISTINCT FROM OLD.next_attempt_at)))
                        EXECUTE FUNCTION genflow_notify_change(%L)$ddl$, p_table, p_type);
END
$fn$;

SELECT genflow_add_reliability(type_name, table_name) FROM genflow_types;
