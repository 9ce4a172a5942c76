//! The `holds` table, and the enterprises' `live_holds` counter. Every
//! change of status is a guarded UPDATE (`… WHERE status = 'active'`): of
//! two instances (or a sweep and a request) that would end one hold, one
//! changes it and frees its place; the other changes nothing.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::fixed::{fixed, Condition};
use super::schema::{enterprises, holds};
use super::DbConnection;
use crate::domain::hold::HoldStatus;

/// A live hold, written as the WHERE of the partial indexes
/// `holds_active_slot` and `holds_active_expiry`: in the statement's text,
/// so that PostgreSQL's generic plans (every write transaction's) and
/// SQLite use them; a bound `status = $1` could not.
pub struct LiveHold;

impl Condition for LiveHold {
    const SQL: &'static str = "holds.status = 'active'";
}

/// A hold as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = holds)]
pub struct HoldRow {
    pub id: String,
    pub enterprise_id: String,
    pub slot_id: String,
    pub status: HoldStatus,
    /// The waitlist entry it was offered to; `None`: the company took it
    /// (then it counts in the enterprise's `live_holds`).
    pub entry_id: Option<String>,
    /// The booking it became.
    pub booking_id: Option<String>,
    pub created_by: Option<String>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

super::row_access!(holds, HoldRow, insert);

/// Counts one more live hold of an enterprise if it has fewer than `max`:
/// one guarded statement (`UPDATE enterprises SET live_holds = live_holds
/// + 1 WHERE id = ? AND live_holds < ?`); 0 rows = the limit is reached.
pub fn count_in(conn: &mut DbConnection, enterprise_id: &str, max: i32) -> QueryResult<usize> {
    diesel::update(enterprises::table.filter(enterprises::id.eq(enterprise_id)).filter(enterprises::live_holds.lt(max)))
        .set(enterprises::live_holds.eq(enterprises::live_holds + 1))
        .execute(conn)
}

/// Counts one live hold of an enterprise less (never below zero).
pub fn count_out(conn: &mut DbConnection, enterprise_id: &str) -> QueryResult<usize> {
    diesel::update(enterprises::table.filter(enterprises::id.eq(enterprise_id)).filter(enterprises::live_holds.gt(0)))
        .set(enterprises::live_holds.eq(enterprises::live_holds - 1))
        .execute(conn)
}

/// Ends a hold that is still `active`: 0 rows = it ended meanwhile.
pub fn end(
    conn: &mut DbConnection,
    id: &str,
    to: HoldStatus,
    booking_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(holds::table.filter(holds::id.eq(id)).filter(holds::status.eq(HoldStatus::Active)))
        .set((holds::status.eq(to), holds::booking_id.eq(booking_id), holds::updated_at.eq(now)))
        .execute(conn)
}

/// Live holds of a slot past their expiry at `now`.
pub fn expired_in_slot(conn: &mut DbConnection, slot_id: &str, now: NaiveDateTime) -> QueryResult<Vec<HoldRow>> {
    holds::table
        .filter(holds::slot_id.eq(slot_id))
        .filter(fixed::<LiveHold>())
        .filter(holds::expires_at.le(now))
        .select(HoldRow::as_select())
        .load(conn)
}

/// Live holds past their expiry at `now`, oldest expiry first, at most `batch`.
pub fn expired(conn: &mut DbConnection, now: NaiveDateTime, batch: i64) -> QueryResult<Vec<HoldRow>> {
    holds::table
        .filter(fixed::<LiveHold>())
        .filter(holds::expires_at.le(now))
        .order((holds::expires_at.asc(), holds::id.asc()))
        .limit(batch)
        .select(HoldRow::as_select())
        .load(conn)
}

/// Live holds of these slots.
pub fn active_in_slots(conn: &mut DbConnection, slot_ids: &[&str]) -> QueryResult<Vec<HoldRow>> {
    holds::table
        .filter(holds::slot_id.eq_any(slot_ids))
        .filter(fixed::<LiveHold>())
        .order(holds::id.asc())
        .select(HoldRow::as_select())
        .load(conn)
}

/// Live holds of an enterprise in a slot (they count toward its share).
pub fn active_in_slot_for(conn: &mut DbConnection, slot_id: &str, enterprise_id: &str) -> QueryResult<i64> {
    holds::table
        .filter(holds::slot_id.eq(slot_id))
        .filter(holds::enterprise_id.eq(enterprise_id))
        .filter(fixed::<LiveHold>())
        .count()
        .get_result(conn)
}

/// An enterprise's holds, newest first, after the cursor `after` (an id).
pub fn list_for(
    conn: &mut DbConnection,
    enterprise_id: &str,
    status: Option<HoldStatus>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<HoldRow>> {
    let mut q = holds::table.filter(holds::enterprise_id.eq(enterprise_id)).select(HoldRow::as_select()).into_boxed();
    if let Some(s) = status {
        q = q.filter(holds::status.eq(s));
    }
    if let Some(a) = after {
        q = q.filter(holds::id.lt(a.to_owned()));
    }
    q.order(holds::id.desc()).limit(limit).load(conn)
}

#[cfg(test)]
mod tests {
    use super::LiveHold;
    use crate::db::fixed::Condition;
    use crate::domain::hold::HoldStatus;

    /// The literal is the domain's live status and the partial indexes' WHERE.
    #[test]
    fn the_live_hold_literal_is_the_index_where() {
        assert_eq!(LiveHold::SQL, format!("holds.status = '{}'", HoldStatus::Active.as_str()));
        for migration in [
            include_str!("../../migrations/sqlite/2026-12-07-000011_holds_waitlist/up.sql"),
            include_str!("../../migrations/postgres/2026-12-07-000011_holds_waitlist/up.sql"),
        ] {
            assert!(migration.contains("ON holds (slot_id, expires_at) WHERE status = 'active';"));
            assert!(migration.contains("ON holds (expires_at) WHERE status = 'active';"));
        }
    }
}
