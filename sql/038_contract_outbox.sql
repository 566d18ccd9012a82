-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=contract
-- genflow-migrate: transaction=none
-- genflow-migrate: locks=SHARE UPDATE EXCLUSIVE on genflow_webhook_outbox while its old index is dropped (its reads and writes go on)
-- 038: what only 0.1.0's module used, once every node runs 0.2.0: the
-- outbox's index of failed deliveries (genflow_webhook_outbox_state,
-- sql/035, serves that list now), and the schema floor: a module that
-- needs less than schema 37 no longer runs here (a module of 0.2.0 or
-- later refuses such a schema at start; 0.1.0 predates that check).
DROP INDEX CONCURRENTLY IF EXISTS genflow_webhook_outbox_failed;
UPDATE genflow_schema_floor SET needs_at_least = greatest(needs_at_least, 37);
