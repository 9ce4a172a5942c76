//! `/auth/*` and `/me`: registration, sign-in, token rotation, sign-out.

use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enterprises::EnterpriseView;
use super::json::ApiJson;
use super::openapi as doc;
use super::users::UserView;
use super::{Reply, State};
use crate::auth::{AnyUser, Public};
use crate::domain::identity::{check_password, parse_country, Email, Role};
use crate::domain::registration_code::parse_registration_code;
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services::identity::{self, Registration, Rotation};
use crate::state::AppState;

super::route_table!("auth", public: register, login, refresh; bearer: logout, me);

/// A company registers itself: the enterprise and its first `company_admin`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub enterprise: RegisterEnterprise,
    pub admin: NewAccount,
}

/// The enterprise being registered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterEnterprise {
    /// Legal name, 1 to 300 characters.
    pub name: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "CN")]
    pub country: String,
    /// For CN a Unified Social Credit Code (18 characters, GB 32100-2015 check
    /// character); otherwise an EORI-shaped code. Unique.
    #[schema(example = "91350100M000100Y43")]
    pub registration_code: String,
}

/// Email, password and name of a new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    #[schema(format = Email)]
    pub email: String,
    /// 12 to 256 characters, not too common, not the email or name.
    #[schema(format = Password, min_length = 12, max_length = 256)]
    pub password: String,
    /// 1 to 200 characters.
    pub display_name: String,
}

/// Checks a new account's fields; `prefix` is its place in the body.
pub fn validate_account(acc: &NewAccount, prefix: &str, errors: &mut FieldErrors) -> Option<String> {
    let email = match Email::parse(&acc.email) {
        Ok(e) => Some(e.into_inner()),
        Err(m) => {
            errors.add(format!("{prefix}email"), "email", m);
            None
        }
    };
    let name = acc.display_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.add(format!("{prefix}display_name"), "length", "display_name must have 1 to 200 characters");
    }
    if let Err(m) = check_password(&acc.password, &acc.email, &acc.display_name) {
        errors.add(format!("{prefix}password"), "weak_password", m);
    }
    email
}

/// The registered enterprise (`pending` until an officer verifies it) and its admin.
#[derive(Debug, Serialize, ToSchema)]
struct RegisterResponse {
    enterprise: EnterpriseView,
    user: UserView,
}

