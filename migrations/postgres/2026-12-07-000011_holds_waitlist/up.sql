-- Holds and waitlists (issue 16). A hold takes a place of a slot for a
-- short time: slots count those places in `held`, beside `booked`, and the
-- database refuses `booked + held > capacity` whatever the code does.
ALTER TABLE clearance_slots ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clearance_slots ADD CONSTRAINT clearance_slots_held_check CHECK (held >= 0 AND booked + held <= capacity);
-- The live holds an enterprise took itself (offers from the waitlist are
-- not counted), changed only by guarded UPDATEs (`… WHERE live_holds < max`).
ALTER TABLE enterprises ADD COLUMN live_holds INTEGER NOT NULL DEFAULT 0 CHECK (live_holds >= 0);

CREATE TABLE waitlist_entries (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    declaration_id TEXT NOT NULL REFERENCES declarations (id),
    site_id TEXT NOT NULL REFERENCES sites (id),
    mode TEXT NOT NULL CHECK (mode IN ('road', 'rail', 'air')),
    window_from TIMESTAMP NOT NULL,
    window_to TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'fulfilled', 'lapsed', 'closed', 'withdrawn')),
    hold_id TEXT,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (window_to > window_from)
);
-- The queue of one site and mode, in arrival order.
CREATE INDEX waitlist_entries_queue ON waitlist_entries (site_id, mode, status, created_at);
CREATE INDEX waitlist_entries_enterprise ON waitlist_entries (enterprise_id, created_at);
CREATE INDEX waitlist_entries_declaration ON waitlist_entries (declaration_id);
-- One live entry per declaration.
CREATE UNIQUE INDEX waitlist_entries_live_declaration ON waitlist_entries (declaration_id)
    WHERE status = 'waiting' OR status = 'offered';

CREATE TABLE holds (
    id TEXT PRIMARY KEY NOT NULL,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    slot_id TEXT NOT NULL REFERENCES clearance_slots (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'converted', 'released', 'expired')),
    -- The waitlist entry this hold was offered to (not counted in live_holds).
    entry_id TEXT REFERENCES waitlist_entries (id),
    booking_id TEXT,
    created_by TEXT,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX holds_enterprise ON holds (enterprise_id, created_at);
-- Live holds by slot and by expiry (the sweep, and a booking attempt that frees a slot's expired holds).
CREATE INDEX holds_active_slot ON holds (slot_id, expires_at) WHERE status = 'active';
CREATE INDEX holds_active_expiry ON holds (expires_at) WHERE status = 'active';
