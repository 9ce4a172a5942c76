-- Reserved places (issue 15 item 5): until `release_minutes` before a slot
-- starts, only advanced_certified enterprises may take its last
-- `reserved_advanced` places. Schedules carry the values their slots inherit.
ALTER TABLE schedules ADD COLUMN reserved_advanced INTEGER NOT NULL DEFAULT 0 CHECK (reserved_advanced >= 0);
ALTER TABLE schedules ADD COLUMN release_minutes INTEGER NOT NULL DEFAULT 0 CHECK (release_minutes >= 0);
ALTER TABLE clearance_slots ADD COLUMN reserved_advanced INTEGER NOT NULL DEFAULT 0 CHECK (reserved_advanced >= 0);
ALTER TABLE clearance_slots ADD COLUMN release_minutes INTEGER NOT NULL DEFAULT 0 CHECK (release_minutes >= 0);
-- starts_at - release_minutes, written by the application whenever either
-- changes, so that the booking's guarded UPDATE compares it with the
-- request's instant without date arithmetic in SQL. NULL reads as starts_at.
ALTER TABLE clearance_slots ADD COLUMN reserved_until TIMESTAMP;
UPDATE clearance_slots SET reserved_until = starts_at;
