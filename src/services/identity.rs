//! Registration, sign-in, token rotation and enterprise status changes.

use chrono::{Duration, NaiveDateTime};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::auth::refresh;
use crate::context::RequestContext;
use crate::db::audit::{self, Actor, Change};
use crate::db::enterprises::{self, EnterpriseRow};
use crate::db::refresh_tokens::{self, RefreshTokenRow};
use crate::db::sessions::{self, SessionRow};
use crate::db::users::{self, UserRow};
use crate::db::{new_id, DbConnection};
use crate::domain::identity::{CreditClass, EnterpriseAction, EnterpriseStatus, Role};
use crate::domain::ids::EnterpriseId;
use crate::error::AppError;

/// A validated registration, ready to store.
#[derive(Debug, Clone)]
pub struct Registration {
    pub legal_name: String,
    pub country: String,
    pub registration_code: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
}

/// Maps a unique-key violation to 409; any other error passes through.
pub fn conflict_on_unique(e: DieselError, what: &'static str) -> AppError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            AppError::conflict("duplicate", format!("{what} is already registered"))
        }
        other => other.into(),
    }
}

/// Creates the pending enterprise and its first admin, both or neither.
pub fn register(
    conn: &mut DbConnection,
    reg: &Registration,
    actor: &Actor,
    now: NaiveDateTime,
) -> Result<(EnterpriseRow, UserRow), AppError> {
    // One answer for a taken code and a taken email, so that the answer
    // does not say which of the two exists (see SECURITY.md).
    if enterprises::registration_code_taken(conn, &reg.registration_code)? || users::email_taken(conn, &reg.email)? {
        return Err(registration_taken());
    }
    let enterprise_id = new_id();
    let user_id = new_id();
    enterprises::insert(
        conn,
        &EnterpriseRow {
            id: enterprise_id.clone(),
            legal_name: reg.legal_name.clone(),
            country: reg.country.clone(),
            registration_code: reg.registration_code.clone(),
            customs_code: None,
            credit_class: CreditClass::General,
            status: EnterpriseStatus::Pending,
            created_at: now,
            updated_at: now,
        },
    )
    .map_err(|e| match conflict_on_unique(e, "") {
        AppError::Conflict { .. } => registration_taken(),
        other => other,
    })?;
    users::insert(
        conn,
        &UserRow {
            id: user_id.clone(),
            enterprise_id: Some(enterprise_id.clone()),
            email: reg.email.clone(),
            display_name: reg.display_name.clone(),
            role: Role::CompanyAdmin,
            password_hash: reg.password_hash.clone(),
            active: true,
            created_at: now,
            updated_at: now,
        },
    )
    .map_err(|e| match conflict_on_unique(e, "") {
        AppError::Conflict { .. } => registration_taken(),
        other => other,
    })?;
    let actor =
        Actor { user_id: Some(user_id.clone()), role: Some(Role::CompanyAdmin.as_str().into()), ..actor.clone() };
    audit::append(
        conn,
        &actor,
        &Change::new("enterprise", &enterprise_id, "register", None, Some(EnterpriseStatus::Pending.as_str())),
        now,
    )?;
    let enterprise = enterprises::find(conn, &enterprise_id)?.ok_or(AppError::NotFound)?;
    let user = users::find(conn, &user_id)?.ok_or(AppError::NotFound)?;
    Ok((enterprise, user))
}

/// The one answer to a registration whose code or email is taken.
fn registration_taken() -> AppError {
    AppError::conflict(
        "duplicate",
        "this registration code or this email is already registered: if the enterprise is yours, \
         ask customs (an officer can reject a registration made in its name); otherwise use another email",
    )
}

/// Creates a user of a given role (clerk, officer, supervisor).
pub fn create_user(
    conn: &mut DbConnection,
    enterprise_id: Option<&str>,
    email: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
    now: NaiveDateTime,
) -> Result<UserRow, AppError> {
    if users::email_taken(conn, email)? {
        return Err(AppError::conflict("duplicate", "this email is already registered"));
    }
    let id = new_id();
    users::insert(
        conn,
        &UserRow {
            id: id.clone(),
            enterprise_id: enterprise_id.map(str::to_owned),
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            role,
            password_hash: password_hash.to_owned(),
            active: true,
            created_at: now,
            updated_at: now,
        },
    )
    .map_err(|e| conflict_on_unique(e, "this email"))?;
    users::find(conn, &id)?.ok_or(AppError::NotFound)
}

/// A fresh refresh token of a session, expiring after `ttl_days` or at the
/// session's end, whichever is first; returns the token shown to the client.
fn issue_refresh(
    conn: &mut DbConnection,
    session: &SessionRow,
    ttl_days: i64,
    now: NaiveDateTime,
) -> Result<String, AppError> {
    let token = refresh::generate();
    refresh_tokens::insert(
        conn,
        &RefreshTokenRow {
            id: new_id(),
            family_id: session.id.clone(),
            user_id: session.user_id.clone(),
            token_hash: refresh::digest(&token),
            issued_at: now,
            expires_at: (now + Duration::days(ttl_days)).min(session.expires_at),
            used_at: None,
            revoked_at: None,
        },
    )?;
    Ok(token)
}

