-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: transaction=none
-- genflow-migrate: locks=SHARE UPDATE EXCLUSIVE on genflow_webhook_outbox while each index builds (its reads and writes go on)
-- 035: the webhook outbox's indexes of 0.2.0, built without stopping its
-- writes: done rows by the time they were done (the prune), and every row
-- by state, newest first (the backlog gauge's counts and oldest, the admin
-- list of deliveries by state). sql/022 built them in its transaction,
-- which stopped every write of the outbox (and so every completion that
-- queues a webhook) while they were built; a database that ran 022 before
-- 0.2.0 has them already, and IF NOT EXISTS keeps them.
-- The index of failed deliveries they replace stays for 0.1.0's nodes
-- until the contract step (sql/036).
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_webhook_outbox_done ON genflow_webhook_outbox
    ((COALESCE(delivered_at, next_attempt_at))) WHERE state IN ('delivered', 'failed');
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_webhook_outbox_state
    ON genflow_webhook_outbox (state, created_at DESC, id DESC);
