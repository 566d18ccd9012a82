-- SPDX-License-Identifier: Apache-2.0
-- 005: Idempotency-Key records (docs/api.md). The first request for
-- (user, key) owns the record while it runs; its answer is stored and
-- replayed for 24 h. The primary key makes concurrent duplicates collide
-- here, before any generation or reservation exists.
CREATE TABLE genflow_idempotency (
    user_id          text NOT NULL,
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint      text NOT NULL,            -- sha256 of method, path and body
    state            text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
    response_status  integer,
    response_body    text,
    location         text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX genflow_idempotency_age ON genflow_idempotency (created_at);
