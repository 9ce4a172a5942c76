//! `GET /metrics`: Prometheus text exposition (no token; expose it only to
//! the monitoring network in production).

use actix_web::HttpResponse;

use super::State;

super::route_table!("health", public: metrics);

#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")),
)]
async fn metrics(state: State) -> HttpResponse {
    let db = state.db.clone();
    let text = crate::telemetry::spawn_blocking_in_span(move || crate::metrics::render(&db)).await.unwrap_or_default();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}
