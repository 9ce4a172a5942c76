ALTER TABLE sites DROP COLUMN arrival_late_minutes;
ALTER TABLE sites DROP COLUMN arrival_early_minutes;
ALTER TABLE sites DROP COLUMN max_share_percent;
ALTER TABLE sites DROP COLUMN cancel_cutoff_minutes;
ALTER TABLE sites DROP COLUMN horizon_days;
ALTER TABLE sites DROP COLUMN min_notice_minutes_advanced;
ALTER TABLE sites DROP COLUMN min_notice_minutes;
