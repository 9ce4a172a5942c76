-- A site's own booking policy: one nullable column per rule. NULL = the
-- configured default ([booking] in config), so that a site follows a
-- changed default for every value it did not set. The ranges are the
-- API's, held here as well.
ALTER TABLE sites ADD COLUMN min_notice_minutes INTEGER
    CHECK (min_notice_minutes BETWEEN 0 AND 10080);
ALTER TABLE sites ADD COLUMN min_notice_minutes_advanced INTEGER
    CHECK (min_notice_minutes_advanced BETWEEN 0 AND 10080);
ALTER TABLE sites ADD COLUMN horizon_days INTEGER
    CHECK (horizon_days BETWEEN 1 AND 366);
ALTER TABLE sites ADD COLUMN cancel_cutoff_minutes INTEGER
    CHECK (cancel_cutoff_minutes BETWEEN 0 AND 10080);
ALTER TABLE sites ADD COLUMN max_share_percent INTEGER
    CHECK (max_share_percent BETWEEN 1 AND 100);
ALTER TABLE sites ADD COLUMN arrival_early_minutes INTEGER
    CHECK (arrival_early_minutes BETWEEN 0 AND 10080);
ALTER TABLE sites ADD COLUMN arrival_late_minutes INTEGER
    CHECK (arrival_late_minutes BETWEEN 0 AND 10080);
