//! `POST /bookings/batch`: up to 100 bookings in one call. Each item is
//! booked exactly as `POST /bookings` books it (the same function, its own
//! transaction and its own idempotency key) and answered in the order
//! given, with the status and body that single request would have had.

use actix_web::body::to_bytes;
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bookings::book_one;
use super::json::ApiJson;
use super::openapi as doc;
use super::{Reply, State};
use crate::auth::CompanyUser;
use crate::domain::idempotency::IdempotencyKey;
use crate::error::{AppError, FieldError, Problem, PROBLEM_JSON};
use crate::services::bookings::BookingView;

super::route_table!("bookings", bearer: create_batch);

/// Most items one batch may carry.
pub const MAX_BATCH_ITEMS: usize = 100;

/// The field of an item that carries its idempotency key.
const KEY_FIELD: &str = "idempotency_key";

/// Bookings to make, each a `POST /bookings` body plus its own
/// `idempotency_key`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    /// 1 to 100 booking bodies, each with `idempotency_key` (1–255 visible
    /// ASCII characters, as the `Idempotency-Key` header of `POST /bookings`).
    #[schema(value_type = Vec<Object>)]
    items: Vec<serde_json::Value>,
}

/// The outcome of one item.
#[derive(Debug, Serialize, ToSchema)]
struct BatchResult {
    /// The HTTP status this item would have got as a single `POST /bookings`
    /// (201, or 409, 422, 403, 404, ...).
    status: u16,
    /// The booking, for a 2xx status.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BookingView>)]
    booking: Option<serde_json::Value>,
    /// Why it was refused, otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Problem>)]
    problem: Option<serde_json::Value>,
    /// `true` when the booking is the replay of one made earlier with the same key and body.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replayed: bool,
}

/// The outcomes, in the order of the items.
#[derive(Debug, Serialize, ToSchema)]
struct BatchAnswer {
    results: Vec<BatchResult>,
}

/// Book many slots in one call (company users). Each item is a
/// `POST /bookings` body with its own `idempotency_key`; each is booked on
/// its own (one failing leaves the others as they are) and answered in
/// order with the status it would have had alone. Send the same batch again
/// to retry safely: the items already booked replay.
#[utoipa::path(
    post, path = "/api/v1/bookings/batch", operation_id = "create_bookings_batch",
    request_body(content = BatchRequest, example = json!({"items": [
        {"idempotency_key": "order-4711-truck-1", "declaration_id": "0190f7a3-1b2c-7e44-8a9b-0c1d2e3f4a5b",
            "slot_id": "0190f7a1-9d8e-7f66-b5a4-3c2d1e0f9a8b", "vehicle": {"plate": "01 KZ 777 AB", "country": "KZ"}},
        {"idempotency_key": "order-4711-truck-2", "declaration_id": "0190f7a3-1b2c-7e44-8a9b-0c1d2e3f4a5c",
            "slot_id": "0190f7a1-9d8e-7f66-b5a4-3c2d1e0f9a8b"}
    ]})),
    responses(
        (status = 200, description = "Each item's outcome, in order", body = BatchAnswer,
            example = json!({"results": [
                {"status": 201, "booking": {"id": "0190f7b0-0000-7000-8000-000000000001", "status": "confirmed"}},
                {"status": 409, "problem": {"type": "http://127.0.0.1:8080/problems/slot-full", "title": "Booking refused",
                    "status": 409, "detail": "the slot is fully booked"}}
            ]})),
        doc::JsonBody, doc::Restricted,
        (status = 422, description = "No items, more than 100, or an invalid body", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create_batch(state: State, who: CompanyUser, ApiJson(batch): ApiJson<BatchRequest>) -> Reply {
    if batch.items.is_empty() || batch.items.len() > MAX_BATCH_ITEMS {
        return Err(AppError::field(
            "items",
            "count",
            format!("a batch carries 1 to {MAX_BATCH_ITEMS} bookings; split a larger one"),
        ));
    }
    let mut results = Vec::with_capacity(batch.items.len());
    for item in batch.items {
        results.push(book_item(&state, &who, item).await);
    }
    Ok(HttpResponse::Ok().json(BatchAnswer { results }))
}

/// Books one item and answers what `POST /bookings` would have.
async fn book_item(state: &State, who: &CompanyUser, item: serde_json::Value) -> BatchResult {
    let outcome = match split_key(item) {
        Ok((key, body)) => book_one(state, who, Some(key), body).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(answer) => BatchResult {
            status: answer.status,
            booking: serde_json::from_str(&answer.body).ok(),
            problem: None,
            replayed: answer.replayed,
        },
        Err(e) => {
            let (status, problem) = problem_of(&e).await;
            BatchResult { status, booking: None, problem: Some(problem), replayed: false }
        }
    }
}

/// The item's key and the booking body without it.
fn split_key(item: serde_json::Value) -> Result<(IdempotencyKey, serde_json::Value), AppError> {
    let serde_json::Value::Object(mut body) = item else {
        return Err(AppError::BadRequest("items[]: expected a JSON object, a booking body".into()));
    };
    let key = match body.remove(KEY_FIELD) {
        Some(serde_json::Value::String(raw)) => IdempotencyKey::parse(&raw).map_err(|mut e| {
            e.0.iter_mut().for_each(|f| f.field = KEY_FIELD.to_owned());
            AppError::from(e)
        })?,
        Some(_) => return Err(AppError::BadRequest(format!("{KEY_FIELD}: expected a string"))),
        None => {
            return Err(AppError::Validation(vec![FieldError::new(
                KEY_FIELD,
                "required",
                "each item of a batch carries its own idempotency_key",
            )]))
        }
    };
    Ok((key, serde_json::Value::Object(body)))
}

/// The status and problem body the error is answered with on its own (the
/// same rendering, so a batch item's problem is the single request's).
async fn problem_of(e: &AppError) -> (u16, serde_json::Value) {
    let res = e.error_response();
    let status = res.status().as_u16();
    let body = to_bytes(res.into_body()).await.ok().and_then(|b| serde_json::from_slice(&b).ok());
    (status, body.unwrap_or_else(|| serde_json::json!({"status": status})))
}
