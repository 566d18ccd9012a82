-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: locks=none on existing tables (a function replaced)
-- 051: genflow_counts_row (sql/022) in PL/pgSQL. The status counts'
-- trigger asks it for every row that finishes. As an SQL function with
-- a subquery it cannot be inlined, and PostgreSQL parsed and planned its
-- body again in each transaction that called it: 5 % of PostgreSQL's CPU
-- in a drain of jobs that do nothing (perf, bench/cost). A PL/pgSQL
-- function keeps its plan for the session. Same arguments, same answer.
CREATE OR REPLACE FUNCTION genflow_counts_row(p_type text, p_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM genflow_count_progress p
                        WHERE p.gen_type = p_type AND (p.upto IS NULL OR p_id > p.upto));
END
$fn$;
