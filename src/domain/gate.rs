//! The gate: whether a truck that presents itself is admitted, and if not,
//! why. Pure: the gate service gathers the facts and records the check-in;
//! the order in which refusals are answered lives here only.

use chrono::{DateTime, Utc};

use crate::domain::booking_policy::{ArrivalWindow, BookingStatus};
use crate::domain::declaration::DeclarationStatus;

/// Who checked a visit in, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedIn {
    pub at: DateTime<Utc>,
    pub by_id: String,
    pub by_name: String,
}

/// A declaration of the visit that customs have not cleared.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Uncleared {
    pub id: String,
    pub number: Option<String>,
    pub status: DeclarationStatus,
}

/// What the gate knows of a booking when a truck presents itself.
#[derive(Debug, Clone)]
pub struct Visit {
    pub booking_id: String,
    pub site_id: String,
    pub status: BookingStatus,
    pub gate_pass_version: i32,
    pub window: ArrivalWindow,
    pub has_vehicle: bool,
    pub checked_in: Option<CheckedIn>,
    /// Declarations of the visit that are not `approved` or `released`.
    pub uncleared: Vec<Uncleared>,
}

/// What was presented: at which site, and the gate pass version read from
/// the code (none when checked in by plate or by booking id).
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    pub site_id: Option<&'a str>,
    pub pass_version: Option<i32>,
}

/// Why a truck is not admitted. Each has its own problem type; when
/// several apply, the first of [`admit`]'s order is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateRefusal {
    /// The code is forged, damaged or not a gate pass at all.
    PassInvalid,
    /// No active booking of this vehicle.
    NoBookingForVehicle {
        plate: String,
        country: String,
    },
    WrongSite {
        booking_id: String,
        site_id: String,
    },
    PassSuperseded {
        booking_id: String,
        presented: i32,
        current: i32,
    },
    NotActive {
        booking_id: String,
        status: BookingStatus,
    },
    AlreadyCheckedIn {
        booking_id: String,
        checked_in: CheckedIn,
    },
    TooEarly {
        booking_id: String,
        window: ArrivalWindow,
    },
    TooLate {
        booking_id: String,
        window: ArrivalWindow,
    },
    VehicleMissing {
        booking_id: String,
    },
    DeclarationsNotCleared {
        booking_id: String,
        declarations: Vec<Uncleared>,
    },
}

impl GateRefusal {
    /// Problem type slug.
    pub fn kind(&self) -> &'static str {
        match self {
            GateRefusal::PassInvalid => "gate-pass-invalid",
            GateRefusal::NoBookingForVehicle { .. } => "no-booking-for-vehicle",
            GateRefusal::WrongSite { .. } => "wrong-site",
            GateRefusal::PassSuperseded { .. } => "gate-pass-superseded",
            GateRefusal::NotActive { .. } => "booking-not-active",
            GateRefusal::AlreadyCheckedIn { .. } => "already-checked-in",
            GateRefusal::TooEarly { .. } => "too-early",
            GateRefusal::TooLate { .. } => "too-late",
            GateRefusal::VehicleMissing { .. } => "vehicle-missing",
            GateRefusal::DeclarationsNotCleared { .. } => "declarations-not-cleared",
        }
    }

    /// What the officer at the gate is told, in plain words.
    pub fn message(&self) -> String {
        let at = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        match self {
            GateRefusal::PassInvalid => {
                "this is not a valid gate pass (forged, damaged or mistyped): scan it again, type the code, \
                 or look the truck up by its plate"
                    .into()
            }
            GateRefusal::NoBookingForVehicle { plate, country } => {
                format!("vehicle {plate} ({country}) has no active booking: the company must book a slot first")
            }
            GateRefusal::WrongSite { site_id, .. } => {
                format!("this booking is for another clearance site ({site_id}): send the truck there")
            }
            GateRefusal::PassSuperseded { presented, current, .. } => format!(
                "this gate pass (version {presented}) was replaced by version {current} after the booking \
                 changed: ask the driver for the current pass"
            ),
            GateRefusal::NotActive { status, .. } => {
                format!("the booking is {status}: it no longer admits a truck; the company must book again")
            }
            GateRefusal::AlreadyCheckedIn { checked_in, .. } => {
                format!("this truck was already checked in at {} by {}", at(&checked_in.at), checked_in.by_name)
            }
            GateRefusal::TooEarly { window, .. } => format!(
                "too early: the arrival window opens at {} and closes at {}; ask the driver to wait",
                at(&window.opens_at),
                at(&window.closes_at)
            ),
            GateRefusal::TooLate { window, .. } => format!(
                "too late: the arrival window closed at {} (it opened at {}); the company must book another slot",
                at(&window.closes_at),
                at(&window.opens_at)
            ),
            GateRefusal::VehicleMissing { .. } => {
                "the booking names no vehicle: the company must add the vehicle to the booking before check-in".into()
            }
            GateRefusal::DeclarationsNotCleared { declarations, .. } => {
                let listed: Vec<String> = declarations
                    .iter()
                    .map(|d| format!("{} ({})", d.number.as_deref().unwrap_or(&d.id), d.status))
                    .collect();
                format!(
                    "customs have not cleared every declaration of this truck: {}; they must be approved first",
                    listed.join(", ")
                )
            }
        }
    }
}

