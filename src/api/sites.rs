//! `/sites` and `/sites/{id}/schedules`: supervisors run sites and their
//! 24/7 schedules; everyone signed in can read them.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::ApiJson;
use super::openapi as doc;
use super::pagination::{Page, PageQuery};
use super::{Reply, State};
use crate::auth::{AnyUser, Supervisor};
use crate::db::schedules::ScheduleRow;
use crate::db::sites::{self, SiteRow};
use crate::domain::booking_policy::BookingPolicy;
use crate::domain::display_zones;
use crate::domain::gather::Gather;
use crate::domain::goods::TransportMode;
use crate::domain::ids::SiteId;
use crate::domain::reserve;
use crate::domain::schedule::{parse_site_code, parse_slot_minutes, parse_timezone, Weekdays};
use crate::domain::site_policy::{PolicyOverrides, PolicyPatch, PolicyValues};
use crate::domain::slot::Capacity;
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services::schedules::{self as svc, ScheduleChange, ScheduleShape, SiteInput, SiteUpdate};
use crate::services::{self, access};

super::route_table!("sites", bearer: list, create, get, update, list_schedules, create_schedule, change_schedule);

super::pagination::page_schema!(SitePage, SiteView, "One page of sites.");

super::pagination::page_schema!(SchedulePage, ScheduleView, "A site's schedules (one page).");

/// A clearance site as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Site)]
pub struct SiteView {
    pub id: String,
    /// UN/LOCODE-shaped code.
    #[schema(example = "CNKHG")]
    pub code: String,
    pub name: String,
    /// IANA time zone.
    #[schema(example = "Asia/Urumqi")]
    pub timezone: String,
    /// The site's current UTC offset, e.g. `+06:00`.
    #[schema(example = "+06:00")]
    pub utc_offset: String,
    /// Time zones shown beside the official one (IANA, at most 3): slots
    /// and bookings of the site carry their times in each (`display_times`).
    #[schema(example = json!(["Asia/Urumqi", "Asia/Almaty"]))]
    pub display_zones: Vec<String>,
    /// Transport modes served: `road`, `rail`, `air`.
    #[schema(example = json!(["road", "rail"]))]
    pub modes: Vec<TransportMode>,
    /// The booking rules of the site's slots, all seven values: those a
    /// supervisor set for the site, the configured defaults for the rest.
    pub policy: PolicyValues,
    pub created_at: DateTime<Utc>,
}

impl SiteView {
    /// The answer for a site, its policy over these defaults.
    pub fn new(s: SiteRow, defaults: &BookingPolicy) -> Self {
        super::from_row!(s => Self {
            id, code, name, timezone;
            utc_offset: utc_offset(&s.timezone),
            display_zones: display_zones::load(&s.display_zones),
            modes: s.mode_list(),
            policy: defaults.with(&PolicyOverrides::from(s.policy)).values(),
            created_at: s.created_at.and_utc()
        })
    }
}

/// A zone's current UTC offset, e.g. `+06:00` (empty for a zone that does not parse).
fn utc_offset(timezone: &str) -> String {
    parse_timezone(timezone).map(|tz| Utc::now().with_timezone(&tz).format("%:z").to_string()).unwrap_or_default()
}

/// A new clearance site.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSiteBody {
    /// UN/LOCODE-shaped: an ISO 3166 country code and 3 characters A-Z or 2-9. Unique.
    #[schema(example = "CNKHG", pattern = "^[A-Z]{2}[A-Z2-9]{3}$")]
    code: String,
    /// 1 to 200 characters.
    name: String,
    /// IANA time zone name; cannot change later.
    #[schema(example = "Asia/Urumqi")]
    timezone: String,
    /// At least one of `road`, `rail`, `air`.
    #[schema(schema_with = doc::site_modes)]
    modes: Vec<String>,
    /// IANA time zones shown beside the official one, at most 3, none twice
    /// (default none); can change later.
    #[serde(default)]
    #[schema(example = json!(["Asia/Urumqi", "Asia/Almaty"]))]
    display_zones: Vec<String>,
}

