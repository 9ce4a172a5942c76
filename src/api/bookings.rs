//! `/bookings`: companies book, cancel and move clearance slots; officers
//! run the gate (check-in, complete, no-show).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::json::{parse, ApiJson, OptionalJson};
use super::openapi as doc;
use super::pagination::{Listed, Page};
use super::{Reply, State};
use crate::auth::{AnyUser, CompanyUser, Officer};
use crate::db::bookings::BookingFilter;
use crate::domain::booking_policy::{BookingAction, BookingStatus};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::ids::{BookingId, DeclarationId, SlotId};
use crate::domain::reason::Reason;
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services;
use crate::services::bookings::{self as svc, BookingView};

super::route_table!("bookings", bearer: list, create, get, cancel, reschedule, check_in, complete, no_show);

super::pagination::page_schema!(BookingPage, BookingView, "One page of bookings.");

/// Book one slot for one declaration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewBooking {
    /// A `submitted`, `under_review` or `approved` declaration of the caller's
    /// enterprise, without an active booking.
    declaration_id: String,
    /// An open slot at the declaration's site and transport mode.
    slot_id: String,
}

/// The `Idempotency-Key` header, when sent. Bytes that are not text at
/// all make a malformed request (400), not a key breaking its rule (422).
fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, AppError> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let text = raw.to_str().map_err(|_| AppError::BadRequest("Idempotency-Key must be visible ASCII".into()))?;
    Ok(Some(IdempotencyKey::parse(text)?))
}

/// Book a slot for a declaration (company users of a verified enterprise).
///
/// Send an `Idempotency-Key` to retry safely: a retry with the same key and
/// body answers the first status and body and books nothing more.
#[utoipa::path(
    post, path = "/api/v1/bookings", operation_id = "create_booking",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Optional, recommended: 1 to 255 visible ASCII characters, unique per intended booking \
                (scoped to the enterprise, kept at least 24 hours)",
            example = "b1d7c8e2-booking-0001"),
    ),
    request_body(
        content = NewBooking,
        example = json!({"declaration_id": "0190f7a3-1b2c-7e44-8a9b-0c1d2e3f4a5b",
            "slot_id": "0190f7a1-9d8e-7f66-b5a4-3c2d1e0f9a8b"}),
    ),
    responses(
        (status = 201, description = "Booked (or the replay of a booking made with the same key and body)",
            body = BookingView,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answer is a replay"))),
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 403, description = "Not a company user, or the enterprise is not verified, is suspended or is discredited", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "Slot full or closed, the enterprise's share reached, the declaration already booked \
            or not bookable, or a request with this Idempotency-Key still in progress", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "Invalid input, too late or too early to book, wrong site or mode, \
            or the Idempotency-Key reused with another body", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create(req: HttpRequest, state: State, who: CompanyUser, ApiJson(raw): ApiJson<serde_json::Value>) -> Reply {
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
        Some(k) => Some(state.in_flight.claim(format!("{}:{}", who.enterprise_id(), k.as_str())).ok_or_else(|| {
            AppError::conflict("idempotency-key-in-flight", "a request with this Idempotency-Key is still in progress")
        })?),
        None => None,
    };
    let key = key.map(|k| svc::IdempotencyKey { key: k.as_str().to_owned(), request_hash: hash });
    let policy = state.booking_policy;
    let (declaration_id, slot_id) = (DeclarationId::new(body.declaration_id), SlotId::new(body.slot_id));
    let answer = services::write(&state.db, &who, move |conn, ctx| {
        svc::book(conn, ctx, &declaration_id, &slot_id, key.as_ref(), &policy)
    })
    .await;
    match &answer {
        Ok(a) if !a.replayed => crate::metrics::booking_created(),
        Ok(_) => {}
        Err(AppError::Refused(r)) => crate::metrics::booking_refused(r.kind()),
        Err(AppError::Conflict { kind, .. }) | Err(AppError::Unprocessable { kind, .. }) => {
            crate::metrics::booking_refused(kind)
        }
        Err(_) => {}
    }
    let answer = answer?;
    let status = actix_web::http::StatusCode::from_u16(answer.status).unwrap_or(actix_web::http::StatusCode::CREATED);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::CONTENT_TYPE, "application/json"));
    if answer.replayed {
        resp.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(resp.body(answer.body))
}

/// One booking; a company sees only its own.
#[utoipa::path(
    get, path = "/api/v1/bookings/{id}", operation_id = "get_booking",
    params(("id" = String, Path, description = "Booking id")),
    responses((status = 200, description = "The booking", body = BookingView), doc::Unauthorized, doc::NotFound),
)]
async fn get(state: State, who: AnyUser, path: web::Path<String>) -> Reply {
    let id = BookingId::new(path.into_inner());
    let caller = who.0.caller;
    let v = state.db.read(move |conn| svc::read(conn, &caller, &id)).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only bookings of this slot.
    slot_id: Option<String>,
    /// Only bookings at this site.
    site_id: Option<String>,
    /// Only bookings of this declaration.
    declaration_id: Option<String>,
    /// Only bookings in this status.
    #[param(inline, value_type = Option<crate::domain::booking_policy::BookingStatus>)]
    status: Option<String>,
}

