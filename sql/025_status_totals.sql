-- SPDX-License-Identifier: Apache-2.0
-- 025: the totals of finished generations in a table of their own.
--
-- sql/024 kept the folded totals as the shard 0 rows of
-- genflow_status_counts, beside the deltas the triggers insert. A load of
-- a million finished rows (a legacy import, a restored history) made a
-- million deltas; folded, they left 8,000 empty pages in front of the
-- totals, which VACUUM cannot give back (it only cuts empty pages at the
-- end of a table), and every metrics scrape read them all: 23 ms instead
-- of 0.1. The totals now live in genflow_status_totals, a row per type and
-- status that only the fold and the recount write; genflow_status_counts
-- holds deltas alone, so once a fold has taken them VACUUM (autovacuum,
-- within a minute or so) cuts the table back to its few live pages. The
-- count of a type's status is its total plus its deltas, folded or not.

CREATE TABLE genflow_status_totals (
    gen_type  text NOT NULL,
    status    text NOT NULL CHECK (status IN ('completed', 'failed', 'cancelled')),
    n         bigint NOT NULL,
    PRIMARY KEY (gen_type, status)
);

INSERT INTO genflow_status_totals (gen_type, status, n)
SELECT gen_type, status, sum(n) FROM genflow_status_counts GROUP BY gen_type, status;
DELETE FROM genflow_status_counts;

-- Fold up to p_limit deltas into the totals; how many were folded. Nodes
-- may fold at once: a delta is deleted by one statement only (the other
-- waits for its lock and finds it gone), and the totals' upsert adds to
-- the newest version of each total.
CREATE OR REPLACE FUNCTION genflow_fold_status_counts(p_limit integer) RETURNS integer
LANGUAGE sql AS $fn$
    WITH d AS (DELETE FROM genflow_status_counts c
                WHERE (c.gen_type, c.status, c.shard) IN
                      (SELECT o.gen_type, o.status, o.shard FROM genflow_status_counts o LIMIT p_limit)
            RETURNING c.gen_type, c.status, c.n),
         s AS (SELECT gen_type, status, sum(n) AS n, count(*) AS k FROM d GROUP BY gen_type, status),
         f AS (INSERT INTO genflow_status_totals (gen_type, status, n)
               SELECT gen_type, status, n FROM s
               ON CONFLICT (gen_type, status) DO UPDATE
                   SET n = genflow_status_totals.n + EXCLUDED.n)
    SELECT COALESCE(sum(k), 0)::int FROM s
$fn$;

CREATE OR REPLACE FUNCTION genflow_count_truncated() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM genflow_status_counts WHERE gen_type = TG_ARGV[0];
    DELETE FROM genflow_status_totals WHERE gen_type = TG_ARGV[0];
    RETURN NULL;
END
$fn$;

-- A type table made (or made again) is counted afresh: genflow_add_scale
-- replaces the type's deltas with one recount delta (sql/022), so its
-- total starts from nothing.
CREATE OR REPLACE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM genflow_create_type_table_021(p_type, p_table);
    PERFORM genflow_add_scale(p_type, p_table);
    DELETE FROM genflow_status_totals WHERE gen_type = p_type;
END
$fn$;
