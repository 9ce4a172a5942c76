//! Webhook endpoints and the delivery worker.
//!
//! Deliveries are leased (`claim` is a guarded UPDATE), so any number of
//! instances may run the worker: each delivery is sent by the worker that
//! holds its lease, at least once; a worker that dies loses its lease when
//! it expires. A slow or dead receiver only ever holds a worker task, never
//! an API request.

use std::time::{Duration as StdDuration, Instant};

use actix_web::web;
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::WebhookSettings;
use crate::context::RequestContext;
use crate::db::audit::{self, Change};
use crate::db::webhooks::{self as rows, AttemptRow, DeliveryRow, WebhookRow};
use crate::db::{new_id, DbConnection};
use crate::domain::ids::WebhookId;
use crate::domain::webhook::{check_url, is_public, DeliveryStatus};
use crate::error::AppError;
use crate::state::AppState;

/// A new signing secret (shown once).
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", hex::encode(bytes))
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Creates an endpoint for the caller's enterprise, with its audit event.
#[tracing::instrument(skip_all)]
pub fn register(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    url: &str,
    events: &[String],
) -> Result<WebhookRow, AppError> {
    let (enterprise_id, now) = (ctx.caller.enterprise()?, ctx.stamp());
    let row = WebhookRow {
        id: new_id(),
        enterprise_id: enterprise_id.to_owned(),
        url: url.to_owned(),
        events: events.join(","),
        secret: new_secret(),
        active: true,
        created_at: now,
        updated_at: now,
    };
    rows::insert(conn, &row)?;
    audit_webhook(conn, ctx, &row.id, "register", Some(url))?;
    Ok(row)
}

/// Removes one of the caller's endpoints (it stops receiving deliveries).
#[tracing::instrument(skip_all, fields(webhook = %webhook_id))]
pub fn remove(conn: &mut DbConnection, ctx: &RequestContext, webhook_id: &WebhookId) -> Result<(), AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    if rows::deactivate(conn, webhook_id.as_str(), enterprise_id, ctx.stamp())? == 0 {
        return Err(AppError::NotFound);
    }
    audit_webhook(conn, ctx, webhook_id.as_str(), "remove", None)
}

/// Queues one delivery of one of the caller's live endpoints again, now.
#[tracing::instrument(skip_all, fields(webhook = %webhook_id, delivery = %delivery_id))]
pub fn redeliver(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    webhook_id: &WebhookId,
    delivery_id: &str,
) -> Result<DeliveryLog, AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    let id = webhook_id.as_str();
    rows::find_for(conn, id, enterprise_id)?.filter(|h| h.active).ok_or(AppError::NotFound)?;
    let d = rows::find_delivery(conn, delivery_id)?.filter(|d| d.webhook_id == id).ok_or(AppError::NotFound)?;
    rows::requeue(conn, &d.id, ctx.stamp())?;
    audit_webhook(conn, ctx, id, "redeliver", Some(delivery_id))?;
    let d = rows::find_delivery(conn, delivery_id)?.ok_or(AppError::NotFound)?;
    let event_type = rows::find_event(conn, &d.event_id)?.map(|e| e.event_type).unwrap_or_default();
    let mut logs = with_attempts(conn, vec![(d, event_type)])?;
    logs.pop().ok_or(AppError::NotFound)
}

/// One delivery with its event type and its attempts, oldest first.
pub type DeliveryLog = (DeliveryRow, String, Vec<AttemptRow>);

/// One page of the deliveries of one of the caller's live endpoints,
/// newest first, with their attempts: two queries whatever the page size.
pub fn deliveries(
    conn: &mut DbConnection,
    enterprise_id: &str,
    webhook_id: &WebhookId,
    before: Option<&str>,
    limit: i64,
) -> Result<(Vec<DeliveryLog>, bool), AppError> {
    let id = webhook_id.as_str();
    // A removed endpoint is gone, its log too (as for GET and redeliver).
    rows::find_for(conn, id, enterprise_id)?.filter(|h| h.active).ok_or(AppError::NotFound)?;
    let mut page = rows::deliveries_of(conn, id, before, limit + 1)?;
    let more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    Ok((with_attempts(conn, page)?, more))
}

