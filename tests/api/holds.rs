//! Holds (issue 16): a place kept for a short time, then booked, released
//! or expired; the enterprise's limit and share; 64 clients mixing holds
//! and bookings on one slot never exceed its capacity.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{submitted_declaration, tomorrow_slot, world, World};
use crate::helpers::{Company, Resp, TestApp};

api_tests!(
    a_hold_takes_a_place_and_releasing_frees_it,
    ttl_is_bounded_and_defaults_from_configuration,
    at_most_three_live_holds_even_when_asked_at_once,
    another_enterprises_hold_is_not_found,
    a_hold_converts_into_a_booking_without_a_new_capacity_check,
    an_expired_hold_never_blocks_and_cannot_be_converted,
    the_sweep_frees_expired_holds,
    holds_count_toward_the_share,
    a_closure_releases_live_holds_first,
    sixty_four_clients_mixing_holds_and_bookings_never_exceed_capacity
        with |s| { s.booking.max_share_percent = 100; s.holds.max_per_enterprise = 100; },
);

/// Asks for a hold.
pub async fn hold(app: &TestApp, token: &str, slot: &str, ttl: Option<i64>) -> Resp {
    let body = match ttl {
        Some(t) => json!({"slot_id": slot, "ttl_seconds": t}),
        None => json!({"slot_id": slot}),
    };
    app.post("/api/v1/holds", Some(token), body).await
}

/// Books a hold with declarations.
pub async fn convert(app: &TestApp, token: &str, hold: &str, declarations: &[&str]) -> Resp {
    app.post("/api/v1/bookings", Some(token), json!({"hold_id": hold, "declaration_ids": declarations})).await
}

/// `(capacity, booked, held, available)` of a slot as customs read it.
pub async fn slot_places(app: &TestApp, officer: &str, slot: &str) -> (i64, i64, i64, i64) {
    let r = app.get(&format!("/api/v1/slots/{slot}"), Some(officer)).await.expect(200);
    let n = |k: &str| r.body[k].as_i64().unwrap_or_else(|| panic!("{k} missing: {}", r.text));
    (n("capacity"), n("booked"), n("held"), n("available"))
}

/// Reads the slot's counters and its live rows straight from the database,
/// and asserts they agree: `booked` = active bookings, `held` = active holds,
/// `booked + held <= capacity`. Returns `(capacity, booked, held)`.
pub async fn counted(app: &TestApp, slot: &str) -> (i32, i32, i32) {
    use clearway::db::schema::{bookings as b, clearance_slots as s, holds as h};
    let slot = slot.to_owned();
    let r = app
        .state
        .db
        .read(move |conn| -> diesel::QueryResult<(i32, i32, i32, i64, i64)> {
            let (cap, booked, held): (i32, i32, i32) =
                s::table.find(&slot).select((s::capacity, s::booked, s::held)).first(conn)?;
            let nb: i64 = b::table
                .filter(b::slot_id.eq(&slot))
                .filter(b::status.eq_any(["confirmed", "checked_in"]))
                .count()
                .get_result(conn)?;
            let nh: i64 =
                h::table.filter(h::slot_id.eq(&slot)).filter(h::status.eq("active")).count().get_result(conn)?;
            Ok((cap, booked, held, nb, nh))
        })
        .await;
    let Ok((cap, booked, held, nb, nh)) = r else { panic!("reading the slot failed") };
    assert_eq!(i64::from(booked), nb, "booked counter {booked} vs {nb} active bookings");
    assert_eq!(i64::from(held), nh, "held counter {held} vs {nh} active holds");
    assert!(booked + held <= cap, "booked {booked} + held {held} > capacity {cap}");
    (cap, booked, held)
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().unwrap()
}

