//! Cancelling bookings that no longer fit a slot (capacity lowered with
//! `displace`, or the slot closed): see `bookings::displace`.

pub use crate::services::bookings::displace;
