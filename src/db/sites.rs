//! The `sites` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::sites;
use super::DbConnection;
use crate::domain::goods::TransportMode;
use crate::domain::site_policy::PolicyOverrides;

/// One site as stored; also what `insert` writes.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sites, treat_none_as_default_value = false)]
pub struct SiteRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub timezone: String,
    pub modes: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Display zones, comma-separated ('' = none): `domain::display_zones`.
    pub display_zones: String,
    #[diesel(embed)]
    pub policy: PolicyColumns,
}

/// A site's own booking policy as stored: one nullable column per rule,
/// NULL = the configured default. Also the changeset that replaces all
/// seven (`None` writes NULL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sites, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct PolicyColumns {
    pub min_notice_minutes: Option<i32>,
    pub min_notice_minutes_advanced: Option<i32>,
    pub horizon_days: Option<i32>,
    pub cancel_cutoff_minutes: Option<i32>,
    pub max_share_percent: Option<i32>,
    pub arrival_early_minutes: Option<i32>,
    pub arrival_late_minutes: Option<i32>,
}

impl From<PolicyColumns> for PolicyOverrides {
    fn from(c: PolicyColumns) -> Self {
        let v = |x: Option<i32>| x.map(i64::from);
        PolicyOverrides {
            min_notice_minutes: v(c.min_notice_minutes),
            min_notice_minutes_advanced: v(c.min_notice_minutes_advanced),
            horizon_days: v(c.horizon_days),
            cancel_cutoff_minutes: v(c.cancel_cutoff_minutes),
            max_share_percent: v(c.max_share_percent),
            arrival_early_minutes: v(c.arrival_early_minutes),
            arrival_late_minutes: v(c.arrival_late_minutes),
        }
    }
}

impl From<PolicyOverrides> for PolicyColumns {
    /// The values are checked to their ranges (`PolicyPatch::check`), all
    /// far inside `i32`; the columns' CHECKs hold them too.
    fn from(o: PolicyOverrides) -> Self {
        let v = |x: Option<i64>| x.map(|x| i32::try_from(x).unwrap_or(i32::MAX));
        PolicyColumns {
            min_notice_minutes: v(o.min_notice_minutes),
            min_notice_minutes_advanced: v(o.min_notice_minutes_advanced),
            horizon_days: v(o.horizon_days),
            cancel_cutoff_minutes: v(o.cancel_cutoff_minutes),
            max_share_percent: v(o.max_share_percent),
            arrival_early_minutes: v(o.arrival_early_minutes),
            arrival_late_minutes: v(o.arrival_late_minutes),
        }
    }
}

/// What a slot's rules and answers need of its site: the time zone and the
/// site's policy. Read in the same joined statement as the slot (or the
/// booking), never by a query of its own.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sites)]
pub struct SiteTerms {
    pub timezone: String,
    /// Display zones, comma-separated ('' = none).
    pub display_zones: String,
    #[diesel(embed)]
    pub policy: PolicyColumns,
}

impl SiteTerms {
    /// The site's own policy values.
    pub fn overrides(&self) -> PolicyOverrides {
        self.policy.into()
    }
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
    pub display_zones: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

super::row_access!(sites, SiteRow, insert);

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<SiteRow>> {
    super::by_key(sites::table.filter(sites::code.eq(code)).select(SiteRow::as_select()), conn)
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

/// Changes what a site shows; reported to `db::changes` like a slot
/// write, since the public board shows the site's name, zone and modes.
pub fn update(conn: &mut DbConnection, id: &str, changes: &SiteChanges) -> QueryResult<usize> {
    diesel::update(sites::table.find(id)).set(changes).returning(sites::id).get_results(conn).map(super::changes::noted)
}

/// Replaces a site's policy columns (all seven: NULL for a default).
pub fn set_policy(conn: &mut DbConnection, id: &str, policy: &PolicyColumns) -> QueryResult<usize> {
    diesel::update(sites::table.find(id)).set(policy).execute(conn)
}

/// Every site's id and policy columns (the no-show sweep's per-site
/// window; a customs authority has tens of sites).
pub fn policies(conn: &mut DbConnection) -> QueryResult<Vec<(String, PolicyColumns)>> {
    sites::table.select((sites::id, PolicyColumns::as_select())).order(sites::id.asc()).load(conn)
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
