//! Closures and displacement: which bookings keep their places when a slot
//! loses places, and where the others go. Pure: the closure service reads
//! the slots and bookings under their locks, asks [`plan`], and applies it.
//!
//! The rule keeps the queue order: in a slot that loses places the earliest
//! created bookings keep them; the displaced ones, taken in the order they
//! were created (whatever their slot), each go to the earliest open slot of
//! the same site and mode that starts at or after their old start, within
//! the rebooking window, with a free place and the enterprise's share
//! respected (the minimum notice is waived: customs moved them). Those that
//! find no place are cancelled.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};

use crate::text_enum::text_enum;

text_enum!(
    /// What happens to bookings that lose their place.
    Rebook {
        NextAvailable => "next_available",
        Cancel => "cancel",
    }
);

/// What a closure does to the slots it binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The slots are closed: nobody keeps a place.
    Close,
    /// The slots' capacity is lowered to this (never raised).
    Reduce(i32),
}

impl Effect {
    /// The places a slot of `capacity` keeps under this effect.
    pub fn places(self, capacity: i32) -> i32 {
        match self {
            Effect::Close => 0,
            Effect::Reduce(c) => c.min(capacity),
        }
    }
}

/// A booking in a slot that may lose places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub booking_id: String,
    pub enterprise_id: String,
    pub created_at: NaiveDateTime,
    /// Checked in: the truck is at the gate, it cannot be moved.
    pub at_gate: bool,
}

/// A slot the plan looks at: one that loses places, or one that may take
/// displaced bookings (or both).
#[derive(Debug, Clone)]
pub struct PlanSlot {
    pub id: String,
    pub starts_at: NaiveDateTime,
    /// Capacity after the change.
    pub capacity: i32,
    /// Open after the change (a closed slot takes nobody).
    pub open: bool,
    /// Its active bookings, any order.
    pub bookings: Vec<Placed>,
}

/// One displaced booking and where it goes (`None`: cancelled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub booking_id: String,
    pub enterprise_id: String,
    pub from_slot_id: String,
    pub to_slot_id: Option<String>,
}

/// The rules a plan follows besides the slots.
pub struct PlanRules<'a> {
    pub rebook: Rebook,
    /// How far after its old start a booking may be moved.
    pub window: Duration,
    /// Most places one enterprise may hold in a slot of a capacity.
    pub share_limit: &'a dyn Fn(i64) -> i64,
    /// Whether the booking may move to that slot for reasons the slots do
    /// not show (its vehicle holds another booking at that time).
    pub may_move: &'a dyn Fn(&str, &str) -> bool,
}

