//! The booking service: capacity that holds under any concurrency.
//!
//! Capacity is taken by one guarded statement (`UPDATE … SET booked =
//! booked + 1 WHERE booked < capacity AND status = 'open' AND <the reserve
//! for advanced-certified enterprises lets this caller in>`), backed by the
//! table's `CHECK (booked <= capacity)`.
//!
//! A booking is one vehicle's visit: one place in one slot for 1–20
//! declarations, with the vehicle, driver and containers, and a version
//! that its ETag and its gate pass name.
//!
//! Locks are always taken in one order — declaration rows (by id), then
//! the vehicle's row, then slot rows (by id), then booking rows — so that
//! no two transactions can wait on each other in a cycle. On SQLite the
//! single writer serialises everything anyway.
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
use crate::db::bookings::{self as rows, BookingFilter, BookingRow, IdempotencyRow, VisitColumns};
use crate::db::sites::{self, SiteTerms};
use crate::db::slots::{self, SlotRow};
use crate::db::{declarations, enterprises, new_id, DbConnection};
use crate::domain::booking_policy::{
    allowed_actions, booking_transition, ArrivalWindow, BookingAction, BookingPolicy, BookingStatus, Refusal,
};
use crate::domain::declaration::Party;
use crate::domain::display_zones::{display_times, DisplayTime};
use crate::domain::gate_pass::GatePassKey;
use crate::domain::goods::TransportMode;
use crate::domain::identity::{CreditClass, EnterpriseStatus, Role};
use crate::domain::ids::{BookingId, DeclarationId, SlotId};
use crate::domain::reserve::{reserved_blocks, takes_reserved};
use crate::domain::schedule::{parse_timezone, to_local};
use crate::domain::slot::SlotStatus;
use crate::domain::vehicle::{Driver, Vehicle, VisitDetails};
use crate::error::AppError;
use crate::services::{identity, outbox};

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;

/// What the booking service takes from configuration: the default rules
/// (`[booking]`), which each site may override, and the key that signs
/// gate passes.
#[derive(Debug, Clone)]
pub struct BookingRules {
    /// The configured defaults. A slot's rules are its site's:
    /// [`BookingRules::for_site`].
    pub defaults: BookingPolicy,
    pub passes: GatePassKey,
    /// Holds and waitlist offers (`[holds]`, `[waitlist]`).
    pub holds: crate::services::holds::HoldRules,
}

impl BookingRules {
    /// The rules of a site's slots: the defaults with the site's own values
    /// (read with the slot, in the same statement).
    pub fn for_site(&self, site: &SiteTerms) -> BookingPolicy {
        self.defaults.with(&site.overrides())
    }
}

/// The signed pass the driver shows at the gate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GatePassView {
    /// Opaque, signed by the server; names the booking and the version.
    /// `GET /bookings/{id}/gate-pass.svg` draws it as a QR code.
    #[schema(example = "CW1.0190f7a3-1b2c-7e44-8a9b-0c1d2e3f4a5b.1.q3Vx0a1Zk2mT9bFhP4wL1g")]
    pub code: String,
    /// Rescheduling or changing the vehicle makes a new version; older
    /// codes no longer admit.
    pub version: i32,
}

