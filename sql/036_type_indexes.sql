-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: transaction=none
-- genflow-migrate: each-type-table
-- genflow-migrate: locks=SHARE UPDATE EXCLUSIVE on each type table while each index builds (its reads and writes go on)
-- 036: each type table's indexes of 0.2.0, built CONCURRENTLY, once per
-- type table (genflow-migrate puts its name for genflow_type_table).
-- sql/022, 029 and 031 built them in their transactions, which stopped
-- every write of the table while each was built; they now add only
-- columns and triggers. genflow_create_type_table builds the same ones on
-- a new table (genflow_type_indexes, sql/037; t/54_upgrade_schema.t compares the
-- two).
--
-- Queued, never claimed: the line, in claim order (sql/031).
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_type_table_fresh
    ON genflow_type_table (cur_provider, turn, ticket) WHERE status = 'pending' AND queued_at IS NOT NULL;
-- Claimed before, no provider job: retries, fallbacks and rescues, by due
-- time. A claim sets next_attempt_at to the end of its lease, so running
-- rows are not at the front.
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_type_table_again
    ON genflow_type_table (cur_provider, next_attempt_at) WHERE status = 'processing' AND provider_job_id IS NULL;
-- Accepted provider jobs, by their next poll.
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_type_table_polls
    ON genflow_type_table (cur_provider, next_attempt_at) WHERE status = 'processing' AND provider_job_id IS NOT NULL;
-- Created, never queued: GenFlowCreatedTTL.
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_type_table_created
    ON genflow_type_table (created_at) WHERE status = 'pending' AND queued_at IS NULL;
-- Started ones by deadline: genflow_generations_near_deadline.
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_type_table_deadline
    ON genflow_type_table (deadline_at) WHERE status = 'processing';
-- Every row by status, newest first: the admin list, open counts.
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_type_table_status
    ON genflow_type_table (status, created_at DESC, id DESC);
-- Open rows with a Cancel-After of their own (sql/029).
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_type_table_cancel_at
    ON genflow_type_table (cancel_at) WHERE cancel_at IS NOT NULL AND status = 'pending';
