//! The HTTP API, one file per resource. Handlers are thin: parse →
//! authorise → one database call → respond.
//!
//! A route is declared once: by its handler's `#[utoipa::path]` attribute
//! (method, full path, and what it tells integrators). Each module lists its
//! handlers with [`route_table!`]; [`configure`] registers those tables and
//! [`openapi`] documents the same tables, so what is served and what is
//! documented cannot drift apart.

pub mod audit;
pub mod auth;
pub mod bookings;
pub mod bookings_batch;
pub mod calendar;
pub mod closures;
pub mod console;
pub mod declarations;
pub mod enterprises;
pub mod gate;
pub mod health;
pub mod holds;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod problems;
pub mod public_board;
pub mod query;
pub mod reports;
pub mod sites;
pub mod slots;
pub mod users;
pub mod waitlist;
pub mod webhooks;

use actix_web::http::Method;
use actix_web::{web, HttpMessage, HttpRequest, Route};
use tracing_actix_web::RequestId;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;

use crate::auth::Principal;
use crate::db::audit::Actor;

/// Base path of the versioned API.
pub const API_PREFIX: &str = "/api/v1";

/// The application state, as a handler extracts it.
pub type State = web::Data<crate::state::AppState>;

/// What a handler answers: a response, or an error that `error.rs` maps to
/// its status and problem type.
pub type Reply = crate::error::AppResult<actix_web::HttpResponse>;

/// Attaches a handler to a route, e.g. `|r| r.to(list)`.
type Attach = fn(Route) -> Route;

/// Who may call an endpoint, as the document says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// A caller with a bearer access token (the handler's extractor says
    /// which roles).
    Bearer,
}

/// One handler: how to attach it to a route, and its OpenAPI description,
/// which also names the method(s) and the path it answers.
pub struct Endpoint {
    tag: &'static str,
    access: Access,
    doc: fn() -> utoipa::openapi::OpenApi,
    to: Attach,
}

impl Endpoint {
    /// `doc` describes the handler (from its `#[utoipa::path]`), `tag` groups
    /// it in the document, `access` says who may call it and `to` attaches
    /// it. Use [`route_table!`] rather than calling this.
    pub fn new(tag: &'static str, access: Access, doc: fn() -> utoipa::openapi::OpenApi, to: Attach) -> Self {
        Self { tag, access, doc, to }
    }

    /// The handler's part of the OpenAPI document: its path with its
    /// operation, tagged and with its security, and the schemas they use.
    pub fn document(&self) -> utoipa::openapi::OpenApi {
        let mut doc = (self.doc)();
        for item in doc.paths.paths.values_mut() {
            for (_, op) in operations(item) {
                let tags = op.tags.get_or_insert_with(Vec::new);
                if tags.is_empty() {
                    tags.push(self.tag.to_owned());
                }
                if self.access == Access::Bearer && op.security.is_none() {
                    op.security = Some(vec![SecurityRequirement::new(openapi::BEARER, Vec::<String>::new())]);
                }
            }
        }
        doc
    }

    /// Each (method, full path) the handler answers.
    pub fn routes(&self) -> Vec<(Method, String)> {
        let mut doc = (self.doc)();
        doc.paths.paths.iter_mut().flat_map(|(path, item)| operations(item).map(|(m, _)| (m, path.clone()))).collect()
    }
}

