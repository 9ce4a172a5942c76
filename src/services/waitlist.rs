//! Waitlists (issue 16): a company waits with a declaration for a place in
//! a slot of a site and mode starting in [from, to). Every place that frees
//! — a cancellation, a reschedule away, a capacity raised, a closure
//! lifted, a hold released or expired — goes through [`free_and_offer`],
//! which gives the place back and, in the same transaction, offers it to
//! the first eligible waiting entry as a hold of `waitlist.offer_minutes`:
//! a direct booking can never take a place that is being offered.
//!
//! Order of the line: `advanced_certified` enterprises first, then the
//! oldest entry. Eligible: the declaration may still be booked (status, no
//! active booking), the enterprise may book (verified, not discredited),
//! the slot's notice and horizon for its credit class, its share of the
//! slot, and the reserve for advanced-certified enterprises.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use crate::context::RequestContext;
use crate::db::audit::{self, Actor, Change};
use crate::db::holds::{self as hold_rows, HoldRow};
use crate::db::slots::{self, Counter, SlotRow};
use crate::db::waitlist::{self as rows, EntryRow};
use crate::db::{bookings as booking_rows, declarations, enterprises, new_id, DbConnection};
use crate::domain::booking_policy::{BookingPolicy, Refusal};
use crate::domain::declaration::is_bookable;
use crate::domain::goods::TransportMode;
use crate::domain::hold::{HoldStatus, WaitlistStatus};
use crate::domain::identity::CreditClass;
use crate::domain::reserve::takes_reserved;
use crate::domain::slot::SlotStatus;
use crate::error::AppError;
use crate::services::bookings::BookingRules;
use crate::services::{holds, outbox};

