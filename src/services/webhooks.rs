//! Webhook endpoints and the delivery worker.
//!
//! Deliveries are leased (`claim` is a guarded UPDATE), so any number of
//! instances may run the worker: each delivery is sent by the worker that
//! holds its lease, at least once; a worker that dies loses its lease when
//! it expires. A slow or dead receiver only ever holds its own endpoint's
//! places in the worker (`webhooks.per_endpoint_concurrency`), never an API
//! request nor another enterprise's deliveries: the worker picks due
//! deliveries round-robin across enterprises and leaves out endpoints that
//! are at their limit (see [`pick_fair`]).
//!
//! The address a delivery connects to is the address that was checked: the
//! HTTP client resolves names only through [`PublicOnly`], which refuses a
//! name with any non-public address and hands the client exactly the
//! addresses it checked (no second lookup that DNS rebinding could answer
//! differently).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use actix_web::web;
use chrono::{Duration, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::WebhookSettings;
use crate::context::RequestContext;
use crate::db::audit::{self, Change};
use crate::db::webhooks::{self as rows, AttemptRow, DeliveryRow, Due, WebhookRow};
use crate::db::{enterprises, new_id, DbConnection};
use crate::domain::ids::WebhookId;
use crate::domain::webhook::{check_url, is_public, DeliveryStatus};
use crate::domain::webhook_secret::{is_sealed, SecretKey};
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

/// Creates an endpoint for the caller's enterprise, with its audit event;
/// returns it with its secret in clear (shown once; stored sealed). Only a
/// verified enterprise may, and only up to `max_per_enterprise` endpoints.
#[tracing::instrument(skip_all)]
pub fn register(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    settings: &WebhookSettings,
    url: &str,
    events: &[String],
) -> Result<(WebhookRow, String), AppError> {
    let (enterprise_id, now) = (ctx.caller.enterprise()?, ctx.stamp());
    let enterprise = enterprises::find(conn, enterprise_id)?.ok_or(AppError::NotFound)?;
    if !enterprise.status.may_trade() {
        return Err(AppError::forbidden(format!(
            "the enterprise is {}: customs must verify it before it may register webhooks",
            enterprise.status
        )));
    }
    let max = settings.max_per_enterprise;
    if rows::take_place(conn, enterprise_id, max)? == 0 {
        return Err(AppError::conflict(
            "webhook-limit",
            format!("the enterprise already has {max} webhook endpoints, the most allowed; delete one first"),
        ));
    }
    let id = new_id();
    let secret = new_secret();
    let row = WebhookRow {
        id: id.clone(),
        enterprise_id: enterprise_id.to_owned(),
        url: url.to_owned(),
        events: events.join(","),
        secret: settings.sealing_key().seal(&id, &secret),
        active: true,
        created_at: now,
        updated_at: now,
        redeliver_window_start: None,
        redeliver_count: 0,
    };
    rows::insert(conn, &row)?;
    audit_webhook(conn, ctx, &row.id, "register", Some(url))?;
    Ok((row, secret))
}

/// Removes one of the caller's endpoints (it stops receiving deliveries).
#[tracing::instrument(skip_all, fields(webhook = %webhook_id))]
pub fn remove(conn: &mut DbConnection, ctx: &RequestContext, webhook_id: &WebhookId) -> Result<(), AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    if rows::deactivate(conn, webhook_id.as_str(), enterprise_id, ctx.stamp())? == 0 {
        return Err(AppError::NotFound);
    }
    rows::give_back_place(conn, enterprise_id)?;
    audit_webhook(conn, ctx, webhook_id.as_str(), "remove", None)
}