/// Checks display zones into `errors` (fields `display_zones[i]`).
fn check_display_zones(zones: &[String], errors: &mut FieldErrors) -> Vec<String> {
    display_zones::parse_display_zones(zones).unwrap_or_else(|list| {
        for e in list {
            let field = e.index.map_or_else(|| "display_zones".to_owned(), |i| format!("display_zones[{i}]"));
            errors.add(field, e.code, e.message);
        }
        Vec::new()
    })
}

fn check_modes(modes: &[String], errors: &mut FieldErrors) -> Vec<TransportMode> {
    let mut out: Vec<TransportMode> = Vec::new();
    for (i, m) in modes.iter().enumerate() {
        match m.parse::<TransportMode>() {
            Ok(mode) if !out.contains(&mode) => out.push(mode),
            Ok(_) => errors.add(format!("modes[{i}]"), "duplicate", "mode listed twice"),
            Err(msg) => errors.add(format!("modes[{i}]"), "enum", msg),
        }
    }
    if modes.is_empty() {
        errors.add("modes", "required", "a site serves at least one transport mode");
    }
    out
}

/// Create a clearance site (supervisors).
#[utoipa::path(
    post, path = "/api/v1/sites", operation_id = "create_site",
    request_body(
        content = NewSiteBody,
        example = json!({"code": "CNKHG", "name": "Kashgar Comprehensive Bonded Zone", "timezone": "Asia/Shanghai",
            "modes": ["road", "rail"], "display_zones": ["Asia/Urumqi", "Asia/Almaty"]}),
    ),
    responses(
        (status = 201, description = "The new site", body = SiteView),
        doc::JsonBody, doc::Restricted,
        (status = 409, description = "Site code already taken", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create(state: State, who: Supervisor, ApiJson(body): ApiJson<NewSiteBody>) -> Reply {
    let mut errors = FieldErrors::new();
    let code = parse_site_code(&body.code).map_err(|m| errors.add("code", "format", m)).ok();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.add("name", "length", "name must have 1 to 200 characters");
    }
    if let Err(m) = parse_timezone(&body.timezone) {
        errors.add("timezone", "timezone", m);
    }
    let modes = check_modes(&body.modes, &mut errors);
    let display_zones = check_display_zones(&body.display_zones, &mut errors);
    errors.into_result()?;
    let input = SiteInput { code: code.unwrap_or_default(), name, timezone: body.timezone, modes, display_zones };
    let site = services::write(&state.db, &who, move |conn, ctx| svc::create_site(conn, ctx, &input)).await?;
    Ok(HttpResponse::Created().json(SiteView::new(site, &state.bookings.defaults)))
}

/// List clearance sites, ordered by code.
///
/// An officer limited to sites sees theirs.
#[utoipa::path(
    get, path = "/api/v1/sites", operation_id = "list_sites",
    params(PageQuery),
    responses((status = 200, description = "One page of sites", body = SitePage), doc::Query, doc::Unauthorized),
)]
async fn list(state: State, who: AnyUser, q: web::Query<PageQuery>) -> Reply {
    let (limit, after) = q.window()?;
    let caller = who.0.caller;
    let rows = state
        .db
        .read(move |conn| {
            let only = access::allowed_sites(conn, &caller)?;
            Ok::<_, AppError>(sites::list(conn, only.as_deref(), after.as_deref(), limit + 1)?)
        })
        .await?;
    let defaults = state.bookings.defaults;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |s| s.code.clone(), |s| SiteView::new(s, &defaults))))
}

