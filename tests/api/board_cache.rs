//! The public board's in-memory cache (issue 19): every change made
//! through an instance shows on that instance's next board answer, a kept
//! answer is really served from memory, and another instance on the same
//! database catches up within the TTL.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::submitted_declaration;
use crate::helpers::{spawn_app_on, TestApp};
use crate::public_board::board_world;

api_tests!(
    every_change_through_this_instance_shows_at_once
        with |s| { s.public.cache_ttl_ms = 10_000; s.booking.max_share_percent = 100; },
    a_kept_answer_is_served_from_memory with |s| s.public.cache_ttl_ms = 10_000,
    another_instance_catches_up_within_the_ttl,
);

/// The cache tests' site and its board (see `public_board::board_world`).
async fn world(app: &TestApp) -> (String, String, String, Vec<Value>) {
    board_world(app, "CNKRL", "cache").await
}

fn board_path(slots: &[Value]) -> String {
    crate::public_board::board_path("CNKRL", slots)
}

/// `(capacity, available, open)` of the first slot on the board.
async fn first_slot(app: &TestApp, path: &str) -> (i64, i64, bool) {
    let r = app.get(path, None).await.expect(200);
    let s = &r.body["items"][0];
    (s["capacity"].as_i64().unwrap(), s["available"].as_i64().unwrap(), s["open"].as_bool().unwrap())
}

