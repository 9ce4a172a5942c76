DROP INDEX audit_events_decisions;
CREATE INDEX audit_events_decisions ON audit_events (entity_type, to_state, occurred_at);
CREATE INDEX outbox_events_time ON outbox_events (occurred_at, id);
CREATE INDEX outbox_events_enterprise ON outbox_events (enterprise_id, id);