/// One clearance site.
///
/// 404 for a site that an officer limited to other sites does not see.
#[utoipa::path(
    get, path = "/api/v1/sites/{id}", operation_id = "get_site",
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, description = "The site", body = SiteView), doc::Unauthorized, doc::NotFound),
)]
async fn get(state: State, who: AnyUser, path: web::Path<String>) -> Reply {
    let id = path.into_inner();
    let caller = who.0.caller;
    let site = state
        .db
        .read(move |conn| {
            access::site_visible(conn, &caller, &id)?;
            sites::find(conn, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SiteView::new(site, &state.bookings.defaults)))
}

/// Changes to a site; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SitePatch {
    /// 1 to 200 characters.
    #[schema(schema_with = doc::site_name_change)]
    name: Option<String>,
    /// Replaces the list of transport modes.
    #[schema(schema_with = doc::site_modes_change)]
    modes: Option<Vec<String>>,
    /// Cannot change: only `null` (or leaving it out) is accepted; any value is refused (422 `immutable`).
    #[schema(schema_with = immutable_timezone)]
    timezone: Option<String>,
    /// Replaces the display zones (IANA, at most 3; `[]` for none).
    #[schema(example = json!(["Asia/Urumqi"]))]
    display_zones: Option<Vec<String>>,
    /// The site's own booking rules: any subset of the seven keys; a key
    /// set to `null` goes back to the configured default, a key left out
    /// keeps its value. `"policy": null` is refused (422).
    #[serde(default, deserialize_with = "super::json::present")]
    #[schema(value_type = PolicyChange)]
    policy: Option<Option<PolicyChange>>,
}

/// Changes to a site's booking policy: each key a value in its range, or
/// `null` for the configured default; a key left out keeps its value.
/// An unknown key is refused (422 `unknown`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PolicyChange {
    /// Bookings close this many minutes before the slot starts.
    #[serde(default, deserialize_with = "super::json::nullable_integer")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10080, example = 0)]
    min_notice_minutes: Option<Option<i64>>,
    /// The same for `advanced_certified` enterprises.
    #[serde(default, deserialize_with = "super::json::nullable_integer")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10080)]
    min_notice_minutes_advanced: Option<Option<i64>>,
    /// Slots are booked at most this many days ahead.
    #[serde(default, deserialize_with = "super::json::nullable_integer")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 366)]
    horizon_days: Option<Option<i64>>,
    /// A company cancels or moves a booking until this many minutes before the slot starts.
    #[serde(default, deserialize_with = "super::json::nullable_integer")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10080)]
    cancel_cutoff_minutes: Option<Option<i64>>,
    /// Largest share of one slot's capacity one enterprise may hold, percent (at least one place).
    #[serde(default, deserialize_with = "super::json::nullable_integer")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100, example = 100)]
    max_share_percent: Option<Option<i64>>,
    /// The arrival window opens this many minutes before the slot starts.
    #[serde(default, deserialize_with = "super::json::nullable_integer")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10080)]
    arrival_early_minutes: Option<Option<i64>>,
    /// The arrival window closes this many minutes after the slot ends.
    #[serde(default, deserialize_with = "super::json::nullable_integer")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10080)]
    arrival_late_minutes: Option<Option<i64>>,
}

impl From<PolicyChange> for PolicyPatch {
    fn from(c: PolicyChange) -> Self {
        PolicyPatch {
            min_notice_minutes: c.min_notice_minutes,
            min_notice_minutes_advanced: c.min_notice_minutes_advanced,
            horizon_days: c.horizon_days,
            cancel_cutoff_minutes: c.cancel_cutoff_minutes,
            max_share_percent: c.max_share_percent,
            arrival_early_minutes: c.arrival_early_minutes,
            arrival_late_minutes: c.arrival_late_minutes,
        }
    }
}

fn immutable_timezone() -> utoipa::openapi::schema::Schema {
    doc::only_null("A site's time zone cannot change: only `null` (or leaving it out) is accepted; any value is refused (422 `immutable`).")
}

