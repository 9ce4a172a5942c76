//! The `clearance_slots` table. `booked` is only ever changed by guarded
//! single statements (`… WHERE booked < capacity`), never read-then-write;
//! the table's CHECK refuses `booked > capacity` whatever happens. The
//! reserve for advanced-certified enterprises (`domain::reserve`) is part of
//! the same guard.
//!
//! Holds (issue 16) take places too: `held` counts them beside `booked`,
//! every guard reads `booked + held` as the places taken, and the CHECK is
//! `booked + held <= capacity`.
//!
//! Every statement here that writes a slot returns the `site_id` of the
//! rows it changed and hands them to `changes::noted` (a test checks each
//! writing function does), so that cached boards of those sites are
//! dropped when the transaction ends (`db::changes`).

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Integer, Text, Timestamp};

use super::changes::noted;
use super::schema::clearance_slots;
use super::sites::SiteTerms;
use super::DbConnection;
use crate::domain::goods::TransportMode;
use crate::domain::reserve::SlotPlaces;
use crate::domain::slot::SlotStatus;

/// A slot as stored; also what `insert_all` writes.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clearance_slots, treat_none_as_default_value = false)]
pub struct SlotRow {
    pub id: String,
    pub site_id: String,
    pub mode: TransportMode,
    pub schedule_id: Option<String>,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub capacity: i32,
    pub booked: i32,
    pub status: SlotStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The last places, held for advanced-certified enterprises until `reserved_until`.
    pub reserved_advanced: i32,
    pub release_minutes: i32,
    /// `starts_at - release_minutes`, kept in step by every writer of
    /// either; `None` (rows older than the column) reads as `starts_at`.
    pub reserved_until: Option<NaiveDateTime>,
    /// Places taken by live holds (not yet bookings).
    pub held: i32,
}

impl SlotRow {
    /// Places taken: booked or held.
    pub fn taken(&self) -> i32 {
        self.booked + self.held
    }

    /// When the reserve is released.
    pub fn reserved_until(&self) -> NaiveDateTime {
        self.reserved_until.unwrap_or(self.starts_at)
    }

    /// What the reserve rule reads of this slot.
    pub fn places(&self) -> SlotPlaces {
        SlotPlaces {
            status: self.status,
            capacity: self.capacity,
            booked: self.taken(),
            reserved_advanced: self.reserved_advanced,
            reserved_until: self.reserved_until().and_utc(),
        }
    }
}

/// Inserts new slots in multi-row batches (written per backend: the
/// two-backend connection type has no batch insert).
pub fn insert_all(conn: &mut DbConnection, slots: &[SlotRow]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in slots.chunks(200) {
        let rows = chunk.to_vec();
        n += match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(clearance_slots::table).values(rows).execute(c)?,
            DbConnection::Postgres(c) => diesel::insert_into(clearance_slots::table).values(rows).execute(c)?,
        };
    }
    let mut sites: Vec<String> = slots.iter().map(|s| s.site_id.clone()).collect();
    sites.dedup();
    noted(sites);
    Ok(n)
}

