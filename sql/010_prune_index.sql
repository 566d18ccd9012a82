-- SPDX-License-Identifier: Apache-2.0
-- 010: an index for the prune sweep.
--
-- Workers delete failed and cancelled generations older than the
-- retention (GenFlowRetention) in batches, every sweep of every child. The
-- type tables had no index on finished_at, so each sweep read the whole
-- table: about 126 ms at 226,000 rows, every 2 s per child. A partial
-- index over exactly the rows the sweep may delete makes it a short index
-- range scan that finds nothing most of the time.

CREATE FUNCTION genflow_add_prune_index(p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format($ddl$CREATE INDEX IF NOT EXISTS %I ON %I (finished_at)
                        WHERE status IN ('failed', 'cancelled')$ddl$,
                   p_table || '_prunable', p_table);
END
$fn$;

SELECT genflow_add_prune_index(table_name) FROM genflow_types;

ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_009;

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM genflow_create_type_table_009(p_type, p_table);
    PERFORM genflow_add_prune_index(p_table);
END
$fn$;