/// A waitlist entry as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = WaitlistEntry)]
pub struct EntryView {
    pub id: String,
    pub declaration_id: String,
    pub site_id: String,
    pub mode: TransportMode,
    /// The window: slots starting in [from, to).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub status: WaitlistStatus,
    /// While `waiting`: the place in line, counting from 1 (next), among the
    /// waiting entries of the same site and mode whose windows overlap this
    /// one (`advanced_certified` enterprises first, then the oldest).
    pub position: Option<i64>,
    /// The hold of the offer (`offered`, and kept after it).
    pub hold_id: Option<String>,
    /// While `offered`: the offered slot and when the offer lapses.
    pub offer_slot_id: Option<String>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The order of the line: advanced-certified first, then the oldest.
fn line_key(e: &EntryRow, credit: CreditClass) -> (bool, NaiveDateTime, String) {
    (credit != CreditClass::AdvancedCertified, e.created_at, e.id.clone())
}

/// The view of a stored entry, with its position while waiting.
pub fn view(conn: &mut DbConnection, e: EntryRow) -> Result<EntryView, AppError> {
    let position = if e.status == WaitlistStatus::Waiting {
        let line = rows::waiting_at(conn, &e.site_id, e.mode)?;
        let mine = line.iter().find(|(x, _)| x.id == e.id).map(|(x, c)| line_key(x, *c));
        mine.map(|key| {
            1 + line
                .iter()
                .filter(|(x, _)| x.window_from < e.window_to && e.window_from < x.window_to)
                .filter(|(x, c)| line_key(x, *c) < key)
                .count() as i64
        })
    } else {
        None
    };
    let offer = match (&e.hold_id, e.status) {
        (Some(h), WaitlistStatus::Offered) => hold_rows::find(conn, h)?,
        _ => None,
    };
    Ok(EntryView {
        id: e.id,
        declaration_id: e.declaration_id,
        site_id: e.site_id,
        mode: e.mode,
        from: e.window_from.and_utc(),
        to: e.window_to.and_utc(),
        status: e.status,
        position,
        hold_id: e.hold_id,
        offer_slot_id: offer.as_ref().map(|h| h.slot_id.clone()),
        offer_expires_at: offer.as_ref().map(|h| h.expires_at.and_utc()),
        created_at: e.created_at.and_utc(),
        updated_at: e.updated_at.and_utc(),
    })
}

/// What to do with a waiting entry for one freed place.
enum Fit {
    /// Offer it (the enterprise's credit class).
    Offer(CreditClass),
    /// Not this place (notice, share, standing): the entry keeps waiting.
    Skip,
    /// The entry is over: its declaration was booked (`fulfilled`) or can no
    /// longer be (`closed`).
    Over(WaitlistStatus),
}

/// Whether `e` may legally take a place of `slot` now.
fn fit(
    conn: &mut DbConnection,
    e: &EntryRow,
    slot: &SlotRow,
    policy: &BookingPolicy,
    credit: CreditClass,
    now: DateTime<Utc>,
) -> Result<Fit, AppError> {
    let Some(d) = declarations::find(conn, &e.declaration_id)? else {
        return Ok(Fit::Over(WaitlistStatus::Closed));
    };
    if booking_rows::active_for_declaration(conn, &d.id)?.is_some() {
        return Ok(Fit::Over(WaitlistStatus::Fulfilled));
    }
    if !is_bookable(d.status) {
        return Ok(Fit::Over(WaitlistStatus::Closed));
    }
    let Some(ent) = enterprises::find(conn, &e.enterprise_id)? else { return Ok(Fit::Skip) };
    if !ent.status.may_trade() || policy.check_credit(credit).is_err() {
        return Ok(Fit::Skip);
    }
    if policy.check_timing(credit, now, slot.starts_at.and_utc()).is_err() {
        return Ok(Fit::Skip);
    }
    let mine = booking_rows::active_in_slot_for(conn, &slot.id, &e.enterprise_id)?
        + hold_rows::active_in_slot_for(conn, &slot.id, &e.enterprise_id)?;
    if policy.check_share(i64::from(slot.capacity), mine).is_err() {
        return Ok(Fit::Skip);
    }
    Ok(Fit::Offer(credit))
}

/// The one way a place of a slot is given back: `release` takes one place
/// off its count (a booking's or a hold's; `None`: places were added, by a
/// capacity raised or a closure lifted), then every free place of the slot
/// is offered to the waitlist in the same transaction. The caller holds
/// the slot's row lock (or takes it here, with the release). Returns how
/// many offers were made.
pub fn free_and_offer(
    conn: &mut DbConnection,
    slot_id: &str,
    release: Option<Counter>,
    now: DateTime<Utc>,
    rules: &BookingRules,
) -> Result<usize, AppError> {
    let released = match release {
        Some(Counter::Booked) => slots::release_place(conn, slot_id)?,
        Some(Counter::Held) => slots::release_held(conn, slot_id)?,
        None => 1,
    };
    if released == 0 {
        return Ok(0);
    }
    offer_free_places(conn, slot_id, now, rules)
}

/// Offers each free place of a slot to the first eligible waiting entry.
fn offer_free_places(
    conn: &mut DbConnection,
    slot_id: &str,
    now: DateTime<Utc>,
    rules: &BookingRules,
) -> Result<usize, AppError> {
    let stamp = now.naive_utc();
    let mut offered = 0;
    loop {
        let Some((slot, site)) = slots::find_with_site(conn, slot_id)? else { break };
        if slot.status != SlotStatus::Open || slot.taken() >= slot.capacity || slot.starts_at <= stamp {
            break;
        }
        let policy = rules.for_site(&site);
        let candidates = rows::candidates(conn, &slot.site_id, slot.mode, slot.starts_at)?;
        if candidates.is_empty() {
            break;
        }
        let ids: Vec<&str> = candidates.iter().map(|e| e.enterprise_id.as_str()).collect();
        let credit: HashMap<String, CreditClass> = rows::credit_classes(conn, &ids)?.into_iter().collect();
        let class = |e: &EntryRow| credit.get(&e.enterprise_id).copied().unwrap_or(CreditClass::General);
        let mut line: Vec<&EntryRow> = candidates.iter().collect();
        line.sort_by_key(|e| line_key(e, class(e)));
        let mut made = false;
        for entry in line {
            let credit = match fit(conn, entry, &slot, &policy, class(entry), now)? {
                Fit::Offer(c) => c,
                Fit::Skip => continue,
                Fit::Over(to) => {
                    rows::set_status(conn, &entry.id, WaitlistStatus::Waiting, to, None, stamp)?;
                    continue;
                }
            };
            if slots::take(conn, slot_id, takes_reserved(credit), stamp, Counter::Held)?.is_none() {
                // The last free places are reserved for advanced-certified enterprises.
                continue;
            }
            let expires_at = stamp + rules.holds.offer;
            let hold = holds::insert_offer(conn, &slot, &entry.enterprise_id, &entry.id, expires_at, stamp)?;
            if rows::set_status(
                conn,
                &entry.id,
                WaitlistStatus::Waiting,
                WaitlistStatus::Offered,
                Some(&hold.id),
                stamp,
            )? == 0
            {
                return Err(AppError::internal(format!("waitlist entry {} changed under its lock", entry.id)));
            }
            record_offer(conn, entry, &hold, stamp)?;
            made = true;
            break;
        }
        if !made {
            break;
        }
        offered += 1;
    }
    Ok(offered)
}

/// The `waitlist.offered` webhook.
#[derive(Debug, Serialize)]
struct Offered<'a> {
    entry_id: &'a str,
    hold_id: &'a str,
    slot_id: &'a str,
    expires_at: DateTime<Utc>,
}

