//! The public board: sites and free places without a token, nothing about
//! who booked, ETag / 304 / Cache-Control, closed slots, bounded periods,
//! and the per-address request budget.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::submitted_declaration;
use crate::helpers::{Resp, TestApp};
use crate::slots::{create_schedule, create_site};

api_tests!(
    the_board_shows_free_places_and_nothing_about_who_booked,
    the_board_is_cacheable_and_answers_304_until_a_count_moves,
    the_board_refuses_bad_periods_and_unknown_sites,
    the_board_limits_requests_per_address with |s| s.public.requests_per_minute = 3,
);

fn slug(r: &Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

pub(crate) fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B")
}

/// A Beijing-time site `code` with hourly road slots of 4 places, a
/// verified company (named after `tag`), and the first three slots a day
/// ahead: (officer, company admin, site id, slots).
pub(crate) async fn board_world(app: &TestApp, code: &str, tag: &str) -> (String, String, String, Vec<Value>) {
    let customs = app.customs().await;
    let site = create_site(app, &customs.supervisor, code, "Asia/Shanghai").await;
    create_schedule(app, &customs.supervisor, &site, json!({"mode": "road", "slot_minutes": 60, "capacity": 4}))
        .await
        .expect(201);
    let c = app.verified_company(tag, &customs.officer).await;
    let from = enc(Utc::now() + Duration::days(1));
    let r =
        app.get(&format!("/api/v1/slots?site_id={site}&mode=road&from={from}&limit=3"), Some(&customs.officer)).await;
    let slots = r.expect(200).body["items"].as_array().unwrap().clone();
    (customs.officer, c.admin, site, slots)
}

/// The board of site `code` for the three hours from the first of `slots`.
pub(crate) fn board_path(code: &str, slots: &[Value]) -> String {
    let from: DateTime<Utc> = slots[0]["starts_at"].as_str().unwrap().parse().unwrap();
    format!(
        "/api/v1/public/sites/{code}/availability?mode=road&from={}&to={}",
        enc(from),
        enc(from + Duration::hours(3))
    )
}

async fn book(app: &TestApp, admin: &str, site: &str, slot: &Value) -> String {
    let d = submitted_declaration(app, admin, site).await;
    let body = json!({"declaration_id": d, "slot_id": slot["id"]});
    app.post("/api/v1/bookings", Some(admin), body).await.expect(201).str("/id")
}

async fn the_board_shows_free_places_and_nothing_about_who_booked(app: TestApp) {
    let (officer, admin, site, slots) = board_world(&app, "CNURC", "board").await;
    let booking = book(&app, &admin, &site, &slots[0]).await;
    // The sites, without a token.
    let r = app.get("/api/v1/public/sites", None).await.expect(200);
    assert_eq!(
        r.body["items"],
        json!([{"code": "CNURC", "name": "CNURC bonded zone", "timezone": "Asia/Shanghai", "modes": ["road", "rail"]}])
    );
    // Free places per slot, in the site's time.
    let r = app.get(&board_path("CNURC", &slots), None).await.expect(200);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", r.text);
    assert_eq!(items[0]["starts_at"], slots[0]["starts_at"]);
    assert!(items[0]["starts_at_local"].as_str().unwrap().ends_with("+08:00"), "{}", r.text);
    assert_eq!(
        (&items[0]["capacity"], &items[0]["available"], &items[0]["open"]),
        (&json!(4), &json!(3), &json!(true))
    );
    assert_eq!((&items[1]["available"], &items[1]["mode"]), (&json!(4), &json!("road")));
    // Nothing about who booked, nor ids to look them up by.
    let enterprise = app.get("/api/v1/me", Some(&admin)).await.expect(200).str("/enterprise_id");
    for secret in [booking.as_str(), enterprise.as_str(), slots[0]["id"].as_str().unwrap(), site.as_str(), "booked"] {
        assert!(!r.text.contains(secret), "the board shows {secret}: {}", r.text);
    }
    // A closed slot shows no free places.
    let path = format!("/api/v1/slots/{}", slots[1]["id"].as_str().unwrap());
    app.call(Method::PATCH, &path, Some(&officer), Some(json!({"status": "closed", "reason": "lane repairs"})))
        .await
        .expect(200);
    let r = app.get(&board_path("CNURC", &slots), None).await.expect(200);
    let closed = &r.body["items"][1];
    assert_eq!(
        (&closed["capacity"], &closed["available"], &closed["open"]),
        (&json!(4), &json!(0), &json!(false)),
        "{}",
        r.text
    );
    // Without a period: from the current hour, a day.
    let r = app.get("/api/v1/public/sites/CNURC/availability", None).await.expect(200);
    assert!(!r.body["items"].as_array().unwrap().is_empty(), "{}", r.text);
}

