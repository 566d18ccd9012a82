-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=none on existing tables (new tables)
-- 044: what the site measured of each provider that is a member of a
-- group of equivalent providers (GenFlowProviders "{a b}@latency"), for
-- every node of the database together: the running averages of its call
-- times (submission to picture) and of what a picture cost. Each
-- completed generation of a member updates its row by its key; a node
-- choosing a member reads the group's rows by their keys, at most every
-- half second.
CREATE TABLE IF NOT EXISTS genflow_provider_stats (
    provider    text PRIMARY KEY,
    latency_ms  double precision NOT NULL CHECK (latency_ms >= 0),
    cost        double precision CHECK (cost >= 0),
    calls       bigint NOT NULL DEFAULT 1 CHECK (calls >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The calls each node has open to each member of a group now, for
-- GenFlowProviders "{a b}@least-busy" on every node: one row per member
-- and httpd with calls open, written by that httpd every half second
-- (updated by its key; deleted by its key when its calls end). A reader
-- sums the rows of a member written in the last 3 seconds, so a node that
-- died stops counting within 3 s; the tidy sweep deletes rows a minute
-- old, by the index on updated_at.
CREATE TABLE IF NOT EXISTS genflow_provider_open (
    provider    text NOT NULL,
    node        text NOT NULL,
    open        bigint NOT NULL CHECK (open > 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, node)
);
CREATE INDEX IF NOT EXISTS genflow_provider_open_updated_idx
    ON genflow_provider_open (updated_at);
