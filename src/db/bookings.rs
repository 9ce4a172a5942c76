//! The `bookings` and `idempotency_keys` tables. Status changes are guarded
//! (`WHERE status = …`), so that of two racing cancels exactly one wins
//! and frees the place.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{bookings, clearance_slots, declarations, enterprises, idempotency_keys, sites};
use super::slots::SlotRow;
use super::DbConnection;
use crate::domain::booking_policy::BookingStatus;
use crate::domain::declaration::DeclarationStatus;
use crate::domain::goods::TransportMode;
use crate::domain::identity::{CreditClass, EnterpriseStatus};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bookings)]
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
}

super::row_access!(bookings, BookingRow, insert);

/// [`BookingStatus::ACTIVE`] as SQL text: the WHERE of the partial unique
/// index on active bookings (one per declaration) in both migrations. The
/// one status literal outside the domain, because SQLite uses a partial
/// index only when the query's test is the index's, written out, not bound
/// parameters; a test holds it equal to the domain's set.
pub const ACTIVE_BOOKING_SQL: &str = "bookings.status IN ('confirmed', 'checked_in')";

/// "The booking is active", as the partial index needs it (see above).
fn is_active() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(ACTIVE_BOOKING_SQL)
}

/// The declaration's active booking, if any (by the partial unique index).
pub fn active_for_declaration(conn: &mut DbConnection, declaration_id: &str) -> QueryResult<Option<BookingRow>> {
    bookings::table
        .filter(bookings::declaration_id.eq(declaration_id))
        .filter(is_active())
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

/// Confirmed bookings of a slot, latest first (the first to be displaced).
pub fn confirmed_in_slot_latest_first(conn: &mut DbConnection, slot_id: &str) -> QueryResult<Vec<BookingRow>> {
    bookings::table
        .filter(bookings::slot_id.eq(slot_id))
        .filter(bookings::status.eq(BookingStatus::Confirmed))
        .order(bookings::id.desc())
        .select(BookingRow::as_select())
        .load(conn)
}

/// Moves a booking from `from` to `to` status; 0 rows = it was not in `from`.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: BookingStatus,
    to: BookingStatus,
    reason: Option<&str>,
    by_role: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(bookings::table.filter(bookings::id.eq(id)).filter(bookings::status.eq(from)))
        .set((
            bookings::status.eq(to),
            bookings::cancel_reason.eq(reason),
            bookings::cancelled_by_role.eq(by_role),
            bookings::updated_at.eq(now),
        ))
        .execute(conn)
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
    .set((bookings::slot_id.eq(to_slot), bookings::updated_at.eq(now)))
    .execute(conn)
}

/// A page of bookings (company: its own; customs: by site/slot), id order.
#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub enterprise_id: Option<String>,
    pub slot_id: Option<String>,
    pub site_id: Option<String>,
    pub declaration_id: Option<String>,
    pub status: Option<BookingStatus>,
    pub limit: i64,
}

/// A page of bookings with their slots and sites' time zones, in one
/// joined query (what the list answers are built from).
pub fn list_views(
    conn: &mut DbConnection,
    f: &BookingFilter,
    after: Option<&str>,
) -> QueryResult<Vec<(BookingRow, SlotRow, String)>> {
    let mut q = bookings::table
        .inner_join(clearance_slots::table.inner_join(sites::table))
        .select((BookingRow::as_select(), SlotRow::as_select(), sites::timezone))
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
    if let Some(d) = &f.declaration_id {
        q = q.filter(bookings::declaration_id.eq(d.clone()));
    }
    if let Some(s) = &f.status {
        q = q.filter(bookings::status.eq(*s));
    }
    if let Some(a) = after {
        q = q.filter(bookings::id.gt(a.to_owned()));
    }
    q.order(bookings::id.asc()).limit(f.limit).load(conn)
}

/// What a booking needs to know of the declaration it locks: where and
/// how it clears, its enterprise's standing, and whether it already holds
/// an active booking.
#[derive(Debug, Clone, Queryable)]
pub struct BookingContext {
    pub site_id: String,
    pub transport_mode: TransportMode,
    pub enterprise_status: EnterpriseStatus,
    pub credit_class: CreditClass,
    pub has_active_booking: bool,
}

/// Takes the declaration's row lock if it belongs to the enterprise and is
/// in a bookable state, and reads the booking's context in the same
/// statement; `None` (and no lock) otherwise. Declarations are locked
/// before slots and slots before bookings, everywhere, so no two
/// transactions wait on each other in a cycle.
///
/// The enterprise's standing and the active-booking test are subqueries,
/// so that only the declaration's row is locked. On PostgreSQL they read
/// the statement's snapshot, which may predate a booking committed by the
/// transaction this one queued behind: the unique index on active
/// bookings catches that one when the booking is inserted.
pub fn lock_for_booking(conn: &mut DbConnection, id: &str, enterprise_id: &str) -> QueryResult<Option<BookingContext>> {
    let active = bookings::table.filter(bookings::declaration_id.eq(declarations::id)).filter(is_active());
    let enterprise = enterprises::table.filter(enterprises::id.eq(declarations::enterprise_id));
    let q = declarations::table
        .filter(declarations::id.eq(id))
        .filter(declarations::enterprise_id.eq(enterprise_id))
        .filter(declarations::status.eq_any(DeclarationStatus::BOOKABLE))
        .select((
            declarations::site_id,
            declarations::transport_mode,
            enterprise.select(enterprises::status).single_value().assume_not_null(),
            enterprise.select(enterprises::credit_class).single_value().assume_not_null(),
            diesel::dsl::exists(active),
        ));
    match conn {
        DbConnection::Postgres(pg) => q.for_no_key_update().first(pg).optional(),
        DbConnection::Sqlite(lite) => q.first(lite).optional(),
    }
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
#[diesel(table_name = idempotency_keys)]
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
    idempotency_keys::table.find((enterprise_id, key)).select(IdempotencyRow::as_select()).first(conn).optional()
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
    use crate::domain::booking_policy::BookingStatus;

    /// The partial index's literal and the domain's set are the same set.
    #[test]
    fn the_active_booking_literal_is_the_domain_set() {
        let listed: Vec<String> = BookingStatus::ACTIVE.iter().map(|s| format!("'{s}'")).collect();
        assert_eq!(ACTIVE_BOOKING_SQL, format!("bookings.status IN ({})", listed.join(", ")));
        for migration in [
            include_str!("../../migrations/sqlite/2026-11-29-000004_bookings/up.sql"),
            include_str!("../../migrations/postgres/2026-11-29-000004_bookings/up.sql"),
        ] {
            let index_where = format!("WHERE status IN ({})", listed.join(", "));
            assert!(migration.contains(&index_where), "the partial index's WHERE must be {index_where}");
        }
    }
}
