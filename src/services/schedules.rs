//! Sites, schedules and slot generation, each in one transaction.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::context::RequestContext;
use crate::db::audit::Change;
use crate::db::enterprises;
use crate::db::schedules::{self, ScheduleRow, ScheduleShapeChange};
use crate::db::sites::{self, SiteRow, SiteTerms};
use crate::db::slots::{self, SlotRow};
use crate::db::{new_id, DbConnection};
use crate::domain::booking_policy::Unbookable;
use crate::domain::closure::{Effect, Rebook};
use crate::domain::display_zones;
use crate::domain::goods::TransportMode;
use crate::domain::ids::{SiteId, SlotId};
use crate::domain::reserve::reserved_blocks;
use crate::domain::reserve::{check_fits, reserved_until};
use crate::domain::schedule::{expand, horizon_dates, parse_timezone, validity_overlaps, Weekdays};
use crate::domain::site_policy::{PolicyOverrides, PolicyPatch};
use crate::domain::slot::SlotStatus;
use crate::error::AppError;
use crate::services::bookings::BookingRules;
use crate::services::displacement::{self, Displacement};
use crate::services::identity::conflict_on_unique;

/// A validated new site.
#[derive(Debug, Clone)]
pub struct SiteInput {
    pub code: String,
    pub name: String,
    pub timezone: String,
    pub modes: Vec<TransportMode>,
    /// Checked already (`parse_display_zones`).
    pub display_zones: Vec<String>,
}

/// Creates a clearance site, with its audit event.
#[tracing::instrument(skip_all, fields(code = %input.code))]
pub fn create_site(conn: &mut DbConnection, ctx: &RequestContext, input: &SiteInput) -> Result<SiteRow, AppError> {
    let now = ctx.stamp();
    if sites::find_by_code(conn, &input.code)?.is_some() {
        return Err(AppError::conflict("duplicate", format!("site {} already exists", input.code)));
    }
    let id = new_id();
    sites::insert(
        conn,
        &SiteRow {
            id: id.clone(),
            code: input.code.clone(),
            name: input.name.clone(),
            timezone: input.timezone.clone(),
            modes: input.modes.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(","),
            created_at: now,
            updated_at: now,
            display_zones: display_zones::store(&input.display_zones),
            policy: sites::PolicyColumns::default(),
        },
    )
    .map_err(|e| conflict_on_unique(e, "this site code"))?;
    super::record_change(conn, ctx, Change::new("site", &id, "create", None, Some(&input.code)))?;
    sites::find(conn, &id)?.ok_or(AppError::NotFound)
}

/// A site's new name, modes and policy values; `None` keeps the current
/// one (the policy: per key, see [`PolicyPatch`]).
#[derive(Debug, Clone, Default)]
pub struct SiteUpdate {
    pub name: Option<String>,
    pub modes: Option<Vec<TransportMode>>,
    /// Replaces the display zones; checked already.
    pub display_zones: Option<Vec<String>>,
    /// Checked already (`PolicyPatch::check`).
    pub policy: Option<PolicyPatch>,
}

/// Renames a site, changes its modes or its booking policy, each with its
/// audit event (`update`; `policy`, from the values set before to those
/// set after).
#[tracing::instrument(skip_all, fields(site = %site_id))]
pub fn update_site(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    site_id: &SiteId,
    update: &SiteUpdate,
) -> Result<SiteRow, AppError> {
    let (id, now) = (site_id.as_str(), ctx.stamp());
    let modes = update.modes.as_ref().map(|m| m.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(","));
    let zones = update.display_zones.as_deref().map(display_zones::store);
    let renamed = update.name.is_some() || modes.is_some() || zones.is_some();
    let changes = sites::SiteChanges {
        name: update.name.clone(),
        timezone: None,
        modes,
        display_zones: zones,
        updated_at: Some(now),
    };
    // This UPDATE also takes the site's row lock (PostgreSQL), so that two
    // policy changes of one site apply one after the other, not over each other.
    if sites::update(conn, id, &changes)? == 0 {
        return Err(AppError::NotFound);
    }
    let mut site = sites::find(conn, id)?.ok_or(AppError::NotFound)?;
    if renamed || update.policy.is_none() {
        super::record_change(
            conn,
            ctx,
            Change::new("site", id, "update", None, Some(&format!("{} ({})", site.name, site.modes))),
        )?;
    }
    if let Some(patch) = &update.policy {
        let before = PolicyOverrides::from(site.policy);
        let after = before.patched(patch);
        if after != before {
            site.policy = after.into();
            sites::set_policy(conn, id, &site.policy)?;
            super::record_change(
                conn,
                ctx,
                Change::new("site", id, "policy", Some(&before.summary()), Some(&after.summary())),
            )?;
        }
    }
    Ok(site)
}