fn slug(r: &Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

async fn setup(app: &TestApp, capacity: i64) -> (World, Company, String) {
    let w = world(app, capacity, 60).await;
    let a = app.verified_company("hold-a", &w.customs.officer).await;
    let slot = tomorrow_slot(app, &w, 2).await;
    (w, a, slot)
}

async fn a_hold_takes_a_place_and_releasing_frees_it(app: TestApp) {
    let (w, a, slot) = setup(&app, 4).await;
    let clerk = app.add_clerk(&a).await;
    let r = hold(&app, &clerk, &slot, Some(300)).await.expect(201);
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.str("/slot_id"), slot);
    let id = r.str("/id");
    let expires = time(&r.body["expires_at"]);
    let now = app.state.clock.now();
    assert!((expires - now - Duration::seconds(300)).num_seconds().abs() <= 5, "{expires} vs {now}");
    assert_eq!(slot_places(&app, &w.customs.officer, &slot).await, (4, 0, 1, 3));
    assert_eq!(counted(&app, &slot).await, (4, 0, 1));
    // Companies see it too, with `available` counting the hold.
    let seen = app.get(&format!("/api/v1/slots/{slot}"), Some(&a.admin)).await.expect(200);
    assert_eq!((seen.body["held"].as_i64(), seen.body["available"].as_i64()), (Some(1), Some(3)));
    // Read and listed by the enterprise's users.
    assert_eq!(app.get(&format!("/api/v1/holds/{id}"), Some(&a.admin)).await.expect(200).str("/status"), "active");
    let listed = app.get("/api/v1/holds?status=active", Some(&a.admin)).await.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    // Customs have no holds: 403.
    app.get("/api/v1/holds", Some(&w.customs.officer)).await.problem(403);
    hold(&app, &w.customs.officer, &slot, None).await.problem(403);
    // Released: 204, the place is free again.
    app.call(Method::DELETE, &format!("/api/v1/holds/{id}"), Some(&clerk), None).await.expect(204);
    assert_eq!(app.get(&format!("/api/v1/holds/{id}"), Some(&a.admin)).await.expect(200).str("/status"), "released");
    assert_eq!(slot_places(&app, &w.customs.officer, &slot).await, (4, 0, 0, 4));
    // Released twice: 409 hold-expired, nothing freed twice.
    let again = app.call(Method::DELETE, &format!("/api/v1/holds/{id}"), Some(&clerk), None).await.problem(409);
    assert_eq!(slug(&again), "hold-expired");
    assert_eq!(counted(&app, &slot).await, (4, 0, 0));
    // An unknown slot: 404 naming it.
    let r = hold(&app, &clerk, "no-such-slot", None).await.problem(404);
    assert_eq!(r.body["slot_id"], "no-such-slot");
}

async fn ttl_is_bounded_and_defaults_from_configuration(app: TestApp) {
    let (w, a, slot) = setup(&app, 4).await;
    let slot2 = tomorrow_slot(&app, &w, 3).await;
    for bad in [29, 1801, -1] {
        let r = hold(&app, &a.admin, &slot, Some(bad)).await.problem(422);
        assert_eq!(r.fields(), vec!["ttl_seconds".to_owned()], "{}", r.text);
    }
    let r = app.post("/api/v1/holds", Some(&a.admin), json!({"slot_id": slot, "ttl_seconds": "ten"})).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    let r = hold(&app, &a.admin, &slot, Some(30)).await.expect(201);
    let now = app.state.clock.now();
    assert!((time(&r.body["expires_at"]) - now - Duration::seconds(30)).num_seconds().abs() <= 5);
    let r = hold(&app, &a.admin, &slot, None).await.expect(201);
    assert_eq!(app.state.settings.holds.ttl_seconds, 600);
    assert!((time(&r.body["expires_at"]) - now - Duration::seconds(600)).num_seconds().abs() <= 5);
    let r = hold(&app, &a.admin, &slot2, Some(1800)).await.expect(201);
    assert!((time(&r.body["expires_at"]) - now - Duration::seconds(1800)).num_seconds().abs() <= 5);
}

