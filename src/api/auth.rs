//! `/auth/*` and `/me`: registration, sign-in, token rotation, sign-out.

use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enterprises::EnterpriseView;
use super::json::ApiJson;
use super::openapi as doc;
use super::users::UserView;
use super::{Reply, State};
use crate::auth::client::client_addr;
use crate::auth::throttle::{now_us, Charge};
use crate::auth::{AnyUser, Public};
use crate::domain::identity::{check_password, parse_country, Email, Role, MAX_PASSWORD_CHARS};
use crate::domain::registration_code::parse_registration_code;
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services::identity::{self, Registration, Rotation, SessionLifetime};
use crate::state::AppState;

super::route_table!("auth", public: register, login, refresh; bearer: logout, logout_all, me, change_password);

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

/// Longest email (RFC 5321's path limit): longer ones are refused before
/// any other work.
pub const MAX_EMAIL_BYTES: usize = 254;

/// Refuses an email over 254 bytes or a password over 256 characters (as
/// 4-byte characters, 1024 bytes) before any other work: 422 naming the field.
fn check_sizes(email: &str, password: &str, password_field: &str) -> Result<(), AppError> {
    let mut errors = FieldErrors::new();
    if email.len() > MAX_EMAIL_BYTES {
        errors.add("email", "length", "email must have at most 254 bytes");
    }
    if password.len() > MAX_PASSWORD_CHARS * 4 || password.chars().count() > MAX_PASSWORD_CHARS {
        errors.add(password_field, "length", "password must have at most 256 characters");
    }
    Ok(errors.into_result()?)
}

/// Spends a throttle charge in its own transaction (429 when a budget is empty).
async fn spend(state: &State, charge: Charge) -> Result<Charge, AppError> {
    let st = state.clone();
    let now = now_us();
    state.db.write(move |conn| st.throttle.spend(conn, charge, now)).await.map_err(AppError::from)
}

/// Gives a charge back, then answers `err` (a refund that fails is logged:
/// the budget refills by itself).
async fn refund_then(state: &State, charge: Charge, err: AppError) -> AppError {
    let st = state.clone();
    if let Err(e) = state.db.write(move |conn| st.throttle.refund(conn, &charge)).await.map_err(AppError::from) {
        tracing::warn!(error = %e, "throttle refund failed");
    }
    err
}