/// A booking as the API shows it, with its slot's site, mode and times.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Booking)]
pub struct BookingView {
    pub id: String,
    pub status: BookingStatus,
    /// Whether it holds a place in its slot (`confirmed` or `checked_in`).
    pub active: bool,
    /// What the caller's side may do in this status: `cancel`, `reschedule`, `edit`
    /// (company), `check-in`, `complete`, `no-show` (customs). Time rules still
    /// apply when it is done: a no-show only after the slot has ended, a check-in
    /// inside the arrival window, a company cancel before the cut-off.
    #[schema(example = json!(["cancel", "reschedule", "edit"]))]
    pub allowed_actions: Vec<&'static str>,
    pub slot_id: String,
    /// The first of `declaration_ids`.
    pub declaration_id: String,
    /// The declarations the vehicle carries, in the order given (1–20; a
    /// rejected or cancelled declaration leaves the visit).
    pub declaration_ids: Vec<String>,
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
    /// The slot's start and end in each of the site's display zones.
    pub display_times: Vec<DisplayTime>,
    /// When the truck may be checked in at the gate.
    pub arrival_window: ArrivalWindow,
    /// The vehicle (plate normalised), if given.
    pub vehicle: Option<Vehicle>,
    pub driver: Option<Driver>,
    /// ISO 6346 container numbers.
    pub containers: Vec<String>,
    pub gate_pass: GatePassView,
    /// The booking's version: its `ETag`, and `If-Match` of `PATCH`.
    pub version: i32,
    pub checked_in_at: Option<DateTime<Utc>>,
    /// The officer who checked it in (user id).
    pub checked_in_by: Option<String>,
    /// Why it was cancelled (by the company, by customs, or displaced).
    pub cancel_reason: Option<String>,
    /// Role of who cancelled it.
    pub cancelled_by_role: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BookingView {
    /// The answer for a caller of `party` (webhooks go to the company).
    pub fn new(
        b: BookingRow,
        slot: &SlotRow,
        site: &SiteTerms,
        declaration_ids: Vec<String>,
        party: Party,
        rules: &BookingRules,
    ) -> Self {
        let (starts_at, ends_at) = (slot.starts_at.and_utc(), slot.ends_at.and_utc());
        let (starts_at_local, ends_at_local) = match parse_timezone(&site.timezone) {
            Ok(tz) => (to_local(starts_at, tz), to_local(ends_at, tz)),
            Err(_) => (starts_at.fixed_offset(), ends_at.fixed_offset()),
        };
        let vehicle = match (b.vehicle_plate, b.vehicle_country) {
            (Some(plate), Some(country)) => Some(Vehicle { plate, country, trailer_plate: b.trailer_plate }),
            _ => None,
        };
        let driver = match (b.driver_name, b.driver_document) {
            (Some(name), Some(document_number)) => Some(Driver { name, document_number }),
            _ => None,
        };
        // Written by us only, as a JSON array of strings.
        let containers = serde_json::from_str(&b.containers).unwrap_or_default();
        Self {
            gate_pass: GatePassView {
                code: rules.passes.code(&b.id, b.gate_pass_version),
                version: b.gate_pass_version,
            },
            id: b.id,
            active: b.status.is_active(),
            allowed_actions: allowed_actions(b.status, party).into_iter().map(BookingAction::as_str).collect(),
            status: b.status,
            slot_id: b.slot_id,
            declaration_id: declaration_ids.first().cloned().unwrap_or(b.declaration_id),
            declaration_ids,
            enterprise_id: b.enterprise_id,
            site_id: slot.site_id.clone(),
            mode: slot.mode,
            starts_at,
            ends_at,
            starts_at_local,
            ends_at_local,
            display_times: display_times(&site.display_zones, starts_at, ends_at),
            arrival_window: rules.for_site(site).arrival_window(starts_at, ends_at),
            vehicle,
            driver,
            containers,
            version: b.version,
            checked_in_at: b.checked_in_at.map(|t| t.and_utc()),
            checked_in_by: b.checked_in_by,
            cancel_reason: b.cancel_reason,
            cancelled_by_role: b.cancelled_by_role,
            created_at: b.created_at.and_utc(),
            updated_at: b.updated_at.and_utc(),
        }
    }
}

/// Loads the booking with its slot and declarations for the answer.
pub fn view(
    conn: &mut DbConnection,
    id: &BookingId,
    party: Party,
    rules: &BookingRules,
) -> Result<BookingView, AppError> {
    let b = rows::find(conn, id.as_str())?.ok_or(AppError::NotFound)?;
    let (slot, site) = slots::find_with_site(conn, &b.slot_id)?.ok_or(AppError::NotFound)?;
    let declaration_ids = visit_declarations(conn, &b.id)?;
    Ok(BookingView::new(b, &slot, &site, declaration_ids, party, rules))
}

/// The declarations still on a visit, in booking order.
pub fn visit_declarations(conn: &mut DbConnection, booking_id: &str) -> Result<Vec<String>, AppError> {
    Ok(rows::declarations_of(conn, &[booking_id])?.into_iter().map(|(_, d)| d).collect())
}

/// One booking as the caller may see it (a company only its own: else 404).
#[tracing::instrument(skip_all, fields(booking = %id))]
pub fn read(
    conn: &mut DbConnection,
    who: &Principal,
    id: &BookingId,
    rules: &BookingRules,
) -> Result<BookingView, AppError> {
    visible(conn, who, id)?;
    view(conn, id, who.party(), rules)
}

/// One page of bookings as views, read with one joined query and one for
/// the page's declarations; `more` tells whether another page follows.
pub fn list(
    conn: &mut DbConnection,
    party: Party,
    filter: &BookingFilter,
    after: Option<&str>,
    rules: &BookingRules,
) -> Result<(Vec<BookingView>, bool), AppError> {
    let wanted = filter.limit;
    let page = BookingFilter { limit: wanted + 1, ..filter.clone() };
    let mut found = rows::list_views(conn, &page, after)?;
    let more = found.len() as i64 > wanted;
    found.truncate(wanted as usize);
    let ids: Vec<&str> = found.iter().map(|(b, _, _)| b.id.as_str()).collect();
    let mut carried: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (booking, declaration) in rows::declarations_of(conn, &ids)? {
        carried.entry(booking).or_default().push(declaration);
    }
    let views = found
        .into_iter()
        .map(|(b, slot, site)| {
            let declarations = carried.remove(&b.id).unwrap_or_default();
            BookingView::new(b, &slot, &site, declarations, party, rules)
        })
        .collect();
    Ok((views, more))
}

/// A booking as `who` may see it: a company only its own, an officer
/// limited to sites only those at their sites (else 404).
pub fn visible(conn: &mut DbConnection, who: &Principal, id: &BookingId) -> Result<BookingRow, AppError> {
    let b = rows::find(conn, id.as_str())?.ok_or(AppError::NotFound)?;
    match &who.enterprise_id {
        Some(e) if *e != b.enterprise_id => Err(AppError::NotFound),
        Some(_) => Ok(b),
        None => {
            crate::services::access::slot_visible(conn, who, &b.slot_id)?;
            Ok(b)
        }
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

pub(crate) fn enterprise_may_book(
    conn: &mut DbConnection,
    enterprise_id: &str,
    policy: &BookingPolicy,
) -> Result<CreditClass, AppError> {
    let e = enterprises::find(conn, enterprise_id)?.ok_or(AppError::NotFound)?;
    identity::writable(e.status)?;
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
/// slot's rules under its site's policy (closed, timing, full: the same
/// checks `GET /slots` shows as `bookable`), and refuses early a slot whose
/// free places are all reserved for advanced-certified enterprises. That
/// reading takes no lock: it only spares a doomed transaction its writes;
/// what grants a place is the guarded UPDATE in `take_place`.
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
    check_slot_rules(slot, credit, policy, now)
}

/// The slot's own rules for a caller of this credit class (closed, timing,
/// full, reserved): [`check_slot`] without the declaration's site and mode.
pub(crate) fn check_slot_rules(
    slot: &SlotRow,
    credit: CreditClass,
    policy: &BookingPolicy,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    policy.check_slot(&slot.facts(), credit, now)?;
    if reserved_blocks(credit, &slot.places(), now) {
        return Err(reserved(slot));
    }
    Ok(())
}

/// The refusal of a slot whose free places are all reserved.
fn reserved(slot: &SlotRow) -> AppError {
    Refusal::Reserved { slot_id: slot.id.clone(), reserved_until: slot.reserved_until().and_utc() }.into()
}

/// The slot as it will be once its expired holds are freed (which a
/// reschedule does just before it takes its place): an expired hold never
/// makes the early checks refuse a slot. A read, no lock.
fn without_expired_holds(conn: &mut DbConnection, mut slot: SlotRow, now: NaiveDateTime) -> Result<SlotRow, AppError> {
    if slot.held > 0 {
        let due = crate::db::holds::expired_in_slot(conn, &slot.id, now)?.len() as i32;
        slot.held = (slot.held - due).max(0);
    }
    Ok(slot)
}

/// Why the guarded UPDATE took no place, from the slot as it reads after
/// it: closed, full, or reserved for advanced-certified enterprises. (On
/// PostgreSQL a place freed since the UPDATE may read as none of these:
/// that is answered as full, which it was.)
pub(crate) fn no_place(slot: &SlotRow, credit: CreditClass, now: DateTime<Utc>) -> AppError {
    if slot.status != SlotStatus::Open {
        Refusal::SlotClosed.into()
    } else if reserved_blocks(credit, &slot.places(), now) {
        reserved(slot)
    } else {
        Refusal::SlotFull.into()
    }
}

/// Whether the booking taking a place is already a row of that slot: a
/// new booking is inserted before, a moved one is moved after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnBooking {
    InSlot,
    NotInSlot,
}

/// Who takes a place, and when: the enterprise, its credit class (for the
/// reserve) and the request's instant.
#[derive(Debug, Clone, Copy)]
struct Taker<'a> {
    enterprise_id: &'a str,
    credit: CreditClass,
    now: DateTime<Utc>,
}

/// Takes one place in a slot for an enterprise, within its share (of the slot's
/// site's policy) and the slot's reserve for advanced-certified enterprises; the caller's
/// transaction is rolled back on any refusal. From the UPDATE on, the
/// transaction holds the slot's row lock until it ends, so callers do this
/// as late as they can: on a busy slot every other booking queues for that
/// lock.
fn take_place(
    conn: &mut DbConnection,
    slot_id: &str,
    taker: Taker<'_>,
    own: OwnBooking,
    policy: &BookingPolicy,
) -> Result<(), AppError> {
    take_place_with(conn, slot_id, taker, own, policy, None)
}

/// [`take_place`] with a new booking's rows written just before it (on
/// PostgreSQL in one statement): `slots::take_place_with`.
fn take_place_with(
    conn: &mut DbConnection,
    slot_id: &str,
    taker: Taker<'_>,
    own: OwnBooking,
    policy: &BookingPolicy,
    with: Option<&rows::NewBooking<'_>>,
) -> Result<(), AppError> {
    let Taker { enterprise_id, credit, now } = taker;
    let (advanced, at) = (takes_reserved(credit), now.naive_utc());
    let taken = match with {
        Some(w) => slots::take_place_with(conn, slot_id, advanced, at, w).map_err(|e| new_booking_refused(e, w))?,
        None => slots::take_place(conn, slot_id, advanced, at)?,
    };
    let Some(taken) = taken else {
        let slot = slots::find(conn, slot_id)?.ok_or(AppError::NotFound)?;
        return Err(no_place(&slot, credit, now));
    };
    // The row lock (SQLite: the single writer) keeps every other booking of
    // this slot from committing until we do, so the capacity and count read
    // now stay true; the share is of the capacity as of our change.
    let limit = policy.share_limit(i64::from(taken.capacity));
    // The enterprise holds at most every other place taken: only when those
    // could reach the limit is it worth counting its own.
    if i64::from(taken.taken()) - 1 < limit {
        return Ok(());
    }
    // Its live holds of the slot count toward its share too.
    let mut held = rows::active_in_slot_for(conn, slot_id, enterprise_id)?
        + crate::db::holds::active_in_slot_for(conn, slot_id, enterprise_id)?;
    if own == OwnBooking::InSlot {
        held -= 1;
    }
    policy.check_share(i64::from(taken.capacity), held)?;
    Ok(())
}

/// What a refused write of a new booking means (`rows::NewBooking`): one of
/// its declarations got an active booking meanwhile (the unique index;
/// PostgreSQL names the value, SQLite does not, and then the first is
/// named), another instance stored the same Idempotency-Key first, or the
/// slot was deleted meanwhile by a schedule change (foreign key; the
/// declarations are locked, the enterprise and user are never deleted).
fn new_booking_refused(e: DieselError, writes: &rows::NewBooking<'_>) -> AppError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            // PostgreSQL names the constraint, SQLite the table in its message.
            let on = info.constraint_name().unwrap_or(info.message()).to_owned();
            if on.contains("idempotency_keys") {
                // Let the client retry to get its answer.
                return AppError::conflict(
                    "idempotency-key-in-flight",
                    "a request with this Idempotency-Key is in progress",
                );
            }
            if !on.contains("booking_declarations") && !on.contains("bookings") {
                return DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info).into();
            }
            let ids = writes.declaration_ids;
            let named = info.details().and_then(|d| ids.iter().find(|id| d.contains(*id)));
            Refusal::AlreadyBooked {
                declaration_id: named.or(ids.first()).map_or_else(String::new, |d| (*d).to_owned()),
            }
            .into()
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => AppError::NotFound,
        other => other.into(),
    }
}

