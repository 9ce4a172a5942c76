-- Clearway's own booking transaction, run by pgbench in the load test's
-- database (tools/loadtest.sh, after its HTTP runs): the statements the
-- server sends for one booking (PostgreSQL's statement log of a run), in
-- the same order and round trips, with pgbench's variables for the
-- server's bound values. Plans as the server's: `-M prepared` and
-- plan_cache_mode=force_generic_plan (PGOPTIONS). The declaration and slot
-- of each transaction come from pgb_jobs (pgbench_clearway_setup.sql),
-- joined in the locking statement so that no round trip is added; the
-- stored answer is a booking answer of that run (its colons written as
-- `=`, same length: pgbench would read `:name` in it as a variable).
\set n :n + 1
BEGIN;
SELECT d.id AS decl, d.enterprise_id AS ent, j.usr AS usr, j.slot AS slot, d.site_id, d.transport_mode,
    (SELECT e.status FROM enterprises e WHERE e.id = d.enterprise_id LIMIT 1),
    (SELECT e.credit_class FROM enterprises e WHERE e.id = d.enterprise_id LIMIT 1),
    (SELECT e.webhook_count FROM enterprises e WHERE e.id = d.enterprise_id LIMIT 1),
    EXISTS (SELECT 1 FROM booking_declarations b WHERE b.declaration_id = d.id AND b.active),
    EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.enterprise_id = d.enterprise_id AND k.key = d.id)
  FROM declarations d JOIN pgb_jobs j ON j.decl = d.id
  WHERE j.client = :client_id AND j.n = :n AND d.status = ANY('{submitted,under_review,approved}')
  ORDER BY d.id FOR NO KEY UPDATE OF d \gset
SELECT s.id, s.site_id, s.mode, s.schedule_id, s.starts_at, s.ends_at, s.capacity, s.booked, s.status,
    s.created_at, s.updated_at, s.reserved_advanced, s.release_minutes, s.reserved_until, s.held,
    t.timezone, t.display_zones, t.min_notice_minutes, t.min_notice_minutes_advanced, t.horizon_days,
    t.cancel_cutoff_minutes, t.max_share_percent, t.arrival_early_minutes, t.arrival_late_minutes,
    EXISTS (SELECT 1 FROM waitlist_entries w WHERE w.declaration_id = ANY(ARRAY[:decl::text]) AND w.status = ANY('{waiting,offered}'))
  FROM clearance_slots s JOIN sites t ON s.site_id = t.id WHERE s.id = :slot LIMIT 1;
WITH new_booking AS (INSERT INTO bookings (id, enterprise_id, declaration_id, slot_id, status, created_by,
    cancel_reason, cancelled_by_role, created_at, updated_at, version, gate_pass_version, vehicle_plate,
    vehicle_country, trailer_plate, driver_name, driver_document, containers, checked_in_at, checked_in_by)
  VALUES (:decl::text || '-b', :ent, :decl, :slot, 'confirmed', :usr, NULL, NULL, localtimestamp, localtimestamp, 1, 1,
    NULL, NULL, NULL, NULL, NULL, '[]', NULL, NULL)),
new_visit AS (INSERT INTO booking_declarations (booking_id, declaration_id, position, active, left_at)
  SELECT :decl::text || '-b', d.id, (d.n - 1)::integer, TRUE, NULL FROM unnest(ARRAY[:decl::text]) WITH ORDINALITY AS d(id, n)),
new_event AS (INSERT INTO audit_events (id, entity_type, entity_id, seq, occurred_at, actor_id, actor_role,
    action, from_state, to_state, reason, request_id, prev_hash, hash)
  VALUES (:decl::text || '-e', 'booking', :decl::text || '-b', 1, localtimestamp, :usr, 'company_admin', 'book', NULL,
    'confirmed', NULL, 'e71ea2f2-dbf8-4658-852d-9486b06ccc64',
    '0000000000000000000000000000000000000000000000000000000000000000',
    '87b1a2b093abe64849e3f24d2c155143fb0b1f3f2c6259db02d0dfada6d5fce6')),
new_head AS (INSERT INTO audit_heads (entity_type, entity_id, last_seq, last_hash)
  VALUES ('booking', :decl::text || '-b', 1, '87b1a2b093abe64849e3f24d2c155143fb0b1f3f2c6259db02d0dfada6d5fce6')
  ON CONFLICT DO NOTHING),
new_key AS (INSERT INTO idempotency_keys (enterprise_id, key, request_hash, response_status, response_body,
    created_at, expires_at)
  VALUES (:ent, :decl, '0478e42282606fbd49eb0278b8efb6196817419f499eddd205148c718608eab6', 201,
    '{"id"="01a25407-0a09-76a1-83dc-8e6e22aa060b","status"="confirmed","active"=true,"allowed_actions"=["cancel","reschedule","edit"],"slot_id"="01a25407-0219-7411-8273-8820a24c0575","declaration_id"="01a25407-05ba-7446-ab35-f04840b9a5e2","declaration_ids"=["01a25407-05ba-7446-ab35-f04840b9a5e2"],"enterprise_id"="01a25407-032c-76c4-8eb4-29bca8fb999a","site_id"="01a25407-0203-7180-af47-0ac0d4bd1eba","mode"="road","starts_at"="2027-01-18T22=00=00Z","ends_at"="2027-01-18T23=00=00Z","starts_at_local"="2027-01-19T04=00=00+06=00","ends_at_local"="2027-01-19T05=00=00+06=00","display_times"=[],"arrival_window"={"opens_at"="2027-01-18T21=30=00Z","closes_at"="2027-01-18T23=30=00Z"},"vehicle"=null,"driver"=null,"containers"=[],"gate_pass"={"code"="CW1.01a25407-0a09-76a1-83dc-8e6e22aa060b.1.PQ-mzSOKO9WmqyNRH8GUhw","version"=1},"version"=1,"checked_in_at"=null,"checked_in_by"=null,"cancel_reason"=null,"cancelled_by_role"=null,"created_at"="2026-12-08T05=01=17.187403Z","updated_at"="2026-12-08T05=01=17.187403Z"}',
    localtimestamp, localtimestamp + interval '1 day'))
SELECT 1;
UPDATE clearance_slots SET booked = booked + 1 WHERE id = :slot AND status = 'open' AND booked + held < capacity
  AND (false OR booked + held < capacity - reserved_advanced OR reserved_until <= localtimestamp)
  RETURNING capacity, booked, held, site_id;
COMMIT;
