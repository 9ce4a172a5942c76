//! The gate: a truck presents its pass (or its plate) and is checked in,
//! or told in plain words why not. The rules and their order are the
//! domain's (`domain::gate`); this gathers the facts and records the
//! check-in with its audit and webhook events, in one transaction.

use chrono::{DateTime, Utc};

use crate::context::RequestContext;
use crate::db::audit::Change;
use crate::db::bookings::{self as rows, BookingRow};
use crate::db::sites::SiteTerms;
use crate::db::slots::{self, SlotRow};
use crate::db::{declarations, users, DbConnection};
use crate::domain::booking_policy::BookingStatus;
use crate::domain::declaration::{DeclarationStatus, Party};
use crate::domain::gate::{admit, CheckedIn, GateRefusal, Presented, Uncleared, Visit};
use crate::domain::ids::{BookingId, SiteId};
use crate::error::AppError;
use crate::services::bookings::{view, visible, visit_declarations, BookingRules, BookingView};
use crate::services::{access, outbox};

/// What the officer at the gate scanned or typed.
#[derive(Debug, Clone)]
pub enum Scanned {
    /// The gate pass code (QR or typed).
    Code(String),
    /// The vehicle's plate (normalised) and country.
    Plate { plate: String, country: String },
}

/// Checks a truck in at `site_id` by its pass or plate.
#[tracing::instrument(skip_all, fields(site = %site_id))]
pub fn scan(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    site_id: &SiteId,
    scanned: &Scanned,
    rules: &BookingRules,
) -> Result<BookingView, AppError> {
    // An officer limited to sites has no gate at another site: the site
    // does not exist for them.
    if !access::may_see_site(conn, &ctx.caller, site_id.as_str())? {
        return Err(AppError::missing("site", site_id.as_str()));
    }
    let (booking, slot, site, pass_version) = match scanned {
        Scanned::Code(code) => {
            let pass = rules.passes.verify(code).map_err(|_| AppError::Gate(GateRefusal::PassInvalid))?;
            // A valid signature names a booking we issued; it may have been
            // deleted only with its database.
            let booking = rows::find(conn, &pass.booking_id)?.ok_or(AppError::Gate(GateRefusal::PassInvalid))?;
            let (slot, site) = slots::find_with_site(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
            (booking, slot, site, Some(pass.version))
        }
        Scanned::Plate { plate, country } => {
            let (booking, slot, site) = by_plate(conn, site_id.as_str(), plate, country, ctx.now, rules)?;
            (booking, slot, site, None)
        }
    };
    let presented = Presented { site_id: Some(site_id.as_str()), pass_version };
    check_in_visit(conn, ctx, booking, (&slot, &site), presented, rules)
}

/// Checks a booking in by its id (the officer's button): the same rules,
/// without a pass or site to compare.
#[tracing::instrument(skip_all, fields(booking = %id))]
pub fn check_in(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    id: &BookingId,
    rules: &BookingRules,
) -> Result<BookingView, AppError> {
    let booking = visible(conn, &ctx.caller, id)?;
    let (slot, site) = slots::find_with_site(conn, &booking.slot_id)?.ok_or(AppError::NotFound)?;
    check_in_visit(conn, ctx, booking, (&slot, &site), Presented::default(), rules)
}

/// The vehicle's active booking to look at: one at this site whose arrival
/// window (by its site's policy) is nearest to now, else the nearest
/// elsewhere (which the rules then refuse as another site's).
fn by_plate(
    conn: &mut DbConnection,
    site_id: &str,
    plate: &str,
    country: &str,
    now: DateTime<Utc>,
    rules: &BookingRules,
) -> Result<(BookingRow, SlotRow, SiteTerms), AppError> {
    let distance = |slot: &SlotRow, site: &SiteTerms| {
        let w = rules.for_site(site).arrival_window(slot.starts_at.and_utc(), slot.ends_at.and_utc());
        if now < w.opens_at {
            w.opens_at - now
        } else if now > w.closes_at {
            now - w.closes_at
        } else {
            chrono::Duration::zero()
        }
    };
    rows::active_for_vehicle(conn, plate, country)?
        .into_iter()
        .min_by_key(|(_, slot, site)| (slot.site_id != site_id, distance(slot, site)))
        .ok_or_else(|| {
            AppError::Gate(GateRefusal::NoBookingForVehicle { plate: plate.to_owned(), country: country.to_owned() })
        })
}

/// Admits the visit by the rules, then records the check-in; a racing
/// check-in of the same booking is answered as the rules see it after.
fn check_in_visit(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    booking: BookingRow,
    slot: (&SlotRow, &SiteTerms),
    presented: Presented<'_>,
    rules: &BookingRules,
) -> Result<BookingView, AppError> {
    let visit = facts(conn, &booking, slot, rules)?;
    admit(&visit, presented, ctx.now).map_err(AppError::Gate)?;
    let now = ctx.stamp();
    if rows::check_in(conn, &booking.id, &ctx.caller.user_id, now)? == 0 {
        let current = rows::find(conn, &booking.id)?.ok_or(AppError::NotFound)?;
        admit(&facts(conn, &current, slot, rules)?, presented, ctx.now).map_err(AppError::Gate)?;
        return Err(AppError::conflict("concurrent-change", "the booking changed meanwhile; retry"));
    }
    let (from, to) = (BookingStatus::Confirmed.as_str(), BookingStatus::CheckedIn.as_str());
    super::record_change(conn, ctx, Change::new("booking", &booking.id, "check-in", Some(from), Some(to)))?;
    let id = BookingId::new(booking.id);
    let for_company = view(conn, &id, Party::Company, rules)?;
    outbox::booking_event(conn, "booking.checked_in", &for_company, now)?;
    view(conn, &id, ctx.caller.party(), rules)
}

/// What the gate rules need to know of a booking (its arrival window is
/// its slot's site's).
fn facts(
    conn: &mut DbConnection,
    b: &BookingRow,
    (slot, site): (&SlotRow, &SiteTerms),
    rules: &BookingRules,
) -> Result<Visit, AppError> {
    let carried = visit_declarations(conn, &b.id)?;
    let mut uncleared: Vec<Uncleared> = declarations::statuses(conn, &carried)?
        .into_iter()
        .filter(|(_, _, status)| !DeclarationStatus::CLEARED.contains(status))
        .map(|(id, number, status)| Uncleared { id, number, status })
        .collect();
    uncleared.sort_by_key(|u| carried.iter().position(|d| *d == u.id));
    let checked_in = match (&b.checked_in_at, &b.checked_in_by) {
        (Some(at), Some(by)) => {
            let name = users::find(conn, by)?.map_or_else(|| by.clone(), |u| u.display_name);
            Some(CheckedIn { at: at.and_utc(), by_id: by.clone(), by_name: name })
        }
        // Checked in before the gate recorded who (the audit trail has it).
        (Some(at), None) => Some(CheckedIn { at: at.and_utc(), by_id: String::new(), by_name: "an officer".into() }),
        _ => None,
    };
    Ok(Visit {
        booking_id: b.id.clone(),
        site_id: slot.site_id.clone(),
        status: b.status,
        gate_pass_version: b.gate_pass_version,
        window: rules.for_site(site).arrival_window(slot.starts_at.and_utc(), slot.ends_at.and_utc()),
        has_vehicle: b.vehicle_plate.is_some(),
        checked_in,
        uncleared,
    })
}
