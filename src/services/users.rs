//! Accounts managed by others: company admins add and deactivate their
//! clerks, supervisors create customs accounts and limit officers to
//! sites. Each change is audited.

use crate::context::RequestContext;
use crate::db::audit::Change;
use crate::db::users::{self, UserRow};
use crate::db::{officer_sites, sites, DbConnection};
use crate::domain::identity::Role;
use crate::domain::ids::UserId;
use crate::error::{AppError, FieldError};
use crate::services::identity::{create_user, end_all_sessions};

/// A validated account with its password already hashed.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
}

/// Adds a clerk to the caller's enterprise (company admins).
#[tracing::instrument(skip_all)]
pub fn add_clerk(conn: &mut DbConnection, ctx: &RequestContext, account: &NewAccount) -> Result<UserRow, AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    let user = create_user(
        conn,
        Some(enterprise_id),
        &account.email,
        &account.display_name,
        Role::CompanyClerk,
        &account.password_hash,
        ctx.stamp(),
    )?;
    audit_user(conn, ctx, &user, "create")?;
    Ok(user)
}

/// A customs account and the sites it is limited to (in id order; empty:
/// every site).
#[derive(Debug, Clone)]
pub struct CustomsAccount {
    pub user: UserRow,
    pub site_ids: Vec<String>,
}

/// Creates a customs account, officer or supervisor (supervisors), limited
/// to `site_ids` (distinct; empty: every site; only officers may be limited).
#[tracing::instrument(skip_all, fields(role = role.as_str(), sites = site_ids.len()))]
pub fn create_customs_account(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    account: &NewAccount,
    role: Role,
    site_ids: &[String],
) -> Result<CustomsAccount, AppError> {
    if !role.is_customs() {
        return Err(AppError::field("role", "enum", "role must be officer or supervisor"));
    }
    check_sites(conn, role, site_ids)?;
    let user =
        create_user(conn, None, &account.email, &account.display_name, role, &account.password_hash, ctx.stamp())?;
    audit_user(conn, ctx, &user, "create")?;
    let site_ids = sorted(site_ids);
    if !site_ids.is_empty() {
        officer_sites::replace(conn, &user.id, &site_ids)?;
        audit_sites(conn, ctx, &user.id, &[], &site_ids)?;
    }
    Ok(CustomsAccount { user, site_ids })
}

/// Limits a customs account to `site_ids` (distinct; empty: every site) and
/// returns it (supervisors). Only officers may be limited; anything that
/// is not a customs account is 404. Audited when the sites change; the
/// officer's next request sees the new sites.
#[tracing::instrument(skip_all, fields(user = %user_id, sites = site_ids.len()))]
pub fn set_sites(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    user_id: &UserId,
    site_ids: &[String],
) -> Result<CustomsAccount, AppError> {
    // The user's row lock: two changes of one officer's sites run one at a time.
    if users::touch_customs(conn, user_id.as_str(), ctx.stamp())? == 0 {
        return Err(AppError::NotFound);
    }
    let user = users::find(conn, user_id.as_str())?.ok_or(AppError::NotFound)?;
    check_sites(conn, user.role, site_ids)?;
    let before = officer_sites::of_user(conn, &user.id)?;
    let site_ids = sorted(site_ids);
    if before != site_ids {
        officer_sites::replace(conn, &user.id, &site_ids)?;
        audit_sites(conn, ctx, &user.id, &before, &site_ids)?;
    }
    Ok(CustomsAccount { user, site_ids })
}

/// One customs account with its sites; 404 for any other user.
pub fn customs_account(conn: &mut DbConnection, user_id: &UserId) -> Result<CustomsAccount, AppError> {
    let user = users::find(conn, user_id.as_str())?.filter(|u| u.role.is_customs()).ok_or(AppError::NotFound)?;
    let site_ids = officer_sites::of_user(conn, &user.id)?;
    Ok(CustomsAccount { user, site_ids })
}

