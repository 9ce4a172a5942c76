//! One application error type, answered as RFC 9457 `application/problem+json`.
//!
//! Handlers return `AppError`; models return `QueryResult` and never HTTP
//! errors. A 500 logs its cause and hides it: no SQL, stack or secret ever
//! reaches a response.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::connection::RunError;
use crate::domain::booking_policy::Refusal;
use crate::domain::gate::GateRefusal;

/// `server.public_url` when none is set: where `cargo run` serves.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// Path under the public URL where this binary serves one page per problem
/// type (`src/api/problems.rs`); `type` is `<public_url>/problems/<slug>`.
pub const PROBLEM_PATH: &str = "/problems/";

/// The public URL problem types are built on, set once at start-up.
/// A process-wide value because `ResponseError::error_response` sees no
/// request or state; one process serves one public address.
static PROBLEM_BASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the public URL that `type` URIs start with (`server.public_url`).
/// The first call wins; later ones are ignored and return `false`.
pub fn set_public_url(public_url: &str) -> bool {
    PROBLEM_BASE.set(public_url.trim_end_matches('/').to_owned()).is_ok()
}

/// `<public_url>/problems/<slug>`: the `type` of a problem, a page this
/// binary serves.
pub fn problem_type_uri(public_url: &str, slug: &str) -> String {
    format!("{}{PROBLEM_PATH}{slug}", public_url.trim_end_matches('/'))
}

/// The `type` URI of a slug on this process's public URL.
pub fn problem_type(slug: &str) -> String {
    problem_type_uri(PROBLEM_BASE.get().map_or(DEFAULT_PUBLIC_URL, String::as_str), slug)
}
/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

