//! What every request handler shares.

use crate::auth::jwt::JwtKeys;
use crate::auth::password::Hasher;
use crate::auth::throttle::LoginThrottle;
use crate::config::Settings;
use crate::db::Db;

/// Application state, built once at start-up.
pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub jwt: JwtKeys,
    pub hasher: Hasher,
    pub login_throttle: LoginThrottle,
}

impl AppState {
    pub fn new(settings: Settings, db: Db) -> anyhow::Result<Self> {
        Ok(Self {
            jwt: JwtKeys::from_settings(&settings.auth)?,
            hasher: Hasher::new(settings.auth.max_concurrent_hashes),
            login_throttle: LoginThrottle::new(settings.auth.failed_logins_per_minute),
            settings,
            db,
        })
    }
}
