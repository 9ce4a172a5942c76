//! `/bookings`: companies book, cancel and move clearance slots; officers
//! run the gate (check-in, complete, no-show).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::declarations::etag;
use super::json::{parse, ApiJson, OptionalJson};
use super::openapi as doc;
use super::pagination::{Listed, Page};
use super::{Reply, State};
use crate::auth::{AnyUser, CompanyUser, Officer};
use crate::db::bookings::BookingFilter;
use crate::domain::booking_policy::{BookingAction, BookingStatus};
use crate::domain::gate_pass::qr_svg;
use crate::domain::gather::Gather;
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::ids::{BookingId, DeclarationId, SlotId};
use crate::domain::reason::Reason;
use crate::domain::vehicle::{parse_visit, Driver, Vehicle, VisitDetails};
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services::bookings::{self as svc, BookingView};
use crate::services::{self, access};

super::route_table!("bookings", bearer: list, create, get, edit, gate_pass_svg, cancel, reschedule, check_in, complete, no_show);

super::pagination::page_schema!(BookingPage, BookingView, "One page of bookings.");

/// Book one slot for a truck carrying one or more declarations.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewBooking {
    /// One declaration (the same as `declaration_ids` of one). Give this or
    /// `declaration_ids`.
    declaration_id: Option<String>,
    /// 1 to 20 distinct declarations the vehicle carries: each `submitted`,
    /// `under_review` or `approved`, of the caller's enterprise, at the slot's
    /// site and mode, without an active booking. The visit takes one place.
    declaration_ids: Option<Vec<String>>,
    /// An open slot at the declarations' site and transport mode. With
    /// `hold_id` it may be left out (the hold's slot).
    slot_id: Option<String>,
    /// A live hold of the caller's enterprise (`POST /holds`, or a waitlist
    /// offer) to turn into this booking: its place becomes the booking's
    /// (status `converted`). An expired or released hold: 409 `hold-expired`.
    hold_id: Option<String>,
    /// The vehicle; a vehicle may hold one active booking at a time whose
    /// slot overlaps, at any site.
    vehicle: Option<Vehicle>,
    driver: Option<Driver>,
    /// 0 to 10 ISO 6346 container numbers (check digit verified).
    #[schema(example = json!(["CSQU3054383"]))]
    containers: Option<Vec<String>>,
}

/// Most declarations one truck may carry on one booking.
const MAX_DECLARATIONS_PER_VISIT: usize = 20;

/// Whether a value can be an id at all (ids are UUIDs; 64 leaves room).
fn id_shaped(value: &str) -> bool {
    !value.trim().is_empty() && value.len() <= 64
}

/// The declarations of a booking request: `declaration_id` or
/// `declaration_ids` (1–20, distinct), as a list.
fn declarations_of(body: &NewBooking, errors: &mut FieldErrors) -> Vec<DeclarationId> {
    let ids: Vec<String> = match (&body.declaration_id, &body.declaration_ids) {
        (Some(one), None) => vec![one.clone()],
        (None, Some(many)) => many.clone(),
        (Some(_), Some(_)) => {
            errors.add("declaration_ids", "conflict", "give declaration_id or declaration_ids, not both");
            return vec![];
        }
        (None, None) => {
            errors.add("declaration_ids", "required", "give the declarations the truck carries (declaration_ids)");
            return vec![];
        }
    };
    let field = if body.declaration_ids.is_some() { "declaration_ids" } else { "declaration_id" };
    if ids.is_empty() || ids.len() > MAX_DECLARATIONS_PER_VISIT {
        errors.add(field, "count", format!("a truck carries 1 to {MAX_DECLARATIONS_PER_VISIT} declarations"));
        return vec![];
    }
    let mut seen = std::collections::HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        let at = if body.declaration_ids.is_some() { format!("declaration_ids[{i}]") } else { field.to_owned() };
        if !id_shaped(id) {
            errors.add(&at, "required", "must be a declaration id");
        } else if !seen.insert(id.as_str()) {
            errors.add(&at, "duplicate", "each declaration is listed once");
        }
    }
    ids.into_iter().map(DeclarationId::new).collect()
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
        (status = 409, description = "Slot full or closed, its free places reserved for advanced_certified \
            enterprises (`reserved`), the enterprise's share reached, the declaration already booked \
            or not bookable, the hold expired or released (`hold-expired`), or a request with this \
            Idempotency-Key still in progress", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "Invalid input, too late or too early to book, wrong site or mode, \
            or the Idempotency-Key reused with another body", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create(req: HttpRequest, state: State, who: CompanyUser, ApiJson(raw): ApiJson<serde_json::Value>) -> Reply {
    let key = idempotency_key(&req)?;
    let answer = book_one(&state, &who, key, raw).await;
    let answer = answer?;
    let status = actix_web::http::StatusCode::from_u16(answer.status).unwrap_or(actix_web::http::StatusCode::CREATED);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::CONTENT_TYPE, "application/json"));
    // A new booking is at version 1; a replay answers the first answer.
    resp.insert_header((header::ETAG, etag(1)));
    if answer.replayed {
        resp.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(resp.body(answer.body))
}

