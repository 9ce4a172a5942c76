//! Sites, schedules and slots, in the site's own time zone.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::helpers::{spawn_app_with, Backend, TestApp};

api_tests!(
    a_schedule_creates_its_horizon_of_slots_once,
    slots_are_paginated_in_start_order,
    bad_site_and_schedule_input_is_422,
    only_customs_run_sites_and_capacity,
    officers_change_capacity_and_close_slots,
    kashgar_and_beijing_time_are_shown_right,
    overlapping_schedules_are_409,
    changing_a_schedule_reshapes_future_slots,
);

pub async fn create_site(app: &TestApp, supervisor: &str, code: &str, tz: &str) -> String {
    app.post(
        "/api/v1/sites",
        Some(supervisor),
        json!({"code": code, "name": format!("{code} bonded zone"), "timezone": tz, "modes": ["road", "rail"]}),
    )
    .await
    .expect(201)
    .str("/id")
}

pub async fn create_schedule(app: &TestApp, supervisor: &str, site: &str, body: Value) -> crate::helpers::Resp {
    app.post(&format!("/api/v1/sites/{site}/schedules"), Some(supervisor), body).await
}

fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B")
}

async fn a_schedule_creates_its_horizon_of_slots_once(app: TestApp) {
    let customs = app.customs().await;
    let site = create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let r =
        create_schedule(&app, &customs.supervisor, &site, json!({"mode": "road", "slot_minutes": 60, "capacity": 10}))
            .await
            .expect(201);
    // 30 site-local days from today, 24 slots each.
    assert_eq!(r.body["slots_created"], 720, "{}", r.text);
    assert_eq!(r.body["days"], json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]));
    // Running generation again creates nothing.
    let again = app
        .state
        .db
        .write(|conn| clearway::services::schedules::top_up_all(conn, 30, Utc::now()))
        .await
        .map_err(|_| "top up")
        .unwrap();
    assert_eq!(again, 0);
    // One site-week: 168 hourly slots, each with its local time.
    let tz: Tz = "Asia/Urumqi".parse().unwrap();
    let monday = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    let from = tz.from_local_datetime(&monday.and_hms_opt(0, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
    let to = from + Duration::days(7);
    let page = app
        .get(
            &format!("/api/v1/slots?site_id={site}&mode=road&from={}&to={}&limit=200", enc(from), enc(to)),
            Some(&customs.officer),
        )
        .await
        .expect(200);
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 168);
    assert!(page.body["next_cursor"].is_null());
    let first = &items[0];
    assert_eq!(first["starts_at_local"].as_str().unwrap(), format!("{monday}T00:00:00+06:00"));
    assert_eq!(first["capacity"], 10);
    assert_eq!(first["booked"], 0);
    assert_eq!(first["status"], "open");
    for key in ["id", "site_id", "mode", "starts_at", "ends_at"] {
        assert!(first[key].is_string(), "{key} missing");
    }
}

async fn slots_are_paginated_in_start_order(app: TestApp) {
    let customs = app.customs().await;
    let site = create_site(&app, &customs.supervisor, "CNHGS", "Asia/Urumqi").await;
    create_schedule(&app, &customs.supervisor, &site, json!({"mode": "rail", "slot_minutes": 60, "capacity": 3}))
        .await
        .expect(201);
    let from = Utc::now() + Duration::days(2);
    let to = from + Duration::days(7);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/slots?site_id={site}&from={}&to={}&limit=50", enc(from), enc(to));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, Some(&customs.officer)).await.expect(200);
        for item in page.body["items"].as_array().unwrap() {
            seen.push((item["starts_at"].as_str().unwrap().to_owned(), item["id"].as_str().unwrap().to_owned()));
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 168);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "pages overlap or are out of order");
    // A tampered cursor is refused.
    app.get(&format!("/api/v1/slots?site_id={site}&cursor=%%%"), Some(&customs.officer)).await.problem(422);
}

