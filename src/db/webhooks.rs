//! The `webhooks`, `outbox_events`, `webhook_deliveries` and
//! `webhook_attempts` tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{enterprises, outbox_events, webhook_attempts, webhook_deliveries, webhooks};
use super::DbConnection;
use crate::domain::webhook::DeliveryStatus;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhooks, treat_none_as_default_value = false)]
pub struct WebhookRow {
    pub id: String,
    pub enterprise_id: String,
    pub url: String,
    pub events: String,
    pub secret: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub redeliver_window_start: Option<NaiveDateTime>,
    pub redeliver_count: i32,
}

impl WebhookRow {
    pub fn event_list(&self) -> Vec<String> {
        self.events.split(',').filter(|e| !e.is_empty()).map(str::to_owned).collect()
    }
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.split(',').any(|e| e == event_type)
    }
}

super::row_access!(webhooks, WebhookRow, insert);

/// One endpoint of one enterprise (another's does not exist for it).
pub fn find_for(conn: &mut DbConnection, id: &str, enterprise_id: &str) -> QueryResult<Option<WebhookRow>> {
    webhooks::table
        .filter(webhooks::id.eq(id))
        .filter(webhooks::enterprise_id.eq(enterprise_id))
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()
}

/// The active endpoints of one enterprise (at most `webhooks.max_per_enterprise`).
pub fn list_for(conn: &mut DbConnection, enterprise_id: &str) -> QueryResult<Vec<WebhookRow>> {
    webhooks::table
        .filter(webhooks::enterprise_id.eq(enterprise_id))
        .filter(webhooks::active.eq(true))
        .select(WebhookRow::as_select())
        .order(webhooks::id.asc())
        .load(conn)
}

/// One page of an enterprise's active endpoints in id order, after `after`.
pub fn page_for(
    conn: &mut DbConnection,
    enterprise_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<WebhookRow>> {
    let mut q = webhooks::table
        .filter(webhooks::enterprise_id.eq(enterprise_id.to_owned()))
        .filter(webhooks::active.eq(true))
        .select(WebhookRow::as_select())
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(webhooks::id.gt(a.to_owned()));
    }
    q.order(webhooks::id.asc()).limit(limit).load(conn)
}

/// Takes one of the enterprise's endpoint places: 1 = taken, 0 = it has
/// `max` already (a guarded UPDATE, so concurrent registrations cannot pass the cap).
pub fn take_place(conn: &mut DbConnection, enterprise_id: &str, max: i32) -> QueryResult<usize> {
    diesel::update(
        enterprises::table.filter(enterprises::id.eq(enterprise_id)).filter(enterprises::webhook_count.lt(max)),
    )
    .set(enterprises::webhook_count.eq(enterprises::webhook_count + 1))
    .execute(conn)
}

/// Gives back the place of a removed endpoint.
pub fn give_back_place(conn: &mut DbConnection, enterprise_id: &str) -> QueryResult<usize> {
    diesel::update(
        enterprises::table.filter(enterprises::id.eq(enterprise_id)).filter(enterprises::webhook_count.gt(0)),
    )
    .set(enterprises::webhook_count.eq(enterprises::webhook_count - 1))
    .execute(conn)
}

/// Opens a new redelivery window for the endpoint if the last one is over.
pub fn open_redeliver_window(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
    window_start_before: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(webhooks::table.filter(webhooks::id.eq(id)).filter(
        webhooks::redeliver_window_start.is_null().or(webhooks::redeliver_window_start.le(window_start_before)),
    ))
    .set((webhooks::redeliver_window_start.eq(now), webhooks::redeliver_count.eq(0)))
    .execute(conn)
}

/// Counts one redelivery in the current window: 1 = allowed, 0 = `max` reached.
pub fn take_redelivery(conn: &mut DbConnection, id: &str, max: i32) -> QueryResult<usize> {
    diesel::update(webhooks::table.filter(webhooks::id.eq(id)).filter(webhooks::redeliver_count.lt(max)))
        .set(webhooks::redeliver_count.eq(webhooks::redeliver_count + 1))
        .execute(conn)
}

/// Endpoints whose secret is still stored in clear (written before sealing).
pub fn unsealed(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    webhooks::table
        .filter(webhooks::secret.not_like(format!("{}%", crate::domain::webhook_secret::SEALED_PREFIX)))
        .select((webhooks::id, webhooks::secret))
        .load(conn)
}

