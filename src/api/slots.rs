//! `/slots`: availability for everyone signed in; officers change one slot.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::json::ApiJson;
use super::openapi as doc;
use super::pagination::{encode_cursor, Listed, Page};
use super::query::{one_of, time};
use super::{Reply, State};
use crate::auth::{AnyUser, Officer};
use crate::db::sites::SiteTerms;
use crate::db::slots::{self, SlotFilter, SlotRow};
use crate::db::{enterprises, DbConnection};
use crate::domain::booking_policy::Unbookable;
use crate::domain::closure::Rebook;
use crate::domain::display_zones::{display_times, DisplayTime};
use crate::domain::gather::Gather;
use crate::domain::goods::TransportMode;
use crate::domain::identity::CreditClass;
use crate::domain::ids::SlotId;
use crate::domain::reason::Reason;
use crate::domain::reserve::takes_reserved;
use crate::domain::schedule::{parse_timezone, to_local};
use crate::domain::slot::{Capacity, SlotChange, SlotStatus};
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services::schedules as svc;
use crate::services::{self, access};

super::route_table!("slots", bearer: list, get, change);

super::pagination::page_schema!(SlotPage, SlotView, "One page of slots.");

/// Widest time range one `GET /slots` may ask for.
pub const MAX_RANGE_DAYS: i64 = 31;
/// Range when the client names none.
pub const DEFAULT_RANGE_DAYS: i64 = 7;
/// A clearance slot: UTC and the site's local time with its offset.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Slot)]
pub struct SlotView {
    pub id: String,
    pub site_id: String,
    pub mode: TransportMode,
    /// Start, UTC.
    #[schema(example = "2026-12-01T02:00:00Z")]
    pub starts_at: DateTime<Utc>,
    /// End, UTC.
    #[schema(example = "2026-12-01T03:00:00Z")]
    pub ends_at: DateTime<Utc>,
    /// Start with the site's UTC offset.
    #[schema(example = "2026-12-01T08:00:00+06:00")]
    pub starts_at_local: DateTime<FixedOffset>,
    /// End with the site's UTC offset.
    #[schema(example = "2026-12-01T09:00:00+06:00")]
    pub ends_at_local: DateTime<FixedOffset>,
    /// The site's IANA time zone (its official one).
    #[schema(example = "Asia/Urumqi")]
    pub timezone: String,
    /// The same start and end in each of the site's display zones, in the
    /// site's order (`[]` when it has none).
    pub display_times: Vec<DisplayTime>,
    pub capacity: i32,
    pub booked: i32,
    /// Places kept by live holds (not yet booked).
    pub held: i32,
    /// Free places the caller may take: `capacity - booked - held` while open, else
    /// 0. For a company that is not `advanced_certified`, the places still
    /// reserved (`reserved_available`) are not counted.
    pub available: i32,
    /// Free places held for `advanced_certified` enterprises now: the free
    /// ones among the last `reserved_advanced`, until `reserved_until` (0 after).
    pub reserved_available: i32,
    /// The slot's last places are held for `advanced_certified`
    /// enterprises until `reserved_until`; 0 to the capacity (when a
    /// closure lowers the capacity below it, every place is reserved).
    #[schema(example = 2)]
    pub reserved_advanced: i32,
    /// Minutes before the start the reserved places are released to everyone (0: at the start).
    #[schema(example = 120)]
    pub release_minutes: i32,
    /// When the reserved places are released: `starts_at - release_minutes`;
    /// `null` when nothing is reserved.
    #[schema(example = "2026-12-01T00:00:00Z")]
    pub reserved_until: Option<DateTime<Utc>>,
    pub status: SlotStatus,
    /// Company callers only (absent for customs): whether the caller's
    /// enterprise may book this slot now, by the slot's site's policy and
    /// the places it already holds. It speaks of the slot: the enterprise's
    /// own standing (verified, not discredited) and the declaration's site
    /// and mode are checked when booking.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool)]
    pub bookable: Option<bool>,
    /// Company callers only (absent for customs): `null` when `bookable`,
    /// else the first reason it is not, in this order: `closed`, `started`,
    /// `notice`, `horizon`, `full`, `reserved`, `share`. Booking the slot is
    /// refused by the same rule: `slot-closed`, `slot-started`, `too-late`,
    /// `beyond-horizon`, `slot-full`, `reserved`, `share-exceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Unbookable>)]
    pub reason: Option<Option<Unbookable>>,
}

