//! The gate pass: a short code, signed by the server, that names a booking
//! and its version, and the QR code printed from it. A code for an older
//! version still verifies here; whether it still admits is the caller's
//! rule (the version is compared with the booking's).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// First part of every code: the format's name and version.
const PREFIX: &str = "CW1";
/// Message prefix of the MAC, so that the key signs nothing else alike.
const DOMAIN: &str = "clearway-gate-pass/v1";
/// Bytes of the HMAC-SHA256 kept in a code (128 bits).
const MAC_BYTES: usize = 16;
/// Characters of those bytes in unpadded base64url.
const MAC_CHARS: usize = 22;
/// Longest booking id a code may name (UUID text has 36 characters).
const MAX_BOOKING_ID_CHARS: usize = 64;
/// Longest input [`GatePassKey::verify`] looks at, whitespace included.
pub const MAX_CODE_LEN: usize = 200;

/// What a valid code names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatePass {
    /// The booking's id, as given to [`GatePassKey::code`].
    pub booking_id: String,
    /// The booking's gate pass version the code was issued for (1 or more).
    pub version: i32,
}

/// A code that this key did not sign, or that is not a gate pass at all;
/// which of the two is not told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidGatePass;

impl fmt::Display for InvalidGatePass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the gate pass code is forged or unreadable")
    }
}

impl std::error::Error for InvalidGatePass {}

/// The key that signs and checks gate passes. Its `Debug` shows no secret.
#[derive(Clone)]
pub struct GatePassKey {
    /// HMAC-SHA256 already keyed with the secret; cloned for each code.
    mac: HmacSha256,
}

impl fmt::Debug for GatePassKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GatePassKey(..)")
    }
}

impl GatePassKey {
    /// A key from the configured secret (any length; keep it at least 32
    /// random bytes, and apart from the JWT key).
    pub fn new(secret: &[u8]) -> Self {
        // HMAC's own key preparation (RFC 2104): a key longer than the
        // block is hashed, a shorter one padded with zeros. Done here so
        // that keying cannot fail (`new_from_slice` returns a `Result`).
        let mut block = hmac::digest::Key::<HmacSha256>::default();
        if secret.len() > block.len() {
            let digest = Sha256::digest(secret);
            block[..digest.len()].copy_from_slice(&digest);
        } else {
            block[..secret.len()].copy_from_slice(secret);
        }
        GatePassKey { mac: <HmacSha256 as KeyInit>::new(&block) }
    }

    /// The MAC of a booking id and version, before truncation.
    fn keyed(&self, booking_id: &str, version: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN.as_bytes());
        mac.update(b"\n");
        mac.update(booking_id.as_bytes());
        mac.update(b"\n");
        mac.update(version.as_bytes());
        mac
    }

    /// The code for a booking's gate pass: `CW1.<booking_id>.<version>.<mac>`,
    /// printable ASCII of about 66 characters for a UUID booking id. The
    /// booking id must be 1 to 64 letters, digits and `-` (UUID text), and
    /// the version 1 or more, or the code will not verify.
    pub fn code(&self, booking_id: &str, version: i32) -> String {
        let version = version.to_string();
        let tag = self.keyed(booking_id, &version).finalize().into_bytes();
        format!("{PREFIX}.{booking_id}.{version}.{}", URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES]))
    }

    /// What a code names, if this key signed it. Surrounding whitespace (a
    /// scanner's newline) is ignored; anything else not exactly as
    /// [`GatePassKey::code`] writes it is refused.
    pub fn verify(&self, code: &str) -> Result<GatePass, InvalidGatePass> {
        if code.len() > MAX_CODE_LEN {
            return Err(InvalidGatePass);
        }
        let mut parts = code.trim().split('.');
        let (Some(PREFIX), Some(booking_id), Some(version), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidGatePass);
        };
        if booking_id.is_empty()
            || booking_id.len() > MAX_BOOKING_ID_CHARS
            || !booking_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(InvalidGatePass);
        }
        // Only the form `code` writes: digits, no sign, no leading zero.
        let number = version.parse::<i32>().map_err(|_| InvalidGatePass)?;
        if number < 1 || number.to_string() != version {
            return Err(InvalidGatePass);
        }
        if tag.len() != MAC_CHARS {
            return Err(InvalidGatePass);
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidGatePass)?;
        if tag.len() != MAC_BYTES {
            return Err(InvalidGatePass);
        }
        // Constant-time comparison with the first MAC_BYTES of the MAC.
        self.keyed(booking_id, version).verify_truncated_left(&tag).map_err(|_| InvalidGatePass)?;
        Ok(GatePass { booking_id: booking_id.to_owned(), version: number })
    }
}

