//! Users: company admins manage their clerks; supervisors create customs
//! accounts (`/officers`) and limit officers to sites.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{validate_account, NewAccount};
use super::json::ApiJson;
use super::openapi as doc;
use super::{Reply, State};
use crate::auth::{CompanyAdmin, Supervisor};
use crate::db::users::UserRow;
use crate::domain::identity::Role;
use crate::domain::ids::UserId;
use crate::error::{AppError, AppResult, FieldErrors, Problem, PROBLEM_JSON};
use crate::services::{self, users};
use crate::state::AppState;

super::route_table!(
    "users",
    bearer: list_own, add_clerk, deactivate, list_officers, create_officer, get_officer, change_officer,
    deactivate_officer, reactivate_officer
);

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// The user's enterprise; `null` for customs accounts.
    pub enterprise_id: Option<String>,
    pub display_name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        super::from_row!(u => Self {
            id, email, role, enterprise_id, display_name, active;
            created_at: u.created_at.and_utc()
        })
    }
}

/// The enterprise's users: one page, `next_cursor` is always `null`.
#[derive(Debug, Serialize, ToSchema)]
struct UserList {
    items: Vec<UserView>,
    next_cursor: Option<String>,
}

/// List the users of the caller's enterprise (company admins).
#[utoipa::path(
    get, path = "/api/v1/users", operation_id = "list_users",
    responses((status = 200, description = "The enterprise's users", body = UserList), doc::Restricted),
)]
async fn list_own(state: State, who: CompanyAdmin) -> Reply {
    let ent = who.enterprise_id().to_owned();
    let rows = state.db.read(move |conn| crate::db::users::list_for_enterprise(conn, &ent)).await?;
    // An enterprise has few users: one page, no cursor.
    Ok(HttpResponse::Ok().json(UserList { items: rows.into_iter().map(UserView::from).collect(), next_cursor: None }))
}

/// Validates an account and hashes its password off the executor.
async fn prepare_account(
    state: &AppState,
    acc: NewAccount,
    errors: &mut FieldErrors,
) -> AppResult<Option<users::NewAccount>> {
    let email = validate_account(&acc, "", errors);
    if !errors.is_empty() {
        return Ok(None);
    }
    let email = email.ok_or_else(|| AppError::internal("validated email missing"))?;
    let hash = state.hasher.hash(acc.password).await?;
    Ok(Some(users::NewAccount { email, display_name: acc.display_name.trim().to_owned(), password_hash: hash }))
}

