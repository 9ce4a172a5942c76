//! The OpenAPI 3.1 contract, generated from the handlers' `#[utoipa::path]`
//! attributes and the DTOs' `ToSchema` derives, served at
//! `GET /api-docs/openapi.json`; Swagger UI (vendored, works offline) at `/docs`.
//!
//! Every error is RFC 9457 `application/problem+json` ([`Problem`]); the
//! reusable responses below name them once, and each operation lists the
//! 4xx ones it can answer. Any operation may also answer 500 or 503, added
//! to all of them as `5XX` by [`ApiDocExtras`].

use std::borrow::Cow;
use std::sync::LazyLock;

use actix_web::http::{header, Method};
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{PathItem, Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToResponse, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::Endpoint;
use crate::error::{AppError, AppResult, Problem};

/// Where the document is served.
pub const OPENAPI_JSON_PATH: &str = "/api-docs/openapi.json";
/// Name of the bearer security scheme.
pub const BEARER: &str = "bearer";

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Method::GET, OPENAPI_JSON_PATH, |r| r.to(openapi_json))]
}

/// The whole API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Clearway API",
        version = env!("CARGO_PKG_VERSION"),
        description = "Customs declarations and 24/7 clearance slot reservations.\n\n\
            JSON over HTTP under `/api/v1`. Times are RFC 3339 with offset; money and masses are \
            decimal strings (`\"1250.00\"`). Every error is RFC 9457 `application/problem+json`. \
            Lists answer `{\"items\": [...], \"next_cursor\": null | \"...\"}`; pass `cursor` for the \
            next page with the same filters.\n\n\
            Sign in with `POST /api/v1/auth/login` and send the access token as \
            `Authorization: Bearer <token>`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&ApiDocExtras),
    paths(
        super::health::live,
        super::health::ready,
        super::metrics::metrics,
        openapi_json,
        super::auth::register,
        super::auth::login,
        super::auth::refresh,
        super::auth::logout,
        super::auth::me,
        super::enterprises::list,
        super::enterprises::get,
        super::enterprises::verify,
        super::enterprises::suspend,
        super::enterprises::reinstate,
        super::enterprises::classify,
        super::users::list_own,
        super::users::add_clerk,
        super::users::deactivate,
        super::users::create_officer,
        super::sites::list,
        super::sites::create,
        super::sites::get,
        super::sites::update,
        super::sites::list_schedules,
        super::sites::create_schedule,
        super::sites::change_schedule,
        super::slots::list,
        super::slots::get,
        super::slots::change,
        super::declarations::list,
        super::declarations::create,
        super::declarations::get,
        super::declarations::edit,
        super::declarations::history,
        super::declarations::submit,
        super::declarations::cancel,
        super::declarations::review,
        super::declarations::approve,
        super::declarations::reject,
        super::declarations::request_amendment,
        super::declarations::release,
        super::bookings::list,
        super::bookings::create,
        super::bookings::get,
        super::bookings::cancel,
        super::bookings::reschedule,
        super::bookings::check_in,
        super::bookings::complete,
        super::bookings::no_show,
        super::webhooks::list,
        super::webhooks::create,
        super::webhooks::get,
        super::webhooks::remove,
        super::webhooks::deliveries,
        super::webhooks::redeliver,
        super::audit::list,
        super::audit::verify,
    ),
    components(
        schemas(
            TransportModeValue,
            EnterpriseStatusValue,
            CreditClassValue,
            CustomsRoleValue,
            DeclarationStatusValue,
            DeclarationKindValue,
            RiskLaneValue,
            BookingStatusValue,
            SlotStatusValue,
            WeekdayValue,
            WebhookEventTypeValue,
        ),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PreconditionFailed,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unprocessable,
            PreconditionRequired,
            TooManyRequests,
            Unavailable,
            ServerError,
        ),
    ),
    tags(
        (name = "health", description = "Liveness and readiness probes (no token)"),
        (name = "docs", description = "This document (no token)"),
        (name = "auth", description = "Registration, sign-in, token rotation, sign-out and the signed-in user"),
        (name = "enterprises", description = "Companies: officers verify, suspend, reinstate and classify them"),
        (name = "users", description = "Company users (managed by their admin) and customs accounts"),
        (name = "sites", description = "Clearance sites and their 24/7 schedules"),
        (name = "slots", description = "Clearance slots: availability, capacity, closing"),
        (name = "declarations", description = "Customs declarations: filing, editing, review; state changes are POSTs to actions"),
        (name = "bookings", description = "Slot bookings: book, cancel, reschedule; the gate (check-in, complete, no-show)"),
        (name = "webhooks", description = "Signed push notifications to the company's systems, with a delivery log"),
        (name = "audit", description = "The hash-chained audit trail (officers)"),
    ),
)]
pub struct ApiDoc;

