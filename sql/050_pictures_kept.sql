-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=none on existing tables (a function replaced)
-- 050: a count asked one call after another keeps each call's pictures on
-- the open row (images) until it completes. Only a completed generation
-- delivered its pictures: the webhooks' status object lists none for a
-- generation that is still open, failed or cancelled, as the module's own
-- status object does (gf_sql.c, IMAGES_OF).
CREATE OR REPLACE FUNCTION genflow_images_of(r jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN r->>'status' IS DISTINCT FROM 'completed' THEN '[]'::jsonb
                WHEN jsonb_typeof(r->'images') = 'array' THEN r->'images'
                WHEN r->>'image_url' IS NOT NULL
                THEN jsonb_build_array(jsonb_build_object('url', r->>'image_url', 'width', NULL,
                                                          'height', NULL, 'seed', NULL))
                ELSE '[]'::jsonb END
$$;