pub use crate::domain::fields::{FieldError, FieldErrors, Invalid};

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A rule refused a well-formed value (422) with its own problem type.
    #[error("{detail}")]
    Unprocessable { kind: &'static str, detail: String },
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// An id named in the request body that does not exist (or is another
    /// enterprise's): the answer says which.
    #[error("no {what} {id}")]
    Missing { what: &'static str, id: String },
    #[error("{detail}")]
    Conflict { kind: &'static str, detail: String },
    /// A refusal of its own type and status that names what it concerns
    /// (`members`, a JSON object, become members of the problem).
    #[error("{detail}")]
    Described { status: StatusCode, kind: &'static str, detail: String, members: serde_json::Value },
    #[error("precondition failed")]
    PreconditionFailed(String),
    #[error("precondition required")]
    PreconditionRequired(String),
    #[error("payload too large")]
    PayloadTooLarge(String),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable")]
    Unavailable,
    /// Too much work of one kind is queued (e.g. password hashes): 503.
    #[error("overloaded: {0}")]
    Overloaded(&'static str),
    /// The request took longer than the server's deadline.
    #[error("request timed out")]
    RequestTimeout(u64),
    /// A booking rule refused the request; its kind names the reason.
    #[error("{}", .0.message())]
    Refused(Refusal),
    /// The gate did not admit a truck; its kind names the reason.
    #[error("{}", .0.message())]
    Gate(GateRefusal),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Self {
        AppError::Conflict { kind, detail: detail.into() }
    }
    pub fn unprocessable(kind: &'static str, detail: impl Into<String>) -> Self {
        AppError::Unprocessable { kind, detail: detail.into() }
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        AppError::Forbidden(detail.into())
    }
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, code, message)])
    }
    /// The HTTP status of a booking refusal: 409 for conflicts with the
    /// current state, 422 for rules on the request's values (timing, site),
    /// 403 for who may not book.
    fn refusal_status(r: &Refusal) -> StatusCode {
        match r {
            Refusal::SlotFull
            | Refusal::Reserved { .. }
            | Refusal::ShareExceeded { .. }
            | Refusal::SlotClosed
            | Refusal::DeclarationState { .. }
            | Refusal::AlreadyBooked { .. }
            | Refusal::VehicleAlreadyBooked { .. }
            | Refusal::BookingState { .. } => StatusCode::CONFLICT,
            Refusal::TooLate { .. }
            | Refusal::BeyondHorizon { .. }
            | Refusal::SlotStarted
            | Refusal::WrongSiteOrMode
            | Refusal::CancelCutoff { .. }
            | Refusal::SlotNotEnded
            | Refusal::SameSlot => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Discredited | Refusal::NotVerified { .. } => StatusCode::FORBIDDEN,
        }
    }
    /// The HTTP status of a gate refusal: 422 for what was presented (the
    /// code, the time, a booking without vehicle), 409 for the booking's
    /// state, 404 for a vehicle nobody booked.
    fn gate_status(r: &GateRefusal) -> StatusCode {
        match r {
            GateRefusal::PassInvalid
            | GateRefusal::TooEarly { .. }
            | GateRefusal::TooLate { .. }
            | GateRefusal::VehicleMissing { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            GateRefusal::WrongSite { .. }
            | GateRefusal::PassSuperseded { .. }
            | GateRefusal::NotActive { .. }
            | GateRefusal::AlreadyCheckedIn { .. }
            | GateRefusal::DeclarationsNotCleared { .. } => StatusCode::CONFLICT,
            GateRefusal::NoBookingForVehicle { .. } => StatusCode::NOT_FOUND,
        }
    }

    /// The ids and values a refusal concerns, as members of the problem
    /// (RFC 9457 extension members), so that clients need not parse `detail`.
    fn members(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let value = match self {
            AppError::Missing { what, id } => json!({ format!("{what}_id"): id }),
            AppError::Described { members, .. } => members.clone(),
            AppError::Refused(Refusal::AlreadyBooked { declaration_id }) => json!({"declaration_id": declaration_id}),
            // The limits of the slot's site that refused it (they differ by site).
            AppError::Refused(Refusal::ShareExceeded { limit }) => json!({"limit": limit}),
            AppError::Refused(Refusal::TooLate { notice_minutes }) => json!({"notice_minutes": notice_minutes}),
            AppError::Refused(Refusal::BeyondHorizon { days }) => json!({"horizon_days": days}),
            AppError::Refused(Refusal::CancelCutoff { minutes }) => json!({"cancel_cutoff_minutes": minutes}),
            AppError::Refused(Refusal::Reserved { slot_id, reserved_until }) => {
                json!({"slot_id": slot_id, "reserved_until": reserved_until})
            }
            AppError::Refused(Refusal::VehicleAlreadyBooked { plate, country }) => {
                json!({"plate": plate, "country": country})
            }
            AppError::Gate(r) => match r {
                GateRefusal::PassInvalid => json!({}),
                GateRefusal::NoBookingForVehicle { plate, country } => json!({"plate": plate, "country": country}),
                GateRefusal::WrongSite { booking_id, site_id } => {
                    json!({"booking_id": booking_id, "site_id": site_id})
                }
                GateRefusal::PassSuperseded { booking_id, presented, current } => {
                    json!({"booking_id": booking_id, "version": presented, "current_version": current})
                }
                GateRefusal::NotActive { booking_id, status } => {
                    // Not `status`: that member is the HTTP status (RFC 9457).
                    json!({"booking_id": booking_id, "booking_status": status})
                }
                GateRefusal::AlreadyCheckedIn { booking_id, checked_in } => json!({
                    "booking_id": booking_id,
                    "checked_in_at": checked_in.at,
                    "checked_in_by": checked_in.by_name,
                    "checked_in_by_id": checked_in.by_id,
                }),
                GateRefusal::TooEarly { booking_id, window } | GateRefusal::TooLate { booking_id, window } => json!({
                    "booking_id": booking_id,
                    "window_opens_at": window.opens_at,
                    "window_closes_at": window.closes_at,
                }),
                GateRefusal::VehicleMissing { booking_id } => json!({"booking_id": booking_id}),
                GateRefusal::DeclarationsNotCleared { booking_id, declarations } => {
                    json!({"booking_id": booking_id, "declarations": declarations})
                }
            },
            _ => json!({}),
        };
        match value {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// A 404 that names the missing id (from a request body, where the
    /// path does not tell which one was not found).
    pub fn missing(what: &'static str, id: impl Into<String>) -> Self {
        AppError::Missing { what, id: id.into() }
    }
    pub fn internal(context: impl std::fmt::Display) -> Self {
        AppError::Internal(anyhow::anyhow!("{context}"))
    }

    /// Problem slug (last part of `type`) and title.
    fn kind_and_title(&self) -> (&'static str, &'static str) {
        match self {
            AppError::BadRequest(_) => ("malformed-request", "Malformed request"),
            AppError::Validation(_) => ("validation", "Invalid input"),
            AppError::Unprocessable { kind, .. } => (kind, "Request refused by a rule"),
            AppError::Unauthorized(_) => ("unauthorized", "Authentication required"),
            AppError::Forbidden(_) => ("forbidden", "Not allowed"),
            AppError::NotFound | AppError::Missing { .. } => ("not-found", "Not found"),
            AppError::Conflict { kind, .. } => (kind, "Conflict with the current state"),
            AppError::Described { status, kind, .. } if *status == StatusCode::FORBIDDEN => (kind, "Not allowed"),
            AppError::Described { kind, .. } => (kind, "Conflict with the current state"),
            AppError::PreconditionFailed(_) => ("stale-version", "Precondition failed"),
            AppError::PreconditionRequired(_) => ("if-match-required", "Precondition required"),
            AppError::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            AppError::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            AppError::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            AppError::Unavailable => ("unavailable", "Service temporarily unavailable"),
            AppError::Overloaded(_) => ("overloaded", "Service temporarily overloaded"),
            AppError::RequestTimeout(_) => ("timeout", "Request timed out"),
            AppError::Refused(r) => (r.kind(), "Booking refused"),
            AppError::Gate(r) => (r.kind(), "Not admitted at the gate"),
            AppError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    fn detail(&self) -> String {
        match self {
            AppError::BadRequest(d)
            | AppError::Forbidden(d)
            | AppError::PreconditionFailed(d)
            | AppError::PreconditionRequired(d)
            | AppError::PayloadTooLarge(d)
            | AppError::UnsupportedMediaType(d) => d.clone(),
            AppError::Unprocessable { detail, .. }
            | AppError::Conflict { detail, .. }
            | AppError::Described { detail, .. } => detail.clone(),
            AppError::Unauthorized(d) | AppError::Overloaded(d) => (*d).to_owned(),
            AppError::Validation(errs) => format!("{} field(s) are invalid", errs.len()),
            AppError::NotFound => "no such resource".to_owned(),
            AppError::Missing { what, id } => format!("there is no {what} with id {id} that you may use"),
            AppError::TooManyRequests { retry_after_secs } => {
                format!("too many attempts; retry after {retry_after_secs} s")
            }
            AppError::Unavailable => "the database is busy; retry shortly".to_owned(),
            AppError::RequestTimeout(secs) => format!("the request took longer than {secs} s"),
            AppError::Refused(r) => r.message(),
            AppError::Gate(r) => r.message(),
            AppError::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
        }
    }
}

/// Body of every error response: an RFC 9457 problem detail, sent as
/// `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "http://127.0.0.1:8080/problems/validation",
    "title": "Invalid input",
    "status": 422,
    "detail": "1 field(s) are invalid",
    "errors": [{"field": "invoice_total", "code": "sum", "message": "the items' values must sum to the invoice total"}]
}))]
pub struct Problem {
    /// URI of the problem type: `<server.public_url>/problems/` plus a slug
    /// such as `not-found`, `validation`, `slot-full` or `illegal-transition`.
    #[serde(rename = "type")]
    #[schema(format = "uri")]
    pub type_: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The fields that broke a rule (validation errors, 422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// The ids and values the problem concerns, by problem type: e.g.
    /// `booking_id`, `declaration_id`, `window_opens_at`/`window_closes_at`
    /// (`too-early`, `too-late`), `declarations` (`declarations-not-cleared`),
    /// `slot_id` and `reserved_until` (`reserved`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub members: serde_json::Map<String, serde_json::Value>,
}

/// Builds a problem+json response from its parts.
pub fn problem_response(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: String,
    errors: Option<Vec<FieldError>>,
) -> HttpResponse {
    let lang = crate::i18n::current();
    let members = serde_json::Map::new();
    let (title, detail) = crate::i18n::problem_text(lang, kind, false, (title, detail), &members);
    let body = Problem { type_: problem_type(kind), title, status: status.as_u16(), detail, errors, members };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .insert_header((header::CONTENT_LANGUAGE, lang.tag()))
        .body(serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned()))
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Validation(_) | AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound | AppError::Missing { .. } => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Described { status, .. } => *status,
            AppError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            AppError::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable | AppError::Overloaded(_) | AppError::RequestTimeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Refused(r) => Self::refusal_status(r),
            AppError::Gate(r) => Self::gate_status(r),
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(cause) = self {
            // Full detail in the logs, none in the response.
            tracing::error!(error = ?cause, "internal error");
        }
        let (kind, title) = self.kind_and_title();
        let errors = match self {
            AppError::Validation(errs) => Some(errs.clone()),
            _ => None,
        };
        let members = self.members();
        // Title and detail in the request's language, with the values the
        // problem carries (its members, and a few that only its words need).
        let lang = crate::i18n::current();
        let mut vars = members.clone();
        let extra: Option<(&str, serde_json::Value)> = match self {
            AppError::Validation(errs) => Some(("count", errs.len().into())),
            AppError::TooManyRequests { retry_after_secs } => Some(("retry_after_secs", (*retry_after_secs).into())),
            AppError::RequestTimeout(secs) => Some(("seconds", (*secs).into())),
            _ => None,
        };
        if let Some((name, value)) = extra {
            vars.insert(name.to_owned(), value);
        }
        let at_gate = matches!(self, AppError::Gate(_));
        let (title, detail) = crate::i18n::problem_text(lang, kind, at_gate, (title, self.detail()), &vars);
        let body =
            Problem { type_: problem_type(kind), title, status: self.status_code().as_u16(), detail, errors, members };
        let mut resp = HttpResponse::build(self.status_code())
            .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
            .insert_header((header::CONTENT_LANGUAGE, lang.tag()))
            .body(serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned()));
        match self {
            AppError::TooManyRequests { retry_after_secs } => {
                if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            AppError::Unavailable | AppError::Overloaded(_) | AppError::RequestTimeout(_) => {
                resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            }
            AppError::Unauthorized(_) => {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        resp
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            // The database went away mid-request (restart, failover): the
            // client may retry; diesel marks the connection broken and r2d2 drops it.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection
                | diesel::result::DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => {
                tracing::warn!(error = %info.message(), "database connection closed");
                AppError::Unavailable
            }
            // PostgreSQL ended the session (admin_shutdown, a restart, a
            // failover): the connection is gone, the client may retry.
            diesel::result::Error::DatabaseError(_, info) if info.message().starts_with("terminating connection") => {
                tracing::warn!(error = %info.message(), "database connection ended by the server");
                AppError::Unavailable
            }
            // Two transactions locked the same rows in opposite orders (or a
            // serializable conflict): PostgreSQL rolled this one back whole,
            // so nothing is half-done and the client may simply retry.
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::SerializationFailure, info) => {
                tracing::warn!(error = %info.message(), "transaction rolled back by a serialization failure");
                AppError::Unavailable
            }
            diesel::result::Error::DatabaseError(_, info) if info.message().starts_with("deadlock detected") => {
                tracing::warn!(error = %info.message(), "transaction rolled back to break a deadlock");
                AppError::Unavailable
            }
            other => AppError::Internal(anyhow::Error::new(other).context("database")),
        }
    }
}