/// Queues one delivery of one of the caller's live endpoints again, now, at
/// most `redeliveries_per_hour` times per endpoint and hour (429 beyond).
#[tracing::instrument(skip_all, fields(webhook = %webhook_id, delivery = %delivery_id))]
pub fn redeliver(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    settings: &WebhookSettings,
    webhook_id: &WebhookId,
    delivery_id: &str,
) -> Result<DeliveryLog, AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    let id = webhook_id.as_str();
    let now = ctx.stamp();
    rows::find_for(conn, id, enterprise_id)?.filter(|h| h.active).ok_or(AppError::NotFound)?;
    let d = rows::find_delivery(conn, delivery_id)?.filter(|d| d.webhook_id == id).ok_or(AppError::NotFound)?;
    let window = Duration::hours(1);
    rows::open_redeliver_window(conn, id, now, now - window)?;
    if rows::take_redelivery(conn, id, settings.redeliveries_per_hour)? == 0 {
        let opened = rows::find(conn, id)?.and_then(|h| h.redeliver_window_start).unwrap_or(now);
        let wait = (opened + window - now).num_seconds().max(1) as u64;
        return Err(AppError::TooManyRequests { retry_after_secs: wait });
    }
    rows::requeue(conn, &d.id, now)?;
    audit_webhook(conn, ctx, id, "redeliver", Some(delivery_id))?;
    let d = rows::find_delivery(conn, delivery_id)?.ok_or(AppError::NotFound)?;
    let event_type = rows::find_event(conn, &d.event_id)?.map(|e| e.event_type).unwrap_or_default();
    let mut logs = with_attempts(conn, vec![(d, event_type)])?;
    logs.pop().ok_or(AppError::NotFound)
}