async fn the_board_is_cacheable_and_answers_304_until_a_count_moves(app: TestApp) {
    let (_, admin, site, slots) = board_world(&app, "CNURC", "board").await;
    let path = board_path("CNURC", &slots);
    let first = app.get(&path, None).await.expect(200);
    let etag = first.header("etag").expect("an ETag");
    assert_eq!(first.header("cache-control").as_deref(), Some("public, max-age=15"));
    // The same answer while nothing moves: 304, no body, the same ETag.
    let again = app.call_with(Method::GET, &path, None, None, &[("If-None-Match", &etag)]).await.expect(304);
    assert!(again.text.is_empty());
    assert_eq!(again.header("etag").as_deref(), Some(etag.as_str()));
    assert_eq!(again.header("cache-control").as_deref(), Some("public, max-age=15"));
    // A booking moves a count: a new body and a new ETag.
    book(&app, &admin, &site, &slots[0]).await;
    let changed = app.call_with(Method::GET, &path, None, None, &[("If-None-Match", &etag)]).await.expect(200);
    assert_ne!(changed.header("etag").unwrap(), etag);
    assert_eq!(changed.body["items"][0]["available"], 3);
    // The sites list is cacheable the same way.
    let sites = app.get("/api/v1/public/sites", None).await.expect(200);
    let tag = sites.header("etag").unwrap();
    app.call_with(Method::GET, "/api/v1/public/sites", None, None, &[("If-None-Match", &format!("\"other\", {tag}"))])
        .await
        .expect(304);
}

async fn the_board_refuses_bad_periods_and_unknown_sites(app: TestApp) {
    let (_, _, _, slots) = board_world(&app, "CNURC", "board").await;
    let from: DateTime<Utc> = slots[0]["starts_at"].as_str().unwrap().parse().unwrap();
    let base = "/api/v1/public/sites/CNURC/availability";
    for (q, field, code) in [
        (format!("from={}&to={}", enc(from), enc(from + Duration::days(8))), "to", "range"),
        (format!("from={}&to={}", enc(from), enc(from - Duration::hours(1))), "to", "range"),
        ("from=tomorrow".to_owned(), "from", "datetime"),
        ("mode=boat".to_owned(), "mode", "enum"),
    ] {
        let r = app.get(&format!("{base}?{q}"), None).await.problem(422);
        assert_eq!(slug(&r), "validation", "{q}");
        assert!(
            r.body["errors"].as_array().unwrap().iter().any(|e| e["field"] == field && e["code"] == code),
            "{q}: {}",
            r.text
        );
    }
    let r = app.get("/api/v1/public/sites/XXNOPE/availability", None).await.problem(404);
    assert_eq!(slug(&r), "not-found");
}

async fn the_board_limits_requests_per_address(app: TestApp) {
    for _ in 0..3 {
        app.get("/api/v1/public/sites", None).await.expect(200);
    }
    let r = app.get("/api/v1/public/sites/CNURC/availability", None).await.problem(429);
    assert_eq!(slug(&r), "too-many-requests");
    let wait: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    // Signed-in routes are not charged to the board's budget.
    app.get("/health/live", None).await.expect(200);
}
