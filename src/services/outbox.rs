//! Events for webhooks, written in the transaction of the change they
//! describe: an event is never lost (it commits with the change) and never
//! sent for a change that rolled back. The business transaction writes one
//! row whatever the number of endpoints; the delivery worker expands it to
//! one delivery per subscribed endpoint ([`fan_out`]), outside that
//! transaction (on SQLite it would otherwise hold the only writer).

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::db::webhooks::{self as rows, DeliveryRow, EventRow};
use crate::db::{declarations, new_id, DbConnection};
use crate::domain::declaration::{DeclarationKind, DeclarationStatus, RiskLane};
use crate::domain::webhook::DeliveryStatus;
use crate::error::AppError;
use crate::services::bookings::BookingView;

/// Every event type an endpoint may subscribe to.
pub fn event_types() -> Vec<String> {
    let mut types: Vec<String> = DeclarationStatus::ALL.iter().map(|s| format!("declaration.{}", s.as_str())).collect();
    for t in [
        "booking.confirmed",
        "booking.cancelled",
        "booking.rescheduled",
        "booking.displaced",
        "booking.checked_in",
        "booking.completed",
        "booking.no_show",
        "hold.released",
        "waitlist.offered",
    ] {
        types.push(t.to_owned());
    }
    types
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    id: &'a str,
    #[serde(rename = "type")]
    type_: &'a str,
    occurred_at: chrono::DateTime<chrono::Utc>,
    data: &'a T,
}

/// Writes one event (its deliveries are written by the worker). Returns the event id.
pub fn record<T: Serialize>(
    conn: &mut DbConnection,
    enterprise_id: &str,
    event_type: &str,
    data: &T,
    now: NaiveDateTime,
) -> Result<String, AppError> {
    let row = event_row(enterprise_id, event_type, data, now)?;
    rows::insert_event(conn, &row)?;
    Ok(row.id)
}

/// An event as [`record`] stores it, to be written with other statements
/// (a new booking's, `db::bookings::NewBooking`).
pub fn event_row<T: Serialize>(
    enterprise_id: &str,
    event_type: &str,
    data: &T,
    now: NaiveDateTime,
) -> Result<EventRow, AppError> {
    let id = new_id();
    let payload = serde_json::to_string(&Envelope { id: &id, type_: event_type, occurred_at: now.and_utc(), data })
        .map_err(|e| AppError::internal(format!("serialising event: {e}")))?;
    Ok(EventRow {
        id,
        event_type: event_type.to_owned(),
        enterprise_id: enterprise_id.to_owned(),
        payload,
        occurred_at: now,
        fanned_out: false,
    })
}

/// Expands up to `limit` events to one pending delivery per active endpoint
/// of their enterprise that subscribes to their type (the worker's step, in
/// its own transaction). Returns how many events were expanded.
pub fn fan_out(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> Result<usize, AppError> {
    let mut expanded = 0;
    let mut endpoints: std::collections::HashMap<String, Vec<crate::db::webhooks::WebhookRow>> = Default::default();
    for event in rows::take_unexpanded(conn, limit)? {
        expanded += 1;
        if !endpoints.contains_key(&event.enterprise_id) {
            let hooks = rows::list_for(conn, &event.enterprise_id)?;
            endpoints.insert(event.enterprise_id.clone(), hooks);
        }
        let hooks = endpoints.get(&event.enterprise_id).map(Vec::as_slice).unwrap_or_default();
        for hook in hooks.iter().filter(|h| h.wants(&event.event_type)) {
            rows::insert_delivery(
                conn,
                &DeliveryRow {
                    id: new_id(),
                    event_id: event.id.clone(),
                    webhook_id: hook.id.clone(),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    next_attempt_at: now,
                    lease_owner: None,
                    leased_until: None,
                    last_status_code: None,
                    last_error: None,
                    delivered_at: None,
                    created_at: now,
                    updated_at: now,
                },
            )?;
        }
    }
    Ok(expanded)
}

#[derive(Serialize)]
struct DeclarationEventData {
    id: String,
    number: Option<String>,
    status: DeclarationStatus,
    kind: DeclarationKind,
    site_id: String,
    enterprise_id: String,
    risk_lane: Option<RiskLane>,
    reason: Option<String>,
    version: i32,
}

/// Records `declaration.<state>`.
pub fn declaration_changed(
    conn: &mut DbConnection,
    declaration_id: &str,
    to: DeclarationStatus,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let d = declarations::find(conn, declaration_id)?.ok_or(AppError::NotFound)?;
    let data = DeclarationEventData {
        id: d.id,
        number: d.number,
        status: d.status,
        kind: d.data.kind,
        site_id: d.data.site_id,
        enterprise_id: d.enterprise_id.clone(),
        risk_lane: d.risk_lane,
        reason: d.status_reason,
        version: d.version,
    };
    record(conn, &d.enterprise_id, &format!("declaration.{}", to.as_str()), &data, now)?;
    Ok(())
}

/// Records a booking event (`booking.confirmed`, …).
pub fn booking_event(
    conn: &mut DbConnection,
    kind: &str,
    booking: &BookingView,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    record(conn, &booking.enterprise_id, kind, booking, now)?;
    Ok(())
}