/// Seals every secret still stored in clear (rows written before sealing
/// existed); run at start-up, idempotent. Returns how many were sealed.
pub fn seal_plaintext_secrets(conn: &mut DbConnection, key: &SecretKey) -> Result<usize, AppError> {
    let mut sealed = 0;
    for (id, clear) in rows::unsealed(conn)? {
        if !is_sealed(&clear) {
            sealed += rows::seal_secret(conn, &id, &clear, &key.seal(&id, &clear))?;
        }
    }
    Ok(sealed)
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

/// Events expanded to deliveries per worker transaction.
const FAN_OUT_BATCH: i64 = 100;
/// Events deleted per retention transaction (and batches per round).
const PRUNE_BATCH: i64 = 500;
const PRUNE_ROUNDS: usize = 20;

/// Deliveries this worker has in flight, per endpoint, per enterprise and in all.
#[derive(Debug, Default, Clone)]
pub struct InFlight {
    pub per_endpoint: HashMap<String, usize>,
    pub per_enterprise: HashMap<String, usize>,
    pub total: usize,
}

impl InFlight {
    fn start(&mut self, d: &Due) {
        *self.per_endpoint.entry(d.webhook_id.clone()).or_default() += 1;
        *self.per_enterprise.entry(d.enterprise_id.clone()).or_default() += 1;
        self.total += 1;
    }
    fn finish(&mut self, d: &Due) {
        for (map, key) in [(&mut self.per_endpoint, &d.webhook_id), (&mut self.per_enterprise, &d.enterprise_id)] {
            if let Some(n) = map.get_mut(key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
        self.total = self.total.saturating_sub(1);
    }
}

/// How many deliveries may be in flight at once, per endpoint and per enterprise.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_endpoint: usize,
    pub per_enterprise: usize,
}

/// Picks at most `free` of the due deliveries (oldest first), one
/// enterprise after another in turn, never more than the limits in flight
/// for one endpoint or one enterprise (counting `busy`, those already in
/// flight): an enterprise with a backlog gets one place per round like
/// every other, and never more than its share.
pub fn pick_fair(due: Vec<Due>, free: usize, limits: Limits, busy: &InFlight) -> Vec<Due> {
    let mut queues: Vec<(String, std::collections::VecDeque<Due>)> = Vec::new();
    for d in due {
        match queues.iter_mut().find(|(e, _)| *e == d.enterprise_id) {
            Some((_, q)) => q.push_back(d),
            None => queues.push((d.enterprise_id.clone(), std::collections::VecDeque::from([d]))),
        }
    }
    let mut taken = InFlight::default();
    let count = |m: &HashMap<String, usize>, k: &str| m.get(k).copied().unwrap_or(0);
    let mut picked = Vec::new();
    while picked.len() < free {
        let mut progressed = false;
        for (enterprise, q) in queues.iter_mut() {
            if picked.len() >= free {
                break;
            }
            if count(&busy.per_enterprise, enterprise) + count(&taken.per_enterprise, enterprise)
                >= limits.per_enterprise
            {
                continue;
            }
            // This enterprise's oldest delivery whose endpoint has room.
            let room = |d: &Due| {
                count(&busy.per_endpoint, &d.webhook_id) + count(&taken.per_endpoint, &d.webhook_id)
                    < limits.per_endpoint
            };
            if let Some(d) = q.iter().position(room).and_then(|pos| q.remove(pos)) {
                taken.start(&d);
                picked.push(d);
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    picked
}

/// Runs the delivery worker until the task is aborted: expands new events
/// to deliveries, prunes old ones, and sends due deliveries fairly.
pub async fn run_worker(state: web::Data<AppState>) {
    let settings = Arc::new(state.settings.webhooks.clone());
    let key = Arc::new(settings.sealing_key());
    let owner = format!("worker-{}", new_id());
    let client = match http_client(&settings) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook worker cannot build its HTTP client; not delivering");
            return;
        }
    };
    let poll = StdDuration::from_millis(settings.poll_interval_ms.max(10));
    let in_flight: Arc<Mutex<InFlight>> = Arc::default();
    let finished = Arc::new(tokio::sync::Notify::new());
    // Dropping the set (when this task is aborted) aborts the deliveries in flight.
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_prune = Instant::now();
    loop {
        while tasks.try_join_next().is_some() {}
        // The application clock, as every background task reads it.
        let now = state.clock.now().naive_utc();
        match state.db.write(move |conn| crate::services::outbox::fan_out(conn, now, FAN_OUT_BATCH)).await {
            Ok(n) if n > 0 => tracing::debug!(events = n, "webhook events expanded to deliveries"),
            Ok(_) => {}
            Err(e) => crate::services::background::report_failure("expanding webhook events", e),
        }
        if Instant::now() >= next_prune {
            next_prune = Instant::now() + StdDuration::from_secs(settings.prune_interval_secs.max(1));
            prune(&state, settings.retention_days, now).await;
        }
        let (free, busy) = {
            let f = in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (settings.max_in_flight.saturating_sub(f.total), f.clone())
        };
        let mut started = 0;
        if free > 0 {
            let who = owner.clone();
            let limits = Limits {
                per_endpoint: settings.per_endpoint_concurrency,
                per_enterprise: settings.per_enterprise_concurrency,
            };
            let until = now + Duration::seconds(settings.lease_secs.max(5));
            let claimed = state
                .db
                .write(move |conn| -> Result<Vec<Due>, AppError> {
                    // Endpoints and enterprises at their limit are left out of
                    // the query, so that their backlog never fills the window.
                    let full = |m: &HashMap<String, usize>, limit: usize| -> Vec<String> {
                        m.iter().filter(|(_, n)| **n >= limit).map(|(id, _)| id.clone()).collect()
                    };
                    let endpoints = full(&busy.per_endpoint, limits.per_endpoint);
                    let enterprises = full(&busy.per_enterprise, limits.per_enterprise);
                    let window = (free as i64).saturating_mul(4).max(64);
                    let due = rows::due(conn, now, &endpoints, &enterprises, window)?;
                    let mut mine = Vec::new();
                    for d in pick_fair(due, free, limits, &busy) {
                        if rows::claim(conn, &d.id, &who, now, until)? == 1 {
                            mine.push(d);
                        }
                    }
                    Ok(mine)
                })
                .await;
            match claimed {
                Ok(claimed) => {
                    started = claimed.len();
                    for d in claimed {
                        in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).start(&d);
                        let job = Delivery {
                            state: state.clone(),
                            client: client.clone(),
                            settings: settings.clone(),
                            key: key.clone(),
                            owner: owner.clone(),
                        };
                        let (in_flight, finished) = (in_flight.clone(), finished.clone());
                        tasks.spawn(async move {
                            job.deliver(d.id.clone()).await;
                            in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).finish(&d);
                            finished.notify_one();
                        });
                    }
                }
                Err(e) => crate::services::background::report_failure("claiming webhook deliveries", e),
            }
        }
        if started > 0 {
            tracing::debug!(deliveries = started, "webhook deliveries started");
        }
        // Look again after the poll interval, or as soon as a delivery ends
        // (a place is free again).
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = finished.notified() => {}
        }
    }
}

