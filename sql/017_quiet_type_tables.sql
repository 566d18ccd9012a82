-- SPDX-License-Identifier: Apache-2.0
-- 017: genflow_create_type_table prints no NOTICE.
--
-- The function drops its triggers with DROP TRIGGER IF EXISTS before it
-- creates them, so that it may be run again on a table that has them;
-- on a new table each of those printed "trigger ... does not exist,
-- skipping". A function's own client_min_messages applies while it runs
-- and is restored after: warnings and errors still show.

ALTER FUNCTION genflow_create_type_table(text, text) SET client_min_messages = warning;
