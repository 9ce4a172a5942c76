//! Failed-login throttling per account and per client address.
//!
//! `governor` (MIT/Apache-2.0, GCRA) does the rate arithmetic. A key is
//! charged only for a failed login; once its budget is spent, every attempt
//! on it is refused with 429 until the budget refills, before any password
//! is checked. The state is per process: with several instances each
//! enforces its own budget, so the effective limit is N × the configured
//! one (noted in README; a shared store can replace this module).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Tracks failed logins and says when a key is locked out.
pub struct LoginThrottle {
    limiter: DefaultKeyedRateLimiter<String>,
    locked_until: Mutex<HashMap<String, Instant>>,
    clock: DefaultClock,
}

impl LoginThrottle {
    /// `per_minute` failed logins per key, refilled evenly over a minute.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
            locked_until: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    /// Seconds to wait if any of `keys` is locked out now.
    pub fn locked(&self, keys: &[String]) -> Option<u64> {
        let now = Instant::now();
        let mut map = self.locked_until.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, until| *until > now);
        keys.iter().filter_map(|k| map.get(k)).max().map(|until| until.saturating_duration_since(now).as_secs().max(1))
    }

    /// Charges one failure to each key; returns the wait if that spent a
    /// key's budget.
    pub fn record_failure(&self, keys: &[String]) -> Option<u64> {
        let mut wait: Option<Duration> = None;
        for key in keys {
            if let Err(not_until) = self.limiter.check_key(key) {
                let d = not_until.wait_time_from(self.clock.now());
                let mut map = self.locked_until.lock().unwrap_or_else(|p| p.into_inner());
                map.insert(key.clone(), Instant::now() + d);
                wait = Some(wait.map_or(d, |w| w.max(d)));
            }
        }
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        wait.map(|d| d.as_secs().max(1))
    }
}
