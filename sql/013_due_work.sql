-- SPDX-License-Identifier: Apache-2.0
-- 013: new work ahead of polls, and a cheap "is anything due?".
--
-- Workers took due rows in next_attempt_at order from one index, so with
-- thousands of asynchronous jobs held at a provider, a new generation
-- queued behind every poll that was due (595 ms pickup at 10,000 held
-- jobs). The claim now takes new work (no accepted provider job: a first
-- attempt, a retry, a fallback) first, from its own partial index, and the
-- polls of accepted jobs in batches from theirs. Each index holds exactly
-- the rows its claim can take, oldest due first.

CREATE FUNCTION genflow_add_due_indexes(p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (next_attempt_at)
                        WHERE queued_at IS NOT NULL AND status IN ('pending', 'processing')
                          AND provider_job_id IS NULL$ddl$,
                   p_table || '_due_new', p_table);
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (next_attempt_at)
                        WHERE queued_at IS NOT NULL AND status IN ('pending', 'processing')
                          AND provider_job_id IS NOT NULL$ddl$,
                   p_table || '_due_poll', p_table);
END
$fn$;

SELECT genflow_add_due_indexes(table_name) FROM genflow_types;

ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_012;

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM genflow_create_type_table_012(p_type, p_table);
    PERFORM genflow_add_due_indexes(p_table);
END
$fn$;
