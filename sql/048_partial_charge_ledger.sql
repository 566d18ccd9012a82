-- SPDX-License-Identifier: Apache-2.0
-- genflow-migrate: phase=expand
-- genflow-migrate: transaction=none
-- genflow-migrate: locks=ACCESS EXCLUSIVE on genflow_ledger for a moment per statement (a check added NOT VALID, the old one dropped), then SHARE UPDATE EXCLUSIVE while the new one is validated (its reads and writes go on)
-- 048: a charge may give back what undelivered pictures reserved (047):
-- the ledger's check "a charge moves nothing" becomes "a charge gives
-- back 0 or more"; the finalization trigger (047) bounds it by the
-- reservation. Each statement on its own and idempotent.
ALTER TABLE genflow_ledger DROP CONSTRAINT IF EXISTS genflow_ledger_charge_gives_back;
ALTER TABLE genflow_ledger ADD CONSTRAINT genflow_ledger_charge_gives_back
    CHECK (kind <> 'charge' OR amount >= 0) NOT VALID;
ALTER TABLE genflow_ledger VALIDATE CONSTRAINT genflow_ledger_charge_gives_back;
SELECT genflow_ledger_charge_check_drop();
