//! `/enterprises`: officers verify, suspend, reinstate and classify;
//! a company sees only its own.

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::{ApiJson, OptionalJson};
use super::openapi as doc;
use super::pagination::{Page, PageQuery};
use super::Endpoint;
use crate::auth::{AnyUser, Officer};
use crate::db::enterprises::{self, EnterpriseRow};
use crate::domain::identity::{CreditClass, EnterpriseAction, EnterpriseStatus};
use crate::domain::ids::EnterpriseId;
use crate::error::{AppError, AppResult, Problem, PROBLEM_JSON};
use crate::services;
use crate::services::identity;
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/enterprises", |r| r.to(list)),
        Endpoint::new(Method::GET, "/enterprises/{id}", |r| r.to(get)),
        Endpoint::new(Method::POST, "/enterprises/{id}/verify", |r| r.to(verify)),
        Endpoint::new(Method::POST, "/enterprises/{id}/suspend", |r| r.to(suspend)),
        Endpoint::new(Method::POST, "/enterprises/{id}/reinstate", |r| r.to(reinstate)),
        Endpoint::new(Method::POST, "/enterprises/{id}/credit-class", |r| r.to(classify)),
    ]
}

super::pagination::page_schema!(EnterprisePage, EnterpriseView, "One page of enterprises.");

/// An enterprise as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Enterprise)]
pub struct EnterpriseView {
    pub id: String,
    /// Legal name.
    pub name: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "CN")]
    pub country: String,
    #[schema(example = "91350100M000100Y43")]
    pub registration_code: String,
    /// 10-digit customs code, once an officer has set it.
    pub customs_code: Option<String>,
    pub credit_class: CreditClass,
    pub status: EnterpriseStatus,
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only enterprises in this status: `pending`, `verified` or `suspended`.
    #[param(inline, value_type = Option<doc::EnterpriseStatusValue>)]
    status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<String>,
}

/// List enterprises (officers), in registration order.
#[utoipa::path(
    get,
    path = "/api/v1/enterprises",
    operation_id = "list_enterprises",
    tag = "enterprises",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "One page of enterprises", body = EnterprisePage),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 422, response = doc::Unprocessable),
    ),
)]
async fn list(state: web::Data<AppState>, _who: Officer, q: web::Query<ListQuery>) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let after = page.after()?;
    let status = q
        .status
        .as_deref()
        .map(|s| s.parse::<EnterpriseStatus>().map_err(|m| AppError::field("status", "enum", m)))
        .transpose()?;
    let rows = state.db.read(move |conn| enterprises::list(conn, status, after.as_deref(), limit + 1)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id.clone(), EnterpriseView::from)))
}

/// One enterprise; a company user sees only its own.
#[utoipa::path(
    get,
    path = "/api/v1/enterprises/{id}",
    operation_id = "get_enterprise",
    tag = "enterprises",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Enterprise id")),
    responses(
        (status = 200, description = "The enterprise", body = EnterpriseView),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
    ),
)]
async fn get(state: web::Data<AppState>, who: AnyUser, path: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    // A company sees only its own enterprise; another one does not exist for it.
    if who.role.is_company() && who.enterprise_id.as_deref() != Some(id.as_str()) {
        return Err(AppError::NotFound);
    }
    let row = state.db.read(move |conn| enterprises::find(conn, &id)).await?.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(row)))
}

/// Optional body of a status change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = EnterpriseStatusChange)]
struct ReasonBody {
    /// Why; required to suspend.
    reason: Option<String>,
}

async fn change_status(
    state: web::Data<AppState>,
    who: Officer,
    id: String,
    action: EnterpriseAction,
    reason: Option<String>,
) -> AppResult<HttpResponse> {
    if action == EnterpriseAction::Suspend && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(AppError::field("reason", "required", "a suspension needs a reason"));
    }
    let id = EnterpriseId::new(id);
    let row = services::write(&state.db, &who, move |conn, ctx| {
        identity::change_enterprise_status(conn, ctx, &id, action, reason.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(row)))
}

