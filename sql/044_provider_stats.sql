-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=none on existing tables (a new table)
-- 044: what the site measured of each provider that is a member of a
-- group of equivalent providers (GenFlowProviders "{a b}@latency"), for
-- every node of the database together: the running averages of its call
-- times (submission to picture) and of what a picture cost. Each
-- completed generation of a member updates its row by its key; a node
-- choosing a member reads the group's rows by their keys, at most once a
-- second.
CREATE TABLE IF NOT EXISTS genflow_provider_stats (
    provider    text PRIMARY KEY,
    latency_ms  double precision NOT NULL CHECK (latency_ms >= 0),
    cost        double precision CHECK (cost >= 0),
    calls       bigint NOT NULL DEFAULT 1 CHECK (calls >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
