//! The bearer-token path: `JwtKeys::verify` on
//!   1. arbitrary strings,
//!   2. a freshly issued token with fuzz bytes spliced into one of its three
//!      segments (header, claims, signature),
//!   3. a correctly signed HS256 token (the test profile's secret and kid)
//!      whose claims are the fuzz input, so that the checks *behind* the
//!      signature (required claims, iss/aud, exp/nbf, iat in the future,
//!      role, ent) see arbitrary values.
//! A token that verifies must carry exactly what the keys demand.
#![no_main]

use std::sync::OnceLock;

use clearway::auth::jwt::JwtKeys;
use clearway::config::{Profile, Settings};
use clearway::domain::identity::Role;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

struct Fixture {
    keys: JwtKeys,
    issuer: String,
    audience: String,
    kid: String,
    signer: EncodingKey,
    issued: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let settings = Settings::load_profile(Profile::Test).expect("test profile loads");
        let keys = JwtKeys::from_settings(&settings.auth).expect("keys from the test profile");
        let secret = settings.auth.jwt_secret.as_ref().expect("test profile has a secret");
        let issued = vec![
            keys.issue(
                "0192f3b2-7c1a-7d4e-9a55-3b1c2d4e5f60",
                Role::CompanyAdmin,
                Some("0192f3b2-0000-7000-8000-000000000001"),
            )
            .expect("issue company token"),
            keys.issue("0192f3b2-7c1a-7d4e-9a55-3b1c2d4e5f61", Role::Officer, None).expect("issue officer token"),
        ];
        Fixture {
            issuer: settings.auth.issuer.clone(),
            audience: settings.auth.audience.clone(),
            kid: settings.auth.jwt_key_id.clone(),
            signer: EncodingKey::from_secret(secret.expose_secret().as_bytes()).expect("HS256 signing key"),
            keys,
            issued,
        }
    })
}

fn verify(f: &Fixture, token: &str) {
    if let Ok(claims) = f.keys.verify(token) {
        assert_eq!(claims.iss, f.issuer);
        assert_eq!(claims.aud, f.audience);
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let text = String::from_utf8_lossy(data);

    // 1. Anything at all.
    verify(f, &text);

    // 2. A real token with one segment replaced, prefixed or suffixed.
    if let Some((&selector, rest)) = data.split_first() {
        let fuzz = String::from_utf8_lossy(rest);
        let token = &f.issued[usize::from(selector & 1)];
        let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
        let which = usize::from(selector >> 1) % 3;
        match (selector >> 3) % 3 {
            0 => segments[which] = fuzz.into_owned(),
            1 => segments[which].push_str(&fuzz),
            _ => segments[which].insert_str(0, &fuzz),
        }
        verify(f, &segments.join("."));
    }

    // 3. Validly signed, arbitrary claims (only JSON objects can be signed as claims).
    if let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice::<serde_json::Value>(data) {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(f.kid.clone());
        if let Ok(token) = encode(&header, &claims, &f.signer) {
            verify(f, &token);
        }
    }
});