/// What the derive cannot say: the bearer scheme, and the `5XX` answer
/// every operation may give.
pub struct ApiDocExtras;

impl Modify for ApiDocExtras {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The access token from `POST /api/v1/auth/login` or `/auth/refresh` (15 minutes).",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for op in operations(item) {
                op.responses
                    .responses
                    .entry("5XX".to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name("ServerError")));
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The document as served: built and serialised once.
static DOCUMENT: LazyLock<Result<Bytes, String>> =
    LazyLock::new(|| ApiDoc::openapi().to_json().map(Bytes::from).map_err(|e| e.to_string()));

/// This OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api-docs/openapi.json",
    operation_id = "get_openapi",
    tag = "docs",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)),
)]
async fn openapi_json() -> AppResult<HttpResponse> {
    let body = DOCUMENT.as_ref().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().content_type("application/json").body(body.clone()))
}

/// Registers Swagger UI at `/docs/` (and `/docs`, which redirects there).
/// Its files come from the `utoipa-swagger-ui-vendored` crate, embedded at
/// build time: nothing is fetched from a CDN, at build time or in the browser.
pub fn configure_ui(cfg: &mut web::ServiceConfig) {
    let config = Config::new([OPENAPI_JSON_PATH])
        // The default validator badge would call validator.swagger.io.
        .validator_url("none")
        .persist_authorization(true);
    cfg.service(web::resource("/docs").route(web::get().to(docs_redirect)))
        .service(SwaggerUi::new("/docs/{_:.*}").config(config));
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, "/docs/")).finish()
}

// Request values the server checks against a closed list. Each schema takes
// its values from the code that does the checking, so the document and the
// server cannot drift apart; a value outside the list is a 422.