/// A booking request: which declarations, which slot, and the truck.
#[derive(Debug, Clone)]
pub struct NewVisit {
    /// 1–20, distinct, in the order the company gave them.
    pub declaration_ids: Vec<DeclarationId>,
    pub slot_id: SlotId,
    pub details: VisitDetails,
    /// A hold of the caller's enterprise on that slot, to turn into the
    /// booking (its place is taken already).
    pub hold_id: Option<String>,
}

/// The visit's vehicle, driver and containers as stored.
fn visit_columns(d: &VisitDetails) -> VisitColumns {
    VisitColumns {
        vehicle_plate: d.vehicle.as_ref().map(|v| v.plate.clone()),
        vehicle_country: d.vehicle.as_ref().map(|v| v.country.clone()),
        trailer_plate: d.vehicle.as_ref().and_then(|v| v.trailer_plate.clone()),
        driver_name: d.driver.as_ref().map(|x| x.name.clone()),
        driver_document: d.driver.as_ref().map(|x| x.document_number.clone()),
        containers: serde_json::to_string(&d.containers).unwrap_or_else(|_| "[]".to_owned()),
    }
}

/// One vehicle is at one gate at a time: refuses a vehicle that holds
/// another active booking (other than `except`) whose slot overlaps this
/// one, at any site. The vehicle's row lock, taken first, makes the test
/// and the booking's insert atomic against every other booking of it.
fn vehicle_free(
    conn: &mut DbConnection,
    vehicle: Option<&Vehicle>,
    slot: &SlotRow,
    except: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let Some(v) = vehicle else {
        return Ok(());
    };
    rows::lock_vehicle(conn, &v.plate, &v.country, now)?;
    if rows::overlapping_for_vehicle(conn, (&v.plate, &v.country), (slot.starts_at, slot.ends_at), except)?.is_some() {
        return Err(Refusal::VehicleAlreadyBooked { plate: v.plate.clone(), country: v.country.clone() }.into());
    }
    Ok(())
}