fn record_offer(conn: &mut DbConnection, entry: &EntryRow, hold: &HoldRow, now: NaiveDateTime) -> Result<(), AppError> {
    let data = Offered {
        entry_id: &entry.id,
        hold_id: &hold.id,
        slot_id: &hold.slot_id,
        expires_at: hold.expires_at.and_utc(),
    };
    outbox::record(conn, &entry.enterprise_id, "waitlist.offered", &data, now)?;
    let system = Actor { user_id: None, role: Some("system".into()), request_id: None };
    audit::start_chain(
        conn,
        &system,
        &Change {
            entity_type: "hold",
            entity_id: &hold.id,
            action: "offer",
            from_state: None,
            to_state: Some(HoldStatus::Active.as_str()),
            reason: Some(&format!("waitlist entry {}", entry.id)),
        },
        now,
    )?;
    crate::metrics::offer_event("made");
    Ok(())
}

/// An offer's hold ended without a booking: expired (the entry lapses) or
/// released by the company (it declined: the entry is withdrawn).
pub fn offer_ended(
    conn: &mut DbConnection,
    entry_id: &str,
    _hold_id: &str,
    how: HoldStatus,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let to = if how == HoldStatus::Expired { WaitlistStatus::Lapsed } else { WaitlistStatus::Withdrawn };
    if rows::set_status(conn, entry_id, WaitlistStatus::Offered, to, None, now)? == 1 && to == WaitlistStatus::Lapsed {
        crate::metrics::offer_event("lapsed");
    }
    Ok(())
}

/// An offer's hold was released by customs (its slot lost places): the
/// entry waits again, where it was in line.
pub fn offer_withdrawn(conn: &mut DbConnection, entry_id: &str, now: NaiveDateTime) -> Result<(), AppError> {
    rows::set_status(conn, entry_id, WaitlistStatus::Offered, WaitlistStatus::Waiting, None, now)?;
    Ok(())
}

/// An offer's hold became a booking: the entry is fulfilled.
pub fn offer_taken(conn: &mut DbConnection, entry_id: &str, now: NaiveDateTime) -> Result<(), AppError> {
    let hold = rows::find(conn, entry_id)?.and_then(|e| e.hold_id);
    if rows::set_status(conn, entry_id, WaitlistStatus::Offered, WaitlistStatus::Fulfilled, hold.as_deref(), now)? == 1
    {
        crate::metrics::offer_event("taken");
    }
    Ok(())
}

/// Ends the live entries of declarations: `fulfilled` (they were booked)
/// or `closed` (rejected or cancelled). An offer still open is released
/// (and its place offered on), unless it is `except_hold` (being converted).
pub fn end_for_declarations(
    conn: &mut DbConnection,
    declaration_ids: &[&str],
    to: WaitlistStatus,
    except_hold: Option<&str>,
    actor: &Actor,
    now: DateTime<Utc>,
    rules: &BookingRules,
) -> Result<(), AppError> {
    let stamp = now.naive_utc();
    for e in rows::live_for_declarations(conn, declaration_ids)? {
        let mut from = e.status;
        if let (WaitlistStatus::Offered, Some(h)) = (e.status, e.hold_id.as_deref()) {
            if Some(h) != except_hold {
                if let Some(hold) = hold_rows::find(conn, h)?.filter(|x| x.status == HoldStatus::Active) {
                    holds::end(conn, &hold, HoldStatus::Released, actor, now, rules)?;
                }
                from = rows::find(conn, &e.id)?.map_or(from, |x| x.status);
            }
        }
        rows::set_status(conn, &e.id, from, to, e.hold_id.as_deref(), stamp)?;
    }
    Ok(())
}

/// Closes waiting entries whose window has passed.
pub fn close_passed(conn: &mut DbConnection, now: NaiveDateTime, batch: i64) -> Result<usize, AppError> {
    let mut n = 0;
    for e in rows::waiting_past(conn, now, batch)? {
        n += rows::set_status(conn, &e.id, WaitlistStatus::Waiting, WaitlistStatus::Closed, None, now)?;
    }
    Ok(n)
}

/// A request to join the waitlist.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub declaration_id: String,
    pub site_id: String,
    pub mode: TransportMode,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Joins the waitlist with a declaration of the caller's enterprise.
