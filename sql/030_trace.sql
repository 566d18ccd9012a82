-- SPDX-License-Identifier: Apache-2.0
-- 030: a generation keeps the trace of the request that created it.
--
-- traceparent is the W3C Trace Context header of that request's own span
-- ("00-<trace-id>-<span-id>-<flags>": the client's trace where the
-- location trusts it, mod_otel's, or one started by the module). Every
-- provider call, store and webhook delivery made for the generation sends
-- a child of it, and its log lines name the trace id; the status object
-- shows the trace id (traceId). No index: nothing looks a row up by it.
-- No constraint either: ADD COLUMN with a CHECK would read every row of a
-- long history under an exclusive lock; the module writes only values it
-- made or validated.
CREATE FUNCTION genflow_add_trace(p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS traceparent text', p_table);
END
$fn$;

SELECT genflow_add_trace(table_name) FROM genflow_types;

CREATE OR REPLACE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM genflow_create_type_table_021(p_type, p_table);
    PERFORM genflow_add_scale(p_type, p_table);
    DELETE FROM genflow_status_totals WHERE gen_type = p_type;
    PERFORM genflow_tune_type_table(p_table);
    PERFORM genflow_add_cancel_at(p_table);
    PERFORM genflow_add_trace(p_table);
END
$fn$;

-- The status object, as the module's statements build it (gf_sql.c,
-- STATUS_JSON), for the webhook payloads the outbox's trigger writes.
CREATE OR REPLACE FUNCTION genflow_status_object(p_type text, r jsonb) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'generationId',     r->>'id',
        'type',             p_type,
        'status',           r->>'status',
        'prompt',           r->>'prompt',
        'preset',           r->'preset',
        'imageUrl',         r->'image_url',
        'provider',         r->'provider',
        'model',            r->'model',
        'providerJobId',    r->'provider_job_id',
        'retryCount',       (r->>'retry_count')::int,
        'maxRetries',       (r->>'max_retries')::int,
        'error',            CASE WHEN r->>'error_code' IS NULL THEN NULL
                                 ELSE json_build_object('code', r->>'error_code',
                                                        'message', r->>'error_message') END,
        'estimatedCost',    (r->>'estimated_cost')::int,
        'creditsCharged',   (r->>'credits_charged')::int,
        'createdAt',        genflow_rfc3339((r->>'created_at')::timestamptz),
        'startedAt',        genflow_rfc3339((r->>'started_at')::timestamptz),
        'finishedAt',       genflow_rfc3339((r->>'finished_at')::timestamptz),
        'processingTimeMs', CASE WHEN r->>'finished_at' IS NOT NULL AND r->>'started_at' IS NOT NULL
                                 THEN round(extract(epoch FROM (r->>'finished_at')::timestamptz
                                                             - (r->>'started_at')::timestamptz) * 1000)::bigint
                            END,
        'traceId',          substr(r->>'traceparent', 4, 32))
$$;
