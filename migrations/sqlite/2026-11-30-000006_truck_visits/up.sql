-- A booking is one vehicle's visit to the gate: the declarations it
-- carries, its vehicle, driver and containers, and a version that the
-- ETag and the gate pass name.

-- The declarations of a visit. `active` is true while the declaration is
-- on the visit and the booking holds a place: one such row per
-- declaration, enforced by the database (this replaces the one-active-
-- booking index on bookings.declaration_id).
CREATE TABLE booking_declarations (
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    declaration_id TEXT NOT NULL REFERENCES declarations (id),
    position INTEGER NOT NULL,
    active BOOLEAN NOT NULL,
    left_at TIMESTAMP,
    PRIMARY KEY (booking_id, declaration_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX booking_declarations_one_active ON booking_declarations (declaration_id) WHERE active;
-- No other index: a booking's declarations are found by the primary key,
-- the bookings of a declaration by the booking and the primary key (every
-- index is one more page written by each booking).

-- Every existing booking carried one declaration.
INSERT INTO booking_declarations (booking_id, declaration_id, position, active, left_at)
SELECT id, declaration_id, 0, status IN ('confirmed', 'checked_in'), NULL FROM bookings;

DROP INDEX bookings_one_active_per_declaration;

-- bookings.declaration_id stays: the first declaration still on the visit.
ALTER TABLE bookings ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE bookings ADD COLUMN gate_pass_version INTEGER NOT NULL DEFAULT 1 CHECK (gate_pass_version >= 1);
ALTER TABLE bookings ADD COLUMN vehicle_plate TEXT;
ALTER TABLE bookings ADD COLUMN vehicle_country TEXT;
ALTER TABLE bookings ADD COLUMN trailer_plate TEXT;
ALTER TABLE bookings ADD COLUMN driver_name TEXT;
ALTER TABLE bookings ADD COLUMN driver_document TEXT;
-- JSON array of ISO 6346 container numbers
ALTER TABLE bookings ADD COLUMN containers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE bookings ADD COLUMN checked_in_at TIMESTAMP;
ALTER TABLE bookings ADD COLUMN checked_in_by TEXT;
-- Visits checked in before this: when is their last change (who is in the audit trail).
UPDATE bookings SET checked_in_at = updated_at WHERE status IN ('checked_in', 'completed');

-- The active bookings of one vehicle (the one-vehicle-one-visit rule);
-- bookings without a vehicle take no entry.
CREATE INDEX bookings_active_vehicle ON bookings (vehicle_plate, vehicle_country)
    WHERE status IN ('confirmed', 'checked_in') AND vehicle_plate IS NOT NULL;
-- The no-show sweep finds the slots that ended since its last round (then
-- their bookings by bookings_slot_enterprise): an index on slots, which
-- are written when generated, not on bookings, written by every booking.
CREATE INDEX clearance_slots_ends_at ON clearance_slots (ends_at);

-- One row per vehicle that ever booked: bookings of one vehicle take its
-- row lock (an upsert), so that two of them cannot both find no overlap.
CREATE TABLE vehicles (
    plate TEXT NOT NULL,
    country TEXT NOT NULL,
    last_booked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (plate, country)
);