/// Add a company_clerk to the caller's enterprise (company admins).
#[utoipa::path(
    post, path = "/api/v1/users", operation_id = "add_clerk",
    request_body(
        content = NewAccount,
        example = json!({"email": "clerk@kashgar-trading.example", "password": "Correct-Horse-Battery-9271",
            "display_name": "Dilnur Abdulla"}),
    ),
    responses(
        (status = 201, description = "The new clerk", body = UserView),
        doc::JsonBody, doc::Restricted,
        (status = 403, description = "Not a company admin, or the enterprise is suspended", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "Email already registered", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn add_clerk(state: State, who: CompanyAdmin, ApiJson(body): ApiJson<NewAccount>) -> Reply {
    let mut errors = FieldErrors::new();
    let prepared = prepare_account(&state, body, &mut errors).await?;
    errors.into_result()?;
    let account = prepared.ok_or_else(|| AppError::internal("account not prepared"))?;
    let user = services::write(&state.db, &who, move |conn, ctx| users::add_clerk(conn, ctx, &account)).await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// Deactivate a user of the caller's enterprise and revoke their sessions (company admins).
#[utoipa::path(
    post, path = "/api/v1/users/{id}/deactivate", operation_id = "deactivate_user",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The deactivated user", body = UserView),
        doc::Restricted, doc::NotFound,
        (status = 403, description = "Not a company admin, or the enterprise is suspended", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "An admin cannot deactivate their own account", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn deactivate(state: State, who: CompanyAdmin, path: web::Path<String>) -> Reply {
    let id = UserId::new(path.into_inner());
    let user = services::write(&state.db, &who, move |conn, ctx| users::deactivate(conn, ctx, &id)).await?;
    // After the commit: from now on every token of the user is refused.
    state.sessions.forget_user(&user.id);
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Deactivate a customs account and end its sessions (supervisors).
///
/// Every access token of the account is refused from this answer on; it
/// cannot sign in until a supervisor reactivates it.
#[utoipa::path(
    post, path = "/api/v1/officers/{id}/deactivate", operation_id = "deactivate_officer",
    params(("id" = String, Path, description = "User id of the customs account")),
    responses(
        (status = 200, description = "The deactivated account", body = OfficerView),
        doc::Restricted, doc::NotFound,
        (status = 409, description = "A supervisor cannot deactivate their own account", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn deactivate_officer(state: State, who: Supervisor, path: web::Path<String>) -> Reply {
    set_officer_active(state, who, path.into_inner(), false).await
}

/// Reactivate a deactivated customs account (supervisors); it signs in anew.
#[utoipa::path(
    post, path = "/api/v1/officers/{id}/reactivate", operation_id = "reactivate_officer",
    params(("id" = String, Path, description = "User id of the customs account")),
    responses(
        (status = 200, description = "The reactivated account", body = OfficerView),
        doc::Restricted, doc::NotFound,
        (status = 409, description = "A supervisor cannot reactivate their own account", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn reactivate_officer(state: State, who: Supervisor, path: web::Path<String>) -> Reply {
    set_officer_active(state, who, path.into_inner(), true).await
}

async fn set_officer_active(state: State, who: Supervisor, id: String, active: bool) -> Reply {
    let id = UserId::new(id);
    let account =
        services::write(&state.db, &who, move |conn, ctx| users::set_customs_active(conn, ctx, &id, active)).await?;
    state.sessions.forget_user(&account.user.id);
    Ok(HttpResponse::Ok().json(OfficerView::from(account)))
}

/// A customs account as the API shows it: the user and the sites it is
/// limited to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Officer)]
pub struct OfficerView {
    #[serde(flatten)]
    pub user: UserView,
    /// The clearance sites the officer sees, in id order; empty: every site
    /// (always empty for supervisors).
    pub site_ids: Vec<String>,
}

impl From<users::CustomsAccount> for OfficerView {
    fn from(a: users::CustomsAccount) -> Self {
        Self { user: a.user.into(), site_ids: a.site_ids }
    }
}

/// The customs accounts: one page, `next_cursor` is always `null`.
#[derive(Debug, Serialize, ToSchema)]
struct OfficerList {
    items: Vec<OfficerView>,
    next_cursor: Option<String>,
}

/// Checks the shape of a list of site ids (each an id, none twice); whether
/// they exist is the service's to check.
fn check_site_ids(site_ids: &[String], errors: &mut FieldErrors) {
    for (i, id) in site_ids.iter().enumerate() {
        if id.trim().is_empty() || id.len() > 64 {
            errors.add(format!("site_ids[{i}]"), "required", "must be the id of a clearance site");
        } else if site_ids[..i].contains(id) {
            errors.add(format!("site_ids[{i}]"), "duplicate", "each site is listed once");
        }
    }
}

/// A new customs account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewOfficer {
    #[schema(format = Email)]
    email: String,
    /// 12 to 256 characters, not too common, not the email or name.
    #[schema(format = Password, min_length = 12, max_length = 256)]
    password: String,
    display_name: String,
    /// `officer` or `supervisor`.
    #[schema(value_type = doc::CustomsRoleValue, example = "officer")]
    role: String,
    /// Officers only: the existing clearance sites the officer may see and
    /// act on (anything of other sites is 404 to them). Absent, `null` or
    /// empty: every site.
    #[schema(example = json!(["0190f7a2-5c1e-7d33-9b7e-3f6a1c2d4e5f"]))]
    site_ids: Option<Vec<String>>,
}

/// Create a customs account, officer or supervisor (supervisors).
#[utoipa::path(
    post, path = "/api/v1/officers", operation_id = "create_officer",
    request_body(
        content = NewOfficer,
        example = json!({"email": "officer.li@customs.example", "password": "Correct-Horse-Battery-9271",
            "display_name": "Li Wei", "role": "officer", "site_ids": ["0190f7a2-5c1e-7d33-9b7e-3f6a1c2d4e5f"]}),
    ),
    responses(
        (status = 201, description = "The new account", body = OfficerView),
        doc::JsonBody, doc::Restricted,
        (status = 409, description = "Email already registered", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "Invalid input, a site that does not exist (`site_ids[i]`), or a supervisor \
            limited to sites", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create_officer(state: State, who: Supervisor, ApiJson(body): ApiJson<NewOfficer>) -> Reply {
    let mut errors = FieldErrors::new();
    let role = match body.role.parse::<Role>() {
        Ok(r) if r.is_customs() => Some(r),
        _ => {
            errors.add("role", "enum", "role must be officer or supervisor");
            None
        }
    };
    let site_ids = body.site_ids.unwrap_or_default();
    check_site_ids(&site_ids, &mut errors);
    let acc = NewAccount { email: body.email, password: body.password, display_name: body.display_name };
    let prepared = prepare_account(&state, acc, &mut errors).await?;
    errors.into_result()?;
    let (account, role) = prepared.zip(role).ok_or_else(|| AppError::internal("account not prepared"))?;
    let created = services::write(&state.db, &who, move |conn, ctx| {
        users::create_customs_account(conn, ctx, &account, role, &site_ids)
    })
    .await?;
    Ok(HttpResponse::Created().json(OfficerView::from(created)))
}

/// List the customs accounts, officers and supervisors, with their sites (supervisors).
#[utoipa::path(
    get, path = "/api/v1/officers", operation_id = "list_officers",
    responses((status = 200, description = "The customs accounts, in creation order", body = OfficerList), doc::Restricted),
)]
async fn list_officers(state: State, _who: Supervisor) -> Reply {
    let accounts = state.db.read(users::customs_accounts).await?;
    // Customs have tens of accounts: one page, no cursor.
    let items = accounts.into_iter().map(OfficerView::from).collect();
    Ok(HttpResponse::Ok().json(OfficerList { items, next_cursor: None }))
}

/// One customs account with its sites (supervisors); any other user is 404.
#[utoipa::path(
    get, path = "/api/v1/officers/{id}", operation_id = "get_officer",
    params(("id" = String, Path, description = "User id of the customs account")),
    responses((status = 200, description = "The account", body = OfficerView), doc::Restricted, doc::NotFound),
)]
async fn get_officer(state: State, _who: Supervisor, path: web::Path<String>) -> Reply {
    let id = UserId::new(path.into_inner());
    let account = state.db.read(move |conn| users::customs_account(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(OfficerView::from(account)))
}

/// Changes to a customs account; an absent field keeps its value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OfficerPatch {
    /// Replaces the sites the officer may see; `[]` or `null`: every site.
    /// Absent: unchanged. Each must exist; supervisors cannot be limited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, example = json!(["0190f7a2-5c1e-7d33-9b7e-3f6a1c2d4e5f"]))]
    site_ids: Option<Option<Vec<String>>>,
}

/// A field that is present (`Some`), possibly as `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

/// Limit an officer to some clearance sites, or give them every site again (supervisors).
///
/// A limited officer sees and acts only on the sites, schedules, slots,
/// closures, declarations and bookings of those sites (anything else is
/// 404) from their next request on.
#[utoipa::path(
    patch, path = "/api/v1/officers/{id}", operation_id = "change_officer",
    params(("id" = String, Path, description = "User id of the customs account")),
    request_body(content = OfficerPatch, example = json!({"site_ids": ["0190f7a2-5c1e-7d33-9b7e-3f6a1c2d4e5f"]})),
    responses(
        (status = 200, description = "The account, changed", body = OfficerView),
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 422, description = "A site that does not exist (`site_ids[i]`), a site listed twice, or a supervisor \
            limited to sites", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn change_officer(
    state: State,
    who: Supervisor,
    path: web::Path<String>,
    ApiJson(body): ApiJson<OfficerPatch>,
) -> Reply {
    let id = UserId::new(path.into_inner());
    let Some(site_ids) = body.site_ids else {
        let account = state.db.read(move |conn| users::customs_account(conn, &id)).await?;
        return Ok(HttpResponse::Ok().json(OfficerView::from(account)));
    };
    let site_ids = site_ids.unwrap_or_default();
    let mut errors = FieldErrors::new();
    check_site_ids(&site_ids, &mut errors);
    errors.into_result()?;
    let account =
        services::write(&state.db, &who, move |conn, ctx| users::set_sites(conn, ctx, &id, &site_ids)).await?;
    Ok(HttpResponse::Ok().json(OfficerView::from(account)))
}
