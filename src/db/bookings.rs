//! The `bookings` and `idempotency_keys` tables. Status changes are guarded
//! (`WHERE status = …`), so that of two racing cancels exactly one wins
//! and frees the place.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::AstPass;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};

use super::audit::AuditEventRow;
use super::fixed::{fixed, Condition};
use super::schema::{
    booking_declarations, bookings, clearance_slots, declarations, enterprises, idempotency_keys, sites, vehicles,
    waitlist_entries,
};
use super::sites::SiteTerms;
use super::slots::{SlotRow, WithPlace};
use super::webhooks::EventRow;
use super::DbConnection;
use crate::domain::booking_policy::BookingStatus;

use crate::domain::goods::TransportMode;
use crate::domain::identity::{CreditClass, EnterpriseStatus};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bookings, treat_none_as_default_value = false)]
pub struct BookingRow {
    pub id: String,
    pub enterprise_id: String,
    pub declaration_id: String,
    pub slot_id: String,
    pub status: BookingStatus,
    pub created_by: String,
    pub cancel_reason: Option<String>,
    pub cancelled_by_role: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Bumped by every change: the ETag.
    pub version: i32,
    /// Bumped when the slot or the vehicle changes: older passes no longer admit.
    pub gate_pass_version: i32,
    pub vehicle_plate: Option<String>,
    pub vehicle_country: Option<String>,
    pub trailer_plate: Option<String>,
    pub driver_name: Option<String>,
    pub driver_document: Option<String>,
    /// JSON array of ISO 6346 container numbers.
    pub containers: String,
    pub checked_in_at: Option<NaiveDateTime>,
    pub checked_in_by: Option<String>,
}

super::row_access!(bookings, BookingRow, insert);

/// One declaration of a visit. `active` while it is on the visit and the
/// booking holds a place (a partial unique index: one per declaration).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = booking_declarations, treat_none_as_default_value = false)]
pub struct VisitDeclarationRow {
    pub booking_id: String,
    pub declaration_id: String,
    pub position: i32,
    pub active: bool,
    pub left_at: Option<NaiveDateTime>,
}

/// Puts the declarations on a new visit, in one statement.
pub fn insert_declarations(conn: &mut DbConnection, rows: &[VisitDeclarationRow]) -> QueryResult<usize> {
    // The usual visit carries one declaration: a one-row INSERT is a
    // statement diesel prepares once and caches; a batch is built anew.
    if let [one] = rows {
        return diesel::insert_into(booking_declarations::table).values(one).execute(conn);
    }
    // Diesel batches rows per backend, not through the multi-backend connection.
    match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(booking_declarations::table).values(rows).execute(pg),
        DbConnection::Sqlite(lite) => diesel::insert_into(booking_declarations::table).values(rows).execute(lite),
    }
}

/// Every row a new booking writes besides its place: the booking, its
/// declarations (in the caller's order), the first event of its audit
/// chain with the chain's head, its outbox event (when the enterprise has
/// an endpoint to send it to) and, for a request with an Idempotency-Key,
/// the stored answer. Written with the place by
/// `slots::take_place_with`: on PostgreSQL all in one statement.
pub struct NewBooking<'a> {
    pub booking: &'a BookingRow,
    pub declaration_ids: &'a [&'a str],
    pub audit: &'a AuditEventRow,
    pub event: Option<&'a EventRow>,
    pub key: Option<&'a IdempotencyRow>,
}

impl NewBooking<'_> {
    fn declaration_rows(&self) -> Vec<VisitDeclarationRow> {
        self.declaration_ids
            .iter()
            .enumerate()
            .map(|(position, declaration_id)| VisitDeclarationRow {
                booking_id: self.booking.id.clone(),
                declaration_id: (*declaration_id).to_owned(),
                position: position as i32,
                active: true,
                left_at: None,
            })
            .collect()
    }
}

/// Pushes `(v1, v2, …)`, each value bound with its SQL type.
macro_rules! bound_values {
    ($out:ident; $t0:ty => $v0:expr $(, $t:ty => $v:expr)* $(,)?) => {
        $out.push_sql("(");
        $out.push_bind_param::<$t0, _>($v0)?;
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<$t, _>($v)?;
        )*
        $out.push_sql(")");
    };
}

