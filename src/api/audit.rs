//! `/audit`: officers read the trail and verify its hash chains.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi as doc;
use super::pagination::{Listed, Page};
use super::{Reply, State};
use crate::auth::Officer;
use crate::db::audit::{self, BrokenLink};
use crate::error::{AppError, AppResult};
use crate::services::access;
use crate::state::AppState;

super::route_table!("audit", bearer: list, verify);

super::pagination::page_schema!(AuditEventPage, AuditEventView, "One page of audit events.");

/// One audit event as the API shows it: the stored event, field for field.
pub use crate::db::audit::AuditEventRow as AuditEventView;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only events of this entity type.
    entity_type: Option<String>,
    /// Only events of this entity.
    entity_id: Option<String>,
}

/// List audit events (officers), in id (time) order.
///
/// An officer limited to sites does not see the events of other sites'
/// sites, schedules, slots, closures, declarations and bookings.
#[utoipa::path(
    get, path = "/api/v1/audit", operation_id = "list_audit_events",
    params(Listed<ListQuery>),
    responses(
        (status = 200, description = "One page of audit events", body = AuditEventPage),
        doc::Query, doc::Restricted,
    ),
)]
async fn list(state: State, who: Officer, Listed { filter: q, page }: Listed<ListQuery>) -> Reply {
    let (limit, after) = page.window()?;
    let caller = who.0.caller;
    let rows = state
        .db
        .read(move |conn| {
            let sites = access::allowed_sites(conn, &caller)?;
            let (kind, id) = (q.entity_type.as_deref(), q.entity_id.as_deref());
            Ok::<_, AppError>(audit::list(conn, kind, id, sites.as_deref(), after.as_deref(), limit + 1)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id.clone(), std::convert::identity)))
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
