-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=ACCESS EXCLUSIVE on each type table for a moment (a column added without a default: no rewrite, no row read); functions replaced
-- 047: several pictures per generation (the create's count, docs/api.md).
--
--  * <table>.images: the pictures a completed generation delivered, in
--    order, each {"url", "width", "height", "seed"} (seed null where the
--    provider did not say). NULL for rows completed before this migration
--    (their one picture is image_url) and for every row not completed.
--    image_url stays the first picture's URL. No default, no index.
--  * A generation of count n reserves n times its type's cost (the count
--    is the input's; 1 when the input has none). Completing it charges
--    the cost of each picture delivered and gives the rest back in the
--    same statement: the finalization row, kind 'charge', carries what
--    was given back (0 when every picture came). 048 relaxes the ledger's
--    check on that amount; this file's trigger bounds it by the
--    reservation.
--  * genflow_check_invariants checks it per generation: what the ledger
--    took (the reservation less what its finalization gave back) is the
--    row's credits_charged, and a completed row with images was charged
--    for each of them, no more and no fewer.
CREATE FUNCTION genflow_add_images(p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS images jsonb', p_table);
END
$fn$;

SELECT genflow_add_images(table_name) FROM genflow_types;

-- A type table's check that a row is charged all of its cost or none
-- (sql/002) becomes 0 up to its cost: 049 swaps it on the tables there
-- are (added NOT VALID, validated, then the old one dropped), and a type
-- table made from now on gets the new one at once.
CREATE FUNCTION genflow_charge_check_add(p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = p_table::regclass
                    AND conname = 'genflow_charged_within') THEN
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT genflow_charged_within'
                       ' CHECK (credits_charged BETWEEN 0 AND estimated_cost) NOT VALID', p_table);
    END IF;
END
$fn$;

CREATE FUNCTION genflow_charge_check_drop(p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
DECLARE
    c text;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = p_table::regclass AND contype = 'c'
              AND (pg_get_constraintdef(oid) LIKE '%(credits_charged = 0) OR (credits_charged = estimated_cost)%'
                   OR pg_get_constraintdef(oid) LIKE '%credits_charged = ANY (ARRAY[0, estimated_cost])%') LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', p_table, c);
    END LOOP;
END
$fn$;

-- The ledger's check that a charge moves nothing becomes: a charge gives
-- back 0 or more (048 swaps it the same way; the trigger below bounds it
-- by the reservation).
CREATE FUNCTION genflow_ledger_charge_check_drop() RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
DECLARE
    c text;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
              WHERE conrelid = 'genflow_ledger'::regclass AND contype = 'c'
                AND pg_get_constraintdef(oid) LIKE '%kind <> ''charge''::text) OR (amount = 0)%' LOOP
        EXECUTE format('ALTER TABLE genflow_ledger DROP CONSTRAINT %I', c);
    END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM genflow_create_type_table_021(p_type, p_table);
    PERFORM genflow_add_scale(p_type, p_table);
    DELETE FROM genflow_status_totals WHERE gen_type = p_type;
    PERFORM genflow_tune_type_table(p_table);
    PERFORM genflow_add_cancel_at(p_table);
    PERFORM genflow_add_trace(p_table);
    PERFORM genflow_add_line(p_type, p_table);
    PERFORM genflow_add_gauges(p_type, p_table);
    PERFORM genflow_type_indexes(p_table);
    PERFORM genflow_add_line_name(p_table);
    PERFORM genflow_add_progress(p_table);
    PERFORM genflow_add_images(p_table);
    PERFORM genflow_charge_check_add(p_table);
    EXECUTE format('ALTER TABLE %I VALIDATE CONSTRAINT genflow_charged_within', p_table);
    PERFORM genflow_charge_check_drop(p_table);
END
$fn$;

-- The pictures of a row (as to_jsonb(row) has it): its images, or its
-- one image_url for a row completed before 047, or none.
CREATE FUNCTION genflow_images_of(r jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(r->'images') = 'array' THEN r->'images'
                WHEN r->>'status' = 'completed' AND r->>'image_url' IS NOT NULL
                THEN jsonb_build_array(jsonb_build_object('url', r->>'image_url', 'width', NULL,
                                                          'height', NULL, 'seed', NULL))
                ELSE '[]'::jsonb END
$$;

-- The status object of the webhook payloads (the outbox's trigger), as
-- the module's statements build it (gf_sql.c, STATUS_JSON): with count
-- and images.
CREATE OR REPLACE FUNCTION genflow_status_object(p_type text, r jsonb) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'generationId',     r->>'id',
        'type',             p_type,
        'status',           r->>'status',
        'prompt',           r->>'prompt',
        'preset',           r->'preset',
        'imageUrl',         r->'image_url',
        'images',           genflow_images_of(r),
        'count',            COALESCE((r->'input'->>'count')::int, 1),
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

-- A finalization follows the generation's reservation. A refund gives
-- back exactly the reserved amount; a charge gives back what its
-- undelivered pictures reserved: 0 up to the reservation, never more.
CREATE OR REPLACE FUNCTION genflow_ledger_check_finalization() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    reserved bigint;
BEGIN
    IF NEW.kind IN ('charge', 'refund') THEN
        SELECT amount INTO reserved FROM genflow_ledger
         WHERE generation_id = NEW.generation_id AND kind = 'reserve';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'generation % has no reservation to finalize', NEW.generation_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF NEW.kind = 'refund' AND NEW.amount <> -reserved THEN
            RAISE EXCEPTION 'refund of % for generation % does not match its reservation of %',
                NEW.amount, NEW.generation_id, -reserved
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.kind = 'charge' AND (NEW.amount < 0 OR NEW.amount > -reserved) THEN
            RAISE EXCEPTION 'charge of generation % gives back %, outside 0..% (its reservation)',
                NEW.generation_id, NEW.amount, -reserved
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION genflow_check_invariants(p_grace integer, p_pending_ttl integer DEFAULT 3600)
RETURNS SETOF text
LANGUAGE plpgsql AS $fn$
DECLARE
    t record;
    v text;
    counts text;
BEGIN
    RETURN QUERY
        SELECT format('balance of %s is %s, its ledger sums to %s', a.user_id, a.balance,
                      COALESCE(l.total, 0))
          FROM genflow_accounts a
          LEFT JOIN (SELECT user_id, sum(amount) AS total FROM genflow_ledger GROUP BY user_id) l
            ON l.user_id = a.user_id
         WHERE a.balance <> COALESCE(l.total, 0);
    SELECT string_agg(format('SELECT user_id, count(*) AS n FROM %I'
                             ' WHERE queued_at IS NOT NULL AND status IN (''pending'', ''processing'')'
                             ' GROUP BY user_id', table_name), ' UNION ALL ' ORDER BY table_name)
      INTO counts FROM genflow_types;
    IF counts IS NOT NULL THEN
        RETURN QUERY EXECUTE format($sql$
            SELECT format('active of %%s is %%s, but %%s of its generations are queued or processing',
                          a.user_id, a.active, COALESCE(c.n, 0))
              FROM genflow_accounts a
              LEFT JOIN (SELECT user_id, sum(n) AS n FROM (%s) u GROUP BY user_id) c
                ON c.user_id = a.user_id
             WHERE a.active <> COALESCE(c.n, 0)$sql$, counts);
    END IF;
    FOR t IN SELECT type_name, table_name FROM genflow_types ORDER BY type_name LOOP
        -- One read of each row's ledger, and the rules of that row from
        -- it: its reservation and finalization, what the ledger took
        -- against credits_charged (a row with a reservation), a picture's
        -- cost per picture. Its rows by the two partial indexes (one
        -- reservation, one finalization: a BitmapOr); the kinds named are
        -- every kind a generation's rows have, and without them no index
        -- serves the read (a scan of the ledger per row).
        -- t/41 pins its plan.
        FOR v IN EXECUTE format($sql$
            SELECT m.msg
              FROM %2$I g
              CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE kind = 'reserve') AS r,
                                         count(*) FILTER (WHERE kind = 'charge') AS c,
                                         count(*) FILTER (WHERE kind = 'refund') AS f,
                                         sum(amount) AS took
                                    FROM genflow_ledger WHERE generation_id = g.id
                                     AND (kind = 'reserve' OR kind IN ('charge', 'refund'))) l
              CROSS JOIN LATERAL (VALUES
                (CASE WHEN l.r <> 1
                        OR (g.status = 'completed' AND (l.c <> 1 OR l.f <> 0))
                        OR (g.status IN ('failed', 'cancelled') AND (l.f <> 1 OR l.c <> 0))
                        OR (g.status IN ('pending', 'processing') AND l.c + l.f <> 0)
                      THEN format('%%s %%s (%%s): %%s reservation(s), %%s charge(s), %%s refund(s)',
                                  %1$L, g.id, g.status, l.r, l.c, l.f) END),
                (CASE WHEN l.r = 1 AND g.status IN ('completed', 'failed', 'cancelled')
                       AND -l.took <> g.credits_charged::bigint
                      THEN format('%%s %%s (%%s): the ledger took %%s, credits_charged says %%s',
                                  %1$L, g.id, g.status, -l.took, g.credits_charged) END),
                (CASE WHEN g.status = 'completed' AND jsonb_typeof(g.images) = 'array'
                       AND (jsonb_array_length(g.images) NOT BETWEEN 1 AND COALESCE((g.input->>'count')::int, 1)
                            OR g.credits_charged::bigint * COALESCE((g.input->>'count')::int, 1)
                               <> g.estimated_cost::bigint * jsonb_array_length(g.images))
                      THEN format('%%s %%s: %%s picture(s) of %%s delivered, %%s of %%s charged',
                                  %1$L, g.id, jsonb_array_length(g.images),
                                  COALESCE((g.input->>'count')::int, 1), g.credits_charged,
                                  g.estimated_cost) END)) m(msg)
             WHERE m.msg IS NOT NULL
            UNION ALL
            SELECT format('%%s %%s is %%s since %%s: held past its deadline', %1$L, g.id,
                          g.status, g.created_at)
              FROM %2$I g
             WHERE g.status IN ('pending', 'processing')
               AND CASE WHEN g.deadline_at IS NOT NULL THEN g.deadline_at
                        WHEN g.queued_at IS NOT NULL
                             THEN g.queued_at + make_interval(secs => g.deadline_secs)
                        ELSE g.created_at + make_interval(secs => $2) END
                   < now() - make_interval(secs => $1)
            $sql$, t.type_name, t.table_name) USING p_grace, p_pending_ttl LOOP
            RETURN NEXT v;
        END LOOP;
    END LOOP;
END
$fn$;
