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
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Profile::Development),
            "test" => Ok(Profile::Test),
            "production" | "prod" => Ok(Profile::Production),
            other => bail!("CLEARWAY_PROFILE={other:?} is not a profile; use development, test or production"),
        }
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
    pub demo: DemoSettings,
    pub webhooks: WebhookSettings,
}

fn default_profile() -> Profile {
    Profile::Development
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub body_limit_bytes: usize,
    pub client_request_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub shutdown_timeout_secs: u64,
    pub workers: usize,
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
    pub failed_logins_per_minute: u32,
    pub max_concurrent_hashes: usize,
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
            .add_source(Environment::with_prefix("CLEARWAY").prefix_separator("__").separator("__").try_parsing(true))
            .build()
            .context("reading configuration")?;
        let mut settings: Settings = raw.try_deserialize().context("configuration has a missing or mistyped value")?;
        settings.profile = profile;
        settings.validate()?;
        Ok(settings)
    }

    /// Refuses settings that would be unsafe or cannot work.
    pub fn validate(&self) -> anyhow::Result<()> {
        let secret = self.auth.jwt_secret.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default();
        if secret.is_empty() {
            bail!("no JWT secret: set CLEARWAY__AUTH__JWT_SECRET (at least {MIN_PRODUCTION_SECRET_BYTES} bytes)");
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
        if self.auth.jwt_previous_secret.is_some() != self.auth.jwt_previous_key_id.is_some() {
            bail!("jwt_previous_secret and jwt_previous_key_id go together");
        }
        if self.database.pool_size == 0 {
            bail!("database.pool_size must be at least 1");
        }
        if self.booking.max_share_percent <= 0 || self.booking.max_share_percent > 100 {
            bail!("booking.max_share_percent must be within 1..=100");
        }
        if self.profile.is_production() && self.webhooks.allow_private_targets {
            bail!("webhooks.allow_private_targets must stay false in production (SSRF)");
        }
        if self.slots.horizon_days == 0 || self.slots.horizon_days > 366 {
            bail!("slots.horizon_days must be within 1..=366");
        }
        Ok(())
    }
}
