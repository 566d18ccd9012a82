-- SPDX-License-Identifier: Apache-2.0
-- 002: one dedicated table per generation type (README.md), all made by the
-- same function so a site can add a type with one call:
--     SELECT genflow_create_type_table('my-type', 'my_type_media');
-- plus the status object every endpoint returns (docs/api.md).

CREATE TABLE genflow_types (
    type_name   text PRIMARY KEY CHECK (type_name ~ '^[a-z][a-z0-9-]{0,62}$'),
    table_name  text NOT NULL UNIQUE CHECK (table_name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    existing text;
BEGIN
    IF p_type IS NULL OR p_type !~ '^[a-z][a-z0-9-]{0,62}$' THEN
        RAISE EXCEPTION 'bad type name %: use lower-case letters, digits and -', p_type;
    END IF;
    IF p_table IS NULL OR p_table !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'bad table name %: use lower-case letters, digits and _', p_table;
    END IF;
    SELECT table_name INTO existing FROM genflow_types WHERE type_name = p_type;
    IF FOUND AND existing <> p_table THEN
        RAISE EXCEPTION 'type % already uses table %', p_type, existing;
    END IF;

    EXECUTE format($ddl$
        CREATE TABLE IF NOT EXISTS %I (
            id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id          text NOT NULL,
            status           text NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
            prompt           text NOT NULL,
            user_prompt      text,
            preset           text,
            source_image     text,
            aspect_ratio     text,
            seed             bigint NOT NULL CHECK (seed BETWEEN 0 AND 4294967294),
            input            jsonb NOT NULL,
            image_url        text,
            provider         text,
            model            text,
            provider_job_id  text,
            retry_count      integer NOT NULL DEFAULT 0,
            max_retries      integer NOT NULL DEFAULT 3,
            error_code       text,
            error_message    text,
            estimated_cost   integer NOT NULL CHECK (estimated_cost >= 0),
            credits_charged  integer NOT NULL DEFAULT 0,
            created_at       timestamptz NOT NULL DEFAULT now(),
            started_at       timestamptz,
            finished_at      timestamptz,
            CHECK ((status IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
            CHECK (status <> 'completed' OR image_url IS NOT NULL),
            CHECK (credits_charged IN (0, estimated_cost))
        )$ddl$, p_table);
    -- Per-user history, newest first (and the cursor of history paging).
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (user_id, created_at DESC, id DESC)',
                   p_table || '_user_history', p_table);
    -- Work not yet finished, for the job engine and expiry sweeps.
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (status, created_at)
                        WHERE status IN ('pending', 'processing')$ddl$,
                   p_table || '_active', p_table);
    INSERT INTO genflow_types (type_name, table_name) VALUES (p_type, p_table)
        ON CONFLICT (type_name) DO NOTHING;
END
$fn$;

CREATE FUNCTION genflow_rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The status object of docs/api.md, from a type table row (to_jsonb(row)).
CREATE FUNCTION genflow_status_object(p_type text, r jsonb) RETURNS json
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
                            END)
$$;

SELECT genflow_create_type_table('neo-glitch',      'neo_glitch_media');
SELECT genflow_create_type_table('emotion-mask',    'emotion_mask_media');
SELECT genflow_create_type_table('presets',         'presets_media');
SELECT genflow_create_type_table('ghibli-reaction', 'ghibli_reaction_media');
SELECT genflow_create_type_table('custom-prompt',   'custom_prompt_media');
