//! The `enterprises` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::enterprises;
use super::DbConnection;
use crate::domain::identity::{CreditClass, EnterpriseStatus};

/// One enterprise as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = enterprises, treat_none_as_default_value = false)]
pub struct EnterpriseRow {
    pub id: String,
    pub legal_name: String,
    pub country: String,
    pub registration_code: String,
    pub customs_code: Option<String>,
    pub credit_class: CreditClass,
    pub status: EnterpriseStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

super::row_access!(enterprises, EnterpriseRow, insert);

/// An enterprise's credit class alone.
pub fn credit_class(conn: &mut DbConnection, id: &str) -> QueryResult<Option<CreditClass>> {
    super::by_key(enterprises::table.find(id).select(enterprises::credit_class), conn)
}

pub fn registration_code_taken(conn: &mut DbConnection, code: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(enterprises::table.filter(enterprises::registration_code.eq(code))))
        .get_result(conn)
}

/// A page of enterprises in id order (UUID v7: registration order), after
/// `cursor`, optionally of one status.
pub fn list(
    conn: &mut DbConnection,
    status: Option<EnterpriseStatus>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<EnterpriseRow>> {
    let mut q = enterprises::table.select(EnterpriseRow::as_select()).into_boxed();
    if let Some(s) = status {
        q = q.filter(enterprises::status.eq(s));
    }
    if let Some(c) = after {
        q = q.filter(enterprises::id.gt(c.to_owned()));
    }
    q.order(enterprises::id.asc()).limit(limit).load(conn)
}

/// Moves the status only if it is still `from`; returns rows changed (0 or 1).
pub fn update_status(
    conn: &mut DbConnection,
    id: &str,
    from: EnterpriseStatus,
    to: EnterpriseStatus,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(enterprises::table.filter(enterprises::id.eq(id)).filter(enterprises::status.eq(from)))
        .set((enterprises::status.eq(to), enterprises::updated_at.eq(now)))
        .execute(conn)
}

/// Sets the credit class and customs code; returns rows changed.
pub fn update_classification(
    conn: &mut DbConnection,
    id: &str,
    credit_class: CreditClass,
    customs_code: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(enterprises::table.find(id))
        .set((
            enterprises::credit_class.eq(credit_class),
            enterprises::customs_code.eq(customs_code),
            enterprises::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Replaces an enterprise's registration code (a rejected registration's
/// code is moved aside, freeing it); rows changed.
pub fn set_registration_code(conn: &mut DbConnection, id: &str, code: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(enterprises::table.find(id))
        .set((enterprises::registration_code.eq(code), enterprises::updated_at.eq(now)))
        .execute(conn)
}