/// Deletes events older than the retention (with their deliveries and
/// attempts) once none of their deliveries is pending.
async fn prune(state: &web::Data<AppState>, retention_days: i64, now: NaiveDateTime) {
    let before = now - Duration::days(retention_days);
    for _ in 0..PRUNE_ROUNDS {
        let result = state
            .db
            .write(move |conn| -> Result<usize, AppError> {
                let ids = rows::expired_events(conn, before, PRUNE_BATCH)?;
                if ids.is_empty() {
                    return Ok(0);
                }
                Ok(rows::delete_events(conn, &ids)?)
            })
            .await;
        match result {
            Ok(n) if n > 0 => {
                tracing::info!(events = n, "old webhook events and their deliveries pruned");
                if (n as i64) < PRUNE_BATCH {
                    return;
                }
            }
            Ok(_) => return,
            Err(e) => {
                crate::services::background::report_failure("pruning webhook events", e);
                return;
            }
        }
    }
}

/// The HTTP client of the worker: no redirects, no proxy from the
/// environment (it would resolve and connect on its own), names resolved
/// only through [`PublicOnly`].
fn http_client(settings: &WebhookSettings) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(StdDuration::from_secs(settings.request_timeout_secs.max(1)))
        .connect_timeout(StdDuration::from_secs(settings.request_timeout_secs.clamp(1, 5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(PublicOnly { allow_private: settings.allow_private_targets }))
        .user_agent(concat!("Clearway-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A name that resolved to a non-public address (refused).
#[derive(Debug)]
struct AddressRefused;

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves to a non-public address")
    }
}
impl std::error::Error for AddressRefused {}

/// A name that did not resolve.
#[derive(Debug)]
struct NotResolved(String);

impl std::fmt::Display for NotResolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "resolving the host failed: {}", self.0)
    }
}
impl std::error::Error for NotResolved {}

/// The worker's resolver: resolves once, refuses the name if any of its
/// addresses is not public (unless private targets are allowed), and gives
/// the client exactly the addresses checked, which it then connects to.
#[derive(Debug, Clone)]
pub struct PublicOnly {
    pub allow_private: bool,
}

impl PublicOnly {
    /// The checked addresses of `host` (port 0: the client sets the URL's).
    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| Box::new(NotResolved(e.kind().to_string())))?
            .collect();
        if addrs.is_empty() {
            return Err(Box::new(NotResolved("no address".into())));
        }
        if !self.allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(Box::new(AddressRefused));
        }
        Ok(addrs)
    }
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let me = self.clone();
        Box::pin(async move {
            let addrs = me.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What the tenant is told of a failed attempt: coarse words, never an
/// internal address or an operating-system message (those go to the log).
fn coarse_error(e: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<AddressRefused>() {
            return "address not allowed: the host resolves to a private or reserved network";
        }
        if s.is::<NotResolved>() {
            return "could not resolve the host name";
        }
        source = s.source();
    }
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect to the receiver"
    } else {
        "the request failed before the receiver answered"
    }
}

