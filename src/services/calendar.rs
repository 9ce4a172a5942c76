//! Calendar feeds (issue 18): a company admin creates revocable feed
//! tokens; `GET /enterprises/{id}/calendar.ics?token=…` lists the
//! enterprise's active bookings as iCalendar events in each site's time.
//!
//! A token is `<token id>.<secret>`: the id finds the row (by primary key,
//! of the enterprise in the path), the secret is compared with the stored
//! SHA-256 in constant time. The secret is shown once, when created.
//! Revoking sets `revoked_at`; the feed checks it on every request, so a
//! revoked token stops working at once.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, CalendarDateTime, Component, Event, EventLike, EventStatus};
use subtle::ConstantTimeEq;

use crate::auth::refresh::{digest, generate};
use crate::context::RequestContext;
use crate::db::calendar_tokens::{self as rows, CalendarTokenRow};
use crate::db::reports::{active_for_feed, FeedBooking};
use crate::db::{new_id, DbConnection};
use crate::domain::schedule::parse_timezone;
use crate::error::AppError;

/// Most tokens an enterprise may have that are not revoked.
pub const MAX_ACTIVE_TOKENS: i64 = 10;

/// Longest label of a token.
pub const MAX_LABEL_CHARS: usize = 100;

/// A token just created: its row and the whole token (shown once).
pub struct NewToken {
    pub row: CalendarTokenRow,
    pub token: String,
}

/// Creates a feed token for the caller's enterprise (company admins).
pub fn create(conn: &mut DbConnection, ctx: &RequestContext, label: &str) -> Result<NewToken, AppError> {
    let enterprise_id = ctx.caller.enterprise()?.to_owned();
    if rows::count_active(conn, &enterprise_id)? >= MAX_ACTIVE_TOKENS {
        return Err(AppError::conflict(
            "too-many-calendar-tokens",
            format!("an enterprise may hold {MAX_ACTIVE_TOKENS} feed tokens; revoke one it no longer uses first"),
        ));
    }
    let secret = generate();
    let row = CalendarTokenRow {
        id: new_id(),
        enterprise_id,
        label: label.to_owned(),
        secret_hash: digest(&secret),
        created_by: ctx.caller.user_id.clone(),
        created_at: ctx.stamp(),
        revoked_at: None,
    };
    rows::insert(conn, &row)?;
    audit(conn, ctx, &row.id, "create", Some("active"))?;
    let token = format!("{}.{secret}", row.id);
    Ok(NewToken { row, token })
}

/// Revokes one of the caller's enterprise's tokens; 404 for a token of
/// another enterprise, an unknown one or one already revoked.
pub fn revoke(conn: &mut DbConnection, ctx: &RequestContext, token_id: &str) -> Result<(), AppError> {
    let enterprise_id = ctx.caller.enterprise()?;
    if rows::revoke(conn, enterprise_id, token_id, ctx.stamp())? == 0 {
        return Err(AppError::NotFound);
    }
    audit(conn, ctx, token_id, "revoke", Some("revoked"))
}

fn audit(
    conn: &mut DbConnection,
    ctx: &RequestContext,
    id: &str,
    action: &str,
    to_state: Option<&str>,
) -> Result<(), AppError> {
    super::record_change(conn, ctx, crate::db::audit::Change::new("calendar_token", id, action, None, to_state))
}

/// Whether `token` is a live feed token of `enterprise_id`. Unknown,
/// malformed, revoked and other enterprises' tokens are all simply `false`.
pub fn token_admits(conn: &mut DbConnection, enterprise_id: &str, token: &str) -> Result<bool, AppError> {
    let Some((id, secret)) = token.split_once('.') else {
        return Ok(false);
    };
    if id.is_empty() || id.len() > 64 || secret.is_empty() || secret.len() > 128 {
        return Ok(false);
    }
    let Some(row) = rows::find(conn, id)? else {
        return Ok(false);
    };
    let matches: bool = digest(secret).as_bytes().ct_eq(row.secret_hash.as_bytes()).into();
    Ok(matches && row.enterprise_id == enterprise_id && row.revoked_at.is_none())
}

