//! A site's display zones: IANA time zones shown beside its official one
//! (Chinese customs keep Beijing time; drivers read Urumqi's or Almaty's).
//! Stored as a comma-separated list; the answers carry every time of a
//! slot in each of them (`display_times`).

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::schedule::{parse_timezone, to_local};

/// At most this many display zones per site.
pub const MAX_DISPLAY_ZONES: usize = 3;

/// What is wrong with a list of display zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    /// The zone's index; `None` for the whole list.
    pub index: Option<usize>,
    /// Error code (`length`, `timezone`, `duplicate`).
    pub code: &'static str,
    pub message: String,
}

impl ZoneError {
    fn new(index: Option<usize>, code: &'static str, message: impl Into<String>) -> Self {
        ZoneError { index, code, message: message.into() }
    }
}

/// Checks a list of display zones: each an IANA name, none twice, at most
/// [`MAX_DISPLAY_ZONES`].
pub fn parse_display_zones(zones: &[String]) -> Result<Vec<String>, Vec<ZoneError>> {
    let mut errors = Vec::new();
    if zones.len() > MAX_DISPLAY_ZONES {
        errors.push(ZoneError::new(None, "length", format!("a site shows at most {MAX_DISPLAY_ZONES} display zones")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, z) in zones.iter().enumerate() {
        let z = z.trim();
        match parse_timezone(z) {
            Err(m) => errors.push(ZoneError::new(Some(i), "timezone", m)),
            Ok(tz) if out.iter().any(|o| o == tz.name()) => {
                errors.push(ZoneError::new(Some(i), "duplicate", "zone listed twice"))
            }
            Ok(tz) => out.push(tz.name().to_owned()),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The stored form of a list (`Asia/Urumqi,Asia/Almaty`).
pub fn store(zones: &[String]) -> String {
    zones.join(",")
}

/// The list of a stored value (empty for '').
pub fn load(stored: &str) -> Vec<String> {
    stored.split(',').map(str::trim).filter(|z| !z.is_empty()).map(str::to_owned).collect()
}

/// A slot's (or booking's) start and end in one display zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"timezone": "Asia/Urumqi", "starts_at_local": "2026-12-01T08:00:00+06:00",
    "ends_at_local": "2026-12-01T09:00:00+06:00"}))]
pub struct DisplayTime {
    /// The display zone (IANA).
    pub timezone: String,
    /// The start with this zone's UTC offset.
    pub starts_at_local: DateTime<FixedOffset>,
    /// The end with this zone's UTC offset.
    pub ends_at_local: DateTime<FixedOffset>,
}

/// A span in every display zone of a stored list, in the list's order
/// (a zone that no longer parses is left out).
pub fn display_times(stored: &str, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Vec<DisplayTime> {
    load(stored)
        .into_iter()
        .filter_map(|zone| {
            let tz = parse_timezone(&zone).ok()?;
            Some(DisplayTime {
                timezone: zone,
                starts_at_local: to_local(starts_at, tz),
                ends_at_local: to_local(ends_at, tz),
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn z(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn accepts_up_to_three_distinct_zones() {
        assert_eq!(
            parse_display_zones(&z(&["Asia/Urumqi", "Asia/Almaty"])).unwrap(),
            z(&["Asia/Urumqi", "Asia/Almaty"])
        );
        assert!(parse_display_zones(&[]).unwrap().is_empty());
        let four = z(&["Asia/Urumqi", "Asia/Almaty", "Asia/Bishkek", "Asia/Tashkent"]);
        assert_eq!(parse_display_zones(&four).unwrap_err()[0].code, "length");
        let errs =
            parse_display_zones(&z(&["Mars/Olympus", "Asia/Almaty", "Asia/Bishkek", "Asia/Almaty"])).unwrap_err();
        let codes: Vec<_> = errs.iter().map(|e| (e.index, e.code)).collect();
        assert_eq!(codes, vec![(None, "length"), (Some(0), "timezone"), (Some(3), "duplicate")]);
    }

    #[test]
    fn times_in_each_zone_keep_the_instant() {
        let start = "2026-12-01T02:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let end = "2026-12-01T03:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let t = display_times("Asia/Urumqi,Asia/Almaty", start, end);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].starts_at_local.to_rfc3339(), "2026-12-01T08:00:00+06:00");
        assert_eq!(t[1].timezone, "Asia/Almaty");
        assert_eq!(t[1].ends_at_local, end);
        assert!(display_times("", start, end).is_empty());
        assert_eq!(store(&load("Asia/Urumqi,Asia/Almaty")), "Asia/Urumqi,Asia/Almaty");
    }
}
