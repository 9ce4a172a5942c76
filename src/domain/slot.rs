//! Clearance slots: whether one takes bookings, how many places it has,
//! and what an officer may change about it.

use super::fields::{FieldErrors, Invalid};
use super::gather::Gather;
use super::reason::Reason;
use crate::text_enum::text_enum;

text_enum!(
    /// Whether a slot takes bookings.
    SlotStatus {
        Open => "open",
        Closed => "closed",
    }
);

/// The places of one slot (or of each slot of a schedule): 0 to
/// [`Capacity::MAX`]; 0 offers none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity(i32);

impl Capacity {
    /// Most places one slot may offer.
    pub const MAX: i32 = 10_000;

    /// Reads the number a client sent.
    pub fn parse(raw: i64) -> Result<Capacity, Invalid> {
        match i32::try_from(raw) {
            Ok(n) if (0..=Self::MAX).contains(&n) => Ok(Capacity(n)),
            _ => Err(Invalid::field("capacity", "range", format!("capacity must be between 0 and {}", Self::MAX))),
        }
    }

    /// The number of places.
    pub fn get(self) -> i32 {
        self.0
    }
}

/// An officer's change to one slot: a new capacity, a new status, its
/// reserved places, or any of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotChange {
    /// The new capacity.
    pub capacity: Option<Capacity>,
    /// Places held for advanced-certified enterprises (0 to the capacity;
    /// whether it fits the slot's capacity is checked against the slot).
    pub reserved_advanced: Option<i32>,
    /// Minutes before the start the reserved places are released.
    pub release_minutes: Option<i32>,
    /// Open or close it; closing cancels its bookings.
    pub status: Option<SlotStatus>,
    /// Whether a capacity below the booked count may cancel the latest bookings.
    pub displace: bool,
    /// Why, recorded on the cancelled bookings and in the audit trail.
    pub reason: Option<Reason>,
}

impl SlotChange {
    /// Checks what a client sent, reporting every broken field at once.
    pub fn parse(
        capacity: Option<i64>,
        (reserved_advanced, release_minutes): (Option<i64>, Option<i64>),
        status: Option<&str>,
        displace: bool,
        reason: Option<&str>,
    ) -> Result<SlotChange, Invalid> {
        let mut errors = FieldErrors::new();
        if capacity.is_none() && status.is_none() && reserved_advanced.is_none() && release_minutes.is_none() {
            errors.add("capacity", "required", "give capacity, status, reserved_advanced or release_minutes");
        }
        let capacity = capacity.and_then(|c| errors.gather(Capacity::parse(c)));
        let reserved_advanced = reserved_advanced.and_then(|r| errors.gather(super::reserve::parse_reserved(r)));
        if let (Some(r), Some(c)) = (reserved_advanced, capacity) {
            errors.gather(super::reserve::check_fits(r, c.get()));
        }
        let release_minutes = release_minutes.and_then(|m| errors.gather(super::reserve::parse_release_minutes(m)));
        let status = status.and_then(|s| {
            let parsed = s.parse::<SlotStatus>();
            errors.gather(parsed.map_err(|_| Invalid::field("status", "enum", "status must be open or closed")))
        });
        let reason = errors.gather(Reason::optional(reason)).flatten();
        errors.into_result()?;
        Ok(SlotChange { capacity, reserved_advanced, release_minutes, status, displace, reason })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields(e: Invalid) -> Vec<(String, String)> {
        e.0.into_iter().map(|f| (f.field, f.code)).collect()
    }

    #[test]
    fn a_capacity_is_0_to_10000() {
        assert_eq!(Capacity::parse(0).unwrap().get(), 0);
        assert_eq!(Capacity::parse(10_000).unwrap().get(), 10_000);
        for bad in [-1, 10_001, i64::from(i32::MAX) + 1, i64::MIN] {
            assert_eq!(fields(Capacity::parse(bad).unwrap_err()), [("capacity".into(), "range".into())], "{bad}");
        }
    }

    #[test]
    fn a_slot_change_gives_capacity_status_or_both() {
        let c = SlotChange::parse(Some(5), (None, None), None, true, Some("  lane closed ")).unwrap();
        assert_eq!(c.capacity.map(Capacity::get), Some(5));
        assert_eq!((c.status, c.displace), (None, true));
        assert_eq!(c.reason.unwrap().as_str(), "lane closed");
        let c = SlotChange::parse(None, (None, None), Some("closed"), false, Some(" ")).unwrap();
        assert_eq!((c.capacity, c.status, c.reason), (None, Some(SlotStatus::Closed), None));
        let none = SlotChange::parse(None, (None, None), None, false, None).unwrap_err();
        assert_eq!(fields(none), [("capacity".into(), "required".into())]);
        let c = SlotChange::parse(None, (Some(2), Some(120)), None, false, None).unwrap();
        assert_eq!((c.capacity, c.reserved_advanced, c.release_minutes), (None, Some(2), Some(120)));
        let c = SlotChange::parse(None, (None, Some(0)), None, false, None).unwrap();
        assert_eq!(c.release_minutes, Some(0));
    }

    #[test]
    fn a_slot_change_names_every_broken_field() {
        let long = "x".repeat(1001);
        let e = SlotChange::parse(Some(-1), (Some(-1), Some(10_081)), Some("ajar"), false, Some(&long)).unwrap_err();
        let expected = [
            ("capacity", "range"),
            ("reserved_advanced", "range"),
            ("release_minutes", "range"),
            ("status", "enum"),
            ("reason", "length"),
        ];
        assert_eq!(fields(e), expected.map(|(f, c)| (f.to_owned(), c.to_owned())));
        // More reserved places than the new capacity.
        let e = SlotChange::parse(Some(2), (Some(3), None), None, false, None).unwrap_err();
        assert_eq!(fields(e), [("reserved_advanced".into(), "range".into())]);
    }
}
