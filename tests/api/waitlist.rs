//! Waitlists (issue 16): join, position, offers made in the transaction
//! that frees the place, priority, lapse, fulfilment, closing, and the
//! races: an offer against direct bookings, two instances on one database.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{slots_from, submitted_declaration, world, World};
use crate::helpers::{spawn_app_on, Company, Resp, TestApp};
use crate::holds::{convert, counted, hold};

api_tests!(
    joining_gives_a_position_and_refusals_say_why,
    a_freed_place_is_offered_in_the_same_transaction,
    advanced_certified_enterprises_come_first,
    an_expired_offer_lapses_and_passes_on,
    entries_are_fulfilled_closed_and_withdrawn,
    every_way_of_freeing_a_place_offers_it,
    an_offer_and_direct_bookings_race_for_one_place,
    two_instances_never_offer_one_place_twice,
);

/// The site's first slot a day ahead and the window of the next `hours`.
async fn first_slot(app: &TestApp, w: &World) -> (String, DateTime<Utc>) {
    let items = slots_from(app, w, Utc::now() + Duration::days(1), 1).await;
    (items[0]["id"].as_str().unwrap().to_owned(), items[0]["starts_at"].as_str().unwrap().parse().unwrap())
}

fn window(starts: DateTime<Utc>, hours: i64) -> (String, String) {
    (starts.to_rfc3339(), (starts + Duration::hours(hours)).to_rfc3339())
}

async fn join(app: &TestApp, c: &Company, site: &str, starts: DateTime<Utc>, hours: i64) -> (String, Resp) {
    let d = submitted_declaration(app, &c.admin, site).await;
    let (from, to) = window(starts, hours);
    let body = json!({"declaration_id": d, "site_id": site, "mode": "road", "from": from, "to": to});
    (d, app.post("/api/v1/waitlist", Some(&c.admin), body).await)
}

async fn entry(app: &TestApp, c: &Company, id: &str) -> Value {
    app.get(&format!("/api/v1/waitlist/{id}"), Some(&c.admin)).await.expect(200).body
}

