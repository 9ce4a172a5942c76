DROP TABLE closure_slots;
DROP TABLE closures;
