//! The one clock: every request and every background task reads the time
//! here, once, so that all the rules of one operation see the same instant.
//!
//! In service it is the system clock. The in-process test harness may move
//! it forward (or set it) to reach a slot's end without waiting and without
//! rewriting rows: the offset is shared by every clone of the clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, TimeDelta, Utc};

/// The application's clock: system time plus an offset (zero in service).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, truncated to microseconds (what PostgreSQL keeps), so that a
    /// time stored and read back compares equal to the one used by the rules.
    pub fn now(&self) -> DateTime<Utc> {
        let t = Utc::now() + Duration::microseconds(self.offset_micros.load(Ordering::Relaxed));
        t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        self.offset_micros.fetch_add(by.num_microseconds().unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// Sets the clock so that `now()` reads `at` (and runs on from there).
    pub fn set(&self, at: DateTime<Utc>) {
        let offset = (at - Utc::now()).num_microseconds().unwrap_or(0);
        self.offset_micros.store(offset, Ordering::Relaxed);
    }
}

/// A time as stored: UTC without offset.
pub fn stored(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = other.now();
        clock.advance(Duration::hours(3));
        let after = other.now();
        assert!(after - before >= Duration::hours(3));
        assert!(after - before < Duration::hours(3) + Duration::seconds(5));
        let target: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap_or_default();
        clock.set(target);
        assert!((other.now() - target).num_seconds().abs() < 5);
    }
}
