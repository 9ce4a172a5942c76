DROP TABLE audit_heads;
DROP INDEX outbox_events_time;
ALTER TABLE enterprises DROP COLUMN webhook_count;
ALTER TABLE webhooks DROP COLUMN redeliver_count;
ALTER TABLE webhooks DROP COLUMN redeliver_window_start;
DROP INDEX outbox_events_fan_out;
ALTER TABLE outbox_events DROP COLUMN fanned_out;
