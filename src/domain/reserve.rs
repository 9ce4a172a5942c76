//! Reserved places (issue 15 item 5): a slot may hold its last
//! `reserved_advanced` places for advanced-certified enterprises until
//! `release_minutes` before it starts; from then on anyone may take them.
//!
//! The rule is enforced in the booking's guarded UPDATE
//! (`db::slots::take_place`: `… AND (<advanced> OR booked < capacity -
//! reserved_advanced OR reserved_until <= <now>)`); this module says the
//! same thing in Rust, for the answers (`available`, `bookable`/`reason`)
//! and for telling a refused UPDATE's reason. `reserved_until` is stored
//! with each slot (`starts_at - release_minutes`) so that the statement
//! needs no date arithmetic.
//!
//! When a slot's capacity is below its `reserved_advanced` (a capacity
//! lowered by a closure), every place is reserved: the last n places
//! include all of them.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::fields::Invalid;
use super::identity::CreditClass;
use super::slot::{Capacity, SlotStatus};

/// Longest time before a slot's start the reserve may be released: a week.
pub const MAX_RELEASE_MINUTES: i32 = 10_080;

/// Reads a number of reserved places a client sent: 0 to
/// [`Capacity::MAX`] (whether it fits the capacity is [`check_fits`]).
pub fn parse_reserved(raw: i64) -> Result<i32, Invalid> {
    match i32::try_from(raw) {
        Ok(n) if (0..=Capacity::MAX).contains(&n) => Ok(n),
        _ => Err(Invalid::field(
            "reserved_advanced",
            "range",
            format!("reserved_advanced must be between 0 and the capacity (at most {})", Capacity::MAX),
        )),
    }
}

/// Reads a release time a client sent: 0 to [`MAX_RELEASE_MINUTES`]
/// minutes before the slot starts (0: reserved until the start).
pub fn parse_release_minutes(raw: i64) -> Result<i32, Invalid> {
    match i32::try_from(raw) {
        Ok(n) if (0..=MAX_RELEASE_MINUTES).contains(&n) => Ok(n),
        _ => Err(Invalid::field(
            "release_minutes",
            "range",
            format!("release_minutes must be between 0 and {MAX_RELEASE_MINUTES} (a week)"),
        )),
    }
}

/// Reserved places may not exceed the capacity they are part of.
pub fn check_fits(reserved: i32, capacity: i32) -> Result<(), Invalid> {
    if reserved > capacity {
        return Err(Invalid::field(
            "reserved_advanced",
            "range",
            format!("reserved_advanced must be between 0 and the capacity ({capacity})"),
        ));
    }
    Ok(())
}

/// When the reserve of a slot starting at `starts_at` is released.
pub fn reserved_until(starts_at: NaiveDateTime, release_minutes: i32) -> NaiveDateTime {
    starts_at - Duration::minutes(i64::from(release_minutes))
}

/// Whether an enterprise of this class may take reserved places.
pub fn takes_reserved(credit: CreditClass) -> bool {
    credit == CreditClass::AdvancedCertified
}

/// What the reserve rule reads of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotPlaces {
    pub status: SlotStatus,
    pub capacity: i32,
    pub booked: i32,
    pub reserved_advanced: i32,
    /// `starts_at - release_minutes`.
    pub reserved_until: DateTime<Utc>,
}

impl SlotPlaces {
    /// Free places: `capacity - booked` while open, else 0.
    pub fn free(&self) -> i32 {
        if self.status == SlotStatus::Open {
            (self.capacity - self.booked).max(0)
        } else {
            0
        }
    }

    /// Whether the reserve still holds at `now` (before its release).
    pub fn reserve_holds(&self, now: DateTime<Utc>) -> bool {
        self.reserved_advanced > 0 && now < self.reserved_until
    }

    /// Free places that only advanced-certified enterprises may take at
    /// `now`: the free ones among the last `reserved_advanced` (0 once released).
    pub fn reserved_free(&self, now: DateTime<Utc>) -> i32 {
        if self.reserve_holds(now) {
            self.free().min(self.reserved_advanced)
        } else {
            0
        }
    }

    /// Free places an enterprise of this class may take at `now`.
    pub fn available_to(&self, credit: CreditClass, now: DateTime<Utc>) -> i32 {
        if takes_reserved(credit) {
            self.free()
        } else {
            self.free() - self.reserved_free(now)
        }
    }
}

