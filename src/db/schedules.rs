//! The `schedules` table.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::schedules;
use super::DbConnection;
use crate::domain::goods::TransportMode;

/// A schedule as stored; also what `insert` writes.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = schedules, treat_none_as_default_value = false)]
pub struct ScheduleRow {
    pub id: String,
    pub site_id: String,
    pub mode: TransportMode,
    pub slot_minutes: i32,
    pub capacity: i32,
    pub days_of_week: i32,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Places of each slot held for advanced-certified enterprises (`domain::reserve`).
    pub reserved_advanced: i32,
    /// Minutes before each slot's start its reserved places are released.
    pub release_minutes: i32,
}

super::row_access!(schedules, ScheduleRow, insert);

/// Schedules of a site (optionally of one mode), oldest first.
pub fn for_site(conn: &mut DbConnection, site_id: &str, mode: Option<TransportMode>) -> QueryResult<Vec<ScheduleRow>> {
    let mut q = schedules::table.filter(schedules::site_id.eq(site_id.to_owned())).into_boxed();
    if let Some(m) = mode {
        q = q.filter(schedules::mode.eq(m));
    }
    q.select(ScheduleRow::as_select()).order(schedules::id.asc()).load(conn)
}

/// Every schedule still valid on or after `date` (for the top-up task).
pub fn current(conn: &mut DbConnection, date: NaiveDate) -> QueryResult<Vec<ScheduleRow>> {
    schedules::table
        .filter(schedules::valid_to.is_null().or(schedules::valid_to.ge(date)))
        .select(ScheduleRow::as_select())
        .order(schedules::id.asc())
        .load(conn)
}

/// Changes to a schedule's shape.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = schedules, treat_none_as_null = true)]
pub struct ScheduleShapeChange {
    pub capacity: i32,
    pub reserved_advanced: i32,
    pub release_minutes: i32,
    pub days_of_week: i32,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub updated_at: NaiveDateTime,
}

pub fn update_shape(conn: &mut DbConnection, id: &str, change: &ScheduleShapeChange) -> QueryResult<usize> {
    diesel::update(schedules::table.find(id)).set(change).execute(conn)
}