/// Rename a site, change its transport modes or its booking policy (supervisors).
///
/// Every booking rule of a slot follows its site's policy: notice, horizon
/// and share when booking or moving to it, the cut-off when cancelling or
/// moving away, the arrival window in booking answers, at the gate and in
/// the no-show sweep. The change is audited (`policy`).
#[utoipa::path(
    patch, path = "/api/v1/sites/{id}", operation_id = "update_site",
    params(("id" = String, Path, description = "Site id")),
    request_body(
        content = SitePatch,
        examples(
            ("rename" = (value = json!({"name": "Khorgos International Road Port"}))),
            ("policy" = (summary = "A site's own policy; null returns a key to the default",
                value = json!({"policy": {"min_notice_minutes": 0, "max_share_percent": 100, "arrival_late_minutes": null}}))),
        ),
    ),
    responses(
        (status = 200, description = "The updated site", body = SiteView),
        doc::JsonBody, doc::Restricted, doc::NotFound,
    ),
)]
async fn update(state: State, who: Supervisor, path: web::Path<String>, ApiJson(body): ApiJson<SitePatch>) -> Reply {
    let mut errors = FieldErrors::new();
    let name = body.name.map(|n| n.trim().to_owned());
    if name.as_ref().is_some_and(|n| n.is_empty() || n.chars().count() > 200) {
        errors.add("name", "length", "name must have 1 to 200 characters");
    }
    let modes = body.modes.as_ref().map(|m| check_modes(m, &mut errors));
    let display_zones = body.display_zones.as_ref().map(|z| check_display_zones(z, &mut errors));
    if body.timezone.is_some() {
        // Slots are generated in the site's zone; moving the zone would
        // relabel every booked slot.
        errors.add("timezone", "immutable", "a site's time zone cannot change once created");
    }
    let policy = match body.policy {
        None => None,
        Some(None) => {
            errors.add(
                "policy",
                "required",
                "policy is an object of the keys to change; set a key to null to return it to the default",
            );
            None
        }
        Some(Some(change)) => {
            let patch = PolicyPatch::from(change);
            errors.gather(patch.check().map(|()| patch))
        }
    };
    errors.into_result()?;
    let id = SiteId::new(path.into_inner());
    let update = SiteUpdate { name, modes, display_zones, policy };
    let site = services::write(&state.db, &who, move |conn, ctx| svc::update_site(conn, ctx, &id, &update)).await?;
    Ok(HttpResponse::Ok().json(SiteView::new(site, &state.bookings.defaults)))
}

/// A schedule as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Schedule)]
pub struct ScheduleView {
    pub id: String,
    pub site_id: String,
    pub mode: TransportMode,
    /// Slot length in minutes; divides 24 hours.
    #[schema(example = 60)]
    pub slot_minutes: i32,
    /// Places per slot.
    #[schema(example = 20)]
    pub capacity: i32,
    /// The last places of each slot, held for `advanced_certified`
    /// enterprises until `release_minutes` before the slot starts.
    #[schema(example = 2)]
    pub reserved_advanced: i32,
    /// Minutes before a slot's start its reserved places are released to everyone.
    #[schema(example = 120)]
    pub release_minutes: i32,
    /// Days of the week served, `mon` … `sun`.
    #[schema(value_type = Vec<String>, example = json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))]
    pub days: Vec<&'static str>,
    /// First day of validity.
    pub valid_from: NaiveDate,
    /// Last day of validity; `null`: open-ended.
    pub valid_to: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

impl From<ScheduleRow> for ScheduleView {
    fn from(s: ScheduleRow) -> Self {
        super::from_row!(s => Self {
            id, site_id, mode, slot_minutes, capacity, reserved_advanced, release_minutes, valid_from, valid_to;
            days: Weekdays::from_bits(s.days_of_week).names(), created_at: s.created_at.and_utc()
        })
    }
}

/// The new schedule and how many slots were generated for the horizon.
#[derive(Debug, Serialize, ToSchema)]
struct ScheduleCreated {
    #[serde(flatten)]
    schedule: ScheduleView,
    slots_created: usize,
}

/// A new schedule for one transport mode of a site. Defaults: 24/7,
/// 60-minute slots, valid from today without end.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewScheduleBody {
    /// `road`, `rail` or `air`; one the site serves.
    #[schema(value_type = crate::domain::goods::TransportMode, example = "road")]
    mode: String,
    /// 5 to 1440, dividing 24 hours (15, 30, 60, 90, 120, …).
    #[serde(default = "default_slot_minutes", deserialize_with = "super::json::integer")]
    #[schema(default = 60, minimum = 5, maximum = 1440)]
    slot_minutes: i64,
    /// Places per slot, 0 to 10000.
    #[serde(deserialize_with = "super::json::integer")]
    #[schema(minimum = 0, maximum = 10000)]
    capacity: i64,
    /// The last places of each slot held for `advanced_certified`
    /// enterprises until `release_minutes` before it starts: 0 (default) to `capacity`.
    #[serde(default, deserialize_with = "super::json::integer")]
    #[schema(default = 0, minimum = 0, maximum = 10000)]
    reserved_advanced: i64,
    /// When the reserved places are released to everyone, in minutes before
    /// the slot starts: 0 (default: at the start) to 10080 (a week).
    #[serde(default, deserialize_with = "super::json::integer")]
    #[schema(default = 0, minimum = 0, maximum = 10080)]
    release_minutes: i64,
    /// Days of the week served (`mon` … `sun`); default every day.
    #[schema(schema_with = doc::schedule_days)]
    days: Option<Vec<String>>,
    /// Default: today.
    valid_from: Option<NaiveDate>,
    /// Default: open-ended. Not before `valid_from`.
    valid_to: Option<NaiveDate>,
}