/// Body of a suspension: the reason is required.
#[derive(ToSchema)]
#[schema(as = EnterpriseSuspension)]
#[allow(dead_code)] // documents the body `ReasonBody` reads for this action
struct SuspensionBody {
    #[schema(schema_with = doc::suspension_reason)]
    reason: String,
}

fn optional_body(OptionalJson(body): OptionalJson<ReasonBody>) -> ReasonBody {
    body.unwrap_or_default()
}

/// Verify a pending enterprise (officers): it may then file declarations and book.
#[utoipa::path(
    post,
    path = "/api/v1/enterprises/{id}/verify",
    operation_id = "verify_enterprise",
    tag = "enterprises",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Enterprise id")),
    request_body(content = Option<ReasonBody>, description = "Optional; no body (or `null`) means no reason"),
    responses(
        (status = 200, description = "The enterprise in its new status", body = EnterpriseView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "Not allowed from the enterprise's current status", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
    ),
)]
async fn verify(
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
    body: OptionalJson<ReasonBody>,
) -> AppResult<HttpResponse> {
    let reason = optional_body(body).reason;
    change_status(state, who, path.into_inner(), EnterpriseAction::Verify, reason).await
}

/// Suspend an enterprise (officers): it can read but not write. Needs a reason.
#[utoipa::path(
    post,
    path = "/api/v1/enterprises/{id}/suspend",
    operation_id = "suspend_enterprise",
    tag = "enterprises",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Enterprise id")),
    request_body(content = SuspensionBody, description = "The reason (required)", example = json!({"reason": "customs code revoked by the issuing office"})),
    responses(
        (status = 200, description = "The enterprise in its new status", body = EnterpriseView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "Not allowed from the enterprise's current status", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
    ),
)]
async fn suspend(
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
    body: OptionalJson<ReasonBody>,
) -> AppResult<HttpResponse> {
    let reason = optional_body(body).reason;
    change_status(state, who, path.into_inner(), EnterpriseAction::Suspend, reason).await
}

/// Reinstate a suspended enterprise (officers).
#[utoipa::path(
    post,
    path = "/api/v1/enterprises/{id}/reinstate",
    operation_id = "reinstate_enterprise",
    tag = "enterprises",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Enterprise id")),
    request_body(content = Option<ReasonBody>, description = "Optional; no body (or `null`) means no reason"),
    responses(
        (status = 200, description = "The enterprise in its new status", body = EnterpriseView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "Not allowed from the enterprise's current status", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
    ),
)]
async fn reinstate(
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
    body: OptionalJson<ReasonBody>,
) -> AppResult<HttpResponse> {
    let reason = optional_body(body).reason;
    change_status(state, who, path.into_inner(), EnterpriseAction::Reinstate, reason).await
}

/// A new credit class (and optionally the customs code).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"credit_class": "advanced_certified", "customs_code": "6501234567"}))]
struct ClassifyBody {
    /// `advanced_certified`, `general` or `discredited`.
    #[schema(value_type = doc::CreditClassValue)]
    credit_class: String,
    /// Exactly 10 digits.
    #[schema(pattern = "^[0-9]{10}$")]
    customs_code: Option<String>,
}

/// Set an enterprise's credit class (officers).
#[utoipa::path(
    post,
    path = "/api/v1/enterprises/{id}/credit-class",
    operation_id = "classify_enterprise",
    tag = "enterprises",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Enterprise id")),
    request_body = ClassifyBody,
    responses(
        (status = 200, description = "The reclassified enterprise", body = EnterpriseView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
    ),
)]
async fn classify(
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
    let id = EnterpriseId::new(path.into_inner());
    let row = services::write(&state.db, &who, move |conn, ctx| {
        identity::classify_enterprise(conn, ctx, &id, class, body.customs_code.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(row)))
}