impl WithPlace for NewBooking<'_> {
    fn walk_with<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let (b, a) = (self.booking, self.audit);
        out.push_sql(
            "WITH new_booking AS (INSERT INTO bookings (id, enterprise_id, declaration_id, slot_id, status, \
             created_by, cancel_reason, cancelled_by_role, created_at, updated_at, version, gate_pass_version, \
             vehicle_plate, vehicle_country, trailer_plate, driver_name, driver_document, containers, \
             checked_in_at, checked_in_by) VALUES ",
        );
        bound_values!(out;
            Text => &b.id, Text => &b.enterprise_id, Text => &b.declaration_id, Text => &b.slot_id,
            Text => b.status.as_str(), Text => &b.created_by, Nullable<Text> => &b.cancel_reason,
            Nullable<Text> => &b.cancelled_by_role, Timestamp => &b.created_at, Timestamp => &b.updated_at,
            Integer => &b.version, Integer => &b.gate_pass_version, Nullable<Text> => &b.vehicle_plate,
            Nullable<Text> => &b.vehicle_country, Nullable<Text> => &b.trailer_plate,
            Nullable<Text> => &b.driver_name, Nullable<Text> => &b.driver_document, Text => &b.containers,
            Nullable<Timestamp> => &b.checked_in_at, Nullable<Text> => &b.checked_in_by);
        // The declarations as one array: the statement's text is the same
        // for any number of them, so it stays one prepared statement.
        out.push_sql(
            "), new_visit AS (INSERT INTO booking_declarations (booking_id, declaration_id, position, active, \
             left_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(&b.id)?;
        out.push_sql(", d.id, (d.n - 1)::integer, TRUE, NULL FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(self.declaration_ids)?;
        out.push_sql(
            ") WITH ORDINALITY AS d(id, n)), new_event AS (INSERT INTO audit_events (id, entity_type, entity_id, \
             seq, occurred_at, actor_id, actor_role, action, from_state, to_state, reason, request_id, prev_hash, \
             hash) VALUES ",
        );
        bound_values!(out;
            Text => &a.id, Text => &a.entity_type, Text => &a.entity_id, BigInt => &a.seq,
            Timestamp => &a.occurred_at, Nullable<Text> => &a.actor_id, Nullable<Text> => &a.actor_role,
            Text => &a.action, Nullable<Text> => &a.from_state, Nullable<Text> => &a.to_state,
            Nullable<Text> => &a.reason, Nullable<Text> => &a.request_id, Text => &a.prev_hash, Text => &a.hash);
        // A head already there (events deleted outside the application) is
        // left as it is, so that verification reports it (`audit::write_first`).
        out.push_sql("), new_head AS (INSERT INTO audit_heads (entity_type, entity_id, last_seq, last_hash) VALUES ");
        bound_values!(out; Text => &a.entity_type, Text => &a.entity_id, BigInt => &a.seq, Text => &a.hash);
        out.push_sql(" ON CONFLICT DO NOTHING) ");
        // Each part that may be left out makes a statement of its own text,
        // each prepared once.
        if let Some(e) = self.event {
            out.push_sql(
                ", new_outbox AS (INSERT INTO outbox_events (id, event_type, enterprise_id, payload, occurred_at, \
                 fanned_out) VALUES ",
            );
            bound_values!(out;
                Text => &e.id, Text => &e.event_type, Text => &e.enterprise_id, Text => &e.payload,
                Timestamp => &e.occurred_at, Bool => &e.fanned_out);
            out.push_sql(") ");
        }
        if let Some(k) = self.key {
            out.push_sql(
                ", new_key AS (INSERT INTO idempotency_keys (enterprise_id, key, request_hash, response_status, \
                 response_body, created_at, expires_at) VALUES ",
            );
            bound_values!(out;
                Text => &k.enterprise_id, Text => &k.key, Text => &k.request_hash, Integer => &k.response_status,
                Text => &k.response_body, Timestamp => &k.created_at, Timestamp => &k.expires_at);
            out.push_sql(") ");
        }
        Ok(())
    }

    fn write_apart(&self, conn: &mut DbConnection) -> QueryResult<()> {
        insert(conn, self.booking)?;
        insert_declarations(conn, &self.declaration_rows())?;
        super::audit::write_first(conn, self.audit)?;
        if let Some(e) = self.event {
            super::webhooks::insert_event(conn, e)?;
        }
        if let Some(k) = self.key {
            insert_key(conn, k)?;
        }
        Ok(())
    }
}

/// The declarations still on each of these visits, in booking order.
pub fn declarations_of(conn: &mut DbConnection, booking_ids: &[&str]) -> QueryResult<Vec<(String, String)>> {
    booking_declarations::table
        .filter(booking_declarations::booking_id.eq_any(booking_ids))
        .filter(booking_declarations::left_at.is_null())
        .order((booking_declarations::booking_id, booking_declarations::position))
        .select((booking_declarations::booking_id, booking_declarations::declaration_id))
        .load(conn)
}