/// The shape of a schedule, validated.
#[derive(Debug, Clone)]
pub struct ScheduleShape {
    pub mode: TransportMode,
    pub slot_minutes: u32,
    pub capacity: i32,
    /// Places of each slot held for advanced-certified enterprises, at most `capacity`.
    pub reserved_advanced: i32,
    /// Minutes before each slot's start they are released.
    pub release_minutes: i32,
    pub days: Weekdays,
    /// `None` = from today (site-local).
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

/// The site's zone, parsed (a stored zone is always valid).
pub fn site_zone(site: &SiteRow) -> Result<Tz, AppError> {
    parse_timezone(&site.timezone).map_err(AppError::internal)
}

/// Today's date at the site.
pub fn site_today(tz: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

fn refuse_overlap(
    conn: &mut DbConnection,
    site_id: &str,
    mode: TransportMode,
    validity: (NaiveDate, Option<NaiveDate>),
    except: Option<&str>,
) -> Result<(), AppError> {
    for other in schedules::for_site(conn, site_id, Some(mode))? {
        if Some(other.id.as_str()) == except {
            continue;
        }
        if validity_overlaps(validity, (other.valid_from, other.valid_to)) {
            return Err(AppError::conflict(
                "schedule-overlap",
                format!(
                    "schedule {} for {mode} is valid from {} to {} and overlaps this one",
                    other.id,
                    other.valid_from,
                    other.valid_to.map_or("open end".to_owned(), |d| d.to_string())
                ),
            ));
        }
    }
    Ok(())
}

/// Creates a schedule and its slots for the horizon, with its audit event.
#[tracing::instrument(skip_all, fields(site = %site_id, mode = shape.mode.as_str()))]
pub fn create_schedule(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    site_id: &SiteId,
    shape: &ScheduleShape,
    horizon_days: u32,
) -> Result<(ScheduleRow, usize), AppError> {
    let (now, stamp, site_id) = (ctx.now, ctx.stamp(), site_id.as_str());
    // The site's row lock orders concurrent schedule changes of one site.
    let site = sites::lock(conn, site_id, stamp)?.ok_or(AppError::NotFound)?;
    if !site.serves(shape.mode) {
        return Err(AppError::field("mode", "not_served", format!("site {} does not serve {}", site.code, shape.mode)));
    }
    let tz = site_zone(&site)?;
    let valid_from = shape.valid_from.unwrap_or_else(|| site_today(tz, now));
    if shape.valid_to.is_some_and(|to| to < valid_from) {
        return Err(AppError::field("valid_to", "range", "valid_to must not be before valid_from"));
    }
    check_fits(shape.reserved_advanced, shape.capacity)?;
    refuse_overlap(conn, site_id, shape.mode, (valid_from, shape.valid_to), None)?;
    let id = new_id();
    schedules::insert(
        conn,
        &ScheduleRow {
            id: id.clone(),
            site_id: site_id.to_owned(),
            mode: shape.mode,
            slot_minutes: shape.slot_minutes as i32,
            capacity: shape.capacity,
            days_of_week: shape.days.bits(),
            valid_from,
            valid_to: shape.valid_to,
            created_at: stamp,
            updated_at: stamp,
            reserved_advanced: shape.reserved_advanced,
            release_minutes: shape.release_minutes,
        },
    )?;
    let schedule = schedules::find(conn, &id)?.ok_or(AppError::NotFound)?;
    let created = generate(conn, &site, &schedule, horizon_days, now)?;
    audit_schedule(conn, ctx, &schedule, "create")?;
    Ok((schedule, created))
}

/// A schedule change's audit event: the shape it has after the change.
fn audit_schedule(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    schedule: &ScheduleRow,
    action: &str,
) -> Result<(), AppError> {
    let mut shape = format!(
        "{} every {} min, capacity {}, days {:#09b}, {} to {}",
        schedule.mode,
        schedule.slot_minutes,
        schedule.capacity,
        schedule.days_of_week,
        schedule.valid_from,
        schedule.valid_to.map_or("open end".to_owned(), |d| d.to_string())
    );
    if schedule.reserved_advanced > 0 {
        shape.push_str(&format!(", {}", reserve_text(schedule.reserved_advanced, schedule.release_minutes)));
    }
    super::record_change(conn, ctx, Change::new("schedule", &schedule.id, action, None, Some(&shape)))?;
    Ok(())
}

/// A reserve as the audit trail records it.
fn reserve_text(reserved_advanced: i32, release_minutes: i32) -> String {
    format!("{reserved_advanced} reserved for advanced_certified until {release_minutes} min before the start")
}

/// Creates the schedule's missing slots within the horizon; idempotent.
/// Call with the site locked (or on SQLite's single writer).
pub fn generate(
    conn: &mut DbConnection,
    site: &SiteRow,
    schedule: &ScheduleRow,
    horizon_days: u32,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let tz = site_zone(site)?;
    let Some((from, until)) = horizon_dates(site_today(tz, now), horizon_days, schedule.valid_from, schedule.valid_to)
    else {
        return Ok(0);
    };
    let windows = expand(tz, schedule.slot_minutes as u32, Weekdays::from_bits(schedule.days_of_week), from, until);
    let (Some(first), Some(last)) = (windows.first(), windows.last()) else {
        return Ok(0);
    };
    let existing: std::collections::HashSet<NaiveDateTime> =
        slots::existing_starts(conn, &site.id, schedule.mode, first.starts_at.naive_utc(), last.ends_at.naive_utc())?
            .into_iter()
            .collect();
    let stamp = now.naive_utc();
    let mut missing: Vec<SlotRow> = windows
        .iter()
        .filter(|w| !existing.contains(&w.starts_at.naive_utc()))
        .map(|w| SlotRow {
            id: new_id(),
            site_id: site.id.clone(),
            mode: schedule.mode,
            schedule_id: Some(schedule.id.clone()),
            starts_at: w.starts_at.naive_utc(),
            ends_at: w.ends_at.naive_utc(),
            capacity: schedule.capacity,
            booked: 0,
            status: SlotStatus::Open,
            created_at: stamp,
            updated_at: stamp,
            reserved_advanced: schedule.reserved_advanced,
            release_minutes: schedule.release_minutes,
            reserved_until: Some(reserved_until(w.starts_at.naive_utc(), schedule.release_minutes)),
            held: 0,
        })
        .collect();
    // Closures bind the slots of their range made after them too.
    let remembered = crate::services::closures::bind_new_slots(conn, &site.id, schedule.mode, &mut missing)?;
    let created = slots::insert_all(conn, &missing)?;
    crate::db::closures::insert_slots(conn, &remembered)?;
    crate::metrics::slot_generation(created);
    Ok(created)
}

/// What changing a schedule did to its future slots.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Reshape {
    pub slots_created: usize,
    pub slots_removed: usize,
    /// Booked slots that no longer fit the shape or the new capacity; they
    /// are kept as they are for officers to handle.
    pub booked_slots_kept: usize,
}

/// New values for a schedule; `None` keeps the current one.
#[derive(Debug, Clone, Default)]
pub struct ScheduleChange {
    pub capacity: Option<i32>,
    /// At most the (new) capacity. When absent and the capacity falls below
    /// the current one, it is lowered to the capacity.
    pub reserved_advanced: Option<i32>,
    pub release_minutes: Option<i32>,
    pub days: Option<Weekdays>,
    pub valid_from: Option<NaiveDate>,
    /// `Some(None)` clears the end date.
    pub valid_to: Option<Option<NaiveDate>>,
}

/// Changes a schedule and reshapes its future slots: unbooked slots that
/// no longer fit are removed, booked ones are kept and counted.
#[tracing::instrument(skip_all, fields(site = %site_id, schedule = %schedule_id))]
pub fn change_schedule(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    site_id: &SiteId,
    schedule_id: &str,
    change: &ScheduleChange,
    horizon_days: u32,
    rules: &crate::services::bookings::BookingRules,
) -> Result<(ScheduleRow, Reshape), AppError> {
    let (now, stamp, site_id) = (ctx.now, ctx.stamp(), site_id.as_str());
    let site = sites::lock(conn, site_id, stamp)?.ok_or(AppError::NotFound)?;
    let current = schedules::find(conn, schedule_id)?.filter(|s| s.site_id == site_id).ok_or(AppError::NotFound)?;
    let valid_from = change.valid_from.unwrap_or(current.valid_from);
    let valid_to = change.valid_to.unwrap_or(current.valid_to);
    if valid_to.is_some_and(|to| to < valid_from) {
        return Err(AppError::field("valid_to", "range", "valid_to must not be before valid_from"));
    }
    refuse_overlap(conn, site_id, current.mode, (valid_from, valid_to), Some(schedule_id))?;
    let capacity = change.capacity.unwrap_or(current.capacity);
    let reserved_advanced = match change.reserved_advanced {
        Some(r) => {
            check_fits(r, capacity)?;
            r
        }
        None => current.reserved_advanced.min(capacity),
    };
    let release_minutes = change.release_minutes.unwrap_or(current.release_minutes);
    let days = change.days.unwrap_or(Weekdays::from_bits(current.days_of_week));
    schedules::update_shape(
        conn,
        schedule_id,
        &ScheduleShapeChange {
            capacity,
            reserved_advanced,
            release_minutes,
            days_of_week: days.bits(),
            valid_from,
            valid_to,
            updated_at: stamp,
        },
    )?;
    let schedule = schedules::find(conn, schedule_id)?.ok_or(AppError::NotFound)?;
    let tz = site_zone(&site)?;
    let mut report = Reshape::default();
    let closures = crate::services::closures::binding_from(conn, site_id, schedule.mode, now.naive_utc())?;
    for slot in slots::of_schedule_from(conn, schedule_id, now.naive_utc())? {
        let local_date = slot.starts_at.and_utc().with_timezone(&tz).date_naive();
        let fits = local_date >= valid_from
            && valid_to.is_none_or(|to| local_date <= to)
            && days.contains(chrono::Datelike::weekday(&local_date));
        if !fits {
            if slots::delete_if_unbooked(conn, &slot.id)? == 1 {
                report.slots_removed += 1;
                let from = slot.capacity.to_string();
                let why = format!("schedule {schedule_id} changed");
                super::record_change(
                    conn,
                    ctx,
                    Change::new("slot", &slot.id, "remove", Some(&from), None).because(Some(&why)),
                )?;
            } else {
                report.booked_slots_kept += 1;
            }
        } else {
            // A closure binding the slot keeps it lower (and gives the new capacity back when lifted).
            let capacity = crate::services::closures::reshape(conn, &closures, &slot, capacity)?;
            if slot.capacity != capacity {
                if slots::set_capacity(conn, &slot.id, capacity, stamp)? == 0 {
                    report.booked_slots_kept += 1;
                } else {
                    // Every capacity change is in the slot's own trail, with its actor.
                    let (from, to) = (slot.capacity.to_string(), capacity.to_string());
                    let why = format!("schedule {schedule_id} changed");
                    super::record_change(
                        conn,
                        ctx,
                        Change::new("slot", &slot.id, "capacity", Some(&from), Some(&to)).because(Some(&why)),
                    )?;
                    if capacity > slot.capacity {
                        // Places added go to the waitlist first.
                        crate::services::waitlist::free_and_offer(conn, &slot.id, None, now, rules)?;
                    }
                }
            }
            let (from, to) = ((slot.reserved_advanced, slot.release_minutes), (reserved_advanced, release_minutes));
            if from != to {
                // 0 rows: an officer changed this slot's reserve meanwhile; theirs stands.
                slots::set_reserve(conn, &slot.id, from, to, reserved_until(slot.starts_at, to.1), stamp)?;
            }
        }
    }
    report.slots_created = generate(conn, &site, &schedule, horizon_days, now)?;
    audit_schedule(conn, ctx, &schedule, "change")?;
    Ok((schedule, report))
}

/// Tops up the rolling horizon of every current schedule; returns slots created.
pub fn top_up_all(conn: &mut DbConnection, horizon_days: u32, now: DateTime<Utc>) -> Result<usize, AppError> {
    let mut created = 0;
    let today = now.date_naive() - chrono::Duration::days(1);
    for schedule in schedules::current(conn, today)? {
        if let Some(site) = sites::lock(conn, &schedule.site_id, now.naive_utc())? {
            created += generate(conn, &site, &schedule, horizon_days, now)?;
        }
    }
    Ok(created)
}

/// An officer's change to one slot.
#[derive(Debug, Clone)]
pub struct SlotChange {
    pub capacity: Option<i32>,
    /// At most the slot's (new) capacity. When absent and the capacity falls
    /// below the current one, it is lowered to the capacity.
    pub reserved_advanced: Option<i32>,
    pub release_minutes: Option<i32>,
    pub status: Option<SlotStatus>,
    pub displace: bool,
    /// What happens to bookings that lose their place.
    pub rebook: Rebook,
    pub reason: Option<String>,
}

/// Applies capacity, reserve and status changes to one slot, with audit
/// events. Lowering capacity below the booked count is refused unless
/// `displace`; then, as when closing, the bookings that no longer fit are
/// displaced by the closures' rules (the earliest created keep their
/// places; the others move or are cancelled: `services::displacement`). A
/// reserve never cancels a booking: places already taken stay.
#[tracing::instrument(skip_all, fields(slot = %slot_id))]
pub fn change_slot(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    slot_id: &SlotId,
    change: &SlotChange,
    rules: &crate::services::bookings::BookingRules,
) -> Result<(), AppError> {
    let (now, actor, id) = (ctx.stamp(), &ctx.actor(), slot_id.as_str());
    let slot = slots::lock(conn, id)?.ok_or(AppError::NotFound)?;
    crate::services::access::site_visible(conn, &ctx.caller, &slot.site_id)?;
    let displace = |conn: &mut DbConnection, effect: Effect| -> Result<(), AppError> {
        let d = Displacement {
            site_id: &slot.site_id,
            mode: slot.mode,
            changed: vec![(slot.clone(), effect)],
            rebook: change.rebook,
            reason: change.reason.as_deref(),
            dry_run: false,
        };
        displacement::displace(conn, actor, ctx.now, &d, rules).map(|_| ())
    };
    let reserve_now = (slot.reserved_advanced, slot.release_minutes);
    let reserve = (
        match (change.reserved_advanced, change.capacity) {
            (Some(r), capacity) => {
                check_fits(r, capacity.unwrap_or(slot.capacity))?;
                r
            }
            (None, Some(capacity)) => slot.reserved_advanced.min(capacity),
            (None, None) => slot.reserved_advanced,
        },
        change.release_minutes.unwrap_or(slot.release_minutes),
    );
    if let Some(capacity) = change.capacity {
        if capacity != slot.capacity {
            if capacity >= slot.taken() {
                slots::set_capacity(conn, id, capacity, now)?;
                if capacity > slot.capacity {
                    // Places added go to the waitlist first.
                    crate::services::waitlist::free_and_offer(conn, id, None, ctx.now, rules)?;
                }
            } else if !change.displace {
                return Err(AppError::conflict(
                    "capacity-below-booked",
                    format!(
                        "{} places are booked and {} held; capacity {capacity} would displace bookings (set \
                         \"displace\": true, and \"rebook\": \"next_available\" to move them rather than cancel \
                         them; live holds are released first)",
                        slot.booked, slot.held
                    ),
                ));
            } else {
                displace(conn, Effect::Reduce(capacity))?;
            }
            let (from, to) = (slot.capacity.to_string(), capacity.to_string());
            super::record_change(
                conn,
                ctx,
                Change::new("slot", id, "capacity", Some(&from), Some(&to)).because(change.reason.as_deref()),
            )?;
        }
    }
    if reserve != reserve_now {
        let until = reserved_until(slot.starts_at, reserve.1);
        if slots::set_reserve(conn, id, reserve_now, reserve, until, now)? == 0 {
            return Err(AppError::conflict("concurrent-change", "the slot changed meanwhile; retry"));
        }
        let (from, to) = (reserve_text(reserve_now.0, reserve_now.1), reserve_text(reserve.0, reserve.1));
        super::record_change(
            conn,
            ctx,
            Change::new("slot", id, "reserve", Some(&from), Some(&to)).because(change.reason.as_deref()),
        )?;
    }
    if let Some(status) = change.status {
        if status != slot.status {
            if status == SlotStatus::Closed {
                displace(conn, Effect::Close)?;
            } else if slots::set_status(conn, id, slot.status, status, now)? == 0 {
                return Err(AppError::conflict("concurrent-change", "the slot changed meanwhile; retry"));
            } else {
                // A reopened slot's free places go to the waitlist first.
                crate::services::waitlist::free_and_offer(conn, id, None, ctx.now, rules)?;
            }
            super::record_change(
                conn,
                ctx,
                Change::new(
                    "slot",
                    id,
                    if status == SlotStatus::Closed { "close" } else { "reopen" },
                    Some(slot.status.as_str()),
                    Some(status.as_str()),
                )
                .because(change.reason.as_deref()),
            )?;
        }
    }
    Ok(())
}

/// Whether a company caller may book each of these slots now, or the first
/// reason not (`domain::booking_policy::BookingPolicy::bookability`, under
/// each slot's site's policy: the checks a booking is refused by). `None`
/// for customs callers. Two statements whatever the number of slots: the
/// caller's enterprise (its credit class decides the notice) and its active
/// bookings in these slots, counted in one grouped query.
pub fn bookability(
    conn: &mut DbConnection,
    caller: &crate::auth::Principal,
    now: DateTime<Utc>,
    slots: &[(SlotRow, SiteTerms)],
    rules: &BookingRules,
) -> Result<Option<Vec<Result<(), Unbookable>>>, AppError> {
    let Some(enterprise_id) = caller.enterprise_id.as_deref().filter(|_| caller.role.is_company()) else {
        return Ok(None);
    };
    if slots.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let credit = enterprises::find(conn, enterprise_id)?.ok_or(AppError::NotFound)?.credit_class;
    let ids: Vec<&str> = slots.iter().map(|(s, _)| s.id.as_str()).collect();
    let held: std::collections::HashMap<String, i64> =
        crate::db::bookings::active_counts_for(conn, enterprise_id, &ids)?.into_iter().collect();
    Ok(Some(
        slots
            .iter()
            .map(|(slot, site)| {
                let held = held.get(&slot.id).copied().unwrap_or(0);
                // Reserved places come before the share, as when booking.
                match rules.for_site(site).bookability(&slot.facts(), credit, now, held) {
                    Ok(()) | Err(Unbookable::Share) if reserved_blocks(credit, &slot.places(), now) => {
                        Err(Unbookable::Reserved)
                    }
                    verdict => verdict,
                }
            })
            .collect(),
    ))
}
