//! `/audit`: officers read the trail and verify its hash chains.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::pagination::{Page, PageQuery};
use crate::auth::Officer;
use crate::db::audit::{self, AuditEventRow, BrokenLink};
use crate::error::AppResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit").route(web::get().to(list)))
        .service(web::resource("/audit/verify").route(web::get().to(verify)));
}

/// One audit event as the API shows it.
#[derive(Debug, Serialize)]
pub struct AuditEventView {
    pub id: String,
    pub entity_type: String,
    pub entity_id: String,
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: String,
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

#[derive(Debug, Deserialize)]
struct ListQuery {
    entity_type: Option<String>,
    entity_id: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

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

#[derive(Debug, Deserialize)]
struct VerifyQuery {
    entity_type: Option<String>,
}

#[derive(Debug, Serialize)]
struct VerifyReport {
    valid: bool,
    events_checked: u64,
    first_broken: Option<BrokenLink>,
}

async fn verify(state: web::Data<AppState>, _who: Officer, q: web::Query<VerifyQuery>) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let (checked, broken) = state.db.read(move |conn| audit::verify(conn, q.entity_type.as_deref())).await?;
    Ok(HttpResponse::Ok().json(VerifyReport { valid: broken.is_none(), events_checked: checked, first_broken: broken }))
}