/// Starts of the slots that exist for a site and mode in `[from, to)`.
pub fn existing_starts(
    conn: &mut DbConnection,
    site_id: &str,
    mode: TransportMode,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<NaiveDateTime>> {
    clearance_slots::table
        .filter(clearance_slots::site_id.eq(site_id))
        .filter(clearance_slots::mode.eq(mode))
        .filter(clearance_slots::starts_at.ge(from))
        .filter(clearance_slots::starts_at.lt(to))
        .select(clearance_slots::starts_at)
        .load(conn)
}

super::row_access!(clearance_slots, SlotRow);

/// A slot with its site's time zone and policy, in one joined statement.
pub fn find_with_site(conn: &mut DbConnection, id: &str) -> QueryResult<Option<(SlotRow, SiteTerms)>> {
    clearance_slots::table
        .inner_join(super::schema::sites::table)
        .filter(clearance_slots::id.eq(id))
        .select((SlotRow::as_select(), SiteTerms::as_select()))
        .first(conn)
        .optional()
}

impl SlotRow {
    /// What the booking rules need to know of the slot.
    pub fn facts(&self) -> crate::domain::booking_policy::SlotFacts {
        crate::domain::booking_policy::SlotFacts {
            open: self.status == SlotStatus::Open,
            starts_at: self.starts_at.and_utc(),
            capacity: i64::from(self.capacity),
            booked: i64::from(self.taken()),
        }
    }
}

/// What `GET /slots` asks for.
#[derive(Debug, Clone)]
pub struct SlotFilter {
    pub site_id: Option<String>,
    /// Only slots of these sites (an officer limited to sites).
    pub sites: Option<Vec<String>>,
    pub mode: Option<TransportMode>,
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub only_available: bool,
    /// With `only_available`, for a caller that may not take reserved
    /// places (a company not advanced-certified): leave out slots whose
    /// free places are all reserved at this instant.
    pub reserve_applies_at: Option<NaiveDateTime>,
    /// Resume after this (starts_at, id).
    pub after: Option<(NaiveDateTime, String)>,
    pub limit: i64,
}

/// Slots in `[from, to)` ordered by start then id, each with its site's
/// zone and policy. One indexed range scan on (site_id, mode, starts_at).
pub fn list(conn: &mut DbConnection, f: &SlotFilter) -> QueryResult<Vec<(SlotRow, SiteTerms)>> {
    let mut q = clearance_slots::table
        .inner_join(super::schema::sites::table)
        .filter(clearance_slots::starts_at.ge(f.from))
        .filter(clearance_slots::starts_at.lt(f.to))
        .select((SlotRow::as_select(), SiteTerms::as_select()))
        .into_boxed();
    if let Some(s) = &f.site_id {
        q = q.filter(clearance_slots::site_id.eq(s.clone()));
    }
    if let Some(ids) = &f.sites {
        q = q.filter(clearance_slots::site_id.eq_any(ids.clone()));
    }
    if let Some(m) = &f.mode {
        q = q.filter(clearance_slots::mode.eq(*m));
    }
    if f.only_available {
        q = q
            .filter(clearance_slots::status.eq(SlotStatus::Open))
            .filter((clearance_slots::booked + clearance_slots::held).lt(clearance_slots::capacity));
        if let Some(now) = f.reserve_applies_at {
            q = q.filter(
                (clearance_slots::booked + clearance_slots::held)
                    .lt(clearance_slots::capacity - clearance_slots::reserved_advanced)
                    .nullable()
                    .or(clearance_slots::reserved_until.le(now)),
            );
        }
    }
    if let Some((t, id)) = &f.after {
        q = q.filter(
            clearance_slots::starts_at
                .gt(*t)
                .or(clearance_slots::starts_at.eq(*t).and(clearance_slots::id.gt(id.clone()))),
        );
    }
    q.order((clearance_slots::starts_at.asc(), clearance_slots::id.asc())).limit(f.limit).load(conn)
}

/// Sets a slot's capacity if it is not below the places taken (booked or
/// held); 0 rows = more is taken than the new capacity.
pub fn set_capacity(conn: &mut DbConnection, id: &str, capacity: i32, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        clearance_slots::table
            .filter(clearance_slots::id.eq(id))
            .filter((clearance_slots::booked + clearance_slots::held).le(capacity)),
    )
    .set((clearance_slots::capacity.eq(capacity), clearance_slots::updated_at.eq(now)))
    .returning(clearance_slots::site_id)
    .get_results(conn)
    .map(noted)
}

/// Opens or closes a slot; returns rows changed (0 if already so).
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: SlotStatus,
    to: SlotStatus,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(clearance_slots::table.filter(clearance_slots::id.eq(id)).filter(clearance_slots::status.eq(from)))
        .set((clearance_slots::status.eq(to), clearance_slots::updated_at.eq(now)))
        .returning(clearance_slots::site_id)
        .get_results(conn)
        .map(noted)
}

