//! The HTTP API, one file per resource. Handlers are thin: parse →
//! authorise → one database call → respond.

pub mod audit;
pub mod auth;
pub mod bookings;
pub mod declarations;
pub mod enterprises;
pub mod health;
pub mod json;
pub mod pagination;
pub mod sites;
pub mod slots;
pub mod users;

use actix_web::{web, HttpMessage, HttpRequest};
use tracing_actix_web::RequestId;

use crate::auth::Principal;
use crate::db::audit::Actor;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure).service(
        web::scope("/api/v1")
            .configure(auth::configure)
            .configure(enterprises::configure)
            .configure(users::configure)
            .configure(sites::configure)
            .configure(slots::configure)
            .configure(declarations::configure)
            .configure(bookings::configure)
            .configure(audit::configure),
    );
}

/// The audit actor for a request: who, with which role, in which request.
pub fn actor(req: &HttpRequest, who: Option<&Principal>) -> Actor {
    Actor {
        user_id: who.map(|p| p.user_id.clone()),
        role: who.map(|p| p.role.as_str().to_owned()),
        request_id: req.extensions().get::<RequestId>().map(|r| r.to_string()),
    }
}