/// Locks the requested declarations and checks each may be booked onto
/// the slot: the caller's, bookable, at the slot's site and mode, without
/// an active booking. Returns the enterprise's credit class, or the stored
/// answer when the request is a replay of one that booked (checked before
/// any refusal, since the booking it made would cause one).
fn lock_declarations_for(
    conn: &mut DbConnection,
    enterprise_id: &str,
    ids: &[&str],
    key: Option<&IdempotencyKey>,
    policy: &BookingPolicy,
) -> Result<Result<(CreditClass, Vec<rows::BookingContext>), Answer>, AppError> {
    let locked = rows::lock_for_booking(conn, ids, enterprise_id, key.map_or("", |k| k.key.as_str()))?;
    // Declarations missing from the answer may have moved on since the
    // request booked them: look the key up then too.
    if locked.iter().any(|c| c.key_used) || locked.len() < ids.len() {
        if let Some(answer) = replay(conn, enterprise_id, key)? {
            return Ok(Err(answer));
        }
    }
    if locked.len() < ids.len() {
        // Which one, and why: the enterprise's standing first, then the
        // first declaration (in the caller's order) that is missing or not bookable.
        enterprise_may_book(conn, enterprise_id, policy)?;
        for id in ids {
            if locked.iter().any(|c| c.declaration_id == *id) {
                continue;
            }
            let d = declarations::find(conn, id)?
                .filter(|d| d.enterprise_id == enterprise_id)
                .ok_or_else(|| AppError::missing("declaration", *id))?;
            return Err(Refusal::DeclarationState { status: d.status }.into());
        }
    }
    let first = locked.first().ok_or_else(|| AppError::internal("no declaration locked"))?;
    identity::writable(first.enterprise_status)?;
    let credit = standing_allows_booking(first.enterprise_status, first.credit_class, policy)?;
    // In the caller's order, so that the refusal names the first one given.
    for id in ids {
        if locked.iter().any(|c| c.declaration_id == *id && c.has_active_booking) {
            return Err(Refusal::AlreadyBooked { declaration_id: (*id).to_owned() }.into());
        }
    }
    Ok(Ok((credit, locked)))
}

/// The stored answer to an earlier request with this Idempotency-Key, if
/// there was one; refused if that request had another body.
fn replay(
    conn: &mut DbConnection,
    enterprise_id: &str,
    key: Option<&IdempotencyKey>,
) -> Result<Option<Answer>, AppError> {
    let Some(k) = key else { return Ok(None) };
    let Some(stored) = rows::find_key(conn, enterprise_id, &k.key)? else { return Ok(None) };
    identity::require_writable(conn, enterprise_id)?;
    if stored.request_hash != k.request_hash {
        return Err(AppError::unprocessable(
            "idempotency-key-reused",
            "this Idempotency-Key was used with another request body",
        ));
    }
    Ok(Some(Answer { status: stored.response_status as u16, body: stored.response_body, replayed: true }))
}

/// What a booking does with holds of its slot that have expired (places no
/// one may use any more, until they are freed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiredHolds {
    /// Free them in this transaction, before taking a place.
    FreeHere,
    /// Stop before any write: the caller frees them in a transaction of
    /// their own (so that their places are freed, and offered on to the
    /// waitlist, whether or not this booking then succeeds) and tries again.
    FreeFirst,
}

/// Books a slot for a truck carrying one or more declarations, in one
/// transaction with its audit event, outbox event and idempotency record.
/// The visit takes one place whatever the number of declarations. Expired
/// holds of the slot are freed in the same transaction.
pub fn book(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    visit: &NewVisit,
    key: Option<&IdempotencyKey>,
    rules: &BookingRules,
) -> Result<Answer, AppError> {
    book_with(conn, ctx, visit, key, rules, ExpiredHolds::FreeHere)?
        .ok_or_else(|| AppError::internal("booking stopped for expired holds it was to free"))
}