/// Declares a named string enumeration schema (`$name` in the document).
macro_rules! string_enum {
    ($(#[doc = $doc:literal])+ $ty:ident, $name:literal, $values:expr) => {
        $(#[doc = $doc])+
        pub struct $ty;

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                let description = [$($doc),+].map(str::trim).join(" ");
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some($values))
                    .description(Some(description))
                    .into()
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

string_enum!(
    /// A transport mode.
    TransportModeValue,
    "TransportMode",
    crate::domain::goods::TransportMode::ALL.iter().map(|m| m.as_str())
);
string_enum!(
    /// Where an enterprise stands with customs.
    EnterpriseStatusValue,
    "EnterpriseStatus",
    crate::domain::identity::EnterpriseStatus::ALL.iter().map(|s| s.as_str())
);
string_enum!(
    /// An enterprise's customs credit class.
    CreditClassValue,
    "CreditClass",
    crate::domain::identity::CreditClass::ALL.iter().map(|c| c.as_str())
);
string_enum!(
    /// The role of a customs account.
    CustomsRoleValue,
    "CustomsRole",
    crate::domain::identity::Role::ALL.iter().filter(|r| r.is_customs()).map(|r| r.as_str())
);
string_enum!(
    /// Where a declaration stands in its review.
    DeclarationStatusValue,
    "DeclarationStatus",
    crate::domain::declaration::DeclarationStatus::ALL.iter().map(|s| s.as_str())
);
string_enum!(
    /// Direction of the goods across the border.
    DeclarationKindValue,
    "DeclarationKind",
    crate::domain::declaration::DeclarationKind::ALL.iter().map(|k| k.as_str())
);
string_enum!(
    /// Inspection channel assigned on approval.
    RiskLaneValue,
    "RiskLane",
    crate::domain::declaration::RiskLane::ALL.iter().map(|l| l.as_str())
);
string_enum!(
    /// Where a booking stands.
    BookingStatusValue,
    "BookingStatus",
    crate::domain::booking_policy::BookingStatus::ALL.iter().map(|s| s.as_str())
);
string_enum!(
    /// Whether a slot takes bookings.
    SlotStatusValue,
    "SlotStatus",
    super::slots::SLOT_STATUSES
);
string_enum!(
    /// A day of the week (full English names such as `monday` are understood too).
    WeekdayValue,
    "Weekday",
    crate::domain::schedule::Weekdays::ALL.names()
);
string_enum!(
    /// A webhook event type.
    WebhookEventTypeValue,
    "WebhookEventType",
    crate::services::outbox::event_types()
);

/// `base` (an object schema's name) with at least one of `fields` given and
/// not `null`: `allOf: [base, anyOf: [{required: [field], field: schema}, …]]`.
pub fn with_one_of_required<'a>(
    base: &str,
    fields: impl IntoIterator<Item = (&'a str, RefOr<Schema>)>,
    description: &str,
) -> RefOr<Schema> {
    let any = fields.into_iter().fold(AnyOfBuilder::new(), |any, (field, schema)| {
        any.item(ObjectBuilder::new().property(field, schema).required(field))
    });
    AllOfBuilder::new().item(Ref::from_schema_name(base)).item(any).description(Some(description)).into()
}

/// An integer (not `null`).
pub fn integer() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Integer).into()
}

/// `type: [<t>, "null"]`: the field may be `null` (which means absent).
fn nullable(t: Type) -> SchemaType {
    SchemaType::from_iter([t, Type::Null])
}

/// An array of `T` values: at least one, each at most once when `unique`.
fn list_of<T: ToSchema>(description: &str, unique: bool, null: bool, example: Option<serde_json::Value>) -> Schema {
    ArrayBuilder::new()
        .schema_type(if null { nullable(Type::Array) } else { SchemaType::new(Type::Array) })
        .items(Ref::from_schema_name(T::name()))
        .min_items(Some(1))
        .unique_items(unique)
        .description(Some(description))
        .examples(example)
        .into()
}

/// `modes` of a new site.
pub fn site_modes() -> Schema {
    list_of::<TransportModeValue>(
        "Transport modes served: at least one, each once.",
        true,
        false,
        Some(serde_json::json!(["road", "rail"])),
    )
}

/// `modes` of a site change (`null`: unchanged).
pub fn site_modes_change() -> Schema {
    list_of::<TransportModeValue>(
        "Replaces the list of transport modes: at least one, each once; `null` or absent keeps it.",
        true,
        true,
        None,
    )
}

/// `days` of a new schedule (`null`: every day).
pub fn schedule_days() -> Schema {
    list_of::<WeekdayValue>("Days of the week served, at least one; `null` or absent: every day.", false, true, None)
}

/// `days` of a schedule change (`null`: unchanged).
pub fn schedule_days_change() -> Schema {
    list_of::<WeekdayValue>("Days of the week served, at least one; `null` or absent keeps them.", false, true, None)
}

/// `events` of a new webhook endpoint.
pub fn webhook_events() -> Schema {
    list_of::<WebhookEventTypeValue>(
        "Event types to receive, at least one (a repeated one counts once).",
        false,
        false,
        Some(serde_json::json!(["booking.confirmed", "booking.cancelled", "declaration.approved"])),
    )
}

/// What `str::trim` removes (Unicode White_Space), spelled out because
/// regular expression engines disagree on `\s` (Python's also has U+001C–U+001F).
const TRIMMED: &str = r"\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// A pattern for text that has 1 to `max` characters once trimmed; with
/// `blank_ok`, blank text (which the server reads as absent) matches too.
fn trimmed_pattern(max: usize, blank_ok: bool) -> String {
    let inner = format!(r"[^{TRIMMED}]([\s\S]{{0,{}}}[^{TRIMMED}])?", max.saturating_sub(2));
    let inner = if blank_ok { format!("({inner})?") } else { inner };
    format!(r"^[{TRIMMED}]*{inner}[{TRIMMED}]*$")
}

fn text(description: &str, max: usize, blank_ok: bool, null: bool) -> Schema {
    ObjectBuilder::new()
        .schema_type(if null { nullable(Type::String) } else { SchemaType::new(Type::String) })
        .pattern(Some(trimmed_pattern(max, blank_ok)))
        .description(Some(description))
        .into()
}

/// A required reason: text, not blank, at most 1000 characters once trimmed.
pub fn reason_required() -> Schema {
    text("Why: 1 to 1000 characters, surrounding white space not counted.", 1000, false, false)
}

/// An optional reason: at most 1000 characters once trimmed; blank or `null` means none.
pub fn reason_optional() -> Schema {
    text(
        "Why, optional: up to 1000 characters, surrounding white space not counted; blank means none.",
        1000,
        true,
        true,
    )
}

/// The reason of a suspension: required, not blank.
pub fn suspension_reason() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("[^{TRIMMED}]")))
        .description(Some("Why the enterprise is suspended; required, not blank."))
        .into()
}

/// A new site name (`null`: unchanged).
pub fn site_name_change() -> Schema {
    text("1 to 200 characters, surrounding white space not counted; `null` or absent keeps it.", 200, false, true)
}

/// A field whose only accepted value is `null` (or its absence).
pub fn only_null(description: &str) -> Schema {
    ObjectBuilder::new().schema_type(Type::Null).description(Some(description)).into()
}

