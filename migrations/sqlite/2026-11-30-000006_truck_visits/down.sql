DROP TABLE vehicles;
DROP INDEX clearance_slots_ends_at;
DROP INDEX bookings_active_vehicle;
ALTER TABLE bookings DROP COLUMN checked_in_by;
ALTER TABLE bookings DROP COLUMN checked_in_at;
ALTER TABLE bookings DROP COLUMN containers;
ALTER TABLE bookings DROP COLUMN driver_document;
ALTER TABLE bookings DROP COLUMN driver_name;
ALTER TABLE bookings DROP COLUMN trailer_plate;
ALTER TABLE bookings DROP COLUMN vehicle_country;
ALTER TABLE bookings DROP COLUMN vehicle_plate;
ALTER TABLE bookings DROP COLUMN gate_pass_version;
ALTER TABLE bookings DROP COLUMN version;
-- Wave 1 held one declaration per booking: bookings.declaration_id (the
-- first still on the visit) keeps the rule; the other declarations of a
-- visit lose their booking.
CREATE UNIQUE INDEX bookings_one_active_per_declaration ON bookings (declaration_id)
    WHERE status IN ('confirmed', 'checked_in');
DROP TABLE booking_declarations;