/// Admits a visit presented at `now`, or answers the first refusal of the
/// contract's order: wrong site, superseded pass, booking not active,
/// already checked in, outside the arrival window, no vehicle,
/// declarations not cleared. (An invalid code is refused before a visit
/// is even looked up.)
pub fn admit(visit: &Visit, presented: Presented<'_>, now: DateTime<Utc>) -> Result<(), GateRefusal> {
    let booking_id = || visit.booking_id.clone();
    if presented.site_id.is_some_and(|site| site != visit.site_id) {
        return Err(GateRefusal::WrongSite { booking_id: booking_id(), site_id: visit.site_id.clone() });
    }
    if let Some(presented) = presented.pass_version {
        if presented != visit.gate_pass_version {
            return Err(GateRefusal::PassSuperseded {
                booking_id: booking_id(),
                presented,
                current: visit.gate_pass_version,
            });
        }
    }
    match (visit.status, &visit.checked_in) {
        (BookingStatus::Confirmed, _) => {}
        (BookingStatus::CheckedIn, Some(checked_in)) => {
            return Err(GateRefusal::AlreadyCheckedIn { booking_id: booking_id(), checked_in: checked_in.clone() })
        }
        (status, _) => return Err(GateRefusal::NotActive { booking_id: booking_id(), status }),
    }
    if now < visit.window.opens_at {
        return Err(GateRefusal::TooEarly { booking_id: booking_id(), window: visit.window });
    }
    if now > visit.window.closes_at {
        return Err(GateRefusal::TooLate { booking_id: booking_id(), window: visit.window });
    }
    if !visit.has_vehicle {
        return Err(GateRefusal::VehicleMissing { booking_id: booking_id() });
    }
    if !visit.uncleared.is_empty() {
        return Err(GateRefusal::DeclarationsNotCleared {
            booking_id: booking_id(),
            declarations: visit.uncleared.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn visit() -> Visit {
        Visit {
            booking_id: "b1".into(),
            site_id: "s1".into(),
            status: BookingStatus::Confirmed,
            gate_pass_version: 2,
            window: ArrivalWindow { opens_at: t("2026-12-01T09:30:00Z"), closes_at: t("2026-12-01T11:30:00Z") },
            has_vehicle: true,
            checked_in: None,
            uncleared: vec![],
        }
    }

    fn at(v: &Visit, now: DateTime<Utc>) -> Result<(), &'static str> {
        admit(v, Presented { site_id: Some("s1"), pass_version: Some(2) }, now).map_err(|r| r.kind())
    }

    #[test]
    fn the_window_is_closed_at_both_ends() {
        let v = visit();
        assert_eq!(at(&v, v.window.opens_at - Duration::seconds(1)), Err("too-early"));
        assert_eq!(at(&v, v.window.opens_at), Ok(()));
        assert_eq!(at(&v, v.window.closes_at), Ok(()));
        assert_eq!(at(&v, v.window.closes_at + Duration::seconds(1)), Err("too-late"));
    }

    #[test]
    fn refusals_come_in_the_contract_order() {
        let early = visit().window.opens_at - Duration::minutes(5);
        let mut v = visit();
        v.has_vehicle = false;
        v.uncleared = vec![Uncleared { id: "d1".into(), number: None, status: DeclarationStatus::Submitted }];
        let inside = v.window.opens_at;
        assert_eq!(at(&v, inside), Err("vehicle-missing"));
        assert_eq!(at(&v, early), Err("too-early"));
        v.status = BookingStatus::CheckedIn;
        v.checked_in = Some(CheckedIn { at: inside, by_id: "u".into(), by_name: "Officer".into() });
        assert_eq!(at(&v, early), Err("already-checked-in"));
        v.status = BookingStatus::Cancelled;
        assert_eq!(at(&v, early), Err("booking-not-active"));
        let stale = Presented { site_id: Some("s1"), pass_version: Some(1) };
        assert_eq!(admit(&v, stale, early).map_err(|r| r.kind()), Err("gate-pass-superseded"));
        let elsewhere = Presented { site_id: Some("s2"), pass_version: Some(1) };
        assert_eq!(admit(&v, elsewhere, early).map_err(|r| r.kind()), Err("wrong-site"));
        v = visit();
        v.uncleared = vec![Uncleared { id: "d1".into(), number: None, status: DeclarationStatus::Submitted }];
        assert_eq!(at(&v, inside), Err("declarations-not-cleared"));
    }

    #[test]
    fn without_a_code_neither_site_nor_version_is_checked() {
        let v = visit();
        assert_eq!(admit(&v, Presented::default(), v.window.opens_at), Ok(()));
    }
}