// Reusable error responses. Each is a `Problem` sent as problem+json.

/// Malformed request: invalid JSON, a wrong JSON type, or a bad path or query parameter.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/malformed-request", "title": "Malformed request",
        "status": 400, "detail": "capacity: invalid type: string \"ten\", expected i64"})
)]
pub struct BadRequest(pub Problem);

/// Missing, malformed or expired bearer token (or wrong credentials).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer`")),
    example = json!({"type": "https://clearway.example/problems/unauthorized", "title": "Authentication required",
        "status": 401, "detail": "missing bearer token"})
)]
pub struct Unauthorized(pub Problem);

/// The caller's role, or its enterprise's status (pending, suspended, discredited), may not do this.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/forbidden", "title": "Not allowed",
        "status": 403, "detail": "this action is for officers"})
)]
pub struct Forbidden(pub Problem);

/// No such resource, or one of another enterprise.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/not-found", "title": "Not found",
        "status": 404, "detail": "no such resource"})
)]
pub struct NotFound(pub Problem);

/// Conflict with the current state: illegal transition, duplicate, slot full, share reached, already booked.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/slot-full", "title": "Booking refused",
        "status": 409, "detail": "the slot is fully booked"})
)]
pub struct Conflict(pub Problem);

/// `If-Match` names a version that is not the current one.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/stale-version", "title": "Precondition failed",
        "status": 412, "detail": "the declaration changed since you read it"})
)]
pub struct PreconditionFailed(pub Problem);

/// The body exceeds the server's limit.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/payload-too-large", "title": "Payload too large",
        "status": 413, "detail": "the body exceeds 1048576 bytes"})
)]
pub struct PayloadTooLarge(pub Problem);

/// The body is not sent as `Content-Type: application/json`.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/unsupported-media-type",
        "title": "Unsupported media type", "status": 415, "detail": "send Content-Type: application/json"})
)]
pub struct UnsupportedMediaType(pub Problem);

/// A value breaks a rule: validation (with `errors`, one per field), or a booking rule (too late, beyond the horizon, ...).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/validation", "title": "Invalid input",
        "status": 422, "detail": "1 field(s) are invalid",
        "errors": [{"field": "email", "code": "required", "message": "email is required"}]})
)]
pub struct Unprocessable(pub Problem);

/// `If-Match` is missing (or `*`).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/if-match-required", "title": "Precondition required",
        "status": 428, "detail": "send If-Match with the ETag you read"})
)]
pub struct PreconditionRequired(pub Problem);

/// Too many attempts; retry after the time given.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait")),
    example = json!({"type": "https://clearway.example/problems/too-many-requests", "title": "Too many requests",
        "status": 429, "detail": "too many attempts; retry after 60 s"})
)]
pub struct TooManyRequests(pub Problem);

/// The database is busy or unreachable; retry shortly.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait")),
    example = json!({"type": "https://clearway.example/problems/unavailable", "title": "Service temporarily unavailable",
        "status": 503, "detail": "the database is busy; retry shortly"})
)]
pub struct Unavailable(pub Problem);

/// An unexpected error (500, logged; no detail is given) or a busy database (503, with `Retry-After`).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "https://clearway.example/problems/internal", "title": "Internal server error",
        "status": 500, "detail": "an unexpected error occurred; it has been logged"})
)]
pub struct ServerError(pub Problem);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_trimmed_class_is_exactly_what_trim_removes() {
        // The ranges spelled in `TRIMMED`.
        let listed = |c: u32| matches!(c, 0x09..=0x0D | 0x20 | 0x85 | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000);
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(c.is_whitespace(), listed(c as u32), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn trimmed_patterns_allow_1_to_max_characters_between_white_space() {
        let ws = format!("[{TRIMMED}]");
        let keep = format!("[^{TRIMMED}]");
        assert_eq!(trimmed_pattern(5, false), format!(r"^{ws}*{keep}([\s\S]{{0,3}}{keep})?{ws}*$"));
        assert_eq!(trimmed_pattern(1000, true), format!(r"^{ws}*({keep}([\s\S]{{0,998}}{keep})?)?{ws}*$"));
    }

    #[test]
    fn value_lists_come_from_the_checking_code() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let values = |name: &str| doc["components"]["schemas"][name]["enum"].as_array().unwrap().len();
        assert_eq!(values("TransportMode"), 3);
        assert_eq!(values("CustomsRole"), 2);
        assert_eq!(values("Weekday"), 7);
        assert_eq!(values("WebhookEventType"), crate::services::outbox::event_types().len());
    }
}
