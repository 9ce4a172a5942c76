//! The booking service: capacity that holds under any concurrency.
//!
//! Capacity is taken by one guarded statement (`UPDATE … SET booked =
//! booked + 1 WHERE booked < capacity AND status = 'open'`), backed by the
//! table's `CHECK (booked <= capacity)`.
//!
//! Locks are always taken in one order — declaration row, then slot rows
//! (by id), then booking rows — so that no two transactions can wait on
//! each other in a cycle. On SQLite the single writer serialises
//! everything anyway.
//!
//! A new booking first writes its own rows (booking, audit event, outbox
//! event, idempotency key) and takes the slot's row lock last: a busy slot
//! is held for one UPDATE and the commit, not for the whole transaction.
//! Rows nobody else can see yet cannot be waited on, except through a
//! unique index — one active booking per declaration (guarded by the
//! declaration's lock, held already) and the idempotency key (only other
//! bookings insert keys, and a booking waiting on a key holds no slot).

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::context::RequestContext;
use crate::db::audit::{self, Actor, Change};
use crate::db::bookings::{self as rows, BookingFilter, BookingRow, IdempotencyRow};
use crate::db::slots::{self, SlotRow};
use crate::db::{declarations, enterprises, new_id, DbConnection};
use crate::domain::booking_policy::{
    allowed_actions, booking_transition, BookingAction, BookingPolicy, BookingStatus, Refusal,
};
use crate::domain::declaration::Party;
use crate::domain::goods::TransportMode;
use crate::domain::identity::{CreditClass, EnterpriseStatus, Role};
use crate::domain::ids::{BookingId, DeclarationId, SlotId};
use crate::domain::schedule::{parse_timezone, to_local};
use crate::domain::slot::SlotStatus;
use crate::error::AppError;
use crate::services::outbox;

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;

