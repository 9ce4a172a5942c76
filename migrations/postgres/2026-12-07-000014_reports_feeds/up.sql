-- Calendar feed tokens (issue 18): a company admin creates a revocable token
-- for GET /enterprises/{id}/calendar.ics. The secret is shown once and stored
-- as its SHA-256; the feed finds the row by id (the token's first part) and
-- compares the hash in constant time. Revoking sets revoked_at: the feed
-- refuses it from the next request on.
CREATE TABLE calendar_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    label TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX calendar_tokens_enterprise ON calendar_tokens (enterprise_id, id);

-- Reports: review times read the decisions of a period from the audit trail
-- by state and time.
CREATE INDEX audit_events_decisions ON audit_events (entity_type, to_state, occurred_at);
-- Utilisation and the public board read a site's slots of a period.
CREATE INDEX clearance_slots_site_time ON clearance_slots (site_id, starts_at);
