-- Fewer index entries written by each booking (and by every audited
-- change): each one is a page touched and logged in the booking's
-- transaction, and the event's are written again when the worker marks it
-- expanded.

-- No statement reads events by enterprise.
DROP INDEX outbox_events_enterprise;
-- Retention reads expanded events by time: outbox_events_fan_out
-- (fanned_out, occurred_at) serves it, as it serves the worker.
DROP INDEX outbox_events_time;

-- Reports read decisions on declarations only: a partial index, so that
-- the other audit events (every booking's) take no entry. The report's
-- statement repeats this WHERE in its text (db::reports::OnDeclaration),
-- which is what lets both databases use the index.
DROP INDEX audit_events_decisions;
CREATE INDEX audit_events_decisions ON audit_events (to_state, occurred_at)
    WHERE entity_type = 'declaration';
