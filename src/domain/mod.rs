//! Pure rules and value types of the customs domain: no database, no HTTP.

pub mod audit;
pub mod booking_policy;
pub mod closure;
pub mod declaration;
pub mod declaration_form;
pub mod display_zones;
pub mod fields;
pub mod gate;
pub mod gate_pass;
pub mod gather;
pub mod goods;
pub mod hold;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod reason;
pub mod registration_code;
pub mod report;
pub mod reserve;
pub mod schedule;
pub mod site_policy;
pub mod slot;
pub mod vehicle;
pub mod webhook;
pub mod webhook_secret;
