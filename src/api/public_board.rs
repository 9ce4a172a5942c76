//! `/public`: the board for drivers at the gate, without a token. Answers
//! carry an `ETag` and `Cache-Control: public, max-age=15`; a client that
//! sends the ETag back in `If-None-Match` gets `304` without a body. Each
//! client address has a request budget (`[public] requests_per_minute`);
//! past it the answer is 429 with `Retry-After`. Availability answers come
//! from the in-memory cache (`services::board_cache`) while no count of
//! their site has moved.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi as doc;
use super::query::{one_of, time};
use super::{Reply, State};
use crate::domain::fields::FieldErrors;
use crate::domain::gather::Gather;
use crate::domain::goods::TransportMode;
use crate::error::AppError;
use crate::services::public_board::{
    self as board, default_period, Board, BoardAnswer, BoardQuery, PublicSite, MAX_BOARD_DAYS,
};

super::route_table!("public", public: list_sites, availability);

/// How long shared caches and browsers may reuse an answer.
const CACHE_CONTROL: &str = "public, max-age=15";

/// Takes one request from the client address's budget (429 past it).
fn admit(req: &HttpRequest, state: &State) -> Result<(), AppError> {
    let addr = crate::auth::client::client_addr(req).unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    state.public_limiter.check(addr).map_err(|retry_after_secs| AppError::TooManyRequests { retry_after_secs })
}

/// Whether `If-None-Match` names this ETag (or is `*`); weak tags compare
/// by their value.
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// The answer with its caching headers: 304 when the client has it.
fn respond(req: &HttpRequest, answer: BoardAnswer) -> HttpResponse {
    let mut res = if not_modified(req, &answer.etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().insert_header((header::CONTENT_TYPE, "application/json")).body(answer.body)
    };
    let headers = res.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&answer.etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static(CACHE_CONTROL));
    res
}

/// The sites.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PublicSiteList)]
struct SiteList {
    items: Vec<PublicSite>,
}

/// The clearance sites, by code (no token).
#[utoipa::path(
    get, path = "/api/v1/public/sites", operation_id = "public_sites",
    params(("If-None-Match" = Option<String>, Header, description = "The `ETag` of an answer you hold")),
    responses(
        (status = 200, description = "The sites", body = SiteList,
            headers(("ETag" = String), ("Cache-Control" = String, description = "`public, max-age=15`"))),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        doc::TooManyRequests,
    ),
)]
async fn list_sites(req: HttpRequest, state: State) -> Reply {
    admit(&req, &state)?;
    let items = state.db.read(board::sites).await?;
    Ok(respond(&req, BoardAnswer::of(&SiteList { items })?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AvailabilityQuery {
    /// Only slots of this mode; every mode the site serves when left out.
    #[param(inline, value_type = Option<TransportMode>)]
    mode: Option<String>,
    /// Slots starting from (RFC 3339); default: the start of the current hour.
    from: Option<String>,
    /// Slots starting before (RFC 3339); default: a day after `from`; at most 7 days after it.
    to: Option<String>,
}

/// Free places per slot at one site (no token): capacity and free places
/// only, nothing about who booked. A closed slot shows `open: false` and
/// no free places.
#[utoipa::path(
    get, path = "/api/v1/public/sites/{code}/availability", operation_id = "public_availability",
    params(
        ("code" = String, Path, description = "Site code", example = "CNKHG"),
        AvailabilityQuery,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of an answer you hold"),
    ),
    responses(
        (status = 200, description = "The slots", body = Board,
            headers(("ETag" = String), ("Cache-Control" = String, description = "`public, max-age=15`"))),
        (status = 304, description = "Unchanged since the `ETag` sent"),
        doc::Query, doc::NotFound, doc::TooManyRequests,
    ),
)]
async fn availability(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    q: web::Query<AvailabilityQuery>,
) -> Reply {
    admit(&req, &state)?;
    let code = path.into_inner();
    if code.is_empty() || code.len() > 16 {
        return Err(AppError::missing("site", code));
    }
    let q = q.into_inner();
    let mut errors = FieldErrors::new();
    let mode = errors.gather(one_of::<TransportMode>("mode", q.mode.as_deref())).flatten();
    let (default_from, _) = default_period(state.clock.now());
    let from = match q.from.as_deref() {
        Some(raw) => errors.gather(time("from", Some(raw))).flatten(),
        None => Some(default_from),
    };
    let to = match (q.to.as_deref(), from) {
        (Some(raw), _) => errors.gather(time("to", Some(raw))).flatten(),
        (None, Some(f)) => Some(f + chrono::Duration::hours(board::DEFAULT_BOARD_HOURS)),
        (None, None) => None,
    };
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            errors.add("to", "range", "to must be after from");
        } else if t - f > chrono::Duration::days(MAX_BOARD_DAYS) {
            errors.add("to", "range", format!("the board shows at most {MAX_BOARD_DAYS} days at once"));
        }
    }
    errors.into_result()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(AppError::internal("validated range lost"));
    };
    let query = BoardQuery { code, mode, from, to };
    let load = || {
        let (db, q, versions) = (state.db.clone(), query.clone(), state.db.site_versions());
        async move { db.read(move |conn| board::load(conn, &q, &versions)).await.map_err(AppError::from) }
    };
    let answer = state.board_cache.answer(&query, load).await?;
    let answer = answer.ok_or_else(|| AppError::missing("site", code_of(&req)))?;
    Ok(respond(&req, answer))
}

/// The site code of the request's path (for the answer naming it).
fn code_of(req: &HttpRequest) -> String {
    req.match_info().get("code").unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::not_modified;

    #[test]
    fn if_none_match_lists_strong_weak_and_any() {
        let tag = "\"abc\"";
        let with = |v: &str| TestRequest::default().insert_header(("If-None-Match", v)).to_http_request();
        assert!(not_modified(&with("\"abc\""), tag));
        assert!(not_modified(&with("\"x\", W/\"abc\""), tag));
        assert!(not_modified(&with("*"), tag));
        assert!(!not_modified(&with("\"abd\""), tag));
        assert!(!not_modified(&TestRequest::default().to_http_request(), tag));
    }
}
