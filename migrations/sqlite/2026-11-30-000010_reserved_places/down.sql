ALTER TABLE clearance_slots DROP COLUMN reserved_until;
ALTER TABLE clearance_slots DROP COLUMN release_minutes;
ALTER TABLE clearance_slots DROP COLUMN reserved_advanced;
ALTER TABLE schedules DROP COLUMN release_minutes;
ALTER TABLE schedules DROP COLUMN reserved_advanced;
