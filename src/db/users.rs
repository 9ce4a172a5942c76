//! The `users` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::users;
use super::DbConnection;
use crate::domain::identity::Role;

/// One user as stored (the hash never leaves the server).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct UserRow {
    pub id: String,
    pub enterprise_id: Option<String>,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

super::row_access!(users, UserRow, insert);

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<UserRow>> {
    super::by_key(users::table.filter(users::email.eq(email)).select(UserRow::as_select()), conn)
}

pub fn email_taken(conn: &mut DbConnection, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.filter(users::email.eq(email)))).get_result(conn)
}

/// Users of one enterprise, in creation order.
pub fn list_for_enterprise(conn: &mut DbConnection, enterprise_id: &str) -> QueryResult<Vec<UserRow>> {
    users::table
        .filter(users::enterprise_id.eq(enterprise_id))
        .select(UserRow::as_select())
        .order(users::id.asc())
        .load(conn)
}

/// Takes a customs account's row lock for the rest of the transaction
/// (stamping `updated_at`); 0 rows: no such customs account.
pub fn touch_customs(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.filter(users::id.eq(id)).filter(users::enterprise_id.is_null()))
        .set(users::updated_at.eq(now))
        .execute(conn)
}

/// Customs accounts (officers and supervisors), in creation order.
pub fn list_customs(conn: &mut DbConnection) -> QueryResult<Vec<UserRow>> {
    users::table.filter(users::enterprise_id.is_null()).select(UserRow::as_select()).order(users::id.asc()).load(conn)
}

/// Deactivates a user of one enterprise; returns rows changed.
pub fn set_active(
    conn: &mut DbConnection,
    id: &str,
    enterprise_id: &str,
    active: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.filter(users::id.eq(id)).filter(users::enterprise_id.eq(enterprise_id)))
        .set((users::active.eq(active), users::updated_at.eq(now)))
        .execute(conn)
}

/// Replaces an active user's password hash; rows changed.
pub fn set_password(conn: &mut DbConnection, id: &str, password_hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.filter(users::id.eq(id)).filter(users::active.eq(true)))
        .set((users::password_hash.eq(password_hash), users::updated_at.eq(now)))
        .execute(conn)
}

/// Deactivates a user and moves their email aside (a rejected
/// registration), so that the address can be registered again.
pub fn retire(conn: &mut DbConnection, id: &str, moved_email: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::active.eq(false), users::email.eq(moved_email), users::updated_at.eq(now)))
        .execute(conn)
}

/// Activates or deactivates a customs account (officer or supervisor);
/// rows changed (0: no such customs account).
pub fn set_customs_active(conn: &mut DbConnection, id: &str, active: bool, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.filter(users::id.eq(id)).filter(users::enterprise_id.is_null()))
        .set((users::active.eq(active), users::updated_at.eq(now)))
        .execute(conn)
}
