//! The `webhooks`, `outbox_events`, `webhook_deliveries` and
//! `webhook_attempts` tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{outbox_events, webhook_attempts, webhook_deliveries, webhooks};
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

pub fn list_for(conn: &mut DbConnection, enterprise_id: &str) -> QueryResult<Vec<WebhookRow>> {
    webhooks::table
        .filter(webhooks::enterprise_id.eq(enterprise_id))
        .filter(webhooks::active.eq(true))
        .select(WebhookRow::as_select())
        .order(webhooks::id.asc())
        .load(conn)
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
}

pub fn insert_event(conn: &mut DbConnection, row: &EventRow) -> QueryResult<usize> {
    diesel::insert_into(outbox_events::table).values(row.clone()).execute(conn)
}

pub fn find_event(conn: &mut DbConnection, id: &str) -> QueryResult<Option<EventRow>> {
    outbox_events::table.find(id).select(EventRow::as_select()).first(conn).optional()
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

/// Deliveries due now and not held by a live lease, oldest first.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<String>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(webhook_deliveries::leased_until.is_null().or(webhook_deliveries::leased_until.lt(now)))
        .order(webhook_deliveries::next_attempt_at.asc())
        .select(webhook_deliveries::id)
        .limit(limit)
        .load(conn)
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
    webhook_deliveries::table.find(id).select(DeliveryRow::as_select()).first(conn).optional()
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
