-- SPDX-License-Identifier: Apache-2.0
-- 021: webhooks to the site's backend (a create's webhook and webhookEvents).
--
-- The outbox: one row per event of a generation that asked for it, written
-- by a trigger in the same transaction as the status change that is the
-- event, so an event is never lost to a child killed before its delivery
-- and never invented by a change that rolled back. The engine drains it
-- (httpd/mod_genflow_engine_webhooks.c): never inside a job's transaction,
-- never holding a job's worker. webhook_id is stable ("msg_<generation>_
-- <event>"): every delivery of one event carries the same id, so the
-- receiver can drop duplicates (delivery is at least once).

CREATE TABLE genflow_webhook_outbox (
    id              bigserial PRIMARY KEY,
    webhook_id      text NOT NULL UNIQUE,
    generation_id   uuid NOT NULL,
    gen_type        text NOT NULL,
    user_id         text NOT NULL,
    event           text NOT NULL CHECK (event IN ('started', 'completed', 'failed', 'cancelled')),
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    retry_from      timestamptz NOT NULL DEFAULT now(),  -- the retry period runs from here
    delivered_at    timestamptz
);
CREATE INDEX genflow_webhook_outbox_due ON genflow_webhook_outbox (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX genflow_webhook_outbox_failed ON genflow_webhook_outbox (created_at)
    WHERE state = 'failed';

-- The event of a status change, if the generation asked for it: started
-- (pending → processing, once), completed, failed, cancelled. The payload
-- is {type: "generation.<event>", timestamp, data: the status object}.
CREATE FUNCTION genflow_webhook_enqueue() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_event text := CASE
        WHEN NEW.status = 'processing' AND OLD.status = 'pending' THEN 'started'
        WHEN NEW.status IN ('completed', 'failed', 'cancelled') THEN NEW.status END;
BEGIN
    IF v_event IS NULL OR NOT coalesce(NEW.input->'webhookEvents' ? v_event, false) THEN
        RETURN NULL;
    END IF;
    INSERT INTO genflow_webhook_outbox (webhook_id, generation_id, gen_type, user_id, event, url,
                                        payload)
    VALUES ('msg_' || replace(NEW.id::text, '-', '') || '_' || v_event, NEW.id, TG_ARGV[0],
            NEW.user_id, v_event, NEW.input->>'webhook',
            jsonb_build_object('type', 'generation.' || v_event,
                               'timestamp', genflow_rfc3339(now()),
                               'data', genflow_status_object(TG_ARGV[0], to_jsonb(NEW))))
    ON CONFLICT (webhook_id) DO NOTHING;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION genflow_add_webhook_trigger(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS genflow_webhook ON %I', p_table);
    EXECUTE format($ddl$CREATE TRIGGER genflow_webhook AFTER UPDATE OF status ON %I
        FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status AND NEW.input ? 'webhook')
        EXECUTE FUNCTION genflow_webhook_enqueue(%L)$ddl$, p_table, p_type);
END
$fn$;

SELECT genflow_add_webhook_trigger(type_name, table_name) FROM genflow_types;

ALTER FUNCTION genflow_create_type_table(text, text) RENAME TO genflow_create_type_table_017;

CREATE FUNCTION genflow_create_type_table(p_type text, p_table text) RETURNS void
LANGUAGE plpgsql SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM genflow_create_type_table_017(p_type, p_table);
    PERFORM genflow_add_webhook_trigger(p_type, p_table);
END
$fn$;