/// How long sessions and their refresh tokens live.
#[derive(Debug, Clone, Copy)]
pub struct SessionLifetime {
    /// One refresh token's life (rotation gives a new one).
    pub refresh_ttl_days: i64,
    /// The session's absolute life, however often it is refreshed.
    pub max_days: i64,
}

/// A new session (a sign-in) with its first refresh token: `(session id, token)`.
pub fn start_session(
    conn: &mut DbConnection,
    user_id: &str,
    life: SessionLifetime,
    now: NaiveDateTime,
) -> Result<(String, String), AppError> {
    let session = SessionRow {
        id: new_id(),
        user_id: user_id.to_owned(),
        created_at: now,
        expires_at: now + Duration::days(life.max_days),
        revoked_at: None,
    };
    sessions::insert(conn, &session)?;
    let token = issue_refresh(conn, &session, life.refresh_ttl_days, now)?;
    Ok((session.id, token))
}

/// The outcome of presenting a refresh token.
pub enum Rotation {
    /// The token was fresh: here is the user, the session and the replacement.
    Rotated { user: UserRow, session_id: String, refresh_token: String },
    /// Unknown, expired or revoked, or its session ended.
    Refused,
    /// Already used: a copy is in someone's hands; the session is now revoked.
    Reused { user_id: String, session_id: String },
}

/// Rotates a refresh token. Presenting a token that was already used means
/// it was copied: the whole session is revoked (its access tokens too).
pub fn rotate_refresh(
    conn: &mut DbConnection,
    presented: &str,
    ttl_days: i64,
    now: NaiveDateTime,
) -> Result<Rotation, AppError> {
    let Some(row) = refresh_tokens::find_by_hash(conn, &refresh::digest(presented))? else {
        return Ok(Rotation::Refused);
    };
    let Some(session) = sessions::find(conn, &row.family_id)? else {
        return Ok(Rotation::Refused);
    };
    if row.revoked_at.is_some() || row.expires_at <= now || session.revoked_at.is_some() || session.expires_at <= now {
        return Ok(Rotation::Refused);
    }
    if row.used_at.is_some() || refresh_tokens::mark_used(conn, &row.id, now)? == 0 {
        end_session(conn, &session.id, now)?;
        tracing::warn!(family = %row.family_id, user = %row.user_id, "refresh token reused: session revoked");
        return Ok(Rotation::Reused { user_id: row.user_id, session_id: session.id });
    }
    let Some(user) = users::find(conn, &row.user_id)?.filter(|u| u.active) else {
        end_session(conn, &session.id, now)?;
        return Ok(Rotation::Refused);
    };
    let refresh_token = issue_refresh(conn, &session, ttl_days, now)?;
    Ok(Rotation::Rotated { user, session_id: session.id, refresh_token })
}

/// Revokes a session and its refresh tokens.
fn end_session(conn: &mut DbConnection, session_id: &str, now: NaiveDateTime) -> Result<(), AppError> {
    sessions::revoke(conn, session_id, now)?;
    refresh_tokens::revoke_family(conn, session_id, now)?;
    Ok(())
}

/// Revokes every session of a user and their refresh tokens (sign-out
/// everywhere, password change, deactivation).
pub fn end_all_sessions(conn: &mut DbConnection, user_id: &str, now: NaiveDateTime) -> Result<(), AppError> {
    sessions::revoke_user(conn, user_id, now)?;
    refresh_tokens::revoke_user(conn, user_id, now)?;
    Ok(())
}

/// Signs out: ends the caller's own session and the session of the
/// presented refresh token if it is the caller's. Unknown tokens and other
/// users' tokens are ignored (logout never reveals anything). Returns the
/// sessions ended.
pub fn logout(
    conn: &mut DbConnection,
    user_id: &str,
    own_session: Option<&str>,
    presented: &str,
    now: NaiveDateTime,
) -> Result<Vec<String>, AppError> {
    let mut ended = Vec::new();
    if let Some(row) = refresh_tokens::find_by_hash(conn, &refresh::digest(presented))? {
        if row.user_id == user_id {
            end_session(conn, &row.family_id, now)?;
            ended.push(row.family_id);
        }
    }
    if let Some(own) = own_session {
        end_session(conn, own, now)?;
        ended.push(own.to_owned());
    }
    Ok(ended)
}

/// Replaces a user's password hash and ends every session of the user
/// (the one asking included), with its audit event.
pub fn change_password(conn: &mut DbConnection, ctx: &RequestContext, password_hash: &str) -> Result<(), AppError> {
    let user_id = ctx.caller.user_id.as_str();
    if users::set_password(conn, user_id, password_hash, ctx.stamp())? == 0 {
        return Err(AppError::Unauthorized("the account no longer exists or is deactivated"));
    }
    end_all_sessions(conn, user_id, ctx.stamp())?;
    super::record_change(conn, ctx, Change::new("user", user_id, "change_password", None, None))
}

