//! Reports for officers: utilisation per local hour and day (JSON and CSV)
//! from real bookings, review-time percentiles, bounded periods, and who
//! may read them.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::submitted_declaration;
use crate::helpers::{TestApp, PASSWORD};
use crate::slots::{create_schedule, create_site};

api_tests!(
    utilisation_counts_real_bookings_per_local_hour_and_day,
    review_times_are_percentiles_of_decisions,
    reports_are_bounded_and_for_customs_of_the_site,
);

fn slug(r: &crate::helpers::Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

/// A Beijing-time site with hourly road slots of 10 places (an enterprise
/// may hold 5 of one slot); (supervisor, officer, site id).
async fn beijing_site(app: &TestApp) -> (String, String, String) {
    let customs = app.customs().await;
    let site = create_site(app, &customs.supervisor, "CNURC", "Asia/Shanghai").await;
    create_schedule(app, &customs.supervisor, &site, json!({"mode": "road", "slot_minutes": 60, "capacity": 10}))
        .await
        .expect(201);
    (customs.supervisor, customs.officer, site)
}

fn items(r: &crate::helpers::Resp) -> Vec<Value> {
    r.body["items"].as_array().unwrap().clone()
}

async fn utilisation_counts_real_bookings_per_local_hour_and_day(app: TestApp) {
    let (_, officer, site) = beijing_site(&app).await;
    let c = app.verified_company("report", &officer).await;
    let from = (Utc::now() + Duration::days(1)).to_rfc3339().replace('+', "%2B");
    let listed = app.get(&format!("/api/v1/slots?site_id={site}&mode=road&from={from}&limit=2"), Some(&officer)).await;
    let slots = items(&listed.expect(200));
    let (s, t) = (slots[0]["id"].as_str().unwrap().to_owned(), slots[1]["id"].as_str().unwrap().to_owned());
    let starts_at: DateTime<Utc> = slots[0]["starts_at"].as_str().unwrap().parse().unwrap();
    let ends_at: DateTime<Utc> = slots[0]["ends_at"].as_str().unwrap().parse().unwrap();
    let mut bookings = Vec::new();
    let mut declarations = Vec::new();
    for slot in [&s, &s, &s, &t] {
        let d = submitted_declaration(&app, &c.admin, &site).await;
        let body = json!({"declaration_id": d, "slot_id": slot, "vehicle": {"plate": format!("01KZ{}AB", 100 + bookings.len()), "country": "KZ"}});
        bookings.push(app.post("/api/v1/bookings", Some(&c.admin), body).await.expect(201).str("/id"));
        declarations.push(d);
    }
    // One cancelled, one checked in, one no-show in slot s; t stays confirmed.
    app.post(&format!("/api/v1/bookings/{}/cancel", bookings[2]), Some(&c.admin), json!({})).await.expect(200);
    app.post(
        &format!("/api/v1/declarations/{}/approve", declarations[0]),
        Some(&officer),
        json!({"risk_lane": "green"}),
    )
    .await
    .expect(200);
    app.state.clock.set(starts_at);
    app.post(&format!("/api/v1/bookings/{}/check-in", bookings[0]), Some(&officer), json!({})).await.expect(200);
    app.state.clock.set(ends_at + Duration::minutes(1));
    app.post(&format!("/api/v1/bookings/{}/no-show", bookings[1]), Some(&officer), json!({})).await.expect(200);

    // Hourly: the bucket of slot s, in Beijing time.
    let local = starts_at.with_timezone(&chrono_tz::Asia::Shanghai);
    let from = local.date_naive().format("%Y-%m-%d").to_string();
    let to = (local.date_naive() + Duration::days(2)).format("%Y-%m-%d").to_string();
    let path = format!("/api/v1/reports/utilisation?site_id={site}&mode=road&from={from}&to={to}&bucket=hour");
    let hourly = app.get(&path, Some(&officer)).await.expect(200);
    let rows = items(&hourly);
    assert_eq!(rows.len(), 48, "two local days of hourly slots: {}", hourly.text);
    let want_start = local.format("%Y-%m-%dT%H:00:00+08:00").to_string();
    let row = rows
        .iter()
        .find(|r| r["bucket_start"] == want_start.as_str())
        .unwrap_or_else(|| panic!("{want_start} in {}", hourly.text));
    assert_eq!(
        (&row["capacity"], &row["booked"], &row["checked_in"], &row["no_show"], &row["cancelled"], &row["utilisation"]),
        (&json!(10), &json!(2), &json!(1), &json!(1), &json!(1), &json!(0.2)),
        "{row}"
    );
    let sum = |rows: &[Value], k: &str| rows.iter().map(|r| r[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!((sum(&rows, "booked"), sum(&rows, "cancelled"), sum(&rows, "capacity")), (3, 1, 48 * 10));

    // Daily: the site's local days, midnight Beijing time.
    let daily = app.get(&path.replace("bucket=hour", "bucket=day"), Some(&officer)).await.expect(200);
    let days = items(&daily);
    assert_eq!(days.len(), 2, "{}", daily.text);
    assert_eq!(days[0]["bucket_start"], json!(format!("{from}T00:00:00+08:00")));
    assert!(days.iter().all(|d| d["capacity"] == 240), "{}", daily.text);
    assert_eq!((sum(&days, "booked"), sum(&days, "checked_in"), sum(&days, "no_show")), (3, 1, 1));

    // The same report as CSV: a header and a row per bucket.
    let csv =
        app.call_with(reqwest::Method::GET, &path, Some(&officer), None, &[("Accept", "text/csv")]).await.expect(200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"), "{:?}", csv.headers);
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines[0], "bucket_start,capacity,booked,checked_in,no_show,cancelled,utilisation");
    assert_eq!(lines.len(), rows.len() + 1);
    assert!(lines.contains(&format!("{want_start},10,2,1,1,1,0.2").as_str()), "{}", csv.text);
}

async fn review_times_are_percentiles_of_decisions(app: TestApp) {
    let (_, officer, site) = beijing_site(&app).await;
    let c = app.verified_company("review", &officer).await;
    let quick = submitted_declaration(&app, &c.admin, &site).await;
    let slow = submitted_declaration(&app, &c.admin, &site).await;
    let _undecided = submitted_declaration(&app, &c.admin, &site).await;
    app.post(&format!("/api/v1/declarations/{quick}/approve"), Some(&officer), json!({"risk_lane": "green"}))
        .await
        .expect(200);
    app.state.clock.advance(Duration::hours(3));
    app.post(
        &format!("/api/v1/declarations/{slow}/reject"),
        Some(&officer),
        json!({"reason": "invoice does not match"}),
    )
    .await
    .expect(200);
    let today = Utc::now().date_naive();
    let path =
        format!("/api/v1/reports/review-times?from={}&to={}", today - Duration::days(1), today + Duration::days(2));
    let r = app.get(&path, Some(&officer)).await.expect(200);
    assert_eq!(r.body["count"], 2, "{}", r.text);
    let p50 = r.body["p50_seconds"].as_i64().unwrap();
    let p90 = r.body["p90_seconds"].as_i64().unwrap();
    assert!(p50 < 60, "{}", r.text);
    assert!((3 * 3600..3 * 3600 + 120).contains(&p90), "{}", r.text);
    assert_eq!(r.body["max_seconds"], p90);
    // The same, for the site only; and nothing in a period without decisions.
    let r = app.get(&format!("{path}&site_id={site}"), Some(&officer)).await.expect(200);
    assert_eq!(r.body["count"], 2, "{}", r.text);
    let empty =
        format!("/api/v1/reports/review-times?from={}&to={}", today - Duration::days(30), today - Duration::days(2));
    let r = app.get(&empty, Some(&officer)).await.expect(200);
    assert_eq!(r.body, json!({"count": 0, "p50_seconds": null, "p90_seconds": null, "max_seconds": null}));
}

async fn reports_are_bounded_and_for_customs_of_the_site(app: TestApp) {
    let (supervisor, officer, site) = beijing_site(&app).await;
    let util = |q: &str| format!("/api/v1/reports/utilisation?site_id={site}&{q}");
    // More than 92 days, to before from, missing ends, unknown bucket: 422 naming the parameter.
    for (q, field, code) in [
        ("from=2026-01-01&to=2026-06-01", "to", "range"),
        ("from=2026-02-01&to=2026-01-01", "to", "range"),
        ("to=2026-01-02", "from", "required"),
        ("from=yesterday&to=2026-01-02", "from", "datetime"),
        ("from=2026-01-01&to=2026-01-02&bucket=week", "bucket", "enum"),
        ("from=2026-01-01&to=2026-01-02&mode=boat", "mode", "enum"),
    ] {
        let r = app.get(&util(q), Some(&officer)).await.problem(422);
        assert_eq!(slug(&r), "validation", "{q}: {}", r.text);
        assert!(
            r.body["errors"].as_array().unwrap().iter().any(|e| e["field"] == field && e["code"] == code),
            "{q}: {}",
            r.text
        );
    }
    let r = app.get("/api/v1/reports/review-times?from=2026-01-01&to=2026-12-01", Some(&officer)).await.problem(422);
    assert_eq!(slug(&r), "validation");
    // Companies may not read reports; nobody without a token.
    let c = app.verified_company("nosy", &officer).await;
    let ok = util("from=2026-01-01&to=2026-01-02");
    assert_eq!(slug(&app.get(&ok, Some(&c.admin)).await.problem(403)), "forbidden");
    assert_eq!(slug(&app.get(&ok, None).await.problem(401)), "unauthorized");
    assert_eq!(
        slug(&app.get("/api/v1/reports/review-times?from=2026-01-01&to=2026-01-02", Some(&c.admin)).await.problem(403)),
        "forbidden"
    );
    // An unknown site is 404; so is one an officer limited to another site may not see.
    let r = app.get("/api/v1/reports/utilisation?site_id=nope&from=2026-01-01&to=2026-01-02", Some(&officer)).await;
    assert_eq!(slug(&r.problem(404)), "not-found");
    let other = create_site(&app, &supervisor, "CNHGS", "Asia/Shanghai").await;
    let email = format!("limited-{}@customs.test", uuid::Uuid::new_v4().simple());
    app.post(
        "/api/v1/officers",
        Some(&supervisor),
        json!({"email": email, "password": PASSWORD, "display_name": "Limited", "role": "officer", "site_ids": [other]}),
    )
    .await
    .expect(201);
    let limited = app.login(&email).await;
    assert_eq!(slug(&app.get(&ok, Some(&limited)).await.problem(404)), "not-found");
    let own = format!("/api/v1/reports/utilisation?site_id={other}&from=2026-01-01&to=2026-01-02");
    app.get(&own, Some(&limited)).await.expect(200);
    let r = app
        .get(&format!("/api/v1/reports/review-times?from=2026-01-01&to=2026-01-02&site_id={site}"), Some(&limited))
        .await;
    assert_eq!(slug(&r.problem(404)), "not-found");
    // A site's report with no slots in the period is empty, not an error.
    let r = app.get(&ok, Some(&officer)).await.expect(200);
    assert_eq!(r.body, json!({"items": []}));
}