/// Whether the reserve is what keeps an enterprise of `credit` from taking
/// a place in `slot` at `now`: the slot has free places, and every one of
/// them is reserved for advanced-certified enterprises until
/// `slot.reserved_until`. False for a closed or full slot (those have
/// their own reasons) and for advanced-certified enterprises.
pub fn reserved_blocks(credit: CreditClass, slot: &SlotPlaces, now: DateTime<Utc>) -> bool {
    slot.free() > 0 && slot.available_to(credit, now) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-12-01T08:00:00Z".parse().unwrap()
    }

    /// Capacity 10, `booked`, 3 reserved until t0.
    fn slot(booked: i32) -> SlotPlaces {
        SlotPlaces { status: SlotStatus::Open, capacity: 10, booked, reserved_advanced: 3, reserved_until: t0() }
    }

    const GENERAL: CreditClass = CreditClass::General;
    const ADVANCED: CreditClass = CreditClass::AdvancedCertified;

    #[test]
    fn the_last_places_are_held_for_advanced_certified_until_the_release() {
        let before = t0() - Duration::minutes(1);
        // 7 places for anyone, then 3 reserved.
        assert_eq!(slot(0).available_to(GENERAL, before), 7);
        assert_eq!(slot(0).reserved_free(before), 3);
        assert_eq!(slot(6).available_to(GENERAL, before), 1);
        assert!(!reserved_blocks(GENERAL, &slot(6), before));
        assert_eq!(slot(7).available_to(GENERAL, before), 0);
        assert!(reserved_blocks(GENERAL, &slot(7), before));
        assert!(reserved_blocks(GENERAL, &slot(9), before));
        assert!(reserved_blocks(CreditClass::Discredited, &slot(9), before));
        // Advanced-certified enterprises take every free place.
        assert_eq!(slot(7).available_to(ADVANCED, before), 3);
        assert!(!reserved_blocks(ADVANCED, &slot(9), before));
        // At the release time (and after) anyone may.
        assert_eq!(slot(7).available_to(GENERAL, t0()), 3);
        assert_eq!(slot(7).reserved_free(t0()), 0);
        assert!(!reserved_blocks(GENERAL, &slot(9), t0()));
    }

    #[test]
    fn full_or_closed_slots_are_not_blocked_by_the_reserve() {
        let before = t0() - Duration::hours(1);
        assert!(!reserved_blocks(GENERAL, &slot(10), before));
        let closed = SlotPlaces { status: SlotStatus::Closed, ..slot(0) };
        assert!(!reserved_blocks(GENERAL, &closed, before));
        assert_eq!(closed.available_to(ADVANCED, before), 0);
        // No reserve: nothing is held.
        let none = SlotPlaces { reserved_advanced: 0, ..slot(9) };
        assert!(!reserved_blocks(GENERAL, &none, before));
        assert_eq!(none.available_to(GENERAL, before), 1);
    }

    #[test]
    fn a_capacity_below_the_reserve_reserves_every_place() {
        let before = t0() - Duration::hours(1);
        let small = SlotPlaces { capacity: 2, booked: 0, ..slot(0) };
        assert_eq!(small.available_to(GENERAL, before), 0);
        assert_eq!(small.reserved_free(before), 2);
        assert!(reserved_blocks(GENERAL, &small, before));
        // Booked beyond the capacity (lowered below it): nothing free, not blocked.
        let over = SlotPlaces { capacity: 2, booked: 5, ..slot(0) };
        assert_eq!((over.free(), over.available_to(GENERAL, before)), (0, 0));
        assert!(!reserved_blocks(GENERAL, &over, before));
    }

    #[test]
    fn the_rule_is_the_guarded_updates_condition() {
        // `booked < capacity AND (advanced OR booked < capacity - reserved OR reserved_until <= now)`
        // for every small case, read as the database reads it.
        for capacity in 0..6 {
            for booked in 0..=capacity {
                for reserved in 0..8 {
                    for now in [t0() - Duration::minutes(1), t0(), t0() + Duration::minutes(1)] {
                        for credit in [GENERAL, ADVANCED] {
                            let s = SlotPlaces {
                                status: SlotStatus::Open,
                                capacity,
                                booked,
                                reserved_advanced: reserved,
                                reserved_until: t0(),
                            };
                            let sql = booked < capacity
                                && (takes_reserved(credit) || booked < capacity - reserved || t0() <= now);
                            assert_eq!(s.available_to(credit, now) > 0, sql, "{s:?} {credit} {now}");
                            let blocked = booked < capacity && !sql;
                            assert_eq!(reserved_blocks(credit, &s, now), blocked, "{s:?} {credit} {now}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn inputs_are_checked() {
        assert_eq!(parse_reserved(0), Ok(0));
        assert_eq!(parse_reserved(10_000), Ok(10_000));
        for bad in [-1, 10_001, i64::MAX] {
            assert_eq!(parse_reserved(bad).unwrap_err().0[0].field, "reserved_advanced");
        }
        assert_eq!(parse_release_minutes(0), Ok(0));
        assert_eq!(parse_release_minutes(10_080), Ok(10_080));
        for bad in [-1, 10_081, i64::MIN] {
            assert_eq!(parse_release_minutes(bad).unwrap_err().0[0].field, "release_minutes");
        }
        assert!(check_fits(3, 3).is_ok());
        let e = check_fits(4, 3).unwrap_err();
        assert_eq!((e.0[0].field.as_str(), e.0[0].code.as_str()), ("reserved_advanced", "range"));
        let start = t0().naive_utc();
        assert_eq!(reserved_until(start, 90), (t0() - Duration::minutes(90)).naive_utc());
        assert_eq!(reserved_until(start, 0), start);
    }
}