/// The operations of a path item, with their methods.
pub fn operations(item: &mut PathItem) -> impl Iterator<Item = (Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::OPTIONS, item.options.as_mut()),
        (Method::HEAD, item.head.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
        (Method::TRACE, item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
}

/// `route_table!("tag", public: a, b; bearer: c, d)` declares the module's
/// `endpoints()`: its handlers, in registration order, each with the method
/// and path of its `#[utoipa::path]` attribute; `"tag"` is their OpenAPI tag,
/// and `bearer` handlers are documented as wanting a token.
macro_rules! route_table {
    ($tag:literal, $($access:ident: $($handler:ident),+);+ $(;)?) => {
        /// This module's routes (see `api::route_table!`).
        pub fn endpoints() -> Vec<$crate::api::Endpoint> {
            vec![$($({
                // utoipa names the description of `$handler` after it; a
                // one-path document is how a declarative macro reaches it.
                #[derive(utoipa::OpenApi)]
                #[openapi(paths($handler))]
                struct Doc;
                $crate::api::Endpoint::new(
                    $tag,
                    $crate::api::route_table!(@access $access),
                    <Doc as utoipa::OpenApi>::openapi,
                    |r| r.to($handler),
                )
            }),+),+]
        }
    };
    (@access public) => { $crate::api::Access::Public };
    (@access bearer) => { $crate::api::Access::Bearer };
}
pub(crate) use route_table;

/// The action endpoints of a resource (`POST /<resource>/{id}/<verb>`), as
/// one table: what they share, then a row per action.
///
/// ```text
/// actions! {
///     id "Booking id", answer(body = BookingView), errors(doc::Restricted, doc::NotFound);
///     body OptionalJson<Body>, request_body(...);   // optional: the rows' default
///     /// Summary of the action.
///     handler: Caller, Body => run(value);          // `, Body` only to differ from the default
///     post "/api/v1/bookings/{id}/verb" as "operation_id", "description of the 200 answer"
///     request_body(...) responses(...);   // both optional
/// }
/// ```
///
/// Each row becomes a handler with its `#[utoipa::path]` (the `{id}`
/// parameter, the 200 answer, the shared errors, then the row's own answers,
/// which win for the same status; its own `request_body`, else the table's).
/// The handler only extracts: every action of a resource runs
/// `run(state, caller, id, body[, value])`.
macro_rules! actions {
    (
        id $id:tt, answer $answer:tt, errors $errors:tt;
        body $body:ty, request_body $request:tt;
        $($rows:tt)+
    ) => {
        $crate::api::actions!(@rows [$id, $answer, $errors] [$body] [request_body $request] $($rows)+);
    };
    (id $id:tt, answer $answer:tt, errors $errors:tt; $($rows:tt)+) => {
        $crate::api::actions!(@rows [$id, $answer, $errors] [] [] $($rows)+);
    };
    (
        @rows $shared:tt $body:tt $request:tt
        $(
            $(#[$meta:meta])*
            $name:ident: $caller:ty $(, $own_body:ty)? => $run:ident $(($value:expr))?;
            post $path:tt as $operation_id:tt, $ok:tt
            $(request_body $own_request:tt)?
            $(responses $own:tt)?;
        )+
    ) => {$(
        $crate::api::actions!(@body [$($own_body)?] $body
            [$(request_body $own_request)?] $request
            $shared, $($own)?;
            [$(#[$meta])*]
            [post, path = $path, operation_id = $operation_id,]
            $name: $caller => $run $(($value))?; $ok
        );
    )+};
    // The row's own body type, else the table's.
    (@body [$body:ty] $default:tt $($rest:tt)*) => {
        $crate::api::actions!(@request [$body] $($rest)*);
    };
    (@body [] [$default:ty] $($rest:tt)*) => {
        $crate::api::actions!(@request [$default] $($rest)*);
    };
    // The row's own request body, else the table's (if any).
    (@request $body:tt [$($own:tt)+] $default:tt $($rest:tt)*) => {
        $crate::api::actions!(@row $body [$($own)+] $($rest)*);
    };
    (@request $body:tt [] $default:tt $($rest:tt)*) => {
        $crate::api::actions!(@row $body $default $($rest)*);
    };
    // One handler: the shared answers and the row's own go into the
    // attribute's `responses`.
    (@row [$body:ty] [$(request_body $request:tt)?] [$id:tt, ($($answer:tt)*), ($($errors:tt)*)], $(($($own:tt)*))?;
        [$(#[$meta:meta])*]
        [$($attr:tt)*]
        $name:ident: $caller:ty => $run:ident $(($value:expr))?; $ok:tt
    ) => {
        $(#[$meta])*
        #[utoipa::path(
            $($attr)*
            params(("id" = String, Path, description = $id)),
            $(request_body $request,)?
            responses((status = 200, description = $ok, $($answer)*), $($errors)* $(, $($own)*)?),
        )]
        async fn $name(
            state: $crate::api::State,
            who: $caller,
            path: actix_web::web::Path<String>,
            body: $body,
        ) -> $crate::api::Reply {
            $run(state, who, path.into_inner(), body $(, $value)?).await
        }
    };
}
pub(crate) use actions;

/// `from_row!(row => Self { a, b; c: value })` builds a view from a row:
/// `a` and `b` are moved from the row's fields of the same name, `c` is
/// given. The given fields come first, so their values may still read the
/// whole row.
macro_rules! from_row {
    ($row:ident => $view:ident { $($field:ident),+ $(; $($other:ident: $value:expr),+)? $(,)? }) => {
        $view { $($($other: $value,)+)? $($field: $row.$field),+ }
    };
}
pub(crate) use from_row;

/// A module's route table.
type Endpoints = fn() -> Vec<Endpoint>;

/// Every module's table, in registration (and document) order.
const TABLES: &[Endpoints] = &[
    health::endpoints,
    metrics::endpoints,
    openapi::endpoints,
    auth::endpoints,
    enterprises::endpoints,
    users::endpoints,
    sites::endpoints,
    slots::endpoints,
    closures::endpoints,
    declarations::endpoints,
    // Before `bookings`: `/bookings/batch` must be matched before `/bookings/{id}`.
    bookings_batch::endpoints,
    bookings::endpoints,
    holds::endpoints,
    waitlist::endpoints,
    gate::endpoints,
    webhooks::endpoints,
    audit::endpoints,
    reports::endpoints,
    public_board::endpoints,
    calendar::endpoints,
];

/// Every endpoint, in registration order.
pub fn endpoints() -> Vec<Endpoint> {
    TABLES.iter().flat_map(|table| table()).collect()
}

/// Registers every route, and the interactive docs.
pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg);
    openapi::configure_ui(cfg);
    console::configure(cfg);
    problems::configure(cfg);
}

/// Every (method, full path) that [`configure`] registers, paths written as
/// actix patterns (`/api/v1/slots/{id}`), which is also OpenAPI's form. The
/// Swagger UI pages under `/docs` and the console are not API routes and are
/// not listed.
pub fn routes() -> Vec<(Method, String)> {
    endpoints().iter().flat_map(Endpoint::routes).collect()
}

/// Registers the endpoints as one resource per path (so that a known path
/// with a wrong method answers 405, not 404), in declaration order.
fn register(cfg: &mut web::ServiceConfig) {
    let mut by_path: Vec<(String, Vec<(Method, Attach)>)> = Vec::new();
    for endpoint in endpoints() {
        for (method, path) in endpoint.routes() {
            match by_path.iter_mut().find(|(p, _)| *p == path) {
                Some((_, list)) => list.push((method, endpoint.to)),
                None => by_path.push((path, vec![(method, endpoint.to)])),
            }
        }
    }
    for (path, handlers) in by_path {
        let resource =
            handlers.into_iter().fold(web::resource(path), |res, (method, to)| res.route(to(web::method(method))));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_handler_answers_one_route_and_api_routes_are_versioned() {
        let unversioned = ["/health/live", "/health/ready", "/metrics", openapi::OPENAPI_JSON_PATH];
        let mut seen = Vec::new();
        for endpoint in endpoints() {
            let routes = endpoint.routes();
            assert_eq!(routes.len(), 1, "{routes:?}");
            let (method, path) = routes.into_iter().next().unwrap_or((Method::GET, String::new()));
            assert!(path.starts_with(&format!("{API_PREFIX}/")) || unversioned.contains(&path.as_str()), "{path}");
            assert!(!seen.contains(&(method.clone(), path.clone())), "{method} {path} twice");
            seen.push((method, path));
        }
    }

    #[test]
    fn the_document_tags_every_operation_and_secures_the_bearer_ones() {
        for endpoint in endpoints() {
            let mut doc = endpoint.document();
            for item in doc.paths.paths.values_mut() {
                for (method, op) in operations(item) {
                    let id = op.operation_id.clone().unwrap_or_default();
                    assert_eq!(op.tags.as_deref(), Some(&[endpoint.tag.to_owned()][..]), "{method} {id}");
                    assert_eq!(op.security.is_some(), endpoint.access == Access::Bearer, "{method} {id}");
                }
            }
        }
    }
}
