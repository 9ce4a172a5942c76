-- The minimal booking transaction's tables for pgbench (tools/loadtest.sh):
-- a slot with a guarded counter, a booking row, an audit row.
CREATE TABLE slots (
    id integer PRIMARY KEY,
    capacity integer NOT NULL,
    booked integer NOT NULL DEFAULT 0
);
CREATE TABLE bookings (
    id text PRIMARY KEY,
    slot_id integer NOT NULL REFERENCES slots (id),
    declaration_id text NOT NULL,
    status text NOT NULL,
    created_at timestamp NOT NULL
);
CREATE INDEX bookings_slot ON bookings (slot_id);
CREATE TABLE audit_events (
    id text PRIMARY KEY,
    entity_id text NOT NULL,
    action text NOT NULL,
    at timestamp NOT NULL,
    details text NOT NULL
);
-- Slot 1 is the hot slot; 1..1000 the spread ones. Capacity high enough that
-- the guard never refuses within a run (as the app's scenarios are sized).
INSERT INTO slots (id, capacity) SELECT g, 1000000000 FROM generate_series(1, 1000) g;
VACUUM ANALYZE;
