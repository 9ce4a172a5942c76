//! JSON bodies the way the server reads them: actix-web's JSON extractor
//! gives a `serde_json::Value`, then `clearway::api::json::parse`
//! (serde_path_to_error, which builds the 400/422 error naming the field)
//! turns it into the body type, then the body is validated.
//!
//! Body types: `DeclarationInput` (POST /declarations), `DeclarationPatch`
//! (PATCH /declarations/{id}) and `RegisterRequest` (POST /auth/register,
//! no token needed) with `validate_account`. `declaration_json` fuzzes the
//! domain types straight from bytes; this target adds the API's error path.
#![no_main]

use clearway::api::auth::{validate_account, RegisterRequest};
use clearway::api::json::parse;
use clearway::domain::declaration_form::{validate, DeclarationInput, DeclarationPatch};
use clearway::domain::registration_code::parse_registration_code;
use clearway::error::FieldErrors;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    match parse::<DeclarationInput>(value.clone()) {
        Ok(input) => {
            let _ = validate(&input);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match parse::<DeclarationPatch>(value.clone()) {
        Ok(patch) => {
            let _ = validate(&patch.apply(DeclarationInput::default()));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match parse::<RegisterRequest>(value) {
        Ok(body) => {
            let mut errors = FieldErrors::new();
            let _ = validate_account(&body.admin, "admin", &mut errors);
            let _ = parse_registration_code(&body.enterprise.country, &body.enterprise.registration_code);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