/// Takes a declaration off its visit; returns the declarations that remain.
pub fn leave(
    conn: &mut DbConnection,
    booking_id: &str,
    declaration_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    diesel::update(
        booking_declarations::table
            .filter(booking_declarations::booking_id.eq(booking_id))
            .filter(booking_declarations::declaration_id.eq(declaration_id)),
    )
    .set((booking_declarations::active.eq(false), booking_declarations::left_at.eq(Some(now))))
    .execute(conn)?;
    let remaining: Vec<String> = declarations_of(conn, &[booking_id])?.into_iter().map(|(_, d)| d).collect();
    // bookings.declaration_id is the first declaration still on the visit.
    if let Some(first) = remaining.first() {
        diesel::update(bookings::table.find(booking_id))
            .set((
                bookings::declaration_id.eq(first),
                bookings::version.eq(bookings::version + 1),
                bookings::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(remaining)
}

/// [`BookingStatus::ACTIVE`] as SQL text: the WHERE of the partial index on
/// a vehicle's active bookings (and of wave 1's one-booking-per-declaration
/// index) in both backends' migrations. The
/// one status literal outside the domain, because SQLite uses a partial
/// index only when the query's test is the index's, written out, not bound
/// parameters; a test holds it equal to the domain's set.
pub const ACTIVE_BOOKING_SQL: &str = "bookings.status IN ('confirmed', 'checked_in')";

/// "The declaration is on an active visit": the boolean column itself as
/// the test, which is also the WHERE of the partial unique index on
/// `booking_declarations (declaration_id)`. SQLite (and PostgreSQL's generic
/// plans) use a partial index only for a query that states its condition,
/// not a bound `active = ?`; and unlike an SQL literal, a column keeps the
/// statement cacheable, so PostgreSQL plans it once per connection.
fn on_active_visit() -> booking_declarations::active {
    booking_declarations::active
}

/// "The booking is active", as the partial index needs it (see above).
fn is_active() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(ACTIVE_BOOKING_SQL)
}

/// The declaration's active booking, if any (by the partial unique index
/// on the visit's declarations).
pub fn active_for_declaration(conn: &mut DbConnection, declaration_id: &str) -> QueryResult<Option<BookingRow>> {
    bookings::table
        .filter(
            bookings::id.eq_any(
                booking_declarations::table
                    .filter(booking_declarations::declaration_id.eq(declaration_id))
                    .filter(on_active_visit())
                    .select(booking_declarations::booking_id),
            ),
        )
        .select(BookingRow::as_select())
        .first(conn)
        .optional()
}

/// Active bookings an enterprise holds in a slot. Read after the slot's
/// guarded UPDATE in the same transaction: that row lock (or SQLite's one
/// writer) keeps every other booking of the slot out until commit.
pub fn active_in_slot_for(conn: &mut DbConnection, slot_id: &str, enterprise_id: &str) -> QueryResult<i64> {
    bookings::table
        .filter(bookings::slot_id.eq(slot_id))
        .filter(bookings::enterprise_id.eq(enterprise_id))
        .filter(bookings::status.eq_any(BookingStatus::ACTIVE))
        .count()
        .get_result(conn)
}

/// Active bookings an enterprise holds in each of these slots, as (slot
/// id, count) for the slots where it holds any: one grouped statement for
/// a page of slots (the index on (slot_id, enterprise_id, status)).
pub fn active_counts_for(
    conn: &mut DbConnection,
    enterprise_id: &str,
    slot_ids: &[&str],
) -> QueryResult<Vec<(String, i64)>> {
    if slot_ids.is_empty() {
        return Ok(Vec::new());
    }
    bookings::table
        .filter(bookings::slot_id.eq_any(slot_ids))
        .filter(bookings::enterprise_id.eq(enterprise_id))
        .filter(bookings::status.eq_any(BookingStatus::ACTIVE))
        .group_by(bookings::slot_id)
        .select((bookings::slot_id, diesel::dsl::count_star()))
        .load(conn)
}

/// Confirmed bookings of a slot, latest first (the first to be displaced).
pub fn confirmed_in_slot_latest_first(conn: &mut DbConnection, slot_id: &str) -> QueryResult<Vec<BookingRow>> {
    bookings::table
        .filter(bookings::slot_id.eq(slot_id))
        .filter(bookings::status.eq(BookingStatus::Confirmed))
        .order(bookings::id.desc())
        .select(BookingRow::as_select())
        .load(conn)
}

/// Moves a booking of `slot_id` from `from` to `to` status; 0 rows = it was
/// not in `from` on that slot (a racing change won). Leaving the active
/// states frees its declarations for another booking.
#[allow(clippy::too_many_arguments)]
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    slot_id: &str,
    from: BookingStatus,
    to: BookingStatus,
    reason: Option<&str>,
    by_role: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let changed = diesel::update(
        bookings::table
            .filter(bookings::id.eq(id))
            .filter(bookings::slot_id.eq(slot_id))
            .filter(bookings::status.eq(from)),
    )
    .set((
        bookings::status.eq(to),
        bookings::cancel_reason.eq(reason),
        bookings::cancelled_by_role.eq(by_role),
        bookings::updated_at.eq(now),
        bookings::version.eq(bookings::version + 1),
    ))
    .execute(conn)?;
    if changed == 1 && from.is_active() && !to.is_active() {
        release_declarations(conn, id)?;
    }
    Ok(changed)
}

/// The visit no longer holds a place: its declarations may be booked again.
fn release_declarations(conn: &mut DbConnection, booking_id: &str) -> QueryResult<usize> {
    diesel::update(
        booking_declarations::table
            .filter(booking_declarations::booking_id.eq(booking_id))
            .filter(booking_declarations::active.eq(true)),
    )
    .set(booking_declarations::active.eq(false))
    .execute(conn)
}

/// Checks a confirmed booking in; 0 rows = it is no longer confirmed.
pub fn check_in(conn: &mut DbConnection, id: &str, by: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(bookings::table.filter(bookings::id.eq(id)).filter(bookings::status.eq(BookingStatus::Confirmed)))
        .set((
            bookings::status.eq(BookingStatus::CheckedIn),
            bookings::checked_in_at.eq(Some(now)),
            bookings::checked_in_by.eq(Some(by)),
            bookings::updated_at.eq(now),
            bookings::version.eq(bookings::version + 1),
        ))
        .execute(conn)
}

/// The vehicle, driver and containers of a visit, as stored.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = bookings, treat_none_as_null = true)]
pub struct VisitColumns {
    pub vehicle_plate: Option<String>,
    pub vehicle_country: Option<String>,
    pub trailer_plate: Option<String>,
    pub driver_name: Option<String>,
    pub driver_document: Option<String>,
    pub containers: String,
}

/// Replaces the vehicle, driver and containers of a confirmed booking at
/// `version`; a new vehicle also bumps the gate pass. 0 rows = the booking
/// changed meanwhile or is no longer confirmed.
pub fn set_visit(
    conn: &mut DbConnection,
    id: &str,
    version: i32,
    visit: &VisitColumns,
    new_pass: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        bookings::table
            .filter(bookings::id.eq(id))
            .filter(bookings::version.eq(version))
            .filter(bookings::status.eq(BookingStatus::Confirmed)),
    )
    .set((
        visit,
        bookings::version.eq(bookings::version + 1),
        bookings::gate_pass_version.eq(bookings::gate_pass_version + i32::from(new_pass)),
        bookings::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Takes the vehicle's row lock (creating the row on its first booking):
/// bookings of one vehicle queue here, so that the overlap test that
/// follows sees every booking of it committed before. SQLite's single
/// writer serialises them anyway.
pub fn lock_vehicle(conn: &mut DbConnection, plate: &str, country: &str, now: NaiveDateTime) -> QueryResult<usize> {
    let row = (vehicles::plate.eq(plate), vehicles::country.eq(country), vehicles::last_booked_at.eq(now));
    let upsert = diesel::insert_into(vehicles::table)
        .values(row)
        .on_conflict((vehicles::plate, vehicles::country))
        .do_update()
        .set(vehicles::last_booked_at.eq(now));
    match conn {
        DbConnection::Postgres(pg) => upsert.execute(pg),
        DbConnection::Sqlite(lite) => upsert.execute(lite),
    }
}

/// An active booking of the vehicle (other than `except`) whose slot
/// overlaps [starts_at, ends_at), at any site: its id and enterprise.
pub fn overlapping_for_vehicle(
    conn: &mut DbConnection,
    (plate, country): (&str, &str),
    (starts_at, ends_at): (NaiveDateTime, NaiveDateTime),
    except: Option<&str>,
) -> QueryResult<Option<(String, String)>> {
    let mut q = bookings::table
        .inner_join(clearance_slots::table)
        .filter(bookings::vehicle_plate.eq(plate))
        .filter(bookings::vehicle_country.eq(country))
        .filter(is_active())
        .filter(clearance_slots::starts_at.lt(ends_at))
        .filter(clearance_slots::ends_at.gt(starts_at))
        .select((bookings::id, bookings::enterprise_id))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(bookings::id.ne(id.to_owned()));
    }
    q.first(conn).optional()
}

/// The active bookings of these slots (what a closure may displace).
pub fn active_in_slots(conn: &mut DbConnection, slot_ids: &[&str]) -> QueryResult<Vec<BookingRow>> {
    bookings::table
        .filter(bookings::slot_id.eq_any(slot_ids))
        .filter(is_active())
        .select(BookingRow::as_select())
        .load(conn)
}

/// The active bookings of these vehicles with their slots' times: (booking
/// id, plate, country, starts_at, ends_at), for moving bookings without
/// putting a vehicle at two gates at once.
#[allow(clippy::type_complexity)]
pub fn vehicle_times(
    conn: &mut DbConnection,
    plates: &[String],
) -> QueryResult<Vec<(String, Option<String>, Option<String>, NaiveDateTime, NaiveDateTime)>> {
    bookings::table
        .inner_join(clearance_slots::table)
        .filter(bookings::vehicle_plate.eq_any(plates))
        .filter(is_active())
        .select((
            bookings::id,
            bookings::vehicle_plate,
            bookings::vehicle_country,
            clearance_slots::starts_at,
            clearance_slots::ends_at,
        ))
        .load(conn)
}

/// Active bookings of a vehicle, with their slots and their sites' terms
/// (for the gate's look-up by plate).
pub fn active_for_vehicle(
    conn: &mut DbConnection,
    plate: &str,
    country: &str,
) -> QueryResult<Vec<(BookingRow, SlotRow, SiteTerms)>> {
    bookings::table
        .inner_join(clearance_slots::table.inner_join(sites::table))
        .filter(bookings::vehicle_plate.eq(plate))
        .filter(bookings::vehicle_country.eq(country))
        .filter(is_active())
        .select((BookingRow::as_select(), SlotRow::as_select(), SiteTerms::as_select()))
        .load(conn)
}

/// Confirmed bookings of these sites' slots that ended in (after, before),
/// oldest first, at most `limit` (the no-show sweep's work, for the sites
/// that share one arrival window): the slots by their end (an index), then
/// their bookings (by slot).
pub fn confirmed_ended_between(
    conn: &mut DbConnection,
    site_ids: &[&str],
    (after, before): (NaiveDateTime, NaiveDateTime),
    limit: i64,
) -> QueryResult<Vec<BookingRow>> {
    bookings::table
        .inner_join(clearance_slots::table)
        .filter(clearance_slots::ends_at.gt(after))
        .filter(clearance_slots::ends_at.lt(before))
        .filter(clearance_slots::site_id.eq_any(site_ids))
        .filter(bookings::status.eq(BookingStatus::Confirmed))
        .order(clearance_slots::ends_at.asc())
        .limit(limit)
        .select(BookingRow::as_select())
        .load(conn)
}

/// Moves a confirmed booking from one slot to another; 0 rows = it is no
/// longer confirmed on `from_slot`.
pub fn move_slot(
    conn: &mut DbConnection,
    id: &str,
    from_slot: &str,
    to_slot: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        bookings::table
            .filter(bookings::id.eq(id))
            .filter(bookings::slot_id.eq(from_slot))
            .filter(bookings::status.eq(BookingStatus::Confirmed)),
    )
    .set((
        bookings::slot_id.eq(to_slot),
        bookings::updated_at.eq(now),
        bookings::version.eq(bookings::version + 1),
        bookings::gate_pass_version.eq(bookings::gate_pass_version + 1),
    ))
    .execute(conn)
}

/// A page of bookings (company: its own; customs: by site/slot), id order.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub enterprise_id: Option<String>,
    pub slot_id: Option<String>,
    pub site_id: Option<String>,
    /// Only bookings at these sites (an officer limited to sites).
    pub sites: Option<Vec<String>>,
    pub declaration_id: Option<String>,
    pub status: Option<BookingStatus>,
    pub limit: i64,
}

