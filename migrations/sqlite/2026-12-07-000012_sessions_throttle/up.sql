-- Sessions: one per sign-in (the refresh-token family). Access tokens name
-- their session (`sid`); a revoked session refuses them at once.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    -- absolute end: refresh tokens of this session stop working then
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_user ON sessions (user_id);
-- the sign-ins that exist become sessions (their families)
INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at)
SELECT family_id, MIN(user_id), MIN(issued_at), MAX(expires_at), MAX(revoked_at)
FROM refresh_tokens GROUP BY family_id;

-- Login and registration throttle (GCRA): per hashed key, the theoretical
-- arrival time in microseconds since the epoch. Shared by every instance.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    tat_us BIGINT NOT NULL
);
CREATE INDEX login_throttle_tat ON login_throttle (tat_us);

-- Enterprises may be `rejected` (POST /enterprises/{id}/reject). SQLite cannot
-- alter a CHECK: the documented writable_schema edit widens it in place (the
-- table keeps its rows, columns added later and references), then RESET makes
-- this connection re-read the schema.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'CHECK (status IN (''pending'', ''verified'', ''suspended''))',
                       'CHECK (status IN (''pending'', ''verified'', ''suspended'', ''rejected''))')
WHERE type = 'table' AND name = 'enterprises';
PRAGMA writable_schema = RESET;
-- a schema change, so that every other open connection re-reads the schema
CREATE TABLE schema_bump_000012 (x INTEGER);
DROP TABLE schema_bump_000012;
