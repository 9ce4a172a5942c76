//! `/enterprises`: officers verify, suspend, reinstate and classify;
//! a company sees only its own.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::{ApiJson, OptionalJson};
use super::openapi as doc;
use super::pagination::{Listed, Page};
use super::{Reply, State};
use crate::auth::{AnyUser, Officer};
use crate::db::enterprises::{self, EnterpriseRow};
use crate::domain::identity::{CreditClass, EnterpriseAction, EnterpriseStatus};
use crate::domain::ids::EnterpriseId;
use crate::domain::reason::Reason;
use crate::error::{AppError, Problem, PROBLEM_JSON};
use crate::services;
use crate::services::identity;

super::route_table!("enterprises", bearer: list, get, verify, suspend, reinstate, reject, classify);

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
        super::from_row!(r => Self {
            id, country, registration_code, customs_code, credit_class, status;
            name: r.legal_name, created_at: r.created_at.and_utc(), updated_at: r.updated_at.and_utc()
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only enterprises in this status: `pending`, `verified`, `suspended` or `rejected`.
    #[param(inline, value_type = Option<crate::domain::identity::EnterpriseStatus>)]
    status: Option<String>,
}

/// List enterprises (officers), in registration order.
#[utoipa::path(
    get, path = "/api/v1/enterprises", operation_id = "list_enterprises",
    params(Listed<ListQuery>),
    responses(
        (status = 200, description = "One page of enterprises", body = EnterprisePage),
        doc::Query, doc::Restricted,
    ),
)]
async fn list(state: State, _who: Officer, Listed { filter: q, page }: Listed<ListQuery>) -> Reply {
    let (limit, after) = page.window()?;
    let status = super::query::one_of::<EnterpriseStatus>("status", q.status.as_deref())?;
    let rows = state.db.read(move |conn| enterprises::list(conn, status, after.as_deref(), limit + 1)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id.clone(), EnterpriseView::from)))
}

/// One enterprise; a company user sees only its own.
#[utoipa::path(
    get, path = "/api/v1/enterprises/{id}", operation_id = "get_enterprise",
    params(("id" = String, Path, description = "Enterprise id")),
    responses((status = 200, description = "The enterprise", body = EnterpriseView), doc::Unauthorized, doc::NotFound),
)]
async fn get(state: State, who: AnyUser, path: web::Path<String>) -> Reply {
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
#[serde(deny_unknown_fields)]
#[schema(as = EnterpriseStatusChange)]
struct ReasonBody {
    /// Why; required to suspend.
    #[schema(schema_with = doc::status_change_reason)]
    reason: Option<String>,
}

/// Body of a suspension: the reason is required.
#[derive(ToSchema)]
#[schema(as = EnterpriseSuspension)]
#[allow(dead_code)] // documents the body `ReasonBody` reads for this action
struct SuspensionBody {
    #[schema(schema_with = doc::reason_required)]
    reason: String,
}

/// Runs a status change (verify, suspend, reinstate).
async fn change_status(
    state: State,
    who: Officer,
    id: String,
    OptionalJson(body): OptionalJson<ReasonBody>,
    action: EnterpriseAction,
) -> Reply {
    let raw = body.unwrap_or_default().reason;
    let reason = match action {
        EnterpriseAction::Suspend => Some(Reason::required(raw.as_deref(), "a suspension needs a reason")?),
        _ => Reason::optional(raw.as_deref())?,
    };
    let id = EnterpriseId::new(id);
    let row = services::write(&state.db, &who, move |conn, ctx| {
        identity::change_enterprise_status(conn, ctx, &id, action, reason.as_ref().map(Reason::as_str))
    })
    .await?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(row)))
}

super::actions! {
    id "Enterprise id",
    answer(body = EnterpriseView),
    errors(
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 409, description = "Not allowed from the enterprise's current status", body = Problem, content_type = PROBLEM_JSON)
    );
    body OptionalJson<ReasonBody>, request_body(content = Option<ReasonBody>, description = "Optional; no body (or `null`) means no reason");

    /// Verify a pending enterprise (officers): it may then file declarations and book.
    verify: Officer => change_status(EnterpriseAction::Verify);
    post "/api/v1/enterprises/{id}/verify" as "verify_enterprise", "The enterprise in its new status";

    /// Suspend an enterprise (officers): it can read but not write. Needs a reason.
    suspend: Officer => change_status(EnterpriseAction::Suspend);
    post "/api/v1/enterprises/{id}/suspend" as "suspend_enterprise", "The enterprise in its new status"
    request_body(content = SuspensionBody, description = "The reason (required)", example = json!({"reason": "customs code revoked by the issuing office"}));

    /// Reinstate a suspended enterprise (officers).
    reinstate: Officer => change_status(EnterpriseAction::Reinstate);
    post "/api/v1/enterprises/{id}/reinstate" as "reinstate_enterprise", "The enterprise in its new status";

    /// Reject a pending registration (officers). Needs a reason.
    ///
    /// The enterprise becomes `rejected` (read-only, for good), its users are
    /// deactivated and signed out, and its registration code and emails are
    /// freed: the rightful owner of a squatted code can then register it.
    reject: Officer => reject_enterprise;
    post "/api/v1/enterprises/{id}/reject" as "reject_enterprise", "The rejected enterprise"
    request_body(content = SuspensionBody, description = "The reason (required)", example = json!({"reason": "registered without the authority of the company named"}));

    /// Set an enterprise's credit class (officers).
    classify: Officer, ApiJson<ClassifyBody> => classify_enterprise;
    post "/api/v1/enterprises/{id}/credit-class" as "classify_enterprise", "The reclassified enterprise"
    request_body(content = ClassifyBody)
    responses(doc::Conflict);
}

/// Rejects a pending enterprise, then forgets its users' cached sessions.
async fn reject_enterprise(
    state: State,
    who: Officer,
    id: String,
    OptionalJson(body): OptionalJson<ReasonBody>,
) -> Reply {
    let raw = body.unwrap_or_default().reason;
    let reason = Reason::required(raw.as_deref(), "a rejection needs a reason")?;
    let id = EnterpriseId::new(id);
    let (row, users) =
        services::write(&state.db, &who, move |conn, ctx| identity::reject_enterprise(conn, ctx, &id, reason.as_str()))
            .await?;
    for user in &users {
        state.sessions.forget_user(user);
    }
    Ok(HttpResponse::Ok().json(EnterpriseView::from(row)))
}

/// A new credit class (and optionally the customs code).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"credit_class": "advanced_certified", "customs_code": "6501234567"}))]
struct ClassifyBody {
    /// `advanced_certified`, `general` or `discredited`.
    #[schema(value_type = crate::domain::identity::CreditClass)]
    credit_class: String,
    /// Exactly 10 digits.
    #[schema(pattern = "^[0-9]{10}$")]
    customs_code: Option<String>,
}

/// Sets the credit class (and the customs code, when given).
async fn classify_enterprise(state: State, who: Officer, id: String, ApiJson(body): ApiJson<ClassifyBody>) -> Reply {
    let class: CreditClass = body.credit_class.parse().map_err(|m| AppError::field("credit_class", "enum", m))?;
    if let Some(code) = &body.customs_code {
        if code.len() != 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::field("customs_code", "format", "customs_code has exactly 10 digits"));
        }
    }
    let id = EnterpriseId::new(id);
    let row = services::write(&state.db, &who, move |conn, ctx| {
        identity::classify_enterprise(conn, ctx, &id, class, body.customs_code.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(EnterpriseView::from(row)))
}
