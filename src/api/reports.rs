//! `/reports`: how capacity is used and how long reviews take (customs).
//! An officer limited to sites reports on those sites only.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi as doc;
use super::query::one_of;
use super::{Reply, State};
use crate::auth::Officer;
use crate::db::{reports, sites};
use crate::domain::fields::FieldErrors;
use crate::domain::gather::Gather;
use crate::domain::goods::TransportMode;
use crate::domain::report::{
    period, review_times, utilisation, utilisation_csv, Bucket, ReviewTimes, UtilisationRow, MAX_REPORT_DAYS,
};
use crate::domain::schedule::parse_timezone;
use crate::error::AppError;
use crate::services::access;

super::route_table!("reports", bearer: utilisation_report, review_times_report);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UtilisationQuery {
    /// The site reported on.
    site_id: String,
    /// Only slots of this mode; all modes when left out.
    #[param(inline, value_type = Option<TransportMode>)]
    mode: Option<String>,
    /// Start of the period (included): a date (`2026-12-01`, the site's
    /// local midnight) or an RFC 3339 time.
    #[param(example = "2026-12-01")]
    from: Option<String>,
    /// End of the period (excluded), as `from`; at most 92 days after it.
    #[param(example = "2026-12-08")]
    to: Option<String>,
    /// `day` (default) or `hour`, in the site's zone.
    #[param(inline, value_type = Option<Bucket>)]
    bucket: Option<String>,
}

/// A utilisation report.
#[derive(Debug, Serialize, ToSchema)]
pub struct UtilisationReport {
    /// One row per bucket that has slots, in time order.
    pub items: Vec<UtilisationRow>,
}

/// Whether the client asked for CSV (`Accept: text/csv`).
fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv")))
}

/// Capacity use of one site per hour or per local day: places offered,
/// booked, checked in, no-shows, cancellations and `booked / capacity`
/// (customs). `Accept: text/csv` answers CSV: a header row with the same
/// names, then a row per bucket.
#[utoipa::path(
    get, path = "/api/v1/reports/utilisation", operation_id = "utilisation_report",
    params(UtilisationQuery),
    responses(
        (status = 200, description = "The buckets (JSON, or CSV with `Accept: text/csv`)",
            content(
                (UtilisationReport = "application/json"),
                (String = "text/csv", example = "bucket_start,capacity,booked,checked_in,no_show,cancelled,utilisation\r\n2026-12-08T00:00:00+08:00,240,180,150,12,9,0.75\r\n"),
            )),
        doc::Query, doc::Restricted, doc::NotFound,
    ),
)]
async fn utilisation_report(req: HttpRequest, state: State, who: Officer, q: web::Query<UtilisationQuery>) -> Reply {
    let q = q.into_inner();
    let mut errors = FieldErrors::new();
    let mode = errors.gather(one_of::<TransportMode>("mode", q.mode.as_deref())).flatten();
    let bucket = errors.gather(one_of::<Bucket>("bucket", q.bucket.as_deref())).flatten().unwrap_or(Bucket::Day);
    errors.into_result()?;
    let caller = who.0.caller.clone();
    let rows = state
        .db
        .read(move |conn| {
            // A site the caller may not see does not exist for them.
            let site = sites::find(conn, &q.site_id)?.ok_or(AppError::NotFound)?;
            access::site_visible(conn, &caller, &site.id)?;
            let tz = parse_timezone(&site.timezone).map_err(AppError::internal)?;
            let (from, to) = period(q.from.as_deref(), q.to.as_deref(), tz, MAX_REPORT_DAYS)?;
            let usage = reports::slot_usage(conn, &site.id, mode, from.naive_utc(), to.naive_utc())?;
            Ok::<_, AppError>(utilisation(&usage, tz, bucket))
        })
        .await?;
    if wants_csv(&req) {
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"utilisation.csv\""))
            .body(utilisation_csv(&rows)));
    }
    Ok(HttpResponse::Ok().json(UtilisationReport { items: rows }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReviewTimesQuery {
    /// Decisions made from (included): a date (UTC midnight, or the site's
    /// with `site_id`) or an RFC 3339 time.
    #[param(example = "2026-12-01")]
    from: Option<String>,
    /// Decisions made before (excluded), as `from`; at most 92 days after it.
    #[param(example = "2026-12-08")]
    to: Option<String>,
    /// Only declarations of this site.
    site_id: Option<String>,
}

/// How long reviews took: seconds from a declaration's submission to its
/// decision (approved or rejected), for the decisions made in the period;
/// the median, the 90th percentile and the longest (customs). An officer
/// limited to sites counts the declarations of those sites.
#[utoipa::path(
    get, path = "/api/v1/reports/review-times", operation_id = "review_times_report",
    params(ReviewTimesQuery),
    responses(
        (status = 200, description = "The review times", body = ReviewTimes,
            example = json!({"count": 42, "p50_seconds": 5400, "p90_seconds": 21600, "max_seconds": 86000})),
        doc::Query, doc::Restricted, doc::NotFound,
    ),
)]
async fn review_times_report(state: State, who: Officer, q: web::Query<ReviewTimesQuery>) -> Reply {
    let q = q.into_inner();
    let caller = who.0.caller.clone();
    let times = state
        .db
        .read(move |conn| {
            let mut only = access::allowed_sites(conn, &caller)?;
            let mut tz = chrono_tz::UTC;
            if let Some(site_id) = &q.site_id {
                let site = sites::find(conn, site_id)?.ok_or(AppError::NotFound)?;
                access::site_visible(conn, &caller, &site.id)?;
                tz = parse_timezone(&site.timezone).map_err(AppError::internal)?;
                only = Some(vec![site.id]);
            }
            let (from, to) = period(q.from.as_deref(), q.to.as_deref(), tz, MAX_REPORT_DAYS)?;
            let rows = reports::decisions(conn, only.as_deref(), from.naive_utc(), to.naive_utc())?;
            // The first final decision of each declaration in the period.
            let mut seen = std::collections::HashSet::new();
            let pairs: Vec<_> = rows
                .into_iter()
                .filter(|(id, _, _)| seen.insert(id.clone()))
                .map(|(_, submitted, decided)| (submitted.and_utc(), decided.and_utc()))
                .collect();
            Ok::<_, AppError>(review_times(&pairs))
        })
        .await?;
    Ok(HttpResponse::Ok().json(times))
}
