//! Clearance sites' schedules and the slots they produce, in the site's own
//! time zone.
//!
//! A schedule divides each local day into slots of `slot_minutes`, stepping
//! in real (UTC) time from local midnight to the next local midnight. So a
//! 23-hour day (spring forward) has 23 hourly slots and a 25-hour day (fall
//! back) has 25: none is lost, none is doubled, and every slot lasts what
//! its label says. A slot that would cross local midnight on such a day is
//! cut at midnight.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Minutes in a day.
pub const DAY_MINUTES: i64 = 24 * 60;
/// Shortest slot a schedule may have.
pub const MIN_SLOT_MINUTES: i64 = 5;

/// Checks a slot length: at least 5 minutes and a divisor of 24 h.
pub fn parse_slot_minutes(m: i64) -> Result<u32, &'static str> {
    if !(MIN_SLOT_MINUTES..=DAY_MINUTES).contains(&m) {
        return Err("slot_minutes must be between 5 and 1440");
    }
    if DAY_MINUTES % m != 0 {
        return Err("slot_minutes must divide 24 hours (e.g. 15, 30, 60, 90, 120)");
    }
    Ok(m as u32)
}

/// Reads an IANA time zone name (e.g. `Asia/Urumqi`) from the tz database.
pub fn parse_timezone(name: &str) -> Result<Tz, &'static str> {
    name.parse::<Tz>().map_err(|_| "timezone must be an IANA time zone name, e.g. Asia/Urumqi")
}

/// A UN/LOCODE-shaped site code: an ISO 3166 country and three characters
/// from A–Z and 2–9 (e.g. `CNKHG`).
pub fn parse_site_code(raw: &str) -> Result<String, &'static str> {
    let code = raw.trim();
    let b = code.as_bytes();
    let shaped = b.len() == 5
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..].iter().all(|c| c.is_ascii_uppercase() || (b'2'..=b'9').contains(c));
    if !shaped {
        return Err("code must be UN/LOCODE-shaped: a country code and 3 characters A-Z or 2-9, e.g. CNKHG");
    }
    crate::domain::identity::parse_country(&code[..2]).map_err(|_| "code must start with an ISO 3166 country code")?;
    Ok(code.to_owned())
}

/// Days of the week a schedule runs, as a bit set (Monday = bit 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(u8);

impl Weekdays {
    /// Every day.
    pub const ALL: Weekdays = Weekdays(0b111_1111);

    /// Parses names like `mon`, `tue`… (or `monday`); empty is refused.
    pub fn parse(days: &[String]) -> Result<Self, String> {
        let mut bits = 0u8;
        for d in days {
            let day: Weekday = d.trim().parse().map_err(|_| format!("{d:?} is not a day of the week (mon … sun)"))?;
            bits |= 1 << day.num_days_from_monday();
        }
        if bits == 0 {
            return Err("days must name at least one day".into());
        }
        Ok(Weekdays(bits))
    }

    /// From the stored bit set.
    pub fn from_bits(bits: i32) -> Self {
        Weekdays((bits & 0b111_1111) as u8)
    }

    pub fn bits(self) -> i32 {
        i32::from(self.0)
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Short names, Monday first.
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        (0..7).filter(|i| self.0 & (1 << i) != 0).map(|i| NAMES[i]).collect()
    }
}

/// One slot's time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotWindow {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// The first instant of a local date. Where midnight does not exist (DST
/// at midnight), the first minute that does; where it exists twice, the
/// earlier one.
pub fn local_day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    for minute in 0..(3 * 60) {
        let t = NaiveTime::MIN + Duration::minutes(minute);
        match tz.from_local_datetime(&date.and_time(t)) {
            LocalResult::Single(dt) => return dt.with_timezone(&Utc),
            LocalResult::Ambiguous(early, _) => return early.with_timezone(&Utc),
            LocalResult::None => continue,
        }
    }
    // No zone skips three hours; fall back to the UTC reading.
    date.and_time(NaiveTime::MIN).and_utc()
}

/// The slots of local dates `from..until` (until excluded) on `days`.
pub fn expand(tz: Tz, slot_minutes: u32, days: Weekdays, from: NaiveDate, until: NaiveDate) -> Vec<SlotWindow> {
    let step = Duration::minutes(i64::from(slot_minutes));
    let mut out = Vec::new();
    let mut date = from;
    while date < until {
        let Some(next) = date.succ_opt() else { break };
        if days.contains(date.weekday()) {
            let day_end = local_day_start(tz, next);
            let mut t = local_day_start(tz, date);
            while t < day_end {
                let end = (t + step).min(day_end);
                out.push(SlotWindow { starts_at: t, ends_at: end });
                t = end;
            }
        }
        date = next;
    }
    out
}

/// The local dates a schedule covers within a horizon: from the later of
/// `today` and `valid_from` up to the earlier of `today + horizon_days` and
/// the day after `valid_to` (exclusive end).
pub fn horizon_dates(
    today: NaiveDate,
    horizon_days: u32,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
) -> Option<(NaiveDate, NaiveDate)> {
    let start = today.max(valid_from);
    let mut end = today + Duration::days(i64::from(horizon_days));
    if let Some(last) = valid_to {
        end = end.min(last.succ_opt()?);
    }
    (start < end).then_some((start, end))
}

/// Whether two validity periods (inclusive dates; `None` = open-ended) overlap.
pub fn validity_overlaps(a: (NaiveDate, Option<NaiveDate>), b: (NaiveDate, Option<NaiveDate>)) -> bool {
    let a_before_b_ends = b.1.is_none_or(|b_end| a.0 <= b_end);
    let b_before_a_ends = a.1.is_none_or(|a_end| b.0 <= a_end);
    a_before_b_ends && b_before_a_ends
}

