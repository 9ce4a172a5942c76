//! Reports for officers (issue 18): the period a report covers, utilisation
//! buckets in the site's own time, and review-time percentiles. Pure: the
//! counting is done by the database (`db::reports`), the arithmetic here.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::fields::{FieldErrors, Invalid};
use super::gather::Gather;
use super::schedule::{local_day_start, to_local};
use crate::text_enum::text_enum;

/// Longest period one report covers: about a quarter.
pub const MAX_REPORT_DAYS: i64 = 92;

text_enum!(
    /// How a utilisation report groups slots: by the local hour or the local
    /// day of the site they start in.
    Bucket {
        Hour => "hour",
        Day => "day",
    }
);

/// Reads one end of a period: an RFC 3339 time with offset, or a date
/// (`2026-12-01`), which means that day's first instant in `tz`.
pub fn instant(field: &str, raw: &str, tz: Tz) -> Result<DateTime<Utc>, Invalid> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(date) => Ok(local_day_start(tz, date)),
        Err(_) => Err(Invalid::field(
            field,
            "datetime",
            format!("{field} must be a date (2026-12-01, the site's local day) or an RFC 3339 time with offset"),
        )),
    }
}

/// A period `[from, to)` read from a query: both ends required, `to` after
/// `from`, at most `max_days` long. A bad end is a field error naming it.
pub fn period(
    from: Option<&str>,
    to: Option<&str>,
    tz: Tz,
    max_days: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Invalid> {
    let mut errors = FieldErrors::new();
    let mut end = |field: &str, raw: Option<&str>| match raw {
        Some(raw) => errors.gather(instant(field, raw, tz)),
        None => {
            errors.add(field, "required", format!("{field} is required (a date or an RFC 3339 time)"));
            None
        }
    };
    let (from, to) = (end("from", from), end("to", to));
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            errors.add("to", "range", "to must be after from");
        } else if t - f > Duration::days(max_days) {
            errors.add("to", "range", format!("a period may span at most {max_days} days; ask for a shorter one"));
        }
    }
    errors.into_result()?;
    match (from, to) {
        (Some(f), Some(t)) => Ok((f, t)),
        _ => Err(Invalid::field("from", "required", "from and to are required")),
    }
}

/// The counts of one slot, as the database gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotUsage {
    pub starts_at: DateTime<Utc>,
    /// Places offered: the slot's capacity while open, 0 when closed.
    pub capacity: i64,
    /// Bookings that took a place and kept it: confirmed, checked in,
    /// completed or no-show (everything but cancelled).
    pub booked: i64,
    /// Bookings whose truck came through the gate (checked in or completed).
    pub checked_in: i64,
    pub no_show: i64,
    pub cancelled: i64,
}

/// One row of a utilisation report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UtilisationRow {
    /// The first instant of the bucket in the site's zone (its local
    /// midnight for `day`, the start of its local hour for `hour`).
    #[schema(value_type = String, example = "2026-12-08T00:00:00+08:00")]
    pub bucket_start: DateTime<FixedOffset>,
    /// Places offered by the open slots starting in the bucket.
    pub capacity: i64,
    /// Bookings that kept their place (everything but cancelled).
    pub booked: i64,
    /// Trucks checked in at the gate (checked in or completed).
    pub checked_in: i64,
    pub no_show: i64,
    pub cancelled: i64,
    /// `booked / capacity`, 0 to 1 rounded to 4 places; `null` when nothing
    /// was offered.
    pub utilisation: Option<f64>,
}

/// The bucket a slot start falls in, as an instant in the site's zone.
pub fn bucket_start(t: DateTime<Utc>, tz: Tz, bucket: Bucket) -> DateTime<FixedOffset> {
    let local = t.with_timezone(&tz);
    match bucket {
        Bucket::Day => to_local(local_day_start(tz, local.date_naive()), tz),
        // The local hour: minutes and seconds cut (a zone offset of 5:45
        // still starts its hours at :00 local time).
        Bucket::Hour => {
            let cut = local.with_minute(0).and_then(|l| l.with_second(0)).and_then(|l| l.with_nanosecond(0));
            cut.map_or_else(|| local.fixed_offset(), |l| l.fixed_offset())
        }
    }
}

/// Sums the slots into buckets, in time order; a bucket without slots is
/// left out.
pub fn utilisation(slots: &[SlotUsage], tz: Tz, bucket: Bucket) -> Vec<UtilisationRow> {
    let mut rows: Vec<(DateTime<FixedOffset>, SlotUsage)> = Vec::new();
    let mut sorted: Vec<&SlotUsage> = slots.iter().collect();
    sorted.sort_by_key(|s| s.starts_at);
    for s in sorted {
        let start = bucket_start(s.starts_at, tz, bucket);
        match rows.last_mut() {
            Some((b, sum)) if *b == start => {
                sum.capacity += s.capacity;
                sum.booked += s.booked;
                sum.checked_in += s.checked_in;
                sum.no_show += s.no_show;
                sum.cancelled += s.cancelled;
            }
            _ => rows.push((start, *s)),
        }
    }
    rows.into_iter()
        .map(|(bucket_start, s)| UtilisationRow {
            bucket_start,
            capacity: s.capacity,
            booked: s.booked,
            checked_in: s.checked_in,
            no_show: s.no_show,
            cancelled: s.cancelled,
            utilisation: (s.capacity > 0)
                .then(|| ((s.booked as f64 / s.capacity as f64) * 10_000.0).round() / 10_000.0),
        })
        .collect()
}

