//! `/gate`: the officer at the gate scans a truck's pass (or types its
//! plate) and the truck is checked in, or refused with the reason.

use serde::Deserialize;
use utoipa::ToSchema;

use super::json::ApiJson;
use super::openapi as doc;
use super::{Reply, State};
use crate::auth::Officer;
use crate::domain::identity::parse_country;
use crate::domain::ids::SiteId;
use crate::domain::vehicle::normalise_plate;
use crate::error::{AppError, FieldErrors, Problem, PROBLEM_JSON};
use crate::services;
use crate::services::bookings::BookingView;
use crate::services::gate::Scanned;

super::route_table!("gate", bearer: scan);

/// What was scanned at a site's gate: the pass's `code`, or the vehicle's
/// `plate` and `country`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ScanBody {
    /// The site whose gate this is.
    site_id: String,
    /// The gate pass code (from the QR code, or typed).
    code: Option<String>,
    /// The vehicle's plate, as written on it (spaces, `-` and `·` are ignored).
    plate: Option<String>,
    /// The plate's country, ISO 3166-1 alpha-2.
    country: Option<String>,
}

impl ScanBody {
    /// The code, or the plate and country, checked; every error at once.
    fn scanned(self) -> Result<(SiteId, Scanned), AppError> {
        let mut errors = FieldErrors::new();
        if self.site_id.trim().is_empty() || self.site_id.len() > 64 {
            errors.add("site_id", "required", "site_id must be the id of this gate's site");
        }
        let scanned = match (self.code, self.plate, self.country) {
            (Some(code), None, None) => Some(Scanned::Code(code)),
            (None, Some(plate), Some(country)) => {
                let plate = normalise_plate(&plate).map_err(|m| errors.add("plate", "invalid", m)).ok();
                let country =
                    parse_country(&country.trim().to_uppercase()).map_err(|m| errors.add("country", "invalid", m)).ok();
                plate.zip(country).map(|(plate, country)| Scanned::Plate { plate, country })
            }
            (None, Some(_), None) => {
                errors.add("country", "required", "give the plate's country (ISO 3166-1 alpha-2) with the plate");
                None
            }
            _ => {
                errors.add("code", "required", "give the gate pass code, or the vehicle's plate and country");
                None
            }
        };
        errors.into_result()?;
        let scanned = scanned.ok_or_else(|| AppError::internal("scan without code or plate"))?;
        Ok((SiteId::new(self.site_id), scanned))
    }
}

/// Check a truck in at the gate by its gate pass or its plate (officers).
///
/// When several refusals apply, the first of this order is answered:
/// `gate-pass-invalid`, `wrong-site`, `gate-pass-superseded`,
/// `booking-not-active`, `already-checked-in`, `too-early`/`too-late`,
/// `vehicle-missing`, `declarations-not-cleared`. Refusals about a booking
/// carry its `booking_id`.
#[utoipa::path(
    post, path = "/api/v1/gate/scan", operation_id = "gate_scan",
    request_body(content = ScanBody, examples(
        ("code" = (value = json!({"site_id": "0190f7a2-5c1e-7d33-9b7e-3f6a1c2d4e5f",
            "code": "CW1.0190f7a3-1b2c-7e44-8a9b-0c1d2e3f4a5b.1.q3Vx0a1Zk2mT9bFhP4wL1g"}))),
        ("plate" = (value = json!({"site_id": "0190f7a2-5c1e-7d33-9b7e-3f6a1c2d4e5f",
            "plate": "01 KZ 123 ABC", "country": "KZ"}))),
    )),
    responses(
        (status = 200, description = "The booking, now `checked_in`", body = BookingView),
        doc::JsonBody, doc::Restricted,
        (status = 404, description = "`no-booking-for-vehicle`: the plate has no active booking; or `not-found` \
            (with `site_id`): a site the officer is not limited to", body = Problem, content_type = PROBLEM_JSON),
        (status = 409, description = "`wrong-site`, `gate-pass-superseded`, `booking-not-active`, `already-checked-in` \
            (with `checked_in_at`, `checked_in_by`) or `declarations-not-cleared` (with `declarations`)",
            body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "`gate-pass-invalid`, `too-early` or `too-late` (with `window_opens_at`, \
            `window_closes_at`), `vehicle-missing`, or an invalid body", body = Problem, content_type = PROBLEM_JSON),
    ),
)]
async fn scan(state: State, who: Officer, ApiJson(body): ApiJson<ScanBody>) -> Reply {
    let (site_id, scanned) = body.scanned()?;
    let rules = state.bookings.clone();
    let v =
        services::write(&state.db, &who, move |conn, ctx| services::gate::scan(conn, ctx, &site_id, &scanned, &rules))
            .await;
    crate::metrics::gate_check_in(match &v {
        Ok(_) => "checked_in",
        Err(AppError::Gate(r)) => r.kind(),
        Err(_) => "error",
    });
    Ok(super::bookings::respond(v?))
}
