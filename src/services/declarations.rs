//! Filing, editing and reviewing declarations. Every status change goes
//! through `domain::declaration::transition` (the one place the rules
//! live) and is written with its audit event in the same transaction.

use chrono::{DateTime, Datelike, Utc};

use crate::auth::Principal;
use crate::context::RequestContext;
use crate::db::audit::{self, Change};
use crate::db::declarations::{self as rows, DeclarationData, DeclarationRow, ItemRow, TransitionFacts};
use crate::db::{new_id, sites, DbConnection};
use crate::domain::declaration::{
    declaration_number, ends_booking, transition, DeclarationAction, DeclarationStatus, Party, RiskLane,
    TransitionError,
};
use crate::domain::declaration_form::{DeclarationInput, DeclarationPatch, ItemInput, ValidDeclaration};
use crate::domain::goods::{format_money, parse_currency};
use crate::domain::ids::DeclarationId;
use crate::error::AppError;
use crate::services::access;
use crate::services::identity::require_trading;

/// A declaration with its items.
pub type Full = (DeclarationRow, Vec<ItemRow>);

fn data_of(v: &ValidDeclaration) -> DeclarationData {
    DeclarationData {
        kind: v.kind,
        site_id: v.site_id.clone(),
        transport_mode: v.transport_mode,
        consignor: v.consignor.clone(),
        consignee: v.consignee.clone(),
        origin_country: v.origin_country.clone(),
        destination_country: v.destination_country.clone(),
        currency: v.currency.code().to_owned(),
        incoterm: v.incoterm.as_str().to_owned(),
        invoice_total_minor: v.invoice_total_minor,
        gross_mass_kg: v.gross_mass_kg.to_string(),
    }
}

fn items_of(declaration_id: &str, v: &ValidDeclaration) -> Vec<ItemRow> {
    v.items
        .iter()
        .map(|i| ItemRow {
            id: new_id(),
            declaration_id: declaration_id.to_owned(),
            line_no: i.line_no,
            hs_code: i.hs_code.as_str().to_owned(),
            description: i.description.clone(),
            quantity: i.quantity.to_string(),
            unit: i.unit.clone(),
            net_mass_kg: i.net_mass_kg.to_string(),
            value_minor: i.value_minor,
            origin_country: i.origin_country.clone(),
        })
        .collect()
}

/// The stored declaration as wire input, so that a patch can be laid over it.
pub fn input_of(row: &DeclarationRow, items: &[ItemRow]) -> DeclarationInput {
    let d = &row.data;
    let money = |minor: i64| match parse_currency(&d.currency) {
        Ok(c) => format_money(minor, c),
        Err(_) => minor.to_string(),
    };
    DeclarationInput {
        kind: d.kind.as_str().to_owned(),
        site_id: d.site_id.clone(),
        transport_mode: d.transport_mode.as_str().to_owned(),
        consignor: d.consignor.clone(),
        consignee: d.consignee.clone(),
        origin_country: d.origin_country.clone(),
        destination_country: d.destination_country.clone(),
        currency: d.currency.clone(),
        incoterm: d.incoterm.clone(),
        invoice_total: money(d.invoice_total_minor),
        gross_mass_kg: d.gross_mass_kg.clone(),
        items: items
            .iter()
            .map(|i| ItemInput {
                hs_code: i.hs_code.clone(),
                description: i.description.clone(),
                quantity: i.quantity.clone(),
                unit: i.unit.clone(),
                net_mass_kg: i.net_mass_kg.clone(),
                value: money(i.value_minor),
                origin_country: i.origin_country.clone(),
            })
            .collect(),
    }
}

/// The site must exist and serve the declaration's transport mode.
fn check_site(conn: &mut DbConnection, v: &ValidDeclaration) -> Result<(), AppError> {
    let site = sites::find(conn, &v.site_id)?
        .ok_or_else(|| AppError::field("site_id", "not_found", "no clearance site has this id"))?;
    if !site.serves(v.transport_mode) {
        return Err(AppError::field(
            "transport_mode",
            "not_served",
            format!("site {} does not serve {}", site.code, v.transport_mode),
        ));
    }
    Ok(())
}

/// Files a new draft.
#[tracing::instrument(skip_all, fields(site = %v.site_id))]
pub fn create(conn: &mut DbConnection, ctx: &RequestContext, v: &ValidDeclaration) -> Result<Full, AppError> {
    let now = ctx.stamp();
    let enterprise_id = ctx.caller.enterprise()?;
    check_site(conn, v)?;
    let id = new_id();
    rows::insert(
        conn,
        &DeclarationRow {
            id: id.clone(),
            number: None,
            enterprise_id: enterprise_id.to_owned(),
            created_by: ctx.caller.user_id.clone(),
            data: data_of(v),
            status: DeclarationStatus::Draft,
            risk_lane: None,
            assigned_officer_id: None,
            status_reason: None,
            version: 1,
            submitted_at: None,
            created_at: now,
            updated_at: now,
        },
    )?;
    rows::insert_items(conn, &items_of(&id, v))?;
    super::record_change(
        conn,
        ctx,
        Change::new("declaration", &id, "create", None, Some(DeclarationStatus::Draft.as_str())),
    )?;
    crate::services::outbox::declaration_changed(conn, &id, DeclarationStatus::Draft, now)?;
    load_full(conn, &id)
}