impl<E: Into<AppError>> From<RunError<E>> for AppError {
    fn from(e: RunError<E>) -> Self {
        match e {
            RunError::PoolTimeout | RunError::Unavailable => AppError::Unavailable,
            RunError::Canceled => AppError::internal("blocking task canceled"),
            RunError::Inner(inner) => inner.into(),
        }
    }
}

/// Shorthand for handler results.
pub type AppResult<T> = Result<T, AppError>;

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        AppError::Refused(r)
    }
}

impl From<Invalid> for AppError {
    fn from(Invalid(errors): Invalid) -> Self {
        AppError::Validation(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::AppError;
    use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error};

    struct Info(&'static str);
    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    /// A transaction PostgreSQL rolled back to break a deadlock, or for a
    /// serialization conflict, is a retryable 503, not a 500.
    #[test]
    fn a_deadlock_victim_may_retry() {
        let deadlock = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(Info("deadlock detected: Process 1 waits for ShareLock on transaction 2")),
        );
        assert!(matches!(AppError::from(deadlock), AppError::Unavailable));
        let serialization =
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, Box::new(Info("could not serialize access")));
        assert!(matches!(AppError::from(serialization), AppError::Unavailable));
        let other = Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(Info("division by zero")));
        assert!(matches!(AppError::from(other), AppError::Internal(_)));
    }
}
