//! Closures: customs close or reduce a site's slots over a time range, in
//! one transaction with the displacement of the bookings that no longer
//! fit. A closure also binds the slots generated later in its range and
//! survives schedule changes; lifting it gives the slots back what they had.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::Principal;
use crate::context::RequestContext;
use crate::db::audit::Change;
use crate::db::closures::{self as rows, ClosureRow, ClosureSlotRow};
use crate::db::slots::{self, SlotRow};
use crate::db::{new_id, sites, DbConnection};
use crate::domain::closure::{Effect, Move, Rebook};
use crate::domain::goods::TransportMode;
use crate::domain::ids::SiteId;
use crate::domain::slot::SlotStatus;
use crate::error::AppError;
use crate::services::access;
use crate::services::bookings::BookingRules;
use crate::services::displacement::{self, Displacement};

/// A closure as asked for, every value checked.
#[derive(Debug, Clone)]
pub struct NewClosure {
    pub site_id: SiteId,
    /// `None`: every mode of the site.
    pub mode: Option<TransportMode>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `None`: the slots are closed.
    pub capacity: Option<i32>,
    pub reason: String,
    pub rebook: Rebook,
    /// Answer what applying would do, change nothing.
    pub dry_run: bool,
}

/// One booking a closure displaced, and where to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Affected {
    pub booking_id: String,
    pub enterprise_id: String,
    pub from_slot_id: String,
    /// The slot it moved to; `null`: cancelled (its `cancel_reason` starts with `displaced`).
    pub to_slot_id: Option<String>,
}

impl From<Move> for Affected {
    fn from(m: Move) -> Self {
        Affected {
            booking_id: m.booking_id,
            enterprise_id: m.enterprise_id,
            from_slot_id: m.from_slot_id,
            to_slot_id: m.to_slot_id,
        }
    }
}

/// A closure as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Closure)]
pub struct ClosureView {
    /// `null` in a dry run's answer.
    pub id: Option<String>,
    pub site_id: String,
    /// `null`: every mode of the site.
    pub mode: Option<TransportMode>,
    /// Slots starting in [from, to) are bound.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `null`: the slots are closed; else lowered to this capacity.
    pub capacity: Option<i32>,
    pub reason: String,
    pub rebook: Rebook,
    /// Slots bound when it was applied.
    pub slots: usize,
    /// Whether it still binds its slots (false once lifted).
    pub active: bool,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
    /// The bookings it displaced, in the order they were handled (creation
    /// order); only in the answer that applies (or previews) it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected: Option<Vec<Affected>>,
}

impl ClosureView {
    fn of(row: ClosureRow, slots: usize, affected: Option<Vec<Affected>>) -> Self {
        ClosureView {
            active: row.lifted_at.is_none(),
            id: Some(row.id),
            site_id: row.site_id,
            mode: row.mode,
            from: row.starts_at.and_utc(),
            to: row.ends_at.and_utc(),
            capacity: row.capacity,
            reason: row.reason,
            rebook: row.rebook,
            slots,
            created_by: Some(row.created_by),
            created_at: row.created_at.and_utc(),
            lifted_at: row.lifted_at.map(|t| t.and_utc()),
            affected,
        }
    }
}

fn effect_of(capacity: Option<i32>) -> Effect {
    capacity.map_or(Effect::Close, Effect::Reduce)
}

