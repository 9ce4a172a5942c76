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

ALTER TABLE enterprises DROP CONSTRAINT enterprises_status_check;
ALTER TABLE enterprises ADD CONSTRAINT enterprises_status_check
    CHECK (status IN ('pending', 'verified', 'suspended', 'rejected'));