/// A page of bookings with their slots and sites' time zones and
/// policies, in one joined query (what the list answers are built from).
pub fn list_views(
    conn: &mut DbConnection,
    f: &BookingFilter,
    after: Option<&str>,
) -> QueryResult<Vec<(BookingRow, SlotRow, SiteTerms)>> {
    let mut q = bookings::table
        .inner_join(clearance_slots::table.inner_join(sites::table))
        .select((BookingRow::as_select(), SlotRow::as_select(), SiteTerms::as_select()))
        .into_boxed();
    if let Some(e) = &f.enterprise_id {
        q = q.filter(bookings::enterprise_id.eq(e.clone()));
    }
    if let Some(s) = &f.slot_id {
        q = q.filter(bookings::slot_id.eq(s.clone()));
    }
    if let Some(s) = &f.site_id {
        q = q.filter(clearance_slots::site_id.eq(s.clone()));
    }
    if let Some(ids) = &f.sites {
        q = q.filter(clearance_slots::site_id.eq_any(ids.clone()));
    }
    if let Some(d) = &f.declaration_id {
        // By the link's primary key (booking, declaration): no index of its own.
        let carried = booking_declarations::table
            .filter(booking_declarations::booking_id.eq(bookings::id))
            .filter(booking_declarations::declaration_id.eq(d.clone()));
        q = q.filter(diesel::dsl::exists(carried));
    }
    if let Some(s) = &f.status {
        q = q.filter(bookings::status.eq(*s));
    }
    if let Some(a) = after {
        q = q.filter(bookings::id.gt(a.to_owned()));
    }
    q.order(bookings::id.asc()).limit(f.limit).load(conn)
}

