//! Events for webhooks, written in the transaction of the change they
//! describe, with one delivery row per subscribed endpoint: an event is
//! never lost (it commits with the change) and never sent for a change
//! that rolled back.

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

/// Writes one event and its deliveries. Returns the event id.
pub fn record<T: Serialize>(
    conn: &mut DbConnection,
    enterprise_id: &str,
    event_type: &str,
    data: &T,
    now: NaiveDateTime,
) -> Result<String, AppError> {
    let id = new_id();
    let payload = serde_json::to_string(&Envelope { id: &id, type_: event_type, occurred_at: now.and_utc(), data })
        .map_err(|e| AppError::internal(format!("serialising event: {e}")))?;
    rows::insert_event(
        conn,
        &EventRow {
            id: id.clone(),
            event_type: event_type.to_owned(),
            enterprise_id: enterprise_id.to_owned(),
            payload,
            occurred_at: now,
        },
    )?;
    for hook in rows::list_for(conn, enterprise_id)?.into_iter().filter(|h| h.wants(event_type)) {
        rows::insert_delivery(
            conn,
            &DeliveryRow {
                id: new_id(),
                event_id: id.clone(),
                webhook_id: hook.id,
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
    Ok(id)
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