/// The gate pass as a QR code in SVG (error correction M, with a quiet
/// zone, at least 240 px wide, black on white), to show and print. A code
/// too long for a QR code (never one that [`GatePassKey::code`] writes)
/// gives a blank white square.
pub fn qr_svg(code: &str) -> String {
    use qrcode::render::svg;
    match qrcode::QrCode::with_error_correction_level(code.as_bytes(), qrcode::EcLevel::M) {
        Ok(qr) => qr
            .render::<svg::Color>()
            .quiet_zone(true)
            .min_dimensions(240, 240)
            .dark_color(svg::Color("#000"))
            .light_color(svg::Color("#fff"))
            .build(),
        Err(_) => concat!(
            r#"<?xml version="1.0" standalone="yes"?>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="240" height="240" viewBox="0 0 240 240">"#,
            r##"<rect x="0" y="0" width="240" height="240" fill="#fff"/></svg>"##,
        )
        .to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const BOOKING: &str = "0192f3b2-7c1a-7d4e-9a55-3b1c2d4e5f60";

    fn key() -> GatePassKey {
        GatePassKey::new(b"a gate pass secret of at least thirty-two bytes")
    }

    #[test]
    fn a_code_round_trips() {
        let code = key().code(BOOKING, 3);
        assert!(code.starts_with("CW1.0192f3b2-7c1a-7d4e-9a55-3b1c2d4e5f60.3."), "{code}");
        assert_eq!(code.len(), 4 + 36 + 1 + 1 + 1 + MAC_CHARS);
        assert!(code.bytes().all(|b| b.is_ascii_graphic()));
        assert_eq!(key().verify(&code), Ok(GatePass { booking_id: BOOKING.into(), version: 3 }));
        let big = key().code(BOOKING, i32::MAX);
        assert_eq!(key().verify(&big).unwrap().version, i32::MAX);
        // The same input gives the same code.
        assert_eq!(key().code(BOOKING, 3), code);
        assert_ne!(key().code(BOOKING, 4), code);
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let code = key().code(BOOKING, 1);
        assert!(key().verify(&format!("{code}\n")).is_ok());
        assert!(key().verify(&format!("\r\n {code}\t\r\n")).is_ok());
        assert!(key().verify(&format!("{} {}", &code[..10], &code[10..])).is_err());
    }

    /// `code` with the character at `i` replaced by another one of its kind.
    fn flip(code: &str, i: usize) -> String {
        let mut bytes = code.as_bytes().to_vec();
        bytes[i] = match bytes[i] {
            b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => bytes[i] + 1,
            b'9' => b'0',
            b'z' => b'a',
            b'Z' => b'A',
            b'-' => b'_',
            b'_' => b'-',
            other => other,
        };
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn any_changed_character_fails() {
        let code = key().code(BOOKING, 7);
        for i in 0..code.len() {
            let forged = flip(&code, i);
            if forged != code {
                assert_eq!(key().verify(&forged), Err(InvalidGatePass), "{forged} accepted");
            }
        }
        // Booking id, version and mac, each named.
        let mac_at = code.len() - MAC_CHARS;
        assert!(key().verify(&flip(&code, mac_at + 5)).is_err());
        assert!(key().verify(&flip(&code, 4)).is_err());
        assert!(key().verify(&code.replace(".7.", ".8.")).is_err());
        // Another booking's mac on this booking.
        let other = key().code("0192f3b2-7c1a-7d4e-9a55-3b1c2d4e5f61", 7);
        assert!(key().verify(&format!("{}{}", &code[..mac_at], &other[mac_at..])).is_err());
    }

    #[test]
    fn another_key_fails() {
        let code = key().code(BOOKING, 1);
        assert!(GatePassKey::new(b"another secret, also long enough....").verify(&code).is_err());
        assert!(GatePassKey::new(b"").verify(&code).is_err());
    }

    #[test]
    fn non_canonical_codes_fail() {
        let k = key();
        let code = k.code(BOOKING, 12);
        let mac = &code[code.len() - MAC_CHARS..];
        for bad in [
            format!("CW1.{BOOKING}.012.{mac}"),
            format!("CW1.{BOOKING}.+12.{mac}"),
            format!("cw1.{BOOKING}.12.{mac}"),
            format!("CW2.{BOOKING}.12.{mac}"),
            format!("CW1.{BOOKING}.12.{mac}="),
            format!("CW1.{BOOKING}.12.{mac}."),
            format!("CW1.{BOOKING}.12.{mac}.x"),
            format!("CW1..{BOOKING}.12.{mac}"),
            format!("CW1.{BOOKING}.12"),
            format!("CW1.{}.12.{mac}", BOOKING.to_uppercase()),
        ] {
            assert!(k.verify(&bad).is_err(), "{bad} accepted");
        }
        // Versions below 1 and ids outside the alphabet are never admitted,
        // even when signed.
        for (id, version) in [(BOOKING, 0), (BOOKING, -1), ("", 1), ("a/b", 1), ("a b", 1), ("ü", 1)] {
            assert!(k.verify(&k.code(id, version)).is_err(), "{id} {version} accepted");
        }
        let long_id = "a".repeat(MAX_BOOKING_ID_CHARS + 1);
        assert!(k.verify(&k.code(&long_id, 1)).is_err());
        let id64 = "a".repeat(MAX_BOOKING_ID_CHARS);
        assert!(k.verify(&k.code(&id64, 1)).is_ok());
    }

    #[test]
    fn garbage_and_huge_input_fail() {
        let k = key();
        for bad in ["", " ", "\n", "CW1", "CW1...", "....", "CW1.a.1.", "CW1.a.1.!!!!!!!!!!!!!!!!!!!!!!", "🦀.🦀.🦀.🦀"]
        {
            assert!(k.verify(bad).is_err(), "{bad:?} accepted");
        }
        let code = k.code(BOOKING, 1);
        assert!(k.verify(&format!("{code}{}", " ".repeat(MAX_CODE_LEN))).is_err());
        assert!(k.verify(&"A".repeat(1_000_000)).is_err());
        assert!(k.verify(&".".repeat(10_000)).is_err());
    }

    #[test]
    fn keying_is_plain_hmac_for_short_and_long_secrets() {
        for secret in [&b""[..], b"short", &[7u8; 64], &[9u8; 65], &[1u8; 200]] {
            let ours = GatePassKey::new(secret).keyed("id", "1").finalize().into_bytes();
            let mut reference = <HmacSha256 as Mac>::new_from_slice(secret).unwrap();
            reference.update(b"clearway-gate-pass/v1\nid\n1");
            assert_eq!(ours, reference.finalize().into_bytes());
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", GatePassKey::new(b"hunter2-hunter2"));
        assert_eq!(shown, "GatePassKey(..)");
    }

    #[test]
    fn the_qr_code_is_svg() {
        let svg = qr_svg(&key().code(BOOKING, 1));
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r##"fill="#000""##) && svg.contains(r##"fill="#fff""##));
        let width: u32 = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        assert!(width >= 240, "{width}");
        let blank = qr_svg(&"x".repeat(5000));
        assert!(blank.starts_with("<?xml") && blank.contains("<svg") && blank.ends_with("</svg>"));
    }
}