/// Rejects a pending enterprise: status `rejected`, its registration code
/// and its users' emails moved aside (`<value>~rejected~<id>`) so that the
/// rightful owner can register them, its users deactivated and signed out.
/// Returns the enterprise and the ids of its users (whose cached sessions
/// the caller forgets).
#[tracing::instrument(skip_all, fields(enterprise = %enterprise_id))]
pub fn reject_enterprise(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    enterprise_id: &EnterpriseId,
    reason: &str,
) -> Result<(EnterpriseRow, Vec<String>), AppError> {
    let enterprise = change_enterprise_status(conn, ctx, enterprise_id, EnterpriseAction::Reject, Some(reason))?;
    let now = ctx.stamp();
    let id = enterprise.id.clone();
    enterprises::set_registration_code(conn, &id, &format!("{}~rejected~{id}", enterprise.registration_code), now)?;
    let members = users::list_for_enterprise(conn, &id)?;
    for user in &members {
        users::retire(conn, &user.id, &format!("{}~rejected~{}", user.email, user.id), now)?;
        end_all_sessions(conn, &user.id, now)?;
    }
    let enterprise = enterprises::find(conn, &id)?.ok_or(AppError::NotFound)?;
    Ok((enterprise, members.into_iter().map(|u| u.id).collect()))
}

/// Applies an officer's action to an enterprise's status, with its audit event.
#[tracing::instrument(skip_all, fields(enterprise = %enterprise_id, action = action.as_str()))]
pub fn change_enterprise_status(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    enterprise_id: &EnterpriseId,
    action: EnterpriseAction,
    reason: Option<&str>,
) -> Result<EnterpriseRow, AppError> {
    officer_change(conn, ctx, enterprise_id, reason, |conn, current| {
        let from = current.status;
        let to = action.apply(from).ok_or_else(|| {
            AppError::conflict("illegal-transition", format!("cannot {} an enterprise that is {from}", action.as_str()))
        })?;
        // Guarded by the status read above: a concurrent change makes this 0.
        if enterprises::update_status(conn, &current.id, from, to, ctx.stamp())? == 0 {
            return Err(AppError::conflict("concurrent-change", "the enterprise changed meanwhile; retry"));
        }
        Ok([action.as_str(), from.as_str(), to.as_str()])
    })
}

/// Sets an enterprise's credit class (and customs code), with its audit event.
#[tracing::instrument(skip_all, fields(enterprise = %enterprise_id, credit_class = credit_class.as_str()))]
pub fn classify_enterprise(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    enterprise_id: &EnterpriseId,
    credit_class: CreditClass,
    customs_code: Option<&str>,
) -> Result<EnterpriseRow, AppError> {
    officer_change(conn, ctx, enterprise_id, None, |conn, current| {
        let customs_code = customs_code.or(current.customs_code.as_deref());
        enterprises::update_classification(conn, &current.id, credit_class, customs_code, ctx.stamp())
            .map_err(|e| conflict_on_unique(e, "this customs code"))?;
        Ok(["classify", current.credit_class.as_str(), credit_class.as_str()])
    })
}

/// An officer's change to an enterprise: loads it, lets `apply` change the
/// row and name the change (`[action, from, to]`), records that change and
/// reads the enterprise back as changed.
fn officer_change(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    enterprise_id: &EnterpriseId,
    reason: Option<&str>,
    apply: impl FnOnce(&mut DbConnection, &EnterpriseRow) -> Result<[&'static str; 3], AppError>,
) -> Result<EnterpriseRow, AppError> {
    let id = enterprise_id.as_str();
    let current = enterprises::find(conn, id)?.ok_or(AppError::NotFound)?;
    let [action, from, to] = apply(conn, &current)?;
    super::record_change(conn, ctx, Change::new("enterprise", id, action, Some(from), Some(to)).because(reason))?;
    enterprises::find(conn, id)?.ok_or(AppError::NotFound)
}

/// Loads an enterprise and checks it may change things (not suspended).
/// Called for every write a company makes, by `services::write`.
pub fn require_writable(conn: &mut DbConnection, enterprise_id: &str) -> Result<EnterpriseRow, AppError> {
    let e = enterprises::find(conn, enterprise_id)?.ok_or(AppError::NotFound)?;
    writable(e.status)?;
    Ok(e)
}

/// The rule of [`require_writable`] on a status already read (a booking
/// reads it in its locking statement: `services::write_checked_within`).
pub fn writable(status: EnterpriseStatus) -> Result<(), AppError> {
    if !status.may_write() {
        return Err(AppError::forbidden(
            "the enterprise is suspended: it may read but not change anything until customs reinstate it",
        ));
    }
    Ok(())
}

/// Loads an enterprise and checks it may file and book (verified).
pub fn require_trading(conn: &mut DbConnection, enterprise_id: &str) -> Result<EnterpriseRow, AppError> {
    let e = require_writable(conn, enterprise_id)?;
    let status = e.status;
    if !status.may_trade() {
        return Err(AppError::forbidden(format!(
            "the enterprise is {status}: customs must verify it before it may submit or book"
        )));
    }
    Ok(e)
}