/// Who reads a slot: customs (`None`) or a company of this credit class,
/// and when. A company's `available` leaves out the places it may not take.
#[derive(Debug, Clone, Copy)]
pub struct SlotViewer {
    pub company: Option<CreditClass>,
    pub now: DateTime<Utc>,
}

impl SlotViewer {
    /// The caller of a request: a company user's enterprise's credit class
    /// (one primary-key read), or customs.
    pub fn of(conn: &mut DbConnection, who: &crate::context::RequestContext) -> Result<Self, AppError> {
        let company = match who.caller.enterprise_id.as_deref() {
            Some(e) => Some(enterprises::credit_class(conn, e)?.unwrap_or(CreditClass::General)),
            None => None,
        };
        Ok(SlotViewer { company, now: who.now })
    }
}

impl SlotView {
    pub fn new(s: SlotRow, site: SiteTerms, viewer: SlotViewer) -> Self {
        let timezone = site.timezone;
        let starts_at = s.starts_at.and_utc();
        let ends_at = s.ends_at.and_utc();
        let places = s.places();
        let reserved_available = places.reserved_free(viewer.now);
        let available = match viewer.company {
            Some(credit) => places.available_to(credit, viewer.now),
            None => places.free(),
        };
        let reserved_until = (s.reserved_advanced > 0).then(|| s.reserved_until().and_utc());
        let (starts_at_local, ends_at_local) = match parse_timezone(&timezone) {
            Ok(tz) => (to_local(starts_at, tz), to_local(ends_at, tz)),
            Err(_) => (starts_at.fixed_offset(), ends_at.fixed_offset()),
        };
        Self {
            id: s.id,
            site_id: s.site_id,
            mode: s.mode,
            starts_at,
            ends_at,
            starts_at_local,
            ends_at_local,
            display_times: display_times(&site.display_zones, starts_at, ends_at),
            timezone,
            capacity: s.capacity,
            booked: s.booked,
            held: s.held,
            available,
            reserved_available,
            reserved_advanced: s.reserved_advanced,
            release_minutes: s.release_minutes,
            reserved_until,
            status: s.status,
            bookable: None,
            reason: None,
        }
    }

    /// The slot for a company caller: whether its enterprise may book it.
    fn for_company(self, bookable: Result<(), Unbookable>) -> Self {
        Self { bookable: Some(bookable.is_ok()), reason: Some(bookable.err()), ..self }
    }
}