/// [`book`] as an API request's first try: `None`, with nothing written,
/// when the slot has expired holds to free first
/// ([`crate::services::holds::free_expired_in_slot`]); the caller frees
/// them and calls [`book`]. A booking of a slot without expired holds, by
/// far the most common, thus needs no read of holds at all.
pub fn try_book(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    visit: &NewVisit,
    key: Option<&IdempotencyKey>,
    rules: &BookingRules,
) -> Result<Option<Answer>, AppError> {
    book_with(conn, ctx, visit, key, rules, ExpiredHolds::FreeFirst)
}

#[tracing::instrument(skip_all, fields(slot = %visit.slot_id, declarations = visit.declaration_ids.len()))]
fn book_with(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    visit: &NewVisit,
    key: Option<&IdempotencyKey>,
    rules: &BookingRules,
    expired: ExpiredHolds,
) -> Result<Option<Answer>, AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    let ids: Vec<&str> = visit.declaration_ids.iter().map(DeclarationId::as_str).collect();
    // The enterprise-status rule of every company write (see
    // `services::write_checked_within`): read here, as a rule, by the
    // declarations' locking statement; a replay and a hold read it first.
    // The Idempotency-Key is looked up by that statement too, except for a
    // hold's booking, whose hold a replay would find converted already.
    if visit.hold_id.is_some() {
        if let Some(answer) = replay(conn, enterprise_id, key)? {
            return Ok(Some(answer));
        }
    }
    let now = ctx.stamp();
    // A hold names its slot (an empty `slot_id` means the hold's).
    let hold = match &visit.hold_id {
        Some(h) => {
            identity::require_writable(conn, enterprise_id)?;
            Some(crate::services::holds::own(conn, enterprise_id, h)?)
        }
        None => None,
    };
    let slot_id = match &hold {
        Some(h) if visit.slot_id.as_str().is_empty() || visit.slot_id.as_str() == h.slot_id => h.slot_id.as_str(),
        Some(h) => {
            return Err(AppError::field(
                "slot_id",
                "hold",
                format!("hold {} is on slot {}: leave slot_id out or give that slot", h.id, h.slot_id),
            ))
        }
        None => visit.slot_id.as_str(),
    };
    // 1. The declarations: their row locks first (see the module comment),
    // and what the booking needs to know of them, in one statement.
    let (credit, locked) = match lock_declarations_for(conn, enterprise_id, &ids, key, &rules.defaults)? {
        Ok(locked) => locked,
        Err(replayed) => return Ok(Some(replayed)),
    };
    // 2. The slot, as last committed, with its site's time zone and policy,
    // and whether a declaration is on the waitlist (one joined statement):
    // does it fit at all?
    let (slot, site, waitlisted) =
        rows::slot_for_booking(conn, slot_id, &ids)?.ok_or_else(|| AppError::missing("slot", slot_id))?;
    let policy = &rules.for_site(&site);
    // A slot holding no place holds none that expired (a hold expires
    // minutes after it committed): most bookings read no holds at all.
    let due = if hold.is_none() && slot.held > 0 {
        crate::db::holds::expired_in_slot(conn, slot_id, now)?.len() as i32
    } else {
        0
    };
    if due > 0 && expired == ExpiredHolds::FreeFirst {
        return Ok(None);
    }
    // The slot as it will be once those are freed (just before the place
    // is taken): an expired hold never makes the early checks refuse it.
    let slot = SlotRow { held: (slot.held - due).max(0), ..slot };
    for declaration in &locked {
        match &hold {
            // The hold's place is taken already: the slot's timing still applies.
            Some(h) => {
                if h.status != crate::domain::hold::HoldStatus::Active || h.expires_at <= now {
                    return Err(crate::services::holds::expired_refusal(h));
                }
                if slot.site_id != declaration.site_id || slot.mode != declaration.transport_mode {
                    return Err(Refusal::WrongSiteOrMode.into());
                }
                policy.check_timing(credit, ctx.now, slot.starts_at.and_utc())?;
            }
            None => check_slot(&slot, (&declaration.site_id, declaration.transport_mode), credit, policy, ctx.now)?,
        }
    }
    // 3. The vehicle, before any slot lock.
    vehicle_free(conn, visit.details.vehicle.as_ref(), &slot, None, now)?;
    // 4. Every write of the booking (on PostgreSQL one statement), then the
    // place, last: the slot's row lock is held from its UPDATE to commit
    // only, so that bookings of one busy slot queue for as short a time as
    // can be.
    let columns = visit_columns(&visit.details);
    let booking = BookingRow {
        id: new_id(),
        enterprise_id: enterprise_id.to_owned(),
        declaration_id: ids[0].to_owned(),
        slot_id: slot_id.to_owned(),
        status: BookingStatus::Confirmed,
        created_by: ctx.caller.user_id.clone(),
        cancel_reason: None,
        cancelled_by_role: None,
        created_at: now,
        updated_at: now,
        version: 1,
        gate_pass_version: 1,
        vehicle_plate: columns.vehicle_plate,
        vehicle_country: columns.vehicle_country,
        trailer_plate: columns.trailer_plate,
        driver_name: columns.driver_name,
        driver_document: columns.driver_document,
        containers: columns.containers,
        checked_in_at: None,
        checked_in_by: None,
    };
    let audit_event = audit::first_event(
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
    );
    let declaration_ids = ids.iter().map(|d| (*d).to_owned()).collect();
    let view = BookingView::new(booking.clone(), &slot, &site, declaration_ids, Party::Company, rules);
    // No endpoint, no event: the worker would expand it to no delivery
    // (an endpoint registered from now on receives the events from now on).
    let event = match locked.first() {
        Some(c) if c.webhook_count > 0 => Some(outbox::event_row(enterprise_id, "booking.confirmed", &view, now)?),
        _ => None,
    };
    let body = serde_json::to_string(&view).map_err(|e| AppError::internal(format!("serialising booking: {e}")))?;
    let stored = key.map(|k| IdempotencyRow {
        enterprise_id: enterprise_id.to_owned(),
        key: k.key.clone(),
        request_hash: k.request_hash.clone(),
        response_status: 201,
        response_body: body.clone(),
        created_at: now,
        expires_at: now + Duration::hours(IDEMPOTENCY_RETENTION_HOURS),
    });
    let writes = rows::NewBooking {
        booking: &booking,
        declaration_ids: &ids,
        audit: &audit_event,
        event: event.as_ref(),
        key: stored.as_ref(),
    };
    // 5. The place. A hold's place turns from held into booked; otherwise
    // the slot's expired holds are freed first (offered on to the waitlist,
    // in this transaction), then a place is taken.
    match &hold {
        Some(h) => {
            slots::WithPlace::write_apart(&writes, conn).map_err(|e| new_booking_refused(e, &writes))?;
            crate::services::holds::convert(conn, h, &booking.id, &ctx.actor(), ctx.now)?
        }
        None => {
            if slot.held > 0 || due > 0 {
                crate::services::holds::expire_in_slot(conn, slot_id, ctx.now, rules)?;
            }
            let taker = Taker { enterprise_id, credit, now: ctx.now };
            take_place_with(conn, slot_id, taker, OwnBooking::InSlot, policy, Some(&writes))?;
        }
    }
    // Waitlist entries of these declarations are fulfilled.
    if waitlisted {
        crate::services::waitlist::end_for_declarations(
            conn,
            &ids,
            crate::domain::hold::WaitlistStatus::Fulfilled,
            visit.hold_id.as_deref(),
            &ctx.actor(),
            ctx.now,
            rules,
        )?;
    }
    Ok(Some(Answer { status: 201, body, replayed: false }))
}

