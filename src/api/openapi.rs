//! The OpenAPI 3.1 contract, generated from the handlers' `#[utoipa::path]`
//! attributes (gathered from the route tables, see [`super::route_table!`]) and
//! the DTOs' `ToSchema` derives, served at `GET /api-docs/openapi.json`;
//! Swagger UI (vendored, works offline) at `/docs`.
//!
//! Every error is RFC 9457 `application/problem+json` ([`Problem`]); the
//! reusable responses below name them once, and each operation lists the
//! 4xx ones it can answer, alone (`doc::NotFound`) or as a set
//! (`doc::JsonBody`). Any operation may also answer 500 or 503, added to all
//! of them as `5XX` by [`document`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoResponses, OpenApi, PartialSchema, ToResponse, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::Reply;
use crate::domain::reason::MAX_REASON_CHARS;
use crate::error::{problem_type_uri, AppError, Problem, DEFAULT_PUBLIC_URL};

/// Where the document is served.
pub const OPENAPI_JSON_PATH: &str = "/api-docs/openapi.json";
/// Name of the bearer security scheme.
pub const BEARER: &str = "bearer";

super::route_table!("docs", public: openapi_json);

/// What the document says besides the operations: the introduction, the
/// shared schemas and responses, and the tags.
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
    components(
        schemas(
            Problem,
            crate::domain::goods::TransportMode,
            crate::domain::identity::EnterpriseStatus,
            crate::domain::identity::CreditClass,
            CustomsRoleValue,
            crate::domain::declaration::DeclarationStatus,
            crate::domain::declaration::DeclarationKind,
            crate::domain::declaration::RiskLane,
            crate::domain::booking_policy::BookingStatus,
            crate::domain::slot::SlotStatus,
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
        (name = "bookings", description = "Truck visits: book a slot for a vehicle and its declarations, edit, cancel, reschedule; gate passes; check-in, complete, no-show"),
        (name = "closures", description = "Closing or reducing a site's slots over a time range; displaced bookings move or are cancelled"),
        (name = "gate", description = "The gate: scan a gate pass or a plate to check a truck in"),
        (name = "webhooks", description = "Signed push notifications to the company's systems, with a delivery log"),
        (name = "audit", description = "The hash-chained audit trail (officers)"),
        (name = "reports", description = "Utilisation of capacity and review times (officers), as JSON or CSV"),
        (name = "public", description = "The public board: sites and free places per slot, without a token; cacheable, rate-limited per address"),
        (name = "calendar", description = "Calendar feeds of an enterprise's bookings (iCalendar) and their revocable tokens"),
    ),
)]
pub struct ApiDoc;

/// The whole API description: [`ApiDoc`] with every served endpoint
/// (exactly the route tables that [`super::configure`] registers), the
/// bearer scheme, and the `5XX` answer every operation may give.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut openapi = ApiDoc::openapi();
    for endpoint in super::endpoints() {
        openapi.merge(endpoint.document());
    }
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("The access token from `POST /api/v1/auth/login` or `/auth/refresh` (15 minutes)."))
                .build(),
        ),
    );
    for item in openapi.paths.paths.values_mut() {
        for (_, op) in super::operations(item) {
            op.responses.responses.entry("5XX".to_owned()).or_insert_with(reference::<ServerError>);
        }
    }
    openapi
}

/// The document as served: built and serialised once.
static DOCUMENT: LazyLock<Result<Bytes, String>> =
    LazyLock::new(|| document().to_json().map(Bytes::from).map_err(|e| e.to_string()));

/// This OpenAPI 3.1 document.
#[utoipa::path(
    get, path = "/api-docs/openapi.json", operation_id = "get_openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)),
)]
async fn openapi_json() -> Reply {
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
        // A token pasted into "Authorize" stays in the page's memory, never
        // in localStorage where any script of the origin could read it later.
        .persist_authorization(false);
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
    /// The role of a customs account.
    CustomsRoleValue,
    "CustomsRole",
    crate::domain::identity::Role::ALL.iter().filter(|r| r.is_customs()).map(|r| r.as_str())
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
    list_of::<crate::domain::goods::TransportMode>(
        "Transport modes served: at least one, each once.",
        true,
        false,
        Some(serde_json::json!(["road", "rail"])),
    )
}

/// `modes` of a site change (`null`: unchanged).
pub fn site_modes_change() -> Schema {
    list_of::<crate::domain::goods::TransportMode>(
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
    text("Why: 1 to 1000 characters, surrounding white space not counted.", MAX_REASON_CHARS, false, false)
}

/// An optional reason: at most 1000 characters once trimmed; blank or `null` means none.
pub fn reason_optional() -> Schema {
    text(
        "Why, optional: up to 1000 characters, surrounding white space not counted; blank means none.",
        MAX_REASON_CHARS,
        true,
        true,
    )
}

/// The optional reason of an enterprise's status change (a suspension's is required).
pub fn status_change_reason() -> Schema {
    text(
        "Why; required to suspend. Up to 1000 characters, surrounding white space not counted; blank means none.",
        MAX_REASON_CHARS,
        true,
        true,
    )
}

/// The optional reason of a slot change.
pub fn slot_change_reason() -> Schema {
    text(
        "Why; recorded on cancelled bookings and in the audit trail. Up to 1000 characters, surrounding white \
            space not counted; blank means none.",
        MAX_REASON_CHARS,
        true,
        true,
    )
}

/// A new site name (`null`: unchanged).
pub fn site_name_change() -> Schema {
    text("1 to 200 characters, surrounding white space not counted; `null` or absent keeps it.", 200, false, true)
}

/// A field whose only accepted value is `null` (or its absence).
pub fn only_null(description: &str) -> Schema {
    ObjectBuilder::new().schema_type(Type::Null).description(Some(description)).into()
}

// Reusable error responses. Each is a `Problem` sent as problem+json, under
// its own name in `components.responses`; in an operation's `responses(...)`
// it stands for its status (`doc::NotFound` is the 404).

/// `$ref` to a reusable response.
fn reference<'a, R: ToResponse<'a>>() -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(R::response().0))
}

