//! Pure rules and value types of the customs domain: no diesel, no actix.

pub mod audit;
pub mod identity;
pub mod registration_code;
