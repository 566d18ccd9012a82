-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=ACCESS EXCLUSIVE on genflow_turns and on each type table for a moment each (columns added without a default to rewrite or a row to read)
-- 040: premium lines (GenFlowLine): a user whose request a site's
-- expression puts in a line of weight w takes w turns of a provider's
-- line for one of a standard user's, still in turn with the other users
-- of that line.
--
--  * genflow_turns.taken: how many of the user's generations have the
--    user's last turn (last_turn). A user of weight w keeps that turn for
--    the next generation while fewer than w have it and the line has not
--    passed it (its head is not beyond it); otherwise the next turn, as
--    before (weight 1: always the next, as 0.2.0 gives them). The column
--    comes with a constant default, which PostgreSQL keeps in the catalog
--    (no rewrite); 1 is what every existing entry means: one generation
--    had its turn. A 0.2.0 node queuing meanwhile advances last_turn
--    without touching taken: that user's next premium generation then
--    shares the new turn with fewer than w, once.
--  * <table>.line: the line a queued generation was queued in (NULL:
--    standard, or queued by a 0.2.0 node), so that a worker counts its
--    start under its line (genflow_line_starts_total). No default, no
--    index: no rewrite, and nothing looks a row up by it.
ALTER TABLE genflow_turns ADD COLUMN IF NOT EXISTS taken bigint NOT NULL DEFAULT 1;

-- A row queued without a turn (by a 0.2.0 node, or before sql/022) takes
-- the next turn as one generation of weight 1.
CREATE OR REPLACE FUNCTION genflow_take_turn(p_type text, p_provider text, p_user text) RETURNS bigint
LANGUAGE sql AS $fn$
    INSERT INTO genflow_turns (gen_type, provider, user_id, last_turn)
    SELECT p_type, p_provider, p_user,
           COALESCE((SELECT t.last_turn FROM genflow_turns t
                      WHERE t.gen_type = p_type AND t.provider = p_provider
                      ORDER BY t.last_turn DESC LIMIT 1), 0)
    ON CONFLICT (gen_type, provider, user_id) DO UPDATE
        SET last_turn = greatest(genflow_turns.last_turn + 1, EXCLUDED.last_turn), taken = 1,
            updated_at = now()
    RETURNING last_turn
$fn$;

CREATE FUNCTION genflow_add_line_name(p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS line text', p_table);
END
$fn$;

SELECT genflow_add_line_name(table_name) FROM genflow_types;

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
END
$fn$;