/// A booking as the API shows it, with its slot's site, mode and times.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Booking)]
pub struct BookingView {
    pub id: String,
    pub status: BookingStatus,
    /// Whether it holds a place in its slot (`confirmed` or `checked_in`).
    pub active: bool,
    /// What the caller may do with it now: `cancel`, `reschedule` (company),
    /// `check-in`, `complete`, `no-show` (customs; a no-show once the slot has ended).
    #[schema(example = json!(["cancel", "reschedule"]))]
    pub allowed_actions: Vec<&'static str>,
    pub slot_id: String,
    pub declaration_id: String,
    pub enterprise_id: String,
    /// The slot's site.
    pub site_id: String,
    /// The slot's transport mode.
    pub mode: TransportMode,
    /// The slot's start, UTC.
    pub starts_at: DateTime<Utc>,
    /// The slot's end, UTC.
    pub ends_at: DateTime<Utc>,
    /// The slot's start with the site's UTC offset.
    pub starts_at_local: DateTime<chrono::FixedOffset>,
    /// The slot's end with the site's UTC offset.
    pub ends_at_local: DateTime<chrono::FixedOffset>,
    /// Why it was cancelled (by the company, by customs, or displaced).
    pub cancel_reason: Option<String>,
    /// Role of who cancelled it.
    pub cancelled_by_role: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BookingView {
    /// The answer for a caller of `party` (webhooks go to the company).
    pub fn new(b: BookingRow, slot: &SlotRow, timezone: &str, party: Party) -> Self {
        let (starts_at, ends_at) = (slot.starts_at.and_utc(), slot.ends_at.and_utc());
        let (starts_at_local, ends_at_local) = match parse_timezone(timezone) {
            Ok(tz) => (to_local(starts_at, tz), to_local(ends_at, tz)),
            Err(_) => (starts_at.fixed_offset(), ends_at.fixed_offset()),
        };
        Self {
            id: b.id,
            active: b.status.is_active(),
            allowed_actions: allowed_actions(b.status, party).into_iter().map(BookingAction::as_str).collect(),
            status: b.status,
            slot_id: b.slot_id,
            declaration_id: b.declaration_id,
            enterprise_id: b.enterprise_id,
            site_id: slot.site_id.clone(),
            mode: slot.mode,
            starts_at,
            ends_at,
            starts_at_local,
            ends_at_local,
            cancel_reason: b.cancel_reason,
            cancelled_by_role: b.cancelled_by_role,
            created_at: b.created_at.and_utc(),
            updated_at: b.updated_at.and_utc(),
        }
    }
}

/// Loads the booking with its slot for the answer.
pub fn view(conn: &mut DbConnection, id: &BookingId, party: Party) -> Result<BookingView, AppError> {
    let b = rows::find(conn, id.as_str())?.ok_or(AppError::NotFound)?;
    let (slot, tz) = slots::find_with_zone(conn, &b.slot_id)?.ok_or(AppError::NotFound)?;
    Ok(BookingView::new(b, &slot, &tz, party))
}

/// One booking as the caller may see it (a company only its own: else 404).
#[tracing::instrument(skip_all, fields(booking = %id))]
pub fn read(conn: &mut DbConnection, who: &Principal, id: &BookingId) -> Result<BookingView, AppError> {
    visible(conn, who, id)?;
    view(conn, id, who.party())
}

/// One page of bookings as views, read with one joined query; `more` tells
/// whether another page follows.
pub fn list(
    conn: &mut DbConnection,
    party: Party,
    filter: &BookingFilter,
    after: Option<&str>,
) -> Result<(Vec<BookingView>, bool), AppError> {
    let wanted = filter.limit;
    let page = BookingFilter { limit: wanted + 1, ..filter.clone() };
    let rows = rows::list_views(conn, &page, after)?;
    let more = rows.len() as i64 > wanted;
    let views =
        rows.into_iter().take(wanted as usize).map(|(b, slot, tz)| BookingView::new(b, &slot, &tz, party)).collect();
    Ok((views, more))
}

/// A booking as `who` may see it: a company only its own (else 404).
pub fn visible(conn: &mut DbConnection, who: &Principal, id: &BookingId) -> Result<BookingRow, AppError> {
    let b = rows::find(conn, id.as_str())?.ok_or(AppError::NotFound)?;
    match &who.enterprise_id {
        Some(e) if *e != b.enterprise_id => Err(AppError::NotFound),
        _ => Ok(b),
    }
}

/// An `Idempotency-Key` with the fingerprint of the request body.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

/// SHA-256 of the body's canonical JSON (object keys sorted), so that the
/// same body with its keys in another order is the same request.
pub fn request_hash(body: &serde_json::Value) -> String {
    fn canonical(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                    out.push(':');
                    canonical(&map[*k], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    canonical(body, &mut s);
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Keys whose first request is still running in this process: a retry
/// that arrives meanwhile is told 409 instead of queueing behind it.
#[derive(Default)]
pub struct InFlight(Mutex<HashSet<String>>);

/// Holds a key as in flight until dropped.
pub struct InFlightGuard<'a> {
    set: &'a InFlight,
    key: String,
}

impl InFlight {
    /// Claims `key`, or `None` if a request with it is already running.
    pub fn claim(&self, key: String) -> Option<InFlightGuard<'_>> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(key.clone()).then(|| InFlightGuard { set: self, key })
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut set = self.set.0.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.key);
    }
}

/// The answer to a booking request: status and the exact body bytes.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

fn enterprise_may_book(
    conn: &mut DbConnection,
    enterprise_id: &str,
    policy: &BookingPolicy,
) -> Result<CreditClass, AppError> {
    let e = enterprises::find(conn, enterprise_id)?.ok_or(AppError::NotFound)?;
    standing_allows_booking(e.status, e.credit_class, policy)
}

/// A verified enterprise whose credit class the policy accepts may book.
fn standing_allows_booking(
    status: EnterpriseStatus,
    credit: CreditClass,
    policy: &BookingPolicy,
) -> Result<CreditClass, AppError> {
    if !status.may_trade() {
        return Err(Refusal::NotVerified { status }.into());
    }
    policy.check_credit(credit)?;
    Ok(credit)
}

/// Checks that a slot fits the declaration (`site_id`, `mode`) and the
/// timing rules, and refuses early a slot seen full. That reading takes no
/// lock: it only spares a doomed transaction its writes; what grants a
/// place is the guarded UPDATE in `take_place`.
fn check_slot(
    slot: &SlotRow,
    (site_id, mode): (&str, TransportMode),
    credit: CreditClass,
    policy: &BookingPolicy,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if slot.site_id != site_id || slot.mode != mode {
        return Err(Refusal::WrongSiteOrMode.into());
    }
    if slot.status != SlotStatus::Open {
        return Err(Refusal::SlotClosed.into());
    }
    policy.check_timing(credit, now, slot.starts_at.and_utc())?;
    if slot.booked >= slot.capacity {
        return Err(Refusal::SlotFull.into());
    }
    Ok(())
}

/// Whether the booking taking a place is already a row of that slot: a
/// new booking is inserted before, a moved one is moved after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnBooking {
    InSlot,
    NotInSlot,
}

