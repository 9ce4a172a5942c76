//! `/waitlist`: a company waits with a declaration for a place at a site;
//! a freed place is offered to the first eligible entry as a hold.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::json::ApiJson;
use super::openapi as doc;
use super::pagination::{Listed, Page};
use super::{Reply, State};
use crate::auth::CompanyUser;
use crate::domain::gather::Gather;
use crate::domain::goods::TransportMode;
use crate::domain::hold::{check_window, WaitlistStatus};
use crate::error::{FieldErrors, Problem, PROBLEM_JSON};
use crate::services;
use crate::services::waitlist::{self as svc, EntryView, NewEntry};

super::route_table!("waitlist", bearer: join, list, get, withdraw);

super::pagination::page_schema!(WaitlistPage, EntryView, "One page of waitlist entries, newest first.");

/// Wait for a place in a slot of a site and mode starting in [from, to).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct JoinBody {
    /// A declaration of the caller's enterprise at that site and mode,
    /// `submitted`, `under_review` or `approved`, not booked.
    declaration_id: String,
    site_id: String,
    #[schema(value_type = TransportMode)]
    mode: String,
    /// Slots starting at or after this time (RFC 3339)…
    #[schema(example = "2026-12-02T08:00:00+08:00")]
    from: String,
    /// …and before this one (at most 62 days after `from`).
    #[schema(example = "2026-12-02T14:00:00+08:00")]
    to: String,
}

/// Join the waitlist (company users of a verified enterprise).
///
/// When a place frees in a matching slot, the first eligible waiting entry
/// (`advanced_certified` enterprises first, then the oldest) gets a hold for
/// `waitlist.offer_minutes` (15): status `offered`, `hold_id`, and a
/// `waitlist.offered` webhook. Book it with `POST /bookings` `{"hold_id", …}`.
#[utoipa::path(
    post, path = "/api/v1/waitlist", operation_id = "join_waitlist",
    request_body(content = JoinBody, example = json!({"declaration_id": "0190f7a3-1b2c-7e44-8a9b-0c1d2e3f4a5b",
        "site_id": "0190f7a0-0000-7000-8000-000000000001", "mode": "road",
        "from": "2026-12-02T08:00:00+08:00", "to": "2026-12-02T14:00:00+08:00"})),
    responses(
        (status = 201, description = "Waiting, with its position", body = EntryView),
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 409, description = "`already-waiting`, `already-booked`, or the declaration not bookable", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn join(state: State, who: CompanyUser, ApiJson(body): ApiJson<JoinBody>) -> Reply {
    let mut errors = FieldErrors::new();
    let mode = errors.gather(super::query::one_of::<TransportMode>("mode", Some(&body.mode))).flatten();
    let from = errors.gather(super::query::time("from", Some(&body.from))).flatten();
    let to = errors.gather(super::query::time("to", Some(&body.to))).flatten();
    for (field, value) in [("declaration_id", &body.declaration_id), ("site_id", &body.site_id)] {
        if value.trim().is_empty() || value.len() > 64 {
            errors.add(field, "required", format!("{field} must be an id"));
        }
    }
    if let (Some(f), Some(t)) = (from, to) {
        errors.gather(check_window(f, t, state.clock.now()));
    }
    errors.into_result()?;
    let (Some(mode), Some(from), Some(to)) = (mode, from, to) else {
        return Err(crate::error::AppError::internal("waitlist values missing after validation"));
    };
    let new = NewEntry { declaration_id: body.declaration_id, site_id: body.site_id, mode, from, to };
    let rules = state.bookings.clone();
    let v = services::write(&state.db, &who, move |conn, ctx| svc::join(conn, ctx, &new, &rules)).await?;
    Ok(HttpResponse::Created().json(v))
}

/// One entry of the caller's enterprise, with its `position` while waiting.
#[utoipa::path(
    get, path = "/api/v1/waitlist/{id}", operation_id = "get_waitlist_entry",
    params(("id" = String, Path, description = "Waitlist entry id")),
    responses((status = 200, description = "The entry", body = EntryView), doc::Restricted, doc::NotFound),
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
    /// Only entries in this status.
    #[param(inline, value_type = Option<WaitlistStatus>)]
    status: Option<String>,
}

/// The caller's enterprise's waitlist entries, newest first.
#[utoipa::path(
    get, path = "/api/v1/waitlist", operation_id = "list_waitlist",
    params(Listed<ListQuery>),
    responses((status = 200, description = "One page of entries", body = WaitlistPage), doc::Query, doc::Restricted),
)]
async fn list(state: State, who: CompanyUser, Listed { filter: q, page }: Listed<ListQuery>) -> Reply {
    let (limit, after) = page.window()?;
    let status = super::query::one_of::<WaitlistStatus>("status", q.status.as_deref())?;
    let enterprise = who.enterprise_id().to_owned();
    let (items, more) =
        state.db.read(move |conn| svc::list(conn, &enterprise, status, after.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(Page::cut(items, more, |v| &v.id)))
}

/// Withdraw an entry (waiting or offered: an offer's place is freed and offered on).
#[utoipa::path(
    delete, path = "/api/v1/waitlist/{id}", operation_id = "withdraw_waitlist_entry",
    params(("id" = String, Path, description = "Waitlist entry id")),
    responses(
        (status = 204, description = "Withdrawn"),
        doc::Restricted, doc::NotFound,
        (status = 409, description = "`waitlist-entry-state`: no longer waiting or offered", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn withdraw(state: State, who: CompanyUser, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let rules = state.bookings.clone();
    services::write(&state.db, &who, move |conn, ctx| svc::withdraw(conn, ctx, &id, &rules)).await?;
    Ok(HttpResponse::NoContent().finish())
}
