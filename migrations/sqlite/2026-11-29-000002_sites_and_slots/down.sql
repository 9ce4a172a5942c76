DROP TABLE clearance_slots;
DROP TABLE schedules;
DROP TABLE sites;
