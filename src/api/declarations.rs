//! `/declarations`: companies file and edit, officers review. Status
//! changes are POSTs to action sub-resources.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::audit::AuditEventView;
use super::json::ApiJson;
use super::pagination::{decode_cursor, Page, PageQuery};
use crate::auth::{AnyUser, CompanyUser, Officer, Principal};
use crate::db::declarations::{self as rows, DeclarationFilter, DeclarationRow, ItemRow};
use crate::domain::declaration::{
    validate, DeclarationAction, DeclarationInput, DeclarationKind, DeclarationPatch, DeclarationStatus, RiskLane,
};
use crate::domain::goods::{format_money, parse_currency};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::services::declarations::{self as svc, ActionInput, Full};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/declarations").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/declarations/{id}").route(web::get().to(get)).route(web::patch().to(edit)))
        .service(web::resource("/declarations/{id}/history").route(web::get().to(history)))
        .service(web::resource("/declarations/{id}/submit").route(web::post().to(submit)))
        .service(web::resource("/declarations/{id}/cancel").route(web::post().to(cancel)))
        .service(web::resource("/declarations/{id}/review").route(web::post().to(review)))
        .service(web::resource("/declarations/{id}/approve").route(web::post().to(approve)))
        .service(web::resource("/declarations/{id}/reject").route(web::post().to(reject)))
        .service(web::resource("/declarations/{id}/request-amendment").route(web::post().to(request_amendment)))
        .service(web::resource("/declarations/{id}/release").route(web::post().to(release)));
}

/// One item line as the API shows it.
#[derive(Debug, Serialize)]
pub struct ItemView {
    pub line_no: i32,
    pub hs_code: String,
    pub description: String,
    pub quantity: String,
    pub unit: String,
    pub net_mass_kg: String,
    pub value: String,
    pub origin_country: String,
}

/// A declaration as the API shows it; money and masses are decimal strings.
#[derive(Debug, Serialize)]
pub struct DeclarationView {
    pub id: String,
    pub number: Option<String>,
    pub enterprise_id: String,
    pub kind: String,
    pub site_id: String,
    pub transport_mode: String,
    pub consignor: String,
    pub consignee: String,
    pub origin_country: String,
    pub destination_country: String,
    pub currency: String,
    pub incoterm: String,
    pub invoice_total: String,
    pub gross_mass_kg: String,
    pub status: String,
    pub risk_lane: Option<String>,
    pub assigned_officer_id: Option<String>,
    pub status_reason: Option<String>,
    pub version: i32,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemView>>,
}

impl DeclarationView {
    pub fn new(d: DeclarationRow, items: Option<Vec<ItemRow>>) -> Self {
        let currency = parse_currency(&d.currency).ok();
        let money = |minor: i64| currency.map_or_else(|| minor.to_string(), |c| format_money(minor, c));
        let items = items.map(|list| {
            list.into_iter()
                .map(|i| ItemView {
                    line_no: i.line_no,
                    hs_code: i.hs_code,
                    description: i.description,
                    quantity: i.quantity,
                    unit: i.unit,
                    net_mass_kg: i.net_mass_kg,
                    value: money(i.value_minor),
                    origin_country: i.origin_country,
                })
                .collect()
        });
        Self {
            invoice_total: money(d.invoice_total_minor),
            id: d.id,
            number: d.number,
            enterprise_id: d.enterprise_id,
            kind: d.kind,
            site_id: d.site_id,
            transport_mode: d.transport_mode,
            consignor: d.consignor,
            consignee: d.consignee,
            origin_country: d.origin_country,
            destination_country: d.destination_country,
            currency: d.currency,
            incoterm: d.incoterm,
            gross_mass_kg: d.gross_mass_kg,
            status: d.status,
            risk_lane: d.risk_lane,
            assigned_officer_id: d.assigned_officer_id,
            status_reason: d.status_reason,
            version: d.version,
            submitted_at: d.submitted_at.map(|t| t.and_utc()),
            created_at: d.created_at.and_utc(),
            updated_at: d.updated_at.and_utc(),
            items,
        }
    }
}

