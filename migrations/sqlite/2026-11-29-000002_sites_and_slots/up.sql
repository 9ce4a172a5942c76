CREATE TABLE sites (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    -- comma-separated transport modes served: road, rail, air
    modes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE schedules (
    id TEXT PRIMARY KEY NOT NULL,
    site_id TEXT NOT NULL REFERENCES sites (id),
    mode TEXT NOT NULL CHECK (mode IN ('road', 'rail', 'air')),
    slot_minutes INTEGER NOT NULL CHECK (slot_minutes >= 5 AND slot_minutes <= 1440),
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    -- bit set, Monday = 1, Sunday = 64
    days_of_week INTEGER NOT NULL CHECK (days_of_week > 0 AND days_of_week < 128),
    valid_from DATE NOT NULL,
    valid_to DATE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX schedules_site_mode ON schedules (site_id, mode);

CREATE TABLE clearance_slots (
    id TEXT PRIMARY KEY NOT NULL,
    site_id TEXT NOT NULL REFERENCES sites (id),
    mode TEXT NOT NULL CHECK (mode IN ('road', 'rail', 'air')),
    schedule_id TEXT REFERENCES schedules (id),
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    booked INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- the database itself refuses overbooking, whatever the code does
    CHECK (booked >= 0 AND booked <= capacity),
    CHECK (ends_at > starts_at),
    -- generation is idempotent: one slot per site, mode and start
    UNIQUE (site_id, mode, starts_at)
);
CREATE INDEX clearance_slots_schedule ON clearance_slots (schedule_id, starts_at);
