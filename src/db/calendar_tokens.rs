//! The `calendar_tokens` table: revocable feed tokens of an enterprise.
//! Only the SHA-256 of a token's secret is stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::calendar_tokens;
use super::DbConnection;

/// One feed token as stored; also what `insert` writes.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = calendar_tokens)]
pub struct CalendarTokenRow {
    pub id: String,
    pub enterprise_id: String,
    pub label: String,
    /// Hex SHA-256 of the secret part of the token.
    pub secret_hash: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

super::row_access!(calendar_tokens, CalendarTokenRow, insert);

/// Most tokens (revoked ones included) one enterprise keeps listed.
pub const MAX_PER_ENTERPRISE: i64 = 50;

/// An enterprise's tokens, newest first.
pub fn of_enterprise(conn: &mut DbConnection, enterprise_id: &str) -> QueryResult<Vec<CalendarTokenRow>> {
    calendar_tokens::table
        .filter(calendar_tokens::enterprise_id.eq(enterprise_id))
        .order(calendar_tokens::id.desc())
        .limit(MAX_PER_ENTERPRISE)
        .select(CalendarTokenRow::as_select())
        .load(conn)
}

/// How many tokens an enterprise has that are not revoked.
pub fn count_active(conn: &mut DbConnection, enterprise_id: &str) -> QueryResult<i64> {
    calendar_tokens::table
        .filter(calendar_tokens::enterprise_id.eq(enterprise_id))
        .filter(calendar_tokens::revoked_at.is_null())
        .count()
        .get_result(conn)
}

/// Revokes a token of this enterprise; 0 rows = no such token of it, or
/// already revoked.
pub fn revoke(conn: &mut DbConnection, enterprise_id: &str, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        calendar_tokens::table
            .filter(calendar_tokens::id.eq(id))
            .filter(calendar_tokens::enterprise_id.eq(enterprise_id))
            .filter(calendar_tokens::revoked_at.is_null()),
    )
    .set(calendar_tokens::revoked_at.eq(now))
    .execute(conn)
}