/// Applies (or previews) a closure: binds the site's slots of the range,
/// displaces the bookings that no longer fit, records the closure and
/// what each slot had, all in the caller's transaction.
#[tracing::instrument(skip_all, fields(site = %input.site_id))]
pub fn create(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    input: &NewClosure,
    rules: &BookingRules,
) -> Result<ClosureView, AppError> {
    let stamp = ctx.stamp();
    // Another site than an officer's own does not exist for them.
    access::site_visible(conn, &ctx.caller, input.site_id.as_str())?;
    // The site's lock serialises closures with each other and with slot
    // generation (which applies closures to new slots).
    let site = if input.dry_run {
        sites::find(conn, input.site_id.as_str())?
    } else {
        sites::lock(conn, input.site_id.as_str(), stamp)?
    }
    .ok_or(AppError::NotFound)?;
    let modes = match input.mode {
        Some(m) if !site.serves(m) => {
            return Err(AppError::field("mode", "enum", format!("site {} has no {m} clearance", site.code)))
        }
        Some(m) => vec![m],
        None => site.mode_list(),
    };
    let effect = effect_of(input.capacity);
    let range = (input.from.naive_utc(), input.to.naive_utc());
    let mut affected = Vec::new();
    let mut bound: Vec<SlotRow> = Vec::new();
    for mode in modes {
        let slots = slots::lock_range(conn, &site.id, mode, range)?;
        // Every bound slot, also those that lose nothing: displaced bookings
        // may move into them only within the closure's capacity.
        let changed: Vec<(SlotRow, Effect)> = slots.iter().map(|s| (s.clone(), effect)).collect();
        let d = Displacement {
            site_id: &site.id,
            mode,
            changed,
            rebook: input.rebook,
            reason: Some(&input.reason),
            dry_run: input.dry_run,
        };
        affected
            .extend(displacement::displace(conn, &ctx.actor(), ctx.now, &d, rules)?.into_iter().map(Affected::from));
        bound.extend(slots);
    }
    let row = ClosureRow {
        id: if input.dry_run { String::new() } else { new_id() },
        site_id: site.id.clone(),
        mode: input.mode,
        starts_at: range.0,
        ends_at: range.1,
        capacity: input.capacity,
        reason: input.reason.clone(),
        rebook: input.rebook,
        created_by: ctx.caller.user_id.clone(),
        created_at: stamp,
        lifted_at: None,
        lifted_by: None,
    };
    if input.dry_run {
        let mut v = ClosureView::of(row, bound.len(), Some(affected));
        v.id = None;
        return Ok(v);
    }
    rows::insert(conn, &row)?;
    let remembered: Vec<ClosureSlotRow> = bound
        .iter()
        .map(|s| ClosureSlotRow {
            closure_id: row.id.clone(),
            slot_id: s.id.clone(),
            previous_capacity: s.capacity,
            previous_status: s.status,
        })
        .collect();
    rows::insert_slots(conn, &remembered)?;
    let what = match input.capacity {
        Some(c) => format!("capacity {c}"),
        None => "closed".to_owned(),
    };
    crate::db::audit::start_chain(
        conn,
        &ctx.actor(),
        &Change::new("closure", &row.id, "close", None, Some(&what)).because(Some(&input.reason)),
        stamp,
    )?;
    for s in &bound {
        let to = shape_under(s.capacity, s.status, effect).map(|(c, st)| format!("{st} {c}"));
        let from = format!("{} {}", s.status, s.capacity);
        super::record_change(
            conn,
            ctx,
            Change::new("slot", &s.id, "closure", Some(&from), to.as_deref()).because(Some(&input.reason)),
        )?;
    }
    crate::metrics::closure_applied();
    Ok(ClosureView::of(row, bound.len(), Some(affected)))
}

/// The capacity and status a slot of `capacity`/`status` has under the
/// effect; `None` when the effect changes nothing.
fn shape_under(capacity: i32, status: SlotStatus, effect: Effect) -> Option<(i32, SlotStatus)> {
    match effect {
        Effect::Close => Some((capacity, SlotStatus::Closed)),
        Effect::Reduce(c) if c < capacity => Some((c, status)),
        Effect::Reduce(_) => None,
    }
}

/// The closures of a site, newest first; `more` tells whether a page follows.
/// 404 for a site the caller does not see.
pub fn list(
    conn: &mut DbConnection,
    caller: &Principal,
    site_id: &SiteId,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<ClosureView>, bool), AppError> {
    access::site_visible(conn, caller, site_id.as_str())?;
    sites::find(conn, site_id.as_str())?.ok_or(AppError::NotFound)?;
    let mut found = rows::list(conn, site_id.as_str(), after, limit + 1)?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let mut views = Vec::with_capacity(found.len());
    for row in found {
        let n = rows::slots_of(conn, &row.id)?.len();
        views.push(ClosureView::of(row, n, None));
    }
    Ok((views, more))
}

/// One closure.
pub fn read(conn: &mut DbConnection, id: &str) -> Result<ClosureRow, AppError> {
    rows::find(conn, id)?.ok_or(AppError::NotFound)
}

