//! Structured logs with tracing, and the helper that carries the current
//! span into blocking work.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber: pretty for people, JSON for machines.
/// `RUST_LOG` wins over the configured level. Safe to call more than once.
pub fn init(settings: &LogSettings) {
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},actix_server=warn", settings.level)));
    // tracing-actix-web's own event (WARN for every 4xx, ERROR for every 5xx)
    // is replaced by the one of `RequestSpan`, also under RUST_LOG.
    if let Ok(quiet) = QUIET_MIDDLEWARE.parse() {
        filter = filter.add_directive(quiet);
    }
    let registry = tracing_subscriber::registry().with(filter);
    let result = match settings.format {
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true).with_current_span(true)).try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
    // A second init (tests spawn many apps in one process) keeps the first.
    drop(result);
}

/// The filter directive that silences tracing-actix-web's event on errors.
const QUIET_MIDDLEWARE: &str = "tracing_actix_web::middleware=off";

/// The root span of every request (tracing-actix-web's default fields: route,
/// status, request id, error), and one event when a request ends in an
/// error, at a level that says who has to act: a 4xx is the client's
/// business (INFO), a 503 is the designed "retry later" answer to a lost
/// database connection or a request past its deadline, whose cause is logged
/// as a WARN where it is found (WARN), any other 5xx is a defect (ERROR).
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    /// tracing-actix-web's fields, except `http.client_ip`: the address
    /// `auth::client` resolves (X-Forwarded-For only from a trusted proxy),
    /// never a header a client may forge.
    fn on_request_start(request: &ServiceRequest) -> Span {
        use actix_web::HttpMessage;
        let client_ip = crate::auth::client::service_client_addr(request).map(|ip| ip.to_string()).unwrap_or_default();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let method = request.method().as_str().to_owned();
        let request_id =
            request.extensions().get::<tracing_actix_web::RequestId>().map(|id| id.to_string()).unwrap_or_default();
        let user_agent = request.headers().get("User-Agent").and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.target = %request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
        let (status, error) = match outcome {
            Ok(response) => match response.response().error() {
                Some(error) => (response.status(), error.as_response_error()),
                None => return,
            },
            Err(error) => (error.as_response_error().status_code(), error.as_response_error()),
        };
        let code = status.as_u16();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(status = code, error = %error, "request answered 503");
        } else if status.is_server_error() {
            tracing::error!(status = code, error = %error, "request failed");
        } else {
            tracing::info!(status = code, error = %error, "request refused");
        }
    }
}

/// Runs blocking work (diesel, argon2) on the blocking pool, inside the
/// caller's tracing span so that its logs keep the request id.
pub fn spawn_blocking_in_span<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_quiet_middleware_directive_parses() {
        assert!(super::QUIET_MIDDLEWARE.parse::<tracing_subscriber::filter::Directive>().is_ok());
    }
}