/// Which bookings leave their slots and where they go, in creation order.
/// `slots` holds every slot that may lose or take places, each once.
pub fn plan(slots: &[PlanSlot], rules: &PlanRules<'_>) -> Vec<Move> {
    struct Room {
        taken: i32,
        held: HashMap<String, i64>,
    }
    let mut displaced: Vec<(Placed, &PlanSlot)> = Vec::new();
    let mut rooms: HashMap<&str, Room> = HashMap::new();
    for slot in slots {
        let mut queue: Vec<&Placed> = slot.bookings.iter().collect();
        // Trucks at the gate keep their places first, then the earliest created.
        queue.sort_by(|a, b| (!a.at_gate, a.created_at, &a.booking_id).cmp(&(!b.at_gate, b.created_at, &b.booking_id)));
        let keep = if slot.open { slot.capacity.max(0) as usize } else { 0 };
        let mut room = Room { taken: 0, held: HashMap::new() };
        for (i, b) in queue.into_iter().enumerate() {
            if i < keep || b.at_gate {
                room.taken += 1;
                *room.held.entry(b.enterprise_id.clone()).or_default() += 1;
            } else {
                displaced.push((b.clone(), slot));
            }
        }
        rooms.insert(slot.id.as_str(), room);
    }
    displaced.sort_by(|(a, _), (b, _)| (a.created_at, &a.booking_id).cmp(&(b.created_at, &b.booking_id)));
    let mut targets: Vec<&PlanSlot> = slots.iter().filter(|s| s.open).collect();
    targets.sort_by(|a, b| (a.starts_at, &a.id).cmp(&(b.starts_at, &b.id)));
    let mut moves = Vec::with_capacity(displaced.len());
    for (b, from) in displaced {
        let mut to = None;
        if rules.rebook == Rebook::NextAvailable {
            let latest = from.starts_at + rules.window;
            for t in
                targets.iter().filter(|t| t.id != from.id && t.starts_at >= from.starts_at && t.starts_at <= latest)
            {
                let Some(room) = rooms.get_mut(t.id.as_str()) else { continue };
                let held = room.held.get(&b.enterprise_id).copied().unwrap_or(0);
                if room.taken < t.capacity
                    && held < (rules.share_limit)(i64::from(t.capacity))
                    && (rules.may_move)(&b.booking_id, &t.id)
                {
                    room.taken += 1;
                    *room.held.entry(b.enterprise_id.clone()).or_default() += 1;
                    to = Some(t.id.clone());
                    break;
                }
            }
        }
        moves.push(Move {
            booking_id: b.booking_id,
            enterprise_id: b.enterprise_id,
            from_slot_id: from.id.clone(),
            to_slot_id: to,
        });
    }
    moves
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(h, m, 0).unwrap()
    }

    fn booking(id: &str, ent: &str, created_minute: u32) -> Placed {
        Placed { booking_id: id.into(), enterprise_id: ent.into(), created_at: t(0, created_minute), at_gate: false }
    }

    fn slot(id: &str, hour: u32, capacity: i32, open: bool, bookings: Vec<Placed>) -> PlanSlot {
        PlanSlot { id: id.into(), starts_at: t(hour, 0), capacity, open, bookings }
    }

    fn run(slots: &[PlanSlot], rebook: Rebook, share: &dyn Fn(i64) -> i64) -> Vec<(String, Option<String>)> {
        let r = PlanRules { rebook, window: Duration::hours(24), share_limit: share, may_move: &|_, _| true };
        plan(slots, &r).into_iter().map(|m| (m.booking_id, m.to_slot_id)).collect()
    }

    #[test]
    fn the_earliest_created_keep_their_places_and_the_others_move_in_creation_order() {
        let slots = vec![
            // 10:00 reduced to 1: b2 (created first) keeps it.
            slot("s10", 10, 1, true, vec![booking("b5", "e", 5), booking("b2", "e", 2), booking("b9", "f", 9)]),
            // 11:00 has one free place, 12:00 two.
            slot("s11", 11, 2, true, vec![booking("x", "g", 1)]),
            slot("s12", 12, 2, true, vec![]),
        ];
        let all = |c: i64| c;
        assert_eq!(
            run(&slots, Rebook::NextAvailable, &all),
            vec![("b5".into(), Some("s11".into())), ("b9".into(), Some("s12".into()))]
        );
        assert_eq!(run(&slots, Rebook::Cancel, &all), vec![("b5".into(), None), ("b9".into(), None)]);
    }

    #[test]
    fn closed_slots_keep_nobody_but_trucks_at_the_gate_and_take_nobody() {
        let mut at_gate = booking("g", "e", 9);
        at_gate.at_gate = true;
        let slots = vec![
            slot("s10", 10, 3, false, vec![booking("a", "e", 1), at_gate]),
            slot("s11", 11, 3, false, vec![]),
            slot("s13", 13, 1, true, vec![]),
        ];
        assert_eq!(run(&slots, Rebook::NextAvailable, &|c| c), vec![("a".into(), Some("s13".into()))]);
    }

    #[test]
    fn moves_respect_the_share_the_window_and_never_go_earlier() {
        let slots = vec![
            slot("s09", 9, 5, true, vec![]),
            slot("s10", 10, 0, true, vec![booking("a", "e", 1), booking("b", "e", 2)]),
            slot("s11", 11, 2, true, vec![booking("y", "e", 0)]),
            slot("s12", 12, 4, true, vec![]),
        ];
        // Half of the capacity at most: s11 (2 places) holds 1 of e already.
        let half = |c: i64| (c / 2).max(1);
        assert_eq!(
            run(&slots, Rebook::NextAvailable, &half),
            vec![("a".into(), Some("s12".into())), ("b".into(), Some("s12".into()))]
        );
        // A window of 90 minutes reaches 11:00 only.
        let r = PlanRules {
            rebook: Rebook::NextAvailable,
            window: Duration::minutes(90),
            share_limit: &half,
            may_move: &|_, _| true,
        };
        let moved: Vec<Option<String>> = plan(&slots, &r).into_iter().map(|m| m.to_slot_id).collect();
        assert_eq!(moved, vec![None, None]);
    }

    #[test]
    fn a_booking_that_may_not_move_somewhere_looks_further() {
        let slots = vec![
            slot("s10", 10, 0, true, vec![booking("a", "e", 1)]),
            slot("s11", 11, 1, true, vec![]),
            slot("s12", 12, 1, true, vec![]),
        ];
        let r = PlanRules {
            rebook: Rebook::NextAvailable,
            window: Duration::hours(24),
            share_limit: &|c| c,
            may_move: &|booking, slot| !(booking == "a" && slot == "s11"),
        };
        assert_eq!(plan(&slots, &r)[0].to_slot_id.as_deref(), Some("s12"));
    }
}
