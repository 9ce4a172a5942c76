CREATE TABLE enterprises (
    id TEXT PRIMARY KEY NOT NULL,
    legal_name TEXT NOT NULL,
    country TEXT NOT NULL CHECK (length(country) = 2),
    registration_code TEXT NOT NULL UNIQUE,
    customs_code TEXT UNIQUE,
    credit_class TEXT NOT NULL DEFAULT 'general'
        CHECK (credit_class IN ('advanced_certified', 'general', 'discredited')),
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'verified', 'suspended')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX enterprises_status_created ON enterprises (status, created_at, id);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT REFERENCES enterprises (id),
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL
        CHECK (role IN ('company_admin', 'company_clerk', 'officer', 'supervisor')),
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- company users belong to exactly one enterprise; customs users to none
    CHECK ((role IN ('company_admin', 'company_clerk')) = (enterprise_id IS NOT NULL))
);
CREATE INDEX users_enterprise ON users (enterprise_id);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_id TEXT,
    actor_role TEXT,
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    reason TEXT,
    request_id TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    -- one chain per entity: two writers cannot both append link N
    UNIQUE (entity_type, entity_id, seq)
);
CREATE INDEX audit_events_time ON audit_events (occurred_at, id);
