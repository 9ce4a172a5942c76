//! Typed extractors: a handler names the role it needs in its signature
//! and receives the request's context (caller, request id, one reading of
//! the clock). No token, or a token whose session ended → 401; a valid
//! token of another role → 403. The caller's role and enterprise are the
//! user's as stored (through the session cache), not the token's.

use std::future::{ready, Ready};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use tracing_actix_web::RequestId;

use crate::context::{PublicRequest, RequestContext};
use crate::domain::declaration::Party;
use crate::domain::identity::Role;
use crate::error::AppError;
use crate::state::AppState;

/// Who is calling, from a verified access token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub role: Role,
    pub enterprise_id: Option<String>,
}

impl Principal {
    /// The side of the border the caller acts for.
    pub fn party(&self) -> Party {
        if self.role.is_company() {
            Party::Company
        } else {
            Party::Customs
        }
    }

    /// The caller's enterprise, for company roles.
    pub fn enterprise(&self) -> Result<&str, AppError> {
        self.enterprise_id.as_deref().ok_or_else(|| AppError::forbidden("this action is for company users"))
    }
}

fn app_state(req: &HttpRequest) -> Result<&web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>().ok_or_else(|| AppError::internal("application state missing"))
}

fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.to_string())
}

/// The context of a signed-in request.
async fn context(
    state: web::Data<AppState>,
    token: Result<String, AppError>,
    request_id: Option<String>,
) -> Result<RequestContext, AppError> {
    let caller = authenticate(&state, &token?).await?;
    Ok(RequestContext { caller, request_id, now: state.clock.now() })
}

/// The bearer token of a request, or why there is none.
fn bearer(req: &HttpRequest) -> Result<String, AppError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or(AppError::Unauthorized("missing bearer token"))?;
    let value = value.to_str().map_err(|_| AppError::Unauthorized("malformed Authorization header"))?;
    let (scheme, token) = value.split_once(' ').ok_or(AppError::Unauthorized("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AppError::Unauthorized("expected a Bearer token"));
    }
    Ok(token.trim().to_owned())
}

async fn authenticate(state: &AppState, token: &str) -> Result<Principal, AppError> {
    let claims = state.jwt.verify(token).map_err(|e| {
        tracing::info!(reason = %e, "access token refused");
        AppError::Unauthorized("invalid or expired token")
    })?;
    let sid = claims.sid.as_deref().ok_or(AppError::Unauthorized("invalid or expired token"))?;
    state.sessions.principal(&state.db, sid, &claims.sub).await
}

/// The session id of the request's (already authenticated) access token.
pub fn session_id(req: &HttpRequest) -> Option<String> {
    let state = app_state(req).ok()?;
    state.jwt.verify(&bearer(req).ok()?).ok()?.sid
}

/// Set on a request while its caller is being authenticated. actix polls a
/// handler's extractors side by side and answers the first error any of
/// them returns: a body that fails to parse while the session check waits
/// for the database would be answered 422 before the caller's 401 or 403.
/// A body or query extractor therefore waits for [`caller_settled`] before
/// it answers an error: whoever may not call the route learns nothing of
/// its validation, and the answer does not depend on timing.
#[derive(Clone, Default)]
struct CallerGate(Arc<Mutex<GateState>>);

#[derive(Default)]
struct GateState {
    settled: bool,
    waiting: Vec<Waker>,
}

impl CallerGate {
    fn settle(&self) {
        let waiting = match self.0.lock() {
            Ok(mut g) => {
                g.settled = true;
                std::mem::take(&mut g.waiting)
            }
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                g.settled = true;
                std::mem::take(&mut g.waiting)
            }
        };
        waiting.into_iter().for_each(Waker::wake);
    }
}

/// Settles the gate when the authentication future ends or is dropped
/// (another extractor's error ends the request first).
struct SettleOnDrop(CallerGate);

impl Drop for SettleOnDrop {
    fn drop(&mut self) {
        self.0.settle();
    }
}

/// Waits until the caller of `req` is authenticated or refused (at once
/// for a route without an authenticated caller).
pub async fn caller_settled(req: &HttpRequest) {
    let Some(gate) = req.extensions().get::<CallerGate>().cloned() else { return };
    std::future::poll_fn(|cx| {
        let mut g = match gate.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if g.settled {
            Poll::Ready(())
        } else {
            g.waiting.push(cx.waker().clone());
            Poll::Pending
        }
    })
    .await
}

macro_rules! role_extractor {
    ($(#[$m:meta])* $name:ident, $allowed:expr, $what:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone)]
        pub struct $name(pub RequestContext);

        impl From<$name> for RequestContext {
            fn from(caller: $name) -> RequestContext {
                caller.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = RequestContext;
            fn deref(&self) -> &RequestContext {
                &self.0
            }
        }

        impl FromRequest for $name {
            type Error = AppError;
            type Future = LocalBoxFuture<'static, Result<Self, AppError>>;
            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let allowed: fn(Role) -> bool = $allowed;
                let state = app_state(req).cloned();
                let token = bearer(req);
                let request_id = request_id(req);
                let gate = CallerGate::default();
                req.extensions_mut().insert(gate.clone());
                Box::pin(async move {
                    let _settle = SettleOnDrop(gate);
                    let ctx = context(state?, token, request_id).await?;
                    if allowed(ctx.caller.role) {
                        Ok($name(ctx))
                    } else {
                        Err(AppError::forbidden(concat!("this action is for ", $what)))
                    }
                })
            }
        }
    };
}

role_extractor!(
    /// Any signed-in user.
    AnyUser, |_| true, "signed-in users"
);
role_extractor!(
    /// A company user (admin or clerk) of one enterprise.
    CompanyUser, Role::is_company, "company users"
);
role_extractor!(
    /// A company admin: manages the enterprise's users and webhooks.
    CompanyAdmin, |r| r == Role::CompanyAdmin, "company admins"
);
role_extractor!(
    /// A customs officer or supervisor.
    Officer, Role::is_customs, "customs officers"
);
role_extractor!(
    /// A customs supervisor: sites, schedules, capacity and officer accounts.
    Supervisor, |r| r == Role::Supervisor, "customs supervisors"
);

impl CompanyUser {
    /// The caller's enterprise id (always present for company roles).
    pub fn enterprise_id(&self) -> &str {
        self.0.caller.enterprise_id.as_deref().unwrap_or_default()
    }
}

impl CompanyAdmin {
    /// The caller's enterprise id (always present for company roles).
    pub fn enterprise_id(&self) -> &str {
        self.0.caller.enterprise_id.as_deref().unwrap_or_default()
    }
}

/// A request without a token: its id and its instant.
#[derive(Debug, Clone)]
pub struct Public(pub PublicRequest);

impl std::ops::Deref for Public {
    type Target = PublicRequest;
    fn deref(&self) -> &PublicRequest {
        &self.0
    }
}

impl FromRequest for Public {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(app_state(req).map(|state| Public(PublicRequest { request_id: request_id(req), now: state.clock.now() })))
    }
}