/// What a booking needs to know of each declaration it locks: where and
/// how it clears, its enterprise's standing, and whether it is already on
/// an active booking.
#[derive(Debug, Clone, Queryable)]
pub struct BookingContext {
    pub declaration_id: String,
    pub site_id: String,
    pub transport_mode: TransportMode,
    pub enterprise_status: EnterpriseStatus,
    pub credit_class: CreditClass,
    /// The enterprise's active webhook endpoints.
    pub webhook_count: i32,
    pub has_active_booking: bool,
    /// The request's Idempotency-Key is stored already (a replay).
    pub key_used: bool,
}

/// Takes the row locks of those declarations that belong to the enterprise
/// and are in a bookable state, in id order, and reads the booking's
/// context in the same statement; the others are simply not returned (and
/// not locked). Declarations are locked before vehicles, vehicles before
/// slots and slots before bookings, everywhere, and several declarations
/// in id order, so that no two transactions wait on each other in a cycle.
///
/// The enterprise's standing and the active-booking test are subqueries,
/// so that only the declarations' rows are locked. On PostgreSQL they read
/// the statement's snapshot, which may predate a booking committed by the
/// transaction this one queued behind: the unique index on active visit
/// declarations catches that one when the booking is inserted.
///
/// Whether the request's Idempotency-Key (`""` for none: a key is never
/// empty) is stored already is read by the same statement, which spares
/// every new booking a round trip to look it up.
pub fn lock_for_booking(
    conn: &mut DbConnection,
    ids: &[&str],
    enterprise_id: &str,
    key: &str,
) -> QueryResult<Vec<BookingContext>> {
    let active = booking_declarations::table
        .filter(booking_declarations::declaration_id.eq(declarations::id))
        .filter(on_active_visit());
    let stored_key = idempotency_keys::table
        .filter(idempotency_keys::enterprise_id.eq(enterprise_id))
        .filter(idempotency_keys::key.eq(key));
    let enterprise = enterprises::table.filter(enterprises::id.eq(declarations::enterprise_id));
    let context = (
        declarations::id,
        declarations::site_id,
        declarations::transport_mode,
        enterprise.select(enterprises::status).single_value().assume_not_null(),
        enterprise.select(enterprises::credit_class).single_value().assume_not_null(),
        enterprise.select(enterprises::webhook_count).single_value().assume_not_null(),
        diesel::dsl::exists(active),
        diesel::dsl::exists(stored_key),
    );
    let mine = declarations::table.filter(declarations::enterprise_id.eq(enterprise_id)).order(declarations::id);
    match conn {
        // `= ANY($1)` lists are prepared statements on PostgreSQL already.
        DbConnection::Postgres(pg) => mine
            .filter(declarations::id.eq_any(ids))
            .filter(declarations::status.eq_any(crate::domain::declaration::DeclarationStatus::BOOKABLE))
            .select(context)
            .for_no_key_update()
            .load(pg),
        // SQLite: one declaration, by far the usual visit, is `= ?` and the
        // statuses are in the text (`db::fixed`), a statement SQLite keeps
        // prepared (diesel prepares an `IN (?, …)` list anew each time).
        DbConnection::Sqlite(lite) => {
            let mine = mine.filter(fixed::<Bookable>()).select(context);
            match ids {
                [one] => mine.filter(declarations::id.eq(*one)).load(lite),
                _ => mine.filter(declarations::id.eq_any(ids)).load(lite),
            }
        }
    }
}

