//! `/sites` and `/sites/{id}/schedules`: supervisors run sites and their
//! 24/7 schedules; everyone signed in can read them.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::json::ApiJson;
use super::pagination::{Page, PageQuery};
use crate::auth::{AnyUser, Supervisor};
use crate::db::schedules::ScheduleRow;
use crate::db::sites::{self, SiteChanges, SiteRow};
use crate::domain::goods::TransportMode;
use crate::domain::schedule::{parse_site_code, parse_slot_minutes, parse_timezone, Weekdays};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::services::schedules::{self as svc, ScheduleChange, ScheduleShape, SiteInput};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sites").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/sites/{id}").route(web::get().to(get)).route(web::patch().to(update)))
        .service(
            web::resource("/sites/{id}/schedules")
                .route(web::get().to(list_schedules))
                .route(web::post().to(create_schedule)),
        )
        .service(web::resource("/sites/{id}/schedules/{schedule_id}").route(web::patch().to(change_schedule)));
}

/// A clearance site as the API shows it.
#[derive(Debug, Serialize)]
pub struct SiteView {
    pub id: String,
    pub code: String,
    pub name: String,
    pub timezone: String,
    /// The site's current UTC offset, e.g. `+06:00`.
    pub utc_offset: String,
    pub modes: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<SiteRow> for SiteView {
    fn from(s: SiteRow) -> Self {
        let utc_offset = parse_timezone(&s.timezone)
            .map(|tz| Utc::now().with_timezone(&tz).format("%:z").to_string())
            .unwrap_or_default();
        Self {
            modes: s.mode_list(),
            id: s.id,
            code: s.code,
            name: s.name,
            timezone: s.timezone,
            utc_offset,
            created_at: s.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct NewSiteBody {
    code: String,
    name: String,
    timezone: String,
    modes: Vec<String>,
}

fn check_modes(modes: &[String], errors: &mut FieldErrors) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, m) in modes.iter().enumerate() {
        match m.parse::<TransportMode>() {
            Ok(mode) if !out.iter().any(|o| o == mode.as_str()) => out.push(mode.as_str().to_owned()),
            Ok(_) => errors.add(format!("modes[{i}]"), "duplicate", "mode listed twice"),
            Err(msg) => errors.add(format!("modes[{i}]"), "enum", msg),
        }
    }
    if modes.is_empty() {
        errors.add("modes", "required", "a site serves at least one transport mode");
    }
    out
}

async fn create(
    state: web::Data<AppState>,
    _who: Supervisor,
    ApiJson(body): ApiJson<NewSiteBody>,
) -> AppResult<HttpResponse> {
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
    errors.into_result()?;
    let input = SiteInput { code: code.unwrap_or_default(), name, timezone: body.timezone, modes };
    let site = state.db.write(move |conn| svc::create_site(conn, &input, crate::db::now())).await?;
    Ok(HttpResponse::Created().json(SiteView::from(site)))
}

async fn list(state: web::Data<AppState>, _who: AnyUser, q: web::Query<PageQuery>) -> AppResult<HttpResponse> {
    let limit = q.limit()?;
    let after = q.after()?;
    let rows = state.db.read(move |conn| sites::list(conn, after.as_deref(), limit + 1)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |s| s.code.clone(), SiteView::from)))
}

async fn get(state: web::Data<AppState>, _who: AnyUser, path: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let site = state.db.read(move |conn| sites::find(conn, &id)).await?.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(SiteView::from(site)))
}

#[derive(Debug, Deserialize)]
struct SitePatch {
    name: Option<String>,
    modes: Option<Vec<String>>,
    timezone: Option<String>,
}

