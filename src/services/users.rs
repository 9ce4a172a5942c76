//! Accounts managed by others: company admins add and deactivate their
//! clerks, supervisors create customs accounts. Each change is audited.

use crate::context::RequestContext;
use crate::db::audit::Change;
use crate::db::refresh_tokens;
use crate::db::users::{self, UserRow};
use crate::db::DbConnection;
use crate::domain::identity::Role;
use crate::domain::ids::UserId;
use crate::error::AppError;
use crate::services::identity::create_user;

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

/// Creates a customs account, officer or supervisor (supervisors).
#[tracing::instrument(skip_all, fields(role = role.as_str()))]
pub fn create_customs_account(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    account: &NewAccount,
    role: Role,
) -> Result<UserRow, AppError> {
    if !role.is_customs() {
        return Err(AppError::field("role", "enum", "role must be officer or supervisor"));
    }
    let user =
        create_user(conn, None, &account.email, &account.display_name, role, &account.password_hash, ctx.stamp())?;
    audit_user(conn, ctx, &user, "create")?;
    Ok(user)
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
    refresh_tokens::revoke_user(conn, user_id.as_str(), now)?;
    let user = users::find(conn, user_id.as_str())?.ok_or(AppError::NotFound)?;
    audit_user(conn, ctx, &user, "deactivate")?;
    Ok(user)
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
