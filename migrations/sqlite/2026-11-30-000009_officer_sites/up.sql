-- An officer may be limited to some clearance sites: one row per site they
-- may see. No rows: every site (supervisors never have rows). Read once per
-- request by the primary key's leading column (user_id).
CREATE TABLE officer_sites (
    user_id TEXT NOT NULL REFERENCES users (id),
    site_id TEXT NOT NULL REFERENCES sites (id),
    PRIMARY KEY (user_id, site_id)
);
