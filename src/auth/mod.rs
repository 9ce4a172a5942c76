//! Identity: password hashing, JWT access tokens, opaque refresh tokens,
//! login throttling, and the typed extractors that authorise each role.

pub mod client;
pub mod extract;
pub mod jwt;
pub mod password;
pub mod refresh;
pub mod sessions;
pub mod throttle;

pub use extract::{AnyUser, CompanyAdmin, CompanyUser, Officer, Principal, Public, Supervisor};