#[tracing::instrument(skip_all, fields(declaration = %new.declaration_id))]
pub fn join(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    new: &NewEntry,
    rules: &BookingRules,
) -> Result<EntryView, AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    let now = ctx.stamp();
    crate::services::bookings::enterprise_may_book(conn, enterprise_id, &rules.defaults)?;
    booking_rows::lock_declarations(conn, std::slice::from_ref(&new.declaration_id))?;
    let d = declarations::find(conn, &new.declaration_id)?
        .filter(|d| d.enterprise_id == enterprise_id)
        .ok_or_else(|| AppError::missing("declaration", &new.declaration_id))?;
    crate::db::sites::find(conn, &new.site_id)?.ok_or_else(|| AppError::missing("site", &new.site_id))?;
    if d.data.site_id != new.site_id || d.data.transport_mode != new.mode {
        return Err(Refusal::WrongSiteOrMode.into());
    }
    if !is_bookable(d.status) {
        return Err(Refusal::DeclarationState { status: d.status }.into());
    }
    if booking_rows::active_for_declaration(conn, &d.id)?.is_some() {
        return Err(Refusal::AlreadyBooked { declaration_id: d.id.clone() }.into());
    }
    if !rows::live_for_declarations(conn, &[d.id.as_str()])?.is_empty() {
        return Err(AppError::conflict(
            "already-waiting",
            format!("declaration {} is on the waitlist already: see GET /api/v1/waitlist", d.id),
        ));
    }
    let entry = EntryRow {
        id: new_id(),
        enterprise_id: enterprise_id.to_owned(),
        declaration_id: d.id.clone(),
        site_id: new.site_id.clone(),
        mode: new.mode,
        window_from: new.from.naive_utc(),
        window_to: new.to.naive_utc(),
        status: WaitlistStatus::Waiting,
        hold_id: None,
        created_by: ctx.caller.user_id.clone(),
        created_at: now,
        updated_at: now,
    };
    rows::insert(conn, &entry)?;
    crate::services::record_change(conn, ctx, Change::new("waitlist_entry", &entry.id, "join", None, Some("waiting")))?;
    view(conn, entry)
}

/// An entry of the caller's enterprise (another's, or none: 404).
pub fn own(conn: &mut DbConnection, enterprise_id: &str, id: &str) -> Result<EntryRow, AppError> {
    rows::find(conn, id)?.filter(|e| e.enterprise_id == enterprise_id).ok_or_else(|| AppError::missing("entry", id))
}

/// Withdraws an entry of the caller's enterprise; an open offer's hold is
/// released (and its place offered on).
pub fn withdraw(conn: &mut DbConnection, ctx: &RequestContext, id: &str, rules: &BookingRules) -> Result<(), AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    let e = own(conn, enterprise_id, id)?;
    let stamp = ctx.stamp();
    let refused = |status: WaitlistStatus| {
        AppError::conflict(
            "waitlist-entry-state",
            format!("waitlist entry {id} is {}: only a waiting or offered entry can be withdrawn", status.as_str()),
        )
    };
    match (e.status, e.hold_id.as_deref()) {
        (WaitlistStatus::Waiting, _) => {
            if rows::set_status(conn, id, WaitlistStatus::Waiting, WaitlistStatus::Withdrawn, None, stamp)? == 0 {
                return Err(refused(own(conn, enterprise_id, id)?.status));
            }
        }
        (WaitlistStatus::Offered, Some(h)) => {
            // The hold first (lock order); ending it withdraws the entry.
            let hold = hold_rows::find(conn, h)?.ok_or_else(|| AppError::internal("offer without its hold"))?;
            if !holds::end(conn, &hold, HoldStatus::Released, &ctx.actor(), ctx.now, rules)? {
                return Err(refused(own(conn, enterprise_id, id)?.status));
            }
        }
        (status, _) => return Err(refused(status)),
    }
    crate::services::record_change(conn, ctx, Change::new("waitlist_entry", id, "withdraw", None, Some("withdrawn")))?;
    Ok(())
}

/// One page of the caller's entries, newest first.
pub fn list(
    conn: &mut DbConnection,
    enterprise_id: &str,
    status: Option<WaitlistStatus>,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<EntryView>, bool), AppError> {
    let mut found = rows::list_for(conn, enterprise_id, status, after, limit + 1)?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let views = found.into_iter().map(|e| view(conn, e)).collect::<Result<Vec<_>, _>>()?;
    Ok((views, more))
}