async fn bad_site_and_schedule_input_is_422(app: TestApp) {
    let customs = app.customs().await;
    let sup = customs.supervisor.as_str();
    let bad_sites = [
        (json!({"code": "CNKHG", "name": "X", "timezone": "Asia/Nowhere", "modes": ["road"]}), "timezone"),
        (json!({"code": "kashgar", "name": "X", "timezone": "Asia/Urumqi", "modes": ["road"]}), "code"),
        (json!({"code": "CNKHG", "name": "X", "timezone": "Asia/Urumqi", "modes": ["boat"]}), "modes[0]"),
        (json!({"code": "CNKHG", "name": "X", "timezone": "Asia/Urumqi", "modes": []}), "modes"),
        (json!({"code": "CNKHG", "name": "", "timezone": "Asia/Urumqi", "modes": ["road"]}), "name"),
    ];
    for (body, field) in bad_sites {
        let r = app.post("/api/v1/sites", Some(sup), body).await.problem(422);
        assert!(r.fields().contains(&field.to_owned()), "{field}: {}", r.text);
    }
    let site = create_site(&app, sup, "CNAKA", "Asia/Urumqi").await;
    app.post(
        "/api/v1/sites",
        Some(sup),
        json!({"code": "CNAKA", "name": "X", "timezone": "Asia/Urumqi", "modes": ["road"]}),
    )
    .await
    .problem(409);
    let bad_schedules = [
        (json!({"mode": "road", "slot_minutes": 7, "capacity": 5}), "slot_minutes"),
        (json!({"mode": "road", "slot_minutes": 0, "capacity": 5}), "slot_minutes"),
        (json!({"mode": "road", "slot_minutes": 60, "capacity": -1}), "capacity"),
        (json!({"mode": "road", "slot_minutes": 60, "capacity": 5, "days": ["funday"]}), "days"),
        (json!({"mode": "air", "slot_minutes": 60, "capacity": 5}), "mode"),
        (json!({"mode": "ship", "slot_minutes": 60, "capacity": 5}), "mode"),
        (json!({"mode": "road", "capacity": 5, "valid_from": "2027-02-01", "valid_to": "2027-01-01"}), "valid_to"),
    ];
    for (body, field) in bad_schedules {
        let r = create_schedule(&app, sup, &site, body).await.problem(422);
        assert!(r.fields().contains(&field.to_owned()), "{field}: {}", r.text);
    }
    // Nothing was created by the refused requests.
    let s = app.get(&format!("/api/v1/sites/{site}/schedules"), Some(sup)).await.expect(200);
    assert_eq!(s.body["items"].as_array().unwrap().len(), 0);
    // Slot queries: bad times, inverted and too-wide ranges.
    let now = Utc::now();
    for (q, field) in [
        ("from=yesterday".to_owned(), "from"),
        (format!("from={}&to={}", enc(now), enc(now - Duration::hours(1))), "to"),
        (format!("from={}&to={}", enc(now), enc(now + Duration::days(32))), "to"),
        ("available=maybe".to_owned(), "available"),
        ("mode=boat".to_owned(), "mode"),
    ] {
        let r = app.get(&format!("/api/v1/slots?{q}"), Some(sup)).await.problem(422);
        assert!(r.fields().contains(&field.to_owned()), "{q}: {}", r.text);
    }
    app.get(&format!("/api/v1/sites/{}", uuid::Uuid::now_v7()), Some(sup)).await.problem(404);
    create_schedule(&app, sup, &uuid::Uuid::now_v7().to_string(), json!({"mode": "road", "capacity": 5}))
        .await
        .problem(404);
}

async fn only_customs_run_sites_and_capacity(app: TestApp) {
    let customs = app.customs().await;
    let company = app.verified_company("sites", &customs.officer).await;
    app.post(
        "/api/v1/sites",
        Some(&company.admin),
        json!({"code": "CNKHG", "name": "X", "timezone": "Asia/Urumqi", "modes": ["road"]}),
    )
    .await
    .problem(403);
    // Officers review; only supervisors manage sites and schedules.
    app.post(
        "/api/v1/sites",
        Some(&customs.officer),
        json!({"code": "CNKHG", "name": "X", "timezone": "Asia/Urumqi", "modes": ["road"]}),
    )
    .await
    .problem(403);
    let site = create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    create_schedule(&app, &customs.officer, &site, json!({"mode": "road", "capacity": 5})).await.problem(403);
    create_schedule(&app, &company.admin, &site, json!({"mode": "road", "capacity": 5})).await.problem(403);
    create_schedule(&app, &customs.supervisor, &site, json!({"mode": "road", "capacity": 5})).await.expect(201);
    // Everyone signed in reads sites and slots.
    app.get("/api/v1/sites", Some(&company.admin)).await.expect(200);
    let slots =
        app.get(&format!("/api/v1/slots?site_id={site}&available=true"), Some(&company.admin)).await.expect(200);
    let slot = slots.body["items"][0]["id"].as_str().unwrap().to_owned();
    app.call(Method::PATCH, &format!("/api/v1/slots/{slot}"), Some(&company.admin), Some(json!({"capacity": 1})))
        .await
        .problem(403);
    app.get("/api/v1/slots", None).await.problem(401);
}

