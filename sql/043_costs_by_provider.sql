-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: transaction=none
-- genflow-migrate: locks=SHARE UPDATE EXCLUSIVE on genflow_provider_costs while the index builds (its reads and writes go on)
-- 043: the calls' costs by provider and time, for a budget period's first
-- row of genflow_provider_spend (sql/042): what the period cost before it,
-- one range of this index. Built without stopping the cost records.
CREATE INDEX CONCURRENTLY IF NOT EXISTS genflow_provider_costs_provider
    ON genflow_provider_costs (provider, created_at);