/// Every customs account with its sites, in creation order (two queries).
pub fn customs_accounts(conn: &mut DbConnection) -> Result<Vec<CustomsAccount>, AppError> {
    let rows = users::list_customs(conn)?;
    let ids: Vec<&str> = rows.iter().map(|u| u.id.as_str()).collect();
    let mut by_user: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (user, site) in officer_sites::of_users(conn, &ids)? {
        by_user.entry(user).or_default().push(site);
    }
    Ok(rows
        .into_iter()
        .map(|user| {
            let site_ids = by_user.remove(&user.id).unwrap_or_default();
            CustomsAccount { user, site_ids }
        })
        .collect())
}

/// Sites to limit an account to must exist (422 naming each missing
/// `site_ids[i]`), and only officers may be limited (422 `site_ids`).
fn check_sites(conn: &mut DbConnection, role: Role, site_ids: &[String]) -> Result<(), AppError> {
    if site_ids.is_empty() {
        return Ok(());
    }
    if !role.may_be_limited_to_sites() {
        return Err(AppError::field(
            "site_ids",
            "not_limitable",
            format!("a {role} sees every site: only officers may be limited to sites"),
        ));
    }
    let existing = sites::existing(conn, site_ids)?;
    let missing: Vec<FieldError> = site_ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !existing.contains(id))
        .map(|(i, _)| FieldError::new(format!("site_ids[{i}]"), "not_found", "no clearance site has this id"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(missing))
    }
}

fn sorted(site_ids: &[String]) -> Vec<String> {
    let mut v = site_ids.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The audit event of a change of sites: from and to as comma-separated
/// ids, `all` for every site.
fn audit_sites(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    user_id: &str,
    from: &[String],
    to: &[String],
) -> Result<(), AppError> {
    let text = |ids: &[String]| if ids.is_empty() { "all".to_owned() } else { ids.join(",") };
    super::record_change(conn, ctx, Change::new("user", user_id, "sites", Some(&text(from)), Some(&text(to))))
}

/// Deactivates a user of the caller's enterprise and revokes their
/// sessions (company admins; never their own account).
#[tracing::instrument(skip_all, fields(user = %user_id))]
pub fn deactivate(conn: &mut DbConnection, ctx: &RequestContext, user_id: &UserId) -> Result<UserRow, AppError> {
    if user_id.as_str() == ctx.caller.user_id {
        return Err(AppError::conflict("self-deactivation", "an admin cannot deactivate their own account"));
    }
    let enterprise_id = ctx.caller.enterprise()?;
    let now = ctx.stamp();
    if users::set_active(conn, user_id.as_str(), enterprise_id, false, now)? == 0 {
        return Err(AppError::NotFound);
    }
    end_all_sessions(conn, user_id.as_str(), now)?;
    let user = users::find(conn, user_id.as_str())?.ok_or(AppError::NotFound)?;
    audit_user(conn, ctx, &user, "deactivate")?;
    Ok(user)
}

/// Deactivates (ending every session) or reactivates a customs account
/// (supervisors; never their own). Anything that is not a customs account
/// is 404. A reactivated account signs in again: its old sessions stay ended.
#[tracing::instrument(skip_all, fields(user = %user_id, active))]
pub fn set_customs_active(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    user_id: &UserId,
    active: bool,
) -> Result<CustomsAccount, AppError> {
    if user_id.as_str() == ctx.caller.user_id {
        return Err(AppError::conflict(
            "self-deactivation",
            "a supervisor cannot deactivate or reactivate their own account",
        ));
    }
    let now = ctx.stamp();
    if users::set_customs_active(conn, user_id.as_str(), active, now)? == 0 {
        return Err(AppError::NotFound);
    }
    if !active {
        end_all_sessions(conn, user_id.as_str(), now)?;
    }
    let account = customs_account(conn, user_id)?;
    audit_user(conn, ctx, &account.user, if active { "reactivate" } else { "deactivate" })?;
    Ok(account)
}

fn audit_user(conn: &mut DbConnection, ctx: &RequestContext, user: &UserRow, action: &str) -> Result<(), AppError> {
    let state = if user.active { "active" } else { "inactive" };
    super::record_change(
        conn,
        ctx,
        Change::new("user", &user.id, action, None, Some(&format!("{} {state}", user.role))),
    )?;
    Ok(())
}
