//! Calendar feeds: company admins manage feed tokens
//! (`/enterprises/{id}/calendar-tokens`); calendar programs read
//! `/enterprises/{id}/calendar.ics?token=…` without signing in.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::OptionalJson;
use super::openapi as doc;
use super::pagination::Page;
use super::{Reply, State, API_PREFIX};
use crate::auth::{CompanyAdmin, Public};
use crate::db::calendar_tokens::{self as rows, CalendarTokenRow};
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services;
use crate::services::calendar::{self as svc, MAX_LABEL_CHARS};

super::route_table!("calendar", bearer: create_token, list_tokens, revoke_token; public: feed);

super::pagination::page_schema!(CalendarTokenPage, CalendarTokenView, "The enterprise's feed tokens, newest first.");

/// A feed token as listed (its secret is shown only when created).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CalendarToken)]
pub struct CalendarTokenView {
    pub id: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    /// User id of the admin who created it.
    pub created_by: String,
    /// When it was revoked; `null` while the feed works.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The whole token, present only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The feed's address with the token, only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_url: Option<String>,
    /// The same address without scheme and host, only when created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_path: Option<String>,
}

impl From<CalendarTokenRow> for CalendarTokenView {
    fn from(r: CalendarTokenRow) -> Self {
        super::from_row!(r => Self {
            id, label, created_by;
            created_at: r.created_at.and_utc(), revoked_at: r.revoked_at.map(|t| t.and_utc()),
            token: None, feed_url: None, feed_path: None
        })
    }
}

/// A new feed token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewCalendarToken {
    /// What the token is for (1–100 characters), e.g. the calendar it is given to.
    #[schema(example = "Dispatch office calendar")]
    label: Option<String>,
}

/// 404 unless the path names the caller's own enterprise.
fn own_enterprise(who: &CompanyAdmin, id: &str) -> Result<(), AppError> {
    if who.enterprise_id() == id {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Create a calendar feed token (company admins of the enterprise). The
/// token and the feed's address are in this answer only; the server keeps
/// a hash of the secret.
#[utoipa::path(
    post, path = "/api/v1/enterprises/{id}/calendar-tokens", operation_id = "create_calendar_token",
    params(("id" = String, Path, description = "The caller's enterprise id")),
    request_body(content = Option<NewCalendarToken>, description = "Optional", example = json!({"label": "Dispatch office calendar"})),
    responses(
        (status = 201, description = "The token, with its secret and feed address (shown once)", body = CalendarTokenView),
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 409, description = "`too-many-calendar-tokens`: 10 tokens are live; revoke one first", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create_token(
    state: State,
    who: CompanyAdmin,
    path: web::Path<String>,
    OptionalJson(body): OptionalJson<NewCalendarToken>,
) -> Reply {
    let enterprise_id = path.into_inner();
    own_enterprise(&who, &enterprise_id)?;
    let label = body.and_then(|b| b.label).map(|l| l.trim().to_owned()).unwrap_or_else(|| "Calendar".to_owned());
    let mut errors = FieldErrors::new();
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
        errors.add("label", "length", format!("label must be 1 to {MAX_LABEL_CHARS} characters"));
    }
    errors.into_result()?;
    let created = services::write(&state.db, &who, move |conn, ctx| svc::create(conn, ctx, &label)).await?;
    let path = format!("{API_PREFIX}/enterprises/{enterprise_id}/calendar.ics?token={}", created.token);
    let mut view = CalendarTokenView::from(created.row);
    view.feed_url = Some(format!("{}{path}", state.settings.server.public_url));
    view.feed_path = Some(path);
    view.token = Some(created.token);
    Ok(HttpResponse::Created().json(view))
}

/// The enterprise's feed tokens, revoked ones included, without secrets
/// (company admins of the enterprise).
#[utoipa::path(
    get, path = "/api/v1/enterprises/{id}/calendar-tokens", operation_id = "list_calendar_tokens",
    params(("id" = String, Path, description = "The caller's enterprise id")),
    responses((status = 200, description = "The tokens, newest first", body = CalendarTokenPage), doc::Restricted, doc::NotFound),
)]
async fn list_tokens(state: State, who: CompanyAdmin, path: web::Path<String>) -> Reply {
    let enterprise_id = path.into_inner();
    own_enterprise(&who, &enterprise_id)?;
    let tokens = state.db.read(move |conn| rows::of_enterprise(conn, &enterprise_id)).await?;
    Ok(HttpResponse::Ok().json(Page::all(tokens.into_iter().map(CalendarTokenView::from))))
}

/// Revoke a feed token: the feed refuses it from the next request on
/// (company admins of the enterprise).
#[utoipa::path(
    delete, path = "/api/v1/enterprises/{id}/calendar-tokens/{token_id}", operation_id = "revoke_calendar_token",
    params(
        ("id" = String, Path, description = "The caller's enterprise id"),
        ("token_id" = String, Path, description = "Token id"),
    ),
    responses((status = 204, description = "Revoked"), doc::Restricted, doc::NotFound),
)]
async fn revoke_token(state: State, who: CompanyAdmin, path: web::Path<(String, String)>) -> Reply {
    let (enterprise_id, token_id) = path.into_inner();
    own_enterprise(&who, &enterprise_id)?;
    services::write(&state.db, &who, move |conn, ctx| svc::revoke(conn, ctx, &token_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// The feed token (`<id>.<secret>`), as created.
    token: Option<String>,
}

/// The enterprise's active bookings as an iCalendar feed (no bearer token:
/// the feed token in the query). Each booking is one event: `UID` the
/// booking id, start and end in the site's zone (`TZID`), the site, mode,
/// vehicle and declarations in `SUMMARY`.
#[utoipa::path(
    get, path = "/api/v1/enterprises/{id}/calendar.ics", operation_id = "calendar_feed",
    params(("id" = String, Path, description = "Enterprise id"), FeedQuery),
    responses(
        (status = 200, description = "The feed", content_type = "text/calendar", body = String),
        doc::Query,
        (status = 404, description = "The token is unknown, revoked or of another enterprise", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn feed(state: State, req: Public, path: web::Path<String>, q: web::Query<FeedQuery>) -> Reply {
    let enterprise_id = path.into_inner();
    let token =
        q.into_inner().token.filter(|t| !t.is_empty()).ok_or_else(|| {
            AppError::field("token", "required", "the feed's address carries ?token=<the feed token>")
        })?;
    let now = req.now;
    let body = state
        .db
        .read(move |conn| {
            if !svc::token_admits(conn, &enterprise_id, &token)? {
                return Err(AppError::NotFound);
            }
            svc::feed(conn, &enterprise_id, now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/calendar; charset=utf-8"))
        // The feed names vehicles and declarations: not for shared caches.
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body))
}
