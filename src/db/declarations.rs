//! The `declarations`, `declaration_items` and `declaration_counters` tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{declaration_counters, declaration_items, declarations};
use super::DbConnection;
use crate::domain::declaration::{DeclarationKind, DeclarationStatus, RiskLane};
use crate::domain::goods::TransportMode;

/// One declaration as stored: who filed it, its goods data, and where it
/// stands in review.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = declarations, treat_none_as_default_value = false)]
pub struct DeclarationRow {
    pub id: String,
    pub number: Option<String>,
    pub enterprise_id: String,
    pub created_by: String,
    /// What the company filed; the only part an edit replaces.
    #[diesel(embed)]
    pub data: DeclarationData,
    pub status: DeclarationStatus,
    pub risk_lane: Option<RiskLane>,
    pub assigned_officer_id: Option<String>,
    pub status_reason: Option<String>,
    pub version: i32,
    pub submitted_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = declaration_items, treat_none_as_default_value = false)]
pub struct ItemRow {
    pub id: String,
    pub declaration_id: String,
    pub line_no: i32,
    pub hs_code: String,
    pub description: String,
    pub quantity: String,
    pub unit: String,
    pub net_mass_kg: String,
    pub value_minor: i64,
    pub origin_country: String,
}

/// The goods data of a declaration (what a company writes and edits).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = declarations, treat_none_as_default_value = false)]
pub struct DeclarationData {
    pub kind: DeclarationKind,
    pub site_id: String,
    pub transport_mode: TransportMode,
    pub consignor: String,
    pub consignee: String,
    pub origin_country: String,
    pub destination_country: String,
    pub currency: String,
    pub incoterm: String,
    pub invoice_total_minor: i64,
    pub gross_mass_kg: String,
}

pub fn insert_items(conn: &mut DbConnection, items: &[ItemRow]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in items.chunks(200) {
        let rows = chunk.to_vec();
        n += match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(declaration_items::table).values(rows).execute(c)?,
            DbConnection::Postgres(c) => diesel::insert_into(declaration_items::table).values(rows).execute(c)?,
        };
    }
    Ok(n)
}

pub fn delete_items(conn: &mut DbConnection, declaration_id: &str) -> QueryResult<usize> {
    diesel::delete(declaration_items::table.filter(declaration_items::declaration_id.eq(declaration_id))).execute(conn)
}

super::row_access!(declarations, DeclarationRow, insert);

pub fn items(conn: &mut DbConnection, declaration_id: &str) -> QueryResult<Vec<ItemRow>> {
    declaration_items::table
        .filter(declaration_items::declaration_id.eq(declaration_id))
        .order(declaration_items::line_no.asc())
        .select(ItemRow::as_select())
        .load(conn)
}

/// Replaces the goods data if the version is still `version` and the
/// declaration is still editable; bumps the version. 0 rows = stale or not
/// editable any more (the caller finds out which).
pub fn update_data(
    conn: &mut DbConnection,
    id: &str,
    version: i32,
    editable: &[DeclarationStatus],
    data: &DeclarationData,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        declarations::table
            .filter(declarations::id.eq(id))
            .filter(declarations::version.eq(version))
            .filter(declarations::status.eq_any(editable)),
    )
    .set((data, declarations::version.eq(declarations::version + 1), declarations::updated_at.eq(now)))
    .execute(conn)
}

/// Moves the status if it is still `from`; bumps the version. 0 rows =
/// somebody moved it first.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: DeclarationStatus,
    to: DeclarationStatus,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    set_status_at_version(conn, id, from, to, None, now)
}

/// [`set_status`], and with `Some(version)` only if the declaration is still
/// at that version (nothing changed it since it was read).
pub fn set_status_at_version(
    conn: &mut DbConnection,
    id: &str,
    from: DeclarationStatus,
    to: DeclarationStatus,
    version: Option<i32>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    // Any version, or exactly the one given (one statement shape either way).
    let (lowest, highest) = version.map_or((i32::MIN, i32::MAX), |v| (v, v));
    diesel::update(
        declarations::table
            .filter(declarations::id.eq(id))
            .filter(declarations::status.eq(from))
            .filter(declarations::version.between(lowest, highest)),
    )
    .set((
        declarations::status.eq(to),
        declarations::version.eq(declarations::version + 1),
        declarations::updated_at.eq(now),
    ))
    .execute(conn)
}

/// The extra facts a transition records.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = declarations)]
pub struct TransitionFacts {
    pub number: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub risk_lane: Option<RiskLane>,
    pub assigned_officer_id: Option<String>,
    pub status_reason: Option<Option<String>>,
}