/// A slot's capacity and places taken, as of a change to them.
#[derive(Debug, Clone, Copy, Queryable)]
pub struct Places {
    pub capacity: i32,
    pub booked: i32,
    pub held: i32,
}

impl Places {
    /// Places taken: booked or held.
    pub fn taken(&self) -> i32 {
        self.booked + self.held
    }
}

/// Which count a taken place goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A booking.
    Booked,
    /// A hold.
    Held,
}

/// Sets a slot's reserve for advanced-certified enterprises, `(places,
/// release_minutes)`, with the instant it is released
/// (`domain::reserve::reserved_until` of its start), if it still is `from`;
/// 0 rows = it changed meanwhile.
pub fn set_reserve(
    conn: &mut DbConnection,
    id: &str,
    from: (i32, i32),
    (reserved_advanced, release_minutes): (i32, i32),
    reserved_until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        clearance_slots::table
            .filter(clearance_slots::id.eq(id))
            .filter(clearance_slots::reserved_advanced.eq(from.0))
            .filter(clearance_slots::release_minutes.eq(from.1)),
    )
    .set((
        clearance_slots::reserved_advanced.eq(reserved_advanced),
        clearance_slots::release_minutes.eq(release_minutes),
        clearance_slots::reserved_until.eq(Some(reserved_until)),
        clearance_slots::updated_at.eq(now),
    ))
    .returning(clearance_slots::site_id)
    .get_results(conn)
    .map(noted)
}

/// Takes one place if the slot is open and not full, and the place is not
/// one held for advanced-certified enterprises from this caller: the
/// capacity check, the reserve check and the count change are one
/// statement,
///
/// `UPDATE clearance_slots SET booked = booked + 1 WHERE id = ? AND status =
/// 'open' AND booked + held < capacity AND (? OR booked + held < capacity -
/// reserved_advanced OR reserved_until <= ?)`
///
/// with `advanced` (the caller's enterprise is advanced-certified) and
/// `now` (the request's instant) bound. Returns the slot's places after the
/// change (`None` = full, closed or reserved, nothing taken). From here to
/// commit the transaction holds the slot's row lock.
pub fn take_place(
    conn: &mut DbConnection,
    id: &str,
    advanced: bool,
    now: NaiveDateTime,
) -> QueryResult<Option<Places>> {
    take(conn, id, advanced, now, Counter::Booked)
}

/// [`take_place`] for either count: a booking (`booked + 1`) or a hold
/// (`held + 1`), under the same guard on `booked + held`.
pub fn take(
    conn: &mut DbConnection,
    id: &str,
    advanced: bool,
    now: NaiveDateTime,
    into: Counter,
) -> QueryResult<Option<Places>> {
    take_with(conn, TakeStatement { id, advanced, now, into }, None)
}

/// Writes that go with a place taken (a new booking's rows), run just
/// before the guarded UPDATE: on PostgreSQL as one statement of
/// data-modifying `WITH` clauses, so that a booking's every row costs one
/// round trip ([`AllOf`] says why not in the UPDATE's own statement); on
/// SQLite (in the process, no round trip to save) as statements of their
/// own. Either way the caller's transaction is rolled back when no place
/// is taken.
pub trait WithPlace {
    /// `WITH a AS (INSERT …), b AS (INSERT …) ` (a trailing space, no
    /// RETURNING needed: PostgreSQL runs every data-modifying WITH clause).
    fn walk_with<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()>;
    /// The same writes as separate statements (SQLite).
    fn write_apart(&self, conn: &mut DbConnection) -> QueryResult<()>;
}

/// [`take_place`] with `first` written just before it. See [`WithPlace`].
pub fn take_place_with(
    conn: &mut DbConnection,
    id: &str,
    advanced: bool,
    now: NaiveDateTime,
    first: &dyn WithPlace,
) -> QueryResult<Option<Places>> {
    take_with(conn, TakeStatement { id, advanced, now, into: Counter::Booked }, Some(first))
}