/// The strong ETag of a version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

fn respond(status: actix_web::http::StatusCode, (row, items): Full) -> HttpResponse {
    let tag = etag(row.version);
    HttpResponse::build(status).insert_header((header::ETAG, tag)).json(DeclarationView::new(row, Some(items)))
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: CompanyUser,
    ApiJson(body): ApiJson<DeclarationInput>,
) -> AppResult<HttpResponse> {
    let valid = validate(&body).map_err(AppError::Validation)?;
    let actor = super::actor(&req, Some(&who));
    let principal = who.0;
    let full = state.db.write(move |conn| svc::create(conn, &principal, &valid, &actor, crate::db::now())).await?;
    Ok(respond(actix_web::http::StatusCode::CREATED, full))
}

async fn get(state: web::Data<AppState>, who: AnyUser, path: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let principal = who.0;
    let full = state.db.read(move |conn| svc::read(conn, &principal, &id)).await?;
    Ok(respond(actix_web::http::StatusCode::OK, full))
}

/// Reads `If-Match`: missing is 428; a tag that is not a version of ours
/// cannot match, so it is 412.
fn if_match(req: &HttpRequest) -> Result<i32, AppError> {
    let raw = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or_else(|| AppError::PreconditionRequired("send If-Match with the ETag you read".into()))?
        .to_str()
        .map_err(|_| AppError::PreconditionFailed("If-Match is not a valid ETag".into()))?
        .trim();
    if raw == "*" {
        return Err(AppError::PreconditionRequired("If-Match must name the version you read, not *".into()));
    }
    raw.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i32>()
        .map_err(|_| AppError::PreconditionFailed("If-Match does not match the current version".into()))
}

async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: CompanyUser,
    path: web::Path<String>,
    ApiJson(patch): ApiJson<DeclarationPatch>,
) -> AppResult<HttpResponse> {
    let version = if_match(&req)?;
    let actor = super::actor(&req, Some(&who));
    let principal = who.0;
    let id = path.into_inner();
    let full = state.db.write(move |conn| svc::edit(conn, &principal, &id, version, patch, &actor)).await?;
    Ok(respond(actix_web::http::StatusCode::OK, full))
}

#[derive(Debug, Default, Deserialize)]
struct ActionBody {
    risk_lane: Option<String>,
    reason: Option<String>,
}

async fn run_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Principal,
    id: String,
    action: DeclarationAction,
    body: ActionBody,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let reason = body.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        errors.add("reason", "length", "reason must have at most 1000 characters");
    }
    let needs_reason = matches!(action, DeclarationAction::Reject | DeclarationAction::RequestAmendment);
    if needs_reason && reason.is_none() {
        errors.add("reason", "required", "a reason is required");
    }
    let risk_lane = match (action, body.risk_lane.as_deref()) {
        (DeclarationAction::Approve, None) => {
            errors.add("risk_lane", "required", "approval needs a risk lane: green, yellow or red");
            None
        }
        (DeclarationAction::Approve, Some(l)) => {
            l.parse::<RiskLane>().map_err(|m| errors.add("risk_lane", "enum", m)).ok()
        }
        _ => None,
    };
    errors.into_result()?;
    let actor = super::actor(&req, Some(&who));
    let input = ActionInput { risk_lane, reason };
    let full = state.db.write(move |conn| svc::act(conn, &who, &id, action, &input, &actor, Utc::now())).await?;
    Ok(respond(actix_web::http::StatusCode::OK, full))
}

fn body_of(body: Option<ApiJson<ActionBody>>) -> ActionBody {
    body.map(|ApiJson(b)| b).unwrap_or_default()
}

macro_rules! action_handler {
    ($name:ident, $extractor:ty, $action:expr) => {
        async fn $name(
            req: HttpRequest,
            state: web::Data<AppState>,
            who: $extractor,
            path: web::Path<String>,
            body: Option<ApiJson<ActionBody>>,
        ) -> AppResult<HttpResponse> {
            run_action(req, state, who.0, path.into_inner(), $action, body_of(body)).await
        }
    };
}

