//! The `officer_sites` table: the sites an officer is limited to (no rows:
//! every site). Who may see what is decided in `services::access`.

use diesel::prelude::*;

use super::schema::officer_sites;
use super::DbConnection;

/// The sites a user is limited to, in id order (empty: not limited). One
/// lookup on the primary key's leading column.
pub fn of_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<String>> {
    officer_sites::table
        .filter(officer_sites::user_id.eq(user_id))
        .select(officer_sites::site_id)
        .order(officer_sites::site_id.asc())
        .load(conn)
}

/// (user id, site id) of each of these users' limits, in site id order.
pub fn of_users(conn: &mut DbConnection, user_ids: &[&str]) -> QueryResult<Vec<(String, String)>> {
    officer_sites::table
        .filter(officer_sites::user_id.eq_any(user_ids))
        .select((officer_sites::user_id, officer_sites::site_id))
        .order((officer_sites::user_id.asc(), officer_sites::site_id.asc()))
        .load(conn)
}

/// Replaces a user's sites with `site_ids` (empty: every site).
pub fn replace(conn: &mut DbConnection, user_id: &str, site_ids: &[String]) -> QueryResult<usize> {
    diesel::delete(officer_sites::table.filter(officer_sites::user_id.eq(user_id))).execute(conn)?;
    let mut n = 0;
    for site_id in site_ids {
        n += diesel::insert_into(officer_sites::table)
            .values((officer_sites::user_id.eq(user_id), officer_sites::site_id.eq(site_id)))
            .execute(conn)?;
    }
    Ok(n)
}
