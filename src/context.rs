//! What every operation is told about the request that asks for it: who
//! is calling, the request id that ties its logs and audit events together,
//! and the one instant it happens at. Built once per request by the
//! extractors in `auth`, passed to the services.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::auth::Principal;
use crate::db::audit::Actor;
use crate::domain::ids::{EnterpriseId, UserId};
use crate::error::AppError;

/// A signed-in caller's request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Who is calling (from a verified access token).
    pub caller: Principal,
    /// The request's id (also in the `X-Request-Id` answer header and the logs).
    pub request_id: Option<String>,
    /// When the request happens, read once from the application clock.
    pub now: DateTime<Utc>,
}

impl RequestContext {
    /// The audit actor: who, with which role, in which request.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.caller.user_id.clone()),
            role: Some(self.caller.role.as_str().to_owned()),
            request_id: self.request_id.clone(),
        }
    }

    /// The request's instant as stored.
    pub fn stamp(&self) -> NaiveDateTime {
        self.now.naive_utc()
    }

    /// The caller's enterprise, for company roles (403 for customs).
    pub fn company(&self) -> Result<EnterpriseId, AppError> {
        self.caller.enterprise().map(EnterpriseId::new)
    }

    /// The caller's user id.
    pub fn user_id(&self) -> UserId {
        UserId::new(self.caller.user_id.clone())
    }
}

impl std::ops::Deref for RequestContext {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.caller
    }
}

/// A request without a token (registration, sign-in, token refresh).
#[derive(Debug, Clone)]
pub struct PublicRequest {
    /// The request's id.
    pub request_id: Option<String>,
    /// When the request happens, read once from the application clock.
    pub now: DateTime<Utc>,
}

impl PublicRequest {
    /// The audit actor of an anonymous request.
    pub fn actor(&self) -> Actor {
        Actor { user_id: None, role: None, request_id: self.request_id.clone() }
    }

    /// The request's instant as stored.
    pub fn stamp(&self) -> NaiveDateTime {
        self.now.naive_utc()
    }
}
