CREATE TABLE bookings (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    declaration_id TEXT NOT NULL REFERENCES declarations (id),
    slot_id TEXT NOT NULL REFERENCES clearance_slots (id),
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'checked_in', 'completed', 'cancelled', 'no_show')),
    created_by TEXT NOT NULL REFERENCES users (id),
    cancel_reason TEXT,
    cancelled_by_role TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- one active booking per declaration, enforced by the database
CREATE UNIQUE INDEX bookings_one_active_per_declaration ON bookings (declaration_id)
    WHERE status IN ('confirmed', 'checked_in');
CREATE INDEX bookings_slot_enterprise ON bookings (slot_id, enterprise_id, status);
CREATE INDEX bookings_enterprise ON bookings (enterprise_id, id);

-- Idempotency-Key of booking creation, written in the booking's transaction
CREATE TABLE idempotency_keys (
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (enterprise_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
