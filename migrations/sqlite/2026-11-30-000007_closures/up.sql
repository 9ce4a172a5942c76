-- Closures: customs close or reduce a site's slots over a time range (a
-- scanner breaks, a holiday, a storm). They also bind slots generated later.
CREATE TABLE closures (
    id TEXT PRIMARY KEY NOT NULL,
    site_id TEXT NOT NULL REFERENCES sites (id),
    -- NULL: every mode of the site
    mode TEXT,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    -- NULL: the slots are closed; else their capacity is lowered to this
    capacity INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    reason TEXT NOT NULL,
    rebook TEXT NOT NULL CHECK (rebook IN ('next_available', 'cancel')),
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    -- set when the closure is lifted (DELETE /closures/{id})
    lifted_at TIMESTAMP,
    lifted_by TEXT REFERENCES users (id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX closures_site_time ON closures (site_id, starts_at);

-- What each slot was before a closure bound it, so that lifting the
-- closure gives it back.
CREATE TABLE closure_slots (
    closure_id TEXT NOT NULL REFERENCES closures (id),
    slot_id TEXT NOT NULL REFERENCES clearance_slots (id) ON DELETE CASCADE,
    previous_capacity INTEGER NOT NULL,
    previous_status TEXT NOT NULL,
    PRIMARY KEY (closure_id, slot_id)
);
CREATE INDEX closure_slots_slot ON closure_slots (slot_id);
