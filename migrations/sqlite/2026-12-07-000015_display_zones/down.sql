ALTER TABLE sites DROP COLUMN display_zones;
