-- SPDX-License-Identifier: Apache-2.0
-- 020: what provider calls cost (GenFlowProvider cost=, cost_per_unit=).
--
-- One row per attempt whose call reported a usage (AIML's credits,
-- Replicate's predict seconds) or delivered a picture from a provider
-- that has a price: the usage as the provider said it, and its cost in the
-- site's money unit. Written by the worker right after the call, apart
-- from the attempt's outcome; a row per (generation, attempt, provider), so
-- a statement run again after a lost answer writes nothing twice. The
-- admin API sums it per generation (providerCost).

CREATE TABLE genflow_provider_costs (
    generation_id uuid NOT NULL,
    gen_type      text NOT NULL,
    attempt       integer NOT NULL CHECK (attempt > 0),
    provider      text NOT NULL,
    usage         numeric CHECK (usage >= 0),
    usage_unit    text CHECK (usage_unit IN ('credits', 'seconds')),
    cost          numeric NOT NULL CHECK (cost >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (generation_id, attempt, provider)
);
CREATE INDEX genflow_provider_costs_created ON genflow_provider_costs (created_at);