/// One booking request, as `POST /bookings` and each item of
/// `POST /bookings/batch` make it: the body read and checked, the
/// Idempotency-Key claimed in this process, the booking service run in its
/// own transaction, the outcome counted. `key` is the request's key, if any.
pub(super) async fn book_one(
    state: &State,
    who: &CompanyUser,
    key: Option<IdempotencyKey>,
    raw: serde_json::Value,
) -> Result<svc::Answer, AppError> {
    let hash = svc::request_hash(&raw);
    let body: NewBooking = parse(raw)?;
    let mut errors = FieldErrors::new();
    let declaration_ids = declarations_of(&body, &mut errors);
    match (&body.slot_id, &body.hold_id) {
        (Some(slot), _) if !id_shaped(slot) => errors.add("slot_id", "required", "slot_id must be an id"),
        (_, Some(hold)) if !id_shaped(hold) => errors.add("hold_id", "required", "hold_id must be a hold id"),
        (None, None) => errors.add("slot_id", "required", "give the slot to book (slot_id) or a hold (hold_id)"),
        _ => {}
    }
    let details = errors.gather(parse_visit(body.vehicle, body.driver, body.containers));
    errors.into_result()?;
    let details = details.ok_or_else(|| AppError::internal("visit details missing after validation"))?;
    // A retry while the first request with this key still runs: 409.
    let _guard = match &key {
        Some(k) => Some(state.in_flight.claim(format!("{}:{}", who.enterprise_id(), k.as_str())).ok_or_else(|| {
            AppError::conflict("idempotency-key-in-flight", "a request with this Idempotency-Key is still in progress")
        })?),
        None => None,
    };
    let key = key.map(|k| svc::IdempotencyKey { key: k.as_str().to_owned(), request_hash: hash });
    let rules = state.bookings.clone();
    let visit = std::sync::Arc::new(svc::NewVisit {
        declaration_ids,
        slot_id: SlotId::new(body.slot_id.unwrap_or_default()),
        details,
        hold_id: body.hold_id,
    });
    let key = std::sync::Arc::new(key);
    let first = {
        let (visit, key, rules) = (visit.clone(), key.clone(), rules.clone());
        services::write_checked_within(&state.db, who, move |conn, ctx| {
            svc::try_book(conn, ctx, &visit, key.as_ref().as_ref(), &rules)
        })
        .await
    };
    let answer = match first {
        Ok(Some(answer)) => Ok(answer),
        // The slot has expired holds: an expired hold never blocks, so they
        // are freed (and offered on) in a transaction of their own, then the
        // booking runs again.
        Ok(None) => {
            services::holds::free_expired_in_slot(&state.db, visit.slot_id.as_str(), state.clock.now(), rules.clone())
                .await?;
            services::write_checked_within(&state.db, who, move |conn, ctx| {
                svc::book(conn, ctx, &visit, key.as_ref().as_ref(), &rules)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match &answer {
        Ok(a) if !a.replayed => crate::metrics::booking_created(),
        Ok(_) => {}
        Err(AppError::Refused(r)) => crate::metrics::booking_refused(r.kind()),
        Err(AppError::Conflict { kind, .. }) | Err(AppError::Unprocessable { kind, .. }) => {
            crate::metrics::booking_refused(kind)
        }
        Err(_) => {}
    }
    answer
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
    let rules = state.bookings.clone();
    let v = state.db.read(move |conn| svc::read(conn, &caller, &id, &rules)).await?;
    Ok(respond(v))
}

/// A booking answer with its version as `ETag`.
pub(super) fn respond(v: BookingView) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, etag(v.version))).json(v)
}

/// The vehicle, driver and containers to set; a field left out is kept,
/// `null` removes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BookingVisitChange)]
struct VisitChange {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vehicle>)]
    vehicle: Option<Option<Vehicle>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Driver>)]
    driver: Option<Option<Driver>>,
    /// Replaces the list; `[]` or `null` removes them all.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    containers: Option<Option<Vec<String>>>,
}

