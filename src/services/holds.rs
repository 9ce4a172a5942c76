//! Holds (issue 16): a company keeps one place of a slot for a short time
//! (`ttl_seconds`) before it books it, or the waitlist offers it one.
//!
//! A hold takes its place with the booking's guarded UPDATE (capacity,
//! closure, reserve; `held + 1` instead of `booked + 1`) and counts toward
//! the enterprise's share. The enterprise's live holds are counted by a
//! guarded UPDATE of its row (`live_holds < max`), taken before the slot's
//! lock. Every end of a hold (released, expired, converted) is a guarded
//! status change: exactly one instance ends a hold and frees its place,
//! through `waitlist::free_and_offer`, which offers the place on in the
//! same transaction.
//!
//! Locks are taken in this order everywhere: hold rows, enterprise rows,
//! the slot row, waitlist entries (skipping locked ones), new rows.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;

use crate::context::RequestContext;
use crate::db::audit::{self, Actor, Change};
use crate::db::holds::{self as rows, HoldRow};
use crate::db::slots::{self, Counter, SlotRow};
use crate::db::{new_id, DbConnection};
use crate::domain::goods::TransportMode;
use crate::domain::hold::HoldStatus;
use crate::domain::reserve::takes_reserved;
use crate::error::AppError;
use crate::services::bookings::BookingRules;
use crate::services::{outbox, waitlist};

/// What holds and offers take from configuration (`[holds]`, `[waitlist]`).
#[derive(Debug, Clone)]
pub struct HoldRules {
    /// A hold's lifetime when the request gives none.
    pub default_ttl_seconds: i64,
    /// Live holds one enterprise may keep (offers not counted).
    pub max_per_enterprise: i32,
    /// How long an offer's hold lasts.
    pub offer: Duration,
}

impl Default for HoldRules {
    fn default() -> Self {
        Self { default_ttl_seconds: 600, max_per_enterprise: 3, offer: Duration::minutes(15) }
    }
}

/// A hold as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Hold)]
pub struct HoldView {
    pub id: String,
    pub slot_id: String,
    /// `active` keeps the place until `expires_at`; `converted` became
    /// `booking_id`; `released` given back; `expired` ran out.
    pub status: HoldStatus,
    pub expires_at: DateTime<Utc>,
    pub enterprise_id: String,
    /// The slot's site, mode and times.
    pub site_id: String,
    pub mode: TransportMode,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The waitlist entry this hold was offered to, if it is an offer.
    pub waitlist_entry_id: Option<String>,
    /// The booking it became (`converted`).
    pub booking_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl HoldView {
    fn new(h: HoldRow, slot: &SlotRow) -> Self {
        Self {
            id: h.id,
            slot_id: h.slot_id,
            status: h.status,
            expires_at: h.expires_at.and_utc(),
            enterprise_id: h.enterprise_id,
            site_id: slot.site_id.clone(),
            mode: slot.mode,
            starts_at: slot.starts_at.and_utc(),
            ends_at: slot.ends_at.and_utc(),
            waitlist_entry_id: h.entry_id,
            booking_id: h.booking_id,
            created_at: h.created_at.and_utc(),
        }
    }
}

/// The view of a stored hold.
pub fn view(conn: &mut DbConnection, h: HoldRow) -> Result<HoldView, AppError> {
    let slot = slots::find(conn, &h.slot_id)?.ok_or(AppError::NotFound)?;
    Ok(HoldView::new(h, &slot))
}

/// The refusal of a hold that no longer keeps its place.
pub fn expired_refusal(h: &HoldRow) -> AppError {
    AppError::conflict(
        "hold-expired",
        format!(
            "hold {} is {} (it expired at {}): its place is no longer kept; hold or book the slot again",
            h.id,
            if h.status == HoldStatus::Active { "expired" } else { h.status.as_str() },
            h.expires_at.and_utc().to_rfc3339()
        ),
    )
}

/// A hold of the caller's enterprise (another enterprise's, or none: 404).
pub fn own(conn: &mut DbConnection, enterprise_id: &str, id: &str) -> Result<HoldRow, AppError> {
    rows::find(conn, id)?.filter(|h| h.enterprise_id == enterprise_id).ok_or_else(|| AppError::missing("hold", id))
}

/// Takes a hold on a slot for the caller's enterprise.
#[tracing::instrument(skip_all, fields(slot = %slot_id))]
pub fn create(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    slot_id: &str,
    ttl_seconds: i64,
    rules: &BookingRules,
) -> Result<HoldView, AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    let now = ctx.stamp();
    let credit = crate::services::bookings::enterprise_may_book(conn, enterprise_id, &rules.defaults)?;
    let (slot, site) = slots::find_with_site(conn, slot_id)?.ok_or_else(|| AppError::missing("slot", slot_id))?;
    let policy = &rules.for_site(&site);
    // 1. Expired holds of the slot never block: freed (and offered on) first.
    expire_in_slot(conn, slot_id, ctx.now, rules)?;
    // 2. The enterprise's count of live holds: a guarded UPDATE of its row.
    if rows::count_in(conn, enterprise_id, rules.holds.max_per_enterprise)? == 0 {
        return Err(AppError::conflict(
            "too-many-holds",
            format!(
                "your enterprise keeps {} live holds already, the most allowed: book or release one (DELETE \
                 /api/v1/holds/{{id}}) first",
                rules.holds.max_per_enterprise
            ),
        ));
    }
    let slot = slots::find(conn, slot_id)?.unwrap_or(slot);
    crate::services::bookings::check_slot_rules(&slot, credit, policy, ctx.now)?;
    // 3. The place: the booking's guarded UPDATE, counted in `held`.
    let hold = HoldRow {
        id: new_id(),
        enterprise_id: enterprise_id.to_owned(),
        slot_id: slot_id.to_owned(),
        status: HoldStatus::Active,
        entry_id: None,
        booking_id: None,
        created_by: Some(ctx.caller.user_id.clone()),
        expires_at: now + Duration::seconds(ttl_seconds),
        created_at: now,
        updated_at: now,
    };
    rows::insert(conn, &hold)?;
    take_counted(conn, &slot, enterprise_id, credit, ctx.now, policy, Counter::Held)?;
    audit::start_chain(
        conn,
        &ctx.actor(),
        &Change {
            entity_type: "hold",
            entity_id: &hold.id,
            action: "hold",
            from_state: None,
            to_state: Some(HoldStatus::Active.as_str()),
            reason: None,
        },
        now,
    )?;
    crate::metrics::hold_event("created");
    Ok(HoldView::new(hold, &slot))
}