/// Takes one place in a slot for an enterprise, within its share; the
/// caller's transaction is rolled back on any refusal. From the UPDATE on,
/// the transaction holds the slot's row lock until it ends, so callers do
/// this as late as they can: on a busy slot every other booking queues for
/// that lock.
fn take_place(
    conn: &mut DbConnection,
    slot_id: &str,
    enterprise_id: &str,
    own: OwnBooking,
    policy: &BookingPolicy,
) -> Result<(), AppError> {
    let Some(taken) = slots::take_place(conn, slot_id)? else {
        let slot = slots::find(conn, slot_id)?.ok_or(AppError::NotFound)?;
        return Err(if slot.status != SlotStatus::Open { Refusal::SlotClosed } else { Refusal::SlotFull }.into());
    };
    // The row lock (SQLite: the single writer) keeps every other booking of
    // this slot from committing until we do, so the capacity and count read
    // now stay true; the share is of the capacity as of our change.
    let limit = policy.share_limit(i64::from(taken.capacity));
    // The enterprise holds at most every other place taken: only when those
    // could reach the limit is it worth counting its own.
    if i64::from(taken.booked) - 1 < limit {
        return Ok(());
    }
    let mut held = rows::active_in_slot_for(conn, slot_id, enterprise_id)?;
    if own == OwnBooking::InSlot {
        held -= 1;
    }
    if held >= limit {
        return Err(Refusal::ShareExceeded { limit }.into());
    }
    Ok(())
}

/// What a refused booking INSERT means: the declaration got an active
/// booking meanwhile (unique index), or the slot was deleted meanwhile by a
/// schedule change (foreign key; the declaration is locked, the enterprise
/// and user are never deleted).
fn booking_insert_refused(e: DieselError) -> AppError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Refusal::AlreadyBooked.into(),
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => AppError::NotFound,
        other => other.into(),
    }
}

/// Books a slot for a declaration, in one transaction with its audit event,
/// outbox event and idempotency record.
#[tracing::instrument(skip_all, fields(declaration = %declaration_id, slot = %slot_id))]
pub fn book(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    declaration_id: &DeclarationId,
    slot_id: &SlotId,
    key: Option<&IdempotencyKey>,
    policy: &BookingPolicy,
) -> Result<Answer, AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    let (declaration_id, slot_id) = (declaration_id.as_str(), slot_id.as_str());
    if let Some(k) = key {
        if let Some(stored) = rows::find_key(conn, enterprise_id, &k.key)? {
            if stored.request_hash != k.request_hash {
                return Err(AppError::unprocessable(
                    "idempotency-key-reused",
                    "this Idempotency-Key was used with another request body",
                ));
            }
            return Ok(Answer { status: stored.response_status as u16, body: stored.response_body, replayed: true });
        }
    }
    let now = ctx.stamp();
    // 1. The declaration: its row lock first (see the module comment), and
    // what the booking needs to know of it, in one statement.
    let Some(context) = rows::lock_for_booking(conn, declaration_id, enterprise_id)? else {
        enterprise_may_book(conn, enterprise_id, policy)?;
        let d = declarations::find(conn, declaration_id)?
            .filter(|d| d.enterprise_id == enterprise_id)
            .ok_or_else(|| AppError::missing("declaration", declaration_id))?;
        return Err(Refusal::DeclarationState { status: d.status }.into());
    };
    let credit = standing_allows_booking(context.enterprise_status, context.credit_class, policy)?;
    if context.has_active_booking {
        return Err(Refusal::AlreadyBooked.into());
    }
    // 2. The slot, as last committed: does it fit at all?
    let (slot, tz) = slots::find_with_zone(conn, slot_id)?.ok_or_else(|| AppError::missing("slot", slot_id))?;
    check_slot(&slot, (&context.site_id, context.transport_mode), credit, policy, ctx.now)?;
    // 3. Every write of the booking, before the slot's row lock is taken.
    let booking = BookingRow {
        id: new_id(),
        enterprise_id: enterprise_id.to_owned(),
        declaration_id: declaration_id.to_owned(),
        slot_id: slot_id.to_owned(),
        status: BookingStatus::Confirmed,
        created_by: ctx.caller.user_id.clone(),
        cancel_reason: None,
        cancelled_by_role: None,
        created_at: now,
        updated_at: now,
    };
    rows::insert(conn, &booking).map_err(booking_insert_refused)?;
    audit::start_chain(
        conn,
        &ctx.actor(),
        &Change {
            entity_type: "booking",
            entity_id: &booking.id,
            action: "book",
            from_state: None,
            to_state: Some(BookingStatus::Confirmed.as_str()),
            reason: None,
        },
        now,
    )?;
    let view = BookingView::new(booking, &slot, &tz, Party::Company);
    outbox::booking_event(conn, "booking.confirmed", &view, now)?;
    let body = serde_json::to_string(&view).map_err(|e| AppError::internal(format!("serialising booking: {e}")))?;
    if let Some(k) = key {
        rows::insert_key(
            conn,
            &IdempotencyRow {
                enterprise_id: enterprise_id.to_owned(),
                key: k.key.clone(),
                request_hash: k.request_hash.clone(),
                response_status: 201,
                response_body: body.clone(),
                created_at: now,
                expires_at: now + Duration::hours(IDEMPOTENCY_RETENTION_HOURS),
            },
        )
        .map_err(|e| match e {
            // Another instance committed the same key first: let the client retry to get its answer.
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::conflict("idempotency-key-in-flight", "a request with this Idempotency-Key is in progress")
            }
            other => other.into(),
        })?;
    }
    // 4. The place, last: the slot's row lock is held from here to commit
    // only, so that bookings of one busy slot queue for as short a time as
    // can be.
    take_place(conn, slot_id, enterprise_id, OwnBooking::InSlot, policy)?;
    Ok(Answer { status: 201, body, replayed: false })
}