/// A field that is present (`Some`), possibly as `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Set or replace the vehicle, driver and containers of a `confirmed` booking
/// (its company's users), at the version read (`If-Match`).
///
/// A new vehicle must be free at the slot's time and gets a new gate pass
/// version: the old pass no longer admits.
#[utoipa::path(
    patch, path = "/api/v1/bookings/{id}", operation_id = "edit_booking",
    params(
        ("id" = String, Path, description = "Booking id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version the change is based on", example = "\"1\""),
    ),
    request_body(content = VisitChange, example = json!({
        "vehicle": {"plate": "01 KZ 777 AB", "country": "KZ"},
        "driver": {"name": "Nurlan Abenov", "document_number": "N12345678"},
        "containers": ["CSQU3054383"]})),
    responses(
        (status = 200, description = "The booking, changed", body = BookingView,
            headers(("ETag" = String, description = "The new version"))),
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 409, description = "Not `confirmed`, or the vehicle holds another booking whose slot overlaps", body = Problem, content_type = PROBLEM_JSON),
        (status = 412, description = "The booking changed since it was read", body = Problem, content_type = PROBLEM_JSON),
        (status = 428, description = "No `If-Match`", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn edit(
    req: HttpRequest,
    state: State,
    who: CompanyUser,
    path: web::Path<String>,
    ApiJson(raw): ApiJson<serde_json::Value>,
) -> Reply {
    let version = super::declarations::if_match(&req)?;
    let change: VisitChange = parse(raw)?;
    let parsed = parse_visit(
        change.vehicle.clone().flatten(),
        change.driver.clone().flatten(),
        change.containers.clone().flatten(),
    )?;
    let id = BookingId::new(path.into_inner());
    let rules = state.bookings.clone();
    let v = services::write(&state.db, &who, move |conn, ctx| {
        let current = svc::stored_details(&svc::visible(conn, &ctx.caller, &id)?);
        let details = VisitDetails {
            vehicle: if change.vehicle.is_some() { parsed.vehicle } else { current.vehicle },
            driver: if change.driver.is_some() { parsed.driver } else { current.driver },
            containers: if change.containers.is_some() { parsed.containers } else { current.containers },
        };
        svc::edit_visit(conn, ctx, &id, version, &details, &rules)
    })
    .await?;
    Ok(respond(v))
}

/// The booking's gate pass as a QR code to print or show on a phone: its
/// company's users and customs.
#[utoipa::path(
    get, path = "/api/v1/bookings/{id}/gate-pass.svg", operation_id = "get_gate_pass_svg",
    params(("id" = String, Path, description = "Booking id")),
    responses(
        (status = 200, description = "A QR code of `gate_pass.code`", content_type = "image/svg+xml", body = String),
        doc::Unauthorized, doc::NotFound,
    ),
)]
async fn gate_pass_svg(state: State, who: AnyUser, path: web::Path<String>) -> Reply {
    let id = BookingId::new(path.into_inner());
    let caller = who.0.caller;
    let rules = state.bookings.clone();
    let v = state.db.read(move |conn| svc::read(conn, &caller, &id, &rules)).await?;
    let svg = actix_web::web::block(move || qr_svg(&v.gate_pass.code))
        .await
        .map_err(|e| AppError::internal(format!("drawing a gate pass: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml"))
        // The pass admits a truck: not for shared caches.
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(svg))
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
///
/// An officer limited to sites sees those at their sites.
#[utoipa::path(
    get, path = "/api/v1/bookings", operation_id = "list_bookings",
    params(Listed<ListQuery>),
    responses((status = 200, description = "One page of bookings", body = BookingPage), doc::Query, doc::Unauthorized),
)]
async fn list(state: State, who: AnyUser, Listed { filter: q, page }: Listed<ListQuery>) -> Reply {
    let (limit, after) = page.window()?;
    let status = super::query::one_of::<BookingStatus>("status", q.status.as_deref())?;
    let mut filter = BookingFilter {
        enterprise_id: who.enterprise_id.clone(),
        slot_id: q.slot_id,
        site_id: q.site_id,
        sites: None,
        declaration_id: q.declaration_id,
        status,
        limit,
    };
    let party = who.caller.party();
    let rules = state.bookings.clone();
    let caller = who.0.caller;
    let (items, more) = state
        .db
        .read(move |conn| {
            filter.sites = access::allowed_sites(conn, &caller)?;
            svc::list(conn, party, &filter, after.as_deref(), &rules)
        })
        .await?;
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
    let rules = state.bookings.clone();
    let id = BookingId::new(id);
    let v = services::write(&state.db, &who, move |conn, ctx| {
        svc::cancel(conn, ctx, &id, reason.as_ref().map(Reason::as_str), &rules)
    })
    .await?;
    Ok(respond(v))
}

