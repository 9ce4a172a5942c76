//! Displacement: when slots lose places (a closure, or an officer lowering
//! or closing one slot), the bookings that no longer fit are moved to the
//! next slot with room, in the order they were made, or cancelled. The
//! rule of who keeps, who moves and where is `domain::closure::plan`; this
//! reads the slots and bookings under their row locks, asks it, and
//! applies the answer: each moved booking keeps its id and declarations,
//! gets a new gate pass version, an audit event and a `booking.displaced`
//! webhook; each cancelled one has a reason that starts with `displaced`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::db::audit::{self, Actor, Change};
use crate::db::bookings::{self as rows, BookingRow};
use crate::db::slots::{self, SlotRow};
use crate::db::DbConnection;
use crate::domain::booking_policy::BookingStatus;
use crate::domain::closure::{plan, Effect, Move, Placed, PlanRules, PlanSlot, Rebook};
use crate::domain::goods::TransportMode;
use crate::domain::ids::BookingId;
use crate::domain::slot::SlotStatus;
use crate::error::AppError;
use crate::services::bookings::{cancel_displaced, displaced_event, BookingRules};

/// Slots of one site and mode that lose places, and what to do with the
/// bookings that no longer fit.
pub struct Displacement<'a> {
    pub site_id: &'a str,
    pub mode: TransportMode,
    /// The slots that lose places, already locked, and their new shape.
    pub changed: Vec<(SlotRow, Effect)>,
    pub rebook: Rebook,
    /// Why (the closure's or the officer's reason), after `displaced: `.
    pub reason: Option<&'a str>,
    /// Work out the moves without making them.
    pub dry_run: bool,
}

/// The reason a displaced and cancelled booking carries.
pub fn cancel_reason(reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("displaced: {r}"),
        None => "displaced".to_owned(),
    }
}

/// Moves or cancels the bookings that no longer fit `d.changed`, then gives
/// those slots their new shape. Returns every displaced booking and where
/// it went, in the order they were handled (creation order).
pub fn displace(
    conn: &mut DbConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    d: &Displacement<'_>,
    rules: &BookingRules,
) -> Result<Vec<Move>, AppError> {
    if d.changed.is_empty() {
        return Ok(vec![]);
    }
    let site = crate::db::sites::find(conn, d.site_id)?.ok_or(AppError::NotFound)?;
    let policy = &rules.defaults.with(&site.policy.into());
    // Live holds in the slots that lose places are released first (their
    // owners get `hold.released`); then bookings are displaced.
    if !d.dry_run {
        let changed: Vec<&str> = d.changed.iter().map(|(s, _)| s.id.as_str()).collect();
        crate::services::holds::release_for_closure(conn, &changed, actor, now)?;
    }
    // Every slot that may take a displaced booking, locked too (id order).
    let mut all: HashMap<String, SlotRow> = d.changed.iter().map(|(s, _)| (s.id.clone(), s.clone())).collect();
    if d.rebook == Rebook::NextAvailable {
        let first = d.changed.iter().map(|(s, _)| s.starts_at).min().unwrap_or_default();
        let last = d.changed.iter().map(|(s, _)| s.starts_at).max().unwrap_or_default();
        let until = last + policy.rebook_window + chrono::Duration::seconds(1);
        for s in slots::lock_range(conn, d.site_id, d.mode, (first, until))? {
            all.entry(s.id.clone()).or_insert(s);
        }
    }
    let ids: Vec<&str> = all.keys().map(String::as_str).collect();
    let bookings = rows::active_in_slots(conn, &ids)?;
    let by_id: HashMap<&str, &BookingRow> = bookings.iter().map(|b| (b.id.as_str(), b)).collect();
    let effects: HashMap<&str, Effect> = d.changed.iter().map(|(s, e)| (s.id.as_str(), *e)).collect();
    let plan_slots: Vec<PlanSlot> = all
        .values()
        .map(|s| {
            let placed = bookings
                .iter()
                .filter(|b| b.slot_id == s.id)
                .map(|b| Placed {
                    booking_id: b.id.clone(),
                    enterprise_id: b.enterprise_id.clone(),
                    created_at: b.created_at,
                    at_gate: b.status != BookingStatus::Confirmed,
                })
                .collect();
            let open = s.status == SlotStatus::Open;
            match effects.get(s.id.as_str()) {
                Some(effect) => PlanSlot {
                    id: s.id.clone(),
                    starts_at: s.starts_at,
                    capacity: effect.places(s.capacity),
                    open: open && *effect != Effect::Close,
                    bookings: placed,
                },
                // A slot that already started takes nobody.
                // Places held there are not free to move into.
                None => PlanSlot {
                    id: s.id.clone(),
                    starts_at: s.starts_at,
                    capacity: s.capacity - s.held,
                    open: open && s.starts_at.and_utc() > now,
                    bookings: placed,
                },
            }
        })
        .collect();
    let busy = vehicle_busy(conn, &bookings)?;
    let may_move = |booking_id: &str, slot_id: &str| {
        let (Some(b), Some(s)) = (by_id.get(booking_id), all.get(slot_id)) else { return false };
        match (&b.vehicle_plate, &b.vehicle_country) {
            (Some(plate), Some(country)) => !busy.get(&(plate.clone(), country.clone())).is_some_and(|times| {
                times.iter().any(|(other, start, end)| other != booking_id && *start < s.ends_at && *end > s.starts_at)
            }),
            _ => true,
        }
    };
    let share = |capacity: i64| policy.share_limit(capacity);
    let plan_rules =
        PlanRules { rebook: d.rebook, window: policy.rebook_window, share_limit: &share, may_move: &may_move };
    let mut moves = plan(&plan_slots, &plan_rules);
    if d.dry_run {
        return Ok(moves);
    }
    let stamp = now.naive_utc();
    let reason = cancel_reason(d.reason);
    let role = actor.role.clone().unwrap_or_else(|| "officer".into());
    for m in &mut moves {
        let Some(booking) = by_id.get(m.booking_id.as_str()) else { continue };
        if let Some(to) = m.to_slot_id.clone() {
            if move_booking(conn, actor, booking, &to, d.reason, stamp, rules)? {
                continue;
            }
            m.to_slot_id = None;
        }
        cancel_displaced(conn, booking, &reason, &role, actor, stamp, rules)?;
    }
    for (slot, effect) in &d.changed {
        let booked_now = slots::find(conn, &slot.id)?.map_or(0, |s| s.booked);
        let (capacity, status) = match effect {
            Effect::Close => (slot.capacity, SlotStatus::Closed),
            // Never below what stays (trucks already at the gate).
            Effect::Reduce(c) => ((*c).min(slot.capacity).max(booked_now), slot.status),
        };
        if (capacity, status) != (slot.capacity, slot.status) {
            slots::set_shape(conn, &slot.id, capacity, status, stamp)?;
        }
    }
    Ok(moves)
}