/// The views of these slots for `who` (a company caller's with `bookable`
/// and `reason`): one read for the slots, a few more for a company.
fn views(
    rows: Vec<(SlotRow, SiteTerms)>,
    bookable: Option<Vec<Result<(), Unbookable>>>,
    viewer: SlotViewer,
) -> Vec<SlotView> {
    match bookable {
        None => rows.into_iter().map(|(s, site)| SlotView::new(s, site, viewer)).collect(),
        Some(b) => {
            rows.into_iter().zip(b).map(|((s, site), b)| SlotView::new(s, site, viewer).for_company(b)).collect()
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only slots of this site.
    site_id: Option<String>,
    /// Only slots of this transport mode: `road`, `rail` or `air`.
    #[param(inline, value_type = Option<crate::domain::goods::TransportMode>)]
    mode: Option<String>,
    /// Slots starting at or after this time (RFC 3339 with offset); default now.
    #[param(value_type = Option<DateTime<Utc>>, example = "2026-12-01T00:00:00+06:00")]
    from: Option<String>,
    /// Slots starting before this time; default `from` + 7 days, at most 31 days after `from`.
    #[param(value_type = Option<DateTime<Utc>>)]
    to: Option<String>,
    /// `true`: only open slots with free places (for a company that is not
    /// `advanced_certified`, places it may take now).
    #[param(value_type = Option<bool>)]
    available: Option<String>,
}

fn slot_cursor(s: &SlotRow) -> String {
    super::pagination::time_id_key(s.starts_at, &s.id)
}

/// Availability: slots with from ≤ starts_at < to, ordered by start.
///
/// An officer limited to sites sees those of their sites.
#[utoipa::path(
    get, path = "/api/v1/slots", operation_id = "list_slots",
    params(Listed<ListQuery>),
    responses((status = 200, description = "One page of slots", body = SlotPage), doc::Query, doc::Unauthorized),
)]
async fn list(state: State, who: AnyUser, Listed { filter: q, page }: Listed<ListQuery>) -> Reply {
    let limit = page.limit()?;
    let mut errors = FieldErrors::new();
    let mode = errors.gather(one_of::<TransportMode>("mode", q.mode.as_deref())).flatten();
    let from = match q.from.as_deref() {
        Some(raw) => errors.gather(time("from", Some(raw))).flatten(),
        None => Some(who.now),
    };
    let to = match (q.to.as_deref(), from) {
        (Some(raw), _) => errors.gather(time("to", Some(raw))).flatten(),
        (None, Some(f)) => Some(f + Duration::days(DEFAULT_RANGE_DAYS)),
        (None, None) => None,
    };
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            errors.add("to", "range", "to must be after from");
        } else if t - f > Duration::days(MAX_RANGE_DAYS) {
            errors.add("to", "range", format!("a range may span at most {MAX_RANGE_DAYS} days"));
        }
    }
    let only_available = match q.available.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.add("available", "boolean", "available must be true or false");
            false
        }
    };
    errors.into_result()?;
    let after = page.after_time()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(AppError::internal("validated range lost"));
    };
    let mut filter = SlotFilter {
        site_id: q.site_id,
        sites: None,
        mode,
        from: from.naive_utc(),
        to: to.naive_utc(),
        only_available,
        reserve_applies_at: None,
        after,
        limit: limit + 1,
    };
    let (ctx, rules) = (who.0.clone(), state.bookings.clone());
    let (rows, more, bookable, viewer) = state
        .db
        .read(move |conn| {
            filter.sites = access::allowed_sites(conn, &ctx.caller)?;
            let viewer = SlotViewer::of(conn, &ctx)?;
            if viewer.company.is_some_and(|c| !takes_reserved(c)) {
                filter.reserve_applies_at = Some(ctx.stamp());
            }
            let mut rows = slots::list(conn, &filter)?;
            // The extra row only tells that another page follows.
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let bookable = svc::bookability(conn, &ctx.caller, ctx.now, &rows, &rules)?;
            Ok::<_, AppError>((rows, more, bookable, viewer))
        })
        .await?;
    let next_cursor = if more { rows.last().map(|(s, _)| encode_cursor(&slot_cursor(s))) } else { None };
    Ok(HttpResponse::Ok().json(Page { items: views(rows, bookable, viewer), next_cursor }))
}

/// One slot.
#[utoipa::path(
    get, path = "/api/v1/slots/{id}", operation_id = "get_slot",
    params(("id" = String, Path, description = "Slot id")),
    responses((status = 200, description = "The slot", body = SlotView), doc::Unauthorized, doc::NotFound),
)]
async fn get(state: State, who: AnyUser, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let (ctx, rules) = (who.0.clone(), state.bookings.clone());
    let (rows, bookable, viewer) = state
        .db
        .read(move |conn| {
            let rows: Vec<_> = slots::find_with_site(conn, &id)?.into_iter().collect();
            for (slot, _) in &rows {
                access::site_visible(conn, &ctx.caller, &slot.site_id)?;
            }
            let bookable = svc::bookability(conn, &ctx.caller, ctx.now, &rows, &rules)?;
            Ok::<_, AppError>((rows, bookable, SlotViewer::of(conn, &ctx)?))
        })
        .await?;
    let view = views(rows, bookable, viewer).pop().ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(view))
}