async fn officers_change_capacity_and_close_slots(app: TestApp) {
    let customs = app.customs().await;
    let site = create_site(&app, &customs.supervisor, "CNURC", "Asia/Urumqi").await;
    create_schedule(&app, &customs.supervisor, &site, json!({"mode": "road", "capacity": 4})).await.expect(201);
    let from = Utc::now() + Duration::days(1);
    let list = app
        .get(&format!("/api/v1/slots?site_id={site}&from={}&limit=5", enc(from)), Some(&customs.officer))
        .await
        .expect(200);
    let slot = list.body["items"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .call(Method::PATCH, &format!("/api/v1/slots/{slot}"), Some(&customs.officer), Some(json!({"capacity": 9})))
        .await
        .expect(200);
    assert_eq!(r.body["capacity"], 9);
    app.call(Method::PATCH, &format!("/api/v1/slots/{slot}"), Some(&customs.officer), Some(json!({"capacity": -3})))
        .await
        .problem(422);
    app.call(
        Method::PATCH,
        &format!("/api/v1/slots/{slot}"),
        Some(&customs.officer),
        Some(json!({"status": "half-open"})),
    )
    .await
    .problem(422);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/slots/{slot}"),
            Some(&customs.officer),
            Some(json!({"status": "closed", "reason": "road works"})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["status"], "closed");
    assert_eq!(r.body["available"], 0);
    // Closed slots drop out of availability.
    let avail = app
        .get(&format!("/api/v1/slots?site_id={site}&from={}&limit=5&available=true", enc(from)), Some(&customs.officer))
        .await
        .expect(200);
    assert!(avail.body["items"].as_array().unwrap().iter().all(|s| s["id"] != slot.as_str()));
    // Both changes are in the audit trail.
    let audit =
        app.get(&format!("/api/v1/audit?entity_type=slot&entity_id={slot}"), Some(&customs.officer)).await.expect(200);
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["capacity", "close"]);
    app.call(
        Method::PATCH,
        &format!("/api/v1/slots/{}", uuid::Uuid::now_v7()),
        Some(&customs.officer),
        Some(json!({"capacity": 1})),
    )
    .await
    .problem(404);
}

async fn kashgar_and_beijing_time_are_shown_right(app: TestApp) {
    let customs = app.customs().await;
    let kashgar = create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let beijing = create_site(&app, &customs.supervisor, "CNBJS", "Asia/Shanghai").await;
    for site in [&kashgar, &beijing] {
        create_schedule(&app, &customs.supervisor, site, json!({"mode": "road", "capacity": 2})).await.expect(201);
    }
    let k = app.get(&format!("/api/v1/sites/{kashgar}"), Some(&customs.officer)).await.expect(200);
    assert_eq!(k.body["utc_offset"], "+06:00");
    let from = Utc::now() + Duration::days(3);
    let ks =
        app.get(&format!("/api/v1/slots?site_id={kashgar}&from={}&limit=1", enc(from)), Some(&customs.officer)).await;
    let bs =
        app.get(&format!("/api/v1/slots?site_id={beijing}&from={}&limit=1", enc(from)), Some(&customs.officer)).await;
    let (k0, b0) = (&ks.body["items"][0], &bs.body["items"][0]);
    assert!(
        k0["starts_at_local"].as_str().unwrap().ends_with("T00:00:00+06:00")
            || k0["starts_at_local"].as_str().unwrap().ends_with(":00:00+06:00")
    );
    assert!(b0["starts_at_local"].as_str().unwrap().ends_with(":00:00+08:00"));
    // The same instant reads two hours apart.
    let k_utc: DateTime<Utc> = k0["starts_at"].as_str().unwrap().parse().unwrap();
    let k_local = DateTime::parse_from_rfc3339(k0["starts_at_local"].as_str().unwrap()).unwrap();
    assert_eq!(k_local.with_timezone(&Utc), k_utc);
    assert_eq!(k_local.offset().local_minus_utc(), 6 * 3600);
}

