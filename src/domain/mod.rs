//! Pure rules and value types of the customs domain: no diesel, no actix.

pub mod audit;
pub mod booking_policy;
pub mod declaration;
pub mod goods;
pub mod identity;
pub mod registration_code;
pub mod schedule;
