//! `/enterprises`: officers verify, suspend, reinstate and classify;
//! a company sees only its own.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::json::ApiJson;
use super::pagination::{Page, PageQuery};
use crate::auth::{AnyUser, Officer};
use crate::db::enterprises::{self, EnterpriseRow};
use crate::domain::identity::{CreditClass, EnterpriseAction, EnterpriseStatus};
use crate::error::{AppError, AppResult};
use crate::services::identity;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/enterprises").route(web::get().to(list)))
        .service(web::resource("/enterprises/{id}").route(web::get().to(get)))
        .service(web::resource("/enterprises/{id}/verify").route(web::post().to(verify)))
        .service(web::resource("/enterprises/{id}/suspend").route(web::post().to(suspend)))
        .service(web::resource("/enterprises/{id}/reinstate").route(web::post().to(reinstate)))
        .service(web::resource("/enterprises/{id}/credit-class").route(web::post().to(classify)));
}

/// An enterprise as the API shows it.
#[derive(Debug, Serialize)]
pub struct EnterpriseView {
    pub id: String,
    pub name: String,
    pub country: String,
    pub registration_code: String,
    pub customs_code: Option<String>,
    pub credit_class: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EnterpriseRow> for EnterpriseView {
    fn from(r: EnterpriseRow) -> Self {
        Self {
            id: r.id,
            name: r.legal_name,
            country: r.country,
            registration_code: r.registration_code,
            customs_code: r.customs_code,
            credit_class: r.credit_class,
            status: r.status,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

async fn list(state: web::Data<AppState>, _who: Officer, q: web::Query<ListQuery>) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let limit = q.page.limit()?;
    let after = q.page.after()?;
    let status = q
        .status
        .as_deref()
        .map(|s| s.parse::<EnterpriseStatus>().map_err(|m| AppError::field("status", "enum", m)))
        .transpose()?;
    let rows = state
        .db
        .read(move |conn| enterprises::list(conn, status.map(|s| s.as_str()), after.as_deref(), limit + 1))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id.clone(), EnterpriseView::from)))
}

async fn get(state: web::Data<AppState>, who: AnyUser, path: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    // A company sees only its own enterprise; another one does not exist for it.
    if who.role.is_company() && who.enterprise_id.as_deref() != Some(id.as_str()) {
        return Err(AppError::NotFound);
    }
    let row = state.db.read(move |conn| enterprises::find(conn, &id)).await?.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(row)))
}

#[derive(Debug, Default, Deserialize)]
struct ReasonBody {
    reason: Option<String>,
}

async fn change_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Officer,
    id: String,
    action: EnterpriseAction,
    reason: Option<String>,
) -> AppResult<HttpResponse> {
    if action == EnterpriseAction::Suspend && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(AppError::field("reason", "required", "a suspension needs a reason"));
    }
    let actor = super::actor(&req, Some(&who));
    let row = state
        .db
        .write(move |conn| {
            identity::change_enterprise_status(conn, &id, action, reason.as_deref(), &actor, crate::db::now())
        })
        .await?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(row)))
}

fn optional_body(body: Option<ApiJson<ReasonBody>>) -> ReasonBody {
    body.map(|ApiJson(b)| b).unwrap_or_default()
}

async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
    body: Option<ApiJson<ReasonBody>>,
) -> AppResult<HttpResponse> {
    let reason = optional_body(body).reason;
    change_status(req, state, who, path.into_inner(), EnterpriseAction::Verify, reason).await
}

async fn suspend(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
    body: Option<ApiJson<ReasonBody>>,
) -> AppResult<HttpResponse> {
    let reason = optional_body(body).reason;
    change_status(req, state, who, path.into_inner(), EnterpriseAction::Suspend, reason).await
}

async fn reinstate(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
    body: Option<ApiJson<ReasonBody>>,
) -> AppResult<HttpResponse> {
    let reason = optional_body(body).reason;
    change_status(req, state, who, path.into_inner(), EnterpriseAction::Reinstate, reason).await
}

#[derive(Debug, Deserialize)]
struct ClassifyBody {
    credit_class: String,
    customs_code: Option<String>,
}

async fn classify(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
    ApiJson(body): ApiJson<ClassifyBody>,
) -> AppResult<HttpResponse> {
    let class: CreditClass = body.credit_class.parse().map_err(|m| AppError::field("credit_class", "enum", m))?;
    if let Some(code) = &body.customs_code {
        if code.len() != 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::field("customs_code", "format", "customs_code has exactly 10 digits"));
        }
    }
    let id = path.into_inner();
    let actor = super::actor(&req, Some(&who));
    let row = state
        .db
        .write(move |conn| {
            identity::classify_enterprise(conn, &id, class, body.customs_code.as_deref(), &actor, crate::db::now())
        })
        .await?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(row)))
}
