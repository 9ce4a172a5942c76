//! Clearance slots: whether one takes bookings.

use crate::text_enum::text_enum;

text_enum!(
    /// Whether a slot takes bookings.
    SlotStatus {
        Open => "open",
        Closed => "closed",
    }
);