/// Cancels a booking that is `confirmed`, freeing its place exactly once.
/// Two racing cancels: the guarded status change lets one through.
#[allow(clippy::too_many_arguments)]
fn cancel_one(
    conn: &mut DbConnection,
    booking: &BookingRow,
    reason: Option<&str>,
    by_role: &str,
    event: &str,
    actor: &Actor,
    now: NaiveDateTime,
    rules: &BookingRules,
) -> Result<bool, AppError> {
    // Slot before booking (lock order): its row lock first, then the
    // guarded status change; only a booking that was still confirmed frees
    // its place, offered on to the waitlist in this transaction (not when
    // displaced: that slot is losing places).
    slots::lock(conn, &booking.slot_id)?;
    let (from, to) = (BookingStatus::Confirmed, BookingStatus::Cancelled);
    if rows::set_status(conn, &booking.id, &booking.slot_id, from, to, reason, Some(by_role), now)? == 0 {
        return Ok(false);
    }
    if event == "booking.displaced" {
        slots::release_place(conn, &booking.slot_id)?;
    } else {
        crate::services::waitlist::free_and_offer(
            conn,
            &booking.slot_id,
            Some(slots::Counter::Booked),
            now.and_utc(),
            rules,
        )?;
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
    let id = BookingId::new(booking.id.clone());
    if event == "booking.displaced" {
        displaced_event(conn, &id, &booking.slot_id, None, now, rules)?;
    } else {
        let after = view(conn, &id, Party::Company, rules)?;
        outbox::booking_event(conn, event, &after, now)?;
    }
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
    rules: &BookingRules,
) -> Result<BookingView, AppError> {
    let booking = visible(conn, &ctx.caller, id)?;
    booking_transition(booking.status, BookingAction::Cancel)?;
    if ctx.caller.role.is_company() {
        let (slot, site) = slots::find_with_site(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
        rules.for_site(&site).check_company_cancel(ctx.now, slot.starts_at.and_utc())?;
    } else if reason.is_none() {
        return Err(AppError::field("reason", "required", "customs give a reason when they cancel a booking"));
    }
    let carried = visit_declarations(conn, &booking.id)?;
    rows::lock_declarations(conn, &carried)?;
    let role = ctx.caller.role.as_str();
    if !cancel_one(conn, &booking, reason, role, "booking.cancelled", &ctx.actor(), ctx.stamp(), rules)? {
        let now_status = rows::find(conn, id.as_str())?.map_or(BookingStatus::Cancelled, |b| b.status);
        return Err(Refusal::BookingState { action: "cancel", status: now_status }.into());
    }
    view(conn, id, ctx.caller.party(), rules)
}

/// Moves a booking to another slot: the new place is taken and the old one
/// freed in one transaction, or nothing changes. The gate pass gets a new
/// version (the old one names the old time).
#[tracing::instrument(skip_all, fields(booking = %id, slot = %new_slot_id))]
pub fn reschedule(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    id: &BookingId,
    new_slot_id: &SlotId,
    rules: &BookingRules,
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
    let credit = enterprise_may_book(conn, &enterprise_id, &rules.defaults)?;
    // Leaving the old slot follows its site's cut-off; taking the new one
    // its site's notice, horizon and share.
    let (old_slot, old_site) = slots::find_with_site(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
    rules.for_site(&old_site).check_company_cancel(clock, old_slot.starts_at.and_utc())?;
    let carried = visit_declarations(conn, &booking.id)?;
    rows::lock_declarations(conn, &carried)?;
    let declaration = declarations::find(conn, &booking.declaration_id)?.ok_or(AppError::NotFound)?;
    let (new_slot, new_site) =
        slots::find_with_site(conn, new_slot_id)?.ok_or_else(|| AppError::missing("slot", new_slot_id))?;
    let new_slot = without_expired_holds(conn, new_slot, now)?;
    let policy = &rules.for_site(&new_site);
    check_slot(&new_slot, (&declaration.data.site_id, declaration.data.transport_mode), credit, policy, clock)?;
    let details = stored_details(&booking);
    vehicle_free(conn, details.vehicle.as_ref(), &new_slot, Some(&booking.id), now)?;
    // Both slot rows in id order, so two opposite moves cannot deadlock.
    let taker = Taker { enterprise_id: &enterprise_id, credit, now: clock };
    crate::services::holds::expire_in_slot(conn, new_slot_id, clock, rules)?;
    let leave = |conn: &mut DbConnection| {
        crate::services::waitlist::free_and_offer(conn, &booking.slot_id, Some(slots::Counter::Booked), clock, rules)
    };
    if new_slot_id < booking.slot_id.as_str() {
        take_place(conn, new_slot_id, taker, OwnBooking::NotInSlot, policy)?;
        leave(conn)?;
    } else {
        leave(conn)?;
        take_place(conn, new_slot_id, taker, OwnBooking::NotInSlot, policy)?;
    }
    if rows::move_slot(conn, id.as_str(), &booking.slot_id, new_slot_id, now)? == 0 {
        return Err(Refusal::BookingState { action: "reschedule", status }.into());
    }
    let from = booking.slot_id.clone();
    super::record_change(conn, ctx, Change::new("booking", id.as_str(), "reschedule", Some(&from), Some(new_slot_id)))?;
    let v = view(conn, id, ctx.caller.party(), rules)?;
    outbox::booking_event(conn, "booking.rescheduled", &v, now)?;
    Ok(v)
}

/// The vehicle, driver and containers of a stored booking.
pub fn stored_details(b: &BookingRow) -> VisitDetails {
    VisitDetails {
        vehicle: match (&b.vehicle_plate, &b.vehicle_country) {
            (Some(plate), Some(country)) => {
                Some(Vehicle { plate: plate.clone(), country: country.clone(), trailer_plate: b.trailer_plate.clone() })
            }
            _ => None,
        },
        driver: match (&b.driver_name, &b.driver_document) {
            (Some(name), Some(document_number)) => {
                Some(Driver { name: name.clone(), document_number: document_number.clone() })
            }
            _ => None,
        },
        containers: serde_json::from_str(&b.containers).unwrap_or_default(),
    }
}

/// Sets or replaces the vehicle, driver and containers of a confirmed
/// booking at the version the caller read (`If-Match`). A new vehicle
/// gets a new gate pass version and must be free at the slot's time.
#[tracing::instrument(skip_all, fields(booking = %id))]
pub fn edit_visit(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    id: &BookingId,
    version: i32,
    details: &VisitDetails,
    rules: &BookingRules,
) -> Result<BookingView, AppError> {
    let now = ctx.stamp();
    let booking = visible(conn, &ctx.caller, id)?;
    if booking.version != version {
        return Err(AppError::PreconditionFailed(format!(
            "the booking is at version {}, not {version}: read it again and re-apply your change",
            booking.version
        )));
    }
    booking_transition(booking.status, BookingAction::Edit)?;
    let new_vehicle = stored_details(&booking).vehicle != details.vehicle;
    if new_vehicle {
        let slot = slots::find(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
        vehicle_free(conn, details.vehicle.as_ref(), &slot, Some(&booking.id), now)?;
    }
    if rows::set_visit(conn, id.as_str(), version, &visit_columns(details), new_vehicle, now)? == 0 {
        let current = rows::find(conn, id.as_str())?.ok_or(AppError::NotFound)?;
        booking_transition(current.status, BookingAction::Edit)?;
        return Err(AppError::PreconditionFailed("the booking changed meanwhile: read it again".into()));
    }
    let plate = details.vehicle.as_ref().map(|v| v.plate.as_str());
    super::record_change(conn, ctx, Change::new("booking", id.as_str(), "edit", None, plate))?;
    view(conn, id, ctx.caller.party(), rules)
}

/// Completes a checked-in visit, or records a confirmed one as a no-show
/// once its slot has ended (officers). Check-in is the gate service's.
#[tracing::instrument(skip_all, fields(booking = %id, action = action.as_str()))]
pub fn gate(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    id: &BookingId,
    action: BookingAction,
    rules: &BookingRules,
) -> Result<BookingView, AppError> {
    let now = ctx.stamp();
    let booking = visible(conn, &ctx.caller, id)?;
    let from = booking.status;
    let to = booking_transition(from, action)?;
    if action == BookingAction::NoShow {
        let (slot, site) = slots::find_with_site(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
        rules.for_site(&site).check_no_show(ctx.now, slot.ends_at.and_utc())?;
    }
    // A no-show frees nothing: the slot's time is over. A completed
    // clearance keeps its place too (it was used).
    if rows::set_status(conn, id.as_str(), &booking.slot_id, from, to, None, None, now)? == 0 {
        return Err(AppError::conflict("concurrent-change", "the booking changed meanwhile; retry"));
    }
    super::record_change(
        conn,
        ctx,
        Change::new("booking", id.as_str(), action.as_str(), Some(from.as_str()), Some(to.as_str())),
    )?;
    let event = if to == BookingStatus::Completed { "booking.completed" } else { "booking.no_show" };
    let for_company = view(conn, id, Party::Company, rules)?;
    outbox::booking_event(conn, event, &for_company, now)?;
    view(conn, id, ctx.caller.party(), rules)
}

/// Marks as `no_show` the bookings still `confirmed` after their arrival
/// window closed (each by its site's `arrival_late_minutes`) after
/// `since`, at most `batch` of them; returns how many. Every instance may
/// run it: the guarded status change lets exactly one instance through for
/// each booking, and only that one writes the audit and webhook events.
pub fn sweep_no_shows(
    conn: &mut DbConnection,
    clock: DateTime<Utc>,
    since: DateTime<Utc>,
    batch: i64,
    rules: &BookingRules,
) -> Result<usize, AppError> {
    let now = clock.naive_utc();
    // The sites grouped by the lateness they allow (a site's own value or
    // the default): one look per group, each with its own bound, so that
    // bookings not yet due at one site never fill the batch ahead of those
    // due at another.
    let mut by_late: std::collections::BTreeMap<i64, Vec<String>> = std::collections::BTreeMap::new();
    for (site_id, columns) in sites::policies(conn)? {
        let late = rules.defaults.with(&columns.into()).arrival_late;
        by_late.entry(late.num_seconds()).or_default().push(site_id);
    }
    let mut due = Vec::new();
    for (late_seconds, site_ids) in &by_late {
        let left = batch - due.len() as i64;
        if left <= 0 {
            break;
        }
        let late = Duration::seconds(*late_seconds);
        // Windows that closed in (since, now]: their slots ended `late` earlier.
        let ended = ((since - late).naive_utc(), (clock - late).naive_utc());
        let ids: Vec<&str> = site_ids.iter().map(String::as_str).collect();
        due.extend(rows::confirmed_ended_between(conn, &ids, ended, left)?);
    }
    let actor = Actor { user_id: None, role: Some("system".into()), request_id: None };
    let (from, to) = (BookingStatus::Confirmed, BookingStatus::NoShow);
    let reason = "not checked in before the arrival window closed";
    let mut marked = 0;
    for b in due {
        // `cancel_reason` stays for cancellations; the audit event says why.
        if rows::set_status(conn, &b.id, &b.slot_id, from, to, None, None, now)? == 0 {
            continue;
        }
        audit::append(
            conn,
            &actor,
            &Change::new("booking", &b.id, "no-show", Some(from.as_str()), Some(to.as_str())).because(Some(reason)),
            now,
        )?;
        let v = view(conn, &BookingId::new(b.id.clone()), Party::Company, rules)?;
        outbox::booking_event(conn, "booking.no_show", &v, now)?;
        marked += 1;
    }
    Ok(marked)
}

/// A declaration that was rejected or cancelled leaves its visit; when it
/// was the last one, the booking is cancelled and its place freed. Returns
/// whether the declaration was on an active booking.
pub fn cancel_for_declaration(
    conn: &mut DbConnection,
    declaration_id: &str,
    reason: &str,
    actor: &Actor,
    now: NaiveDateTime,
    rules: &BookingRules,
) -> Result<bool, AppError> {
    let Some(booking) = rows::active_for_declaration(conn, declaration_id)? else {
        return Ok(false);
    };
    let carried = visit_declarations(conn, &booking.id)?;
    let last = carried.iter().all(|d| d == declaration_id);
    if last && booking.status == BookingStatus::Confirmed {
        let role = actor.role.clone().unwrap_or_else(|| "system".into());
        let reason = format!("{reason}: the last declaration of the visit left it");
        return cancel_one(conn, &booking, Some(&reason), &role, "booking.cancelled", actor, now, rules);
    }
    // Others remain (or the truck is already at the gate): it leaves alone.
    rows::leave(conn, &booking.id, declaration_id, now)?;
    audit::append(
        conn,
        actor,
        &Change::new("booking", &booking.id, "declaration-left", None, None)
            .because(Some(&format!("{reason}: declaration {declaration_id}"))),
        now,
    )?;
    Ok(true)
}

/// The `booking.displaced` webhook: where the booking was and where it is
/// now (`to_slot_id` null: cancelled), with the booking as it is.
#[derive(Debug, Serialize)]
struct Displaced<'a> {
    booking_id: &'a str,
    from_slot_id: &'a str,
    to_slot_id: Option<&'a str>,
    #[serde(flatten)]
    booking: &'a BookingView,
}

/// Records the `booking.displaced` event of a booking moved from
/// `from_slot_id` to `to_slot_id` (or cancelled: `None`).
pub fn displaced_event(
    conn: &mut DbConnection,
    id: &BookingId,
    from_slot_id: &str,
    to_slot_id: Option<&str>,
    now: NaiveDateTime,
    rules: &BookingRules,
) -> Result<(), AppError> {
    let booking = view(conn, id, Party::Company, rules)?;
    let data = Displaced { booking_id: id.as_str(), from_slot_id, to_slot_id, booking: &booking };
    outbox::record(conn, &booking.enterprise_id, "booking.displaced", &data, now)?;
    Ok(())
}

/// Cancels a confirmed booking that lost its place and found none.
pub fn cancel_displaced(
    conn: &mut DbConnection,
    booking: &BookingRow,
    reason: &str,
    by_role: &str,
    actor: &Actor,
    now: NaiveDateTime,
    rules: &BookingRules,
) -> Result<bool, AppError> {
    cancel_one(conn, booking, Some(reason), by_role, "booking.displaced", actor, now, rules)
}

/// Forgets idempotency keys older than their retention.
pub fn prune_idempotency_keys(conn: &mut DbConnection, clock: DateTime<Utc>) -> Result<usize, AppError> {
    Ok(rows::prune_keys(conn, clock.naive_utc())?)
}
