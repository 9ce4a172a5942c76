//! Throttling of failed logins and of registrations, shared by every
//! instance through the database (`login_throttle`).
//!
//! Each budget is a GCRA (a leaky bucket) kept as one row per hashed key.
//! A login spends one unit of each of its budgets BEFORE the password is
//! checked, in one transaction (all or none), and gets them back when the
//! password was right: so parallel guesses can never spend more than the
//! budget, however many arrive at once. Budgets: one account from one
//! address (small), one address over all accounts, one account over all
//! addresses (generous: above what one address may spend, so that guesses
//! from one place can never lock the account out elsewhere).
//!
//! State is bounded: keys are SHA-256 digests (fixed size, whatever the
//! input), a row is deleted once its budget is full again, and past
//! `throttle_max_keys` rows the oldest go.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::config::AuthSettings;
use crate::db::{login_throttle, DbConnection};
use crate::error::AppError;

/// A budget: `burst` units, one back every `interval_us`.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    interval_us: i64,
    burst: i64,
}

impl Quota {
    fn per(n: u32, period_secs: i64) -> Self {
        let n = i64::from(n.max(1));
        Self { interval_us: period_secs * 1_000_000 / n, burst: n }
    }
}

/// The budgets spent by one request; give them back with [`Throttle::refund`].
#[derive(Debug, Clone, Default)]
pub struct Charge(Vec<(String, Quota)>);

/// The configured budgets.
pub struct Throttle {
    pair: Quota,
    address: Quota,
    account: Quota,
    registration: Quota,
    cap: i64,
    spends: AtomicU64,
}

/// Prune the table once every this many spends.
const PRUNE_EVERY: u64 = 256;

/// The address as a throttle key: IPv4 as it is, IPv6 by its /64 (one
/// host usually has a whole /64).
fn address_key(addr: Option<IpAddr>) -> String {
    match addr {
        Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        Some(ip) => ip.to_string(),
        None => "unknown".into(),
    }
}

fn digest(kind: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

impl Throttle {
    pub fn new(auth: &AuthSettings) -> Self {
        Self {
            pair: Quota::per(auth.failed_logins_per_minute, 60),
            address: Quota::per(auth.failed_logins_per_address_per_minute, 60),
            account: Quota::per(auth.failed_logins_per_account_per_minute, 60),
            registration: Quota::per(auth.registrations_per_hour, 3600),
            cap: auth.throttle_max_keys,
            spends: AtomicU64::new(0),
        }
    }

    /// The budgets of a login (or a password check) for `email` from `addr`.
    pub fn login_keys(&self, email: &str, addr: Option<IpAddr>) -> Charge {
        let addr = address_key(addr);
        Charge(vec![
            (digest("login-pair", &[email, &addr]), self.pair),
            (digest("login-address", &[&addr]), self.address),
            (digest("login-account", &[email]), self.account),
        ])
    }

    /// The budget of a registration from `addr`.
    pub fn registration_keys(&self, addr: Option<IpAddr>) -> Charge {
        Charge(vec![(digest("registration", &[&address_key(addr)]), self.registration)])
    }

    /// Spends one unit of every budget of `charge`, or none: 429 with the
    /// wait when one is empty. Run it in a write transaction, which the
    /// error rolls back (undoing the budgets spent before the empty one).
    pub fn spend(&self, conn: &mut DbConnection, charge: Charge, now_us: i64) -> Result<Charge, AppError> {
        if self.spends.fetch_add(1, Ordering::Relaxed).is_multiple_of(PRUNE_EVERY) {
            login_throttle::prune(conn, now_us, self.cap)?;
        }
        for (key, q) in &charge.0 {
            if login_throttle::spend(conn, key, now_us, q.interval_us, q.burst * q.interval_us)? == 0 {
                let tat = login_throttle::tat(conn, key)?.unwrap_or(now_us);
                // The next unit is back when tat + interval - burst is reached.
                let wait_us = tat + q.interval_us - q.burst * q.interval_us - now_us;
                let retry_after_secs = u64::try_from((wait_us + 999_999) / 1_000_000).unwrap_or(1).max(1);
                return Err(AppError::TooManyRequests { retry_after_secs });
            }
        }
        Ok(charge)
    }

    /// Gives back what `charge` spent (the password was right; the
    /// registration was refused).
    pub fn refund(&self, conn: &mut DbConnection, charge: &Charge) -> Result<(), AppError> {
        for (key, q) in &charge.0 {
            login_throttle::refund(conn, key, q.interval_us)?;
        }
        Ok(())
    }
}

/// Microseconds since the epoch, the throttle's clock.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
