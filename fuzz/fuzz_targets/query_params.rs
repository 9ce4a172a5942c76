//! Query-string parameters and schedule fields as the API reads them:
//! paging (`limit`, `cursor`), RFC 3339 times (`from`, `to`,
//! `submitted_from`, `submitted_to`), and a site's code, time zone, slot
//! length and weekdays.
//!
//! The whole input is also decoded as a query string into `PageQuery`, the
//! way actix-web's `web::Query` does (serde_urlencoded).
//!
//! Not reachable (private, and src/ is not changed for fuzzing):
//! `api::slots::parse_slot_cursor`, `api::declarations::parse_queue_cursor`
//! and `api::slots::parse_time`. The cursors' public half, `decode_cursor`,
//! is fuzzed here, and so is the chrono call `parse_time` wraps.
#![no_main]

use chrono::{DateTime, Duration, Utc};
use clearway::api::pagination::{decode_cursor, encode_cursor, PageQuery, MAX_LIMIT};
use clearway::domain::schedule::{parse_site_code, parse_slot_minutes, parse_timezone, Weekdays};
use libfuzzer_sys::fuzz_target;

fn page(limit: Option<String>, cursor: Option<String>) {
    let q = PageQuery { limit, cursor };
    if let Ok(n) = q.limit() {
        assert!((1..=MAX_LIMIT).contains(&n));
    }
    if let Ok(Some(key)) = q.after() {
        assert!(key.len() <= 200);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };

    // Paging.
    if let Ok(key) = decode_cursor(s) {
        assert!(key.len() <= 200);
        assert_eq!(decode_cursor(&encode_cursor(&key)).ok().as_deref(), Some(key.as_str()));
    }
    page(Some(s.to_owned()), Some(s.to_owned()));
    page(None, Some(s.to_owned()));
    if let Ok(q) = serde_urlencoded::from_str::<PageQuery>(s) {
        page(q.limit, q.cursor);
    }

    // Times: the whole input, and `from|to` as the slot list checks a range.
    let time = |raw: &str| DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc));
    if let Some(t) = time(s) {
        let _ = t.naive_utc();
        let _ = t.timestamp_micros();
    }
    if let Some((from, to)) = s.split_once('|') {
        if let (Some(f), Some(t)) = (time(from), time(to)) {
            let _ = t <= f || t - f > Duration::days(31);
        }
    }

    // Sites and schedules.
    let _ = parse_site_code(s);
    if let Ok(tz) = parse_timezone(s) {
        assert_eq!(parse_timezone(tz.name()), Ok(tz));
    }
    let days: Vec<String> = s.split(',').map(str::to_owned).collect();
    if let Ok(w) = Weekdays::parse(&days) {
        assert!(!w.names().is_empty());
        assert_eq!(Weekdays::from_bits(w.bits()), w);
    }
    if let Ok(m) = s.trim().parse::<i64>() {
        let _ = parse_slot_minutes(m);
    }
    if data.len() >= 8 {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&data[..8]);
        if let Ok(m) = parse_slot_minutes(i64::from_le_bytes(raw)) {
            assert!(1440 % m == 0 && m >= 5);
        }
    }
});