/// Lifts a closure: each slot it bound gets back what it had before it,
/// with the other active closures still applied. Moved bookings stay where
/// they are.
#[tracing::instrument(skip_all, fields(closure = %id))]
pub fn lift(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    id: &str,
    rules: &crate::services::bookings::BookingRules,
) -> Result<ClosureRow, AppError> {
    let stamp = ctx.stamp();
    let closure = read(conn, id)?;
    access::site_visible(conn, &ctx.caller, &closure.site_id)?;
    sites::lock(conn, &closure.site_id, stamp)?.ok_or(AppError::NotFound)?;
    if rows::lift(conn, id, &ctx.caller.user_id, stamp)? == 0 {
        return Err(AppError::conflict("closure-lifted", format!("closure {id} was already lifted")));
    }
    for bound in rows::slots_of(conn, id)? {
        let Some(slot) = slots::lock(conn, &bound.slot_id)? else { continue };
        let (mut capacity, mut status) = (bound.previous_capacity, bound.previous_status);
        for other in rows::active_covering(
            conn,
            &slot.site_id,
            slot.mode,
            (slot.starts_at, slot.starts_at + chrono::Duration::seconds(1)),
        )? {
            // Closures made after this one remembered the slot as this one
            // left it: they now remember what it had before.
            if other.created_at >= closure.created_at {
                rows::remember(conn, &other.id, &slot.id, bound.previous_capacity, bound.previous_status)?;
            }
            if let Some((c, s)) = shape_under(capacity, status, effect_of(other.capacity)) {
                (capacity, status) = (c, s);
            }
        }
        slots::set_shape(conn, &slot.id, capacity.max(slot.taken()), status, stamp)?;
        // Places given back go to the waitlist first.
        crate::services::waitlist::free_and_offer(conn, &slot.id, None, ctx.now, rules)?;
        let (from, to) = (format!("{} {}", slot.status, slot.capacity), format!("{status} {capacity}"));
        super::record_change(conn, ctx, Change::new("slot", &slot.id, "reopen", Some(&from), Some(&to)))?;
    }
    super::record_change(conn, ctx, Change::new("closure", id, "lift", Some("active"), Some("lifted")))?;
    read(conn, id)
}

/// Applies the site's active closures to slots about to be created (slot
/// generation): returns what to remember for each, to insert once the
/// slots exist.
pub fn bind_new_slots(
    conn: &mut DbConnection,
    site_id: &str,
    mode: TransportMode,
    new: &mut [SlotRow],
) -> Result<Vec<ClosureSlotRow>, AppError> {
    let (Some(first), Some(last)) = (new.iter().map(|s| s.starts_at).min(), new.iter().map(|s| s.starts_at).max())
    else {
        return Ok(vec![]);
    };
    let mut remembered = Vec::new();
    for closure in rows::active_covering(conn, site_id, mode, (first, last + chrono::Duration::seconds(1)))? {
        for slot in new.iter_mut().filter(|s| s.starts_at >= closure.starts_at && s.starts_at < closure.ends_at) {
            remembered.push(ClosureSlotRow {
                closure_id: closure.id.clone(),
                slot_id: slot.id.clone(),
                previous_capacity: slot.capacity,
                previous_status: slot.status,
            });
            if let Some((c, s)) = shape_under(slot.capacity, slot.status, effect_of(closure.capacity)) {
                (slot.capacity, slot.status) = (c, s);
            }
        }
    }
    Ok(remembered)
}

/// The active closures that may bind a schedule's slots from `from` on
/// (read once for a whole reshape).
pub fn binding_from(
    conn: &mut DbConnection,
    site_id: &str,
    mode: TransportMode,
    from: chrono::NaiveDateTime,
) -> Result<Vec<ClosureRow>, AppError> {
    // Slots exist at most slots.horizon_days (<= 366) ahead.
    Ok(rows::active_covering(conn, site_id, mode, (from, from + chrono::Duration::days(400)))?)
}

/// A schedule change gives a slot a new capacity: the closures binding it
/// (of `active`, oldest first) remember that one as what to give back, and
/// the slot keeps the lowest of it and theirs. Returns the capacity the
/// slot gets.
pub fn reshape(conn: &mut DbConnection, active: &[ClosureRow], slot: &SlotRow, capacity: i32) -> Result<i32, AppError> {
    let mut effective = capacity;
    let mut first = true;
    for closure in active.iter().filter(|c| c.starts_at <= slot.starts_at && slot.starts_at < c.ends_at) {
        if first {
            rows::update_previous_capacity(conn, &closure.id, &slot.id, capacity)?;
            first = false;
        }
        if let Some(c) = closure.capacity {
            effective = effective.min(c);
        }
    }
    Ok(effective)
}