/// Checks a new account's fields; `prefix` is its place in the body.
pub fn validate_account(acc: &NewAccount, prefix: &str, errors: &mut FieldErrors) -> Option<String> {
    if acc.email.len() > MAX_EMAIL_BYTES {
        errors.add(format!("{prefix}email"), "length", "email must have at most 254 bytes");
        return None;
    }
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
        doc::TooManyRequests,
        (status = 409, description = "Registration code or email already taken (one answer for both)", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "Too many password hashes queued; retry after `Retry-After`", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn register(req: HttpRequest, request: Public, state: State, ApiJson(body): ApiJson<RegisterRequest>) -> Reply {
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
    // Charged before the hash (accepted registrations per address per
    // hour); given back when the registration is refused.
    let charge = state.throttle.registration_keys(client_addr(&req));
    let charge = spend(&state, charge).await?;
    let password_hash = match state.hasher.hash(body.admin.password).await {
        Ok(h) => h,
        Err(e) => return Err(refund_then(&state, charge, e).await),
    };
    let reg = Registration {
        legal_name,
        country,
        registration_code,
        email,
        display_name: body.admin.display_name.trim().to_owned(),
        password_hash,
    };
    let (actor, now) = (request.actor(), request.stamp());
    let registered = state.db.write(move |conn| identity::register(conn, &reg, &actor, now)).await;
    let (enterprise, user) = match registered {
        Ok(r) => r,
        Err(e) => return Err(refund_then(&state, charge, e.into()).await),
    };
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

/// Sign in: exchange email and password for an access and a refresh token.
///
/// Every attempt spends a unit of three budgets before the password is
/// checked (this account from this address; this address; this account),
/// given back when the password is right: parallel guesses get 429 once a
/// budget is spent, however many arrive at once.
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
        (status = 503, description = "Too many password hashes queued; retry after `Retry-After`", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn login(req: HttpRequest, state: State, ApiJson(body): ApiJson<LoginRequest>) -> Reply {
    check_sizes(&body.email, &body.password, "password")?;
    let email = body.email.trim().to_lowercase();
    let charge = spend(&state, state.throttle.login_keys(&email, client_addr(&req))).await?;
    let lookup = email.clone();
    let user = match state.db.read(move |conn| crate::db::users::find_by_email(conn, &lookup)).await {
        Ok(u) => u,
        Err(e) => return Err(refund_then(&state, charge, e.into()).await),
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_ok = match state.hasher.verify(hash, body.password).await {
        Ok(ok) => ok,
        // Not a guess (the queue was full): the budget is given back.
        Err(e) => return Err(refund_then(&state, charge, e).await),
    };
    let Some(user) = user.filter(|u| password_ok && u.active) else {
        return Err(AppError::Unauthorized("wrong email or password"));
    };
    let life = lifetime(&state);
    let (user_id, st) = (user.id.clone(), state.clone());
    let (session_id, refresh_token) = state
        .db
        .write(move |conn| {
            st.throttle.refund(conn, &charge)?;
            identity::start_session(conn, &user_id, life, crate::db::now())
        })
        .await?;
    token_response(&state, &user, &session_id, refresh_token)
}

fn lifetime(state: &AppState) -> SessionLifetime {
    SessionLifetime {
        refresh_ttl_days: state.settings.auth.refresh_token_ttl_days,
        max_days: state.settings.auth.session_max_days,
    }
}

fn token_response(
    state: &AppState,
    user: &crate::db::users::UserRow,
    session_id: &str,
    refresh_token: String,
) -> Reply {
    let access_token = state.jwt.issue(&user.id, user.role, user.enterprise_id.as_deref(), session_id)?;
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
/// Reusing a used refresh token revokes that whole session (its access
/// tokens too). A session ends `auth.session_max_days` after sign-in
/// however often it is refreshed.
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
        Rotation::Rotated { user, session_id, refresh_token } => {
            token_response(&state, &user, &session_id, refresh_token)
        }
        Rotation::Reused { session_id, .. } => {
            state.sessions.forget_session(&session_id);
            Err(AppError::Unauthorized("invalid refresh token"))
        }
        Rotation::Refused => Err(AppError::Unauthorized("invalid refresh token")),
    }
}

/// Sign out: end this session (the access token's) and the session of the
/// refresh token given, if it is the caller's.
///
/// The access token that made the request, and every other token of that
/// session, is refused from this answer on.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", operation_id = "logout",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out"), doc::JsonBody, doc::Unauthorized),
)]
async fn logout(req: HttpRequest, state: State, who: AnyUser, ApiJson(body): ApiJson<RefreshRequest>) -> Reply {
    if body.refresh_token.len() > 200 {
        return Err(AppError::field("refresh_token", "length", "refresh_token has at most 200 characters"));
    }
    let user_id = who.user_id.clone();
    let own = crate::auth::extract::session_id(&req);
    let ended = state
        .db
        .write(move |conn| identity::logout(conn, &user_id, own.as_deref(), &body.refresh_token, crate::db::now()))
        .await?;
    for sid in &ended {
        state.sessions.forget_session(sid);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Sign out everywhere: end every session of the signed-in user.
///
/// Every access and refresh token of the user issued before this answer,
/// the one making the request included, is refused; signing in again works
/// at once.
#[utoipa::path(
    post, path = "/api/v1/auth/logout-all", operation_id = "logout_all",
    responses((status = 204, description = "Every session ended"), doc::Unauthorized),
)]
async fn logout_all(state: State, who: AnyUser) -> Reply {
    let user_id = who.user_id.clone();
    state.db.write(move |conn| identity::end_all_sessions(conn, &user_id, crate::db::now())).await?;
    state.sessions.forget_user(&who.user_id);
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's user row, if the account is still active (401 otherwise).
async fn signed_in_user(state: &State, who: &AnyUser) -> Result<crate::db::users::UserRow, AppError> {
    let id = who.user_id.clone();
    state
        .db
        .read(move |conn| crate::db::users::find(conn, &id))
        .await?
        .filter(|u| u.active)
        .ok_or(AppError::Unauthorized("the account no longer exists or is deactivated"))
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    #[schema(format = Password)]
    current_password: String,
    /// 12 to 256 characters, not too common, not the email or name.
    #[schema(format = Password, min_length = 12, max_length = 256)]
    new_password: String,
}

/// Change the signed-in user's password.
///
/// Needs the current password (a wrong one spends the same budgets as a
/// wrong login: 401, then 429). Ends every session of the user, this one
/// included: sign in again with the new password.
#[utoipa::path(
    post, path = "/api/v1/me/password", operation_id = "change_password",
    request_body(content = PasswordChange,
        example = json!({"current_password": "Correct-Horse-Battery-9271", "new_password": "Staple-Orbit-Lantern-4410"})),
    responses(
        (status = 204, description = "Changed; every session ended"),
        doc::JsonBody, doc::TooManyRequests,
        (status = 401, description = "No valid token, or the current password is wrong", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "Too many password hashes queued; retry after `Retry-After`", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn change_password(
    req: HttpRequest,
    state: State,
    who: AnyUser,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Reply {
    check_sizes("", &body.current_password, "current_password")?;
    let user = signed_in_user(&state, &who).await?;
    check_password(&body.new_password, &user.email, &user.display_name)
        .map_err(|m| AppError::field("new_password", "weak_password", m))?;
    let charge = spend(&state, state.throttle.login_keys(&user.email, client_addr(&req))).await?;
    match state.hasher.verify(Some(user.password_hash.clone()), body.current_password).await {
        Ok(true) => {}
        Ok(false) => return Err(AppError::Unauthorized("the current password is wrong")),
        Err(e) => return Err(refund_then(&state, charge, e).await),
    }
    let hash = match state.hasher.hash(body.new_password).await {
        Ok(h) => h,
        Err(e) => return Err(refund_then(&state, charge, e).await),
    };
    let st = state.clone();
    crate::services::write(&state.db, &who, move |conn, ctx| {
        st.throttle.refund(conn, &charge)?;
        identity::change_password(conn, ctx, &hash)
    })
    .await?;
    state.sessions.forget_user(&user.id);
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
    let user = signed_in_user(&state, &who).await?;
    Ok(HttpResponse::Ok().json(MeResponse {
        id: user.id,
        email: user.email,
        role: user.role,
        enterprise_id: user.enterprise_id,
        display_name: user.display_name,
    }))
}
