//! Liveness and readiness probes (no token).

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::error::AppResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health/live").route(web::get().to(live)))
        .service(web::resource("/health/ready").route(web::get().to(ready)));
}

/// The process is up.
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The process can reach its database.
async fn ready(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    state.db.read(|conn| conn.batch_execute("SELECT 1")).await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok", "database": "ok"})))
}
