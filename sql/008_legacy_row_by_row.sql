-- SPDX-License-Identifier: Apache-2.0
-- 008: the legacy migration of 006, row by row.
--
-- 006 moved media_assets in one statement per run: one row with invalid
-- JSON in meta or an unreadable created_at aborted the whole run. From
-- here on genflow_migrate_media_assets() (same name, same result) checks
-- every row and moves it in a subtransaction of its own, so a bad row stays
-- in media_assets, is reported with its reason, and the other rows move.
-- Each row left in place is recorded in genflow_legacy_leftovers (replaced
-- by every run) under one kind:
--   duplicate     its id occurs more than once in media_assets, or was
--                 moved before (genflow_legacy_moves), or is a UUID that a
--                 type table (or the ledger) already holds. Nothing is
--                 deleted and nothing is overwritten.
--   invalid       a value cannot become a generation: no id; no, empty or
--                 over-long (> 255) user_id; no url, or one that is not an
--                 http(s) URL or an absolute path, or longer than 2048;
--                 meta that is not JSON PostgreSQL can store, not an
--                 object, or with a non-string type/generationType/kind;
--                 created_at that is not a timestamp, or outside
--                 1970-01-01 .. now + 1 day; a prompt over 2000 characters
--                 (the API's limit); a preset_key that is not a preset key;
--                 or any error of the move itself (SQLSTATE given).
--   unclassified  valid, but no type in meta, preset_key or url.
-- The checks list every problem of a row at once. A legacy id that is a
-- UUID becomes the generation id; any other id gets a new one. A missing
-- (NULL or blank) created_at becomes the time of the move, and created_at
-- without a zone is read as UTC; 9-10 digits are epoch seconds, 12-13
-- digits epoch milliseconds. Credits are as in 006: each moved row is a
-- completed generation of cost 0 with a 0-credit reservation and charge, and
-- its user gets an account with balance 0 if it has none, so
-- genflow_check_invariants() holds. Running it again moves nothing new and
-- reports the same rows. Errors that are not the row's fault (lost lock,
-- deadlock, out of resources, cancel) abort the whole run, which then
-- moves nothing.

CREATE TABLE genflow_legacy_leftovers (
    pos         integer PRIMARY KEY,        -- the order in which the run met them
    kind        text NOT NULL CHECK (kind IN ('unclassified', 'invalid', 'duplicate')),
    legacy_id   text,
    user_id     text,
    url         text,
    reason      text NOT NULL,
    checked_at  timestamptz NOT NULL DEFAULT now()
);

-- Row data made safe for a terminal and a line-based report: backslash,
-- C0 and C1 control characters, DEL, line and paragraph separators and
-- bidirectional controls become \\, \n, \r, \t, \xHH or \uHHHH. With
-- p_word, white space is escaped too (\x20), NULL is "-", the empty string
-- is "" (and a value that is literally - or contains " is escaped), so the
-- value is one unambiguous word.
CREATE FUNCTION genflow_legacy_escape(p text, p_word boolean DEFAULT false)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p IS NULL THEN CASE WHEN p_word THEN '-' END
        WHEN p = '' THEN CASE WHEN p_word THEN '""' ELSE '' END
        WHEN p_word AND p = '-' THEN '\x2d'
        WHEN p !~ '[\x01-\x20\x7f-\xa0\\"\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]'
            THEN p
        ELSE (SELECT string_agg(CASE
                  WHEN ch = '\' THEN '\\'
                  WHEN ch = E'\n' THEN '\n'
                  WHEN ch = E'\r' THEN '\r'
                  WHEN ch = E'\t' THEN '\t'
                  WHEN c < 32 OR c BETWEEN 127 AND 159 OR (p_word AND c IN (32, 34, 160))
                      THEN '\x' || lpad(to_hex(c), 2, '0')
                  WHEN c IN (8232, 8233, 8206, 8207, 65279) OR c BETWEEN 8234 AND 8238
                       OR c BETWEEN 8288 AND 8303
                       OR (p_word AND (c IN (5760, 8239, 8287, 12288) OR c BETWEEN 8192 AND 8205))
                      THEN '\u' || lpad(to_hex(c), 4, '0')
                  ELSE ch END, '' ORDER BY i)
                FROM regexp_split_to_table(p, '') WITH ORDINALITY AS s(ch, i)
                CROSS JOIN LATERAL (SELECT ascii(s.ch) AS c) a)
    END
$$;

-- A value quoted for a reason, cut at 60 characters.
CREATE FUNCTION genflow_legacy_quote(p text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p IS NULL THEN 'NULL'
                WHEN length(p) > 60 THEN '"' || left(p, 60) || '…"'
                ELSE '"' || p || '"' END
$$;

-- 006 took the first of meta's type, generationType and kind that named a
-- type in whatever order genflow_types was read; now in that order.
CREATE OR REPLACE FUNCTION genflow_classify_media_asset(p_url text, p_preset text, p_meta jsonb)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT t.type_name FROM genflow_types t
           JOIN (VALUES (1, p_meta->>'type'), (2, p_meta->>'generationType'), (3, p_meta->>'kind'))
                AS k(rank, name) ON k.name = t.type_name
          ORDER BY k.rank LIMIT 1),
        (SELECT pr.type_name FROM genflow_presets pr
           JOIN genflow_types t ON t.type_name = pr.type_name
          WHERE pr.key = p_preset),
        (SELECT t.type_name FROM genflow_types t
          WHERE p_url LIKE '%/' || t.type_name || '/%'
          ORDER BY length(t.type_name) DESC LIMIT 1))
