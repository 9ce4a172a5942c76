-- The minimal booking transaction (spread): guarded counter, booking, audit row.
\set id random(1, 1000)
BEGIN;
UPDATE slots SET booked = booked + 1 WHERE id = :id AND booked < capacity;
INSERT INTO bookings (id, slot_id, declaration_id, status, created_at)
    VALUES (gen_random_uuid()::text, :id, gen_random_uuid()::text, 'confirmed', now());
INSERT INTO audit_events (id, entity_id, action, at, details)
    VALUES (gen_random_uuid()::text, :id::text, 'booking.created', now(), '{"slot": ' || :id || '}');
END;
