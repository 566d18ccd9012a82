-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: transaction=none
-- genflow-migrate: locks=ACCESS EXCLUSIVE on genflow_provider_costs for a moment per statement (its check swapped NOT VALID), then SHARE UPDATE EXCLUSIVE while the new one is validated (its reads and writes go on)
-- 046: a call's usage may be counted in tokens (OpenAI's Images API and
-- the Gemini API report the tokens a picture used; cost_per_unit= prices
-- one). The unit's check takes 'tokens' beside 'credits' and 'seconds'.
-- Each statement on its own and idempotent: the new check is dropped
-- first if a stopped run left it, added without reading the table, then
-- validated without stopping the cost records.
ALTER TABLE genflow_provider_costs DROP CONSTRAINT IF EXISTS genflow_provider_costs_usage_unit;
ALTER TABLE genflow_provider_costs ADD CONSTRAINT genflow_provider_costs_usage_unit
    CHECK (usage_unit IN ('credits', 'seconds', 'tokens')) NOT VALID;
ALTER TABLE genflow_provider_costs DROP CONSTRAINT IF EXISTS genflow_provider_costs_usage_unit_check;
ALTER TABLE genflow_provider_costs VALIDATE CONSTRAINT genflow_provider_costs_usage_unit;
