//! `/bookings`: companies book, cancel and move clearance slots; officers
//! run the gate (check-in, complete, no-show).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;

use super::json::{parse, ApiJson};
use super::pagination::{Page, PageQuery};
use crate::auth::{AnyUser, CompanyUser, Officer};
use crate::db::bookings::{self as rows, BookingFilter};
use crate::domain::booking_policy::{BookingAction, BookingStatus};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::services::bookings::{self as svc, IdempotencyKey};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/bookings").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/bookings/{id}").route(web::get().to(get)))
        .service(web::resource("/bookings/{id}/cancel").route(web::post().to(cancel)))
        .service(web::resource("/bookings/{id}/reschedule").route(web::post().to(reschedule)))
        .service(web::resource("/bookings/{id}/check-in").route(web::post().to(check_in)))
        .service(web::resource("/bookings/{id}/complete").route(web::post().to(complete)))
        .service(web::resource("/bookings/{id}/no-show").route(web::post().to(no_show)));
}

#[derive(Debug, Deserialize)]
struct NewBooking {
    declaration_id: String,
    slot_id: String,
}

/// Longest accepted `Idempotency-Key`.
const MAX_KEY_LEN: usize = 255;

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw.to_str().map_err(|_| AppError::BadRequest("Idempotency-Key must be visible ASCII".into()))?.trim();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::field(
            "Idempotency-Key",
            "format",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: CompanyUser,
    ApiJson(raw): ApiJson<serde_json::Value>,
) -> AppResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let hash = svc::request_hash(&raw);
    let body: NewBooking = parse(raw)?;
    let mut errors = FieldErrors::new();
    for (field, value) in [("declaration_id", &body.declaration_id), ("slot_id", &body.slot_id)] {
        if value.trim().is_empty() || value.len() > 64 {
            errors.add(field, "required", format!("{field} must be an id"));
        }
    }
    errors.into_result()?;
    // A retry while the first request with this key still runs: 409.
    let _guard = match &key {
        Some(k) => Some(state.in_flight.claim(format!("{}:{k}", who.enterprise_id())).ok_or_else(|| {
            AppError::conflict("idempotency-key-in-flight", "a request with this Idempotency-Key is still in progress")
        })?),
        None => None,
    };
    let key = key.map(|k| IdempotencyKey { key: k, request_hash: hash });
    let actor = super::actor(&req, Some(&who));
    let policy = state.booking_policy;
    let principal = who.0;
    let answer = state
        .db
        .write(move |conn| {
            svc::book(conn, &principal, &body.declaration_id, &body.slot_id, key.as_ref(), &policy, &actor, Utc::now())
        })
        .await?;
    let status = actix_web::http::StatusCode::from_u16(answer.status).unwrap_or(actix_web::http::StatusCode::CREATED);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::CONTENT_TYPE, "application/json"));
    if answer.replayed {
        resp.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(resp.body(answer.body))
}

async fn get(state: web::Data<AppState>, who: AnyUser, path: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let principal = who.0;
    let v = state
        .db
        .read(move |conn| {
            svc::visible(conn, &principal, &id)?;
            svc::view(conn, &id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    slot_id: Option<String>,
    site_id: Option<String>,
    declaration_id: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list(state: web::Data<AppState>, who: AnyUser, q: web::Query<ListQuery>) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let after = page.after()?;
    let status = q
        .status
        .as_deref()
        .map(|s| s.parse::<BookingStatus>().map_err(|m| AppError::field("status", "enum", m)))
        .transpose()?;
    let filter = BookingFilter {
        enterprise_id: who.enterprise_id.clone(),
        slot_id: q.slot_id,
        site_id: q.site_id,
        declaration_id: q.declaration_id,
        status: status.map(|s| s.as_str().to_owned()),
        limit: limit + 1,
    };
    let views = state
        .db
        .read(move |conn| {
            let rows = rows::list(conn, &filter, after.as_deref())?;
            let more = rows.len() as i64 > limit;
            let mut views = Vec::with_capacity(rows.len());
            for b in rows.into_iter().take(limit as usize) {
                views.push(svc::view(conn, &b.id)?);
            }
            Ok::<_, AppError>((views, more))
        })
        .await?;
    let (items, more) = views;
    let next_cursor = if more { items.last().map(|v| super::pagination::encode_cursor(&v.id)) } else { None };
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

#[derive(Debug, Default, Deserialize)]
struct ReasonBody {
    reason: Option<String>,
}

async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: AnyUser,
    path: web::Path<String>,
    body: Option<ApiJson<ReasonBody>>,
) -> AppResult<HttpResponse> {
    let reason = body.and_then(|ApiJson(b)| b.reason).map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(AppError::field("reason", "length", "reason must have at most 1000 characters"));
    }
    let actor = super::actor(&req, Some(&who));
    let policy = state.booking_policy;
    let principal = who.0;
    let id = path.into_inner();
    let v = state
        .db
        .write(move |conn| svc::cancel(conn, &principal, &id, reason.as_deref(), &policy, &actor, Utc::now()))
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Deserialize)]
struct RescheduleBody {
    slot_id: String,
}

async fn reschedule(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: CompanyUser,
    path: web::Path<String>,
    ApiJson(body): ApiJson<RescheduleBody>,
) -> AppResult<HttpResponse> {
    let actor = super::actor(&req, Some(&who));
    let policy = state.booking_policy;
    let principal = who.0;
    let id = path.into_inner();
    let v = state
        .db
        .write(move |conn| svc::reschedule(conn, &principal, &id, &body.slot_id, &policy, &actor, Utc::now()))
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

async fn gate_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Officer,
    id: String,
    action: BookingAction,
) -> AppResult<HttpResponse> {
    let actor = super::actor(&req, Some(&who));
    let policy = state.booking_policy;
    let v = state.db.write(move |conn| svc::gate(conn, &id, action, &policy, &actor, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(v))
}

async fn check_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    gate_action(req, state, who, path.into_inner(), BookingAction::CheckIn).await
}

async fn complete(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    gate_action(req, state, who, path.into_inner(), BookingAction::Complete).await
}

async fn no_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    gate_action(req, state, who, path.into_inner(), BookingAction::NoShow).await
}