/// One delivery attempt's context.
struct Delivery {
    state: web::Data<AppState>,
    client: reqwest::Client,
    settings: Arc<WebhookSettings>,
    key: Arc<SecretKey>,
    owner: String,
}

impl Delivery {
    /// Sends one leased delivery and records the attempt.
    async fn deliver(&self, id: String) {
        let (state, settings, owner) = (&self.state, &*self.settings, self.owner.clone());
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
        let outcome = self.send(&hook, &event.id, &event.payload).await;
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
                let status =
                    if attempts >= settings.max_attempts { DeliveryStatus::Dead } else { DeliveryStatus::Pending };
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

    /// POSTs the event; `Ok(status)` when the receiver answered at all,
    /// `Err` with the words the tenant sees otherwise.
    async fn send(&self, hook: &WebhookRow, event_id: &str, payload: &str) -> Result<i32, String> {
        if !hook.active {
            return Err("endpoint removed".into());
        }
        let url = check_url(&hook.url, self.settings.allow_private_targets).map_err(str::to_owned)?;
        let secret = self.key.open(&hook.id, &hook.secret).map_err(|_| {
            tracing::error!(webhook = %hook.id, "the endpoint's secret does not open with webhooks.secret_key");
            "could not sign the delivery (server configuration); contact support".to_owned()
        })?;
        // The receiver checks the signature's time against its own clock: the
        // wall clock, not the application's (which tests may move).
        let t = Utc::now().timestamp();
        let resp = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-clearway-event-id", event_id)
            .header("x-clearway-signature", signature(&secret, t, payload))
            .body(payload.to_owned())
            .send()
            .await
            .map_err(|e| {
                let words = coarse_error(&e).to_owned();
                tracing::info!(webhook = %hook.id, error = %e.without_url(), "webhook request failed");
                words
            })?;
        Ok(i32::from(resp.status().as_u16()))
    }
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
            secret_key: None,
            max_per_enterprise: 10,
            per_endpoint_concurrency: 1,
            per_enterprise_concurrency: 4,
            max_in_flight: 64,
            redeliveries_per_hour: 30,
            retention_days: 30,
            prune_interval_secs: 600,
        };
        for attempt in 0..10 {
            let d = backoff(&s, attempt).num_milliseconds();
            let full = (1000u64 << attempt).min(60_000) as i64;
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d}");
        }
    }

    fn due(id: &str, hook: &str, ent: &str) -> Due {
        Due { id: id.into(), webhook_id: hook.into(), enterprise_id: ent.into() }
    }

    #[test]
    fn picks_take_turns_across_enterprises_and_respect_the_limits() {
        // Enterprise a has a backlog on three endpoints; b has one delivery, last in time.
        let hooks = ["h1", "h2", "h4"];
        let mut backlog: Vec<Due> = (0..6).map(|i| due(&format!("a{i}"), hooks[i % 3], "a")).collect();
        backlog.push(due("b0", "h3", "b"));
        let limits = Limits { per_endpoint: 1, per_enterprise: 2 };
        let ids = |picked: Vec<Due>| picked.into_iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(ids(pick_fair(backlog.clone(), 3, limits, &InFlight::default())), ["a0", "b0", "a1"]);
        // Room for more, but a has its two places: b's one is all that goes.
        assert_eq!(ids(pick_fair(backlog.clone(), 10, limits, &InFlight::default())), ["a0", "b0", "a1"]);
        // h1 already has a delivery in flight: it gets none more.
        let mut busy = InFlight::default();
        busy.start(&due("x", "h1", "a"));
        assert_eq!(ids(pick_fair(backlog, 10, limits, &busy)), ["a1", "b0"]);
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_with_private_addresses() {
        let strict = PublicOnly { allow_private: false };
        let err = strict.lookup("localhost").await.unwrap_err();
        assert!(err.is::<AddressRefused>(), "{err}");
        let lax = PublicOnly { allow_private: true };
        assert!(!lax.lookup("localhost").await.unwrap().is_empty());
    }
}