/// A declaration a slot may be booked for
/// ([`crate::domain::declaration::DeclarationStatus::BOOKABLE`], in the statement's text: `db::fixed`).
pub struct Bookable;

impl Condition for Bookable {
    const SQL: &'static str = "declarations.status IN ('submitted', 'under_review', 'approved')";
}

/// A waitlist entry still in line or holding an offer
/// ([`crate::domain::hold::WaitlistStatus::LIVE`]), written as the WHERE of
/// the partial unique index on `waitlist_entries (declaration_id)`, which
/// SQLite then uses.
pub struct LiveEntry;

impl Condition for LiveEntry {
    const SQL: &'static str = "(waitlist_entries.status = 'waiting' OR waitlist_entries.status = 'offered')";
}

/// The slot a new booking takes, with its site's time zone and policy, and
/// whether any of the visit's declarations is live on the waitlist (the
/// booking then fulfils that entry): one statement. Run after the
/// declarations' row locks, so that on PostgreSQL it sees an entry committed
/// by a `join` the lock waited for (a join locks the declaration first).
pub fn slot_for_booking(
    conn: &mut DbConnection,
    slot_id: &str,
    declaration_ids: &[&str],
) -> QueryResult<Option<(SlotRow, SiteTerms, bool)>> {
    let slot = clearance_slots::table.inner_join(sites::table).filter(clearance_slots::id.eq(slot_id));
    let conn = match conn {
        // Prepared as it is on PostgreSQL (`= ANY($1)` lists).
        DbConnection::Postgres(pg) => {
            let waiting = waitlist_entries::table
                .filter(waitlist_entries::declaration_id.eq_any(declaration_ids))
                .filter(waitlist_entries::status.eq_any(crate::domain::hold::WaitlistStatus::LIVE));
            return slot
                .select((SlotRow::as_select(), SiteTerms::as_select(), diesel::dsl::exists(waiting)))
                .first(pg)
                .optional();
        }
        DbConnection::Sqlite(lite) => lite,
    };
    // SQLite: `load`, not `first`: the slot is found by its key anyway, and
    // the `LIMIT ?` of `first` makes SQLite prepare a join anew on every run
    // (it plans joins with the bound limit's value). One declaration: a
    // statement of fixed text (see `lock_for_booking`).
    let live = waitlist_entries::table.filter(fixed::<LiveEntry>());
    let found: Vec<(SlotRow, SiteTerms, bool)> = if let [one] = declaration_ids {
        let waiting = live.filter(waitlist_entries::declaration_id.eq(*one));
        slot.select((SlotRow::as_select(), SiteTerms::as_select(), diesel::dsl::exists(waiting))).load(conn)?
    } else {
        let waiting = live.filter(waitlist_entries::declaration_id.eq_any(declaration_ids));
        slot.select((SlotRow::as_select(), SiteTerms::as_select(), diesel::dsl::exists(waiting))).load(conn)?
    };
    Ok(found.into_iter().next())
}