/// The example of a problem answer (with `errors` when given).
fn example(status: u16, slug: &str, title: &str, detail: &str, errors: Option<serde_json::Value>) -> serde_json::Value {
    let mut example = serde_json::json!({"type": problem_type_uri(DEFAULT_PUBLIC_URL, slug), "title": title, "status": status, "detail": detail});
    if let Some(errors) = errors {
        example["errors"] = errors;
    }
    example
}

/// Declares reusable problem responses, a row each: `$name` is answered
/// with `$status`; its example has problem type `$slug`, `$title`,
/// `$detail`, and `errors` when given.
macro_rules! problem_responses {
    ($($(#[doc = $doc:literal])+ $name:ident = $status:literal, $slug:literal, $title:literal, $detail:literal
        $(, headers($($header:tt)*))? $(, errors = $errors:expr)?;)+) => {$(
        $(#[doc = $doc])+
        #[derive(ToResponse)]
        #[response(
            content_type = "application/problem+json",
            $(headers($($header)*),)?
            example = json!(example($status, $slug, $title, $detail, None $(.or(Some($errors)))?))
        )]
        pub struct $name(pub Problem);

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([($status.to_string(), reference::<$name>())])
            }
        }
    )+};
}

/// Declares sets of answers operations list together
/// (`responses(..., doc::JsonBody)`), a row each: `$name` joins the
/// reusable responses `$part`.
macro_rules! response_sets {
    ($($(#[doc = $doc:literal])+ $name:ident = $($part:ty)|+;)+) => {$(
        $(#[doc = $doc])+
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let mut all = BTreeMap::new();
                $(all.extend(<$part as IntoResponses>::responses());)+
                all
            }
        }
    )+};
}

problem_responses! {
    /// Malformed request: invalid JSON, a wrong JSON type, or a bad path or query parameter.
    BadRequest = 400, "malformed-request", "Malformed request", "capacity: invalid type: string \"ten\", expected i64";
    /// Missing, malformed or expired bearer token (or wrong credentials).
    Unauthorized = 401, "unauthorized", "Authentication required", "missing bearer token",
        headers(("WWW-Authenticate" = String, description = "`Bearer`"));
    /// The caller's role, or its enterprise's status (pending, suspended, discredited), may not do this.
    Forbidden = 403, "forbidden", "Not allowed", "this action is for officers";
    /// No such resource, or one of another enterprise.
    NotFound = 404, "not-found", "Not found", "no such resource";
    /// Conflict with the current state: illegal transition, duplicate, slot full or reserved, share reached, already booked.
    Conflict = 409, "slot-full", "Booking refused", "the slot is fully booked";
    /// `If-Match` names a version that is not the current one.
    PreconditionFailed = 412, "stale-version", "Precondition failed", "the declaration changed since you read it";
    /// The body exceeds the server's limit.
    PayloadTooLarge = 413, "payload-too-large", "Payload too large", "the body exceeds 1048576 bytes";
    /// The body is not sent as `Content-Type: application/json`.
    UnsupportedMediaType = 415, "unsupported-media-type", "Unsupported media type", "send Content-Type: application/json";
    /// A value breaks a rule: validation (with `errors`, one per field), or a booking rule (too late, beyond the horizon, ...).
    Unprocessable = 422, "validation", "Invalid input", "1 field(s) are invalid",
        errors = serde_json::json!([{"field": "email", "code": "required", "message": "email is required"}]);
    /// `If-Match` is missing (or `*`).
    PreconditionRequired = 428, "if-match-required", "Precondition required", "send If-Match with the ETag you read";
    /// Too many attempts; retry after the time given.
    TooManyRequests = 429, "too-many-requests", "Too many requests", "too many attempts; retry after 60 s",
        headers(("Retry-After" = u64, description = "Seconds to wait"));
    /// The database is busy or unreachable; retry shortly.
    Unavailable = 503, "unavailable", "Service temporarily unavailable", "the database is busy; retry shortly",
        headers(("Retry-After" = u64, description = "Seconds to wait"));
    /// An unexpected error (500, logged; no detail is given) or a busy database (503, with `Retry-After`).
    ServerError = 500, "internal", "Internal server error", "an unexpected error occurred; it has been logged";
}

response_sets! {
    /// A signed-in caller whose role (or enterprise's status) may not allow this: 401, 403.
    Restricted = Unauthorized | Forbidden;
    /// A JSON body: malformed (400), too large (413), not JSON (415), or breaking a rule (422).
    JsonBody = BadRequest | PayloadTooLarge | UnsupportedMediaType | Unprocessable;
    /// A checked query string: malformed (400) or a value breaking a rule (422).
    Query = BadRequest | Unprocessable;
}

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
        let doc = serde_json::to_value(document()).unwrap();
        let values = |name: &str| doc["components"]["schemas"][name]["enum"].as_array().unwrap().len();
        assert_eq!(values("TransportMode"), 3);
        assert_eq!(values("CustomsRole"), 2);
        assert_eq!(values("Weekday"), 7);
        assert_eq!(values("WebhookEventType"), crate::services::outbox::event_types().len());
    }
}
