CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    url TEXT NOT NULL,
    -- comma-separated event types
    events TEXT NOT NULL,
    -- HMAC key; shown to the admin once, kept to sign deliveries
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhooks_enterprise ON webhooks (enterprise_id, active);

-- Events, written in the transaction of the change they describe.
CREATE TABLE outbox_events (
    id TEXT PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    -- the exact JSON body delivered: {"id","type","occurred_at","data"}
    payload TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_events_enterprise ON outbox_events (enterprise_id, id);

-- One delivery per event and subscribed endpoint, also written in that transaction.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES outbox_events (id),
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- a worker holds a delivery until leased_until; another may take it after
    lease_owner TEXT,
    leased_until TIMESTAMP,
    last_status_code INTEGER,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

-- The delivery log: every attempt.
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at TIMESTAMP NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempted_at);
