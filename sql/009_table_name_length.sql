-- SPDX-License-Identifier: Apache-2.0
-- 009: type table names of at most 50 characters.
--
-- A type table's indexes are named after it ("<table>_user_history",
-- "_active", "_provider_job", "_due") and PostgreSQL cuts every name at 63
-- bytes. With a table name longer than 50 characters the cut names
-- collided with the table itself or with each other, and CREATE INDEX IF
-- NOT EXISTS then skipped them with a NOTICE: the table had no indexes.
-- The module refuses such a name at startup (GenFlowType); this makes the
-- SQL function refuse it too, before anything is created.

ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_007;

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF p_table IS NOT NULL AND length(p_table) > 50 THEN
        RAISE EXCEPTION 'table name % is longer than 50 characters: PostgreSQL cuts the names '
                        'of its indexes at 63', p_table;
    END IF;
    PERFORM genflow_create_type_table_007(p_type, p_table);
END
$fn$;