/// The slot to move to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RescheduleBody {
    slot_id: String,
}

/// Moves a booking of the caller's enterprise.
async fn move_booking(state: State, who: CompanyUser, id: String, ApiJson(body): ApiJson<RescheduleBody>) -> Reply {
    let rules = state.bookings.clone();
    services::holds::free_expired_in_slot(&state.db, &body.slot_id, state.clock.now(), rules.clone()).await?;
    let (id, slot_id) = (BookingId::new(id), SlotId::new(body.slot_id));
    let v =
        services::write(&state.db, &who, move |conn, ctx| svc::reschedule(conn, ctx, &id, &slot_id, &rules)).await?;
    Ok(respond(v))
}

/// Checks a booking in by its id, by the gate's rules; no body.
async fn check_in_booking(state: State, who: Officer, id: String, _body: ()) -> Reply {
    let rules = state.bookings.clone();
    let id = BookingId::new(id);
    let v = services::write(&state.db, &who, move |conn, ctx| services::gate::check_in(conn, ctx, &id, &rules)).await?;
    Ok(respond(v))
}

/// Runs a gate action after check-in (complete, no-show); they take no body.
async fn gate_action(state: State, who: Officer, id: String, _body: (), action: BookingAction) -> Reply {
    let rules = state.bookings.clone();
    let id = BookingId::new(id);
    let v = services::write(&state.db, &who, move |conn, ctx| svc::gate(conn, ctx, &id, action, &rules)).await?;
    Ok(respond(v))
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
        (status = 409, description = "New slot full, closed or its free places reserved, share reached, or the booking not movable; the old booking is kept", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "Too late or too early for the new slot, the same slot, a wrong site or mode, or an invalid body", body = Problem, content_type = PROBLEM_JSON),
    );

    /// Check a confirmed booking in at the gate (officers), by the same rules as
    /// `POST /gate/scan` (arrival window, vehicle, cleared declarations).
    check_in: Officer, () => check_in_booking;
    post "/api/v1/bookings/{id}/check-in" as "check_in_booking", "The booking, `checked_in`"
    responses(
        (status = 409, description = "`booking-not-active`, `already-checked-in` or `declarations-not-cleared`", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "`too-early`, `too-late` (with `window_opens_at`, `window_closes_at`) or `vehicle-missing`", body = Problem, content_type = PROBLEM_JSON),
    );

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
