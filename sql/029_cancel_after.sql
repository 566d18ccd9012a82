-- SPDX-License-Identifier: Apache-2.0
-- 029: a deadline of the request's own (Cancel-After, cancelAfter).
--
-- cancel_at is when the client stops wanting the generation, counted from
-- the create, generate or retry that asked for it. A claim bounds the
-- started generation's deadline_at by it, so the engine's deadline rules
-- (retries cut short, polls that stop, the provider's job cancelled) end
-- it in time; they say CANCEL_AFTER instead of TIMEOUT when cancel_at was
-- the nearer of the two. A generation still waiting for its first attempt
-- at cancel_at is cancelled by the sweep with ABORTED: no provider was
-- called, nothing is charged. <table>_cancel_at holds only the open rows
-- that asked, so the sweep's search is an index range scan however long
-- the table; sql/037 builds it CONCURRENTLY (the column comes without a
-- default: no rewrite).
CREATE FUNCTION genflow_add_cancel_at(p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS cancel_at timestamptz', p_table);
END
$fn$;

SELECT genflow_add_cancel_at(table_name) FROM genflow_types;

CREATE OR REPLACE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM genflow_create_type_table_021(p_type, p_table);
    PERFORM genflow_add_scale(p_type, p_table);
    DELETE FROM genflow_status_totals WHERE gen_type = p_type;
    PERFORM genflow_tune_type_table(p_table);
    PERFORM genflow_add_cancel_at(p_table);
END
$fn$;