fn load_full(conn: &mut DbConnection, id: &str) -> Result<Full, AppError> {
    let row = rows::find(conn, id)?.ok_or(AppError::NotFound)?;
    let items = rows::items(conn, id)?;
    Ok((row, items))
}

/// A declaration as `who` may see it: a company only its own, customs only
/// what was submitted to them at least once (a draft, even a cancelled
/// one, is the company's own business), and an officer limited to sites
/// only those of their sites. Anything else does not exist for the caller.
pub fn visible(conn: &mut DbConnection, who: &Principal, id: &DeclarationId) -> Result<DeclarationRow, AppError> {
    let row = rows::find(conn, id.as_str())?.ok_or(AppError::NotFound)?;
    let allowed = match &who.enterprise_id {
        Some(e) => *e == row.enterprise_id,
        None => row.submitted_at.is_some() && access::may_see_site(conn, who, &row.data.site_id)?,
    };
    if allowed {
        Ok(row)
    } else {
        Err(AppError::NotFound)
    }
}

/// Reads a declaration with its items, for `who`.
pub fn read(conn: &mut DbConnection, who: &Principal, id: &DeclarationId) -> Result<Full, AppError> {
    let row = visible(conn, who, id)?;
    let items = rows::items(conn, id.as_str())?;
    Ok((row, items))
}

fn transition_error(e: TransitionError) -> AppError {
    match e {
        TransitionError::WrongParty => AppError::forbidden(e.message()),
        TransitionError::Illegal { .. } => AppError::conflict("illegal-transition", e.message()),
    }
}

/// Edits a draft or a declaration sent back for amendment. `version` is the
/// one the edit was based on (If-Match): checked in the UPDATE itself.
#[tracing::instrument(skip_all, fields(declaration = %declaration_id, version))]
pub fn edit(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    declaration_id: &DeclarationId,
    version: i32,
    patch: DeclarationPatch,
) -> Result<Full, AppError> {
    let now = ctx.stamp();
    let row = visible(conn, &ctx.caller, declaration_id)?;
    let id = declaration_id.as_str();
    let status = row.status;
    transition(status, DeclarationAction::Edit, Party::Company).map_err(transition_error)?;
    if row.version != version {
        return Err(stale(row.version));
    }
    let items = rows::items(conn, id)?;
    let merged = patch.apply(input_of(&row, &items));
    let valid = crate::domain::declaration_form::validate(&merged).map_err(AppError::Validation)?;
    check_site(conn, &valid)?;
    refuse_moving_a_booked_declaration(conn, &row, &valid)?;
    if rows::update_data(conn, id, version, DeclarationStatus::EDITABLE, &data_of(&valid), now)? == 0 {
        // Somebody else changed it since we read it: stale version or state.
        let current = rows::find(conn, id)?.ok_or(AppError::NotFound)?;
        return Err(if current.version != version {
            stale(current.version)
        } else {
            AppError::conflict("illegal-transition", format!("cannot edit a declaration that is {}", current.status))
        });
    }
    rows::delete_items(conn, id)?;
    rows::insert_items(conn, &items_of(id, &valid))?;
    super::record_change(
        conn,
        ctx,
        Change::new("declaration", id, "edit", Some(status.as_str()), Some(status.as_str())),
    )?;
    load_full(conn, id)
}

/// A declaration with an active booking keeps its site and transport mode:
/// the booking holds a place at that site's gate for that mode, and would
/// otherwise stay there for goods now declared elsewhere. The company
/// cancels the booking first, then amends and books again.
fn refuse_moving_a_booked_declaration(
    conn: &mut DbConnection,
    row: &DeclarationRow,
    valid: &ValidDeclaration,
) -> Result<(), AppError> {
    if valid.site_id == row.data.site_id && valid.transport_mode == row.data.transport_mode {
        return Ok(());
    }
    let Some(booking) = crate::db::bookings::active_for_declaration(conn, &row.id)? else {
        return Ok(());
    };
    Err(AppError::Described {
        status: actix_web::http::StatusCode::CONFLICT,
        kind: "declaration-booked",
        detail: format!(
            "declaration {} is booked (booking {}) at its current site and mode; cancel the booking \
             before moving the declaration to another site or mode",
            row.id, booking.id
        ),
        members: serde_json::json!({"declaration_id": row.id, "booking_id": booking.id}),
    })
}

/// An officer deciding a declaration another officer claimed (supervisors
/// may take over any review).
fn refuse_anothers_claim(conn: &mut DbConnection, who: &Principal, row: &DeclarationRow) -> Result<(), AppError> {
    let Some(holder) = row.assigned_officer_id.as_deref().filter(|h| *h != who.user_id) else {
        return Ok(());
    };
    if who.role == crate::domain::identity::Role::Supervisor {
        return Ok(());
    }
    let name = crate::db::users::find(conn, holder)?.map(|u| u.display_name).unwrap_or_default();
    Err(AppError::Described {
        status: actix_web::http::StatusCode::CONFLICT,
        kind: "claimed-by-another",
        detail: format!(
            "declaration {} is under review by {name} ({holder}); only they or a supervisor may decide it",
            row.id
        ),
        members: serde_json::json!({"declaration_id": row.id, "claimed_by": holder, "claimed_by_name": name}),
    })
}