/// Takes one place of `slot` for an enterprise (booked or held) within its
/// share, counting its bookings and live holds of the slot under the slot's
/// row lock.
pub fn take_counted(
    conn: &mut DbConnection,
    slot: &SlotRow,
    enterprise_id: &str,
    credit: crate::domain::identity::CreditClass,
    now: DateTime<Utc>,
    policy: &crate::domain::booking_policy::BookingPolicy,
    into: Counter,
) -> Result<(), AppError> {
    let Some(taken) = slots::take(conn, &slot.id, takes_reserved(credit), now.naive_utc(), into)? else {
        let after = slots::find(conn, &slot.id)?.ok_or(AppError::NotFound)?;
        return Err(crate::services::bookings::no_place(&after, credit, now));
    };
    let limit = policy.share_limit(i64::from(taken.capacity));
    if i64::from(taken.taken()) - 1 < limit {
        return Ok(());
    }
    // This hold's own place is counted among its live holds already.
    let mine = crate::db::bookings::active_in_slot_for(conn, &slot.id, enterprise_id)?
        + rows::active_in_slot_for(conn, &slot.id, enterprise_id)?
        - 1;
    policy.check_share(i64::from(taken.capacity), mine)?;
    Ok(())
}

/// Ends an active hold as `to` (released or expired) and frees its place,
/// offering it on. False if it had ended already (another instance, or a
/// racing request).
pub fn end(
    conn: &mut DbConnection,
    hold: &HoldRow,
    to: HoldStatus,
    actor: &Actor,
    now: DateTime<Utc>,
    rules: &BookingRules,
) -> Result<bool, AppError> {
    let stamp = now.naive_utc();
    if !end_row(conn, hold, to, None, stamp)? {
        return Ok(false);
    }
    free_ended(conn, std::slice::from_ref(hold), to, actor, now, rules)?;
    Ok(true)
}