action_handler!(submit, CompanyUser, DeclarationAction::Submit);
action_handler!(cancel, CompanyUser, DeclarationAction::Cancel);
action_handler!(review, Officer, DeclarationAction::Claim);
action_handler!(approve, Officer, DeclarationAction::Approve);
action_handler!(reject, Officer, DeclarationAction::Reject);
action_handler!(request_amendment, Officer, DeclarationAction::RequestAmendment);
action_handler!(release, Officer, DeclarationAction::Release);

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    site_id: Option<String>,
    kind: Option<String>,
    submitted_from: Option<String>,
    submitted_to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn queue_cursor(d: &DeclarationRow) -> String {
    let t = d.submitted_at.map_or(0, |t| t.and_utc().timestamp_micros());
    format!("{t}|{}", d.id)
}

fn parse_queue_cursor(raw: &str) -> Result<(NaiveDateTime, String), AppError> {
    let bad = || AppError::field("cursor", "invalid", "cursor is not one this API gave out");
    let decoded = decode_cursor(raw)?;
    let (micros, id) = decoded.split_once('|').ok_or_else(bad)?;
    let t = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((t.naive_utc(), id.to_owned()))
}

async fn list(state: web::Data<AppState>, who: AnyUser, q: web::Query<ListQuery>) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let page = PageQuery { limit: q.limit.clone(), cursor: q.cursor.clone() };
    let limit = page.limit()?;
    let mut errors = FieldErrors::new();
    let status = q
        .status
        .as_deref()
        .and_then(|s| s.parse::<DeclarationStatus>().map_err(|m| errors.add("status", "enum", m)).ok());
    let kind =
        q.kind.as_deref().and_then(|s| s.parse::<DeclarationKind>().map_err(|m| errors.add("kind", "enum", m)).ok());
    let mut time = |field: &str, raw: Option<&str>| {
        raw.and_then(|r| {
            DateTime::parse_from_rfc3339(r)
                .map(|t| t.with_timezone(&Utc).naive_utc())
                .map_err(|_| errors.add(field, "datetime", format!("{field} must be an RFC 3339 time")))
                .ok()
        })
    };
    let submitted_from = time("submitted_from", q.submitted_from.as_deref());
    let submitted_to = time("submitted_to", q.submitted_to.as_deref());
    errors.into_result()?;
    let is_company = who.role.is_company();
    if !is_company && status == Some(DeclarationStatus::Draft) {
        // Drafts are the company's own business until submitted.
        return Ok(HttpResponse::Ok().json(Page::<DeclarationView> { items: vec![], next_cursor: None }));
    }
    let filter = DeclarationFilter {
        enterprise_id: who.enterprise_id.clone(),
        status: status.map(|s| s.as_str().to_owned()),
        site_id: q.site_id,
        kind: kind.map(|k| k.as_str().to_owned()),
        submitted_from,
        submitted_to,
        exclude_drafts: !is_company,
        limit: limit + 1,
    };
    let page = if is_company {
        let after = page.after()?;
        let rows = state.db.read(move |conn| rows::list_for_company(conn, &filter, after.as_deref())).await?;
        Page::from_rows(rows, limit, |d| d.id.clone(), |d| DeclarationView::new(d, None))
    } else {
        let after = q.cursor.as_deref().filter(|c| !c.is_empty()).map(parse_queue_cursor).transpose()?;
        let rows = state.db.read(move |conn| rows::list_queue(conn, &filter, after)).await?;
        Page::from_rows(rows, limit, queue_cursor, |d| DeclarationView::new(d, None))
    };
    Ok(HttpResponse::Ok().json(page))
}

async fn history(state: web::Data<AppState>, who: AnyUser, path: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let principal = who.0;
    let events = state
        .db
        .read(move |conn| {
            svc::visible(conn, &principal, &id)?;
            Ok::<_, AppError>(crate::db::audit::chain(conn, "declaration", &id)?)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .json(Page { items: events.into_iter().map(AuditEventView::from).collect::<Vec<_>>(), next_cursor: None }))
}