pub fn record_facts(conn: &mut DbConnection, id: &str, facts: &TransitionFacts) -> QueryResult<usize> {
    if facts.number.is_none()
        && facts.submitted_at.is_none()
        && facts.risk_lane.is_none()
        && facts.assigned_officer_id.is_none()
        && facts.status_reason.is_none()
    {
        return Ok(0);
    }
    diesel::update(declarations::table.find(id)).set(facts).execute(conn)
}

/// Next serial of a site, year and kind. Call with the site row locked:
/// the read of the counter and its change are then not interleaved.
pub fn next_serial(conn: &mut DbConnection, site_id: &str, year: i32, kind: DeclarationKind) -> QueryResult<i64> {
    let key = declaration_counters::table
        .filter(declaration_counters::site_id.eq(site_id))
        .filter(declaration_counters::year.eq(year))
        .filter(declaration_counters::kind.eq(kind));
    let changed = diesel::update(key)
        .set(declaration_counters::last_serial.eq(declaration_counters::last_serial + 1))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(declaration_counters::table)
            .values((
                declaration_counters::site_id.eq(site_id),
                declaration_counters::year.eq(year),
                declaration_counters::kind.eq(kind),
                declaration_counters::last_serial.eq(1i64),
            ))
            .execute(conn)?;
        return Ok(1);
    }
    key.select(declaration_counters::last_serial).first(conn)
}

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct DeclarationFilter {
    /// A company sees only its own.
    pub enterprise_id: Option<String>,
    pub status: Option<DeclarationStatus>,
    pub site_id: Option<String>,
    /// Only declarations of these sites (an officer limited to sites).
    pub sites: Option<Vec<String>>,
    pub kind: Option<DeclarationKind>,
    pub submitted_from: Option<NaiveDateTime>,
    pub submitted_to: Option<NaiveDateTime>,
    /// Customs never see drafts.
    pub exclude_drafts: bool,
    pub limit: i64,
}

/// The common filters of both lists, as a boxed query.
macro_rules! filtered {
    ($f:expr) => {{
        let f: &DeclarationFilter = $f;
        let mut q = declarations::table.select(DeclarationRow::as_select()).into_boxed();
        if let Some(e) = &f.enterprise_id {
            q = q.filter(declarations::enterprise_id.eq(e.clone()));
        }
        if let Some(s) = &f.status {
            q = q.filter(declarations::status.eq(*s));
        }
        if let Some(s) = &f.site_id {
            q = q.filter(declarations::site_id.eq(s.clone()));
        }
        if let Some(ids) = &f.sites {
            q = q.filter(declarations::site_id.eq_any(ids.clone()));
        }
        if let Some(k) = &f.kind {
            q = q.filter(declarations::kind.eq(*k));
        }
        if let Some(t) = f.submitted_from {
            q = q.filter(declarations::submitted_at.ge(t));
        }
        if let Some(t) = f.submitted_to {
            q = q.filter(declarations::submitted_at.lt(t));
        }
        if f.exclude_drafts {
            // Never submitted (drafts, also cancelled ones) stays private.
            q = q.filter(declarations::submitted_at.is_not_null());
        }
        q
    }};
}

/// A company's declarations in creation order (UUID v7 ids), after `after`.
pub fn list_for_company(
    conn: &mut DbConnection,
    f: &DeclarationFilter,
    after: Option<&str>,
) -> QueryResult<Vec<DeclarationRow>> {
    let mut q = filtered!(f);
    if let Some(a) = after {
        q = q.filter(declarations::id.gt(a.to_owned()));
    }
    q.order(declarations::id.asc()).limit(f.limit).load(conn)
}

/// The review queue: oldest submission first, after (submitted_at, id).
pub fn list_queue(
    conn: &mut DbConnection,
    f: &DeclarationFilter,
    after: Option<(NaiveDateTime, String)>,
) -> QueryResult<Vec<DeclarationRow>> {
    let mut q = filtered!(f).filter(declarations::submitted_at.is_not_null());
    if let Some((t, id)) = after {
        q = q
            .filter(declarations::submitted_at.gt(t).or(declarations::submitted_at.eq(t).and(declarations::id.gt(id))));
    }
    q.order((declarations::submitted_at.asc(), declarations::id.asc())).limit(f.limit).load(conn)
}

/// Number and status of each of these declarations (what the gate shows).
pub fn statuses(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<(String, Option<String>, DeclarationStatus)>> {
    declarations::table
        .filter(declarations::id.eq_any(ids))
        .select((declarations::id, declarations::number, declarations::status))
        .load(conn)
}
