//! The `sessions` table: one row per sign-in (the refresh-token family).
//! Access tokens carry the session's id; revoking the row refuses them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{sessions, users};
use super::DbConnection;
use crate::domain::identity::Role;

/// One session as stored; also what `insert` writes.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

super::row_access!(sessions, SessionRow, insert);

/// What a request needs to know about its session, read in one query:
/// the session's user as stored now (role, enterprise, active) and whether
/// the session still stands.
#[derive(Debug, Clone, Queryable)]
pub struct SessionState {
    pub user_id: String,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub role: Role,
    pub enterprise_id: Option<String>,
    pub active: bool,
}

/// The session with this id joined to its user, if it exists.
pub fn state(conn: &mut DbConnection, id: &str) -> QueryResult<Option<SessionState>> {
    let q = sessions::table.inner_join(users::table).filter(sessions::id.eq(id)).select((
        sessions::user_id,
        sessions::expires_at,
        sessions::revoked_at,
        users::role,
        users::enterprise_id,
        users::active,
    ));
    super::by_key(q, conn)
}

/// Revokes one session (sign-out); rows changed.
pub fn revoke(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::id.eq(id)).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
}

/// Revokes every session of a user (sign-out everywhere, password change,
/// deactivation); rows changed.
pub fn revoke_user(conn: &mut DbConnection, user_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
}