fn default_slot_minutes() -> i64 {
    60
}

fn check_days(days: Option<&Vec<String>>, errors: &mut FieldErrors) -> Option<Weekdays> {
    days.and_then(|d| Weekdays::parse(d).map_err(|m| errors.add("days", "weekday", m)).ok())
}

/// Add a schedule to a site (supervisors); its slots for the booking horizon
/// exist on return. Two schedules of one site and mode may not overlap in validity.
#[utoipa::path(
    post, path = "/api/v1/sites/{id}/schedules", operation_id = "create_schedule",
    params(("id" = String, Path, description = "Site id")),
    request_body(
        content = NewScheduleBody,
        example = json!({"mode": "road", "slot_minutes": 60, "capacity": 20,
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "valid_from": "2026-01-01"}),
    ),
    responses(
        (status = 201, description = "The new schedule", body = ScheduleCreated),
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 409, description = "Overlaps another schedule of the same site and mode", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn create_schedule(
    state: State,
    who: Supervisor,
    path: web::Path<String>,
    ApiJson(body): ApiJson<NewScheduleBody>,
) -> Reply {
    let mut errors = FieldErrors::new();
    let mode = body.mode.parse::<TransportMode>().map_err(|m| errors.add("mode", "enum", m)).ok();
    let slot_minutes =
        parse_slot_minutes(body.slot_minutes).map_err(|m| errors.add("slot_minutes", "slot_length", m)).ok();
    let capacity = errors.gather(Capacity::parse(body.capacity));
    let reserved_advanced = errors.gather(reserve::parse_reserved(body.reserved_advanced));
    if let (Some(r), Some(c)) = (reserved_advanced, capacity) {
        errors.gather(reserve::check_fits(r, c.get()));
    }
    let release_minutes = errors.gather(reserve::parse_release_minutes(body.release_minutes));
    let days = check_days(body.days.as_ref(), &mut errors).unwrap_or(Weekdays::ALL);
    if let (Some(from), Some(to)) = (body.valid_from, body.valid_to) {
        if to < from {
            errors.add("valid_to", "range", "valid_to must not be before valid_from");
        }
    }
    errors.into_result()?;
    let shape = ScheduleShape {
        mode: mode.unwrap_or(TransportMode::Road),
        slot_minutes: slot_minutes.unwrap_or(60),
        capacity: capacity.map_or(0, Capacity::get),
        reserved_advanced: reserved_advanced.unwrap_or(0),
        release_minutes: release_minutes.unwrap_or(0),
        days,
        valid_from: body.valid_from,
        valid_to: body.valid_to,
    };
    let horizon = state.settings.slots.horizon_days;
    let site_id = SiteId::new(path.into_inner());
    let (schedule, slots_created) =
        services::write(&state.db, &who, move |conn, ctx| svc::create_schedule(conn, ctx, &site_id, &shape, horizon))
            .await?;
    Ok(HttpResponse::Created().json(ScheduleCreated { schedule: schedule.into(), slots_created }))
}

/// A site's schedules (one page, next_cursor is always null).
#[utoipa::path(
    get, path = "/api/v1/sites/{id}/schedules", operation_id = "list_schedules",
    params(("id" = String, Path, description = "Site id")),
    responses(
        (status = 200, description = "The site's schedules", body = SchedulePage),
        doc::Unauthorized, doc::NotFound,
    ),
)]
async fn list_schedules(state: State, who: AnyUser, path: web::Path<String>) -> Reply {
    let site_id = path.into_inner();
    let caller = who.0.caller;
    let rows = state
        .db
        .read(move |conn| {
            access::site_visible(conn, &caller, &site_id)?;
            sites::find(conn, &site_id)?.ok_or(AppError::NotFound)?;
            Ok::<_, AppError>(crate::db::schedules::for_site(conn, &site_id, None)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::all(rows.into_iter().map(ScheduleView::from))))
}

/// Changes to a schedule; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SchedulePatch {
    /// Places per slot, 0 to 10000. Below `reserved_advanced` (and
    /// without it) it lowers that too.
    #[serde(default, deserialize_with = "super::json::opt_integer")]
    #[schema(minimum = 0, maximum = 10000)]
    capacity: Option<i64>,
    /// Places of each slot held for `advanced_certified` enterprises: 0 to the (new) capacity.
    #[serde(default, deserialize_with = "super::json::opt_integer")]
    #[schema(minimum = 0, maximum = 10000)]
    reserved_advanced: Option<i64>,
    /// Minutes before a slot's start its reserved places are released: 0 to 10080.
    #[serde(default, deserialize_with = "super::json::opt_integer")]
    #[schema(minimum = 0, maximum = 10080)]
    release_minutes: Option<i64>,
    /// Days of the week served (`mon` … `sun`).
    #[schema(schema_with = doc::schedule_days_change)]
    days: Option<Vec<String>>,
    valid_from: Option<NaiveDate>,
    /// `null` makes the schedule open-ended; absent keeps the end date.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    valid_to: Option<Option<NaiveDate>>,
}