fn take_with(
    conn: &mut DbConnection,
    take: TakeStatement<'_>,
    first: Option<&dyn WithPlace>,
) -> QueryResult<Option<Places>> {
    if let (Some(first), DbConnection::Sqlite(_)) = (first, &*conn) {
        first.write_apart(conn)?;
    }
    let taken: Option<(i32, i32, i32, String)> = match conn {
        DbConnection::Postgres(pg) => {
            if let Some(first) = first {
                AllOf(first).execute(pg)?;
            }
            take.get_result(pg).optional()?
        }
        DbConnection::Sqlite(lite) => take.get_result(lite).optional()?,
    };
    Ok(taken.map(|(capacity, booked, held, site_id)| {
        noted(vec![site_id]);
        Places { capacity, booked, held }
    }))
}

/// The guarded UPDATE of [`take_place`], written out by hand rather than
/// with diesel's update builder: diesel never keeps an UPDATE as a prepared
/// statement (its changesets may vary), and this one runs in every booking
/// and hold, so PostgreSQL would parse and plan it each time. Its text is
/// fixed, so the connection prepares it once.
#[derive(Clone, Copy)]
struct TakeStatement<'a> {
    id: &'a str,
    advanced: bool,
    now: NaiveDateTime,
    into: Counter,
}

impl<DB> QueryFragment<DB> for TakeStatement<'_>
where
    DB: diesel::backend::Backend + HasSqlType<Bool> + HasSqlType<Timestamp>,
    str: ToSql<Text, DB>,
    bool: ToSql<Bool, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(match self.into {
            Counter::Booked => "UPDATE clearance_slots SET booked = booked + 1",
            Counter::Held => "UPDATE clearance_slots SET held = held + 1",
        });
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, str>(self.id)?;
        out.push_sql(" AND status = ");
        out.push_bind_param::<Text, str>(SlotStatus::Open.as_str())?;
        out.push_sql(" AND booked + held < capacity AND (");
        out.push_bind_param::<Bool, bool>(&self.advanced)?;
        out.push_sql(" OR booked + held < capacity - reserved_advanced OR reserved_until <= ");
        out.push_bind_param::<Timestamp, NaiveDateTime>(&self.now)?;
        out.push_sql(") RETURNING capacity, booked, held, site_id");
        Ok(())
    }
}

impl QueryId for TakeStatement<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for TakeStatement<'_> {
    type SqlType = (Integer, Integer, Integer, Text);
}

impl<C> RunQueryDsl<C> for TakeStatement<'_> {}

/// The `WITH` clauses of a [`WithPlace`] as one statement of their own
/// (PostgreSQL), run before the place's UPDATE rather than as part of it:
/// PostgreSQL runs the WITH clauses a statement does not read after its
/// main part, and their foreign-key checks at its end, so that in one
/// statement they would all run while the slot's row lock is held, and on
/// a busy slot every other booking would queue for that time too.
struct AllOf<'a>(&'a dyn WithPlace);

impl QueryFragment<Pg> for AllOf<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_with(out.reborrow())?;
        out.push_sql("SELECT 1");
        Ok(())
    }
}

impl QueryId for AllOf<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C> RunQueryDsl<C> for AllOf<'_> {}

/// Gives one held place back (never below zero).
pub fn release_held(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::update(clearance_slots::table.filter(clearance_slots::id.eq(id)).filter(clearance_slots::held.gt(0)))
        .set(clearance_slots::held.eq(clearance_slots::held - 1))
        .returning(clearance_slots::site_id)
        .get_results(conn)
        .map(noted)
}

/// Turns one held place into a booked one, without checking capacity again
/// (the place is the hold's): `held - 1, booked + 1`, one statement.
pub fn convert_held(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::update(clearance_slots::table.filter(clearance_slots::id.eq(id)).filter(clearance_slots::held.gt(0)))
        .set((
            clearance_slots::held.eq(clearance_slots::held - 1),
            clearance_slots::booked.eq(clearance_slots::booked + 1),
        ))
        .returning(clearance_slots::site_id)
        .get_results(conn)
        .map(noted)
}