/// The times of every active booking of the vehicles of `bookings`.
#[allow(clippy::type_complexity)]
fn vehicle_busy(
    conn: &mut DbConnection,
    bookings: &[BookingRow],
) -> Result<HashMap<(String, String), Vec<(String, NaiveDateTime, NaiveDateTime)>>, AppError> {
    let plates: Vec<String> =
        bookings.iter().filter_map(|b| b.vehicle_plate.clone()).collect::<HashSet<_>>().into_iter().collect();
    let mut busy: HashMap<(String, String), Vec<(String, NaiveDateTime, NaiveDateTime)>> = HashMap::new();
    if plates.is_empty() {
        return Ok(busy);
    }
    for (id, plate, country, start, end) in rows::vehicle_times(conn, &plates)? {
        if let (Some(plate), Some(country)) = (plate, country) {
            busy.entry((plate, country)).or_default().push((id, start, end));
        }
    }
    Ok(busy)
}

/// Moves a confirmed booking into `to` (whose row lock is held): takes the
/// place there, frees the old one, bumps the booking's version and gate
/// pass. False (and nothing changed) if either no longer holds.
fn move_booking(
    conn: &mut DbConnection,
    actor: &Actor,
    booking: &BookingRow,
    to: &str,
    reason: Option<&str>,
    now: NaiveDateTime,
    rules: &BookingRules,
) -> Result<bool, AppError> {
    // Customs move it: like the notice, the reserve for advanced-certified
    // enterprises is waived (the plan counted every free place).
    if slots::take_place(conn, to, true, now)?.is_none() {
        return Ok(false);
    }
    slots::release_place(conn, &booking.slot_id)?;
    if rows::move_slot(conn, &booking.id, &booking.slot_id, to, now)? == 0 {
        // Checked in or cancelled meanwhile (those need no slot lock): undo.
        slots::release_place(conn, to)?;
        slots::restore_place(conn, &booking.slot_id)?;
        return Ok(false);
    }
    audit::append(
        conn,
        actor,
        &Change::new("booking", &booking.id, "displace", Some(&booking.slot_id), Some(to)).because(reason),
        now,
    )?;
    displaced_event(conn, &BookingId::new(booking.id.clone()), &booking.slot_id, Some(to), now, rules)?;
    crate::metrics::booking_displaced("moved");
    Ok(true)
}