/// A change to one slot: capacity, reserved places, status, or several.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SlotPatch {
    /// New capacity, 0 to 10000; below the booked count needs `displace`.
    /// Below `reserved_advanced` (and without it) it lowers that too.
    #[serde(default, deserialize_with = "super::json::opt_integer")]
    #[schema(minimum = 0, maximum = 10000)]
    capacity: Option<i64>,
    /// Places held for `advanced_certified` enterprises until
    /// `release_minutes` before the start: 0 to the (new) capacity. Places
    /// already booked stay booked.
    #[serde(default, deserialize_with = "super::json::opt_integer")]
    #[schema(minimum = 0, maximum = 10000)]
    reserved_advanced: Option<i64>,
    /// When the reserved places are released to everyone, in minutes before
    /// the start: 0 (at the start) to 10080 (a week).
    #[serde(default, deserialize_with = "super::json::opt_integer")]
    #[schema(minimum = 0, maximum = 10080)]
    release_minutes: Option<i64>,
    /// `open` or `closed`; closing cancels the slot's bookings.
    #[schema(value_type = Option<crate::domain::slot::SlotStatus>)]
    status: Option<String>,
    /// Allow a capacity below the booked count: the earliest created bookings
    /// keep their places, the others are displaced (see `rebook`).
    #[serde(default)]
    displace: bool,
    /// What happens to displaced bookings (also when closing): `cancel` (the
    /// default) or `next_available` (moved, in creation order, to the earliest
    /// slot with room within `booking.rebook_window_hours` after their start).
    #[schema(value_type = Option<crate::domain::closure::Rebook>)]
    rebook: Option<String>,
    /// Why; recorded on cancelled bookings and in the audit trail.
    #[schema(schema_with = doc::slot_change_reason)]
    reason: Option<String>,
}

/// The body of `PATCH /slots/{id}`: a [`SlotPatch`] that gives `capacity`,
/// `reserved_advanced`, `release_minutes`, `status`, or several.
struct SlotChangeBody;

impl utoipa::PartialSchema for SlotChangeBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        doc::with_one_of_required(
            &SlotPatch::name(),
            [
                ("capacity", doc::integer()),
                ("reserved_advanced", doc::integer()),
                ("release_minutes", doc::integer()),
                ("status", crate::domain::slot::SlotStatus::schema()),
            ],
            "A change to one slot: `capacity`, `reserved_advanced`, `release_minutes`, `status`, or several \
             (not `null`).",
        )
    }
}

impl ToSchema for SlotChangeBody {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("SlotChange")
    }

    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        schemas.push((SlotPatch::name().into_owned(), SlotPatch::schema()));
        SlotPatch::schemas(schemas);
    }
}

/// Change one slot's capacity or reserved places, or close it (officers).
/// Cancelled bookings' owners are notified.
#[utoipa::path(
    patch, path = "/api/v1/slots/{id}", operation_id = "change_slot",
    params(("id" = String, Path, description = "Slot id")),
    request_body(content = SlotChangeBody, example = json!({"capacity": 5, "displace": true, "reason": "lane closed for repairs"})),
    responses(
        (status = 200, description = "The changed slot", body = SlotView),
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 409, description = "Capacity below the booked count without `displace`, or a concurrent change", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn change(state: State, who: Officer, path: web::Path<String>, ApiJson(body): ApiJson<SlotPatch>) -> Reply {
    let rebook = super::query::one_of::<Rebook>("rebook", body.rebook.as_deref())?.unwrap_or(Rebook::Cancel);
    let change = SlotChange::parse(
        body.capacity,
        (body.reserved_advanced, body.release_minutes),
        body.status.as_deref(),
        body.displace,
        body.reason.as_deref(),
    )?;
    let change = svc::SlotChange {
        capacity: change.capacity.map(Capacity::get),
        reserved_advanced: change.reserved_advanced,
        release_minutes: change.release_minutes,
        status: change.status,
        displace: change.displace,
        rebook,
        reason: change.reason.map(Reason::into_string),
    };
    let id = SlotId::new(path.into_inner());
    let rules = state.bookings.clone();
    let viewer = SlotViewer { company: None, now: who.now };
    let (slot, site) = services::write(&state.db, &who, move |conn, ctx| {
        svc::change_slot(conn, ctx, &id, &change, &rules)?;
        slots::find_with_site(conn, id.as_str())?.ok_or(AppError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SlotView::new(slot, site, viewer)))
}
