UPDATE enterprises SET status = 'suspended' WHERE status = 'rejected';
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'CHECK (status IN (''pending'', ''verified'', ''suspended'', ''rejected''))',
                       'CHECK (status IN (''pending'', ''verified'', ''suspended''))')
WHERE type = 'table' AND name = 'enterprises';
PRAGMA writable_schema = RESET;
CREATE TABLE schema_bump_000012 (x INTEGER);
DROP TABLE schema_bump_000012;
DROP TABLE login_throttle;
DROP TABLE sessions;