$$;

CREATE OR REPLACE FUNCTION genflow_migrate_media_assets()
RETURNS TABLE (type_name text, moved integer)
LANGUAGE plpgsql
SET timezone = 'UTC'
AS $fn$
DECLARE
    cols text[];
    col text;
    src text;
    rec record;
    t record;
    mv record;
    dup text[];
    bad text[];
    unclassified text;
    kind text;
    meta jsonb;
    meta_typed boolean;
    ts timestamptz;
    typ text;
    tbl text;
    gid uuid;
    preset text;
    found_in text;
    hit boolean;
    k text;
    n integer;
    pos integer := 0;
    counts jsonb := '{}'::jsonb;
    msg text;
    detail text;
    state text;
BEGIN
    -- One run at a time (genflow-migrate holds 727274).
    PERFORM pg_advisory_xact_lock(727275);
    DELETE FROM genflow_legacy_leftovers;
    IF to_regclass('media_assets') IS NULL THEN
        RETURN;   -- nothing to migrate on this database
    END IF;
    -- Reads go on; writes of the old application and a second run wait.
    LOCK TABLE media_assets IN EXCLUSIVE MODE;

    SELECT array_agg(a.attname::text) INTO cols FROM pg_attribute a
     WHERE a.attrelid = to_regclass('media_assets') AND a.attnum > 0 AND NOT a.attisdropped;
    FOREACH col IN ARRAY ARRAY['id', 'user_id', 'url'] LOOP
        IF NOT col = ANY (cols) THEN
            RAISE EXCEPTION 'media_assets has no column %', col;
        END IF;
    END LOOP;
    -- Every value as text, so that reading a row cannot fail; the optional
    -- columns are NULL when the table has none.
    src := format('SELECT tableoid AS rel, ctid AS tid, id::text AS legacy_id,
                          user_id::text AS user_id, url::text AS url, %s AS prompt,
                          %s AS preset_key, %s AS meta, %s AS created_at,
                          count(*) OVER (PARTITION BY id::text) AS copies
                     FROM media_assets ORDER BY %s media_assets.id',
        CASE WHEN 'prompt' = ANY (cols) THEN 'prompt::text' ELSE 'NULL::text' END,
        CASE WHEN 'preset_key' = ANY (cols) THEN 'preset_key::text' ELSE 'NULL::text' END,
        CASE WHEN 'meta' = ANY (cols) THEN 'meta::text' ELSE 'NULL::text' END,
        CASE WHEN 'created_at' = ANY (cols) THEN 'created_at::text' ELSE 'NULL::text' END,
        CASE WHEN 'created_at' = ANY (cols) THEN 'media_assets.created_at,' ELSE '' END);

    FOR rec IN EXECUTE src LOOP
        dup := '{}'; bad := '{}'; unclassified := NULL; kind := NULL;
        meta := NULL; meta_typed := true; ts := NULL; typ := NULL; gid := NULL; preset := NULL;
        BEGIN
            -- Duplicates.
            IF rec.legacy_id IS NULL OR btrim(rec.legacy_id) = '' THEN
                bad := bad || 'no id'::text;
            ELSIF rec.copies > 1 THEN
                dup := dup || format('id occurs %s times in media_assets', rec.copies);
            ELSE
                SELECT m.generation_id, m.moved_at, COALESCE(ty.table_name, m.type_name) AS tbl
                  INTO mv
                  FROM genflow_legacy_moves m LEFT JOIN genflow_types ty ON ty.type_name = m.type_name
                 WHERE m.legacy_id = rec.legacy_id;
                IF FOUND THEN
                    dup := dup || format('already moved to %s as generation %s on %s', mv.tbl,
                                         mv.generation_id, to_char(mv.moved_at, 'YYYY-MM-DD'));
                ELSIF rec.legacy_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
                    gid := rec.legacy_id::uuid;
                    found_in := NULL;
                    FOR t IN SELECT ty.table_name FROM genflow_types ty ORDER BY ty.type_name LOOP
                        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE id = $1)', t.table_name)
                           INTO STRICT hit USING gid;
                        IF hit THEN
                            found_in := t.table_name;
                            EXIT;
                        END IF;
                    END LOOP;
                    IF found_in IS NULL
                       AND EXISTS (SELECT 1 FROM genflow_ledger l WHERE l.generation_id = gid) THEN
                        found_in := 'genflow_ledger';
                    END IF;
                    IF found_in IS NOT NULL THEN
                        dup := dup || format('id already in %s', found_in);
                    END IF;
                END IF;
            END IF;

            -- Values.
            IF rec.user_id IS NULL THEN
                bad := bad || 'no user_id'::text;
            ELSIF btrim(rec.user_id) = '' THEN
                bad := bad || 'user_id is empty'::text;
            ELSIF length(rec.user_id) > 255 THEN
                bad := bad || format('user_id is longer than 255 characters (%s)', length(rec.user_id));
            END IF;

            IF rec.url IS NULL THEN
                bad := bad || 'no url'::text;
            ELSIF btrim(rec.url) = '' THEN
                bad := bad || 'url is empty'::text;
            ELSIF length(rec.url) > 2048 THEN
                bad := bad || format('url is longer than 2048 characters (%s)', length(rec.url));
            ELSIF rec.url !~* '^(https?://[^/?#[:space:][:cntrl:]]+|/)[^[:space:][:cntrl:]]*$' THEN
                bad := bad || format('url %s is not an http(s) URL or an absolute path',
                                     genflow_legacy_quote(rec.url));
            END IF;

            IF length(rec.prompt) > 2000 THEN
                bad := bad || format('prompt is longer than 2000 characters (%s)', length(rec.prompt));
            END IF;

            IF rec.preset_key IS NOT NULL AND btrim(rec.preset_key) <> '' THEN
                IF rec.preset_key ~ '^[a-z0-9][a-z0-9-]{0,63}$' THEN
                    preset := rec.preset_key;
                ELSE
                    bad := bad || format('preset_key %s is not a preset key (a-z, 0-9, -, at most 64)',
                                         genflow_legacy_quote(rec.preset_key));
                END IF;
            END IF;

            IF rec.meta IS NULL OR btrim(rec.meta) = '' THEN
                meta := '{}';
            ELSE
                BEGIN
                    meta := rec.meta::jsonb;
                EXCEPTION WHEN data_exception OR syntax_error_or_access_rule_violation THEN
                    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
                    bad := bad || format('meta is not valid JSON (%s%s)', msg,
                                         CASE WHEN detail <> '' THEN ': ' || detail ELSE '' END);
                END;
                IF jsonb_typeof(meta) = 'null' THEN
                    meta := '{}';
                ELSIF jsonb_typeof(meta) <> 'object' THEN
                    bad := bad || format('meta is a JSON %s, not an object', jsonb_typeof(meta));
                    meta := NULL;
                END IF;
            END IF;
            IF meta IS NOT NULL THEN
                FOREACH k IN ARRAY ARRAY['type', 'generationType', 'kind'] LOOP
                    IF jsonb_typeof(meta->k) NOT IN ('string', 'null') THEN
                        bad := bad || format('meta.%s is a %s, not a string', k, jsonb_typeof(meta->k));
                        meta_typed := false;   -- its type cannot be told
                    END IF;
                END LOOP;
            END IF;

            IF rec.created_at IS NULL OR btrim(rec.created_at) = '' THEN
                ts := now();
            ELSE
                BEGIN
                    IF rec.created_at !~ '[0-9]' THEN   -- 'now', 'today', 'epoch': no date of its own
                        RAISE invalid_datetime_format;
                    END IF;
                    ts := CASE
                        WHEN btrim(rec.created_at) ~ '^[0-9]{9,10}(\.[0-9]+)?$'
                            THEN to_timestamp(btrim(rec.created_at)::numeric)
                        WHEN btrim(rec.created_at) ~ '^[0-9]{12,13}$'
                            THEN to_timestamp(btrim(rec.created_at)::numeric / 1000)
                        ELSE rec.created_at::timestamptz END;
                    IF NOT isfinite(ts) OR ts < '1970-01-01 00:00:00+00' OR ts > now() + interval '1 day' THEN
                        bad := bad || format('created_at %s is out of range (1970-01-01 to now)',
                                             genflow_legacy_quote(rec.created_at));
                    END IF;
                EXCEPTION WHEN data_exception THEN
                    bad := bad || format('created_at %s is not a timestamp',
                                         genflow_legacy_quote(rec.created_at));
                END;
            END IF;

            -- Type.
            IF meta IS NOT NULL AND meta_typed THEN
                typ := genflow_classify_media_asset(rec.url, preset, meta);
                IF typ IS NULL THEN
                    unclassified := 'no type in meta, preset_key or url';
                    IF COALESCE(meta->>'type', meta->>'generationType', meta->>'kind') IS NOT NULL THEN
                        unclassified := unclassified || format(' (meta names %s, not a known type)',
                            genflow_legacy_quote(COALESCE(meta->>'type', meta->>'generationType',
                                                          meta->>'kind')));
                    END IF;
                END IF;
            END IF;

            IF cardinality(dup) > 0 THEN
                kind := 'duplicate';
            ELSIF cardinality(bad) > 0 THEN
                kind := 'invalid';
            ELSIF typ IS NULL THEN
                kind := 'unclassified';
            ELSE
                -- The move: all of it or nothing of it.
                SELECT ty.table_name INTO STRICT tbl FROM genflow_types ty WHERE ty.type_name = typ;
                INSERT INTO genflow_accounts (user_id, balance) VALUES (rec.user_id, 0)
                    ON CONFLICT (user_id) DO NOTHING;
                EXECUTE format($sql$
                    INSERT INTO %I (id, user_id, status, prompt, user_prompt, preset, seed, input,
                                    image_url, provider, model, estimated_cost, credits_charged,
                                    created_at, started_at, finished_at)
                    VALUES (COALESCE($7, gen_random_uuid()), $1, 'completed', COALESCE($2, ''), $2, $3,
                            0, $4, $5, 'legacy', NULL, 0, 0, $6, $6, $6)
                    RETURNING id$sql$, tbl)
                    INTO gid
                    USING rec.user_id, rec.prompt, preset, meta, rec.url, ts, gid;
                INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason, created_at)
                    VALUES (rec.user_id, 'reserve', 0, typ, gid, 'legacy import', ts),
                           (rec.user_id, 'charge', 0, typ, gid, 'legacy import', ts);
                INSERT INTO genflow_legacy_moves (legacy_id, type_name, generation_id)
                    VALUES (rec.legacy_id, typ, gid);
                EXECUTE 'DELETE FROM media_assets WHERE tableoid = $1 AND ctid = $2'
                    USING rec.rel, rec.tid;
                GET DIAGNOSTICS n = ROW_COUNT;
                IF n <> 1 THEN
                    RAISE EXCEPTION 'the row changed while it was moved';
                END IF;
                counts := jsonb_set(counts, ARRAY[typ], to_jsonb(COALESCE((counts->>typ)::int, 0) + 1));
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
            -- Not the row's fault: the run fails as a whole and moves nothing.
            IF left(state, 2) IN ('40', '53', '55', '57', '58', 'XX') THEN
                RAISE;
            END IF;
            kind := 'invalid';
            bad := ARRAY[format('could not be moved: %s (SQLSTATE %s)', msg, state)];
            dup := '{}'; unclassified := NULL;
        END;
        IF kind IS NOT NULL THEN
            pos := pos + 1;
            INSERT INTO genflow_legacy_leftovers (pos, kind, legacy_id, user_id, url, reason)
            VALUES (pos, kind, rec.legacy_id, rec.user_id, rec.url,
                    array_to_string(dup || bad || unclassified, '; '));
        END IF;
    END LOOP;
    RETURN QUERY
        SELECT ty.type_name, COALESCE((counts->>ty.type_name)::int, 0)
          FROM genflow_types ty ORDER BY ty.type_name;
END
$fn$;

-- Every row the last run left in media_assets, with its reason (prefixed
-- by "duplicate: " or "invalid: " unless it is merely unclassified).
-- genflow_legacy_leftovers has the kind in a column of its own.
CREATE OR REPLACE FUNCTION genflow_unclassified_media_assets()
RETURNS TABLE (legacy_id text, user_id text, url text, reason text)
LANGUAGE sql STABLE AS $$
    SELECT l.legacy_id, l.user_id, l.url,
           CASE WHEN l.kind = 'unclassified' THEN l.reason ELSE l.kind || ': ' || l.reason END
      FROM genflow_legacy_leftovers l ORDER BY l.pos
$$;
