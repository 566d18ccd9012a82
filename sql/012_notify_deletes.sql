-- SPDX-License-Identifier: Apache-2.0
-- 012: deletions are announced.
--
-- Each httpd child keeps the status answers of finished generations
-- (GenFlowStatusCache): a finished row never changes again, so reading it
-- once is enough, but it can still be deleted (the retention sweep, the
-- admin DELETE, a manual DELETE). A statement that deleted rows of a type
-- table now notifies genflow_change with the payload '*' once, after the
-- statement, so every listener forgets its cached answers (and waiters look
-- again). One notification per statement, not per row: an admin DELETE of
-- a million rows sends one; a sweep that deleted nothing sends none. A
-- TRUNCATE notifies the same way.

CREATE FUNCTION genflow_notify_deleted() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM gone) THEN
        PERFORM pg_notify('genflow_change', '*');
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION genflow_notify_truncated() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_notify('genflow_change', '*');
    RETURN NULL;
END
$fn$;

CREATE FUNCTION genflow_add_delete_notify(p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_notify_delete ON %I', p_table);
    EXECUTE format($ddl$CREATE TRIGGER genflow_notify_delete AFTER DELETE ON %I
                        REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
                        EXECUTE FUNCTION genflow_notify_deleted()$ddl$, p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_notify_truncate ON %I', p_table);
    EXECUTE format($ddl$CREATE TRIGGER genflow_notify_truncate AFTER TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION genflow_notify_truncated()$ddl$,
                   p_table);
END
$fn$;

SELECT genflow_add_delete_notify(table_name) FROM genflow_types;

ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_010;

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM genflow_create_type_table_010(p_type, p_table);
    PERFORM genflow_add_delete_notify(p_table);
END
$fn$;