/// Takes the row locks of a visit's declarations, in id order (see
/// [`lock_for_booking`] for the order of locks).
pub fn lock_declarations(conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
    let q = declarations::table.filter(declarations::id.eq_any(ids)).order(declarations::id).select(declarations::id);
    match conn {
        DbConnection::Postgres(pg) => q.for_no_key_update().load::<String>(pg),
        DbConnection::Sqlite(lite) => q.load::<String>(lite),
    }
    .map(|rows| rows.len())
}

/// Takes the declaration's row lock: `FOR NO KEY UPDATE` on PostgreSQL (it
/// queues behind and blocks every UPDATE of the row, as an UPDATE would,
/// without writing a new row version); a plain read on SQLite, whose
/// `BEGIN IMMEDIATE` already holds the only write lock. False if there is
/// no such declaration.
pub fn lock_declaration(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    let q = declarations::table.filter(declarations::id.eq(id)).select(declarations::id);
    match conn {
        DbConnection::Postgres(pg) => q.for_no_key_update().first::<String>(pg).optional(),
        DbConnection::Sqlite(lite) => q.first::<String>(lite).optional(),
    }
    .map(|row| row.is_some())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys, treat_none_as_default_value = false)]
pub struct IdempotencyRow {
    pub enterprise_id: String,
    pub key: String,
    pub request_hash: String,
    pub response_status: i32,
    pub response_body: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn find_key(conn: &mut DbConnection, enterprise_id: &str, key: &str) -> QueryResult<Option<IdempotencyRow>> {
    super::by_key(idempotency_keys::table.find((enterprise_id, key)).select(IdempotencyRow::as_select()), conn)
}

pub fn insert_key(conn: &mut DbConnection, row: &IdempotencyRow) -> QueryResult<usize> {
    diesel::insert_into(idempotency_keys::table).values(row.clone()).execute(conn)
}

/// Forgets keys past their retention; returns how many.
pub fn prune_keys(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.lt(now))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::ACTIVE_BOOKING_SQL;
    use crate::db::fixed::Condition;
    use crate::domain::booking_policy::BookingStatus;
    use crate::domain::declaration::DeclarationStatus;

