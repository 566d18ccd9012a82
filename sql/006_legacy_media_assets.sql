-- SPDX-License-Identifier: Apache-2.0
-- 006: moving a legacy unified media table into the dedicated type tables
-- (issue 5). Nothing runs at migration time: an administrator calls
--     SELECT * FROM genflow_migrate_media_assets();
-- (scripts/genflow-migrate-legacy does, and prints the report). Each row of
-- media_assets (id, user_id, url, prompt, preset_key, meta, created_at) is
-- classified, in this order, by
--   1. meta->>'type' (or 'generationType', 'kind') naming a known type;
--   2. preset_key naming a preset, whose type it takes;
--   3. a path segment of url naming a known type ("/neo-glitch/…");
-- and moved, in one transaction per run, as a completed generation of that
-- type (image_url = url, cost 0) with a 0-credit reservation and charge, so
-- the ledger invariant holds for it too. Rows that cannot be classified
-- stay in media_assets; genflow_unclassified_media_assets() lists them.
-- A second run moves nothing: moved rows are gone from media_assets, and
-- genflow_legacy_moves remembers every move.

CREATE TABLE genflow_legacy_moves (
    legacy_id      text PRIMARY KEY,
    type_name      text NOT NULL,
    generation_id  uuid NOT NULL,
    moved_at       timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION genflow_classify_media_asset(p_url text, p_preset text, p_meta jsonb)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT t.type_name FROM genflow_types t
          WHERE t.type_name IN (p_meta->>'type', p_meta->>'generationType', p_meta->>'kind')
          LIMIT 1),
        (SELECT pr.type_name FROM genflow_presets pr
           JOIN genflow_types t ON t.type_name = pr.type_name
          WHERE pr.key = p_preset),
        (SELECT t.type_name FROM genflow_types t
          WHERE p_url LIKE '%/' || t.type_name || '/%'
          ORDER BY length(t.type_name) DESC LIMIT 1))
$$;

CREATE FUNCTION genflow_migrate_media_assets()
RETURNS TABLE (type_name text, moved integer)
LANGUAGE plpgsql AS $fn$
DECLARE
    rec record;
    tbl text;
    gid uuid;
    counts jsonb := '{}'::jsonb;
BEGIN
    IF to_regclass('media_assets') IS NULL THEN
        RETURN;   -- nothing to migrate on this database
    END IF;
    FOR rec IN EXECUTE
        'SELECT id::text AS legacy_id, user_id::text AS user_id, url::text AS url,
                prompt::text AS prompt, preset_key::text AS preset_key,
                COALESCE(meta::jsonb, ''{}''::jsonb) AS meta,
                COALESCE(created_at::timestamptz, now()) AS created_at,
                genflow_classify_media_asset(url::text, preset_key::text, meta::jsonb) AS type_name
           FROM media_assets ORDER BY created_at, id FOR UPDATE'
    LOOP
        CONTINUE WHEN rec.type_name IS NULL OR rec.user_id IS NULL OR rec.url IS NULL;
        CONTINUE WHEN EXISTS (SELECT 1 FROM genflow_legacy_moves m WHERE m.legacy_id = rec.legacy_id);
        SELECT t.table_name INTO tbl FROM genflow_types t WHERE t.type_name = rec.type_name;
        INSERT INTO genflow_accounts (user_id, balance) VALUES (rec.user_id, 0)
            ON CONFLICT (user_id) DO NOTHING;
        EXECUTE format($sql$
            INSERT INTO %I (user_id, status, prompt, user_prompt, preset, seed, input, image_url,
                            provider, model, estimated_cost, credits_charged, created_at,
                            started_at, finished_at)
            VALUES ($1, 'completed', COALESCE($2, ''), $2, $3, 0, $4, $5, 'legacy', NULL, 0, 0,
                    $6, $6, $6)
            RETURNING id$sql$, tbl)
            INTO gid
            USING rec.user_id, rec.prompt, rec.preset_key, rec.meta, rec.url, rec.created_at;
        INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason, created_at)
            VALUES (rec.user_id, 'reserve', 0, rec.type_name, gid, 'legacy import', rec.created_at),
                   (rec.user_id, 'charge', 0, rec.type_name, gid, 'legacy import', rec.created_at);
        INSERT INTO genflow_legacy_moves (legacy_id, type_name, generation_id)
            VALUES (rec.legacy_id, rec.type_name, gid);
        EXECUTE 'DELETE FROM media_assets WHERE id::text = $1' USING rec.legacy_id;
        counts := jsonb_set(counts, ARRAY[rec.type_name],
                            to_jsonb(COALESCE((counts->>rec.type_name)::int, 0) + 1));
    END LOOP;
    RETURN QUERY
        SELECT t.type_name, COALESCE((counts->>t.type_name)::int, 0)
          FROM genflow_types t ORDER BY t.type_name;
END
$fn$;

CREATE FUNCTION genflow_unclassified_media_assets()
RETURNS TABLE (legacy_id text, user_id text, url text, reason text)
LANGUAGE plpgsql AS $fn$
BEGIN
    IF to_regclass('media_assets') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
        'SELECT id::text, user_id::text, url::text,
                CASE WHEN user_id IS NULL THEN ''no user_id''
                     WHEN url IS NULL THEN ''no url''
                     ELSE ''no type in meta, preset_key or url'' END
           FROM media_assets ORDER BY created_at, id';
END
$fn$;
