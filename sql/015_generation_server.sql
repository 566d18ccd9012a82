-- SPDX-License-Identifier: Apache-2.0
-- 015: each generation records the server (virtual host) that created it.
--
-- A site can mount types in several <VirtualHost>s, each with its own
-- providers, storage, lease and database. The workers of every child work
-- generations of all of them, so a generation says whose settings apply:
-- server_name is the "host:port" of the server whose request created it
-- (docs/architecture.md, "Virtual hosts"). NULL (rows created before this
-- migration) means the server the claiming engine serves first.

CREATE FUNCTION genflow_add_server_name(p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS server_name text', p_table);
END
$fn$;

SELECT genflow_add_server_name(table_name) FROM genflow_types;

ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_013;

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM genflow_create_type_table_013(p_type, p_table);
    PERFORM genflow_add_server_name(p_table);
END
$fn$;
