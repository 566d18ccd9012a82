-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=none (a new table)
-- 034: the oldest module this schema still serves.
--
-- From 0.2.0 the module reads genflow_schema_version when httpd starts
-- (and under apache2ctl -t) and refuses a schema that lacks the newest
-- migration it needs. A contract migration (one that removes what an
-- older release still used) raises needs_at_least to the schema version
-- the modules that survive it need, so that an older module refuses with
-- a message instead of failing at its first statement.
SET lock_timeout = '2s';

CREATE TABLE IF NOT EXISTS genflow_schema_floor (
    only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    needs_at_least bigint NOT NULL DEFAULT 0 CHECK (needs_at_least >= 0)
);
INSERT INTO genflow_schema_floor DEFAULT VALUES ON CONFLICT DO NOTHING;
