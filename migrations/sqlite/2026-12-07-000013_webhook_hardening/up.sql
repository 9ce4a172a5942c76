-- Webhook hardening (issue 17).

-- Fan-out happens in the delivery worker: the business transaction writes
-- the event only; the worker expands it to one delivery per subscribed
-- endpoint and marks it. Events written before this migration already
-- have their deliveries.
ALTER TABLE outbox_events ADD COLUMN fanned_out BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE outbox_events SET fanned_out = TRUE;
CREATE INDEX outbox_events_fan_out ON outbox_events (fanned_out, occurred_at);

-- Redeliver rate limit per endpoint: a window start and the count in it,
-- both changed only by guarded UPDATEs.
ALTER TABLE webhooks ADD COLUMN redeliver_window_start TIMESTAMP;
ALTER TABLE webhooks ADD COLUMN redeliver_count INTEGER NOT NULL DEFAULT 0;

-- Active endpoints per enterprise, kept by guarded UPDATEs so that the cap
-- (webhooks.max_per_enterprise) holds under concurrent registrations.
ALTER TABLE enterprises ADD COLUMN webhook_count INTEGER NOT NULL DEFAULT 0 CHECK (webhook_count >= 0);
UPDATE enterprises SET webhook_count =
    (SELECT count(*) FROM webhooks w WHERE w.enterprise_id = enterprises.id AND w.active);

-- Retention: pruning finds old events by time.
CREATE INDEX outbox_events_time ON outbox_events (occurred_at, id);

-- The head of every audit chain, written in the transaction of each event:
-- a deleted or rewritten tail no longer matches it.
CREATE TABLE audit_heads (
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
);
INSERT INTO audit_heads (entity_type, entity_id, last_seq, last_hash)
SELECT e.entity_type, e.entity_id, e.seq, e.hash FROM audit_events e
WHERE e.seq = (SELECT max(m.seq) FROM audit_events m
               WHERE m.entity_type = e.entity_type AND m.entity_id = e.entity_id);
