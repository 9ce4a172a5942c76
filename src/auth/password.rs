//! Argon2id password hashing, off the async executor and bounded in
//! concurrency so that logins cannot starve other work of CPU.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    // These constants are valid; Params::new only fails on out-of-range input.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (PHC string with salt and parameters).
pub fn hash_blocking(password: &str) -> Result<String, AppError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| AppError::internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("hashing password: {e}")))
}

/// Checks a password against a stored hash; a malformed hash never matches.
pub fn verify_blocking(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the email is unknown
/// so that an unknown account takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        hash_blocking(&hex::encode(random)).unwrap_or_default()
    })
}

/// Runs hashes on the blocking pool, at most `permits` at once.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(permits: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(permits.max(1))) }
    }

    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let _permit = self.permits.acquire().await.map_err(|_| AppError::Unavailable)?;
        crate::telemetry::spawn_blocking_in_span(move || hash_blocking(&password))
            .await
            .map_err(|_| AppError::internal("hash task failed"))?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when
    /// there is no account, so that both take the same time.
    pub async fn verify(&self, hash: Option<String>, password: String) -> Result<bool, AppError> {
        let _permit = self.permits.acquire().await.map_err(|_| AppError::Unavailable)?;
        crate::telemetry::spawn_blocking_in_span(move || match hash {
            Some(h) => verify_blocking(&h, &password),
            None => {
                verify_blocking(dummy_hash(), &password);
                false
            }
        })
        .await
        .map_err(|_| AppError::internal("verify task failed"))
    }
}
