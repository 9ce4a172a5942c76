//! The database: one connection type over SQLite and PostgreSQL, the pools,
//! migrations, and the helper that runs all database work off the async
//! executor. One file per table beside this one holds rows, forms and queries.

/// `find` (the row with this id) and, with `insert`, `insert` (one row)
/// for a table whose row struct is both what it reads and what it writes:
/// the same two statements for every table, written once.
macro_rules! row_access {
    ($table:ident, $row:ty) => {
        /// The row with this id, if any.
        pub fn find(conn: &mut $crate::db::DbConnection, id: &str) -> diesel::QueryResult<Option<$row>> {
            $crate::db::by_key($table::table.find(id).select(<$row>::as_select()), conn)
        }
    };
    ($table:ident, $row:ty, insert) => {
        $crate::db::row_access!($table, $row);

        /// Inserts one row.
        pub fn insert(conn: &mut $crate::db::DbConnection, row: &$row) -> diesel::QueryResult<usize> {
            diesel::insert_into($table::table).values(row).execute(conn)
        }
    };
}
pub(crate) use row_access;

pub mod connection;
pub mod group_commit;
pub mod migrations;
pub mod schema;
pub mod sessions;

pub use connection::{Backend, Db, DbConnection, DbError};
pub mod audit;
pub mod bookings;
pub mod calendar_tokens;
pub mod changes;
pub mod closures;
pub mod declarations;
pub mod enterprises;
pub mod fixed;
pub mod holds;
pub mod login_throttle;
pub mod officer_sites;
pub mod refresh_tokens;
pub mod reports;
pub mod schedules;
pub mod sites;
pub mod slots;
pub mod users;
pub mod waitlist;
pub mod webhooks;

/// The row a query by a unique key finds, if any: `first` without the
/// `LIMIT ?` that `first` adds. SQLite's planner reads a bound limit, so it
/// prepares a statement with one anew on every run (seen under load: the
/// key lookups of every booking were parsed and planned each time); without
/// it the statement stays prepared. Only for a query that finds one row at
/// most: it reads every row found.
pub fn by_key<'a, Q, U>(query: Q, conn: &mut DbConnection) -> diesel::QueryResult<Option<U>>
where
    Q: diesel::query_dsl::LoadQuery<'a, DbConnection, U>,
{
    Ok(diesel::RunQueryDsl::load(query, conn)?.into_iter().next())
}

/// The current time as stored: UTC, truncated to microseconds (what
/// PostgreSQL keeps), so that a value reads back exactly as written.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let t = chrono::Utc::now();
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t).naive_utc()
}

/// A new time-ordered id (UUID v7) as stored.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
