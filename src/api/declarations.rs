//! `/declarations`: companies file and edit, officers review. Status
//! changes are POSTs to action sub-resources.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::{ApiJson, OptionalJson};
use super::openapi as doc;
use super::pagination::{Listed, Page};
use super::query::{one_of, time};
use super::{Reply, State};
use crate::auth::{AnyUser, CompanyUser, Officer};
use crate::context::RequestContext;
use crate::db::declarations::{self as rows, DeclarationFilter, DeclarationRow, ItemRow};
use crate::domain::declaration::{
    allowed_actions, is_bookable, DeclarationAction, DeclarationKind, DeclarationStatus, Party, RiskLane,
};
use crate::domain::declaration_form::{validate, DeclarationHeader, DeclarationInput, DeclarationPatch};
use crate::domain::gather::Gather;
use crate::domain::ids::DeclarationId;
use crate::domain::reason::Reason;
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services::declarations::{self as svc, ActionInput, Full};
use crate::services::{self, access};

super::route_table!(
    "declarations",
    bearer: list, create, get, edit, history, submit, cancel, review, approve, reject, request_amendment, release
);

super::pagination::page_schema!(DeclarationPage, DeclarationView, "One page of declarations (without their items).");

/// One item line as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeclarationItem)]
pub struct ItemView {
    /// 1-based position in the declaration.
    pub line_no: i32,
    #[schema(example = "8471300000")]
    pub hs_code: String,
    pub description: String,
    /// Decimal string.
    #[schema(example = "120")]
    pub quantity: String,
    #[schema(example = "PCE")]
    pub unit: String,
    /// Decimal string, kilograms.
    #[schema(example = "240.500")]
    pub net_mass_kg: String,
    /// Decimal string in the declaration's currency.
    #[schema(example = "1250.00")]
    pub value: String,
    /// ISO 3166-1 alpha-2.
    pub origin_country: String,
}

/// A declaration as the API shows it; money and masses are decimal strings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Declaration)]
pub struct DeclarationView {
    pub id: String,
    /// Assigned at submission: site code + year + `I`/`E`/`T` + serial.
    pub number: Option<String>,
    pub enterprise_id: String,
    /// What the company filed, in the form it files it.
    #[serde(flatten)]
    pub header: DeclarationHeader,
    pub status: DeclarationStatus,
    /// Set on approval.
    pub risk_lane: Option<RiskLane>,
    /// What the caller may do with it now: `edit`, `submit`, `review`,
    /// `approve`, `reject`, `request-amendment`, `release`, `cancel`.
    #[schema(example = json!(["edit", "submit", "cancel"]))]
    pub allowed_actions: Vec<&'static str>,
    /// Whether a clearance slot may be booked for it in its current status.
    pub bookable: bool,
    /// The officer who claimed it for review.
    pub assigned_officer_id: Option<String>,
    /// Reason of the last rejection, amendment request or cancellation.
    pub status_reason: Option<String>,
    /// Version for `If-Match`; also the `ETag`.
    pub version: i32,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Item lines; absent in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemView>>,
}

