-- SPDX-License-Identifier: Apache-2.0
-- 001: accounts and the append-only credit ledger (docs/operations.md).
--
-- Invariants the database itself enforces:
--   * a balance is never negative (CHECK);
--   * one reservation per generation, and at most one finalization
--     (charge or refund) per generation (partial unique indexes);
--   * a finalization needs the generation's reservation, and a refund
--     returns exactly what was reserved (trigger);
--   * ledger rows are never updated or deleted (trigger).
-- Per user, at any time: balance = sum(ledger.amount)
--   = grants - reservations + refunds   (charges carry amount 0).

CREATE TABLE genflow_accounts (
    user_id      text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 255),
    balance      bigint NOT NULL CHECK (balance >= 0),
    daily_limit  integer CHECK (daily_limit >= 0),   -- NULL: the configured GenFlowDailyLimit
    daily_used   integer NOT NULL DEFAULT 0 CHECK (daily_used >= 0),
    daily_date   date,                               -- the UTC day daily_used counts
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE genflow_ledger (
    id             bigserial PRIMARY KEY,
    user_id        text NOT NULL REFERENCES genflow_accounts (user_id),
    kind           text NOT NULL CHECK (kind IN ('grant', 'reserve', 'charge', 'refund')),
    amount         bigint NOT NULL,
    gen_type       text,
    generation_id  uuid,
    reason         text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'grant') = (generation_id IS NULL)),
    CHECK ((kind = 'grant') = (gen_type IS NULL)),
    CHECK (kind <> 'reserve' OR amount <= 0),
    CHECK (kind <> 'charge'  OR amount = 0),
    CHECK (kind <> 'refund'  OR amount >= 0)
);

CREATE UNIQUE INDEX genflow_ledger_one_reservation
    ON genflow_ledger (generation_id) WHERE kind = 'reserve';
CREATE UNIQUE INDEX genflow_ledger_one_finalization
    ON genflow_ledger (generation_id) WHERE kind IN ('charge', 'refund');
CREATE INDEX genflow_ledger_user_time ON genflow_ledger (user_id, created_at);

CREATE FUNCTION genflow_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'genflow_ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER genflow_ledger_no_update BEFORE UPDATE OR DELETE ON genflow_ledger
    FOR EACH ROW EXECUTE FUNCTION genflow_ledger_append_only();
CREATE TRIGGER genflow_ledger_no_truncate BEFORE TRUNCATE ON genflow_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION genflow_ledger_append_only();

-- A charge or refund must follow the generation's reservation, and a
-- refund gives back exactly the reserved amount.
CREATE FUNCTION genflow_ledger_check_finalization() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    reserved bigint;
BEGIN
    IF NEW.kind IN ('charge', 'refund') THEN
        SELECT amount INTO reserved FROM genflow_ledger
         WHERE generation_id = NEW.generation_id AND kind = 'reserve';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'generation % has no reservation to finalize', NEW.generation_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF NEW.kind = 'refund' AND NEW.amount <> -reserved THEN
            RAISE EXCEPTION 'refund of % for generation % does not match its reservation of %',
                NEW.amount, NEW.generation_id, -reserved
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER genflow_ledger_finalization BEFORE INSERT ON genflow_ledger
    FOR EACH ROW EXECUTE FUNCTION genflow_ledger_check_finalization();