async fn update(
    state: web::Data<AppState>,
    _who: Supervisor,
    path: web::Path<String>,
    ApiJson(body): ApiJson<SitePatch>,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let name = body.name.map(|n| n.trim().to_owned());
    if name.as_ref().is_some_and(|n| n.is_empty() || n.chars().count() > 200) {
        errors.add("name", "length", "name must have 1 to 200 characters");
    }
    let modes = body.modes.as_ref().map(|m| check_modes(m, &mut errors).join(","));
    if body.timezone.is_some() {
        // Slots are generated in the site's zone; moving the zone would
        // relabel every booked slot.
        errors.add("timezone", "immutable", "a site's time zone cannot change once created");
    }
    errors.into_result()?;
    let id = path.into_inner();
    let site = state
        .db
        .write(move |conn| {
            let changes = SiteChanges { name, timezone: None, modes, updated_at: Some(crate::db::now()) };
            if sites::update(conn, &id, &changes)? == 0 {
                return Err(AppError::NotFound);
            }
            sites::find(conn, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SiteView::from(site)))
}

/// A schedule as the API shows it.
#[derive(Debug, Serialize)]
pub struct ScheduleView {
    pub id: String,
    pub site_id: String,
    pub mode: String,
    pub slot_minutes: i32,
    pub capacity: i32,
    pub days: Vec<&'static str>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

impl From<ScheduleRow> for ScheduleView {
    fn from(s: ScheduleRow) -> Self {
        Self {
            days: Weekdays::from_bits(s.days_of_week).names(),
            id: s.id,
            site_id: s.site_id,
            mode: s.mode,
            slot_minutes: s.slot_minutes,
            capacity: s.capacity,
            valid_from: s.valid_from,
            valid_to: s.valid_to,
            created_at: s.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize)]
struct ScheduleCreated {
    #[serde(flatten)]
    schedule: ScheduleView,
    slots_created: usize,
}

/// Most slots a schedule may offer at once.
const MAX_CAPACITY: i64 = 10_000;

#[derive(Debug, Deserialize)]
struct NewScheduleBody {
    mode: String,
    #[serde(default = "default_slot_minutes")]
    slot_minutes: i64,
    capacity: i64,
    days: Option<Vec<String>>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

fn default_slot_minutes() -> i64 {
    60
}

fn check_capacity(capacity: i64, errors: &mut FieldErrors) -> i32 {
    if !(0..=MAX_CAPACITY).contains(&capacity) {
        errors.add("capacity", "range", format!("capacity must be between 0 and {MAX_CAPACITY}"));
    }
    capacity.clamp(0, MAX_CAPACITY) as i32
}

fn check_days(days: Option<&Vec<String>>, errors: &mut FieldErrors) -> Option<Weekdays> {
    days.and_then(|d| Weekdays::parse(d).map_err(|m| errors.add("days", "weekday", m)).ok())
}

async fn create_schedule(
    state: web::Data<AppState>,
    _who: Supervisor,
    path: web::Path<String>,
    ApiJson(body): ApiJson<NewScheduleBody>,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let mode = body.mode.parse::<TransportMode>().map_err(|m| errors.add("mode", "enum", m)).ok();
    let slot_minutes =
        parse_slot_minutes(body.slot_minutes).map_err(|m| errors.add("slot_minutes", "slot_length", m)).ok();
    let capacity = check_capacity(body.capacity, &mut errors);
    let days = check_days(body.days.as_ref(), &mut errors).unwrap_or(Weekdays::ALL);
    if let (Some(from), Some(to)) = (body.valid_from, body.valid_to) {
        if to < from {
            errors.add("valid_to", "range", "valid_to must not be before valid_from");
        }
    }
    errors.into_result()?;
    let shape = ScheduleShape {
        mode: mode.map(|m| m.as_str().to_owned()).unwrap_or_default(),
        slot_minutes: slot_minutes.unwrap_or(60),
        capacity,
        days,
        valid_from: body.valid_from,
        valid_to: body.valid_to,
    };
    let horizon = state.settings.slots.horizon_days;
    let site_id = path.into_inner();
    let (schedule, slots_created) =
        state.db.write(move |conn| svc::create_schedule(conn, &site_id, &shape, horizon, Utc::now())).await?;
    Ok(HttpResponse::Created().json(ScheduleCreated { schedule: schedule.into(), slots_created }))
}

async fn list_schedules(state: web::Data<AppState>, _who: AnyUser, path: web::Path<String>) -> AppResult<HttpResponse> {
    let site_id = path.into_inner();
    let rows = state
        .db
        .read(move |conn| {
            sites::find(conn, &site_id)?.ok_or(AppError::NotFound)?;
            Ok::<_, AppError>(crate::db::schedules::for_site(conn, &site_id, None)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(ScheduleView::from).collect(), next_cursor: None }))
}

#[derive(Debug, Deserialize)]
struct SchedulePatch {
    capacity: Option<i64>,
    days: Option<Vec<String>>,
    valid_from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "double_option")]
    valid_to: Option<Option<NaiveDate>>,
}

/// `"valid_to": null` clears it; an absent field keeps it.
fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<NaiveDate>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[derive(Debug, Serialize)]
struct ScheduleChanged {
    #[serde(flatten)]
    schedule: ScheduleView,
    #[serde(flatten)]
    reshape: svc::Reshape,
}

async fn change_schedule(
    state: web::Data<AppState>,
    _who: Supervisor,
    path: web::Path<(String, String)>,
    ApiJson(body): ApiJson<SchedulePatch>,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::new();
    let capacity = body.capacity.map(|c| check_capacity(c, &mut errors));
    let days = check_days(body.days.as_ref(), &mut errors);
    errors.into_result()?;
    let change = ScheduleChange { capacity, days, valid_from: body.valid_from, valid_to: body.valid_to };
    let horizon = state.settings.slots.horizon_days;
    let (site_id, schedule_id) = path.into_inner();
    let (schedule, reshape) = state
        .db
        .write(move |conn| svc::change_schedule(conn, &site_id, &schedule_id, &change, horizon, Utc::now()))
        .await?;
    Ok(HttpResponse::Ok().json(ScheduleChanged { schedule: schedule.into(), reshape }))
}
