UPDATE enterprises SET status = 'suspended' WHERE status = 'rejected';
ALTER TABLE enterprises DROP CONSTRAINT enterprises_status_check;
ALTER TABLE enterprises ADD CONSTRAINT enterprises_status_check
    CHECK (status IN ('pending', 'verified', 'suspended'));
DROP TABLE login_throttle;
DROP TABLE sessions;