/// Replaces a clear secret by its sealed form (only if it is still the clear one).
pub fn seal_secret(conn: &mut DbConnection, id: &str, clear: &str, sealed: &str) -> QueryResult<usize> {
    diesel::update(webhooks::table.filter(webhooks::id.eq(id)).filter(webhooks::secret.eq(clear)))
        .set(webhooks::secret.eq(sealed))
        .execute(conn)
}

pub fn deactivate(conn: &mut DbConnection, id: &str, enterprise_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        webhooks::table
            .filter(webhooks::id.eq(id))
            .filter(webhooks::enterprise_id.eq(enterprise_id))
            .filter(webhooks::active.eq(true)),
    )
    .set((webhooks::active.eq(false), webhooks::updated_at.eq(now)))
    .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox_events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub event_type: String,
    pub enterprise_id: String,
    pub payload: String,
    pub occurred_at: NaiveDateTime,
    /// Its deliveries were written (by the worker).
    pub fanned_out: bool,
}

pub fn insert_event(conn: &mut DbConnection, row: &EventRow) -> QueryResult<usize> {
    diesel::insert_into(outbox_events::table).values(row.clone()).execute(conn)
}

pub fn find_event(conn: &mut DbConnection, id: &str) -> QueryResult<Option<EventRow>> {
    super::by_key(outbox_events::table.find(id).select(EventRow::as_select()), conn)
}

/// Takes up to `limit` events not yet expanded to deliveries, oldest
/// first, and marks them expanded: one UPDATE for the batch, in the
/// caller's transaction, which writes their deliveries. On PostgreSQL the
/// rows are locked, skipping those another worker holds, and an event that
/// worker committed meanwhile is re-checked and left out; SQLite has one
/// writer. Each event is thus expanded once.
pub fn take_unexpanded(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<EventRow>> {
    let pending = outbox_events::table
        .filter(outbox_events::fanned_out.eq(false))
        .order((outbox_events::occurred_at.asc(), outbox_events::id.asc()))
        .limit(limit);
    let events = match conn {
        DbConnection::Postgres(pg) => {
            pending.select(EventRow::as_select()).for_no_key_update().skip_locked().load(pg)?
        }
        DbConnection::Sqlite(lite) => pending.select(EventRow::as_select()).load(lite)?,
    };
    if !events.is_empty() {
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        diesel::update(outbox_events::table.filter(outbox_events::id.eq_any(ids)))
            .set(outbox_events::fanned_out.eq(true))
            .execute(conn)?;
    }
    Ok(events)
}

/// Up to `limit` events older than `before` that are expanded and have no
/// pending delivery: what retention may delete.
pub fn expired_events(conn: &mut DbConnection, before: NaiveDateTime, limit: i64) -> QueryResult<Vec<String>> {
    let pending = webhook_deliveries::table
        .filter(webhook_deliveries::event_id.eq(outbox_events::id))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending));
    outbox_events::table
        .filter(outbox_events::occurred_at.lt(before))
        .filter(outbox_events::fanned_out.eq(true))
        .filter(diesel::dsl::not(diesel::dsl::exists(pending)))
        .order(outbox_events::occurred_at.asc())
        .select(outbox_events::id)
        .limit(limit)
        .load(conn)
}

/// Deletes events with their deliveries and attempts; returns the events deleted.
pub fn delete_events(conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
    let deliveries =
        webhook_deliveries::table.filter(webhook_deliveries::event_id.eq_any(ids)).select(webhook_deliveries::id);
    diesel::delete(webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(deliveries))).execute(conn)?;
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::event_id.eq_any(ids))).execute(conn)?;
    diesel::delete(outbox_events::table.filter(outbox_events::id.eq_any(ids))).execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub leased_until: Option<NaiveDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert_delivery(conn: &mut DbConnection, row: &DeliveryRow) -> QueryResult<usize> {
    diesel::insert_into(webhook_deliveries::table).values(row.clone()).execute(conn)
}

/// A due delivery with the endpoint and enterprise it goes to.
#[derive(Debug, Clone, Queryable)]
pub struct Due {
    pub id: String,
    pub webhook_id: String,
    pub enterprise_id: String,
}

