//! Operations that span tables, each in one transaction. Every write a
//! signed-in caller makes goes through [`write`]; each operation writes its
//! own audit event in the same transaction as its change.

pub mod access;
pub mod background;
pub mod board_cache;
pub mod bookings;
pub mod calendar;
pub mod closures;
pub mod declarations;
pub mod demo;
pub mod displacement;
pub mod gate;
pub mod holds;
pub mod identity;
pub mod outbox;
pub mod public_board;
pub mod schedules;
pub mod users;
pub mod waitlist;
pub mod webhooks;

use crate::context::RequestContext;
use crate::db::audit::{self, Change};
use crate::db::{Db, DbConnection};
use crate::error::AppError;

/// Runs one write on behalf of a signed-in caller, in one transaction off
/// the async executor. The one place where the enterprise-status rule is
/// enforced for every write a company makes: a suspended enterprise may
/// read but not change anything (checked in the same transaction as the
/// change, so a suspension that commits first is always seen).
pub async fn write<T, F>(db: &Db, ctx: &RequestContext, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &RequestContext) -> Result<T, AppError> + Send + 'static,
{
    write_checked_within(db, ctx, move |conn, ctx| {
        if let Some(enterprise_id) = ctx.caller.enterprise_id.as_deref() {
            identity::require_writable(conn, enterprise_id)?;
        }
        f(conn, ctx)
    })
    .await
}

/// [`write`] for a write that applies the enterprise-status rule itself
/// (`identity::writable`), on a status read by a statement it runs anyway,
/// so as not to spend a round trip on it: a booking
/// (`bookings::try_book`, `bookings::book`), whose locking statement reads
/// the enterprise's standing.
pub async fn write_checked_within<T, F>(db: &Db, ctx: &RequestContext, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &RequestContext) -> Result<T, AppError> + Send + 'static,
{
    let ctx = ctx.clone();
    db.write(move |conn| f(conn, &ctx)).await.map_err(AppError::from)
}

/// Appends one entity's change to its audit trail in the caller's
/// transaction, as done by the request's caller at the request's instant.
pub fn record_change(conn: &mut DbConnection, ctx: &RequestContext, change: Change<'_>) -> Result<(), AppError> {
    audit::append(conn, &ctx.actor(), &change, ctx.stamp())?;
    Ok(())
}
