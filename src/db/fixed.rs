//! Conditions written into a statement's text instead of bound: a constant
//! set of statuses, say.
//!
//! Two reasons, both measured on the booking path under load. SQLite
//! prepares anew a statement whose bound value is tested against a column of
//! a partial index's WHERE (it re-plans on every new binding, in case the
//! value makes the index usable), and diesel never caches a statement with
//! an `IN (?, ?)` list on SQLite: either way the statement is parsed and
//! planned on every run (a third of the SQLite writer's time went to that).
//! A condition in the text, of a type of its own, keeps the statement's text
//! fixed, so both backends prepare it once per connection; PostgreSQL's
//! generic plans use partial indexes only for such conditions too.

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Bool;
use diesel::QueryResult;

/// A condition's SQL text, a constant of its marker type.
pub trait Condition: 'static {
    const SQL: &'static str;
}

/// The condition `C` as a diesel boolean expression.
#[derive(Debug)]
pub struct Fixed<C>(PhantomData<C>);

impl<C> Clone for Fixed<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for Fixed<C> {}

/// The condition `C`, for a `filter`.
pub fn fixed<C: Condition>() -> Fixed<C> {
    Fixed(PhantomData)
}

impl<C> Expression for Fixed<C> {
    type SqlType = Bool;
}

impl<C: Condition, DB: Backend> QueryFragment<DB> for Fixed<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(C::SQL);
        Ok(())
    }
}

// The text is a constant of the type: the type identifies the statement.
impl<C: Condition> QueryId for Fixed<C> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<C, QS> AppearsOnTable<QS> for Fixed<C> {}
impl<C, QS> SelectableExpression<QS> for Fixed<C> {}
impl<C, GB> ValidGrouping<GB> for Fixed<C> {
    type IsAggregate = is_aggregate::Never;
}

/// `column IN ('a', 'b')`, as a partial index's WHERE or a status set reads.
pub fn status_in(column: &str, statuses: &[&str]) -> String {
    let listed: Vec<String> = statuses.iter().map(|s| format!("'{s}'")).collect();
    format!("{column} IN ({})", listed.join(", "))
}

/// For tests of query plans: a migrated in-memory SQLite database, and the
/// `EXPLAIN QUERY PLAN` details of a statement.
#[cfg(test)]
pub mod plan {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    #[derive(QueryableByName)]
    struct Step {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    /// A new in-memory SQLite database with every migration applied.
    pub fn migrated_sqlite() -> Result<crate::db::DbConnection, Box<dyn std::error::Error>> {
        let mut conn = crate::db::DbConnection::Sqlite(diesel::SqliteConnection::establish(":memory:")?);
        crate::db::migrations::run_pending(&mut conn).map_err(|e| e.to_string())?;
        Ok(conn)
    }

    /// SQLite's plan of `sql`, one detail per step.
    pub fn sqlite_plan(
        conn: &mut crate::db::DbConnection,
        sql: &str,
    ) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let crate::db::DbConnection::Sqlite(lite) = conn else { return Err("not SQLite".into()) };
        let steps: Vec<Step> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(lite)?;
        Ok(steps.into_iter().map(|s| s.detail).collect())
    }
}
