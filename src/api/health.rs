//! Liveness and readiness probes (no token).

use actix_web::HttpResponse;
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi as doc;
use super::{Reply, State};

super::route_table!("health", public: live, ready);

/// Answer of the liveness probe.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Live {
    /// Always `ok`.
    pub status: &'static str,
}

/// Answer of the readiness probe.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "database": "ok"}))]
pub struct Ready {
    /// Always `ok`.
    pub status: &'static str,
    /// `ok`: the database answered.
    pub database: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(
    get, path = "/health/live", operation_id = "health_live",
    responses((status = 200, description = "The process is up", body = Live)),
)]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Live { status: "ok" })
}

/// Readiness: the process can reach its database.
#[utoipa::path(
    get, path = "/health/ready", operation_id = "health_ready",
    responses((status = 200, description = "The database is reachable", body = Ready), doc::Unavailable),
)]
async fn ready(state: State) -> Reply {
    state.db.read(|conn| conn.batch_execute("SELECT 1")).await?;
    Ok(HttpResponse::Ok().json(Ready { status: "ok", database: "ok" }))
}
