-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: transaction=none
-- genflow-migrate: each-type-table
-- genflow-migrate: locks=ACCESS EXCLUSIVE on each type table for a moment per statement (a check added NOT VALID, the old one dropped), then SHARE UPDATE EXCLUSIVE while the new one is validated (its reads and writes go on)
-- 049: a row is charged 0 up to its cost (the pictures it delivered,
-- 047), not all of it or none: each type table's check swapped without
-- stopping its reads and writes (the new one dropped first if a stopped
-- run left it, added without reading the table, validated, then the old
-- one dropped). Each statement on its own and idempotent.
ALTER TABLE genflow_type_table DROP CONSTRAINT IF EXISTS genflow_charged_within;
ALTER TABLE genflow_type_table ADD CONSTRAINT genflow_charged_within
    CHECK (credits_charged BETWEEN 0 AND estimated_cost) NOT VALID;
ALTER TABLE genflow_type_table VALIDATE CONSTRAINT genflow_charged_within;
SELECT genflow_charge_check_drop('genflow_type_table');
