-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=contract
-- genflow-migrate: transaction=none
-- genflow-migrate: each-type-table
-- genflow-migrate: locks=SHARE UPDATE EXCLUSIVE on each type table while each old index is dropped (its reads and writes go on)
-- 039: each type table's queue indexes of 0.1.0, which only its module
-- read (sql/036's replace them), dropped once every node runs 0.2.0.
DROP INDEX CONCURRENTLY IF EXISTS genflow_type_table_due_new;
DROP INDEX CONCURRENTLY IF EXISTS genflow_type_table_due_poll;
DROP INDEX CONCURRENTLY IF EXISTS genflow_type_table_active;
