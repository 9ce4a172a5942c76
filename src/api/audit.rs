//! `/audit`: officers read the trail and verify its hash chains.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi as doc;
use super::pagination::{Page, PageQuery};
use crate::auth::Officer;
use crate::db::audit::{self, AuditEventRow, BrokenLink};
use crate::error::AppResult;
use crate::state::AppState;

super::route_table!("audit", bearer: list, verify);

super::pagination::page_schema!(AuditEventPage, AuditEventView, "One page of audit events.");

/// One audit event as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    pub id: String,
    /// `enterprise`, `declaration`, `booking` or `slot`.
    #[schema(example = "declaration")]
    pub entity_type: String,
    pub entity_id: String,
    /// Position in the entity's chain, from 1.
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    /// Who; `null` for the system or a self-registration.
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    #[schema(example = "submit")]
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub reason: Option<String>,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: Option<String>,
    /// Hash of the previous event of the same entity (hex).
    pub prev_hash: String,
    /// Hash of this event (hex), chained over `prev_hash`.
    pub hash: String,
}

impl From<AuditEventRow> for AuditEventView {
    fn from(r: AuditEventRow) -> Self {
        Self {
            id: r.id,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            seq: r.seq,
            occurred_at: r.occurred_at.and_utc(),
            actor_id: r.actor_id,
            actor_role: r.actor_role,
            action: r.action,
            from_state: r.from_state,
            to_state: r.to_state,
            reason: r.reason,
            request_id: r.request_id,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only events of this entity type.
    entity_type: Option<String>,
    /// Only events of this entity.
    entity_id: Option<String>,
    /// `limit` and `cursor` (documented by `PageQuery` itself).
    #[serde(flatten)]
    #[param(ignore)]
    page: PageQuery,
}

/// List audit events (officers), in id (time) order.
#[utoipa::path(
    get, path = "/api/v1/audit", operation_id = "list_audit_events",
    params(ListQuery, PageQuery),
    responses(
        (status = 200, description = "One page of audit events", body = AuditEventPage),
        doc::Query, doc::Restricted,
    ),
)]
async fn list(state: web::Data<AppState>, _who: Officer, q: web::Query<ListQuery>) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let limit = q.page.limit()?;
    let after = q.page.after()?;
    let rows = state
        .db
        .read(move |conn| {
            audit::list(conn, q.entity_type.as_deref(), q.entity_id.as_deref(), after.as_deref(), limit + 1)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id.clone(), AuditEventView::from)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VerifyQuery {
    /// Only the chains of this entity type.
    entity_type: Option<String>,
}

/// Result of verifying the hash chains.
#[derive(Debug, Serialize, ToSchema)]
struct VerifyReport {
    /// Every chain is intact.
    valid: bool,
    events_checked: u64,
    /// The first broken link found, if any.
    first_broken: Option<BrokenLink>,
}

/// Verify the audit trail's hash chains (officers): detects tampering.
#[utoipa::path(
    get, path = "/api/v1/audit/verify", operation_id = "verify_audit_chains",
    params(VerifyQuery),
    responses(
        (status = 200, description = "The verification report", body = VerifyReport),
        doc::Restricted, doc::BadRequest,
    ),
)]
async fn verify(state: web::Data<AppState>, _who: Officer, q: web::Query<VerifyQuery>) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let (checked, broken) = state.db.read(move |conn| audit::verify(conn, q.entity_type.as_deref())).await?;
    Ok(HttpResponse::Ok().json(VerifyReport { valid: broken.is_none(), events_checked: checked, first_broken: broken }))
}