fn slug(r: &Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

async fn book(app: &TestApp, c: &Company, site: &str, slot: &str) -> Resp {
    let d = submitted_declaration(app, &c.admin, site).await;
    app.post("/api/v1/bookings", Some(&c.admin), json!({"declaration_id": d, "slot_id": slot})).await
}

async fn cancel(app: &TestApp, c: &Company, booking: &str) {
    app.post(&format!("/api/v1/bookings/{booking}/cancel"), Some(&c.admin), json!({})).await.expect(200);
}

/// `waitlist.offered` events recorded in the outbox, as (entry_id, hold_id).
async fn offered_events(app: &TestApp) -> Vec<(String, String, String)> {
    use clearway::db::schema::outbox_events as o;
    let rows = app
        .state
        .db
        .read(|conn| -> diesel::QueryResult<Vec<String>> {
            o::table.filter(o::event_type.eq("waitlist.offered")).select(o::payload).load(conn)
        })
        .await;
    let Ok(rows) = rows else { panic!("reading the outbox failed") };
    rows.iter()
        .map(|p| {
            let v: Value = serde_json::from_str(p).unwrap();
            let d = &v["data"];
            assert!(d["expires_at"].is_string(), "{v}");
            (
                d["entry_id"].as_str().unwrap().into(),
                d["hold_id"].as_str().unwrap().into(),
                d["slot_id"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// A full slot of capacity 1 booked by X, and companies A and B.
async fn full_slot(app: &TestApp) -> (World, Company, String, DateTime<Utc>, String) {
    let w = world(app, 1, 60).await;
    let x = app.verified_company("wl-x", &w.customs.officer).await;
    let (slot, starts) = first_slot(app, &w).await;
    let booking = book(app, &x, &w.site, &slot).await.expect(201).str("/id");
    (w, x, slot, starts, booking)
}

async fn joining_gives_a_position_and_refusals_say_why(app: TestApp) {
    let (w, _x, _slot, starts, _) = full_slot(&app).await;
    let a = app.verified_company("wl-a", &w.customs.officer).await;
    let b = app.verified_company("wl-b", &w.customs.officer).await;
    let (da, r) = join(&app, &a, &w.site, starts, 2).await;
    let r = r.expect(201);
    assert_eq!(
        (r.str("/status"), r.body["position"].as_i64(), r.str("/declaration_id")),
        ("waiting".into(), Some(1), da.clone())
    );
    let ea = r.str("/id");
    let (_, r) = join(&app, &b, &w.site, starts, 2).await;
    let eb = r.expect(201).str("/id");
    assert_eq!(entry(&app, &b, &eb).await["position"], 2);
    // A window that does not overlap is its own line.
    let (_, r) = join(&app, &b, &w.site, starts + Duration::hours(5), 1).await;
    assert_eq!(r.expect(201).body["position"], 1);
    // Listed for the enterprise only; another's is 404.
    let listed = app.get("/api/v1/waitlist", Some(&b.admin)).await.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    app.get(&format!("/api/v1/waitlist/{ea}"), Some(&b.admin)).await.problem(404);
    app.call(Method::DELETE, &format!("/api/v1/waitlist/{ea}"), Some(&b.admin), None).await.problem(404);
    // Refusals.
    let (from, to) = window(starts, 2);
    let again = json!({"declaration_id": da, "site_id": w.site, "mode": "road", "from": from, "to": to});
    let r = app.post("/api/v1/waitlist", Some(&a.admin), again).await.problem(409);
    assert_eq!(slug(&r), "already-waiting");
    let theirs = json!({"declaration_id": da, "site_id": w.site, "mode": "road", "from": from, "to": to});
    let r = app.post("/api/v1/waitlist", Some(&b.admin), theirs).await.problem(404);
    assert_eq!(r.body["declaration_id"], da.as_str());
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    let backwards = json!({"declaration_id": d, "site_id": w.site, "mode": "road", "from": to, "to": from});
    assert_eq!(
        app.post("/api/v1/waitlist", Some(&a.admin), backwards).await.problem(422).fields(),
        vec!["to".to_owned()]
    );
    let rail = json!({"declaration_id": d, "site_id": w.site, "mode": "rail", "from": from, "to": to});
    assert_eq!(slug(&app.post("/api/v1/waitlist", Some(&a.admin), rail).await.problem(422)), "wrong-site-or-mode");
    let past = window(Utc::now() - Duration::days(3), 2);
    let old = json!({"declaration_id": d, "site_id": w.site, "mode": "road", "from": past.0, "to": past.1});
    app.post("/api/v1/waitlist", Some(&a.admin), old).await.problem(422);
    let r = app
        .post(
            "/api/v1/waitlist",
            Some(&w.customs.officer),
            json!({"declaration_id": d, "site_id": w.site,
        "mode": "road", "from": from, "to": to}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403);
    // A withdraws: B moves up.
    app.call(Method::DELETE, &format!("/api/v1/waitlist/{ea}"), Some(&a.admin), None).await.expect(204);
    assert_eq!(entry(&app, &a, &ea).await["status"], "withdrawn");
    assert_eq!(entry(&app, &b, &eb).await["position"], 1);
    let r = app.call(Method::DELETE, &format!("/api/v1/waitlist/{ea}"), Some(&a.admin), None).await.problem(409);
    assert_eq!(slug(&r), "waitlist-entry-state");
}

async fn a_freed_place_is_offered_in_the_same_transaction(app: TestApp) {
    let (w, x, slot, starts, booking) = full_slot(&app).await;
    let a = app.verified_company("wl-a", &w.customs.officer).await;
    let b = app.verified_company("wl-b", &w.customs.officer).await;
    let c = app.verified_company("wl-c", &w.customs.officer).await;
    let (da, r) = join(&app, &a, &w.site, starts, 3).await;
    let ea = r.expect(201).str("/id");
    let (_, r) = join(&app, &b, &w.site, starts, 3).await;
    let eb = r.expect(201).str("/id");
    cancel(&app, &x, &booking).await;
    // The cancel's answer came after the offer committed with it.
    let e = entry(&app, &a, &ea).await;
    assert_eq!(e["status"], "offered", "{e}");
    let h = e["hold_id"].as_str().unwrap().to_owned();
    assert_eq!(e["offer_slot_id"], slot.as_str());
    let expires: DateTime<Utc> = e["offer_expires_at"].as_str().unwrap().parse().unwrap();
    assert!((expires - app.state.clock.now() - Duration::minutes(15)).num_seconds().abs() <= 5);
    assert_eq!(counted(&app, &slot).await, (1, 0, 1));
    assert_eq!(entry(&app, &b, &eb).await["position"], 1);
    assert_eq!(offered_events(&app).await, vec![(ea.clone(), h.clone(), slot.clone())]);
    // Nobody else can take it.
    let r = book(&app, &c, &w.site, &slot).await;
    assert_eq!((r.status.as_u16(), slug(&r)), (409, "slot-full".into()));
    hold(&app, &c.admin, &slot, None).await.problem(409);
    // The hold is A's: listed with its holds, not counted toward its three.
    let mine = app.get("/api/v1/holds?status=active", Some(&a.admin)).await.expect(200);
    assert_eq!(mine.body["items"][0]["waitlist_entry_id"], ea.as_str());
    // A books it with the waiting declaration: the entry is fulfilled.
    convert(&app, &a.admin, &h, &[&da]).await.expect(201);
    assert_eq!(entry(&app, &a, &ea).await["status"], "fulfilled");
    assert_eq!(counted(&app, &slot).await, (1, 1, 0));
    // Counted in /metrics.
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        "waitlist_offers_total{event=\"made\"}",
        "waitlist_offers_total{event=\"taken\"}",
        "holds_total{event=\"converted\"}",
    ] {
        assert!(text.contains(line), "{line} missing from /metrics");
    }
    assert_eq!(entry(&app, &b, &eb).await["status"], "waiting");
}

async fn set_credit(app: &TestApp, officer: &str, c: &Company, class: &str) {
    app.post(
        &format!("/api/v1/enterprises/{}/credit-class", c.enterprise_id),
        Some(officer),
        json!({"credit_class": class}),
    )
    .await
    .expect(200);
}

async fn advanced_certified_enterprises_come_first(app: TestApp) {
    let (w, x, slot, starts, booking) = full_slot(&app).await;
    let a = app.verified_company("wl-gen", &w.customs.officer).await;
    let b = app.verified_company("wl-adv", &w.customs.officer).await;
    set_credit(&app, &w.customs.officer, &b, "advanced_certified").await;
    let (_, r) = join(&app, &a, &w.site, starts, 2).await;
    let ea = r.expect(201).str("/id");
    let (_, r) = join(&app, &b, &w.site, starts, 2).await;
    let r = r.expect(201);
    assert_eq!(r.body["position"], 1, "advanced_certified goes ahead: {}", r.text);
    let eb = r.str("/id");
    assert_eq!(entry(&app, &a, &ea).await["position"], 2);
    // A discredited enterprise is skipped altogether.
    set_credit(&app, &w.customs.officer, &b, "discredited").await;
    assert_eq!(entry(&app, &a, &ea).await["position"], 1);
    set_credit(&app, &w.customs.officer, &b, "advanced_certified").await;
    cancel(&app, &x, &booking).await;
    assert_eq!(entry(&app, &b, &eb).await["status"], "offered");
    assert_eq!(entry(&app, &a, &ea).await["status"], "waiting");
    assert_eq!(counted(&app, &slot).await, (1, 0, 1));
}

async fn an_expired_offer_lapses_and_passes_on(app: TestApp) {
    let (w, x, slot, starts, booking) = full_slot(&app).await;
    let a = app.verified_company("wl-a", &w.customs.officer).await;
    let b = app.verified_company("wl-b", &w.customs.officer).await;
    let (da, r) = join(&app, &a, &w.site, starts, 2).await;
    let ea = r.expect(201).str("/id");
    let (_, r) = join(&app, &b, &w.site, starts, 2).await;
    let eb = r.expect(201).str("/id");
    cancel(&app, &x, &booking).await;
    let ha = entry(&app, &a, &ea).await["hold_id"].as_str().unwrap().to_owned();
    app.state.clock.advance(Duration::minutes(16));
    // The sweep lapses A's offer and offers the place to B.
    let mut e = Value::Null;
    for _ in 0..100 {
        e = entry(&app, &b, &eb).await;
        if e["status"] == "offered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(e["status"], "offered", "{e}");
    assert_ne!(e["hold_id"].as_str().unwrap(), ha);
    assert_eq!(entry(&app, &a, &ea).await["status"], "lapsed");
    assert_eq!(app.get(&format!("/api/v1/holds/{ha}"), Some(&a.admin)).await.expect(200).str("/status"), "expired");
    let r = convert(&app, &a.admin, &ha, &[&da]).await.problem(409);
    assert_eq!(slug(&r), "hold-expired");
    assert_eq!(counted(&app, &slot).await, (1, 0, 1));
    assert_eq!(offered_events(&app).await.len(), 2);
}

async fn entries_are_fulfilled_closed_and_withdrawn(app: TestApp) {
    let (w, x, slot, starts, booking) = full_slot(&app).await;
    let a = app.verified_company("wl-a", &w.customs.officer).await;
    // Fulfilled: its declaration gets booked elsewhere.
    let (da, r) = join(&app, &a, &w.site, starts, 2).await;
    let ea = r.expect(201).str("/id");
    let other = slots_from(&app, &w, starts + Duration::hours(3), 1).await[0]["id"].as_str().unwrap().to_owned();
    app.post("/api/v1/bookings", Some(&a.admin), json!({"declaration_id": da, "slot_id": other})).await.expect(201);
    assert_eq!(entry(&app, &a, &ea).await["status"], "fulfilled");
    // Closed: its declaration is rejected.
    let (db, r) = join(&app, &a, &w.site, starts, 2).await;
    let eb = r.expect(201).str("/id");
    app.post(
        &format!("/api/v1/declarations/{db}/reject"),
        Some(&w.customs.officer),
        json!({"reason": "wrong HS code"}),
    )
    .await
    .expect(200);
    assert_eq!(entry(&app, &a, &eb).await["status"], "closed");
    // Closed: an offered entry whose declaration is cancelled gives its place on.
    let b = app.verified_company("wl-b", &w.customs.officer).await;
    let (dc, r) = join(&app, &a, &w.site, starts, 2).await;
    let ec = r.expect(201).str("/id");
    let (_, r) = join(&app, &b, &w.site, starts, 2).await;
    let ed = r.expect(201).str("/id");
    cancel(&app, &x, &booking).await;
    assert_eq!(entry(&app, &a, &ec).await["status"], "offered");
    app.post(&format!("/api/v1/declarations/{dc}/cancel"), Some(&a.admin), json!({"reason": "order withdrawn"}))
        .await
        .expect(200);
    assert_eq!(entry(&app, &a, &ec).await["status"], "closed");
    assert_eq!(entry(&app, &b, &ed).await["status"], "offered");
    // Withdrawn while offered: the place goes on (to nobody: held drops).
    app.call(Method::DELETE, &format!("/api/v1/waitlist/{ed}"), Some(&b.admin), None).await.expect(204);
    assert_eq!(entry(&app, &b, &ed).await["status"], "withdrawn");
    assert_eq!(counted(&app, &slot).await, (1, 0, 0));
    // Closed: the window passes.
    let (_, r) = join(&app, &b, &w.site, starts, 1).await;
    let ee = r.expect(201).str("/id");
    app.state.clock.set(starts + Duration::hours(1) + Duration::minutes(1));
    let mut status = Value::Null;
    for _ in 0..100 {
        status = entry(&app, &b, &ee).await["status"].clone();
        if status == "closed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "closed");
}

async fn every_way_of_freeing_a_place_offers_it(app: TestApp) {
    let w = world(&app, 1, 60).await;
    let x = app.verified_company("wl-x", &w.customs.officer).await;
    let items = slots_from(&app, &w, Utc::now() + Duration::days(1), 8).await;
    let slot = |i: usize| items[i]["id"].as_str().unwrap().to_owned();
    let start = |i: usize| -> DateTime<Utc> { items[i]["starts_at"].as_str().unwrap().parse().unwrap() };
    let officer = &w.customs.officer;
    let mut n = 0;
    let mut waiter = |i: usize| {
        n += 1;
        let (app, w, tag) = (&app, &w, format!("wl-w{n}"));
        async move {
            let c = app.verified_company(&tag, &w.customs.officer).await;
            let (_, r) = join(app, &c, &w.site, start(i), 1).await;
            let id = r.expect(201).str("/id");
            (c, id)
        }
    };
    // Rescheduled away.
    let b0 = book(&app, &x, &w.site, &slot(0)).await.expect(201).str("/id");
    let (c, e) = waiter(0).await;
    app.post(&format!("/api/v1/bookings/{b0}/reschedule"), Some(&x.admin), json!({"slot_id": slot(5)}))
        .await
        .expect(200);
    assert_eq!(entry(&app, &c, &e).await["status"], "offered", "reschedule");
    // Capacity raised.
    book(&app, &x, &w.site, &slot(1)).await.expect(201);
    let (c, e) = waiter(1).await;
    app.call(Method::PATCH, &format!("/api/v1/slots/{}", slot(1)), Some(officer), Some(json!({"capacity": 2})))
        .await
        .expect(200);
    assert_eq!(entry(&app, &c, &e).await["status"], "offered", "capacity raised");
    // Closure lifted.
    let (c, e) = waiter(2).await;
    let closure = json!({"mode": "road", "from": start(2).to_rfc3339(), "to": (start(2) + Duration::hours(1)).to_rfc3339(),
        "reason": "storm", "rebook": "cancel"});
    let id =
        app.post(&format!("/api/v1/sites/{}/closures", w.site), Some(officer), closure).await.expect(201).str("/id");
    assert_eq!(entry(&app, &c, &e).await["status"], "waiting");
    app.call(Method::DELETE, &format!("/api/v1/closures/{id}"), Some(officer), None).await.expect(204);
    assert_eq!(entry(&app, &c, &e).await["status"], "offered", "closure lifted");
    // Slot reopened.
    app.call(
        Method::PATCH,
        &format!("/api/v1/slots/{}", slot(3)),
        Some(officer),
        Some(json!({"status": "closed", "reason": "x"})),
    )
    .await
    .expect(200);
    let (c, e) = waiter(3).await;
    app.call(Method::PATCH, &format!("/api/v1/slots/{}", slot(3)), Some(officer), Some(json!({"status": "open"})))
        .await
        .expect(200);
    assert_eq!(entry(&app, &c, &e).await["status"], "offered", "reopened");
    // A hold released, and a hold expired (freed by a booking attempt).
    let h = hold(&app, &x.admin, &slot(4), Some(30)).await.expect(201).str("/id");
    let (c, e) = waiter(4).await;
    app.call(Method::DELETE, &format!("/api/v1/holds/{h}"), Some(&x.admin), None).await.expect(204);
    assert_eq!(entry(&app, &c, &e).await["status"], "offered", "hold released");
    hold(&app, &x.admin, &slot(6), Some(30)).await.expect(201);
    let (c, e) = waiter(6).await;
    app.state.clock.advance(Duration::seconds(31));
    let r = book(&app, &x, &w.site, &slot(6)).await;
    assert_eq!((r.status.as_u16(), slug(&r)), (409, "slot-full".into()), "the waiter gets it, not the direct booking");
    assert_eq!(entry(&app, &c, &e).await["status"], "offered", "hold expired");
    for i in [0, 1, 2, 3, 4, 6] {
        counted(&app, &slot(i)).await;
    }
}

async fn an_offer_and_direct_bookings_race_for_one_place(app: TestApp) {
    let (w, x, slot, starts, booking) = full_slot(&app).await;
    let a = app.verified_company("wl-a", &w.customs.officer).await;
    let (_, r) = join(&app, &a, &w.site, starts, 2).await;
    let ea = r.expect(201).str("/id");
    let mut racers = Vec::new();
    for i in 0..8 {
        let c = app.verified_company(&format!("wl-r{i}"), &w.customs.officer).await;
        let d = submitted_declaration(&app, &c.admin, &w.site).await;
        racers.push((c, d));
    }
    let cancel_it = async { cancel(&app, &x, &booking).await };
    let direct =
        futures_util::future::join_all(
            racers.iter().map(|(c, d)| {
                let (app, slot) = (&app, slot.clone());
                async move {
                    app.post("/api/v1/bookings", Some(&c.admin), json!({"declaration_id": d, "slot_id": slot})).await
                }
            }),
        );
    let (_, results) = tokio::join!(cancel_it, direct);
    let won: Vec<&Resp> = results.iter().filter(|r| r.status.as_u16() == 201).collect();
    for r in results.iter().filter(|r| r.status.as_u16() != 201) {
        assert_eq!((r.status.as_u16(), slug(r)), (409, "slot-full".into()), "{}", r.text);
    }
    let e = entry(&app, &a, &ea).await;
    // Exactly one gets the place: the waiting entry (a direct booking can
    // only win if it committed before the cancel, when the slot was full).
    assert!(won.is_empty(), "a direct booking took a place being offered");
    assert_eq!(e["status"], "offered");
    assert_eq!(counted(&app, &slot).await, (1, 0, 1));
}

async fn two_instances_never_offer_one_place_twice(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let second = spawn_app_on(app.backend, &app.db_url).await;
    let (slot, starts) = first_slot(&app, &w).await;
    let mut owners = Vec::new();
    for i in 0..4 {
        let x = app.verified_company(&format!("wl-x{i}"), &w.customs.officer).await;
        let id = book(&app, &x, &w.site, &slot).await.expect(201).str("/id");
        owners.push((x, id));
    }
    let mut waiting = Vec::new();
    for i in 0..6 {
        let c = app.verified_company(&format!("wl-q{i}"), &w.customs.officer).await;
        let (_, r) = join(&app, &c, &w.site, starts, 2).await;
        let e = r.expect(201).str("/id");
        waiting.push((c, e));
    }
    // Four places freed at once, half through each instance.
    futures_util::future::join_all(owners.iter().enumerate().map(|(i, (x, b))| {
        let api = if i % 2 == 0 { &*app } else { &*second };
        async move {
            api.post(&format!("/api/v1/bookings/{b}/cancel"), Some(&x.admin), json!({})).await.expect(200);
        }
    }))
    .await;
    let mut offered = 0;
    for (c, e) in &waiting {
        if entry(&app, c, e).await["status"] == "offered" {
            offered += 1;
        }
    }
    assert_eq!(offered, 4);
    assert_eq!(counted(&app, &slot).await, (4, 0, 4));
    let events = offered_events(&app).await;
    let holds: std::collections::HashSet<&String> = events.iter().map(|(_, h, _)| h).collect();
    let entries: std::collections::HashSet<&String> = events.iter().map(|(e, _, _)| e).collect();
    assert_eq!((events.len(), holds.len(), entries.len()), (4, 4, 4));
    // Every offer expires; both instances sweep at once: each place is
    // freed once and offered on once (two entries still wait).
    app.state.clock.advance(Duration::minutes(16));
    second.state.clock.advance(Duration::minutes(16));
    let mut lapsed = 0;
    for _ in 0..100 {
        lapsed = 0;
        for (c, e) in &waiting {
            if entry(&app, c, e).await["status"] == "lapsed" {
                lapsed += 1;
            }
        }
        if lapsed == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(lapsed, 4);
    // Both remaining entries got one offer each, and no place was freed twice.
    let (cap, booked, held) = counted(&app, &slot).await;
    assert_eq!((cap, booked, held), (4, 0, 2));
    let events = offered_events(&app).await;
    let entries: std::collections::HashSet<&String> = events.iter().map(|(e, _, _)| e).collect();
    assert_eq!((events.len(), entries.len()), (6, 6));
}