async fn at_most_three_live_holds_even_when_asked_at_once(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let a = app.verified_company("hold-max", &w.customs.officer).await;
    let mut slots = Vec::new();
    for i in 0..10 {
        slots.push(tomorrow_slot(&app, &w, i).await);
    }
    // Ten at once, each on its own slot: exactly three are granted.
    let results = futures_util::future::join_all(slots.iter().map(|s| hold(&app, &a.admin, s, None))).await;
    let granted: Vec<&Resp> = results.iter().filter(|r| r.status.as_u16() == 201).collect();
    assert_eq!(granted.len(), 3, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    for r in results.iter().filter(|r| r.status.as_u16() != 201) {
        assert_eq!((r.status.as_u16(), slug(r)), (409, "too-many-holds".to_owned()), "{}", r.text);
        assert!(r.body["detail"].as_str().unwrap().contains('3'), "{}", r.text);
    }
    // Another enterprise has its own three.
    let b = app.verified_company("hold-max-b", &w.customs.officer).await;
    hold(&app, &b.admin, &slots[9], None).await.expect(201);
    // Releasing one makes room for one more.
    let first = granted[0].str("/id");
    app.call(Method::DELETE, &format!("/api/v1/holds/{first}"), Some(&a.admin), None).await.expect(204);
    hold(&app, &a.admin, &slots[8], None).await.expect(201);
    let r = hold(&app, &a.admin, &slots[7], None).await.problem(409);
    assert_eq!(slug(&r), "too-many-holds");
    // Converting one also makes room.
    let live = app.get("/api/v1/holds?status=active", Some(&a.admin)).await.expect(200);
    let h = live.body["items"][0]["id"].as_str().unwrap().to_owned();
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    convert(&app, &a.admin, &h, &[&d]).await.expect(201);
    hold(&app, &a.admin, &slots[7], None).await.expect(201);
}

async fn another_enterprises_hold_is_not_found(app: TestApp) {
    let (w, a, slot) = setup(&app, 4).await;
    let b = app.verified_company("hold-b", &w.customs.officer).await;
    let id = hold(&app, &a.admin, &slot, None).await.expect(201).str("/id");
    app.get(&format!("/api/v1/holds/{id}"), Some(&b.admin)).await.problem(404);
    app.call(Method::DELETE, &format!("/api/v1/holds/{id}"), Some(&b.admin), None).await.problem(404);
    let d = submitted_declaration(&app, &b.admin, &w.site).await;
    let r = convert(&app, &b.admin, &id, &[&d]).await.problem(404);
    assert_eq!(r.body["hold_id"], id.as_str());
    assert!(app.get("/api/v1/holds", Some(&b.admin)).await.expect(200).body["items"].as_array().unwrap().is_empty());
    // Still A's, still active.
    assert_eq!(app.get(&format!("/api/v1/holds/{id}"), Some(&a.admin)).await.expect(200).str("/status"), "active");
}

async fn a_hold_converts_into_a_booking_without_a_new_capacity_check(app: TestApp) {
    let w = world(&app, 2, 60).await;
    let a = app.verified_company("conv-a", &w.customs.officer).await;
    let b = app.verified_company("conv-b", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 2).await;
    let h = hold(&app, &a.admin, &slot, None).await.expect(201).str("/id");
    // The other place goes to B: the slot is now full (1 booked, 1 held).
    let db = submitted_declaration(&app, &b.admin, &w.site).await;
    app.post("/api/v1/bookings", Some(&b.admin), json!({"declaration_id": db, "slot_id": slot})).await.expect(201);
    let other = submitted_declaration(&app, &b.admin, &w.site).await;
    let r = app.post("/api/v1/bookings", Some(&b.admin), json!({"declaration_id": other, "slot_id": slot})).await;
    assert_eq!((r.status.as_u16(), slug(&r)), (409, "slot-full".to_owned()), "{}", r.text);
    // A books its held place with the truck's details: 201 though the slot is full.
    let (d1, d2) =
        (submitted_declaration(&app, &a.admin, &w.site).await, submitted_declaration(&app, &a.admin, &w.site).await);
    // Validation first: a container with a wrong check digit books nothing.
    let bad = json!({"hold_id": h, "declaration_ids": [d1, d2], "containers": ["CSQU3054384"]});
    app.post("/api/v1/bookings", Some(&a.admin), bad).await.problem(422);
    // A slot other than the hold's: 422 on slot_id.
    let elsewhere = tomorrow_slot(&app, &w, 3).await;
    let r = app
        .post("/api/v1/bookings", Some(&a.admin), json!({"hold_id": h, "slot_id": elsewhere, "declaration_ids": [d1]}))
        .await
        .problem(422);
    assert_eq!(r.fields(), vec!["slot_id".to_owned()]);
    let body = json!({"hold_id": h, "slot_id": slot, "declaration_ids": [d1, d2],
        "vehicle": {"plate": "01 KZ 777 AB", "country": "KZ"}, "containers": ["CSQU3054383"]});
    let booked = app.post("/api/v1/bookings", Some(&a.admin), body).await.expect(201);
    assert_eq!(booked.str("/slot_id"), slot);
    assert_eq!(booked.body["declaration_ids"], json!([d1, d2]));
    assert_eq!(booked.body["vehicle"]["plate"], "01KZ777AB");
    let got = app.get(&format!("/api/v1/holds/{h}"), Some(&a.admin)).await.expect(200);
    assert_eq!((got.str("/status"), got.str("/booking_id")), ("converted".to_owned(), booked.str("/id")));
    assert_eq!(counted(&app, &slot).await, (2, 2, 0));
    assert_eq!(slot_places(&app, &w.customs.officer, &slot).await, (2, 2, 0, 0));
    // Converting it again: 409 hold-expired, never 404.
    let d3 = submitted_declaration(&app, &a.admin, &w.site).await;
    let r = convert(&app, &a.admin, &h, &[&d3]).await.problem(409);
    assert_eq!(slug(&r), "hold-expired");
    // A released hold cannot be converted either.
    let slot2 = tomorrow_slot(&app, &w, 4).await;
    let h2 = hold(&app, &a.admin, &slot2, None).await.expect(201).str("/id");
    app.call(Method::DELETE, &format!("/api/v1/holds/{h2}"), Some(&a.admin), None).await.expect(204);
    let r = convert(&app, &a.admin, &h2, &[&d3]).await.problem(409);
    assert_eq!(slug(&r), "hold-expired");
    assert_eq!(counted(&app, &slot2).await, (2, 0, 0));
}

async fn an_expired_hold_never_blocks_and_cannot_be_converted(app: TestApp) {
    let w = world(&app, 1, 60).await;
    let a = app.verified_company("exp-a", &w.customs.officer).await;
    let b = app.verified_company("exp-b", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 2).await;
    let h = hold(&app, &a.admin, &slot, Some(30)).await.expect(201).str("/id");
    let db = submitted_declaration(&app, &b.admin, &w.site).await;
    let r = app.post("/api/v1/bookings", Some(&b.admin), json!({"declaration_id": db, "slot_id": slot})).await;
    assert_eq!((r.status.as_u16(), slug(&r)), (409, "slot-full".to_owned()));
    // Past its expiry (the sweep has not run: the booking frees it first).
    app.state.clock.advance(Duration::seconds(31));
    app.post("/api/v1/bookings", Some(&b.admin), json!({"declaration_id": db, "slot_id": slot})).await.expect(201);
    assert_eq!(counted(&app, &slot).await, (1, 1, 0));
    assert_eq!(app.get(&format!("/api/v1/holds/{h}"), Some(&a.admin)).await.expect(200).str("/status"), "expired");
    let da = submitted_declaration(&app, &a.admin, &w.site).await;
    let r = convert(&app, &a.admin, &h, &[&da]).await.problem(409);
    assert_eq!(slug(&r), "hold-expired");
    // Expired but not yet swept: converting is refused as well.
    let slot2 = tomorrow_slot(&app, &w, 3).await;
    let h2 = hold(&app, &a.admin, &slot2, Some(30)).await.expect(201).str("/id");
    app.state.clock.advance(Duration::seconds(31));
    let r = convert(&app, &a.admin, &h2, &[&da]).await.problem(409);
    assert_eq!(slug(&r), "hold-expired");
}

async fn the_sweep_frees_expired_holds(app: TestApp) {
    let (w, a, slot) = setup(&app, 4).await;
    let h = hold(&app, &a.admin, &slot, Some(30)).await.expect(201).str("/id");
    let kept = hold(&app, &a.admin, &slot, Some(1800)).await.expect(201).str("/id");
    assert_eq!(counted(&app, &slot).await, (4, 0, 2));
    app.state.clock.advance(Duration::seconds(60));
    // No request touches the slot: the background sweep frees it.
    let mut status = String::new();
    for _ in 0..100 {
        status = app.get(&format!("/api/v1/holds/{h}"), Some(&a.admin)).await.expect(200).str("/status");
        if status == "expired" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "expired");
    assert_eq!(counted(&app, &slot).await, (4, 0, 1));
    assert_eq!(slot_places(&app, &w.customs.officer, &slot).await, (4, 0, 1, 3));
    assert_eq!(app.get(&format!("/api/v1/holds/{kept}"), Some(&a.admin)).await.expect(200).str("/status"), "active");
}

async fn holds_count_toward_the_share(app: TestApp) {
    // Capacity 4, share 50%: two places per enterprise, held or booked.
    let (w, a, slot) = setup(&app, 4).await;
    hold(&app, &a.admin, &slot, None).await.expect(201);
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    app.post("/api/v1/bookings", Some(&a.admin), json!({"declaration_id": d, "slot_id": slot})).await.expect(201);
    let r = hold(&app, &a.admin, &slot, None).await.problem(409);
    assert_eq!(slug(&r), "share-exceeded");
    let d2 = submitted_declaration(&app, &a.admin, &w.site).await;
    let r = app.post("/api/v1/bookings", Some(&a.admin), json!({"declaration_id": d2, "slot_id": slot})).await;
    assert_eq!((r.status.as_u16(), slug(&r)), (409, "share-exceeded".to_owned()));
    // The refused hold took nothing and was not counted toward the three.
    assert_eq!(counted(&app, &slot).await, (4, 1, 1));
    let other = tomorrow_slot(&app, &w, 3).await;
    hold(&app, &a.admin, &other, None).await.expect(201);
    hold(&app, &a.admin, &other, None).await.expect(201);
}

async fn a_closure_releases_live_holds_first(app: TestApp) {
    let (w, a, slot) = setup(&app, 2).await;
    let b = app.verified_company("close-b", &w.customs.officer).await;
    let h = hold(&app, &a.admin, &slot, None).await.expect(201).str("/id");
    let d = submitted_declaration(&app, &b.admin, &w.site).await;
    app.post("/api/v1/bookings", Some(&b.admin), json!({"declaration_id": d, "slot_id": slot})).await.expect(201);
    // Below booked + held without displace: refused, naming both.
    let path = format!("/api/v1/slots/{slot}");
    let r = app.call(Method::PATCH, &path, Some(&w.customs.officer), Some(json!({"capacity": 1}))).await.problem(409);
    assert_eq!(slug(&r), "capacity-below-booked");
    // With displace: the hold goes first, the booking keeps its place.
    let body = json!({"capacity": 1, "displace": true, "reason": "scanner down"});
    app.call(Method::PATCH, &path, Some(&w.customs.officer), Some(body)).await.expect(200);
    assert_eq!(app.get(&format!("/api/v1/holds/{h}"), Some(&a.admin)).await.expect(200).str("/status"), "released");
    assert_eq!(counted(&app, &slot).await, (1, 1, 0));
    // Closing the slot releases holds too.
    let slot2 = tomorrow_slot(&app, &w, 3).await;
    let h2 = hold(&app, &a.admin, &slot2, None).await.expect(201).str("/id");
    let close = json!({"status": "closed", "reason": "storm"});
    app.call(Method::PATCH, &format!("/api/v1/slots/{slot2}"), Some(&w.customs.officer), Some(close)).await.expect(200);
    assert_eq!(app.get(&format!("/api/v1/holds/{h2}"), Some(&a.admin)).await.expect(200).str("/status"), "released");
    assert_eq!(counted(&app, &slot2).await, (2, 0, 0));
    let r = hold(&app, &a.admin, &slot2, None).await.problem(409);
    assert_eq!(slug(&r), "slot-closed");
}

async fn sixty_four_clients_mixing_holds_and_bookings_never_exceed_capacity(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let slot = tomorrow_slot(&app, &w, 3).await;
    let mut companies = Vec::new();
    for tag in ["mix-n", "mix-s", "mix-e", "mix-w"] {
        companies.push(app.verified_company(tag, &w.customs.officer).await);
    }
    // 16 clients per enterprise: even ones book, odd ones hold.
    let mut attempts = Vec::new();
    for c in &companies {
        for i in 0..16 {
            let declaration =
                if i % 2 == 0 { Some(submitted_declaration(&app, &c.admin, &w.site).await) } else { None };
            attempts.push((c.admin.clone(), declaration));
        }
    }
    let results = futures_util::future::join_all(attempts.iter().map(|(token, declaration)| {
        let (app, slot) = (&app, slot.clone());
        async move {
            match declaration {
                Some(d) => (
                    "booking",
                    app.post("/api/v1/bookings", Some(token), json!({"declaration_id": d, "slot_id": slot})).await,
                ),
                None => ("hold", hold(app, token, &slot, None).await),
            }
        }
    }))
    .await;
    let (mut booked, mut held) = (0, 0);
    for (what, r) in &results {
        match r.status.as_u16() {
            201 if *what == "booking" => booked += 1,
            201 => held += 1,
            409 => assert_eq!(slug(r), "slot-full", "{}", r.text),
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(booked + held, 10, "exactly the capacity is taken");
    assert_eq!(counted(&app, &slot).await, (10, booked, held));
    // Now convert every hold at once while others keep booking: still exact.
    let live: Vec<(String, String)> = {
        let mut v = Vec::new();
        for c in &companies {
            let page = app.get("/api/v1/holds?status=active", Some(&c.admin)).await.expect(200);
            for item in page.body["items"].as_array().unwrap() {
                v.push((c.admin.clone(), item["id"].as_str().unwrap().to_owned()));
            }
        }
        v
    };
    assert_eq!(live.len() as i32, held);
    let mut jobs = Vec::new();
    for (token, h) in &live {
        jobs.push((token.clone(), Some(h.clone()), submitted_declaration(&app, token, &w.site).await));
    }
    for c in &companies {
        jobs.push((c.admin.clone(), None, submitted_declaration(&app, &c.admin, &w.site).await));
    }
    let results = futures_util::future::join_all(jobs.iter().map(|(token, h, d)| {
        let (app, slot) = (&app, slot.clone());
        async move {
            match h {
                Some(h) => convert(app, token, h, &[d]).await,
                None => app.post("/api/v1/bookings", Some(token), json!({"declaration_id": d, "slot_id": slot})).await,
            }
        }
    }))
    .await;
    for (r, (_, h, _)) in results.iter().zip(&jobs) {
        let expected = if h.is_some() { 201 } else { 409 };
        assert_eq!(r.status.as_u16(), expected, "{}", r.text);
    }
    assert_eq!(counted(&app, &slot).await, (10, 10, 0));
}
