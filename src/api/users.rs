//! Users: company admins manage their clerks; supervisors create customs
//! accounts (`POST /officers`).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::{validate_account, NewAccount};
use super::json::ApiJson;
use crate::auth::{CompanyAdmin, Supervisor};
use crate::db::users::{self, UserRow};
use crate::domain::identity::Role;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::services::identity;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").route(web::get().to(list_own)).route(web::post().to(add_clerk)))
        .service(web::resource("/users/{id}/deactivate").route(web::post().to(deactivate)))
        .service(web::resource("/officers").route(web::post().to(create_officer)));
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: String,
    pub enterprise_id: Option<String>,
    pub display_name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            email: u.email,
            role: u.role,
            enterprise_id: u.enterprise_id,
            display_name: u.display_name,
            active: u.active,
            created_at: u.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize)]
struct UserList {
    items: Vec<UserView>,
    next_cursor: Option<String>,
}

async fn list_own(state: web::Data<AppState>, who: CompanyAdmin) -> AppResult<HttpResponse> {
    let ent = who.enterprise_id().to_owned();
    let rows = state.db.read(move |conn| users::list_for_enterprise(conn, &ent)).await?;
    // An enterprise has few users: one page, no cursor.
    Ok(HttpResponse::Ok().json(UserList { items: rows.into_iter().map(UserView::from).collect(), next_cursor: None }))
}

/// Validates an account and hashes its password off the executor.
async fn prepare_account(
    state: &AppState,
    acc: NewAccount,
    errors: &mut FieldErrors,
) -> AppResult<Option<(String, String, String)>> {
    let email = validate_account(&acc, "", errors);
    if !errors.is_empty() {
        return Ok(None);
    }
    let email = email.ok_or_else(|| AppError::internal("validated email missing"))?;
    let hash = state.hasher.hash(acc.password).await?;
    Ok(Some((email, acc.display_name.trim().to_owned(), hash)))
}

async fn add_clerk(
    state: web::Data<AppState>,
    who: CompanyAdmin,
    ApiJson(body): ApiJson<NewAccount>,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let prepared = prepare_account(&state, body, &mut errors).await?;
    errors.into_result()?;
    let (email, name, hash) = prepared.ok_or_else(|| AppError::internal("account not prepared"))?;
    let ent = who.enterprise_id().to_owned();
    let user = state
        .db
        .write(move |conn| {
            identity::require_writable(conn, &ent)?;
            identity::create_user(conn, Some(&ent), &email, &name, Role::CompanyClerk, &hash, crate::db::now())
        })
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

async fn deactivate(state: web::Data<AppState>, who: CompanyAdmin, path: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    if id == who.user_id {
        return Err(AppError::conflict("self-deactivation", "an admin cannot deactivate their own account"));
    }
    let ent = who.enterprise_id().to_owned();
    let user = state
        .db
        .write(move |conn| {
            identity::require_writable(conn, &ent)?;
            let now = crate::db::now();
            if users::set_active(conn, &id, &ent, false, now)? == 0 {
                return Err(AppError::NotFound);
            }
            crate::db::refresh_tokens::revoke_user(conn, &id, now)?;
            users::find(conn, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

#[derive(Debug, Deserialize)]
struct NewOfficer {
    email: String,
    password: String,
    display_name: String,
    role: String,
}

async fn create_officer(
    state: web::Data<AppState>,
    _who: Supervisor,
    ApiJson(body): ApiJson<NewOfficer>,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let role = match body.role.parse::<Role>() {
        Ok(r) if r.is_customs() => Some(r),
        _ => {
            errors.add("role", "enum", "role must be officer or supervisor");
            None
        }
    };
    let acc = NewAccount { email: body.email, password: body.password, display_name: body.display_name };
    let prepared = prepare_account(&state, acc, &mut errors).await?;
    errors.into_result()?;
    let ((email, name, hash), role) = prepared.zip(role).ok_or_else(|| AppError::internal("account not prepared"))?;
    let user = state
        .db
        .write(move |conn| identity::create_user(conn, None, &email, &name, role, &hash, crate::db::now()))
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}
