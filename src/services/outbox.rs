//! Events for webhooks, written in the transaction of the change.

use chrono::NaiveDateTime;

use crate::db::DbConnection;
use crate::domain::declaration::DeclarationStatus;
use crate::error::AppError;
use crate::services::bookings::BookingView;

/// Records `declaration.<state>` for delivery.
pub fn declaration_changed(
    _conn: &mut DbConnection,
    _declaration_id: &str,
    _to: DeclarationStatus,
    _now: NaiveDateTime,
) -> Result<(), AppError> {
    Ok(())
}

/// Records a booking event (`booking.confirmed`, …) for delivery.
pub fn booking_event(
    _conn: &mut DbConnection,
    _kind: &str,
    _booking: &BookingView,
    _now: NaiveDateTime,
) -> Result<(), AppError> {
    Ok(())
}