/// Register a company: its enterprise and first company_admin user.
///
/// The enterprise stays `pending` until an officer verifies it.
#[utoipa::path(
    post, path = "/api/v1/auth/register", operation_id = "register",
    request_body(
        content = RegisterRequest,
        example = json!({
            "enterprise": {"name": "Kashgar Silk Road Trading Co., Ltd.", "country": "CN",
                "registration_code": "91350100M000100Y43"},
            "admin": {"email": "admin@kashgar-trading.example", "password": "Correct-Horse-Battery-9271",
                "display_name": "Aygul Tursun"}
        }),
    ),
    responses(
        (status = 201, description = "Registered", body = RegisterResponse),
        doc::JsonBody,
        (status = 409, description = "Registration code or email already taken", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn register(request: Public, state: State, ApiJson(body): ApiJson<RegisterRequest>) -> Reply {
    let mut errors = FieldErrors::new();
    let legal_name = body.enterprise.name.trim().to_owned();
    if legal_name.is_empty() || legal_name.chars().count() > 300 {
        errors.add("enterprise.name", "length", "name must have 1 to 300 characters");
    }
    let country =
        parse_country(&body.enterprise.country).map_err(|m| errors.add("enterprise.country", "country", m)).ok();
    let code = country.as_deref().and_then(|c| {
        parse_registration_code(c, &body.enterprise.registration_code)
            .map_err(|e| errors.add("enterprise.registration_code", e.code(), e.message()))
            .ok()
    });
    let email = validate_account(&body.admin, "admin.", &mut errors);
    errors.into_result()?;
    let (Some(country), Some(registration_code), Some(email)) = (country, code, email) else {
        return Err(AppError::internal("validated registration lost a field"));
    };
    let password_hash = state.hasher.hash(body.admin.password).await?;
    let reg = Registration {
        legal_name,
        country,
        registration_code,
        email,
        display_name: body.admin.display_name.trim().to_owned(),
        password_hash,
    };
    let (actor, now) = (request.actor(), request.stamp());
    let (enterprise, user) = state.db.write(move |conn| identity::register(conn, &reg, &actor, now)).await?;
    Ok(HttpResponse::Created().json(RegisterResponse { enterprise: enterprise.into(), user: user.into() }))
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    #[schema(format = Email)]
    email: String,
    #[schema(format = Password)]
    password: String,
}

/// Answer of login and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT to send as `Authorization: Bearer <access_token>`.
    access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Lifetime of the access token in seconds.
    #[schema(example = 900)]
    expires_in: i64,
    /// Opaque; exchange it at `/auth/refresh` (rotated on use) or revoke it at `/auth/logout`.
    refresh_token: String,
}

pub(super) fn client_ip(req: &HttpRequest) -> String {
    // The peer address, not X-Forwarded-For: a client could forge that to
    // escape the per-address limit. Behind a proxy, configure the proxy to
    // rate-limit too.
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// Sign in: exchange email and password for an access and a refresh token.
#[utoipa::path(
    post, path = "/api/v1/auth/login", operation_id = "login",
    request_body(
        content = LoginRequest,
        example = json!({"email": "admin@kashgar-trading.example", "password": "Correct-Horse-Battery-9271"}),
    ),
    responses(
        (status = 200, description = "Signed in", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        doc::JsonBody, doc::TooManyRequests,
        (status = 401, description = "Wrong email or password", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn login(req: HttpRequest, state: State, ApiJson(body): ApiJson<LoginRequest>) -> Reply {
    let email = body.email.trim().to_lowercase();
    let keys = [format!("account:{email}"), format!("ip:{}", client_ip(&req))];
    if let Some(retry_after_secs) = state.login_throttle.locked(&keys) {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    if body.password.chars().count() > crate::domain::identity::MAX_PASSWORD_CHARS {
        return Err(AppError::Unauthorized("wrong email or password"));
    }
    let lookup = email.clone();
    let user = state.db.read(move |conn| crate::db::users::find_by_email(conn, &lookup)).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_ok = state.hasher.verify(hash, body.password).await?;
    let user = match user {
        Some(u) if password_ok && u.active => u,
        _ => {
            if let Some(retry_after_secs) = state.login_throttle.record_failure(&keys) {
                return Err(AppError::TooManyRequests { retry_after_secs });
            }
            return Err(AppError::Unauthorized("wrong email or password"));
        }
    };
    let ttl_days = state.settings.auth.refresh_token_ttl_days;
    let user_id = user.id.clone();
    let refresh_token = state
        .db
        .write(move |conn| identity::issue_refresh(conn, &user_id, &crate::db::new_id(), ttl_days, crate::db::now()))
        .await?;
    token_response(&state, &user, refresh_token)
}

fn token_response(state: &AppState, user: &crate::db::users::UserRow, refresh_token: String) -> Reply {
    let access_token = state.jwt.issue(&user.id, user.role, user.enterprise_id.as_deref())?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.jwt.ttl_secs(),
        refresh_token,
    }))
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

/// Rotate a refresh token: a new token pair; the old refresh token is used up.
///
/// Reusing a used refresh token revokes that whole session.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", operation_id = "refresh",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        doc::JsonBody,
        (status = 401, description = "Used, revoked, expired or unknown refresh token", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn refresh(state: State, ApiJson(body): ApiJson<RefreshRequest>) -> Reply {
    let ttl_days = state.settings.auth.refresh_token_ttl_days;
    if body.refresh_token.len() > 200 {
        return Err(AppError::Unauthorized("invalid refresh token"));
    }
    let outcome = state
        .db
        .write(move |conn| identity::rotate_refresh(conn, &body.refresh_token, ttl_days, crate::db::now()))
        .await?;
    match outcome {
        Rotation::Rotated { user, refresh_token } => token_response(&state, &user, refresh_token),
        Rotation::Refused | Rotation::Reused => Err(AppError::Unauthorized("invalid refresh token")),
    }
}

/// Sign out: revoke a refresh token of the signed-in user.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", operation_id = "logout",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out"), doc::JsonBody, doc::Unauthorized),
)]
async fn logout(state: State, who: AnyUser, ApiJson(body): ApiJson<RefreshRequest>) -> Reply {
    let user_id = who.user_id.clone();
    state.db.write(move |conn| identity::logout(conn, &user_id, &body.refresh_token, crate::db::now())).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
struct MeResponse {
    id: String,
    email: String,
    role: Role,
    /// The user's enterprise; `null` for customs accounts.
    enterprise_id: Option<String>,
    display_name: String,
}

/// The signed-in user.
#[utoipa::path(
    get, path = "/api/v1/me", operation_id = "get_me",
    responses((status = 200, description = "The signed-in user", body = MeResponse), doc::Unauthorized),
)]
async fn me(state: State, who: AnyUser) -> Reply {
    let id = who.user_id.clone();
    let user = state
        .db
        .read(move |conn| crate::db::users::find(conn, &id))
        .await?
        .filter(|u| u.active)
        .ok_or(AppError::Unauthorized("the account no longer exists or is deactivated"))?;
    Ok(HttpResponse::Ok().json(MeResponse {
        id: user.id,
        email: user.email,
        role: user.role,
        enterprise_id: user.enterprise_id,
        display_name: user.display_name,
    }))
}