/// Cancels a booking that is `confirmed`, freeing its place exactly once.
/// Two racing cancels: the guarded status change lets one through.
fn cancel_one(
    conn: &mut DbConnection,
    booking: &BookingRow,
    reason: Option<&str>,
    by_role: &str,
    event: &str,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    // Slot before booking (lock order). If the booking turns out to be
    // cancelled already, the place is put back while we still hold the lock.
    let released = slots::release_place(conn, &booking.slot_id)? == 1;
    let (from, to) = (BookingStatus::Confirmed, BookingStatus::Cancelled);
    if rows::set_status(conn, &booking.id, from, to, reason, Some(by_role), now)? == 0 {
        if released {
            slots::restore_place(conn, &booking.slot_id)?;
        }
        return Ok(false);
    }
    crate::metrics::booking_cancelled(match (event, by_role) {
        ("booking.displaced", _) => "displacement",
        (_, role) if role.parse::<Role>().is_ok_and(Role::is_company) => "company",
        _ => "customs",
    });
    audit::append(
        conn,
        actor,
        &Change::new(
            "booking",
            &booking.id,
            if event == "booking.displaced" { "displace" } else { "cancel" },
            Some(from.as_str()),
            Some(to.as_str()),
        )
        .because(reason),
        now,
    )?;
    let (slot, tz) = slots::find_with_zone(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
    let after = rows::find(conn, &booking.id)?.ok_or(AppError::NotFound)?;
    outbox::booking_event(conn, event, &BookingView::new(after, &slot, &tz, Party::Company), now)?;
    Ok(true)
}

/// Cancels a booking: a company before the cut-off, customs at any time
/// with a reason.
#[tracing::instrument(skip_all, fields(booking = %id))]
pub fn cancel(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    id: &BookingId,
    reason: Option<&str>,
    policy: &BookingPolicy,
) -> Result<BookingView, AppError> {
    let booking = visible(conn, &ctx.caller, id)?;
    booking_transition(booking.status, BookingAction::Cancel)?;
    if ctx.caller.role.is_company() {
        let slot = slots::find(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
        policy.check_company_cancel(ctx.now, slot.starts_at.and_utc())?;
    } else if reason.is_none() {
        return Err(AppError::field("reason", "required", "customs give a reason when they cancel a booking"));
    }
    rows::lock_declaration(conn, &booking.declaration_id)?;
    let role = ctx.caller.role.as_str();
    if !cancel_one(conn, &booking, reason, role, "booking.cancelled", &ctx.actor(), ctx.stamp())? {
        return Err(Refusal::BookingState { action: "cancel", status: BookingStatus::Cancelled }.into());
    }
    view(conn, id, ctx.caller.party())
}

/// Moves a booking to another slot: the new place is taken and the old one
/// freed in one transaction, or nothing changes.
#[tracing::instrument(skip_all, fields(booking = %id, slot = %new_slot_id))]
pub fn reschedule(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    id: &BookingId,
    new_slot_id: &SlotId,
    policy: &BookingPolicy,
) -> Result<BookingView, AppError> {
    let (now, clock) = (ctx.stamp(), ctx.now);
    let enterprise_id = ctx.caller.enterprise()?.to_owned();
    let booking = visible(conn, &ctx.caller, id)?;
    let status = booking.status;
    booking_transition(status, BookingAction::Reschedule)?;
    let new_slot_id = new_slot_id.as_str();
    if booking.slot_id == new_slot_id {
        return Err(Refusal::SameSlot.into());
    }
    let credit = enterprise_may_book(conn, &enterprise_id, policy)?;
    let old_slot = slots::find(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
    policy.check_company_cancel(clock, old_slot.starts_at.and_utc())?;
    rows::lock_declaration(conn, &booking.declaration_id)?;
    let declaration = declarations::find(conn, &booking.declaration_id)?.ok_or(AppError::NotFound)?;
    let (new_slot, _) =
        slots::find_with_zone(conn, new_slot_id)?.ok_or_else(|| AppError::missing("slot", new_slot_id))?;
    check_slot(&new_slot, (&declaration.data.site_id, declaration.data.transport_mode), credit, policy, clock)?;
    // Both slot rows in id order, so two opposite moves cannot deadlock.
    if new_slot_id < booking.slot_id.as_str() {
        take_place(conn, new_slot_id, &enterprise_id, OwnBooking::NotInSlot, policy)?;
        slots::release_place(conn, &booking.slot_id)?;
    } else {
        slots::release_place(conn, &booking.slot_id)?;
        take_place(conn, new_slot_id, &enterprise_id, OwnBooking::NotInSlot, policy)?;
    }
    if rows::move_slot(conn, id.as_str(), &booking.slot_id, new_slot_id, now)? == 0 {
        return Err(Refusal::BookingState { action: "reschedule", status }.into());
    }
    let from = booking.slot_id.clone();
    super::record_change(conn, ctx, Change::new("booking", id.as_str(), "reschedule", Some(&from), Some(new_slot_id)))?;
    let v = view(conn, id, ctx.caller.party())?;
    outbox::booking_event(conn, "booking.rescheduled", &v, now)?;
    Ok(v)
}

/// Gate actions by officers: check-in, complete, no-show.
#[tracing::instrument(skip_all, fields(booking = %id, action = action.as_str()))]
pub fn gate(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    id: &BookingId,
    action: BookingAction,
    policy: &BookingPolicy,
) -> Result<BookingView, AppError> {
    let now = ctx.stamp();
    let booking = rows::find(conn, id.as_str())?.ok_or(AppError::NotFound)?;
    let from = booking.status;
    let to = booking_transition(from, action)?;
    if action == BookingAction::NoShow {
        let slot = slots::find(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
        policy.check_no_show(ctx.now, slot.ends_at.and_utc())?;
    }
    // A no-show frees nothing: the slot's time is over. A completed
    // clearance keeps its place too (it was used).
    if rows::set_status(conn, id.as_str(), from, to, None, None, now)? == 0 {
        return Err(AppError::conflict("concurrent-change", "the booking changed meanwhile; retry"));
    }
    super::record_change(
        conn,
        ctx,
        Change::new("booking", id.as_str(), action.as_str(), Some(from.as_str()), Some(to.as_str())),
    )?;
    view(conn, id, ctx.caller.party())
}

/// Cancels the active booking of a declaration that was rejected or
/// cancelled, freeing its place. Returns whether there was one.
pub fn cancel_for_declaration(
    conn: &mut DbConnection,
    declaration_id: &str,
    reason: &str,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let Some(booking) = rows::active_for_declaration(conn, declaration_id)? else {
        return Ok(false);
    };
    if booking.status != BookingStatus::Confirmed {
        return Ok(false);
    }
    let role = actor.role.clone().unwrap_or_else(|| "system".into());
    cancel_one(conn, &booking, Some(reason), &role, "booking.cancelled", actor, now)
}

/// Cancels the latest confirmed bookings of a slot until at most `keep`
/// remain active; returns how many were displaced.
pub fn displace(
    conn: &mut DbConnection,
    slot_id: &str,
    keep: i32,
    reason: Option<&str>,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let slot = slots::find(conn, slot_id)?.ok_or(AppError::NotFound)?;
    let excess = (slot.booked - keep).max(0) as usize;
    let reason = reason.unwrap_or("displaced by customs: slot capacity reduced or slot closed");
    let role = actor.role.clone().unwrap_or_else(|| Role::Officer.as_str().to_owned());
    let mut displaced = 0;
    for booking in rows::confirmed_in_slot_latest_first(conn, slot_id)?.into_iter().take(excess) {
        if cancel_one(conn, &booking, Some(reason), &role, "booking.displaced", actor, now)? {
            displaced += 1;
        }
    }
    Ok(displaced)
}

/// Forgets idempotency keys older than their retention.
pub fn prune_idempotency_keys(conn: &mut DbConnection, clock: DateTime<Utc>) -> Result<usize, AppError> {
    Ok(rows::prune_keys(conn, clock.naive_utc())?)
}