/// List bookings (a company: its own), in creation order.
#[utoipa::path(
    get, path = "/api/v1/bookings", operation_id = "list_bookings",
    params(Listed<ListQuery>),
    responses((status = 200, description = "One page of bookings", body = BookingPage), doc::Query, doc::Unauthorized),
)]
async fn list(state: State, who: AnyUser, Listed { filter: q, page }: Listed<ListQuery>) -> Reply {
    let (limit, after) = page.window()?;
    let status = super::query::one_of::<BookingStatus>("status", q.status.as_deref())?;
    let filter = BookingFilter {
        enterprise_id: who.enterprise_id.clone(),
        slot_id: q.slot_id,
        site_id: q.site_id,
        declaration_id: q.declaration_id,
        status,
        limit,
    };
    let party = who.caller.party();
    let (items, more) = state.db.read(move |conn| svc::list(conn, party, &filter, after.as_deref())).await?;
    Ok(HttpResponse::Ok().json(Page::cut(items, more, |v| &v.id)))
}

/// Optional body of a cancellation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BookingCancellation)]
struct ReasonBody {
    /// Why, up to 1000 characters.
    #[schema(schema_with = doc::reason_optional)]
    reason: Option<String>,
}

/// Cancels a booking for whoever may cancel it.
async fn cancel_booking(state: State, who: AnyUser, id: String, OptionalJson(body): OptionalJson<ReasonBody>) -> Reply {
    let reason = Reason::optional(body.and_then(|b| b.reason).as_deref())?;
    let policy = state.booking_policy;
    let id = BookingId::new(id);
    let v = services::write(&state.db, &who, move |conn, ctx| {
        svc::cancel(conn, ctx, &id, reason.as_ref().map(Reason::as_str), &policy)
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// The slot to move to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RescheduleBody {
    slot_id: String,
}

/// Moves a booking of the caller's enterprise.
async fn move_booking(state: State, who: CompanyUser, id: String, ApiJson(body): ApiJson<RescheduleBody>) -> Reply {
    let policy = state.booking_policy;
    let (id, slot_id) = (BookingId::new(id), SlotId::new(body.slot_id));
    let v =
        services::write(&state.db, &who, move |conn, ctx| svc::reschedule(conn, ctx, &id, &slot_id, &policy)).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Runs a gate action (check-in, complete, no-show); they take no body.
async fn gate_action(state: State, who: Officer, id: String, _body: (), action: BookingAction) -> Reply {
    let policy = state.booking_policy;
    let id = BookingId::new(id);
    let v = services::write(&state.db, &who, move |conn, ctx| svc::gate(conn, ctx, &id, action, &policy)).await?;
    Ok(HttpResponse::Ok().json(v))
}

super::actions! {
    id "Booking id", answer(body = BookingView), errors(doc::Restricted, doc::NotFound);

    /// Cancel a booking and free its place: a company its own (until the cancel
    /// cut-off), customs any (with a reason).
    cancel: AnyUser, OptionalJson<ReasonBody> => cancel_booking;
    post "/api/v1/bookings/{id}/cancel" as "cancel_booking", "The booking, `cancelled`"
    request_body(content = Option<ReasonBody>, description = "Optional; no body (or `null`) means no reason", example = json!({"reason": "truck delayed at the border"}))
    responses(
        doc::JsonBody,
        (status = 409, description = "Not cancellable in its current status", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "Past the cancel cut-off, a reason over 1000 characters, customs cancelling without a reason, or an unknown field in the body", body = Problem, content_type = PROBLEM_JSON),
    );

    /// Move a booking to another slot, atomically: the new place is taken and the
    /// old freed, or nothing changes (company users).
    reschedule: CompanyUser, ApiJson<RescheduleBody> => move_booking;
    post "/api/v1/bookings/{id}/reschedule" as "reschedule_booking", "The booking on its new slot"
    request_body(content = RescheduleBody, example = json!({"slot_id": "0190f7a1-9d8e-7f66-b5a4-3c2d1e0f9a8c"}))
    responses(
        doc::JsonBody,
        (status = 409, description = "New slot full or closed, share reached, or the booking not movable; the old booking is kept", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "Too late or too early for the new slot, the same slot, a wrong site or mode, or an invalid body", body = Problem, content_type = PROBLEM_JSON),
    );

    /// Check a confirmed booking in at the gate (officers).
    check_in: Officer, () => gate_action(BookingAction::CheckIn);
    post "/api/v1/bookings/{id}/check-in" as "check_in_booking", "The booking, `checked_in`"
    responses((status = 409, description = "Not `confirmed`", body = Problem, content_type = PROBLEM_JSON));

    /// Complete a checked_in booking (officers).
    complete: Officer, () => gate_action(BookingAction::Complete);
    post "/api/v1/bookings/{id}/complete" as "complete_booking", "The booking, `completed`"
    responses((status = 409, description = "Not `checked_in`", body = Problem, content_type = PROBLEM_JSON));

    /// Mark a confirmed booking as a no-show once its slot has ended (officers).
    no_show: Officer, () => gate_action(BookingAction::NoShow);
    post "/api/v1/bookings/{id}/no-show" as "no_show_booking", "The booking, `no_show`"
    responses(
        (status = 409, description = "Not `confirmed`", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "The slot has not ended yet", body = Problem, content_type = PROBLEM_JSON),
    );
}
