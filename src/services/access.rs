//! Which clearance sites a caller may see: the one place this rule lives.
//!
//! A supervisor may limit an officer to some sites (`officer_sites`). Such
//! an officer sees and acts only on the sites, schedules, slots, closures,
//! declarations and bookings of those sites; anything of another site does
//! not exist for them (404, never 403), and lists leave it out in their
//! SQL. Officers without sites, supervisors and company users are not
//! limited here (company users keep their own enterprise's rule).
//!
//! The sites are read from the database on each request that needs them
//! (one lookup on `officer_sites`' primary key), never taken from the
//! token, so a change by a supervisor holds from the officer's next request.
//!
//! For a new resource of a site: check one object with [`site_visible`]
//! (or [`may_see_site`] when the answer must name the id, as for an id in
//! a body), and filter a list with [`allowed_sites`] (`site_id IN (..)`).

use crate::auth::Principal;
use crate::db::{officer_sites, slots, DbConnection};
use crate::error::AppError;

/// The sites the caller may see: `None` for every site (company users,
/// supervisors, officers not limited), else the officer's sites (never
/// empty). Queries only for officers.
pub fn allowed_sites(conn: &mut DbConnection, caller: &Principal) -> Result<Option<Vec<String>>, AppError> {
    if !caller.role.may_be_limited_to_sites() {
        return Ok(None);
    }
    let sites = officer_sites::of_user(conn, &caller.user_id)?;
    Ok(if sites.is_empty() { None } else { Some(sites) })
}

/// Whether a site is in `allowed` (the answer of [`allowed_sites`]).
pub fn allows(allowed: Option<&[String]>, site_id: &str) -> bool {
    allowed.is_none_or(|sites| sites.iter().any(|s| s == site_id))
}

/// Whether the caller may see anything of this site.
pub fn may_see_site(conn: &mut DbConnection, caller: &Principal, site_id: &str) -> Result<bool, AppError> {
    Ok(allows(allowed_sites(conn, caller)?.as_deref(), site_id))
}

/// `Ok` when the caller may see things of this site; else 404 (the object
/// the site's id came from does not exist for the caller).
pub fn site_visible(conn: &mut DbConnection, caller: &Principal, site_id: &str) -> Result<(), AppError> {
    if may_see_site(conn, caller, site_id)? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// `Ok` when the caller may see the slot's site; 404 for a slot that does
/// not exist or is of another site.
pub fn slot_visible(conn: &mut DbConnection, caller: &Principal, slot_id: &str) -> Result<(), AppError> {
    let Some(allowed) = allowed_sites(conn, caller)? else {
        return Ok(());
    };
    let slot = slots::find(conn, slot_id)?.ok_or(AppError::NotFound)?;
    if allows(Some(&allowed), &slot.site_id) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}
