//! The `closures` and `closure_slots` tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{closure_slots, closures};
use super::DbConnection;
use crate::domain::closure::Rebook;
use crate::domain::goods::TransportMode;
use crate::domain::slot::SlotStatus;

/// One closure as stored; also what `insert` writes.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = closures, treat_none_as_default_value = false)]
pub struct ClosureRow {
    pub id: String,
    pub site_id: String,
    /// `None`: every mode of the site.
    pub mode: Option<TransportMode>,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    /// `None`: the slots are closed.
    pub capacity: Option<i32>,
    pub reason: String,
    pub rebook: Rebook,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub lifted_at: Option<NaiveDateTime>,
    pub lifted_by: Option<String>,
}

super::row_access!(closures, ClosureRow, insert);

/// What a slot was before a closure bound it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = closure_slots, treat_none_as_default_value = false)]
pub struct ClosureSlotRow {
    pub closure_id: String,
    pub slot_id: String,
    pub previous_capacity: i32,
    pub previous_status: SlotStatus,
}

/// Records the slots a closure bound (per backend: batch insert).
pub fn insert_slots(conn: &mut DbConnection, rows: &[ClosureSlotRow]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in rows.chunks(500) {
        let chunk = chunk.to_vec();
        n += match conn {
            DbConnection::Postgres(pg) => diesel::insert_into(closure_slots::table).values(chunk).execute(pg)?,
            DbConnection::Sqlite(lite) => diesel::insert_into(closure_slots::table).values(chunk).execute(lite)?,
        };
    }
    Ok(n)
}

/// The slots a closure bound.
pub fn slots_of(conn: &mut DbConnection, closure_id: &str) -> QueryResult<Vec<ClosureSlotRow>> {
    closure_slots::table.filter(closure_slots::closure_id.eq(closure_id)).select(ClosureSlotRow::as_select()).load(conn)
}

/// The active closures of a site that bind slots of `mode` starting in
/// [from, to), oldest first.
pub fn active_covering(
    conn: &mut DbConnection,
    site_id: &str,
    mode: TransportMode,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<ClosureRow>> {
    closures::table
        .filter(closures::site_id.eq(site_id))
        .filter(closures::mode.is_null().or(closures::mode.eq(mode)))
        .filter(closures::lifted_at.is_null())
        .filter(closures::starts_at.lt(to))
        .filter(closures::ends_at.gt(from))
        .order((closures::created_at.asc(), closures::id.asc()))
        .select(ClosureRow::as_select())
        .load(conn)
}

/// A page of a site's closures, newest first (by id, time-ordered).
pub fn list(conn: &mut DbConnection, site_id: &str, after: Option<&str>, limit: i64) -> QueryResult<Vec<ClosureRow>> {
    let mut q = closures::table.filter(closures::site_id.eq(site_id)).select(ClosureRow::as_select()).into_boxed();
    if let Some(a) = after {
        q = q.filter(closures::id.lt(a.to_owned()));
    }
    q.order(closures::id.desc()).limit(limit).load(conn)
}

/// Marks a closure lifted; 0 rows = it was lifted already.
pub fn lift(conn: &mut DbConnection, id: &str, by: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(closures::table.filter(closures::id.eq(id)).filter(closures::lifted_at.is_null()))
        .set((closures::lifted_at.eq(Some(now)), closures::lifted_by.eq(Some(by))))
        .execute(conn)
}

/// Sets what a closure remembers of a slot.
pub fn remember(
    conn: &mut DbConnection,
    closure_id: &str,
    slot_id: &str,
    capacity: i32,
    status: SlotStatus,
) -> QueryResult<usize> {
    diesel::update(
        closure_slots::table
            .filter(closure_slots::closure_id.eq(closure_id))
            .filter(closure_slots::slot_id.eq(slot_id)),
    )
    .set((closure_slots::previous_capacity.eq(capacity), closure_slots::previous_status.eq(status)))
    .execute(conn)
}

/// Sets the capacity a closure gives back to a slot (a schedule changed it).
pub fn update_previous_capacity(
    conn: &mut DbConnection,
    closure_id: &str,
    slot_id: &str,
    capacity: i32,
) -> QueryResult<usize> {
    diesel::update(
        closure_slots::table
            .filter(closure_slots::closure_id.eq(closure_id))
            .filter(closure_slots::slot_id.eq(slot_id)),
    )
    .set(closure_slots::previous_capacity.eq(capacity))
    .execute(conn)
}
