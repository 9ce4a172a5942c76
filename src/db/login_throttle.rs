//! The `login_throttle` table: a GCRA budget per hashed key, shared by every
//! instance. Each statement is one guarded upsert, so that concurrent
//! requests can never spend more than the budget.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::schema::login_throttle;
use super::DbConnection;

/// Spends one unit of `key`'s budget if it has one: the theoretical arrival
/// time moves `interval_us` past max(now, tat), allowed while it stays within
/// `burst_us` of now. 1 = spent, 0 = the budget is empty (nothing changed).
pub fn spend(conn: &mut DbConnection, key: &str, now_us: i64, interval_us: i64, burst_us: i64) -> QueryResult<usize> {
    // The same statement on both backends; only the placeholders differ.
    const SQL: &str = "INSERT INTO login_throttle (key, tat_us) VALUES (#1, #2 + #3) \
        ON CONFLICT (key) DO UPDATE SET tat_us = \
            (CASE WHEN login_throttle.tat_us > #2 THEN login_throttle.tat_us ELSE #2 END) + #3 \
        WHERE (CASE WHEN login_throttle.tat_us > #2 THEN login_throttle.tat_us ELSE #2 END) + #3 - #2 <= #4";
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(SQL.replace('#', "?"))
            .bind::<Text, _>(key)
            .bind::<BigInt, _>(now_us)
            .bind::<BigInt, _>(interval_us)
            .bind::<BigInt, _>(burst_us)
            .execute(c),
        DbConnection::Postgres(c) => diesel::sql_query(SQL.replace('#', "$"))
            .bind::<Text, _>(key)
            .bind::<BigInt, _>(now_us)
            .bind::<BigInt, _>(interval_us)
            .bind::<BigInt, _>(burst_us)
            .execute(c),
    }
}

/// Gives one unit back (a login that succeeded, a registration refused).
pub fn refund(conn: &mut DbConnection, key: &str, interval_us: i64) -> QueryResult<usize> {
    diesel::update(login_throttle::table.find(key))
        .set(login_throttle::tat_us.eq(login_throttle::tat_us - interval_us))
        .execute(conn)
}

/// The key's theoretical arrival time, if it has a row.
pub fn tat(conn: &mut DbConnection, key: &str) -> QueryResult<Option<i64>> {
    super::by_key(login_throttle::table.find(key).select(login_throttle::tat_us), conn)
}

/// Drops rows whose budget is full again (nothing to remember), then the
/// ones closest to that beyond `cap` rows; returns rows deleted.
pub fn prune(conn: &mut DbConnection, now_us: i64, cap: i64) -> QueryResult<usize> {
    let mut deleted = diesel::delete(login_throttle::table.filter(login_throttle::tat_us.le(now_us))).execute(conn)?;
    let count: i64 = login_throttle::table.count().get_result(conn)?;
    if count > cap {
        let oldest: Vec<String> = login_throttle::table
            .select(login_throttle::key)
            .order(login_throttle::tat_us.asc())
            .limit(count - cap)
            .load(conn)?;
        deleted += diesel::delete(login_throttle::table.filter(login_throttle::key.eq_any(oldest))).execute(conn)?;
    }
    Ok(deleted)
}
