//! `GET /metrics`: Prometheus text exposition (no token; expose it only to
//! the monitoring network in production).

use actix_web::http::Method;
use actix_web::{web, HttpResponse};

use super::Endpoint;
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Method::GET, "/metrics", |r| r.to(metrics))]
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")),
)]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let text = crate::telemetry::spawn_blocking_in_span(move || crate::metrics::render(&db)).await.unwrap_or_default();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}
