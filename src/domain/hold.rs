//! Holds and waitlist entries (issue 16): their statuses and the bounds a
//! client's values must keep.

use chrono::{DateTime, Utc};

use super::fields::Invalid;
use crate::text_enum::text_enum;

text_enum!(
    /// Where a hold is: `active` keeps a place; `converted` became a
    /// booking; `released` was given back; `expired` ran out.
    HoldStatus {
        Active => "active",
        Converted => "converted",
        Released => "released",
        Expired => "expired",
    }
);

text_enum!(
    /// Where a waitlist entry is: `waiting` in line; `offered` a hold;
    /// `fulfilled` its declaration got booked; `lapsed` let an offer
    /// expire; `closed` its window passed or its declaration was rejected
    /// or cancelled; `withdrawn` by the company.
    WaitlistStatus {
        Waiting => "waiting",
        Offered => "offered",
        Fulfilled => "fulfilled",
        Lapsed => "lapsed",
        Closed => "closed",
        Withdrawn => "withdrawn",
    }
);

impl WaitlistStatus {
    /// The statuses of an entry still in line or holding an offer.
    pub const LIVE: &'static [WaitlistStatus] = &[WaitlistStatus::Waiting, WaitlistStatus::Offered];
}

/// Shortest hold a client may ask for, in seconds.
pub const MIN_TTL_SECONDS: i64 = 30;
/// Longest hold a client may ask for, in seconds.
pub const MAX_TTL_SECONDS: i64 = 1800;
/// Longest waitlist window, in days (the booking horizon is 30 by default).
pub const MAX_WINDOW_DAYS: i64 = 62;

/// Reads a hold's lifetime: `ttl_seconds` 30 to 1800, or the default.
pub fn parse_ttl(raw: Option<i64>, default: i64) -> Result<i64, Invalid> {
    match raw {
        None => Ok(default.clamp(MIN_TTL_SECONDS, MAX_TTL_SECONDS)),
        Some(n) if (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&n) => Ok(n),
        Some(_) => Err(Invalid::field(
            "ttl_seconds",
            "range",
            format!("ttl_seconds must be between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS}"),
        )),
    }
}

/// Checks a waitlist window `[from, to)`: `to` after `from`, not wholly
/// past, at most [`MAX_WINDOW_DAYS`] long.
pub fn check_window(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Invalid> {
    if to <= from {
        return Err(Invalid::field("to", "order", "to must be after from"));
    }
    if to <= now {
        return Err(Invalid::field("to", "past", "the window has passed already: give a window in the future"));
    }
    if to - from > chrono::Duration::days(MAX_WINDOW_DAYS) {
        return Err(Invalid::field("to", "range", format!("a window is at most {MAX_WINDOW_DAYS} days long")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_bounds() {
        assert_eq!(parse_ttl(None, 600).ok(), Some(600));
        assert_eq!(parse_ttl(Some(30), 600).ok(), Some(30));
        assert_eq!(parse_ttl(Some(1800), 600).ok(), Some(1800));
        assert!(parse_ttl(Some(29), 600).is_err());
        assert!(parse_ttl(Some(1801), 600).is_err());
    }

    #[test]
    fn windows() {
        let now = Utc::now();
        let h = chrono::Duration::hours(1);
        assert!(check_window(now, now + h, now).is_ok());
        assert!(check_window(now + h, now, now).is_err());
        assert!(check_window(now - h * 3, now - h, now).is_err());
        assert!(check_window(now, now + chrono::Duration::days(63), now).is_err());
    }
}
