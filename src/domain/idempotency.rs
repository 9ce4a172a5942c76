//! The client's key that makes a retried request safe to send again.

use super::fields::Invalid;

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// Where the key comes from, and the name field errors give it.
const FIELD: &str = "Idempotency-Key";

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters (surrounding
/// white space is not part of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the header's text.
    pub fn parse(raw: &str) -> Result<IdempotencyKey, Invalid> {
        let key = raw.trim();
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid::field(
                FIELD,
                "format",
                format!("{FIELD} must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            ));
        }
        Ok(IdempotencyKey(key.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_1_to_255_visible_ascii_characters() {
        assert_eq!(IdempotencyKey::parse(" order-4711 ").unwrap().as_str(), "order-4711");
        assert_eq!(IdempotencyKey::parse(&"k".repeat(MAX_KEY_LEN)).unwrap().as_str().len(), MAX_KEY_LEN);
        let long = "k".repeat(MAX_KEY_LEN + 1);
        for bad in ["", "   ", &long, "two words", "café", "tab\there"] {
            let e = IdempotencyKey::parse(bad).unwrap_err();
            assert_eq!((e.0[0].field.as_str(), e.0[0].code.as_str()), ("Idempotency-Key", "format"), "{bad:?}");
        }
    }
}