fn stale(current: i32) -> AppError {
    AppError::PreconditionFailed(format!(
        "the declaration changed since you read it (now version {current}); read it again and re-apply your edit"
    ))
}

/// What an action needs beyond the declaration.
#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    pub risk_lane: Option<RiskLane>,
    pub reason: Option<String>,
}

/// Applies a status action by `who`; returns the declaration after it.
#[tracing::instrument(skip_all, fields(declaration = %declaration_id, action = action.as_str()))]
pub fn act(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    declaration_id: &DeclarationId,
    action: DeclarationAction,
    input: &ActionInput,
    rules: &crate::services::bookings::BookingRules,
) -> Result<Full, AppError> {
    let (now, who, actor) = (ctx.stamp(), &ctx.caller, &ctx.actor());
    let party = if who.role.is_company() { Party::Company } else { Party::Customs };
    let row = visible(conn, who, declaration_id)?;
    let id = declaration_id.as_str();
    let from = row.status;
    let to = transition(from, action, party).map_err(transition_error)?;
    if party == Party::Company && action == DeclarationAction::Submit {
        require_trading(conn, &row.enterprise_id)?;
    }
    // Deciding a claimed declaration: the claim read above must still be the
    // claim when the status changes (a release and another officer's claim in
    // between bump the version), so the UPDATE is guarded by the version too.
    let claimed = party == Party::Customs && from == DeclarationStatus::UnderReview;
    if claimed {
        refuse_anothers_claim(conn, who, &row)?;
    }
    if rows::set_status_at_version(conn, id, from, to, claimed.then_some(row.version), now)? == 0 {
        let current = rows::find(conn, id)?.map_or_else(|| "gone".to_owned(), |r| r.status.to_string());
        return Err(AppError::conflict(
            "illegal-transition",
            format!("cannot {} a declaration that is {current} (it changed meanwhile)", action.as_str()),
        ));
    }
    let mut facts = TransitionFacts::default();
    match action {
        DeclarationAction::Submit => {
            facts.submitted_at = Some(now);
            facts.status_reason = Some(None);
            if row.number.is_none() {
                facts.number = Some(assign_number(conn, &row, ctx.now)?);
            }
        }
        DeclarationAction::Claim => facts.assigned_officer_id = Some(who.user_id.clone()),
        DeclarationAction::Approve => {
            let lane = input
                .risk_lane
                .ok_or_else(|| AppError::field("risk_lane", "required", "approval needs a risk lane"))?;
            facts.risk_lane = Some(lane);
        }
        DeclarationAction::Reject | DeclarationAction::RequestAmendment | DeclarationAction::Cancel => {
            facts.status_reason = Some(input.reason.clone());
        }
        DeclarationAction::Release | DeclarationAction::Edit => {}
    }
    // Deciding straight from `submitted` claims it implicitly.
    if party == Party::Customs && from == DeclarationStatus::Submitted && action != DeclarationAction::Claim {
        facts.assigned_officer_id = Some(who.user_id.clone());
    }
    rows::record_facts(conn, id, &facts)?;
    audit::append(
        conn,
        actor,
        &Change::new("declaration", id, action.as_str(), Some(from.as_str()), Some(to.as_str()))
            .because(input.reason.as_deref()),
        now,
    )?;
    crate::metrics::declaration_transition(action.as_str(), to.as_str());
    if ends_booking(to) {
        let reason = format!("declaration {}", to.as_str());
        crate::services::bookings::cancel_for_declaration(conn, id, &reason, actor, now, rules)?;
        // Its waitlist entries close (an open offer's place is offered on).
        crate::services::waitlist::end_for_declarations(
            conn,
            &[id],
            crate::domain::hold::WaitlistStatus::Closed,
            None,
            actor,
            now.and_utc(),
            rules,
        )?;
    }
    crate::services::outbox::declaration_changed(conn, id, to, now)?;
    load_full(conn, id)
}

/// The next number at the declaration's site: site code + site-local year
/// + kind letter + serial. The site's row lock makes it race-free.
fn assign_number(conn: &mut DbConnection, row: &DeclarationRow, clock: DateTime<Utc>) -> Result<String, AppError> {
    let site = sites::lock(conn, &row.data.site_id, clock.naive_utc())?
        .ok_or_else(|| AppError::field("site_id", "not_found", "the declaration's site no longer exists"))?;
    let tz = crate::services::schedules::site_zone(&site)?;
    let year = clock.with_timezone(&tz).year();
    let serial = rows::next_serial(conn, &row.data.site_id, year, row.data.kind)?;
    Ok(declaration_number(&site.code, year, row.data.kind, serial))
}