fn with_attempts(conn: &mut DbConnection, page: Vec<(DeliveryRow, String)>) -> Result<Vec<DeliveryLog>, AppError> {
    let ids: Vec<String> = page.iter().map(|(d, _)| d.id.clone()).collect();
    let mut attempts = rows::attempts_of(conn, &ids)?;
    Ok(page
        .into_iter()
        .map(|(d, event_type)| {
            let (mine, rest): (Vec<_>, Vec<_>) = attempts.drain(..).partition(|a| a.delivery_id == d.id);
            attempts = rest;
            (d, event_type, mine)
        })
        .collect())
}

fn audit_webhook(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    webhook_id: &str,
    action: &str,
    what: Option<&str>,
) -> Result<(), AppError> {
    audit::append(
        conn,
        &ctx.actor(),
        &Change {
            entity_type: "webhook",
            entity_id: webhook_id,
            action,
            from_state: None,
            to_state: what,
            reason: None,
        },
        ctx.stamp(),
    )?;
    Ok(())
}

/// Delay before attempt `attempts + 1`: exponential with full jitter in
/// its upper half, so that retries of many deliveries spread out.
pub fn backoff(settings: &WebhookSettings, attempts: i32) -> Duration {
    let exp = attempts.clamp(0, 20) as u32;
    let base = settings.backoff_base_ms.saturating_mul(1u64 << exp);
    let capped = base.min(settings.backoff_max_secs.saturating_mul(1000)).max(1);
    let jittered = capped / 2 + rand::random_range(0..=capped / 2);
    Duration::milliseconds(jittered as i64)
}