/// The enterprise's active bookings as an iCalendar document.
pub fn feed(conn: &mut DbConnection, enterprise_id: &str, now: DateTime<Utc>) -> Result<String, AppError> {
    let bookings = active_for_feed(conn, enterprise_id)?;
    Ok(render(&bookings, now))
}

/// Renders the events: one per booking, `UID` the booking id, start and
/// end in the site's zone (`TZID`), the site, mode, vehicle and
/// declarations in `SUMMARY` and `DESCRIPTION`.
pub fn render(bookings: &[(FeedBooking, Vec<String>)], now: DateTime<Utc>) -> String {
    let mut cal = Calendar::new();
    cal.name("Clearway bookings");
    for (b, declarations) in bookings {
        cal.push(event(b, declarations, now));
    }
    cal.done().to_string()
}

fn event(b: &FeedBooking, declarations: &[String], now: DateTime<Utc>) -> Event {
    let tz = parse_timezone(&b.timezone).ok();
    // In the site's zone, named by TZID; UTC if the stored zone were unknown.
    let at = |t: chrono::NaiveDateTime| -> CalendarDateTime {
        match tz {
            Some(tz) => CalendarDateTime::WithTimezone {
                date_time: t.and_utc().with_timezone(&tz).naive_local(),
                tzid: tz.name().to_owned(),
            },
            None => CalendarDateTime::Utc(t.and_utc()),
        }
    };
    let vehicle = b.vehicle_plate.as_deref().unwrap_or("no vehicle yet");
    let summary = format!("{} {} · {} · {}", b.site_code, b.mode.as_str(), vehicle, declarations.join(", "));
    let description = format!(
        "Clearance slot at {} ({}), {}.\nVehicle: {}\nDeclarations: {}\nBooking: {} ({})",
        b.site_name,
        b.site_code,
        b.mode.as_str(),
        vehicle,
        declarations.join(", "),
        b.id,
        b.status.as_str(),
    );
    let mut e = Event::new();
    e.uid(&b.id)
        .summary(&summary)
        .description(&description)
        .location(&format!("{} ({})", b.site_name, b.site_code))
        .starts(at(b.starts_at))
        .ends(at(b.ends_at))
        .timestamp(now)
        .last_modified(b.updated_at.and_utc())
        // Only active bookings are listed: a place is held.
        .status(EventStatus::Confirmed);
    e.done()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::booking_policy::BookingStatus;
    use crate::domain::goods::TransportMode;

    #[test]
    fn events_are_in_the_sites_zone_with_the_booking_as_uid() {
        let starts = "2026-12-08T02:00:00Z".parse::<DateTime<Utc>>().unwrap().naive_utc();
        let b = FeedBooking {
            id: "0190f7a3-b00k".into(),
            status: BookingStatus::Confirmed,
            vehicle_plate: Some("01KZ777AB".into()),
            updated_at: starts,
            starts_at: starts,
            ends_at: starts + chrono::Duration::hours(1),
            mode: TransportMode::Road,
            site_code: "CNKHG".into(),
            site_name: "Kashgar".into(),
            timezone: "Asia/Shanghai".into(),
        };
        let text = render(&[(b, vec!["KHG-2026-IM-000001".into()])], Utc::now());
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
        assert!(text.contains("UID:0190f7a3-b00k\r\n"), "{text}");
        assert!(text.contains("DTSTART;TZID=Asia/Shanghai:20261208T100000\r\n"), "{text}");
        assert!(text.contains("DTEND;TZID=Asia/Shanghai:20261208T110000\r\n"), "{text}");
        assert!(text.contains("SUMMARY:CNKHG road · 01KZ777AB · KHG-2026-IM-000001"), "{text}");
    }
}