/// The `public_board_cache_total` counter of `result` (process-wide: other
/// tests running at the same time only add to it).
async fn cache_count(app: &TestApp, result: &str) -> u64 {
    let text = app.get("/metrics", None).await.expect(200).text;
    let prefix = format!("public_board_cache_total{{result=\"{result}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |v| v.trim().parse().unwrap())
}

async fn declaration(app: &TestApp, admin: &str, site: &str) -> String {
    submitted_declaration(app, admin, site).await
}

async fn every_change_through_this_instance_shows_at_once(app: TestApp) {
    let (officer, admin, site, slots) = world(&app).await;
    let path = board_path(&slots);
    let slot = slots[0]["id"].as_str().unwrap().to_owned();
    let slot_path = format!("/api/v1/slots/{slot}");
    // Each step: the board is asked (and kept), the change is acknowledged,
    // and the very next answer shows it, though the TTL is 10 s.
    assert_eq!(first_slot(&app, &path).await, (4, 4, true));

    let d = declaration(&app, &admin, &site).await;
    let booking = app
        .post("/api/v1/bookings", Some(&admin), json!({"declaration_id": d, "slot_id": slot}))
        .await
        .expect(201)
        .str("/id");
    assert_eq!(first_slot(&app, &path).await, (4, 3, true), "a booking");

    app.post(&format!("/api/v1/bookings/{booking}/cancel"), Some(&admin), json!({})).await.expect(200);
    assert_eq!(first_slot(&app, &path).await, (4, 4, true), "a cancellation");

    let hold = crate::holds::hold(&app, &admin, &slot, None).await.expect(201).str("/id");
    assert_eq!(first_slot(&app, &path).await, (4, 3, true), "a hold");

    let d = declaration(&app, &admin, &site).await;
    crate::holds::convert(&app, &admin, &hold, &[&d]).await.expect(201);
    assert_eq!(first_slot(&app, &path).await, (4, 3, true), "a hold booked");
    let hold = crate::holds::hold(&app, &admin, &slot, None).await.expect(201).str("/id");
    assert_eq!(first_slot(&app, &path).await, (4, 2, true), "a second hold");
    app.call(Method::DELETE, &format!("/api/v1/holds/{hold}"), Some(&admin), None).await.expect(204);
    assert_eq!(first_slot(&app, &path).await, (4, 3, true), "a hold released");

    let d = declaration(&app, &admin, &site).await;
    let item = json!({"declaration_id": d, "slot_id": slot, "idempotency_key": "board-cache-batch-1"});
    let r = app.post("/api/v1/bookings/batch", Some(&admin), json!({"items": [item]})).await.expect(200);
    assert_eq!(r.body["results"][0]["status"], 201, "{}", r.text);
    assert_eq!(first_slot(&app, &path).await, (4, 2, true), "a batch booking");

    app.call(Method::PATCH, &slot_path, Some(&officer), Some(json!({"capacity": 6}))).await.expect(200);
    assert_eq!(first_slot(&app, &path).await, (6, 4, true), "a capacity change");

    let from: DateTime<Utc> = slots[0]["starts_at"].as_str().unwrap().parse().unwrap();
    let closure = json!({"from": from.to_rfc3339(), "to": (from + Duration::minutes(1)).to_rfc3339(),
        "reason": "X-ray scanner out of order", "rebook": "cancel"});
    let r = app.post(&format!("/api/v1/sites/{site}/closures"), Some(&officer), closure).await.expect(201);
    let (capacity, available, open) = first_slot(&app, &path).await;
    assert_eq!((available, open), (0, false), "a closure (capacity {capacity})");

    app.call(Method::DELETE, &format!("/api/v1/closures/{}", r.str("/id")), Some(&officer), None).await.expect(204);
    let lifted = first_slot(&app, &path).await;
    let direct = app.get(&slot_path, Some(&officer)).await.expect(200);
    assert_eq!(
        lifted,
        (
            direct.body["capacity"].as_i64().unwrap(),
            direct.body["available"].as_i64().unwrap(),
            direct.body["status"] == "open"
        ),
        "a closure lifted: the board agrees with the slot ({})",
        direct.text
    );
}

async fn a_kept_answer_is_served_from_memory(app: TestApp) {
    let (_, admin, site, slots) = world(&app).await;
    let path = board_path(&slots);
    let slot = slots[0]["id"].as_str().unwrap().to_owned();
    let first = app.get(&path, None).await.expect(200);
    // A change the app cannot know of (a write around it, as another
    // instance's would be): the kept answer is still served, with its ETag.
    let id = slot.clone();
    app.state
        .db
        .read(move |conn| {
            use clearway::db::schema::clearance_slots as s;
            diesel::update(s::table.find(id)).set(s::capacity.eq(9)).execute(conn)
        })
        .await
        .unwrap_or_else(|_| panic!("the write around the app failed"));
    let hits = cache_count(&app, "hit").await;
    let kept = app.get(&path, None).await.expect(200);
    assert_eq!(kept.text, first.text, "served from memory");
    assert_eq!(kept.header("etag"), first.header("etag"));
    assert_eq!(kept.header("cache-control").as_deref(), Some("public, max-age=15"));
    let etag = first.header("etag").unwrap();
    app.call_with(Method::GET, &path, None, None, &[("If-None-Match", &etag)]).await.expect(304);
    assert!(cache_count(&app, "hit").await >= hits + 2, "the metric counts the hits");
    // A booking through the app drops the site's answers: the next one is
    // read again and shows both changes.
    let d = declaration(&app, &admin, &site).await;
    app.post("/api/v1/bookings", Some(&admin), json!({"declaration_id": d, "slot_id": slot})).await.expect(201);
    let misses = cache_count(&app, "miss").await;
    assert_eq!(first_slot(&app, &path).await, (9, 8, true));
    assert!(cache_count(&app, "miss").await > misses);
    // Unknown sites are answered 404 every time and never kept.
    for _ in 0..2 {
        app.get("/api/v1/public/sites/XXNONE/availability", None).await.expect(404);
    }
    let (entries, bytes) = app.state.board_cache.usage();
    assert_eq!(entries, 1, "one board asked");
    assert!(bytes > first.text.len(), "{bytes}");
}

async fn another_instance_catches_up_within_the_ttl(app: TestApp) {
    let ttl = StdDuration::from_millis(app.state.settings.public.cache_ttl_ms);
    assert_eq!(ttl, StdDuration::from_secs(2), "the default");
    let (_, admin, site, slots) = world(&app).await;
    let path = board_path(&slots);
    let slot = slots[0]["id"].as_str().unwrap().to_owned();
    let other = spawn_app_on(app.backend, &app.db_url).await;
    let d = declaration(&app, &admin, &site).await;
    // Both instances keep the board.
    assert_eq!(first_slot(&app, &path).await, (4, 4, true));
    assert_eq!(first_slot(&other, &path).await, (4, 4, true));
    app.post("/api/v1/bookings", Some(&admin), json!({"declaration_id": d, "slot_id": slot})).await.expect(201);
    let acknowledged = Instant::now();
    // The instance that booked shows it at once; the other within its TTL.
    assert_eq!(first_slot(&app, &path).await, (4, 3, true));
    loop {
        let seen = first_slot(&other, &path).await;
        if seen == (4, 3, true) {
            break;
        }
        assert_eq!(seen, (4, 4, true));
        assert!(
            acknowledged.elapsed() < ttl + StdDuration::from_millis(500),
            "the other instance still shows the old count after {:?}",
            acknowledged.elapsed()
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    // And from then on it does not go back.
    assert_eq!(first_slot(&other, &path).await, (4, 3, true));
}