/// The first half of ending a hold: its guarded status change and its
/// enterprise's count (hold row, then enterprise row: before any slot lock).
fn end_row(
    conn: &mut DbConnection,
    hold: &HoldRow,
    to: HoldStatus,
    booking_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    if rows::end(conn, &hold.id, to, booking_id, now)? == 0 {
        return Ok(false);
    }
    if hold.entry_id.is_none() {
        rows::count_out(conn, &hold.enterprise_id)?;
    }
    Ok(true)
}

/// The second half: each ended hold's place freed and offered on, its
/// audit event, the offer's entry lapsed, the owner told (`hold.released`)
/// when customs released it.
fn free_ended(
    conn: &mut DbConnection,
    ended: &[HoldRow],
    to: HoldStatus,
    actor: &Actor,
    now: DateTime<Utc>,
    rules: &BookingRules,
) -> Result<(), AppError> {
    let stamp = now.naive_utc();
    for hold in ended {
        waitlist::free_and_offer(conn, &hold.slot_id, Some(Counter::Held), now, rules)?;
        audit::append(
            conn,
            actor,
            &Change::new(
                "hold",
                &hold.id,
                if to == HoldStatus::Expired { "expire" } else { "release" },
                Some(HoldStatus::Active.as_str()),
                Some(to.as_str()),
            ),
            stamp,
        )?;
        if let Some(entry_id) = &hold.entry_id {
            waitlist::offer_ended(conn, entry_id, &hold.id, to, stamp)?;
        }
        crate::metrics::hold_event(to.as_str());
    }
    Ok(())
}

/// Frees the places of a slot's holds past their expiry (a booking or hold
/// attempt on the slot does this first, so that an expired hold never
/// blocks anyone). Returns how many.
pub fn expire_in_slot(
    conn: &mut DbConnection,
    slot_id: &str,
    now: DateTime<Utc>,
    rules: &BookingRules,
) -> Result<usize, AppError> {
    let due = rows::expired_in_slot(conn, slot_id, now.naive_utc())?;
    expire(conn, due, now, rules)
}

/// Ends `due` holds as expired: every status change (and enterprise count)
/// first, then every place (lock order).
fn expire(
    conn: &mut DbConnection,
    due: Vec<HoldRow>,
    now: DateTime<Utc>,
    rules: &BookingRules,
) -> Result<usize, AppError> {
    let stamp = now.naive_utc();
    let mut ended = Vec::new();
    for hold in due {
        if end_row(conn, &hold, HoldStatus::Expired, None, stamp)? {
            ended.push(hold);
        }
    }
    let system = Actor { user_id: None, role: Some("system".into()), request_id: None };
    free_ended(conn, &ended, HoldStatus::Expired, &system, now, rules)?;
    Ok(ended.len())
}

/// Frees a slot's expired holds in a transaction of their own, before a
/// booking or hold attempt on the slot: the places are freed (and offered
/// on) whether or not the attempt then succeeds. One indexed read when
/// there is nothing to free.
pub async fn free_expired_in_slot(
    db: &crate::db::Db,
    slot_id: &str,
    now: DateTime<Utc>,
    rules: std::sync::Arc<BookingRules>,
) -> Result<(), AppError> {
    let id = slot_id.to_owned();
    let stamp = now.naive_utc();
    let due = db
        .read(move |conn| rows::expired_in_slot(conn, &id, stamp).map(|v| !v.is_empty()).map_err(AppError::from))
        .await
        .map_err(AppError::from)?;
    if due {
        let id = slot_id.to_owned();
        db.write(move |conn| expire_in_slot(conn, &id, now, &rules)).await.map_err(AppError::from)?;
    }
    Ok(())
}

/// Holds expired per transaction of the sweep.
pub const SWEEP_BATCH: i64 = 200;

/// Frees the places of every hold past its expiry (at most a batch), and
/// closes the waitlist entries whose window passed. Every instance may run
/// it: the guarded status changes let one instance end each hold.
pub fn sweep(conn: &mut DbConnection, now: DateTime<Utc>, rules: &BookingRules) -> Result<usize, AppError> {
    let due = rows::expired(conn, now.naive_utc(), SWEEP_BATCH)?;
    let n = expire(conn, due, now, rules)?;
    waitlist::close_passed(conn, now.naive_utc(), SWEEP_BATCH)?;
    Ok(n)
}

