DROP INDEX clearance_slots_site_time;
DROP INDEX audit_events_decisions;
DROP TABLE calendar_tokens;