/// Deliveries due now and not held by a live lease, oldest first, leaving
/// out the endpoints and enterprises in `busy_*` (those this worker has at
/// their limit), so that a backlog of a few slow endpoints never fills the window.
pub fn due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    busy_endpoints: &[String],
    busy_enterprises: &[String],
    limit: i64,
) -> QueryResult<Vec<Due>> {
    let mut q = webhook_deliveries::table
        .inner_join(webhooks::table)
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(webhook_deliveries::leased_until.is_null().or(webhook_deliveries::leased_until.lt(now)))
        .select((webhook_deliveries::id, webhook_deliveries::webhook_id, webhooks::enterprise_id))
        .into_boxed();
    if !busy_endpoints.is_empty() {
        q = q.filter(webhook_deliveries::webhook_id.ne_all(busy_endpoints.to_vec()));
    }
    if !busy_enterprises.is_empty() {
        q = q.filter(webhooks::enterprise_id.ne_all(busy_enterprises.to_vec()));
    }
    q.order((webhook_deliveries::next_attempt_at.asc(), webhook_deliveries::id.asc())).limit(limit).load(conn)
}

/// Takes a lease on one due delivery; 1 = this worker holds it, 0 = another
/// worker took it first (the guard makes the claim atomic on both backends).
pub fn claim(
    conn: &mut DbConnection,
    id: &str,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
            .filter(webhook_deliveries::leased_until.is_null().or(webhook_deliveries::leased_until.lt(now))),
    )
    .set((webhook_deliveries::lease_owner.eq(owner), webhook_deliveries::leased_until.eq(until)))
    .execute(conn)
}

pub fn find_delivery(conn: &mut DbConnection, id: &str) -> QueryResult<Option<DeliveryRow>> {
    super::by_key(webhook_deliveries::table.find(id).select(DeliveryRow::as_select()), conn)
}

/// Records an attempt's outcome, if this worker still holds the lease.
#[allow(clippy::too_many_arguments)]
pub fn finish_attempt(
    conn: &mut DbConnection,
    id: &str,
    owner: &str,
    status: DeliveryStatus,
    next_attempt_at: NaiveDateTime,
    status_code: Option<i32>,
    error: Option<&str>,
    delivered_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::lease_owner.eq(owner)),
    )
    .set((
        webhook_deliveries::status.eq(status),
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        webhook_deliveries::next_attempt_at.eq(next_attempt_at),
        webhook_deliveries::lease_owner.eq(None::<String>),
        webhook_deliveries::leased_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_status_code.eq(status_code),
        webhook_deliveries::last_error.eq(error),
        webhook_deliveries::delivered_at.eq(delivered_at),
        webhook_deliveries::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Puts a delivery back in the queue now (manual redeliver).
pub fn requeue(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq(id)))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::lease_owner.eq(None::<String>),
            webhook_deliveries::leased_until.eq(None::<NaiveDateTime>),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(conn)
}

/// A page of an endpoint's deliveries with their event types, newest
/// first, in one joined query.
pub fn deliveries_of(
    conn: &mut DbConnection,
    webhook_id: &str,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<(DeliveryRow, String)>> {
    let mut q = webhook_deliveries::table
        .inner_join(outbox_events::table)
        .filter(webhook_deliveries::webhook_id.eq(webhook_id.to_owned()))
        .select((DeliveryRow::as_select(), outbox_events::event_type))
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(webhook_deliveries::id.lt(b.to_owned()));
    }
    q.order(webhook_deliveries::id.desc()).limit(limit).load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts, treat_none_as_default_value = false)]
pub struct AttemptRow {
    pub id: String,
    pub delivery_id: String,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

pub fn insert_attempt(conn: &mut DbConnection, row: &AttemptRow) -> QueryResult<usize> {
    diesel::insert_into(webhook_attempts::table).values(row.clone()).execute(conn)
}

/// The attempts of several deliveries (one page's), oldest first.
pub fn attempts_of(conn: &mut DbConnection, delivery_ids: &[String]) -> QueryResult<Vec<AttemptRow>> {
    webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(delivery_ids))
        .order((webhook_attempts::attempted_at.asc(), webhook_attempts::id.asc()))
        .select(AttemptRow::as_select())
        .load(conn)
}
