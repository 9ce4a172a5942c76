//! The public board (issue 18): free places per slot for drivers at the
//! gate, without a token, and nothing about who booked.
//!
//! One query of the board is a [`BoardQuery`] (site code, mode, a period
//! whose default ends are whole hours), answered by [`load`] as the finished
//! JSON body and its ETag. That pair is what the in-memory cache
//! (`services::board_cache`, issue 19) keeps, with the version of the site
//! that `load` reads before the slots: a write that moves a count of one of
//! the site's slots bumps it (`db::changes`), and the kept answer is no
//! longer served.
//! Free places are computed in one function, [`available`], so that a new
//! counter (places held) changes one line.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Instant;

use actix_web::web::Bytes;

use chrono::{DateTime, Duration, DurationRound, FixedOffset, TimeDelta, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::board_cache::Stamped;
use crate::db::changes::SiteVersions;
use crate::db::sites::{self, SiteRow};
use crate::db::slots::{self, SlotFilter, SlotRow};
use crate::db::DbConnection;
use crate::domain::goods::TransportMode;
use crate::domain::schedule::{parse_timezone, to_local};
use crate::domain::slot::SlotStatus;
use crate::error::AppError;

/// Longest period one board answer covers.
pub const MAX_BOARD_DAYS: i64 = 7;
/// The period when none is asked for: from the start of the current hour.
pub const DEFAULT_BOARD_HOURS: i64 = 24;
/// Most slots one answer lists (a week of 10-minute slots in three modes fits).
const MAX_BOARD_SLOTS: i64 = 3_100;

/// Free places of a slot as the public sees them: `capacity - booked`
/// while the slot is open, 0 when it is closed or full. The places a slot
/// keeps for advanced-certified enterprises are counted as free: a driver
/// cannot tell from the board which company will book.
pub fn available(slot: &SlotRow) -> i32 {
    slot.places().free()
}

/// A site as the public board lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PublicSite)]
pub struct PublicSite {
    /// UN/LOCODE-shaped code; the board's address.
    #[schema(example = "CNKHG")]
    pub code: String,
    pub name: String,
    /// The site's official IANA time zone.
    #[schema(example = "Asia/Shanghai")]
    pub timezone: String,
    /// Transport modes served.
    pub modes: Vec<TransportMode>,
}

impl From<SiteRow> for PublicSite {
    fn from(s: SiteRow) -> Self {
        let modes = s.mode_list();
        PublicSite { code: s.code, name: s.name, timezone: s.timezone, modes }
    }
}

/// One slot on the board.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PublicSlot)]
pub struct PublicSlot {
    pub starts_at: DateTime<Utc>,
    /// The start in the site's official zone.
    #[schema(value_type = String, example = "2026-12-08T10:00:00+08:00")]
    pub starts_at_local: DateTime<FixedOffset>,
    pub ends_at: DateTime<Utc>,
    pub mode: TransportMode,
    /// Places the slot offers.
    pub capacity: i32,
    /// Free places now: 0 when full or closed.
    pub available: i32,
    /// Whether the slot takes bookings (a closed slot shows `false` and 0 free).
    pub open: bool,
}

/// The board of one site for one period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PublicBoard)]
pub struct Board {
    pub site: PublicSite,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The slots starting in `[from, to)`, by start.
    pub items: Vec<PublicSlot>,
}

/// One question to the board: the key a cache would keep answers by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoardQuery {
    pub code: String,
    pub mode: Option<TransportMode>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A finished answer: the JSON body and its ETag (a digest of the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardAnswer {
    /// Shared, not copied, by every request served from the cache.
    pub body: Bytes,
    pub etag: String,
}

impl BoardAnswer {
    /// An answer with the ETag of its body.
    pub fn of<T: Serialize>(value: &T) -> Result<Self, AppError> {
        let body = serde_json::to_string(value).map_err(|e| AppError::internal(format!("board answer: {e}")))?;
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!("\"{}\"", hex::encode(&digest[..16]));
        Ok(BoardAnswer { body: Bytes::from(body), etag })
    }
}

/// The default period: from the start of the current hour, a day long, so
/// that every client asking in the same hour asks the same question.
pub fn default_period(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let from = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    (from, from + Duration::hours(DEFAULT_BOARD_HOURS))
}

/// The sites, by code.
pub fn sites(conn: &mut DbConnection) -> Result<Vec<PublicSite>, AppError> {
    Ok(sites::list(conn, None, None, 1_000)?.into_iter().map(PublicSite::from).collect())
}

/// The board of one site (`None`: no site has that code), stamped with
/// the site's version as it was before the slots were read: an answer is
/// stale exactly when the version has moved since.
pub fn load(conn: &mut DbConnection, q: &BoardQuery, versions: &SiteVersions) -> Result<Option<Stamped>, AppError> {
    let read_at = Instant::now();
    let Some(site) = sites::find_by_code(conn, &q.code)? else {
        return Ok(None);
    };
    let version = versions.of(&site.id);
    let site_id = site.id.clone();
    let tz = parse_timezone(&site.timezone).map_err(AppError::internal)?;
    let filter = SlotFilter {
        site_id: Some(site.id.clone()),
        sites: None,
        mode: q.mode,
        from: q.from.naive_utc(),
        to: q.to.naive_utc(),
        only_available: false,
        reserve_applies_at: None,
        after: None,
        limit: MAX_BOARD_SLOTS,
    };
    let items = slots::list(conn, &filter)?
        .into_iter()
        .map(|(s, _)| PublicSlot {
            starts_at: s.starts_at.and_utc(),
            starts_at_local: to_local(s.starts_at.and_utc(), tz),
            ends_at: s.ends_at.and_utc(),
            mode: s.mode,
            capacity: s.capacity,
            available: available(&s),
            open: s.status == SlotStatus::Open,
        })
        .collect();
    let board = Board { site: site.into(), from: q.from, to: q.to, items };
    let answer = BoardAnswer::of(&board)?;
    Ok(Some(Stamped { answer, site_id, version, read_at }))
}

/// Requests per minute per client address on the public routes, in
/// process: `governor`'s keyed GCRA limiter. Each instance keeps its own
/// budget (N instances allow N times the rate). The map is trimmed of
/// addresses whose budget is full again when it grows large, so it stays
/// bounded under a flood of addresses.
pub struct PublicLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

/// Addresses kept before the limiter trims the ones at full budget.
const MAX_TRACKED_ADDRESSES: usize = 50_000;

impl PublicLimiter {
    /// `per_minute` requests per address, as a burst of that many refilled
    /// evenly over a minute.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self { limiter: RateLimiter::keyed(Quota::per_minute(n)), clock: DefaultClock::default() }
    }

    /// Takes one request from the address's budget; else the seconds until
    /// the next one is allowed.
    pub fn check(&self, addr: IpAddr) -> Result<(), u64> {
        if self.limiter.len() > MAX_TRACKED_ADDRESSES {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&addr).map_err(|not_until| not_until.wait_time_from(self.clock.now()).as_secs().max(1))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_past_the_budget_per_address() {
        let l = PublicLimiter::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.check(a).is_ok() && l.check(a).is_ok());
        let wait = l.check(a).unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(l.check(b).is_ok(), "another address has its own budget");
    }

    #[test]
    fn the_default_period_starts_on_the_hour() {
        let now: DateTime<Utc> = "2026-12-08T10:17:42Z".parse().unwrap();
        let (f, t) = default_period(now);
        assert_eq!(f.to_rfc3339(), "2026-12-08T10:00:00+00:00");
        assert_eq!(t - f, Duration::hours(24));
    }

    #[test]
    fn an_etag_names_the_body() {
        let a = BoardAnswer::of(&serde_json::json!({"items": [1]})).unwrap();
        let b = BoardAnswer::of(&serde_json::json!({"items": [2]})).unwrap();
        assert_ne!(a.etag, b.etag);
        assert_eq!(a, BoardAnswer::of(&serde_json::json!({"items": [1]})).unwrap());
        assert!(a.etag.starts_with('"') && a.etag.len() == 34);
    }
}