/// A UTC instant shown in the site's zone (RFC 3339 with its offset).
pub fn to_local(t: DateTime<Utc>, tz: Tz) -> DateTime<chrono::FixedOffset> {
    t.with_timezone(&tz).fixed_offset()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn slot_lengths_must_divide_the_day() {
        assert_eq!(parse_slot_minutes(60), Ok(60));
        assert_eq!(parse_slot_minutes(90), Ok(90));
        assert_eq!(parse_slot_minutes(1440), Ok(1440));
        assert!(parse_slot_minutes(7).is_err());
        assert!(parse_slot_minutes(0).is_err());
        assert!(parse_slot_minutes(-60).is_err());
        assert!(parse_slot_minutes(2880).is_err());
    }

    #[test]
    fn site_codes_are_locode_shaped() {
        assert_eq!(parse_site_code("CNKHG"), Ok("CNKHG".into()));
        assert!(parse_site_code("EENR2").is_ok());
        assert!(parse_site_code("cnkhg").is_err());
        assert!(parse_site_code("CNKH1").is_err());
        assert!(parse_site_code("XXKHG").is_err());
        assert!(parse_site_code("CNKHGX").is_err());
    }

    #[test]
    fn a_plain_day_has_24_hourly_slots_in_urumqi_time() {
        let tz = parse_timezone("Asia/Urumqi").unwrap();
        let slots = expand(tz, 60, Weekdays::ALL, d(2026, 12, 1), d(2026, 12, 2));
        assert_eq!(slots.len(), 24);
        // Local midnight in Kashgar (UTC+6) is 18:00 UTC the day before,
        // which is 02:00 the same day in Beijing (UTC+8).
        assert_eq!(slots[0].starts_at.to_rfc3339(), "2026-11-30T18:00:00+00:00");
        assert_eq!(to_local(slots[0].starts_at, tz).to_rfc3339(), "2026-12-01T00:00:00+06:00");
        let beijing: Tz = "Asia/Shanghai".parse().unwrap();
        assert_eq!(to_local(slots[0].starts_at, beijing).to_rfc3339(), "2026-12-01T02:00:00+08:00");
    }

    #[test]
    fn dst_days_have_23_and_25_slots_without_gaps_or_doubles() {
        let tz = parse_timezone("Europe/Tallinn").unwrap();
        // 2027-03-28: clocks go 03:00 → 04:00. 2027-10-31: 04:00 → 03:00.
        let spring = expand(tz, 60, Weekdays::ALL, d(2027, 3, 28), d(2027, 3, 29));
        let autumn = expand(tz, 60, Weekdays::ALL, d(2027, 10, 31), d(2027, 11, 1));
        assert_eq!(spring.len(), 23);
        assert_eq!(autumn.len(), 25);
        for day in [&spring, &autumn] {
            for w in day.windows(2) {
                assert_eq!(w[0].ends_at, w[1].starts_at, "gap or overlap");
                assert_eq!(w[0].ends_at - w[0].starts_at, Duration::hours(1));
            }
        }
        let three_days = expand(tz, 60, Weekdays::ALL, d(2027, 3, 27), d(2027, 3, 30));
        assert_eq!(three_days.len(), 24 + 23 + 24);
        let warsaw = parse_timezone("Europe/Warsaw").unwrap();
        assert_eq!(expand(warsaw, 30, Weekdays::ALL, d(2027, 10, 31), d(2027, 11, 1)).len(), 50);
    }

    #[test]
    fn weekdays_filter_local_dates() {
        let tz = parse_timezone("Asia/Urumqi").unwrap();
        let days = Weekdays::parse(&["mon".into(), "fri".into()]).unwrap();
        // 2026-11-30 is a Monday; one week holds two running days.
        let slots = expand(tz, 120, days, d(2026, 11, 30), d(2026, 12, 7));
        assert_eq!(slots.len(), 24);
        assert_eq!(days.names(), ["mon", "fri"]);
        assert!(Weekdays::parse(&[]).is_err());
        assert!(Weekdays::parse(&["someday".into()]).is_err());
    }

    #[test]
    fn horizon_is_cut_by_validity() {
        let today = d(2026, 11, 29);
        assert_eq!(horizon_dates(today, 30, d(2026, 1, 1), None), Some((today, d(2026, 12, 29))));
        assert_eq!(
            horizon_dates(today, 30, d(2026, 12, 5), Some(d(2026, 12, 6))),
            Some((d(2026, 12, 5), d(2026, 12, 7)))
        );
        assert_eq!(horizon_dates(today, 30, d(2027, 6, 1), None), None);
        assert_eq!(horizon_dates(today, 30, d(2026, 1, 1), Some(d(2026, 11, 1))), None);
    }

    #[test]
    fn validity_overlap() {
        let a = (d(2026, 1, 1), Some(d(2026, 6, 30)));
        assert!(validity_overlaps(a, (d(2026, 6, 30), None)));
        assert!(!validity_overlaps(a, (d(2026, 7, 1), None)));
        assert!(validity_overlaps((d(2026, 1, 1), None), (d(2030, 1, 1), Some(d(2030, 2, 1)))));
        assert!(!validity_overlaps((d(2026, 3, 1), Some(d(2026, 3, 31))), (d(2026, 1, 1), Some(d(2026, 2, 28)))));
    }
}