/// `"valid_to": null` clears it; an absent field keeps it.
fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<NaiveDate>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// The changed schedule and what the change did to its future slots.
#[derive(Debug, Serialize, ToSchema)]
struct ScheduleChanged {
    #[serde(flatten)]
    schedule: ScheduleView,
    #[serde(flatten)]
    reshape: svc::Reshape,
}

/// Change a schedule's capacity, reserved places, days or validity
/// (supervisors); future unbooked slots are regenerated, booked ones are
/// kept; future slots take the new capacity and reserve.
#[utoipa::path(
    patch, path = "/api/v1/sites/{id}/schedules/{schedule_id}", operation_id = "change_schedule",
    params(
        ("id" = String, Path, description = "Site id"),
        ("schedule_id" = String, Path, description = "Schedule id"),
    ),
    request_body(content = SchedulePatch, example = json!({"capacity": 30, "valid_to": null})),
    responses(
        (status = 200, description = "The changed schedule", body = ScheduleChanged),
        doc::JsonBody, doc::Restricted, doc::NotFound,
        (status = 409, description = "The new validity overlaps another schedule of the same site and mode", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn change_schedule(
    state: State,
    who: Supervisor,
    path: web::Path<(String, String)>,
    ApiJson(body): ApiJson<SchedulePatch>,
) -> Reply {
    let mut errors = FieldErrors::new();
    let capacity = body.capacity.and_then(|c| errors.gather(Capacity::parse(c))).map(Capacity::get);
    let reserved_advanced = body.reserved_advanced.and_then(|r| errors.gather(reserve::parse_reserved(r)));
    let release_minutes = body.release_minutes.and_then(|m| errors.gather(reserve::parse_release_minutes(m)));
    let days = check_days(body.days.as_ref(), &mut errors);
    errors.into_result()?;
    let change = ScheduleChange {
        capacity,
        reserved_advanced,
        release_minutes,
        days,
        valid_from: body.valid_from,
        valid_to: body.valid_to,
    };
    let horizon = state.settings.slots.horizon_days;
    let (site_id, schedule_id) = path.into_inner();
    let site_id = SiteId::new(site_id);
    let rules = state.bookings.clone();
    let (schedule, reshape) = services::write(&state.db, &who, move |conn, ctx| {
        svc::change_schedule(conn, ctx, &site_id, &schedule_id, &change, horizon, &rules)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ScheduleChanged { schedule: schedule.into(), reshape }))
}
