//! Events for webhooks, written in the transaction of the change.

use chrono::NaiveDateTime;

use crate::db::DbConnection;
use crate::domain::declaration::DeclarationStatus;
use crate::error::AppError;

/// Records `declaration.<state>` for delivery.
pub fn declaration_changed(
    _conn: &mut DbConnection,
    _declaration_id: &str,
    _to: DeclarationStatus,
    _now: NaiveDateTime,
) -> Result<(), AppError> {
    Ok(())
}
