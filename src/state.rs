//! What every request handler shares.

use crate::auth::jwt::JwtKeys;
use crate::auth::password::Hasher;
use crate::auth::sessions::SessionCache;
use crate::auth::throttle::Throttle;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use std::sync::Arc;

use secrecy::ExposeSecret;

use crate::domain::booking_policy::BookingPolicy;
use crate::domain::gate_pass::GatePassKey;
use crate::services::bookings::{BookingRules, InFlight};

/// Application state, built once at start-up.
pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    /// The one clock every request and background task reads.
    pub clock: Clock,
    pub jwt: JwtKeys,
    pub hasher: Hasher,
    /// Failed-login and registration budgets (kept in the database).
    pub throttle: Throttle,
    /// Per-request session checks, cached for `auth.session_cache_ms`.
    pub sessions: SessionCache,
    /// `server.trusted_proxies`, parsed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The booking rules and the gate pass key.
    pub bookings: Arc<BookingRules>,
    /// Idempotency keys whose first request is running in this process.
    pub in_flight: InFlight,
    /// Per-address request budget of the public board.
    pub public_limiter: crate::services::public_board::PublicLimiter,
    /// The public board's answers, kept until a count of their site moves.
    pub board_cache: crate::services::board_cache::BoardCache,
}

impl AppState {
    pub fn new(settings: Settings, db: Db) -> anyhow::Result<Self> {
        Ok(Self {
            jwt: JwtKeys::from_settings(&settings.auth)?,
            hasher: Hasher::new(settings.auth.max_concurrent_hashes, settings.auth.hash_queue),
            throttle: Throttle::new(&settings.auth),
            sessions: SessionCache::new(settings.auth.session_cache_ms),
            trusted_proxies: settings.server.trusted_proxy_nets()?,
            bookings: Arc::new(rules_of(&settings)),
            in_flight: InFlight::default(),
            public_limiter: crate::services::public_board::PublicLimiter::new(settings.public.requests_per_minute),
            board_cache: crate::services::board_cache::BoardCache::new(
                settings.public.cache_limits(),
                db.site_versions(),
            ),
            settings,
            db,
            clock: Clock::system(),
        })
    }
}

/// The booking rules from the `[booking]` and `[gate]` settings.
pub fn rules_of(settings: &Settings) -> BookingRules {
    let secret = settings.gate.pass_secret.as_ref().map(|s| s.expose_secret().as_bytes().to_vec()).unwrap_or_default();
    BookingRules {
        defaults: policy_of(&settings.booking),
        passes: GatePassKey::new(&secret),
        holds: crate::services::holds::HoldRules {
            default_ttl_seconds: settings.holds.ttl_seconds,
            max_per_enterprise: settings.holds.max_per_enterprise,
            offer: chrono::Duration::minutes(settings.waitlist.offer_minutes),
        },
    }
}

/// The booking policy from the `[booking]` settings.
pub fn policy_of(b: &crate::config::BookingSettings) -> BookingPolicy {
    use chrono::Duration;
    BookingPolicy {
        min_notice: Duration::minutes(b.min_notice_minutes),
        min_notice_advanced: Duration::minutes(b.min_notice_minutes_advanced),
        horizon: Duration::days(b.horizon_days),
        cancel_cutoff: Duration::minutes(b.cancel_cutoff_minutes),
        max_share_percent: b.max_share_percent,
        arrival_early: Duration::minutes(b.arrival_early_minutes),
        arrival_late: Duration::minutes(b.arrival_late_minutes),
        rebook_window: Duration::hours(b.rebook_window_hours),
    }
}
