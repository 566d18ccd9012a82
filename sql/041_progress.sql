-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=ACCESS EXCLUSIVE on each type table for a moment (columns added without a default to rewrite or a row to read)
-- 041: progress while a picture is made. A processing generation's status
-- carries progress (0..1) and estimatedFinishAt.
--
--  * <table>.progress: the fraction its provider last reported for the
--    current provider job (a diffusion model's progress bar, read from
--    Replicate's or fal's logs), NULL when none was reported. Written by
--    the worker that polls the job, at most once a second and only when
--    it grew; that statement notifies genflow_progress (not
--    genflow_change: a kept poll is not woken by its own report).
--  * <table>.progress_at: when progress was written.
--  * <table>.job_started_at: when the current provider job began (the
--    claim of the attempt that submits it). A report of p at progress_at
--    puts the end at job_started_at + (progress_at - job_started_at) / p;
--    without a report the module estimates from the provider's recent
--    job times on this node.
-- No default, no index: no rewrite, nothing looks a row up by them. Rows
-- of nodes that do not write them (0.2.0) have NULL: no progress shown.
CREATE FUNCTION genflow_add_progress(p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS progress real,'
                   ' ADD COLUMN IF NOT EXISTS progress_at timestamptz,'
                   ' ADD COLUMN IF NOT EXISTS job_started_at timestamptz', p_table);
END
$fn$;

SELECT genflow_add_progress(table_name) FROM genflow_types;

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
END
$fn$;
