//! The HTTP API, one file per resource. Handlers are thin: parse →
//! authorise → one database call → respond.
//!
//! Every route is declared once, in its module's `endpoints()` table;
//! [`configure`] registers exactly those tables and [`routes`] lists them,
//! so the OpenAPI document (see [`openapi`]) can be checked against what the
//! server really serves.

pub mod audit;
pub mod auth;
pub mod bookings;
pub mod console;
pub mod declarations;
pub mod enterprises;
pub mod health;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod problems;
pub mod sites;
pub mod slots;
pub mod users;
pub mod webhooks;

use actix_web::http::Method;
use actix_web::{web, HttpMessage, HttpRequest, Route};
use tracing_actix_web::RequestId;

use crate::auth::Principal;
use crate::db::audit::Actor;

/// Base path of the versioned API.
pub const API_PREFIX: &str = "/api/v1";

/// One route: its method, its path (relative to where its module is
/// mounted) and the handler it runs.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    to: fn(Route) -> Route,
}

impl Endpoint {
    /// `to` attaches the handler, e.g. `|r| r.to(list)`; the method guard is
    /// added from `method`.
    pub fn new(method: Method, path: &'static str, to: fn(Route) -> Route) -> Self {
        Self { method, path, to }
    }
}

/// A module's route table.
type Endpoints = fn() -> Vec<Endpoint>;

/// Tables mounted at the root (no token needed).
const ROOT: &[Endpoints] = &[health::endpoints, metrics::endpoints, openapi::endpoints];

/// Tables mounted under [`API_PREFIX`].
const V1: &[Endpoints] = &[
    auth::endpoints,
    enterprises::endpoints,
    users::endpoints,
    sites::endpoints,
    slots::endpoints,
    declarations::endpoints,
    bookings::endpoints,
    webhooks::endpoints,
    audit::endpoints,
];

/// Registers every route, and the interactive docs.
pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg, ROOT);
    cfg.service(web::scope(API_PREFIX).configure(|cfg| register(cfg, V1)));
    openapi::configure_ui(cfg);
    console::configure(cfg);
    problems::configure(cfg);
}

/// Every (method, full path) that [`configure`] registers, paths written as
/// actix patterns (`/api/v1/slots/{id}`), which is also OpenAPI's form. The
/// Swagger UI pages under `/docs` are not API routes and are not listed.
pub fn routes() -> Vec<(Method, String)> {
    let root = ROOT.iter().flat_map(|table| table()).map(|e| (e.method, e.path.to_owned()));
    let v1 = V1.iter().flat_map(|table| table()).map(|e| (e.method, format!("{API_PREFIX}{}", e.path)));
    root.chain(v1).collect()
}

/// Registers tables as one resource per path (so that a known path with a
/// wrong method answers 405, not 404), in declaration order.
fn register(cfg: &mut web::ServiceConfig, tables: &[Endpoints]) {
    let mut by_path: Vec<(&'static str, Vec<Endpoint>)> = Vec::new();
    for endpoint in tables.iter().flat_map(|table| table()) {
        match by_path.iter_mut().find(|(path, _)| *path == endpoint.path) {
            Some((_, list)) => list.push(endpoint),
            None => by_path.push((endpoint.path, vec![endpoint])),
        }
    }
    for (path, endpoints) in by_path {
        let resource =
            endpoints.into_iter().fold(web::resource(path), |res, e| res.route((e.to)(web::method(e.method))));
        cfg.service(resource);
    }
}

/// The audit actor for a request: who, with which role, in which request.
pub fn actor(req: &HttpRequest, who: Option<&Principal>) -> Actor {
    Actor {
        user_id: who.map(|p| p.user_id.clone()),
        role: who.map(|p| p.role.as_str().to_owned()),
        request_id: req.extensions().get::<RequestId>().map(|r| r.to_string()),
    }
}