/// Runs the delivery worker until the task is aborted.
pub async fn run_worker(state: web::Data<AppState>) {
    let settings = state.settings.webhooks.clone();
    let owner = format!("worker-{}", new_id());
    let client = match reqwest::Client::builder()
        .timeout(StdDuration::from_secs(settings.request_timeout_secs.max(1)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Clearway-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook worker cannot build its HTTP client; not delivering");
            return;
        }
    };
    let poll = StdDuration::from_millis(settings.poll_interval_ms.max(10));
    loop {
        // The application clock, as every background task reads it (the
        // outbox stamps deliveries with it).
        let now = state.clock.now().naive_utc();
        let until = now + Duration::seconds(settings.lease_secs.max(5));
        let who = owner.clone();
        let claimed = state
            .db
            .write(move |conn| -> Result<Vec<String>, AppError> {
                let mut mine = Vec::new();
                for id in rows::due(conn, now, 16)? {
                    if rows::claim(conn, &id, &who, now, until)? == 1 {
                        mine.push(id);
                    }
                }
                Ok(mine)
            })
            .await;
        match claimed {
            Ok(ids) if !ids.is_empty() => {
                // Deliver the batch concurrently; each is bounded by the client timeout.
                let sends = ids.into_iter().map(|id| deliver(&state, &client, &settings, id, owner.clone()));
                futures_util::future::join_all(sends).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => crate::services::background::report_failure("claiming webhook deliveries", e),
        }
        tokio::time::sleep(poll).await;
    }
}

/// Sends one leased delivery and records the attempt.
async fn deliver(state: &AppState, client: &reqwest::Client, settings: &WebhookSettings, id: String, owner: String) {
    let lookup = id.clone();
    let loaded = state
        .db
        .read(move |conn| -> Result<_, AppError> {
            let d = rows::find_delivery(conn, &lookup)?.ok_or(AppError::NotFound)?;
            let e = rows::find_event(conn, &d.event_id)?.ok_or(AppError::NotFound)?;
            let h = rows::find(conn, &d.webhook_id)?.ok_or(AppError::NotFound)?;
            Ok((d, e, h))
        })
        .await;
    let (delivery, event, hook) = match loaded {
        Ok(x) => x,
        Err(e) => {
            crate::services::background::report_failure("loading a webhook delivery", e);
            return;
        }
    };
    let started = Instant::now();
    let outcome = send(client, settings, &hook, &event.id, &event.payload).await;
    let elapsed = started.elapsed().as_millis() as i64;
    let now = state.clock.now().naive_utc();
    let (status, next, code, error, delivered_at) = match &outcome {
        Ok(code) if (200..300).contains(code) => (DeliveryStatus::Delivered, now, Some(*code), None, Some(now)),
        other => {
            let (code, error) = match other {
                Ok(code) => (Some(*code), Some(format!("receiver answered {code}"))),
                Err(e) => (None, Some(e.clone())),
            };
            let attempts = delivery.attempts + 1;
            let status = if attempts >= settings.max_attempts { DeliveryStatus::Dead } else { DeliveryStatus::Pending };
            (status, now + backoff(settings, attempts - 1), code, error, None)
        }
    };
    if !hook.active {
        tracing::info!(webhook = %hook.id, "endpoint was removed; delivery dropped");
    }
    let status = if hook.active { status } else { DeliveryStatus::Dead };
    let error_text = error.clone();
    let result = state
        .db
        .write(move |conn| -> Result<(), AppError> {
            rows::insert_attempt(
                conn,
                &AttemptRow {
                    id: new_id(),
                    delivery_id: id.clone(),
                    attempted_at: now,
                    status_code: code,
                    error: error_text.clone(),
                    duration_ms: elapsed,
                },
            )?;
            rows::finish_attempt(conn, &id, &owner, status, next, code, error_text.as_deref(), delivered_at, now)?;
            Ok(())
        })
        .await;
    match result {
        Ok(()) => {
            tracing::info!(event = %event.id, webhook = %hook.id, status = status.as_str(), code, error = ?error, "webhook attempt")
        }
        Err(e) => crate::services::background::report_failure("recording a webhook attempt", e),
    }
}

/// POSTs the event; `Ok(status)` when the receiver answered at all.
async fn send(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    hook: &WebhookRow,
    event_id: &str,
    payload: &str,
) -> Result<i32, String> {
    if !hook.active {
        return Err("endpoint removed".into());
    }
    let url = check_url(&hook.url, settings.allow_private_targets).map_err(str::to_owned)?;
    if !settings.allow_private_targets {
        // Resolve now and refuse private answers (DNS may have changed since registration).
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs =
            tokio::net::lookup_host((host.as_str(), port)).await.map_err(|e| format!("resolving {host}: {e}"))?;
        if addrs.into_iter().any(|a| !is_public(a.ip())) {
            return Err(format!("{host} resolves to a non-public address; refused"));
        }
    }
    // The receiver checks the signature's time against its own clock: the
    // wall clock, not the application's (which tests may move).
    let t = Utc::now().timestamp();
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-clearway-event-id", event_id)
        .header("x-clearway-signature", signature(&hook.secret, t, payload))
        .body(payload.to_owned())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out".to_owned()
            } else {
                format!("request failed: {}", e.without_url())
            }
        })?;
    Ok(i32::from(resp.status().as_u16()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        // Known answer: HMAC-SHA256("key", "1.{}")
        let sig = signature("key", 1, "{}");
        assert!(sig.starts_with("t=1,v1="));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1.{}");
        assert_eq!(sig, format!("t=1,v1={}", hex::encode(mac.finalize().into_bytes())));
        assert_ne!(signature("other", 1, "{}"), sig);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = WebhookSettings {
            worker_enabled: true,
            poll_interval_ms: 100,
            max_attempts: 5,
            backoff_base_ms: 1000,
            backoff_max_secs: 60,
            request_timeout_secs: 5,
            lease_secs: 30,
            allow_private_targets: false,
        };
        for attempt in 0..10 {
            let d = backoff(&s, attempt).num_milliseconds();
            let full = (1000u64 << attempt).min(60_000) as i64;
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d}");
        }
    }
}
