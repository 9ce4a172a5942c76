//! The `waitlist_entries` table. Status changes are guarded UPDATEs
//! (`… WHERE status = <expected>`), so that two instances offering places
//! can never hand one entry two offers.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{enterprises, waitlist_entries};
use super::DbConnection;
use crate::domain::goods::TransportMode;
use crate::domain::hold::WaitlistStatus;
use crate::domain::identity::CreditClass;

/// An entry as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = waitlist_entries)]
pub struct EntryRow {
    pub id: String,
    pub enterprise_id: String,
    pub declaration_id: String,
    pub site_id: String,
    pub mode: TransportMode,
    pub window_from: NaiveDateTime,
    pub window_to: NaiveDateTime,
    pub status: WaitlistStatus,
    /// The hold of the current (or last) offer.
    pub hold_id: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

super::row_access!(waitlist_entries, EntryRow, insert);

/// Waiting entries of a site and mode whose window holds `starts_at`, with
/// their enterprise's credit class. On PostgreSQL their rows are locked,
/// skipping those another transaction holds (being withdrawn, closed or
/// offered elsewhere right now): the caller then offers to the next.
pub fn candidates(
    conn: &mut DbConnection,
    site_id: &str,
    mode: TransportMode,
    starts_at: NaiveDateTime,
) -> QueryResult<Vec<EntryRow>> {
    let q = waitlist_entries::table
        .filter(waitlist_entries::site_id.eq(site_id))
        .filter(waitlist_entries::mode.eq(mode))
        .filter(waitlist_entries::status.eq(WaitlistStatus::Waiting))
        .filter(waitlist_entries::window_from.le(starts_at))
        .filter(waitlist_entries::window_to.gt(starts_at))
        .order((waitlist_entries::created_at.asc(), waitlist_entries::id.asc()))
        .limit(200);
    match conn {
        DbConnection::Postgres(pg) => q.select(EntryRow::as_select()).for_update().skip_locked().load(pg),
        DbConnection::Sqlite(lite) => q.select(EntryRow::as_select()).load(lite),
    }
}

/// The credit class of each of these enterprises.
pub fn credit_classes(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<Vec<(String, CreditClass)>> {
    enterprises::table
        .filter(enterprises::id.eq_any(ids))
        .select((enterprises::id, enterprises::credit_class))
        .load(conn)
}

/// Every waiting entry of a site and mode, with its enterprise's credit
/// class (for positions).
pub fn waiting_at(
    conn: &mut DbConnection,
    site_id: &str,
    mode: TransportMode,
) -> QueryResult<Vec<(EntryRow, CreditClass)>> {
    waitlist_entries::table
        .inner_join(enterprises::table.on(enterprises::id.eq(waitlist_entries::enterprise_id)))
        .filter(waitlist_entries::site_id.eq(site_id))
        .filter(waitlist_entries::mode.eq(mode))
        .filter(waitlist_entries::status.eq(WaitlistStatus::Waiting))
        .select((EntryRow::as_select(), enterprises::credit_class))
        .load(conn)
}

/// Moves an entry from `from` to `to`, setting its hold; 0 rows = it was
/// no longer `from`.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: WaitlistStatus,
    to: WaitlistStatus,
    hold_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        waitlist_entries::table.filter(waitlist_entries::id.eq(id)).filter(waitlist_entries::status.eq(from)),
    )
    .set((waitlist_entries::status.eq(to), waitlist_entries::hold_id.eq(hold_id), waitlist_entries::updated_at.eq(now)))
    .execute(conn)
}

/// The live (waiting or offered) entries of these declarations.
pub fn live_for_declarations(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<Vec<EntryRow>> {
    waitlist_entries::table
        .filter(waitlist_entries::declaration_id.eq_any(ids))
        .filter(waitlist_entries::status.eq_any(WaitlistStatus::LIVE))
        .select(EntryRow::as_select())
        .load(conn)
}

/// Waiting entries whose window has passed at `now`, at most `batch`.
pub fn waiting_past(conn: &mut DbConnection, now: NaiveDateTime, batch: i64) -> QueryResult<Vec<EntryRow>> {
    waitlist_entries::table
        .filter(waitlist_entries::status.eq(WaitlistStatus::Waiting))
        .filter(waitlist_entries::window_to.le(now))
        .limit(batch)
        .select(EntryRow::as_select())
        .load(conn)
}

/// An enterprise's entries, newest first, after the cursor `after` (an id).
pub fn list_for(
    conn: &mut DbConnection,
    enterprise_id: &str,
    status: Option<WaitlistStatus>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<EntryRow>> {
    let mut q = waitlist_entries::table
        .filter(waitlist_entries::enterprise_id.eq(enterprise_id))
        .select(EntryRow::as_select())
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(waitlist_entries::status.eq(s));
    }
    if let Some(a) = after {
        q = q.filter(waitlist_entries::id.lt(a.to_owned()));
    }
    q.order(waitlist_entries::id.desc()).limit(limit).load(conn)
}
