//! `/webhooks`: company admins register signed push endpoints, read the
//! delivery log and ask for a redelivery.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::ApiJson;
use super::openapi as doc;
use super::pagination::{Page, PageQuery};
use super::{Reply, State};
use crate::auth::CompanyAdmin;
use crate::db::webhooks::{self as rows, AttemptRow, DeliveryRow, WebhookRow};
use crate::domain::ids::WebhookId;
use crate::domain::webhook::{DeliveryStatus, WebhookSubscription};
use crate::error::{AppError, Problem, PROBLEM_JSON};
use crate::services;
use crate::services::outbox::event_types;
use crate::services::webhooks::{self as svc, register};

super::route_table!("webhooks", bearer: list, create, get, remove, deliveries, redeliver);

super::pagination::page_schema!(WebhookPage, WebhookView, "The enterprise's endpoints (one page).");
super::pagination::page_schema!(DeliveryPage, DeliveryView, "One page of an endpoint's deliveries, newest first.");

/// An endpoint as listed (the secret is shown only when created).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The HMAC-SHA256 signing key, present only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookView {
    /// The endpoint as listed; `secret` only in the answer that created it
    /// (the stored one is sealed).
    fn new(w: WebhookRow, secret: Option<String>) -> Self {
        super::from_row!(w => Self {
            id, url;
            events: w.event_list(), created_at: w.created_at.and_utc(), secret: secret
        })
    }
}

/// A new endpoint: an https URL (not to a loopback, private or link-local
/// address; a server set up for development also accepts http and such
/// addresses) and the event types it wants.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    #[schema(example = "https://erp.example.com/clearway/events")]
    url: String,
    #[schema(schema_with = doc::webhook_events)]
    events: Vec<String>,
}

#[utoipa::path(
    post, path = "/api/v1/webhooks", operation_id = "create_webhook",
    request_body(
        content = NewWebhook,
        example = json!({"url": "https://erp.example.com/clearway/events", "events": ["booking.confirmed", "declaration.approved"]}),
    ),
    responses(
        (status = 201, description = "The endpoint, with its signing secret (shown once; the answer is `Cache-Control: no-store`)", body = WebhookView),
        doc::JsonBody, doc::Restricted,
        (status = 403, description = "Not a company admin, or the enterprise is not verified (pending) or suspended", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "`webhook-limit`: the enterprise has `webhooks.max_per_enterprise` endpoints already", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create(state: State, who: CompanyAdmin, ApiJson(body): ApiJson<NewWebhook>) -> Reply {
    let settings = state.settings.webhooks.clone();
    let wanted = WebhookSubscription::parse(&body.url, &body.events, settings.allow_private_targets, &event_types())?;
    let (hook, secret) = services::write(&state.db, &who, move |conn, ctx| {
        register(conn, ctx, &settings, wanted.url(), wanted.events())
    })
    .await?;
    // The secret must not stay in a cache on the way.
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(WebhookView::new(hook, Some(secret))))
}

#[utoipa::path(
    get, path = "/api/v1/webhooks", operation_id = "list_webhooks",
    params(PageQuery),
    responses(
        (status = 200, description = "The enterprise's active endpoints (without secrets), in id order", body = WebhookPage),
        doc::Query, doc::Restricted,
    ),
)]
async fn list(state: State, who: CompanyAdmin, q: web::Query<PageQuery>) -> Reply {
    let (limit, after) = q.window()?;
    let ent = who.enterprise_id().to_owned();
    let hooks = state.db.read(move |conn| rows::page_for(conn, &ent, after.as_deref(), limit + 1)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(hooks, limit, |h| h.id.clone(), |h| WebhookView::new(h, None))))
}

#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}", operation_id = "get_webhook",
    params(("id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "The endpoint (without its secret)", body = WebhookView),
        doc::Restricted, doc::NotFound,
    ),
)]
async fn get(state: State, who: CompanyAdmin, path: web::Path<String>) -> Reply {
    let ent = who.enterprise_id().to_owned();
    let id = path.into_inner();
    let hook = state
        .db
        .read(move |conn| rows::find_for(conn, &id, &ent))
        .await?
        .filter(|h| h.active)
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(WebhookView::new(hook, None)))
}

#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", operation_id = "delete_webhook",
    params(("id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 204, description = "Removed; pending deliveries to it are dropped"),
        doc::Restricted, doc::NotFound,
    ),
)]
async fn remove(state: State, who: CompanyAdmin, path: web::Path<String>) -> Reply {
    let id = WebhookId::new(path.into_inner());
    services::write(&state.db, &who, move |conn, ctx| svc::remove(conn, ctx, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One attempt in the delivery log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery of one event to one endpoint, with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub log: Vec<AttemptView>,
}

impl DeliveryView {
    fn new(d: DeliveryRow, event_type: String, log: Vec<AttemptRow>) -> Self {
        Self {
            next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| d.next_attempt_at.and_utc()),
            id: d.id,
            event_id: d.event_id,
            event_type,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            delivered_at: d.delivered_at.map(|t| t.and_utc()),
            created_at: d.created_at.and_utc(),
            log: log
                .into_iter()
                .map(|a| AttemptView {
                    attempted_at: a.attempted_at.and_utc(),
                    status_code: a.status_code,
                    error: a.error,
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries",
    params(("id" = String, Path, description = "Endpoint id"), PageQuery),
    responses(
        (status = 200, description = "The delivery log, newest first", body = DeliveryPage),
        doc::Query, doc::Restricted, doc::NotFound,
    ),
)]
async fn deliveries(state: State, who: CompanyAdmin, path: web::Path<String>, q: web::Query<PageQuery>) -> Reply {
    let (limit, before) = q.window()?;
    let ent = who.enterprise_id().to_owned();
    let id = WebhookId::new(path.into_inner());
    let (logs, more) = state.db.read(move |conn| svc::deliveries(conn, &ent, &id, before.as_deref(), limit)).await?;
    let views: Vec<DeliveryView> =
        logs.into_iter().map(|(d, event_type, log)| DeliveryView::new(d, event_type, log)).collect();
    Ok(HttpResponse::Ok().json(Page::cut(views, more, |v| &v.id)))
}

#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", operation_id = "redeliver_webhook",
    params(
        ("id" = String, Path, description = "Endpoint id"),
        ("delivery_id" = String, Path, description = "Delivery id"),
    ),
    responses(
        (status = 202, description = "Queued again; the same event (same id) will be sent", body = DeliveryView),
        doc::Restricted, doc::NotFound,
        (status = 429, description = "`too-many-requests`: the endpoint had `webhooks.redeliveries_per_hour` redeliveries this hour (`Retry-After` says when to try again)", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn redeliver(state: State, who: CompanyAdmin, path: web::Path<(String, String)>) -> Reply {
    let (id, delivery_id) = path.into_inner();
    let id = WebhookId::new(id);
    let settings = state.settings.webhooks.clone();
    let (d, event_type, log) =
        services::write(&state.db, &who, move |conn, ctx| svc::redeliver(conn, ctx, &settings, &id, &delivery_id))
            .await?;
    Ok(HttpResponse::Accepted().json(DeliveryView::new(d, event_type, log)))
}
