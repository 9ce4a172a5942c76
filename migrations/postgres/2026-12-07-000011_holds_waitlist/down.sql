DROP TABLE holds;
DROP TABLE waitlist_entries;
ALTER TABLE enterprises DROP COLUMN live_holds;
ALTER TABLE clearance_slots DROP COLUMN held;
