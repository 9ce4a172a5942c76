//! Typed settings, layered: `config/default.toml` → `config/<profile>.toml` →
//! environment (`CLEARWAY__SECTION__KEY`).
//!
//! The files are embedded in the binary so that it runs from any directory
//! (and in the container) with the same defaults; the environment is how a
//! deployment changes them.

use std::fmt;

use anyhow::{bail, Context};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const DEVELOPMENT_TOML: &str = include_str!("../config/development.toml");
const TEST_TOML: &str = include_str!("../config/test.toml");
const PRODUCTION_TOML: &str = include_str!("../config/production.toml");

/// Shortest JWT secret the production profile accepts, in bytes.
pub const MIN_PRODUCTION_SECRET_BYTES: usize = 32;

/// Which set of defaults and rules is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Development,
    Test,
    Production,
}

impl Profile {
    /// Reads `CLEARWAY_PROFILE` (default `development`).
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("CLEARWAY_PROFILE") {
            Ok(v) => v.parse(),
            Err(_) => Ok(Profile::Development),
        }
    }

    /// Every profile, in the order they are listed to users.
    pub const ALL: [Profile; 3] = [Profile::Development, Profile::Test, Profile::Production];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Development => "development",
            Profile::Test => "test",
            Profile::Production => "production",
        }
    }

    fn toml(self) -> &'static str {
        match self {
            Profile::Development => DEVELOPMENT_TOML,
            Profile::Test => TEST_TOML,
            Profile::Production => PRODUCTION_TOML,
        }
    }

    /// Development and test accept plain-HTTP loopback webhooks and a dev secret.
    pub fn is_production(self) -> bool {
        self == Profile::Production
    }
}

impl std::str::FromStr for Profile {
    type Err = anyhow::Error;
    /// Only the exact names: a guessed short form (`prod`) is refused by
    /// name instead of silently picking a profile whose rules then fail.
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let name = s.trim().to_ascii_lowercase();
        if let Some(p) = Profile::ALL.into_iter().find(|p| p.as_str() == name) {
            return Ok(p);
        }
        let valid = Profile::ALL.map(Profile::as_str).join(", ");
        let hint = Profile::ALL
            .into_iter()
            .find(|p| !name.is_empty() && p.as_str().starts_with(&name))
            .map(|p| format!(" (did you mean {p}?)"))
            .unwrap_or_default();
        bail!("CLEARWAY_PROFILE={s:?} is not a profile{hint}; valid profiles: {valid}")
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// All settings of one process.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(skip, default = "default_profile")]
    pub profile: Profile,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub slots: SlotSettings,
    pub booking: BookingSettings,
    pub gate: GateSettings,
    pub demo: DemoSettings,
    pub webhooks: WebhookSettings,
    /// The public board (`/public/...`).
    #[serde(default)]
    pub public: PublicSettings,
    #[serde(default)]
    pub holds: HoldSettings,
    #[serde(default)]
    pub waitlist: WaitlistSettings,
}