/// The report as CSV: a header row with the JSON names, then a row per
/// bucket (`utilisation` empty when nothing was offered). Every value is a
/// number or a time, so nothing needs quoting.
pub fn utilisation_csv(rows: &[UtilisationRow]) -> String {
    let mut out = String::from("bucket_start,capacity,booked,checked_in,no_show,cancelled,utilisation\r\n");
    for r in rows {
        let u = r.utilisation.map(|u| u.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\r\n",
            r.bucket_start.to_rfc3339(),
            r.capacity,
            r.booked,
            r.checked_in,
            r.no_show,
            r.cancelled,
            u
        ));
    }
    out
}

/// How long reviews took: from a declaration's submission to its decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReviewTimes {
    /// Decisions (approved or rejected) made in the period.
    pub count: usize,
    /// Median seconds from submission to decision; `null` without decisions.
    pub p50_seconds: Option<i64>,
    /// 90th percentile, in seconds; `null` without decisions.
    pub p90_seconds: Option<i64>,
    /// The longest, in seconds; `null` without decisions.
    pub max_seconds: Option<i64>,
}

/// The nearest-rank percentile `p` (0–100) of sorted values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

/// The review times of these (submitted, decided) pairs.
pub fn review_times(pairs: &[(DateTime<Utc>, DateTime<Utc>)]) -> ReviewTimes {
    let mut secs: Vec<i64> = pairs.iter().map(|(s, d)| (*d - *s).num_seconds().max(0)).collect();
    secs.sort_unstable();
    ReviewTimes {
        count: secs.len(),
        p50_seconds: percentile(&secs, 50),
        p90_seconds: percentile(&secs, 90),
        max_seconds: secs.last().copied(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32) -> Option<DateTime<Utc>> {
        tz.with_ymd_and_hms(y, m, d, h, 0, 0).single().map(|t| t.with_timezone(&Utc))
    }

    fn usage(t: DateTime<Utc>, capacity: i64, booked: i64) -> SlotUsage {
        SlotUsage { starts_at: t, capacity, booked, ..SlotUsage::default() }
    }

    #[test]
    fn day_buckets_are_the_sites_local_days() {
        // 23:00 and 01:00 Beijing time are two local days, though the same UTC day.
        let late = at(SHANGHAI, 2026, 12, 8, 23).unwrap();
        let early = at(SHANGHAI, 2026, 12, 9, 1).unwrap();
        assert_eq!(late.date_naive(), early.date_naive());
        let rows = utilisation(&[usage(early, 10, 5), usage(late, 10, 10)], SHANGHAI, Bucket::Day);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].bucket_start.to_rfc3339(), "2026-12-08T00:00:00+08:00");
        assert_eq!((rows[0].capacity, rows[0].booked, rows[0].utilisation), (10, 10, Some(1.0)));
        assert_eq!(rows[1].bucket_start.to_rfc3339(), "2026-12-09T00:00:00+08:00");
        assert_eq!(rows[1].utilisation, Some(0.5));
    }

    #[test]
    fn hour_buckets_sum_the_slots_of_one_local_hour() {
        let t = at(SHANGHAI, 2026, 12, 8, 10).unwrap();
        let rows = utilisation(
            &[usage(t, 4, 1), usage(t + Duration::minutes(30), 4, 2), usage(t + Duration::hours(1), 0, 0)],
            SHANGHAI,
            Bucket::Hour,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].bucket_start.to_rfc3339(), "2026-12-08T10:00:00+08:00");
        assert_eq!((rows[0].capacity, rows[0].booked, rows[0].utilisation), (8, 3, Some(0.375)));
        assert_eq!(rows[1].utilisation, None, "nothing offered: no utilisation");
        let csv = utilisation_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "bucket_start,capacity,booked,checked_in,no_show,cancelled,utilisation");
        assert_eq!(lines[1], "2026-12-08T10:00:00+08:00,8,3,0,0,0,0.375");
        assert_eq!(lines[2], "2026-12-08T11:00:00+08:00,0,0,0,0,0,");
    }

    #[test]
    fn periods_take_dates_or_times_and_are_bounded() {
        let (f, t) = period(Some("2026-12-01"), Some("2026-12-08"), SHANGHAI, MAX_REPORT_DAYS).unwrap();
        assert_eq!(f.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        assert_eq!(t - f, Duration::days(7));
        let (f, _) = period(Some("2026-12-01T08:00:00+06:00"), Some("2026-12-02"), SHANGHAI, 92).unwrap();
        assert_eq!(f.to_rfc3339(), "2026-12-01T02:00:00+00:00");
        let e = period(Some("2026-01-01"), Some("2026-06-01"), SHANGHAI, 92).unwrap_err();
        assert_eq!((e.0[0].field.as_str(), e.0[0].code.as_str()), ("to", "range"));
        let e = period(Some("2026-12-02"), Some("2026-12-01"), SHANGHAI, 92).unwrap_err();
        assert_eq!(e.0[0].code, "range");
        let e = period(None, Some("soon"), SHANGHAI, 92).unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(fields, [("from", "required"), ("to", "datetime")]);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 90), Some(7));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!((percentile(&v, 50), percentile(&v, 90), percentile(&v, 100)), (Some(5), Some(9), Some(10)));
        let t = at(SHANGHAI, 2026, 12, 8, 10).unwrap();
        let r =
            review_times(&[(t, t + Duration::hours(2)), (t, t + Duration::minutes(30)), (t, t - Duration::hours(1))]);
        assert_eq!((r.count, r.p50_seconds, r.p90_seconds, r.max_seconds), (3, Some(1800), Some(7200), Some(7200)));
    }
}
