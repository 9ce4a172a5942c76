//! Webhook signing secrets at rest: sealed with XChaCha20-Poly1305 under a
//! key from configuration (`webhooks.secret_key`), bound to their endpoint's
//! id (associated data), so that a copied database does not reveal them and
//! a sealed secret moved to another row does not open.
//!
//! Stored form: `enc1:<base64(24-byte nonce ‖ ciphertext ‖ tag)>`. A value
//! that does not start with `enc1:` is a secret written before sealing was
//! introduced (`whsec_…`); start-up seals those (see
//! `services::webhooks::seal_plaintext_secrets`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

/// Prefix of a sealed secret.
pub const SEALED_PREFIX: &str = "enc1:";

/// The key that seals webhook secrets, derived from the configured one.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// A sealed secret that does not open: wrong key, another row's, or damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CannotOpen;

impl SecretKey {
    /// Derives the 256-bit key from the configured text (any length; the
    /// configuration checks its strength), domain-separated from every
    /// other use of the same text.
    pub fn from_config(raw: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"clearway/webhook-secrets/v1\0");
        h.update(raw.as_bytes());
        SecretKey(h.finalize().into())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// Seals `secret` for the endpoint `webhook_id`.
    pub fn seal(&self, webhook_id: &str, secret: &str) -> String {
        let nonce: [u8; 24] = rand::random();
        // Encryption with a fresh nonce and in-memory buffers cannot fail.
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret.as_bytes(), aad: webhook_id.as_bytes() })
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", B64.encode(bytes))
    }

    /// The secret as stored for `webhook_id`: opened when sealed, as it is
    /// when written before sealing existed.
    pub fn open(&self, webhook_id: &str, stored: &str) -> Result<String, CannotOpen> {
        let Some(b64) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let bytes = B64.decode(b64).map_err(|_| CannotOpen)?;
        if bytes.len() < 24 + 16 {
            return Err(CannotOpen);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: webhook_id.as_bytes() })
            .map_err(|_| CannotOpen)?;
        String::from_utf8(plain).map_err(|_| CannotOpen)
    }
}

/// Whether a stored secret is sealed.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_row() {
        let key = SecretKey::from_config("a key of at least thirty-two bytes, for tests");
        let sealed = key.seal("w1", "whsec_abc");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(key.open("w1", &sealed).unwrap(), "whsec_abc");
        // Each seal has its own nonce.
        assert_ne!(key.seal("w1", "whsec_abc"), sealed);
        assert_eq!(key.open("w2", &sealed), Err(CannotOpen));
        let other = SecretKey::from_config("another key of at least thirty-two bytes");
        assert_eq!(other.open("w1", &sealed), Err(CannotOpen));
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(key.open("w1", &damaged), Err(CannotOpen));
        assert_eq!(key.open("w1", "enc1:!!"), Err(CannotOpen));
        // A secret from before sealing reads as it is.
        assert_eq!(key.open("w1", "whsec_old").unwrap(), "whsec_old");
    }
}