/// Gives one place back (never below zero).
pub fn release_place(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::update(clearance_slots::table.filter(clearance_slots::id.eq(id)).filter(clearance_slots::booked.gt(0)))
        .set(clearance_slots::booked.eq(clearance_slots::booked - 1))
        .returning(clearance_slots::site_id)
        .get_results(conn)
        .map(noted)
}

/// Puts back a place released earlier in the same transaction (the slot's
/// row lock is still held, so the count cannot have moved meanwhile).
pub fn restore_place(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::update(clearance_slots::table.filter(clearance_slots::id.eq(id)))
        .set(clearance_slots::booked.eq(clearance_slots::booked + 1))
        .returning(clearance_slots::site_id)
        .get_results(conn)
        .map(noted)
}

/// Future slots of a schedule from `from` on, for reshaping.
pub fn of_schedule_from(conn: &mut DbConnection, schedule_id: &str, from: NaiveDateTime) -> QueryResult<Vec<SlotRow>> {
    clearance_slots::table
        .filter(clearance_slots::schedule_id.eq(schedule_id))
        .filter(clearance_slots::starts_at.ge(from))
        .select(SlotRow::as_select())
        .order(clearance_slots::starts_at.asc())
        .load(conn)
}

/// Deletes a slot that no booking references (active or past); 0 if it has
/// one (got a booking meanwhile, or keeps a cancelled one's history).
pub fn delete_if_unbooked(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    use super::schema::bookings;
    // `booked` counts the active bookings only: a cancelled (or completed,
    // no-show) booking still references its slot, so that slot is kept.
    let referenced = diesel::dsl::exists(bookings::table.filter(bookings::slot_id.eq(id)));
    let held = diesel::dsl::exists(super::schema::holds::table.filter(super::schema::holds::slot_id.eq(id)));
    diesel::delete(
        clearance_slots::table
            .filter(clearance_slots::id.eq(id))
            .filter(clearance_slots::booked.eq(0))
            .filter(diesel::dsl::not(referenced))
            .filter(diesel::dsl::not(held)),
    )
    .returning(clearance_slots::site_id)
    .get_results(conn)
    .map(noted)
}

/// Takes the row locks of the slots of a site and mode starting in
/// [from, to), in id order, and reads them. SQLite's single writer holds
/// them all already.
pub fn lock_range(
    conn: &mut DbConnection,
    site_id: &str,
    mode: TransportMode,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<SlotRow>> {
    let q = clearance_slots::table
        .filter(clearance_slots::site_id.eq(site_id))
        .filter(clearance_slots::mode.eq(mode))
        .filter(clearance_slots::starts_at.ge(from))
        .filter(clearance_slots::starts_at.lt(to))
        .order(clearance_slots::id.asc());
    match conn {
        DbConnection::Postgres(pg) => q.select(SlotRow::as_select()).for_update().load(pg),
        DbConnection::Sqlite(lite) => q.select(SlotRow::as_select()).load(lite),
    }
}

/// Sets a slot's capacity and status outright: only under its row lock,
/// after the bookings that did not fit were moved or cancelled (the
/// table's CHECK still refuses `booked > capacity`).
pub fn set_shape(
    conn: &mut DbConnection,
    id: &str,
    capacity: i32,
    status: SlotStatus,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(clearance_slots::table.filter(clearance_slots::id.eq(id)))
        .set((
            clearance_slots::capacity.eq(capacity),
            clearance_slots::status.eq(status),
            clearance_slots::updated_at.eq(now),
        ))
        .returning(clearance_slots::site_id)
        .get_results(conn)
        .map(noted)
}

/// Takes one slot's row lock and reads it (SQLite: the single writer).
pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<Option<SlotRow>> {
    let q = clearance_slots::table.filter(clearance_slots::id.eq(id));
    match conn {
        DbConnection::Postgres(pg) => q.select(SlotRow::as_select()).for_update().first(pg).optional(),
        DbConnection::Sqlite(lite) => q.select(SlotRow::as_select()).first(lite).optional(),
    }
}
