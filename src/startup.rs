//! Building and running the HTTP application.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServerHandle, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpMessage, HttpServer};
use anyhow::Context;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::config::Settings;
use crate::db::Db;
use crate::error::{problem_response, AppError, PROBLEM_JSON};
use crate::state::AppState;

/// A built application: a bound port and a server ready to run.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Connects to the database, applies migrations, binds the listener
    /// (port 0 picks a free one) and builds the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db_settings = settings.database.clone();
        let sealing_key = settings.webhooks.sealing_key();
        let db = tokio::task::spawn_blocking(move || -> anyhow::Result<Db> {
            let db = Db::connect(&db_settings)?;
            let mut conn = db.write_conn().context("opening a connection for migrations")?;
            let applied = crate::db::migrations::run_pending(&mut conn)?;
            if !applied.is_empty() {
                tracing::info!(?applied, "migrations applied");
            }
            // Webhook secrets written before they were sealed at rest are sealed now.
            let sealed = crate::services::webhooks::seal_plaintext_secrets(&mut conn, &sealing_key)
                .map_err(|e| anyhow::anyhow!("sealing webhook secrets: {e}"))?;
            if sealed > 0 {
                tracing::info!(sealed, "webhook secrets stored in clear were sealed");
            }
            Ok(db)
        })
        .await
        .context("start-up task failed")??;

        crate::metrics::handle();
        let state = web::Data::new(AppState::new(settings.clone(), db)?);
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port)).with_context(|| {
            format!(
                "cannot listen on {}:{}; is another server using that port? Choose another port with \
                     CLEARWAY__SERVER__PORT (and the interface with CLEARWAY__SERVER__HOST)",
                settings.server.host, settings.server.port
            )
        })?;
        let port = listener.local_addr()?.port();
        let server = run(listener, state.clone(), &settings)?;
        Ok(Self { port, server, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared state (tests and background tasks use it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Stops the server from outside (tests, benchmarks): `run_until_stopped`
    /// then stops the background tasks and returns.
    pub fn server_handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or a stop through `server_handle`), then
    /// drains in-flight requests and stops the background tasks. It returns
    /// only when none of them is left running, so that whoever drops the
    /// database afterwards does not have them failing against it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let mut workers = crate::services::background::spawn(self.state.clone());
        let result = self.server.await;
        workers.shutdown().await;
        result
    }
}

fn run(listener: TcpListener, state: web::Data<AppState>, settings: &Settings) -> anyhow::Result<Server> {
    let body_limit = settings.server.body_limit_bytes;
    let request_timeout = Duration::from_secs(settings.server.request_timeout_secs.max(1));
    let production = settings.profile.is_production();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(json_config(body_limit))
            .app_data(web::PayloadConfig::new(body_limit))
            .app_data(
                web::PathConfig::default()
                    .error_handler(|err, _| AppError::BadRequest(format!("bad path parameter: {err}")).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|err, _| AppError::BadRequest(format!("bad query string: {err}")).into()),
            )
            .configure(crate::api::configure)
            .default_service(web::to(|| async { Err::<actix_web::HttpResponse, _>(AppError::NotFound) }))
            .wrap(ErrorHandlers::new().default_handler(ensure_problem_json))
            .wrap(actix_web::middleware::from_fn(move |req, next| request_deadline(req, next, request_timeout)))
            .wrap(actix_web::middleware::from_fn(crate::metrics::track_http))
            .wrap(actix_web::middleware::from_fn(request_id_header))
            .wrap(actix_web::middleware::from_fn(move |req, next| security_headers(req, next, production)))
            .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
            // Outermost: every problem, also one made by a middleware, speaks
            // the request's language.
            .wrap(actix_web::middleware::from_fn(crate::i18n::request_language))
    })
    .workers(if settings.server.workers == 0 { num_workers() } else { settings.server.workers })
    .listen(listener)?
    .client_request_timeout(Duration::from_secs(settings.server.client_request_timeout_secs))
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .run();
    Ok(server)
}

fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).content_type_required(true).error_handler(move |err, _req| {
        use actix_web::error::JsonPayloadError as J;
        let app = match &err {
            J::OverflowKnownLength { .. } | J::Overflow { .. } => {
                AppError::PayloadTooLarge(format!("the body exceeds {limit} bytes"))
            }
            J::ContentType => AppError::UnsupportedMediaType("send Content-Type: application/json".into()),
            J::Deserialize(e) => AppError::BadRequest(format!("invalid JSON body: {e}")),
            other => AppError::BadRequest(format!("invalid JSON body: {other}")),
        };
        app.into()
    })
}

/// Turns any error answer that is not yet problem+json (unknown route,
/// wrong method, framework errors) into one, keeping its status.
fn ensure_problem_json<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (kind, title, detail) = match status.as_u16() {
        404 => ("not-found", "Not found", "no such resource".to_owned()),
        405 => ("method-not-allowed", "Method not allowed", "this resource does not accept that method".to_owned()),
        413 => ("payload-too-large", "Payload too large", "the body is too large".to_owned()),
        s if s >= 500 => ("internal", "Internal server error", "an unexpected error occurred".to_owned()),
        _ => ("http-error", status.canonical_reason().unwrap_or("Error"), status.to_string()),
    };
    let (req, old) = res.into_parts();
    let mut new = problem_response(status, kind, title, detail, None);
    // Keep headers the framework set for a reason (e.g. Allow on 405).
    if let Some(allow) = old.headers().get(header::ALLOW) {
        new.headers_mut().insert(header::ALLOW, allow.clone());
    }
    let res: ServiceResponse<BoxBody> = ServiceResponse::new(req, new);
    Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
}

/// Puts the request id (made by TracingLogger, also in every log line of
/// the request) on every response.
async fn request_id_header(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> actix_web::Result<ServiceResponse<impl MessageBody>> {
    let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut res = next.call(req).await?;
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
    }
    Ok(res)
}

/// The policy of the API documentation pages (Swagger UI): its own scripts
/// only; its React components set inline styles and its icons are data: URIs.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Security headers every answer carries unless its handler set its own:
/// `nosniff`; on `/docs` a Content-Security-Policy and `X-Frame-Options:
/// DENY`; in production `Strict-Transport-Security` (the service is only
/// reached over HTTPS there, through the proxy).
async fn security_headers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
    production: bool,
) -> actix_web::Result<ServiceResponse<impl MessageBody>> {
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if docs {
        set(header::CONTENT_SECURITY_POLICY, DOCS_CSP);
        set(header::X_FRAME_OPTIONS, "DENY");
        set(header::REFERRER_POLICY, "no-referrer");
    }
    if production {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
    }
    Ok(res)
}

fn num_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// Ends a request that takes longer than `limit` (a client trickling its
/// body, a stuck dependency) with 503, so that it stops holding a worker.
/// Database work already handed to the blocking pool still finishes; a
/// client that retries with its Idempotency-Key gets that outcome.
async fn request_deadline(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
    limit: Duration,
) -> actix_web::Result<ServiceResponse<impl MessageBody>> {
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs(), "request timed out");
            Err(AppError::RequestTimeout(limit.as_secs()).into())
        }
    }
}
