//! Prometheus metrics through the `metrics` facade: HTTP requests by route
//! template and status, booking and declaration outcomes, database pools,
//! slot generation, the public board's cache. Rendered by `GET /metrics`.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, seconds: the booking target is p99 ≤ 100 ms.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (several apps in one test
/// process share it) and returns its handle.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// The `method` label: the standard methods by name, anything else `other`
/// (a client chooses the method: its text must never become a label).
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    const KNOWN: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN.iter().copied().find(|m| *m == method.as_str()).unwrap_or("other")
}

/// The `route` label: the template of the route that answered (a route
/// table entry, so a fixed set), or `unmatched`.
pub fn route_label(pattern: Option<String>) -> String {
    pattern.unwrap_or_else(|| "unmatched".to_owned())
}

/// The `status` label: the code when it is one of those the server answers
/// with, else its class (`2xx` … `5xx`): a fixed set either way.
pub fn status_label(status: actix_web::http::StatusCode) -> String {
    const KNOWN: &[u16] = &[
        200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413,
        414, 415, 416, 422, 428, 429, 431, 500, 501, 502, 503, 504,
    ];
    let code = status.as_u16();
    if KNOWN.contains(&code) {
        code.to_string()
    } else {
        format!("{}xx", (code / 100).clamp(1, 5))
    }
}

/// Middleware: counts and times every request by method, route template
/// (never the raw path: ids would explode the label set) and status, each
/// label from a fixed set.
pub async fn track_http(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> actix_web::Result<ServiceResponse<impl MessageBody>> {
    let started = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    let route = route_label(res.request().match_pattern());
    let status = status_label(res.status());
    let labels = [("method", method.to_owned()), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    Ok(res)
}

/// A booking was confirmed.
pub fn booking_created() {
    metrics::counter!("bookings_created_total").increment(1);
}

/// A booking request was refused, by reason (problem type slug).
pub fn booking_refused(reason: &str) {
    metrics::counter!("bookings_refused_total", "reason" => reason.to_owned()).increment(1);
}

/// A booking was cancelled (by the company, by customs, displaced or cascaded).
pub fn booking_cancelled(how: &'static str) {
    metrics::counter!("bookings_cancelled_total", "by" => how).increment(1);
}

/// A booking displaced by customs: `moved` to another slot (a cancelled
/// one counts as cancelled by `displacement`).
pub fn booking_displaced(how: &'static str) {
    metrics::counter!("bookings_displaced_total", "how" => how).increment(1);
}

/// A hold changed: `created`, `converted`, `released` or `expired`.
pub fn hold_event(what: &'static str) {
    metrics::counter!("holds_total", "event" => what).increment(1);
}

/// A waitlist offer: `made`, `taken` or `lapsed`.
pub fn offer_event(what: &'static str) {
    metrics::counter!("waitlist_offers_total", "event" => what).increment(1);
}

/// A closure was applied.
pub fn closure_applied() {
    metrics::counter!("closures_applied_total").increment(1);
}

/// Bookings marked `no_show` by the sweep.
pub fn bookings_no_show(count: usize) {
    metrics::counter!("bookings_no_show_total").increment(count as u64);
}

/// A truck presented at the gate: `checked_in`, or the refusal's problem type.
pub fn gate_check_in(result: &'static str) {
    metrics::counter!("gate_check_ins_total", "result" => result).increment(1);
}

/// A declaration changed state.
pub fn declaration_transition(action: &'static str, to: &'static str) {
    metrics::counter!("declaration_transitions_total", "action" => action, "to" => to).increment(1);
}

/// One run of slot generation (top-up or schedule change).
pub fn slot_generation(created: usize) {
    metrics::counter!("slot_generation_runs_total").increment(1);
    metrics::counter!("slots_generated_total").increment(created as u64);
}

/// A public board answer: `hit` (a kept answer), `shared` (another
/// request's database read, made at the same time) or `miss` (a read of
/// its own).
pub fn board_cache(result: &'static str) {
    metrics::counter!("public_board_cache_total", "result" => result).increment(1);
}

/// One COMMIT of SQLite's group-commit writer, covering `jobs` write
/// transactions (jobs ÷ commits = the mean batch size).
pub fn group_commit(jobs: u64) {
    metrics::counter!("sqlite_group_commit_commits_total").increment(1);
    metrics::counter!("sqlite_group_commit_jobs_total").increment(jobs);
}

/// Sets the pool gauges and renders the text exposition.
pub fn render(db: &crate::db::Db) -> String {
    for (pool, state) in db.pool_states() {
        let in_use = state.connections.saturating_sub(state.idle_connections);
        metrics::gauge!("db_pool_connections_in_use", "pool" => pool).set(f64::from(in_use));
        metrics::gauge!("db_pool_connections_idle", "pool" => pool).set(f64::from(state.idle_connections));
    }
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use actix_web::http::{Method, StatusCode};

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(method_label(&Method::from_bytes("X".repeat(6000).as_bytes()).unwrap()), "other");
        assert_eq!(status_label(StatusCode::OK), "200");
        assert_eq!(status_label(StatusCode::from_u16(299).unwrap()), "2xx");
        assert_eq!(status_label(StatusCode::from_u16(599).unwrap()), "5xx");
        assert_eq!(route_label(None), "unmatched");
    }
}
