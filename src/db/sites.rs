//! The `sites` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::sites;
use super::DbConnection;
use crate::domain::goods::TransportMode;

/// One site as stored; also what `insert` writes.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sites)]
pub struct SiteRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub timezone: String,
    pub modes: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl SiteRow {
    /// The transport modes served (stored as a comma-separated list).
    pub fn mode_list(&self) -> Vec<TransportMode> {
        self.modes.split(',').filter_map(|m| m.parse().ok()).collect()
    }
    /// Whether the site serves `mode`.
    pub fn serves(&self, mode: TransportMode) -> bool {
        self.modes.split(',').any(|m| m == mode.as_str())
    }
}

/// Changes to a site; `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = sites)]
pub struct SiteChanges {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub modes: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

super::row_access!(sites, SiteRow, insert);

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<SiteRow>> {
    sites::table.filter(sites::code.eq(code)).select(SiteRow::as_select()).first(conn).optional()
}

/// Sites in code order (a customs authority has tens, not thousands);
/// `only`: just these ids (an officer limited to sites).
pub fn list(
    conn: &mut DbConnection,
    only: Option<&[String]>,
    after_code: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<SiteRow>> {
    let mut q = sites::table.select(SiteRow::as_select()).into_boxed();
    if let Some(ids) = only {
        q = q.filter(sites::id.eq_any(ids.to_vec()));
    }
    if let Some(c) = after_code {
        q = q.filter(sites::code.gt(c.to_owned()));
    }
    q.order(sites::code.asc()).limit(limit).load(conn)
}

/// Which of these ids are sites.
pub fn existing(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<String>> {
    sites::table.filter(sites::id.eq_any(ids)).select(sites::id).load(conn)
}

pub fn update(conn: &mut DbConnection, id: &str, changes: &SiteChanges) -> QueryResult<usize> {
    diesel::update(sites::table.find(id)).set(changes).execute(conn)
}

/// Takes the site's row lock for the rest of the transaction (PostgreSQL;
/// SQLite's single writer already serialises) and returns the locked row
/// (`None`: no such site). Schedule changes, slot generation and numbering
/// of one site then run one at a time.
pub fn lock(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<Option<SiteRow>> {
    // Not `RETURNING`: the two-backend connection cannot return a `Selectable` row.
    if diesel::update(sites::table.find(id)).set(sites::updated_at.eq(now)).execute(conn)? == 0 {
        return Ok(None);
    }
    find(conn, id)
}