    /// SQLite finds a declaration's active visit through the partial unique
    /// index, with the test as the queries write it (the column, not a bound
    /// `active = ?`, which would read the whole link table).
    #[test]
    fn sqlite_finds_an_active_visit_by_the_partial_index() -> Result<(), Box<dyn std::error::Error>> {
        use crate::db::schema::booking_declarations;
        use diesel::prelude::*;

        let mut conn = crate::db::fixed::plan::migrated_sqlite()?;
        let q = booking_declarations::table
            .filter(booking_declarations::declaration_id.eq("d"))
            .filter(super::on_active_visit())
            .select(booking_declarations::booking_id);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&q).to_string();
        let sql = sql.split(" -- binds").next().unwrap_or_default().replace('?', "'d'");
        let details = crate::db::fixed::plan::sqlite_plan(&mut conn, &sql)?;
        assert!(details.iter().any(|d| d.contains("USING INDEX booking_declarations_one_active")), "plan: {details:?}");
        Ok(())
    }

    /// A booking's waitlist test finds a declaration's live entry through
    /// the partial unique index (its condition in the statement's text, the
    /// index's WHERE), and the statement is one SQLite keeps prepared.
    #[test]
    fn sqlite_finds_a_live_waitlist_entry_by_the_partial_index() -> Result<(), Box<dyn std::error::Error>> {
        use crate::db::fixed::fixed;
        use crate::db::schema::waitlist_entries;
        use diesel::prelude::*;
        use diesel::query_builder::{QueryFragment, QueryId};

        fn static_id<Q: QueryId>(_: &Q) -> bool {
            Q::HAS_STATIC_QUERY_ID
        }
        let mut conn = crate::db::fixed::plan::migrated_sqlite()?;
        let q = waitlist_entries::table
            .filter(fixed::<super::LiveEntry>())
            .filter(waitlist_entries::declaration_id.eq("d"))
            .select(waitlist_entries::id);
        assert!(
            static_id(&q)
                && QueryFragment::<diesel::sqlite::Sqlite>::is_safe_to_cache_prepared(&q, &diesel::sqlite::Sqlite)?
        );
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&q).to_string();
        let sql = sql.split(" -- binds").next().unwrap_or_default().replace('?', "'d'");
        let details = crate::db::fixed::plan::sqlite_plan(&mut conn, &sql)?;
        assert!(
            details.iter().any(|d| d.contains("USING INDEX waitlist_entries_live_declaration")),
            "plan: {details:?}"
        );
        Ok(())
    }

    /// The partial index's literal and the domain's set are the same set.
    #[test]
    fn the_active_booking_literal_is_the_domain_set() {
        let listed: Vec<String> = BookingStatus::ACTIVE.iter().map(|s| format!("'{s}'")).collect();
        assert_eq!(ACTIVE_BOOKING_SQL, format!("bookings.status IN ({})", listed.join(", ")));
        let bookable: Vec<&str> = DeclarationStatus::BOOKABLE.iter().map(|d| d.as_str()).collect();
        assert_eq!(super::Bookable::SQL, crate::db::fixed::status_in("declarations.status", &bookable));
        let live: Vec<String> = crate::domain::hold::WaitlistStatus::LIVE
            .iter()
            .map(|w| format!("waitlist_entries.status = '{}'", w.as_str()))
            .collect();
        assert_eq!(super::LiveEntry::SQL, format!("({})", live.join(" OR ")));
        for migration in [
            include_str!("../../migrations/sqlite/2026-11-29-000004_bookings/up.sql"),
            include_str!("../../migrations/postgres/2026-11-29-000004_bookings/up.sql"),
            include_str!("../../migrations/sqlite/2026-11-30-000006_truck_visits/up.sql"),
            include_str!("../../migrations/postgres/2026-11-30-000006_truck_visits/up.sql"),
        ] {
            let index_where = format!("WHERE status IN ({})", listed.join(", "));
            assert!(migration.contains(&index_where), "the partial index's WHERE must be {index_where}");
        }
        // The link's partial unique index states the condition its queries write out.
        for migration in [
            include_str!("../../migrations/sqlite/2026-11-30-000006_truck_visits/up.sql"),
            include_str!("../../migrations/postgres/2026-11-30-000006_truck_visits/up.sql"),
        ] {
            assert!(migration.contains("ON booking_declarations (declaration_id) WHERE active;"));
        }
    }
}