/// Releases a hold of the caller's enterprise (`DELETE /holds/{id}`).
pub fn release(conn: &mut DbConnection, ctx: &RequestContext, id: &str, rules: &BookingRules) -> Result<(), AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    let hold = own(conn, enterprise_id, id)?;
    if hold.status != HoldStatus::Active {
        return Err(expired_refusal(&hold));
    }
    if !end(conn, &hold, HoldStatus::Released, &ctx.actor(), ctx.now, rules)? {
        let now_as = own(conn, enterprise_id, id)?;
        return Err(expired_refusal(&now_as));
    }
    Ok(())
}

/// Releases every live hold of these slots (a closure or a slot change
/// that takes places away does this first), without offering the places
/// (the slots are losing them); each owner gets `hold.released`.
pub fn release_for_closure(
    conn: &mut DbConnection,
    slot_ids: &[&str],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let stamp = now.naive_utc();
    let mut n = 0;
    let live = rows::active_in_slots(conn, slot_ids)?;
    let mut ended = Vec::new();
    for hold in live {
        if end_row(conn, &hold, HoldStatus::Released, None, stamp)? {
            ended.push(hold);
        }
    }
    for hold in &ended {
        slots::release_held(conn, &hold.slot_id)?;
        audit::append(
            conn,
            actor,
            &Change::new("hold", &hold.id, "release", Some("active"), Some("released"))
                .because(Some("the slot loses places (closure or capacity change)")),
            stamp,
        )?;
        if let Some(entry_id) = &hold.entry_id {
            // Not the entry's doing: it waits again.
            waitlist::offer_withdrawn(conn, entry_id, stamp)?;
        }
        let after = rows::find(conn, &hold.id)?.ok_or(AppError::NotFound)?;
        let v = view(conn, after)?;
        outbox::record(conn, &v.enterprise_id, "hold.released", &v, stamp)?;
        crate::metrics::hold_event("released");
        n += 1;
    }
    Ok(n)
}

/// Turns an active hold of the caller's enterprise into the booking
/// `booking_id` (its place goes from `held` to `booked`, no capacity check:
/// the place is the hold's). Refused as `hold-expired` if it no longer
/// keeps its place.
pub fn convert(
    conn: &mut DbConnection,
    hold: &HoldRow,
    booking_id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let stamp = now.naive_utc();
    if hold.status != HoldStatus::Active || hold.expires_at <= stamp {
        return Err(expired_refusal(hold));
    }
    if !end_row(conn, hold, HoldStatus::Converted, Some(booking_id), stamp)? {
        let after = rows::find(conn, &hold.id)?.unwrap_or_else(|| hold.clone());
        return Err(expired_refusal(&after));
    }
    if slots::convert_held(conn, &hold.slot_id)? == 0 {
        return Err(AppError::internal(format!("hold {} had no held place in its slot", hold.id)));
    }
    if let Some(entry_id) = &hold.entry_id {
        waitlist::offer_taken(conn, entry_id, stamp)?;
    }
    audit::append(
        conn,
        actor,
        &Change::new(
            "hold",
            &hold.id,
            "convert",
            Some(HoldStatus::Active.as_str()),
            Some(HoldStatus::Converted.as_str()),
        )
        .because(Some(&format!("booking {booking_id}"))),
        stamp,
    )?;
    crate::metrics::hold_event("converted");
    Ok(())
}

/// One page of the caller's holds, newest first.
pub fn list(
    conn: &mut DbConnection,
    enterprise_id: &str,
    status: Option<HoldStatus>,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<HoldView>, bool), AppError> {
    let mut found = rows::list_for(conn, enterprise_id, status, after, limit + 1)?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let views = found.into_iter().map(|h| view(conn, h)).collect::<Result<Vec<_>, _>>()?;
    Ok((views, more))
}

/// Inserts a hold offered to a waitlist entry on a place already taken
/// (`held + 1`) by the caller.
pub fn insert_offer(
    conn: &mut DbConnection,
    slot: &SlotRow,
    enterprise_id: &str,
    entry_id: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<HoldRow, AppError> {
    let hold = HoldRow {
        id: new_id(),
        enterprise_id: enterprise_id.to_owned(),
        slot_id: slot.id.clone(),
        status: HoldStatus::Active,
        entry_id: Some(entry_id.to_owned()),
        booking_id: None,
        created_by: None,
        expires_at,
        created_at: now,
        updated_at: now,
    };
    rows::insert(conn, &hold)?;
    Ok(hold)
}
