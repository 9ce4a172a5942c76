//! `/sites/{id}/closures` and `/closures/{id}`: customs close or reduce a
//! site's slots over a time range, moving or cancelling the bookings that
//! no longer fit; lifting a closure reopens the slots.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::json::ApiJson;
use super::openapi as doc;
use super::pagination::{Page, PageQuery};
use super::{Reply, State};
use crate::auth::Officer;
use crate::domain::closure::Rebook;
use crate::domain::gather::Gather;
use crate::domain::goods::TransportMode;
use crate::domain::ids::SiteId;
use crate::domain::reason::Reason;
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services;
use crate::services::closures::{self as svc, ClosureView, NewClosure};

super::route_table!("closures", bearer: create, list, lift);

super::pagination::page_schema!(ClosurePage, ClosureView, "One page of closures, newest first.");

/// Close or reduce a site's slots over a time range.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClosureBody {
    /// Only this transport mode; absent: every mode of the site.
    #[schema(value_type = Option<TransportMode>)]
    mode: Option<String>,
    /// Slots starting at or after this time (RFC 3339 with offset)…
    #[schema(example = "2026-12-02T08:00:00+08:00")]
    from: String,
    /// …and before this one.
    #[schema(example = "2026-12-02T14:00:00+08:00")]
    to: String,
    /// Lower the slots' capacity to this (0 to 10000); absent: close them.
    #[serde(default, deserialize_with = "super::json::opt_integer")]
    #[schema(minimum = 0, maximum = 10000)]
    capacity: Option<i64>,
    /// Why, shown to the companies whose bookings move or are cancelled (up to 1000 characters).
    #[schema(example = "X-ray scanner out of order")]
    reason: Option<String>,
    /// What happens to the bookings that no longer fit: `next_available`
    /// (moved in creation order to the earliest slot with room within
    /// `booking.rebook_window_hours` after their start) or `cancel`.
    #[schema(value_type = Rebook)]
    rebook: Option<String>,
    /// Answer what applying would do, and change nothing.
    #[serde(default)]
    dry_run: bool,
}

impl ClosureBody {
    /// Every value checked, every error at once.
    fn parse(self, site_id: SiteId) -> Result<NewClosure, AppError> {
        let mut errors = FieldErrors::new();
        let mode = errors.gather(super::query::one_of::<TransportMode>("mode", self.mode.as_deref())).flatten();
        let from = errors.gather(super::query::time("from", Some(&self.from))).flatten();
        let to = errors.gather(super::query::time("to", Some(&self.to))).flatten();
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                errors.add("to", "range", "to must be after from");
            } else if t - f > chrono::Duration::days(31) {
                errors.add("to", "range", "a closure spans at most 31 days; make several");
            }
        }
        let capacity = match self.capacity {
            Some(c) if !(0..=10_000).contains(&c) => {
                errors.add("capacity", "range", "capacity must be from 0 to 10000 (leave it out to close the slots)");
                None
            }
            c => c.map(|c| c as i32),
        };
        let reason = errors.gather(Reason::required(self.reason.as_deref(), "say why the slots close or shrink"));
        let rebook = match self.rebook.as_deref() {
            None => {
                errors.add("rebook", "required", "rebook is next_available (move the bookings) or cancel");
                None
            }
            raw => errors.gather(super::query::one_of::<Rebook>("rebook", raw)).flatten(),
        };
        errors.into_result()?;
        let missing = || AppError::internal("closure body checked without values");
        Ok(NewClosure {
            site_id,
            mode,
            from: from.ok_or_else(missing)?,
            to: to.ok_or_else(missing)?,
            capacity,
            reason: reason.ok_or_else(missing)?.into_string(),
            rebook: rebook.ok_or_else(missing)?,
            dry_run: self.dry_run,
        })
    }
}

/// Close or reduce a site's slots over a time range (officers).
///
/// In a slot that loses places the earliest created bookings keep them; the
/// others are moved (`rebook: next_available`, in creation order, to the
/// earliest open slot of the same site and mode starting at or after their
/// old start with a free place, the enterprise's share respected, minimum
/// notice waived) or cancelled (reason `displaced: <reason>`). Moved bookings
/// keep their id, get a new gate pass version and a `booking.displaced`
/// webhook. Slots generated later in the range are bound too. With
/// `dry_run` the answer (200) says exactly what applying would do.
#[utoipa::path(
    post, path = "/api/v1/sites/{id}/closures", operation_id = "create_closure",
    params(("id" = String, Path, description = "Site id")),
    request_body(content = ClosureBody, example = json!({"mode": "road", "from": "2026-12-02T08:00:00+08:00",
        "to": "2026-12-02T14:00:00+08:00", "capacity": 2, "reason": "X-ray scanner out of order",
        "rebook": "next_available", "dry_run": true})),
    responses(
        (status = 201, description = "Applied: the closure and the bookings it displaced", body = ClosureView),
        (status = 200, description = "Dry run: what applying would do (`id` null); nothing changed", body = ClosureView),
        doc::JsonBody, doc::Restricted, doc::NotFound,
    ),
)]
async fn create(state: State, who: Officer, path: web::Path<String>, ApiJson(body): ApiJson<ClosureBody>) -> Reply {
    let input = body.parse(SiteId::new(path.into_inner()))?;
    let dry_run = input.dry_run;
    let rules = state.bookings.clone();
    let v = services::write(&state.db, &who, move |conn, ctx| svc::create(conn, ctx, &input, &rules)).await?;
    Ok(if dry_run { HttpResponse::Ok().json(v) } else { HttpResponse::Created().json(v) })
}

/// A site's closures, newest first, lifted ones included (officers).
#[utoipa::path(
    get, path = "/api/v1/sites/{id}/closures", operation_id = "list_closures",
    params(("id" = String, Path, description = "Site id"), PageQuery),
    responses((status = 200, description = "One page of closures", body = ClosurePage), doc::Query, doc::Restricted, doc::NotFound),
)]
async fn list(state: State, who: Officer, path: web::Path<String>, q: web::Query<PageQuery>) -> Reply {
    let (limit, before) = q.window()?;
    let site = SiteId::new(path.into_inner());
    let caller = who.0.caller;
    let (views, more) = state.db.read(move |conn| svc::list(conn, &caller, &site, before.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(Page::cut(views, more, |v| v.id.as_deref().unwrap_or_default())))
}

/// Lift a closure (officers): each slot it bound gets back the capacity and
/// status it had, other closures still applied. Moved bookings stay where
/// they are.
#[utoipa::path(
    delete, path = "/api/v1/closures/{id}", operation_id = "lift_closure",
    params(("id" = String, Path, description = "Closure id")),
    responses(
        (status = 204, description = "Lifted"),
        doc::Restricted, doc::NotFound,
        (status = 409, description = "`closure-lifted`: already lifted", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn lift(state: State, who: Officer, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let rules = state.bookings.clone();
    services::write(&state.db, &who, move |conn, ctx| svc::lift(conn, ctx, &id, &rules).map(|_| ())).await?;
    Ok(HttpResponse::NoContent().finish())
}