impl DeclarationView {
    /// The answer for a caller of `party`: the stored declaration in the
    /// form a company files it (the same text an edit starts from).
    pub fn new(d: DeclarationRow, items: Option<Vec<ItemRow>>, party: Party) -> Self {
        let (header, lines) = svc::input_of(&d, items.as_deref().unwrap_or_default()).into_parts();
        let items = items.map(|rows| {
            rows.iter()
                .zip(lines)
                .map(|(row, i)| ItemView {
                    line_no: row.line_no,
                    hs_code: i.hs_code,
                    description: i.description,
                    quantity: i.quantity,
                    unit: i.unit,
                    net_mass_kg: i.net_mass_kg,
                    value: i.value,
                    origin_country: i.origin_country,
                })
                .collect()
        });
        Self {
            id: d.id,
            number: d.number,
            enterprise_id: d.enterprise_id,
            header,
            status: d.status,
            allowed_actions: allowed_actions(d.status, party).into_iter().map(DeclarationAction::as_str).collect(),
            bookable: is_bookable(d.status),
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

fn respond(status: actix_web::http::StatusCode, (row, items): Full, party: Party) -> HttpResponse {
    let tag = etag(row.version);
    HttpResponse::build(status).insert_header((header::ETAG, tag)).json(DeclarationView::new(row, Some(items), party))
}

/// File a new declaration, as a draft (company users).
#[utoipa::path(
    post, path = "/api/v1/declarations", operation_id = "create_declaration",
    request_body(
        content = DeclarationInput,
        example = json!({
            "kind": "import", "site_id": "0190f7a2-5c1e-7d33-9b7e-3f6a1c2d4e5f", "transport_mode": "road",
            "consignor": "Almaty Electronics LLP", "consignee": "Kashgar Silk Road Trading Co., Ltd.",
            "origin_country": "KZ", "destination_country": "CN", "currency": "USD", "incoterm": "FCA",
            "invoice_total": "1250.00", "gross_mass_kg": "260.000",
            "items": [{"hs_code": "8471300000", "description": "Laptop computers", "quantity": "120",
                "unit": "PCE", "net_mass_kg": "240.500", "value": "1250.00", "origin_country": "KZ"}]
        }),
    ),
    responses(
        (status = 201, description = "The new draft", body = DeclarationView,
            headers(("ETag" = String, description = "The version, for `If-Match`"))),
        doc::JsonBody, doc::Restricted,
        (status = 403, description = "Not a company user, or the enterprise is suspended", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create(state: State, who: CompanyUser, ApiJson(body): ApiJson<DeclarationInput>) -> Reply {
    let valid = validate(&body).map_err(AppError::Validation)?;
    let full = services::write(&state.db, &who, move |conn, ctx| svc::create(conn, ctx, &valid)).await?;
    Ok(respond(actix_web::http::StatusCode::CREATED, full, Party::Company))
}

/// One declaration with its items; a company sees only its own.
#[utoipa::path(
    get, path = "/api/v1/declarations/{id}", operation_id = "get_declaration",
    params(("id" = String, Path, description = "Declaration id")),
    responses(
        (status = 200, description = "The declaration", body = DeclarationView,
            headers(("ETag" = String, description = "The version, for `If-Match`"))),
        doc::Unauthorized, doc::NotFound,
    ),
)]
async fn get(state: State, who: AnyUser, path: web::Path<String>) -> Reply {
    let id = DeclarationId::new(path.into_inner());
    let party = who.party();
    let caller = who.0.caller;
    let full = state.db.read(move |conn| svc::read(conn, &caller, &id)).await?;
    Ok(respond(actix_web::http::StatusCode::OK, full, party))
}

/// Reads `If-Match`: missing is 428; a tag that is not a version of ours
/// cannot match, so it is 412.
pub(super) fn if_match(req: &HttpRequest) -> Result<i32, AppError> {
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

/// Edit a draft or amendment_requested declaration (its enterprise's users).
///
/// Present fields replace the stored ones; `items` replaces the whole list.
#[utoipa::path(
    patch, path = "/api/v1/declarations/{id}", operation_id = "edit_declaration",
    params(
        ("id" = String, Path, description = "Declaration id"),
        ("If-Match" = String, Header, description = "The `ETag` of the version the edit is based on", example = "\"1\"",
            pattern = r#"^(W/)?"[0-9]+"$"#),
    ),
    request_body(content = DeclarationPatch, example = json!({"consignee": "Kashgar Silk Road Trading Co., Ltd. (Khorgos branch)"})),
    responses(
        (status = 200, description = "The edited declaration", body = DeclarationView,
            headers(("ETag" = String, description = "The new version"))),
        doc::JsonBody, doc::Restricted, doc::NotFound, doc::PreconditionFailed, doc::PreconditionRequired,
        (status = 409, description = "Not editable in its current status", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn edit(
    req: HttpRequest,
    state: State,
    who: CompanyUser,
    path: web::Path<String>,
    ApiJson(patch): ApiJson<DeclarationPatch>,
) -> Reply {
    let version = if_match(&req)?;
    let id = DeclarationId::new(path.into_inner());
    let full = services::write(&state.db, &who, move |conn, ctx| svc::edit(conn, ctx, &id, version, patch)).await?;
    Ok(respond(actix_web::http::StatusCode::OK, full, Party::Company))
}

/// Optional body of a declaration action.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeclarationActionBody)]
struct ActionBody {
    /// `green`, `yellow` or `red`; required to approve.
    risk_lane: Option<String>,
    /// Up to 1000 characters; required to reject or request an amendment.
    #[schema(schema_with = doc::reason_optional)]
    reason: Option<String>,
}

/// Body of an approval: the risk lane is required.
#[derive(ToSchema)]
#[schema(as = DeclarationApproval)]
#[allow(dead_code)] // documents the body `ActionBody` reads for this action
struct ApprovalBody {
    #[schema(value_type = crate::domain::declaration::RiskLane)]
    risk_lane: String,
    #[schema(schema_with = doc::reason_optional)]
    reason: Option<String>,
}

/// Body of a rejection or an amendment request: the reason is required.
#[derive(ToSchema)]
#[schema(as = DeclarationReason)]
#[allow(dead_code)] // documents the body `ActionBody` reads for these actions
struct ReasonBody {
    #[schema(schema_with = doc::reason_required)]
    reason: String,
}

/// Runs one action on a declaration: the handlers below differ only in
/// the caller they accept and the action.
async fn run_action(
    state: State,
    who: impl Into<RequestContext>,
    id: String,
    OptionalJson(body): OptionalJson<ActionBody>,
    action: DeclarationAction,
) -> Reply {
    let who: RequestContext = who.into();
    let body = body.unwrap_or_default();
    let mut errors = FieldErrors::new();
    let reason = if matches!(action, DeclarationAction::Reject | DeclarationAction::RequestAmendment) {
        errors.gather(Reason::required(body.reason.as_deref(), "a reason is required")).map(Some)
    } else {
        errors.gather(Reason::optional(body.reason.as_deref()))
    };
    let risk_lane = match (action, body.risk_lane.as_deref()) {
        (DeclarationAction::Approve, None) => {
            errors.add("risk_lane", "required", "approval needs a risk lane: green, yellow or red");
            None
        }
        (DeclarationAction::Approve, lane) => {
            errors.gather(super::query::one_of::<RiskLane>("risk_lane", lane)).flatten()
        }
        _ => None,
    };
    errors.into_result()?;
    let input = ActionInput { risk_lane, reason: reason.flatten().map(Reason::into_string) };
    let party = who.party();
    let id = DeclarationId::new(id);
    let rules = state.bookings.clone();
    let full =
        services::write(&state.db, &who, move |conn, ctx| svc::act(conn, ctx, &id, action, &input, &rules)).await?;
    Ok(respond(actix_web::http::StatusCode::OK, full, party))
}

super::actions! {
    id "Declaration id",
    answer(body = DeclarationView, headers(("ETag" = String, description = "The new version"))),
    errors(
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 409, description = "Illegal transition from the current status (named in `detail`)", body = Problem, content_type = PROBLEM_JSON)
    );
    body OptionalJson<ActionBody>, request_body(content = Option<ActionBody>, description = "Optional; not needed for this action");

    /// Submit a draft (or resubmit an amendment_requested) declaration; it gets its number (company users).
    submit: CompanyUser => run_action(DeclarationAction::Submit);
    post "/api/v1/declarations/{id}/submit" as "submit_declaration", "The declaration, `submitted`"
    responses((status = 403, description = "Not a company user, or the enterprise is not verified or is suspended", body = Problem, content_type = PROBLEM_JSON));

    /// Cancel a declaration before approval (company users); its booking is cancelled.
    cancel: CompanyUser => run_action(DeclarationAction::Cancel);
    post "/api/v1/declarations/{id}/cancel" as "cancel_declaration", "The declaration, `cancelled`"
    responses((status = 403, description = "Not a company user, or the enterprise is suspended", body = Problem, content_type = PROBLEM_JSON));

    /// Claim a submitted declaration for review (officers): under_review, assigned to the caller.
    review: Officer => run_action(DeclarationAction::Claim);
    post "/api/v1/declarations/{id}/review" as "review_declaration", "The declaration, `under_review`";

    /// Approve a declaration with a risk lane (officers).
    approve: Officer => run_action(DeclarationAction::Approve);
    post "/api/v1/declarations/{id}/approve" as "approve_declaration", "The declaration, `approved`"
    request_body(content = ApprovalBody, description = "The risk lane (required)", example = json!({"risk_lane": "green"}));

    /// Reject a declaration with a reason (officers); final. Its booking is cancelled.
    reject: Officer => run_action(DeclarationAction::Reject);
    post "/api/v1/declarations/{id}/reject" as "reject_declaration", "The declaration, `rejected`"
    request_body(content = ReasonBody, description = "The reason (required)", example = json!({"reason": "invoice does not match the goods inspected"}));

    /// Send a declaration back to its enterprise for amendment, with a reason (officers).
    request_amendment: Officer => run_action(DeclarationAction::RequestAmendment);
    post "/api/v1/declarations/{id}/request-amendment" as "request_declaration_amendment", "The declaration, `amendment_requested`"
    request_body(content = ReasonBody, description = "The reason (required)", example = json!({"reason": "item 2: HS code does not match the description"}));

    /// Release the goods of an approved declaration (officers).
    release: Officer => run_action(DeclarationAction::Release);
    post "/api/v1/declarations/{id}/release" as "release_declaration", "The declaration, `released`";
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only declarations in this status.
    #[param(inline, value_type = Option<crate::domain::declaration::DeclarationStatus>)]
    status: Option<String>,
    /// Only declarations for this site.
    site_id: Option<String>,
    /// `import`, `export` or `transit`.
    #[param(inline, value_type = Option<crate::domain::declaration::DeclarationKind>)]
    kind: Option<String>,
    /// Submitted at or after this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    submitted_from: Option<String>,
    /// Submitted before this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    submitted_to: Option<String>,
}

fn queue_cursor(d: &DeclarationRow) -> String {
    super::pagination::time_id_key(d.submitted_at.unwrap_or_default(), &d.id)
}

/// List declarations: a company its own (creation order), customs the review
/// queue (oldest submission first; drafts are never shown to customs).
///
/// An officer limited to sites sees those of their sites.
#[utoipa::path(
    get, path = "/api/v1/declarations", operation_id = "list_declarations",
    params(Listed<ListQuery>),
    responses(
        (status = 200, description = "One page of declarations (without items)", body = DeclarationPage),
        doc::Query, doc::Unauthorized,
    ),
)]
async fn list(state: State, who: AnyUser, Listed { filter: q, page }: Listed<ListQuery>) -> Reply {
    let limit = page.limit()?;
    let mut errors = FieldErrors::new();
    let status = errors.gather(one_of::<DeclarationStatus>("status", q.status.as_deref())).flatten();
    let kind = errors.gather(one_of::<DeclarationKind>("kind", q.kind.as_deref())).flatten();
    let mut naive_time =
        |field: &str, raw: Option<&str>| errors.gather(time(field, raw)).flatten().map(|t| t.naive_utc());
    let submitted_from = naive_time("submitted_from", q.submitted_from.as_deref());
    let submitted_to = naive_time("submitted_to", q.submitted_to.as_deref());
    errors.into_result()?;
    let is_company = who.role.is_company();
    if !is_company && status == Some(DeclarationStatus::Draft) {
        // Drafts are the company's own business until submitted.
        return Ok(HttpResponse::Ok().json(Page::<DeclarationView>::all([])));
    }
    let party = who.party();
    let mut filter = DeclarationFilter {
        enterprise_id: who.enterprise_id.clone(),
        status,
        site_id: q.site_id,
        sites: None,
        kind,
        submitted_from,
        submitted_to,
        exclude_drafts: !is_company,
        limit: limit + 1,
    };
    let page = if is_company {
        let after = page.after()?;
        let rows = state.db.read(move |conn| rows::list_for_company(conn, &filter, after.as_deref())).await?;
        Page::from_rows(rows, limit, |d| d.id.clone(), |d| DeclarationView::new(d, None, party))
    } else {
        let after = page.after_time()?;
        let caller = who.0.caller;
        let rows = state
            .db
            .read(move |conn| {
                filter.sites = access::allowed_sites(conn, &caller)?;
                Ok::<_, AppError>(rows::list_queue(conn, &filter, after)?)
            })
            .await?;
        Page::from_rows(rows, limit, queue_cursor, |d| DeclarationView::new(d, None, party))
    };
    Ok(HttpResponse::Ok().json(page))
}

/// A declaration's audit events, oldest first (one page, next_cursor is always null).
#[utoipa::path(
    get, path = "/api/v1/declarations/{id}/history", operation_id = "declaration_history",
    params(("id" = String, Path, description = "Declaration id")),
    responses(
        (status = 200, description = "The declaration's audit events", body = super::audit::AuditEventPage),
        doc::Unauthorized, doc::NotFound,
    ),
)]
async fn history(state: State, who: AnyUser, path: web::Path<String>) -> Reply {
    let id = DeclarationId::new(path.into_inner());
    let caller = who.0.caller;
    let events = state
        .db
        .read(move |conn| {
            svc::visible(conn, &caller, &id)?;
            Ok::<_, AppError>(crate::db::audit::chain(conn, "declaration", id.as_str())?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::all(events)))
}
