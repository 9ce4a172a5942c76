//! The booking service (capacity, shares, idempotency).

use chrono::NaiveDateTime;

use crate::db::audit::Actor;
use crate::db::DbConnection;
use crate::error::AppError;

/// Cancels the active booking of a declaration that was rejected or
/// cancelled, freeing its place. Returns whether there was one.
pub fn cancel_for_declaration(
    _conn: &mut DbConnection,
    _declaration_id: &str,
    _reason: &str,
    _actor: &Actor,
    _now: NaiveDateTime,
) -> Result<bool, AppError> {
    Ok(false)
}