async fn overlapping_schedules_are_409(app: TestApp) {
    let customs = app.customs().await;
    let site = create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let sup = customs.supervisor.as_str();
    create_schedule(&app, sup, &site, json!({"mode": "road", "capacity": 2, "valid_to": "2099-01-01"}))
        .await
        .expect(201);
    create_schedule(&app, sup, &site, json!({"mode": "road", "capacity": 2, "valid_from": "2098-12-01"}))
        .await
        .problem(409);
    // Another mode, or after the first ends, is fine.
    create_schedule(&app, sup, &site, json!({"mode": "rail", "capacity": 2})).await.expect(201);
    create_schedule(&app, sup, &site, json!({"mode": "road", "capacity": 2, "valid_from": "2099-01-02"}))
        .await
        .expect(201);
}

async fn changing_a_schedule_reshapes_future_slots(app: TestApp) {
    let customs = app.customs().await;
    let site = create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let sup = customs.supervisor.as_str();
    let s = create_schedule(&app, sup, &site, json!({"mode": "road", "capacity": 2})).await.expect(201);
    let id = s.str("/id");
    // Weekdays only: weekend slots that nobody booked go away.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/sites/{site}/schedules/{id}"),
            Some(sup),
            Some(json!({"days": ["mon", "tue", "wed", "thu", "fri"], "capacity": 6})),
        )
        .await
        .expect(200);
    assert!(r.body["slots_removed"].as_u64().unwrap() >= 8 * 24, "{}", r.text);
    assert_eq!(r.body["booked_slots_kept"], 0);
    assert_eq!(r.body["capacity"], 6);
    let from = Utc::now() + Duration::days(1);
    let list =
        app.get(&format!("/api/v1/slots?site_id={site}&from={}&limit=200", enc(from)), Some(sup)).await.expect(200);
    for slot in list.body["items"].as_array().unwrap() {
        let local = DateTime::parse_from_rfc3339(slot["starts_at_local"].as_str().unwrap()).unwrap();
        assert!(!matches!(chrono::Datelike::weekday(&local), chrono::Weekday::Sat | chrono::Weekday::Sun));
        assert_eq!(slot["capacity"], 6);
    }
}

/// The next local date after today on which the zone's day is `hours` long.
fn next_day_of_length(tz: Tz, hours: i64) -> NaiveDate {
    let mut d = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    for _ in 0..400 {
        let start = clearway::domain::schedule::local_day_start(tz, d);
        let end = clearway::domain::schedule::local_day_start(tz, d + Duration::days(1));
        if end - start == Duration::hours(hours) {
            return d;
        }
        d += Duration::days(1);
    }
    panic!("no {hours}-hour day within 400 days in {tz}");
}

async fn dst_transitions_produce_23_and_25_slots(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.slots.horizon_days = 366).await;
    let customs = app.customs().await;
    let sup = customs.supervisor.as_str();
    for (code, zone) in [("EENRV", "Europe/Tallinn"), ("PLKUZ", "Europe/Warsaw")] {
        let tz: Tz = zone.parse().unwrap();
        let site = create_site(&app, sup, code, zone).await;
        for (hours, mode) in [(23, "road"), (25, "rail")] {
            let day = next_day_of_length(tz, hours);
            let r = create_schedule(
                &app,
                sup,
                &site,
                json!({"mode": mode, "capacity": 3, "valid_from": day.to_string(), "valid_to": day.to_string()}),
            )
            .await
            .expect(201);
            assert_eq!(r.body["slots_created"], hours, "{zone} {day}: {}", r.text);
            let from = clearway::domain::schedule::local_day_start(tz, day);
            let to = from + Duration::hours(hours);
            let list = app
                .get(
                    &format!("/api/v1/slots?site_id={site}&mode={mode}&from={}&to={}&limit=200", enc(from), enc(to)),
                    Some(sup),
                )
                .await
                .expect(200);
            let items = list.body["items"].as_array().unwrap();
            assert_eq!(items.len() as i64, hours);
            let mut prev_end: Option<String> = None;
            for s in items {
                if let Some(p) = &prev_end {
                    assert_eq!(p, s["starts_at"].as_str().unwrap(), "gap or overlap on {day}");
                }
                prev_end = Some(s["ends_at"].as_str().unwrap().to_owned());
            }
            // The local labels around the change: one offset before, another after.
            let offsets: std::collections::BTreeSet<String> =
                items.iter().map(|s| s["starts_at_local"].as_str().unwrap()[19..].to_owned()).collect();
            assert_eq!(offsets.len(), 2, "{offsets:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dst_transitions_sqlite() {
    dst_transitions_produce_23_and_25_slots(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clearway_pg), ignore = "set TEST_DATABASE_URL to run on PostgreSQL")]
async fn dst_transitions_postgres() {
    dst_transitions_produce_23_and_25_slots(Backend::Postgres).await;
}
