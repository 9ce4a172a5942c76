//! Enterprise and account registration fields: registration code (USCC for
//! CN, EORI-shaped otherwise), email, password policy, country.
//!
//! Input layout: byte 0 picks the country (`CN`, `DE`, or bytes 1..3 taken
//! as the country); the rest is the code. The rest, split at `\n`, also
//! gives (password, email, display name) for the password policy.
#![no_main]

use clearway::domain::identity::{check_password, parse_country, Email};
use clearway::domain::registration_code::{parse_registration_code, parse_uscc, uscc_check_character};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let (country, rest) = match selector % 3 {
        0 => ("CN", rest),
        1 => ("DE", rest),
        _ if rest.len() >= 2 => match std::str::from_utf8(&rest[..2]) {
            Ok(c) => (c, &rest[2..]),
            Err(_) => return,
        },
        _ => return,
    };
    let Ok(s) = std::str::from_utf8(rest) else { return };

    if let Ok(code) = parse_registration_code(country, s) {
        assert_eq!(code, s.trim());
        if country == "CN" {
            assert_eq!(parse_uscc(&code), Ok(()));
        }
    }
    if parse_uscc(s).is_ok() {
        assert_eq!(s.len(), 18);
        assert_eq!(uscc_check_character(&s[..17]), s[17..].chars().next());
        assert!(parse_registration_code("CN", s).is_ok());
    }
    let _ = uscc_check_character(s);

    if let Ok(country) = parse_country(s) {
        assert_eq!(country.len(), 2);
    }

    if let Ok(email) = Email::parse(s) {
        assert!(email.as_str().len() <= 254);
        assert_eq!(Email::parse(email.as_str()).as_ref(), Ok(&email), "normalisation is not idempotent");
    }

    let mut parts = s.splitn(3, '\n');
    let password = parts.next().unwrap_or("");
    let email = parts.next().unwrap_or("");
    let name = parts.next().unwrap_or("");
    let _ = check_password(password, email, name);
    let _ = check_password(s, s, s);
});