fn default_profile() -> Profile {
    Profile::Development
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// The address clients reach this server at (scheme, host, optional
    /// port and path prefix, no trailing slash); problem `type` URIs start
    /// with it. Outside production an empty one becomes [`Self::local_url`].
    pub public_url: String,
    pub body_limit_bytes: usize,
    pub client_request_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub shutdown_timeout_secs: u64,
    pub workers: usize,
    /// Proxies (CIDRs or addresses) whose `X-Forwarded-For` is believed;
    /// empty: none, the peer address is the client's.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

impl ServerSettings {
    /// `trusted_proxies` parsed (a bare address is a one-address network);
    /// the error names the entry that is not a CIDR.
    pub fn trusted_proxy_nets(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|raw| {
                let raw = raw.trim();
                raw.parse::<ipnet::IpNet>()
                    .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "server.trusted_proxies: {raw:?} is not an address or CIDR (e.g. 10.0.0.0/8, 127.0.0.1)"
                        )
                    })
            })
            .collect()
    }

    /// Whether `host` is a loopback interface (`127.0.0.0/8`, `::1`, `localhost`).
    pub fn listens_on_loopback_only(&self) -> bool {
        let host = self.host.trim().trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `http://<host>:<port>` as seen from this machine: the default public URL
    /// outside production.
    pub fn local_url(&self) -> String {
        let host = match self.host.as_str() {
            "0.0.0.0" | "::" | "" => "127.0.0.1",
            h => h,
        };
        if host.contains(':') {
            format!("http://[{host}]:{}", self.port)
        } else {
            format!("http://{host}:{}", self.port)
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub acquire_timeout_secs: u64,
    pub connect_timeout_secs: u64,
}

#[derive(Clone, Deserialize)]
pub struct AuthSettings {
    pub jwt_secret: Option<SecretString>,
    pub jwt_key_id: String,
    pub jwt_previous_secret: Option<SecretString>,
    pub jwt_previous_key_id: Option<String>,
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_days: i64,
    pub leeway_secs: u64,
    /// Failed logins per minute for one account from one client address.
    pub failed_logins_per_minute: u32,
    /// Failed logins per minute from one client address, all accounts.
    pub failed_logins_per_address_per_minute: u32,
    /// Failed logins per minute for one account, all addresses (generous:
    /// above what one address may spend, so one address never locks it).
    pub failed_logins_per_account_per_minute: u32,
    /// Throttle rows kept at most (oldest dropped first beyond it).
    pub throttle_max_keys: i64,
    /// Accepted registrations per client address per hour.
    pub registrations_per_hour: u32,
    /// Argon2id hashes running at once; each holds 19 MiB while it runs.
    pub max_concurrent_hashes: usize,
    /// Hash requests allowed to wait for a permit; beyond them 503.
    pub hash_queue: usize,
    /// Absolute lifetime of a session (a sign-in and its refresh tokens).
    pub session_max_days: i64,
    /// How long a session's state is cached per process, in milliseconds:
    /// the most another instance may lag behind a revocation (0: no cache).
    pub session_cache_ms: u64,
}

impl fmt::Debug for AuthSettings {
    // Secrets never reach logs, even through a Debug print of the settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "[redacted]"))
            .field("jwt_key_id", &self.jwt_key_id)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SlotSettings {
    pub horizon_days: u32,
    pub topup_interval_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BookingSettings {
    pub min_notice_minutes: i64,
    pub min_notice_minutes_advanced: i64,
    pub horizon_days: i64,
    pub cancel_cutoff_minutes: i64,
    pub max_share_percent: i64,
    /// Minutes before its slot starts that a truck may be checked in.
    pub arrival_early_minutes: i64,
    /// Minutes after its slot ends that a truck may still be checked in.
    pub arrival_late_minutes: i64,
    /// Hours after its old start within which a displaced booking is moved.
    pub rebook_window_hours: i64,
}

/// The gate: the key that signs gate passes, and the no-show sweep.
#[derive(Clone, Deserialize)]
pub struct GateSettings {
    pub pass_secret: Option<SecretString>,
    pub sweep_interval_secs: u64,
}

impl std::fmt::Debug for GateSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateSettings")
            .field("pass_secret", &self.pass_secret.as_ref().map(|_| "[redacted]"))
            .field("sweep_interval_secs", &self.sweep_interval_secs)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    pub worker_enabled: bool,
    pub poll_interval_ms: u64,
    pub max_attempts: i32,
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    pub request_timeout_secs: u64,
    pub lease_secs: i64,
    pub allow_private_targets: bool,
    /// Key that seals endpoint secrets at rest (at least 32 bytes in
    /// production; `secrecy` keeps it out of Debug prints).
    pub secret_key: Option<SecretString>,
    /// Active endpoints one enterprise may have.
    pub max_per_enterprise: i32,
    /// Deliveries to one endpoint in flight at once (per instance).
    pub per_endpoint_concurrency: usize,
    /// Deliveries of one enterprise in flight at once (per instance): its
    /// slow endpoints can take at most these places of `max_in_flight`.
    pub per_enterprise_concurrency: usize,
    /// Deliveries in flight at once in one instance, all endpoints together.
    pub max_in_flight: usize,
    /// Manual redeliveries of one endpoint per hour.
    pub redeliveries_per_hour: i32,
    /// Days that events, deliveries and attempts are kept once no delivery
    /// of them is pending; 0 keeps them only until delivered.
    pub retention_days: i64,
    /// Seconds between prunes of old events by the worker.
    pub prune_interval_secs: u64,
}

impl WebhookSettings {
    /// The key that seals endpoint secrets (an empty one outside
    /// production if none is configured cannot happen: validation refuses it).
    pub fn sealing_key(&self) -> crate::domain::webhook_secret::SecretKey {
        let raw = self.secret_key.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default();
        crate::domain::webhook_secret::SecretKey::from_config(&raw)
    }
}

/// The routes anyone may call without a token (the public board).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PublicSettings {
    /// Requests per minute per client address (a burst of that many,
    /// refilled evenly); more are answered 429 with Retry-After.
    pub requests_per_minute: u32,
    /// Milliseconds a board answer is kept in memory and served again
    /// (0..=10000; 0 = not kept). A change through this instance drops it
    /// at once; this bounds how late a change made through another
    /// instance on the same database shows.
    pub cache_ttl_ms: u64,
    /// Board answers kept at most (1..=100000).
    pub cache_max_entries: usize,
    /// Megabytes of board answers kept at most (1..=4096).
    pub cache_max_megabytes: usize,
}

/// Longest `public.cache_ttl_ms`: answers from another instance stay at
/// most a few seconds behind.
pub const MAX_BOARD_CACHE_TTL_MS: u64 = 10_000;

impl Default for PublicSettings {
    fn default() -> Self {
        Self { requests_per_minute: 120, cache_ttl_ms: 2_000, cache_max_entries: 1_024, cache_max_megabytes: 64 }
    }
}

impl PublicSettings {
    /// The board cache's limits.
    pub fn cache_limits(&self) -> crate::services::board_cache::CacheLimits {
        crate::services::board_cache::CacheLimits {
            ttl: std::time::Duration::from_millis(self.cache_ttl_ms),
            max_entries: self.cache_max_entries,
            max_bytes: self.cache_max_megabytes.saturating_mul(1 << 20),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.cache_ttl_ms > MAX_BOARD_CACHE_TTL_MS {
            bail!(
                "public.cache_ttl_ms must be within 0..={MAX_BOARD_CACHE_TTL_MS} \
                 (another instance's changes show on this one's board after at most that long)"
            );
        }
        if !(1..=100_000).contains(&self.cache_max_entries) {
            bail!("public.cache_max_entries must be within 1..=100000");
        }
        if !(1..=4096).contains(&self.cache_max_megabytes) {
            bail!("public.cache_max_megabytes must be within 1..=4096");
        }
        Ok(())
    }
}

/// Holds: a place kept for a short time before it is booked.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HoldSettings {
    /// A hold's lifetime when the request gives none (30 to 1800).
    pub ttl_seconds: i64,
    /// Live holds one enterprise may keep at once (offers not counted).
    pub max_per_enterprise: i32,
    /// Seconds between sweeps that free the places of expired holds.
    pub sweep_interval_secs: u64,
}

impl Default for HoldSettings {
    fn default() -> Self {
        Self { ttl_seconds: 600, max_per_enterprise: 3, sweep_interval_secs: 5 }
    }
}

/// Waitlists: freed places offered to those waiting.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct WaitlistSettings {
    /// How long an offer's hold lasts, in minutes.
    pub offer_minutes: i64,
}

impl Default for WaitlistSettings {
    fn default() -> Self {
        Self { offer_minutes: 15 }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DemoSettings {
    pub seed_on_start: bool,
}

impl Settings {
    /// Loads the profile named by `CLEARWAY_PROFILE`, then checks it.
    pub fn load() -> anyhow::Result<Self> {
        Self::load_profile(Profile::from_env()?)
    }

    /// Loads one profile's files plus the environment, then checks the result.
    pub fn load_profile(profile: Profile) -> anyhow::Result<Self> {
        use config::{Config, Environment, File, FileFormat};
        let raw = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from_str(profile.toml(), FileFormat::Toml))
            .add_source(
                Environment::with_prefix("CLEARWAY")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("server.trusted_proxies"),
            )
            .build()
            .context("reading configuration")?;
        let mut settings: Settings = raw.try_deserialize().context("configuration has a missing or mistyped value")?;
        settings.profile = profile;
        // One spelling, so that `type` URIs never carry a double slash.
        settings.server.public_url = settings.server.public_url.trim().trim_end_matches('/').to_owned();
        if settings.server.public_url.is_empty() && !profile.is_production() {
            settings.server.public_url = settings.server.local_url();
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Refuses settings that would be unsafe or cannot work.
    pub fn validate(&self) -> anyhow::Result<()> {
        let secret = self.auth.jwt_secret.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default();
        if secret.is_empty() {
            bail!(
                "no JWT secret: the {} profile has none built in; set CLEARWAY__AUTH__JWT_SECRET \
                 (at least {MIN_PRODUCTION_SECRET_BYTES} bytes, e.g. `openssl rand -base64 48`)",
                self.profile
            );
        }
        if self.profile.is_production() {
            if secret.len() < MIN_PRODUCTION_SECRET_BYTES {
                bail!(
                    "the production profile needs a JWT secret of at least {MIN_PRODUCTION_SECRET_BYTES} bytes \
                     (CLEARWAY__AUTH__JWT_SECRET has {}); generate one with `openssl rand -base64 48`",
                    secret.len()
                );
            }
            if secret.contains("INSECURE") {
                bail!("the production profile refuses the development/test JWT secret; set CLEARWAY__AUTH__JWT_SECRET");
            }
        }
        if !(30..=1800).contains(&self.holds.ttl_seconds) {
            bail!("holds.ttl_seconds must be within 30..=1800 (the bounds a client may ask for)");
        }
        if self.holds.max_per_enterprise < 1 {
            bail!("holds.max_per_enterprise must be at least 1");
        }
        if self.holds.sweep_interval_secs == 0 || self.holds.sweep_interval_secs > 60 {
            bail!("holds.sweep_interval_secs must be within 1..=60 (an expired hold is freed within it)");
        }
        if !(1..=1440).contains(&self.waitlist.offer_minutes) {
            bail!("waitlist.offer_minutes must be within 1..=1440");
        }
        let pass = self.gate.pass_secret.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default();
        if pass.is_empty() {
            bail!(
                "no gate pass secret: the {} profile has none built in; set CLEARWAY__GATE__PASS_SECRET \
                 (at least {MIN_PRODUCTION_SECRET_BYTES} bytes, e.g. `openssl rand -base64 48`)",
                self.profile
            );
        }
        if self.profile.is_production() {
            if pass.len() < MIN_PRODUCTION_SECRET_BYTES {
                bail!(
                    "the production profile needs a gate pass secret of at least {MIN_PRODUCTION_SECRET_BYTES} \
                     bytes (CLEARWAY__GATE__PASS_SECRET has {}); generate one with `openssl rand -base64 48`",
                    pass.len()
                );
            }
            if pass.contains("INSECURE") {
                bail!(
                    "the production profile refuses the development/test gate pass secret; \
                     set CLEARWAY__GATE__PASS_SECRET"
                );
            }
            if pass == secret {
                bail!("the gate pass secret must differ from the JWT secret (a leaked pass key must not mint tokens)");
            }
        }
        if self.gate.sweep_interval_secs == 0 || self.gate.sweep_interval_secs > 60 {
            bail!("gate.sweep_interval_secs must be within 1..=60 (a booking may show a stale state at most a minute)");
        }
        if !(1..=168).contains(&self.booking.rebook_window_hours) {
            bail!("booking.rebook_window_hours must be within 1..=168");
        }
        if self.booking.arrival_early_minutes < 0 || self.booking.arrival_late_minutes < 0 {
            bail!("booking.arrival_early_minutes and booking.arrival_late_minutes must not be negative");
        }
        if self.auth.jwt_previous_secret.is_some() != self.auth.jwt_previous_key_id.is_some() {
            bail!("jwt_previous_secret and jwt_previous_key_id go together");
        }
        self.validate_auth(&secret, &pass)?;
        if self.database.pool_size == 0 {
            bail!("database.pool_size must be at least 1");
        }
        if self.booking.max_share_percent <= 0 || self.booking.max_share_percent > 100 {
            bail!("booking.max_share_percent must be within 1..=100");
        }
        if self.profile.is_production() && self.webhooks.allow_private_targets {
            bail!("webhooks.allow_private_targets must stay false in production (SSRF)");
        }
        self.validate_webhooks(&secret, &pass)?;
        if self.slots.horizon_days == 0 || self.slots.horizon_days > 366 {
            bail!("slots.horizon_days must be within 1..=366");
        }
        self.public.validate()?;
        check_public_url(&self.server.public_url, self.profile)
    }
}

impl Settings {
    /// The webhook key must exist (every profile), be strong and its own in
    /// production; the worker's limits must be usable.
    fn validate_webhooks(&self, jwt_secret: &str, pass_secret: &str) -> anyhow::Result<()> {
        let w = &self.webhooks;
        let key = w.secret_key.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default();
        if key.is_empty() {
            bail!(
                "no webhook secret key: the {} profile has none built in; set CLEARWAY__WEBHOOKS__SECRET_KEY \
                 (at least {MIN_PRODUCTION_SECRET_BYTES} bytes, e.g. `openssl rand -base64 48`)",
                self.profile
            );
        }
        if self.profile.is_production() {
            if key.len() < MIN_PRODUCTION_SECRET_BYTES || key.contains("INSECURE") {
                bail!(
                    "the production profile needs its own webhook secret key of at least \
                     {MIN_PRODUCTION_SECRET_BYTES} bytes (CLEARWAY__WEBHOOKS__SECRET_KEY); \
                     generate one with `openssl rand -base64 48`"
                );
            }
            if key == jwt_secret || key == pass_secret {
                bail!("the webhook secret key must differ from the JWT and gate pass secrets");
            }
        }
        if w.max_per_enterprise < 1
            || w.max_in_flight == 0
            || w.per_endpoint_concurrency == 0
            || w.per_enterprise_concurrency == 0
        {
            bail!(
                "webhooks.max_per_enterprise, max_in_flight, per_endpoint_concurrency and \
                 per_enterprise_concurrency must be at least 1"
            );
        }
        if w.per_enterprise_concurrency >= w.max_in_flight {
            bail!(
                "webhooks.per_enterprise_concurrency must be below max_in_flight \
                 (one enterprise's slow endpoints must leave places for the others)"
            );
        }
        if w.redeliveries_per_hour < 0 || w.retention_days < 0 {
            bail!("webhooks.redeliveries_per_hour and retention_days must not be negative");
        }
        if w.lease_secs <= w.request_timeout_secs as i64 {
            bail!("webhooks.lease_secs must be longer than request_timeout_secs (a lease outlives its attempt)");
        }
        Ok(())
    }

    /// Session, throttle and proxy settings; the previous JWT secret meets the
    /// rules of the current one; development and test listen on loopback only.
    fn validate_auth(&self, secret: &str, pass: &str) -> anyhow::Result<()> {
        let auth = &self.auth;
        if !self.profile.is_production() && !self.server.listens_on_loopback_only() {
            bail!(
                "the {} profile listens on loopback only (its secrets are published); server.host={:?} is not \
                 loopback: use 127.0.0.1, or CLEARWAY_PROFILE=production with your own secrets",
                self.profile,
                self.server.host
            );
        }
        if self.profile.is_production() {
            if let Some(prev) = &auth.jwt_previous_secret {
                let prev = prev.expose_secret();
                if prev.len() < MIN_PRODUCTION_SECRET_BYTES || prev.contains("INSECURE") {
                    bail!(
                        "the production profile needs a previous JWT secret (CLEARWAY__AUTH__JWT_PREVIOUS_SECRET) of \
                         at least {MIN_PRODUCTION_SECRET_BYTES} bytes and not a development/test one"
                    );
                }
                if prev == pass {
                    bail!("the previous JWT secret must differ from the gate pass secret");
                }
                if prev == secret && auth.jwt_previous_key_id.as_deref() != Some(auth.jwt_key_id.as_str()) {
                    bail!("the previous JWT secret equals the current one under another key id");
                }
            }
        }
        if auth.jwt_previous_key_id.as_deref() == Some(auth.jwt_key_id.as_str()) {
            bail!("jwt_previous_key_id must differ from jwt_key_id (a token names its key)");
        }
        self.server.trusted_proxy_nets()?;
        let budgets = [
            ("failed_logins_per_minute", auth.failed_logins_per_minute),
            ("failed_logins_per_address_per_minute", auth.failed_logins_per_address_per_minute),
            ("failed_logins_per_account_per_minute", auth.failed_logins_per_account_per_minute),
            ("registrations_per_hour", auth.registrations_per_hour),
        ];
        if let Some((name, _)) = budgets.iter().find(|(_, v)| *v == 0) {
            bail!("auth.{name} must be at least 1");
        }
        if auth.failed_logins_per_account_per_minute <= auth.failed_logins_per_minute {
            bail!(
                "auth.failed_logins_per_account_per_minute must exceed auth.failed_logins_per_minute, so that \
                 guesses from one address never lock the account out for everyone"
            );
        }
        if auth.session_cache_ms > 1000 {
            bail!("auth.session_cache_ms must be at most 1000 (a revocation reaches every instance within it)");
        }
        if auth.session_max_days < 1 || auth.max_concurrent_hashes == 0 || auth.throttle_max_keys < 1000 {
            bail!(
                "auth.session_max_days and auth.max_concurrent_hashes must be at least 1, \
                 auth.throttle_max_keys at least 1000"
            );
        }
        Ok(())
    }
}

/// `server.public_url` must be an absolute http(s) URL without query or
/// fragment; production has no default, since only the operator knows it.
fn check_public_url(url: &str, profile: Profile) -> anyhow::Result<()> {
    if url.is_empty() {
        if profile.is_production() {
            bail!(
                "the production profile needs server.public_url, the address clients reach this server at: \
                 set CLEARWAY__SERVER__PUBLIC_URL (e.g. https://clearway.customs.example)"
            );
        }
        bail!("server.public_url is empty; set CLEARWAY__SERVER__PUBLIC_URL (e.g. http://127.0.0.1:8080)");
    }
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(['?', '#', ' ']) => Ok(()),
        _ => bail!(
            "server.public_url={url:?} is not an absolute http(s) URL without query or fragment \
             (CLEARWAY__SERVER__PUBLIC_URL, e.g. https://clearway.customs.example)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_profile_names_are_profiles() {
        assert_eq!("production".parse::<Profile>().ok(), Some(Profile::Production));
        assert_eq!(" Test ".parse::<Profile>().ok(), Some(Profile::Test));
        let err = "prod".parse::<Profile>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("\"prod\" is not a profile (did you mean production?)"), "{err}");
        assert!(err.contains("valid profiles: development, test, production"), "{err}");
        let err = "staging".parse::<Profile>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("is not a profile; valid profiles"), "{err}");
    }

    #[test]
    #[allow(clippy::expect_used)]
    fn development_and_test_listen_on_loopback_only() {
        let mut s = Settings::load_profile(Profile::Test).expect("test settings");
        for ok in ["127.0.0.1", "localhost", "::1", "127.0.0.2"] {
            s.server.host = ok.into();
            assert!(s.validate().is_ok(), "{ok}");
        }
        for bad in ["0.0.0.0", "::", "192.168.1.10", "example.com"] {
            s.server.host = bad.into();
            let err = s.validate().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("loopback only"), "{bad}: {err}");
        }
    }

    #[test]
    #[allow(clippy::expect_used)]
    fn the_board_cache_has_bounds() {
        let mut s = Settings::load_profile(Profile::Test).expect("test settings");
        assert_eq!((s.public.cache_ttl_ms, s.public.cache_max_entries), (2_000, 1_024));
        for (ttl, entries, mb, ok) in [
            (0, 1, 1, true),
            (10_000, 100_000, 4096, true),
            (10_001, 10, 10, false),
            (10, 0, 10, false),
            (10, 10, 0, false),
        ] {
            s.public.cache_ttl_ms = ttl;
            s.public.cache_max_entries = entries;
            s.public.cache_max_megabytes = mb;
            let err = s.validate().err().map(|e| e.to_string()).unwrap_or_default();
            assert_eq!(err.is_empty(), ok, "{ttl} {entries} {mb}: {err}");
            assert!(ok || err.contains("public.cache_"), "{err}");
        }
    }

    #[test]
    #[allow(clippy::expect_used)]
    fn trusted_proxies_must_be_cidrs() {
        let mut s = Settings::load_profile(Profile::Test).expect("test settings");
        s.server.trusted_proxies = vec!["10.0.0.0/8".into(), "127.0.0.1".into()];
        assert_eq!(s.server.trusted_proxy_nets().map(|v| v.len()).ok(), Some(2));
        s.server.trusted_proxies = vec!["10.0.0.0/33".into()];
        assert!(s.validate().is_err());
    }

    #[test]
    fn public_url_is_checked() {
        assert!(check_public_url("http://127.0.0.1:8080", Profile::Development).is_ok());
        assert!(check_public_url("https://customs.example/clearway", Profile::Production).is_ok());
        assert!(check_public_url("", Profile::Production).is_err());
        assert!(check_public_url("customs.example", Profile::Development).is_err());
        assert!(check_public_url("https://customs.example/?a=1", Profile::Development).is_err());
        assert!(check_public_url("https:///x", Profile::Development).is_err());
    }

    #[test]
    fn production_refuses_a_missing_weak_or_reused_webhook_key() {
        let Ok(mut s) = Settings::load_profile(Profile::Test) else { panic!("test settings") };
        let (jwt, pass) = ("j".repeat(40), "p".repeat(40));
        let check = |s: &Settings| s.validate_webhooks(&jwt, &pass).is_ok();
        assert!(check(&s), "the test profile's built-in key is accepted outside production");
        s.profile = Profile::Production;
        assert!(!check(&s), "the test profile's INSECURE key is refused in production");
        for (key, ok) in [("", false), ("short", false), (jwt.as_str(), false), (pass.as_str(), false)] {
            s.webhooks.secret_key = Some(SecretString::from(key.to_owned()));
            assert_eq!(check(&s), ok, "{key:?}");
        }
        s.webhooks.secret_key = None;
        assert!(!check(&s));
        s.webhooks.secret_key = Some(SecretString::from("k".repeat(48)));
        assert!(check(&s));
        s.webhooks.per_enterprise_concurrency = s.webhooks.max_in_flight;
        assert!(!check(&s), "one enterprise may not take every place");
    }

    #[test]
    fn public_url_defaults_to_the_listen_address_outside_production() {
        let s = Settings::load_profile(Profile::Test).ok().map(|s| s.server.public_url);
        assert_eq!(s.as_deref(), Some("http://127.0.0.1:8080"));
    }
}
