//! What the reports and the calendar feed read: counts grouped by the
//! database, and the few rows they need, each in one statement.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::fixed::{fixed, Condition};
use super::schema::{audit_events, booking_declarations, bookings, clearance_slots, declarations, sites};
use super::DbConnection;
use crate::domain::booking_policy::BookingStatus;
use crate::domain::goods::TransportMode;
use crate::domain::report::SlotUsage;
use crate::domain::slot::SlotStatus;

/// The slots of a site starting in `[from, to)` (of one mode, or all), with
/// their bookings counted by status: two indexed range statements, the
/// bookings grouped by (slot, status) in the database.
pub fn slot_usage(
    conn: &mut DbConnection,
    site_id: &str,
    mode: Option<TransportMode>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<SlotUsage>> {
    let mut slots_q = clearance_slots::table
        .filter(clearance_slots::site_id.eq(site_id))
        .filter(clearance_slots::starts_at.ge(from))
        .filter(clearance_slots::starts_at.lt(to))
        .select((clearance_slots::id, clearance_slots::starts_at, clearance_slots::capacity, clearance_slots::status))
        .into_boxed();
    let mut counts_q = bookings::table
        .inner_join(clearance_slots::table)
        .filter(clearance_slots::site_id.eq(site_id))
        .filter(clearance_slots::starts_at.ge(from))
        .filter(clearance_slots::starts_at.lt(to))
        .group_by((bookings::slot_id, bookings::status))
        .select((bookings::slot_id, bookings::status, diesel::dsl::count_star()))
        .into_boxed();
    if let Some(m) = mode {
        slots_q = slots_q.filter(clearance_slots::mode.eq(m));
        counts_q = counts_q.filter(clearance_slots::mode.eq(m));
    }
    let slots: Vec<(String, NaiveDateTime, i32, SlotStatus)> = slots_q.load(conn)?;
    let counts: Vec<(String, BookingStatus, i64)> = counts_q.load(conn)?;
    let mut by_slot: HashMap<String, SlotUsage> = HashMap::with_capacity(slots.len());
    for (id, starts_at, capacity, status) in slots {
        let capacity = if status == SlotStatus::Open { i64::from(capacity) } else { 0 };
        by_slot.insert(id, SlotUsage { starts_at: starts_at.and_utc(), capacity, ..SlotUsage::default() });
    }
    for (slot_id, status, n) in counts {
        let Some(u) = by_slot.get_mut(&slot_id) else { continue };
        match status {
            BookingStatus::Cancelled => u.cancelled += n,
            BookingStatus::NoShow => {
                u.no_show += n;
                u.booked += n;
            }
            BookingStatus::CheckedIn | BookingStatus::Completed => {
                u.checked_in += n;
                u.booked += n;
            }
            BookingStatus::Confirmed => u.booked += n,
        }
    }
    Ok(by_slot.into_values().collect())
}

/// An audit event of a declaration, written as the WHERE of the partial
/// index `audit_events_decisions` (to_state, occurred_at), which both
/// databases then use.
pub struct OnDeclaration;

impl Condition for OnDeclaration {
    const SQL: &'static str = "audit_events.entity_type = 'declaration'";
}

/// The final decisions (approved or rejected) on declarations made in
/// `[from, to)`, as (declaration id, submitted at, decided at), of the
/// given sites (or all): read from the audit trail, where every transition
/// is recorded with its instant.
pub fn decisions(
    conn: &mut DbConnection,
    sites_only: Option<&[String]>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(String, NaiveDateTime, NaiveDateTime)>> {
    let mut q = audit_events::table
        .inner_join(declarations::table.on(declarations::id.eq(audit_events::entity_id)))
        .filter(fixed::<OnDeclaration>())
        .filter(audit_events::to_state.eq_any(["approved", "rejected"]))
        .filter(audit_events::occurred_at.ge(from))
        .filter(audit_events::occurred_at.lt(to))
        .filter(declarations::submitted_at.is_not_null())
        .select((declarations::id, declarations::submitted_at.assume_not_null(), audit_events::occurred_at))
        .order((audit_events::occurred_at.asc(), audit_events::id.asc()))
        .into_boxed();
    if let Some(ids) = sites_only {
        q = q.filter(declarations::site_id.eq_any(ids.to_vec()));
    }
    q.load(conn)
}

/// An active booking as the calendar feed shows it.
#[derive(Debug, Clone, Queryable)]
pub struct FeedBooking {
    pub id: String,
    pub status: BookingStatus,
    pub vehicle_plate: Option<String>,
    pub updated_at: NaiveDateTime,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub mode: TransportMode,
    pub site_code: String,
    pub site_name: String,
    pub timezone: String,
}

/// Most events one feed lists (the next ones first).
pub const MAX_FEED_EVENTS: i64 = 1000;

/// An enterprise's active bookings (confirmed or checked in), by slot start,
/// with the declaration numbers (or ids, for declarations not yet numbered)
/// each visit carries.
pub fn active_for_feed(conn: &mut DbConnection, enterprise_id: &str) -> QueryResult<Vec<(FeedBooking, Vec<String>)>> {
    let rows: Vec<FeedBooking> = bookings::table
        .inner_join(clearance_slots::table.inner_join(sites::table))
        .filter(bookings::enterprise_id.eq(enterprise_id))
        .filter(bookings::status.eq_any(BookingStatus::ACTIVE))
        .select((
            bookings::id,
            bookings::status,
            bookings::vehicle_plate,
            bookings::updated_at,
            clearance_slots::starts_at,
            clearance_slots::ends_at,
            clearance_slots::mode,
            sites::code,
            sites::name,
            sites::timezone,
        ))
        .order((clearance_slots::starts_at.asc(), bookings::id.asc()))
        .limit(MAX_FEED_EVENTS)
        .load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let carried: Vec<(String, String, Option<String>)> = if ids.is_empty() {
        Vec::new()
    } else {
        booking_declarations::table
            .inner_join(declarations::table.on(declarations::id.eq(booking_declarations::declaration_id)))
            .filter(booking_declarations::booking_id.eq_any(&ids))
            .filter(booking_declarations::active.eq(true))
            .order((booking_declarations::booking_id.asc(), booking_declarations::position.asc()))
            .select((booking_declarations::booking_id, declarations::id, declarations::number))
            .load(conn)?
    };
    let mut numbers: HashMap<String, Vec<String>> = HashMap::new();
    for (booking, id, number) in carried {
        numbers.entry(booking).or_default().push(number.unwrap_or(id));
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let n = numbers.remove(&r.id).unwrap_or_default();
            (r, n)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::OnDeclaration;
    use crate::db::fixed::Condition;

    /// The report's decisions are read through the partial index, whose
    /// WHERE the statement repeats; a booking's audit event takes no entry.
    #[test]
    fn sqlite_reads_decisions_by_the_partial_index() -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = crate::db::fixed::plan::migrated_sqlite()?;
        let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).ok_or("date")?;
        let q = super::decisions(&mut conn, None, from, from + chrono::Duration::days(7));
        assert!(q?.is_empty());
        let sql = format!(
            "SELECT audit_events.id FROM audit_events WHERE {} \
             AND audit_events.to_state IN ('approved', 'rejected') \
             AND audit_events.occurred_at >= '2026-01-01' AND audit_events.occurred_at < '2026-01-08'",
            OnDeclaration::SQL
        );
        let details = crate::db::fixed::plan::sqlite_plan(&mut conn, &sql)?;
        assert!(details.iter().any(|d| d.contains("USING INDEX audit_events_decisions")), "plan: {details:?}");
        let index_where = OnDeclaration::SQL.replace("audit_events.", "");
        for migration in [
            include_str!("../../migrations/sqlite/2026-12-08-000016_fewer_index_entries/up.sql"),
            include_str!("../../migrations/postgres/2026-12-08-000016_fewer_index_entries/up.sql"),
        ] {
            assert!(
                migration.contains(&format!("WHERE {index_where};")),
                "the partial index's WHERE must be {index_where}"
            );
        }
        Ok(())
    }
}
