//! `/holds`: a company keeps a place of a slot for a short time before it
//! books it (`POST /bookings` with `hold_id`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::json::ApiJson;
use super::openapi as doc;
use super::pagination::{Listed, Page};
use super::{Reply, State};
use crate::auth::CompanyUser;
use crate::domain::hold::{parse_ttl, HoldStatus};
use crate::error::{AppError, Problem, PROBLEM_JSON};
use crate::services;
use crate::services::holds::{self as svc, HoldView};

super::route_table!("holds", bearer: create, list, get, release);

super::pagination::page_schema!(HoldPage, HoldView, "One page of holds, newest first.");

/// Hold one place of a slot.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewHold {
    /// An open slot with a free place.
    slot_id: String,
    /// How long the place is kept, 30 to 1800 seconds (default
    /// `holds.ttl_seconds`, 600).
    #[serde(default, deserialize_with = "super::json::opt_integer")]
    #[schema(minimum = 30, maximum = 1800, example = 600)]
    ttl_seconds: Option<i64>,
}

/// Hold a place of a slot for a short time (company users of a verified enterprise).
///
/// The place is taken atomically like a booking's (capacity, closure,
/// reserved places) and counts toward the enterprise's share of the slot.
/// Book it with `POST /bookings` `{"hold_id", "declaration_ids", …}` before
/// `expires_at`; after that the place is freed (and offered to the waitlist).
#[utoipa::path(
    post, path = "/api/v1/holds", operation_id = "create_hold",
    request_body(content = NewHold, example = json!({"slot_id": "0190f7a1-9d8e-7f66-b5a4-3c2d1e0f9a8b", "ttl_seconds": 600})),
    responses(
        (status = 201, description = "Held", body = HoldView),
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 409, description = "`too-many-holds` (at most `holds.max_per_enterprise` live holds), or the slot \
            full, closed, reserved, or the enterprise's share reached", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create(state: State, who: CompanyUser, ApiJson(body): ApiJson<NewHold>) -> Reply {
    let ttl = parse_ttl(body.ttl_seconds, state.bookings.holds.default_ttl_seconds)?;
    if body.slot_id.trim().is_empty() || body.slot_id.len() > 64 {
        return Err(AppError::field("slot_id", "required", "slot_id must be a slot id"));
    }
    let rules = state.bookings.clone();
    svc::free_expired_in_slot(&state.db, &body.slot_id, state.clock.now(), rules.clone()).await?;
    let slot_id = body.slot_id;
    let v = services::write(&state.db, &who, move |conn, ctx| svc::create(conn, ctx, &slot_id, ttl, &rules)).await?;
    Ok(HttpResponse::Created().json(v))
}

/// One hold of the caller's enterprise (another enterprise's: 404).
#[utoipa::path(
    get, path = "/api/v1/holds/{id}", operation_id = "get_hold",
    params(("id" = String, Path, description = "Hold id")),
    responses((status = 200, description = "The hold", body = HoldView), doc::Restricted, doc::NotFound),
)]
async fn get(state: State, who: CompanyUser, path: web::Path<String>) -> Reply {
    let (id, enterprise) = (path.into_inner(), who.enterprise_id().to_owned());
    let v = state
        .db
        .read(move |conn| {
            let found = svc::own(conn, &enterprise, &id)?;
            svc::view(conn, found)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only holds in this status.
    #[param(inline, value_type = Option<HoldStatus>)]
    status: Option<String>,
}

/// The caller's enterprise's holds, newest first.
#[utoipa::path(
    get, path = "/api/v1/holds", operation_id = "list_holds",
    params(Listed<ListQuery>),
    responses((status = 200, description = "One page of holds", body = HoldPage), doc::Query, doc::Restricted),
)]
async fn list(state: State, who: CompanyUser, Listed { filter: q, page }: Listed<ListQuery>) -> Reply {
    let (limit, after) = page.window()?;
    let status = super::query::one_of::<HoldStatus>("status", q.status.as_deref())?;
    let enterprise = who.enterprise_id().to_owned();
    let (items, more) =
        state.db.read(move |conn| svc::list(conn, &enterprise, status, after.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(Page::cut(items, more, |v| &v.id)))
}

/// Release a hold: its place is freed at once (and offered to the waitlist).
#[utoipa::path(
    delete, path = "/api/v1/holds/{id}", operation_id = "release_hold",
    params(("id" = String, Path, description = "Hold id")),
    responses(
        (status = 204, description = "Released"),
        doc::Restricted, doc::NotFound,
        (status = 409, description = "`hold-expired`: the hold is no longer active (expired, released or converted)", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn release(state: State, who: CompanyUser, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let rules = state.bookings.clone();
    services::write(&state.db, &who, move |conn, ctx| svc::release(conn, ctx, &id, &rules)).await?;
    Ok(HttpResponse::NoContent().finish())
}
