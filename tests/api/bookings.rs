//! Bookings: capacity under concurrency, shares, idempotency, cancel,
//! reschedule, gate actions, refusal reasons and cascades.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::helpers::{spawn_app_with, Backend, Company, Customs, TestApp};
use crate::slots::{create_schedule, create_site};

api_tests!(
    sixty_four_clients_on_one_slot_never_overbook,
    idempotency_keys_replay_refuse_and_scope,
    concurrent_retries_with_one_key_book_once,
    one_declaration_booked_at_once_onto_many_slots_books_once,
    double_cancel_frees_once,
    reschedule_moves_atomically,
    every_refusal_says_why,
    rejection_and_cancellation_cascade,
    gate_actions_check_in_complete_no_show,
    displacement_and_closing_cancel_latest_bookings,
    company_cancel_cut_off,
    tenants_see_only_their_bookings,
    a_suspended_enterprise_changes_nothing_and_every_write_is_audited,
);

/// A site with a road schedule, customs accounts, and the site id.
pub struct World {
    pub customs: Customs,
    pub site: String,
}

pub async fn world(app: &TestApp, capacity: i64, slot_minutes: i64) -> World {
    let customs = app.customs().await;
    let site = create_site(app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    create_schedule(
        app,
        &customs.supervisor,
        &site,
        json!({"mode": "road", "slot_minutes": slot_minutes, "capacity": capacity}),
    )
    .await
    .expect(201);
    World { customs, site }
}

fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B")
}

/// Open slots of the site starting from `from`.
pub async fn slots_from(app: &TestApp, w: &World, from: DateTime<Utc>, n: usize) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/slots?site_id={}&mode=road&from={}&limit={n}", w.site, enc(from)),
            Some(&w.customs.officer),
        )
        .await
        .expect(200);
    r.body["items"].as_array().unwrap().clone()
}

/// A slot a day ahead (well inside notice and horizon).
pub async fn tomorrow_slot(app: &TestApp, w: &World, offset: usize) -> String {
    let items = slots_from(app, w, Utc::now() + Duration::days(1), offset + 1).await;
    items[offset]["id"].as_str().unwrap().to_owned()
}

pub use crate::support::{declaration_body, submitted_declaration};

pub async fn book_slot(app: &TestApp, token: &str, declaration: &str, slot: &str) -> crate::helpers::Resp {
    book(app, token, declaration, slot).await
}

async fn book(app: &TestApp, token: &str, declaration: &str, slot: &str) -> crate::helpers::Resp {
    app.post("/api/v1/bookings", Some(token), json!({"declaration_id": declaration, "slot_id": slot})).await
}

async fn slot_state(app: &TestApp, token: &str, slot: &str) -> (i64, i64, String) {
    let r = app.get(&format!("/api/v1/slots/{slot}"), Some(token)).await.expect(200);
    (r.body["capacity"].as_i64().unwrap(), r.body["booked"].as_i64().unwrap(), r.str("/status"))
}

async fn sixty_four_clients_on_one_slot_never_overbook(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let slot = tomorrow_slot(&app, &w, 3).await;
    let mut companies: Vec<Company> = Vec::new();
    for tag in ["north", "south", "east", "west"] {
        companies.push(app.verified_company(tag, &w.customs.officer).await);
    }
    // 16 submitted declarations per enterprise: one booking attempt each.
    let mut attempts = Vec::new();
    for c in &companies {
        for _ in 0..16 {
            attempts.push((
                c.enterprise_id.clone(),
                c.admin.clone(),
                submitted_declaration(&app, &c.admin, &w.site).await,
            ));
        }
    }
    let futures = attempts.iter().map(|(ent, token, decl)| {
        let app = &app;
        let slot = slot.clone();
        async move { (ent.clone(), book(app, token, decl, &slot).await) }
    });
    let results = futures_util::future::join_all(futures).await;
    let mut booked_ids = Vec::new();
    let mut per_enterprise = std::collections::HashMap::<String, i64>::new();
    for (ent, r) in &results {
        match r.status.as_u16() {
            201 => {
                booked_ids.push(r.str("/id"));
                *per_enterprise.entry(ent.clone()).or_default() += 1;
            }
            409 => {
                let kind = r.body["type"].as_str().unwrap();
                assert!(kind.ends_with("/slot-full") || kind.ends_with("/share-exceeded"), "{}", r.text);
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(booked_ids.len(), 10, "exactly the capacity is booked");
    assert!(per_enterprise.values().all(|&n| n <= 5), "share exceeded: {per_enterprise:?}");
    let (_, booked, _) = slot_state(&app, &w.customs.officer, &slot).await;
    assert_eq!(booked, 10);
    // Every 2xx booking exists exactly once, confirmed, on that slot.
    let listed =
        app.get(&format!("/api/v1/bookings?slot_id={slot}&limit=200"), Some(&w.customs.officer)).await.expect(200);
    let mut listed_ids: Vec<String> =
        listed.body["items"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_owned()).collect();
    listed_ids.sort();
    booked_ids.sort();
    assert_eq!(listed_ids, booked_ids);
}

async fn idempotency_keys_replay_refuse_and_scope(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let a = app.verified_company("idem-a", &w.customs.officer).await;
    let b = app.verified_company("idem-b", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let other_slot = tomorrow_slot(&app, &w, 1).await;
    let d1 = submitted_declaration(&app, &a.admin, &w.site).await;
    let body = json!({"declaration_id": d1, "slot_id": slot});
    let key = [("Idempotency-Key", "order-4711")];
    let first =
        app.call_with(Method::POST, "/api/v1/bookings", Some(&a.admin), Some(body.clone()), &key).await.expect(201);
    assert_eq!(first.body["status"], "confirmed");
    // Same key and body (keys in another order): the first answer, byte for byte, nothing booked.
    let reordered: Value = serde_json::from_str(&format!(r#"{{"slot_id":"{slot}","declaration_id":"{d1}"}}"#)).unwrap();
    let replay =
        app.call_with(Method::POST, "/api/v1/bookings", Some(&a.admin), Some(reordered), &key).await.expect(201);
    assert_eq!(replay.text, first.text);
    assert_eq!(replay.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(slot_state(&app, &a.admin, &slot).await.1, 1);
    // Same key, another body: 422.
    let other = json!({"declaration_id": d1, "slot_id": other_slot});
    app.call_with(Method::POST, "/api/v1/bookings", Some(&a.admin), Some(other), &key).await.problem(422);
    // A refusal is not remembered: the key stays free for a corrected retry.
    let d2 = submitted_declaration(&app, &a.admin, &w.site).await;
    let key2 = [("Idempotency-Key", "order-4712")];
    let draft =
        app.post("/api/v1/declarations", Some(&a.admin), declaration_body(&w.site)).await.expect(201).str("/id");
    app.call_with(
        Method::POST,
        "/api/v1/bookings",
        Some(&a.admin),
        Some(json!({"declaration_id": draft, "slot_id": slot})),
        &key2,
    )
    .await
    .problem(409);
    app.call_with(
        Method::POST,
        "/api/v1/bookings",
        Some(&a.admin),
        Some(json!({"declaration_id": d2, "slot_id": slot})),
        &key2,
    )
    .await
    .expect(201);
    // Keys are scoped to the enterprise: B may use the same key for its own booking.
    let db = submitted_declaration(&app, &b.admin, &w.site).await;
    let rb = app
        .call_with(
            Method::POST,
            "/api/v1/bookings",
            Some(&b.admin),
            Some(json!({"declaration_id": db, "slot_id": slot})),
            &key,
        )
        .await
        .expect(201);
    assert_ne!(rb.str("/id"), first.str("/id"));
    assert_eq!(slot_state(&app, &a.admin, &slot).await.1, 3);
    // A malformed key is refused.
    app.call_with(Method::POST, "/api/v1/bookings", Some(&a.admin), Some(body.clone()), &[("Idempotency-Key", "")])
        .await
        .problem(422);
    // Once the booking is cancelled, its declaration is bookable again: a
    // late retry with the key still gets the first answer, and books nothing.
    app.post(&format!("/api/v1/bookings/{}/cancel", first.str("/id")), Some(&a.admin), json!({})).await.expect(200);
    let late = app.call_with(Method::POST, "/api/v1/bookings", Some(&a.admin), Some(body), &key).await.expect(201);
    assert_eq!(late.text, first.text);
    assert_eq!(late.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(slot_state(&app, &a.admin, &slot).await.1, 2);
}

async fn concurrent_retries_with_one_key_book_once(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let a = app.verified_company("retry", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    let body = json!({"declaration_id": d, "slot_id": slot});
    let tries = (0..8).map(|_| {
        app.call_with(
            Method::POST,
            "/api/v1/bookings",
            Some(&a.admin),
            Some(body.clone()),
            &[("Idempotency-Key", "same")],
        )
    });
    let results = futures_util::future::join_all(tries).await;
    let created: Vec<&crate::helpers::Resp> = results.iter().filter(|r| r.status.as_u16() == 201).collect();
    assert!(!created.is_empty());
    for r in &results {
        match r.status.as_u16() {
            201 => assert_eq!(r.text, created[0].text, "a replay differs from the first answer"),
            409 => assert!(r.body["type"].as_str().unwrap().ends_with("/idempotency-key-in-flight"), "{}", r.text),
            s => panic!("unexpected {s}: {}", r.text),
        }
    }
    assert_eq!(slot_state(&app, &a.admin, &slot).await.1, 1, "one key books once");
}

/// Eight requests (no key) book one declaration onto eight slots at once:
/// exactly one is booked, the others are told `already-booked`. On
/// PostgreSQL the requests queue on the declaration's row lock, and those
/// behind the first may read an active-booking test from before its commit:
/// the unique index on active bookings answers for them.
async fn one_declaration_booked_at_once_onto_many_slots_books_once(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let a = app.verified_company("one-decl", &w.customs.officer).await;
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    let mut slots = Vec::new();
    for i in 0..8 {
        slots.push(tomorrow_slot(&app, &w, i).await);
    }
    let tries = slots.iter().map(|slot| book(&app, &a.admin, &d, slot));
    let results = futures_util::future::join_all(tries).await;
    let mut booked = 0;
    for r in &results {
        match r.status.as_u16() {
            201 => booked += 1,
            409 => assert!(r.body["type"].as_str().unwrap().ends_with("/already-booked"), "{}", r.text),
            s => panic!("unexpected {s}: {}", r.text),
        }
    }
    assert_eq!(booked, 1, "one declaration, one active booking");
    let mut places = 0;
    for slot in &slots {
        places += slot_state(&app, &a.admin, slot).await.1;
    }
    assert_eq!(places, 1, "exactly one place taken over the eight slots");
}

async fn double_cancel_frees_once(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let a = app.verified_company("cancel", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let d1 = submitted_declaration(&app, &a.admin, &w.site).await;
    let d2 = submitted_declaration(&app, &a.admin, &w.site).await;
    let b1 = book(&app, &a.admin, &d1, &slot).await.expect(201).str("/id");
    book(&app, &a.admin, &d2, &slot).await.expect(201);
    assert_eq!(slot_state(&app, &a.admin, &slot).await.1, 2);
    let path = format!("/api/v1/bookings/{b1}/cancel");
    let (r1, r2) = tokio::join!(app.post(&path, Some(&a.admin), json!({})), app.post(&path, Some(&a.admin), json!({})));
    let mut codes = [r1.status.as_u16(), r2.status.as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 409], "{} / {}", r1.text, r2.text);
    assert_eq!(slot_state(&app, &a.admin, &slot).await.1, 1, "the place was freed exactly once");
    let b = app.get(&format!("/api/v1/bookings/{b1}"), Some(&a.admin)).await.expect(200);
    assert_eq!(b.body["status"], "cancelled");
    // The declaration can be booked again.
    book(&app, &a.admin, &d1, &slot).await.expect(201);
}

async fn reschedule_moves_atomically(app: TestApp) {
    let w = world(&app, 2, 60).await;
    let a = app.verified_company("move-a", &w.customs.officer).await;
    let b = app.verified_company("move-b", &w.customs.officer).await;
    let s1 = tomorrow_slot(&app, &w, 0).await;
    let s2 = tomorrow_slot(&app, &w, 1).await;
    let da = submitted_declaration(&app, &a.admin, &w.site).await;
    let booking = book(&app, &a.admin, &da, &s1).await.expect(201).str("/id");
    // Fill s2 (capacity 2, share 1 each): B takes one, a second A booking takes the other.
    let db = submitted_declaration(&app, &b.admin, &w.site).await;
    book(&app, &b.admin, &db, &s2).await.expect(201);
    let da2 = submitted_declaration(&app, &a.admin, &w.site).await;
    book(&app, &a.admin, &da2, &s2).await.expect(201);
    let r = app
        .post(&format!("/api/v1/bookings/{booking}/reschedule"), Some(&a.admin), json!({"slot_id": s2}))
        .await
        .problem(409);
    assert!(r.body["type"].as_str().unwrap().ends_with("/slot-full"), "{}", r.text);
    assert_eq!(slot_state(&app, &a.admin, &s1).await.1, 1, "old booking kept");
    assert_eq!(slot_state(&app, &a.admin, &s2).await.1, 2);
    let kept = app.get(&format!("/api/v1/bookings/{booking}"), Some(&a.admin)).await.expect(200);
    assert_eq!(kept.body["slot_id"], s1.as_str());
    // To a slot with room where A already holds its share (1 of capacity 2): refused, nothing moves.
    let s4 = tomorrow_slot(&app, &w, 3).await;
    let da3 = submitted_declaration(&app, &a.admin, &w.site).await;
    book(&app, &a.admin, &da3, &s4).await.expect(201);
    let r = app
        .post(&format!("/api/v1/bookings/{booking}/reschedule"), Some(&a.admin), json!({"slot_id": s4}))
        .await
        .problem(409);
    assert!(r.body["type"].as_str().unwrap().ends_with("/share-exceeded"), "{}", r.text);
    assert_eq!(slot_state(&app, &a.admin, &s1).await.1, 1, "old booking kept");
    assert_eq!(slot_state(&app, &a.admin, &s4).await.1, 1, "no place taken");
    // To a free slot: moved, old freed, new taken.
    let s3 = tomorrow_slot(&app, &w, 2).await;
    let moved = app
        .post(&format!("/api/v1/bookings/{booking}/reschedule"), Some(&a.admin), json!({"slot_id": s3}))
        .await
        .expect(200);
    assert_eq!(moved.body["slot_id"], s3.as_str());
    assert_eq!(moved.body["status"], "confirmed");
    assert_eq!(slot_state(&app, &a.admin, &s1).await.1, 0);
    assert_eq!(slot_state(&app, &a.admin, &s3).await.1, 1);
    app.post(&format!("/api/v1/bookings/{booking}/reschedule"), Some(&a.admin), json!({"slot_id": s3}))
        .await
        .problem(422);
}

async fn every_refusal_says_why(app: TestApp) {
    let w = world(&app, 2, 60).await;
    let sup = w.customs.supervisor.clone();
    let officer = w.customs.officer.clone();
    let a = app.verified_company("refuse", &officer).await;
    let kind = |r: &crate::helpers::Resp| r.body["type"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();

    // slot-full and share-exceeded (capacity 2: share 1).
    let s_full = tomorrow_slot(&app, &w, 0).await;
    let d1 = submitted_declaration(&app, &a.admin, &w.site).await;
    let d2 = submitted_declaration(&app, &a.admin, &w.site).await;
    book(&app, &a.admin, &d1, &s_full).await.expect(201);
    let r = book(&app, &a.admin, &d2, &s_full).await.problem(409);
    assert_eq!(kind(&r), "share-exceeded");
    let b = app.verified_company("refuse-b", &officer).await;
    let db1 = submitted_declaration(&app, &b.admin, &w.site).await;
    book(&app, &b.admin, &db1, &s_full).await.expect(201);
    let c = app.verified_company("refuse-c", &officer).await;
    let dc = submitted_declaration(&app, &c.admin, &w.site).await;
    assert_eq!(kind(&book(&app, &c.admin, &dc, &s_full).await.problem(409)), "slot-full");

    // already-booked.
    let s_other = tomorrow_slot(&app, &w, 1).await;
    assert_eq!(kind(&book(&app, &a.admin, &d1, &s_other).await.problem(409)), "already-booked");
    // too-late: the next slot starts within the 120-minute notice.
    let soon = slots_from(&app, &w, Utc::now() + Duration::minutes(1), 1).await;
    let r = book(&app, &a.admin, &d2, soon[0]["id"].as_str().unwrap()).await.problem(422);
    assert_eq!(kind(&r), "too-late");
    // slot-started: a slot of today that began already.
    let started = slots_from(&app, &w, Utc::now() - Duration::minutes(59), 1).await;
    let r = book(&app, &a.admin, &d2, started[0]["id"].as_str().unwrap()).await.problem(422);
    assert!(matches!(kind(&r).as_str(), "slot-started" | "too-late"), "{}", r.text);
    // slot-closed.
    let s_closed = tomorrow_slot(&app, &w, 2).await;
    app.call(Method::PATCH, &format!("/api/v1/slots/{s_closed}"), Some(&officer), Some(json!({"status": "closed"})))
        .await
        .expect(200);
    assert_eq!(kind(&book(&app, &a.admin, &d2, &s_closed).await.problem(409)), "slot-closed");
    // declaration-state: a draft cannot be booked.
    let draft =
        app.post("/api/v1/declarations", Some(&a.admin), declaration_body(&w.site)).await.expect(201).str("/id");
    let s_free = tomorrow_slot(&app, &w, 3).await;
    assert_eq!(kind(&book(&app, &a.admin, &draft, &s_free).await.problem(409)), "declaration-state");
    // wrong-site-or-mode: a rail slot for a road declaration.
    create_schedule(&app, &sup, &w.site, json!({"mode": "rail", "capacity": 5})).await.expect(201);
    let rail = app
        .get(
            &format!("/api/v1/slots?site_id={}&mode=rail&from={}&limit=1", w.site, enc(Utc::now() + Duration::days(1))),
            Some(&officer),
        )
        .await
        .expect(200);
    let r = book(&app, &a.admin, &d2, rail.body["items"][0]["id"].as_str().unwrap()).await.problem(422);
    assert_eq!(kind(&r), "wrong-site-or-mode");
    // discredited.
    let e = app.verified_company("refuse-e", &officer).await;
    let de = submitted_declaration(&app, &e.admin, &w.site).await;
    app.post(
        &format!("/api/v1/enterprises/{}/credit-class", e.enterprise_id),
        Some(&officer),
        json!({"credit_class": "discredited"}),
    )
    .await
    .expect(200);
    assert_eq!(kind(&book(&app, &e.admin, &de, &s_free).await.problem(403)), "discredited");
    // suspended and pending enterprises.
    let f = app.verified_company("refuse-f", &officer).await;
    let df = submitted_declaration(&app, &f.admin, &w.site).await;
    app.post(&format!("/api/v1/enterprises/{}/suspend", f.enterprise_id), Some(&officer), json!({"reason": "audit"}))
        .await
        .expect(200);
    book(&app, &f.admin, &df, &s_free).await.problem(403);
    let p = app.register_company("refuse-p").await;
    let dp = app.post("/api/v1/declarations", Some(&p.admin), declaration_body(&w.site)).await.expect(201).str("/id");
    assert_eq!(kind(&book(&app, &p.admin, &dp, &s_free).await.problem(403)), "enterprise-not-verified");
    // Officers do not book; unknown slot or declaration is 404; bad body 400/422.
    book(&app, &officer, &d2, &s_free).await.problem(403);
    let missing_slot = uuid::Uuid::now_v7().to_string();
    let r = book(&app, &a.admin, &d2, &missing_slot).await.problem(404);
    assert!(r.body["detail"].as_str().unwrap().contains(&format!("slot with id {missing_slot}")), "{}", r.body);
    let missing_declaration = uuid::Uuid::now_v7().to_string();
    let r = book(&app, &a.admin, &missing_declaration, &s_free).await.problem(404);
    assert!(r.body["detail"].as_str().unwrap().contains(&format!("declaration with id {missing_declaration}")));
    app.post("/api/v1/bookings", Some(&a.admin), json!({"declaration_id": 5, "slot_id": s_free})).await.problem(400);
    app.post("/api/v1/bookings", Some(&a.admin), json!({"slot_id": s_free})).await.problem(422);
    // Nothing was booked by any refusal.
    assert_eq!(slot_state(&app, &officer, &s_free).await.1, 0);
}

async fn beyond_horizon_is_refused(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.slots.horizon_days = 40).await;
    let w = world(&app, 5, 60).await;
    let a = app.verified_company("far", &w.customs.officer).await;
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    let far = slots_from(&app, &w, Utc::now() + Duration::days(31), 1).await;
    let r = book(&app, &a.admin, &d, far[0]["id"].as_str().unwrap()).await.problem(422);
    assert!(r.body["type"].as_str().unwrap().ends_with("/beyond-horizon"), "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_horizon_sqlite() {
    beyond_horizon_is_refused(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clearway_pg), ignore = "set TEST_DATABASE_URL to run on PostgreSQL")]
async fn beyond_horizon_postgres() {
    beyond_horizon_is_refused(Backend::Postgres).await;
}

async fn rejection_and_cancellation_cascade(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let a = app.verified_company("cascade", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let d1 = submitted_declaration(&app, &a.admin, &w.site).await;
    let d2 = submitted_declaration(&app, &a.admin, &w.site).await;
    let b1 = book(&app, &a.admin, &d1, &slot).await.expect(201).str("/id");
    let b2 = book(&app, &a.admin, &d2, &slot).await.expect(201).str("/id");
    assert_eq!(slot_state(&app, &a.admin, &slot).await.1, 2);
    app.post(
        &format!("/api/v1/declarations/{d1}/reject"),
        Some(&w.customs.officer),
        json!({"reason": "invoice missing"}),
    )
    .await
    .expect(200);
    let r = app.get(&format!("/api/v1/bookings/{b1}"), Some(&a.admin)).await.expect(200);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(slot_state(&app, &a.admin, &slot).await.1, 1);
    app.post(&format!("/api/v1/declarations/{d2}/cancel"), Some(&a.admin), json!({"reason": "order withdrawn"}))
        .await
        .expect(200);
    let r = app.get(&format!("/api/v1/bookings/{b2}"), Some(&a.admin)).await.expect(200);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(slot_state(&app, &a.admin, &slot).await.1, 0);
    // The cascade is in the booking's audit trail.
    let audit = app
        .get(&format!("/api/v1/audit?entity_type=booking&entity_id={b1}"), Some(&w.customs.officer))
        .await
        .expect(200);
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["book", "cancel"]);
}

async fn gate_actions_check_in_complete_no_show(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let a = app.verified_company("gate", &w.customs.officer).await;
    let officer = w.customs.officer.clone();
    let slot = tomorrow_slot(&app, &w, 0).await;
    let d1 = submitted_declaration(&app, &a.admin, &w.site).await;
    let d2 = submitted_declaration(&app, &a.admin, &w.site).await;
    let truck = json!({"declaration_id": d1, "slot_id": slot, "vehicle": {"plate": "01KZ123AB", "country": "KZ"}});
    let booked = app.post("/api/v1/bookings", Some(&a.admin), truck).await.expect(201);
    let b1 = booked.str("/id");
    let b2 = book(&app, &a.admin, &d2, &slot).await.expect(201).str("/id");
    // Companies do not run the gate.
    app.post(&format!("/api/v1/bookings/{b1}/check-in"), Some(&a.admin), json!({})).await.problem(403);
    // complete before check-in is an illegal transition.
    app.post(&format!("/api/v1/bookings/{b1}/complete"), Some(&officer), json!({})).await.problem(409);
    // The truck arrives when its slot starts, its declaration approved.
    app.post(&format!("/api/v1/declarations/{d1}/approve"), Some(&officer), json!({"risk_lane": "green"}))
        .await
        .expect(200);
    let starts_at: DateTime<Utc> = booked.str("/starts_at").parse().unwrap();
    let ends_at: DateTime<Utc> = booked.str("/ends_at").parse().unwrap();
    app.state.clock.set(starts_at);
    let r = app.post(&format!("/api/v1/bookings/{b1}/check-in"), Some(&officer), json!({})).await.expect(200);
    assert_eq!(r.body["status"], "checked_in");
    let r = app.post(&format!("/api/v1/bookings/{b1}/complete"), Some(&officer), json!({})).await.expect(200);
    assert_eq!(r.body["status"], "completed");
    // No-show only after the slot ended.
    let r = app.post(&format!("/api/v1/bookings/{b2}/no-show"), Some(&officer), json!({})).await.problem(422);
    assert!(r.body["type"].as_str().unwrap().ends_with("/slot-not-ended"));
    // Time passes: the application's clock moves past the slot's end (but
    // not past the arrival window, after which the sweep marks it itself).
    app.state.clock.set(ends_at + Duration::minutes(1));
    let r = app.post(&format!("/api/v1/bookings/{b2}/no-show"), Some(&officer), json!({})).await.expect(200);
    assert_eq!(r.body["status"], "no_show");
    app.post(&format!("/api/v1/bookings/{b2}/cancel"), Some(&a.admin), json!({})).await.problem(409);
}

async fn displacement_and_closing_cancel_latest_bookings(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let officer = w.customs.officer.clone();
    let a = app.verified_company("disp-a", &officer).await;
    let b = app.verified_company("disp-b", &officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let mut ids = Vec::new();
    for c in [&a, &a, &b] {
        let d = submitted_declaration(&app, &c.admin, &w.site).await;
        ids.push(book(&app, &c.admin, &d, &slot).await.expect(201).str("/id"));
    }
    let path = format!("/api/v1/slots/{slot}");
    let r = app.call(Method::PATCH, &path, Some(&officer), Some(json!({"capacity": 1}))).await.problem(409);
    assert!(r.body["type"].as_str().unwrap().ends_with("/capacity-below-booked"));
    assert_eq!(slot_state(&app, &officer, &slot).await, (4, 3, "open".to_owned()));
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&officer),
            Some(json!({"capacity": 1, "displace": true, "reason": "lane closed"})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["capacity"], 1);
    assert_eq!(r.body["booked"], 1);
    // The two latest were displaced, with the reason; the first is kept.
    let first = app.get(&format!("/api/v1/bookings/{}", ids[0]), Some(&a.admin)).await.expect(200);
    assert_eq!(first.body["status"], "confirmed");
    for id in &ids[1..] {
        let r = app.get(&format!("/api/v1/bookings/{id}"), Some(&officer)).await.expect(200);
        assert_eq!(r.body["status"], "cancelled");
        assert_eq!(r.body["cancel_reason"], "displaced: lane closed");
    }
    // Closing cancels the rest.
    app.call(Method::PATCH, &path, Some(&officer), Some(json!({"status": "closed", "reason": "snow"})))
        .await
        .expect(200);
    assert_eq!(slot_state(&app, &officer, &slot).await, (1, 0, "closed".to_owned()));
    let first = app.get(&format!("/api/v1/bookings/{}", ids[0]), Some(&a.admin)).await.expect(200);
    assert_eq!(first.body["status"], "cancelled");
    assert_eq!(first.body["cancel_reason"], "displaced: snow");
}

async fn company_cancel_cut_off(app: TestApp) {
    // 15-minute slots: one always starts 30–45 minutes from now.
    let w = world(&app, 4, 15).await;
    let officer = w.customs.officer.clone();
    let a = app.verified_company("cutoff", &officer).await;
    app.post(
        &format!("/api/v1/enterprises/{}/credit-class", a.enterprise_id),
        Some(&officer),
        json!({"credit_class": "advanced_certified"}),
    )
    .await
    .expect(200);
    let soon = slots_from(&app, &w, Utc::now() + Duration::minutes(31), 1).await;
    let slot = soon[0]["id"].as_str().unwrap().to_owned();
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    // Advanced-certified: 30 minutes' notice is enough.
    let b = book(&app, &a.admin, &d, &slot).await.expect(201).str("/id");
    // Within the 60-minute cut-off the company cannot cancel…
    let r = app.post(&format!("/api/v1/bookings/{b}/cancel"), Some(&a.admin), json!({})).await.problem(422);
    assert!(r.body["type"].as_str().unwrap().ends_with("/cancel-cutoff"));
    // …customs can, with a reason.
    app.post(&format!("/api/v1/bookings/{b}/cancel"), Some(&officer), json!({})).await.problem(422);
    let r = app
        .post(&format!("/api/v1/bookings/{b}/cancel"), Some(&officer), json!({"reason": "gate closed"}))
        .await
        .expect(200);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["cancelled_by_role"], "officer");
}

async fn tenants_see_only_their_bookings(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let a = app.verified_company("ten-a", &w.customs.officer).await;
    let b = app.verified_company("ten-b", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let da = submitted_declaration(&app, &a.admin, &w.site).await;
    let ba = book(&app, &a.admin, &da, &slot).await.expect(201).str("/id");
    // B cannot see, cancel or move A's booking, nor book A's declaration.
    app.get(&format!("/api/v1/bookings/{ba}"), Some(&b.admin)).await.problem(404);
    app.post(&format!("/api/v1/bookings/{ba}/cancel"), Some(&b.admin), json!({})).await.problem(404);
    app.post(&format!("/api/v1/bookings/{ba}/reschedule"), Some(&b.admin), json!({"slot_id": slot})).await.problem(404);
    book(&app, &b.admin, &da, &slot).await.problem(404);
    let list = app.get("/api/v1/bookings", Some(&b.admin)).await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    let list = app.get("/api/v1/bookings", Some(&a.admin)).await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    // A clerk of A books and sees A's bookings.
    let clerk = app.add_clerk(&a).await;
    app.get(&format!("/api/v1/bookings/{ba}"), Some(&clerk)).await.expect(200);
    app.get(&format!("/api/v1/bookings/{ba}"), Some(&w.customs.officer)).await.expect(200);
}

/// Two instances on one PostgreSQL database, hammered together: the capacity
/// holds because it lives in the database, not in either process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clearway_pg), ignore = "set TEST_DATABASE_URL to run on PostgreSQL")]
async fn two_instances_on_one_postgres_never_overbook() {
    let one = crate::helpers::spawn_app(Backend::Postgres).await;
    let two = crate::helpers::spawn_app_on(Backend::Postgres, &one.db_url).await;
    let w = world(&one, 10, 60).await;
    let slot = tomorrow_slot(&one, &w, 5).await;
    let mut attempts = Vec::new();
    for tag in ["i-north", "i-south", "i-east", "i-west"] {
        let c = one.verified_company(tag, &w.customs.officer).await;
        for i in 0..16 {
            let d = submitted_declaration(&one, &c.admin, &w.site).await;
            // Alternate instances, and retry each request once with its key on the other one.
            attempts.push((c.enterprise_id.clone(), c.admin.clone(), d, i % 2 == 0));
        }
    }
    let futures = attempts.iter().map(|(ent, token, decl, first)| {
        let (a, b) = if *first { (&one, &two) } else { (&two, &one) };
        let body = json!({"declaration_id": decl, "slot_id": slot});
        let key = format!("k-{decl}");
        async move {
            let r1 = a
                .call_with(
                    Method::POST,
                    "/api/v1/bookings",
                    Some(token),
                    Some(body.clone()),
                    &[("Idempotency-Key", &key)],
                )
                .await;
            let r2 = b
                .call_with(Method::POST, "/api/v1/bookings", Some(token), Some(body), &[("Idempotency-Key", &key)])
                .await;
            (ent.clone(), r1, r2)
        }
    });
    let results = futures_util::future::join_all(futures).await;
    let mut created = std::collections::HashSet::new();
    let mut per_enterprise = std::collections::HashMap::<String, i64>::new();
    for (ent, r1, r2) in &results {
        for r in [r1, r2] {
            assert!(r.status.as_u16() < 500, "{}", r.text);
        }
        if r1.status.as_u16() == 201 {
            // The retry on the other instance replays the same booking.
            assert_eq!(r2.status.as_u16(), 201, "{}", r2.text);
            assert_eq!(r1.text, r2.text);
            if created.insert(r1.str("/id")) {
                *per_enterprise.entry(ent.clone()).or_default() += 1;
            }
        } else {
            assert_eq!(r1.status.as_u16(), 409, "{}", r1.text);
        }
    }
    assert_eq!(created.len(), 10);
    assert!(per_enterprise.values().all(|&n| n <= 5));
    assert_eq!(slot_state(&two, &w.customs.officer, &slot).await.1, 10);
    drop(two);
}

/// The exact status of every endpoint added after identity, for each kind
/// of caller (the identity matrix lives in identity.rs).
async fn role_matrix_of_sites_declarations_bookings_webhooks(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let officer = w.customs.officer.clone();
    let sup = w.customs.supervisor.clone();
    let a = app.verified_company("mx-a", &officer).await;
    let b = app.verified_company("mx-b", &officer).await;
    let clerk = app.add_clerk(&a).await;
    let site = w.site.clone();
    let slot = tomorrow_slot(&app, &w, 0).await;
    let da = submitted_declaration(&app, &a.admin, &w.site).await;
    let booking = book(&app, &a.admin, &da, &slot).await.expect(201).str("/id");
    let db = submitted_declaration(&app, &b.admin, &w.site).await;
    let schedule = app.get(&format!("/api/v1/sites/{site}/schedules"), Some(&sup)).await.expect(200).body["items"][0]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hook = app
        .post(
            "/api/v1/webhooks",
            Some(&a.admin),
            json!({"url": "https://erp.example.com/h", "events": ["booking.confirmed"]}),
        )
        .await
        .expect(201)
        .str("/id");
    let none = uuid::Uuid::now_v7().to_string();

    let callers: [(&str, Option<&str>); 6] = [
        ("anonymous", None),
        ("company A admin", Some(&a.admin)),
        ("company A clerk", Some(&clerk)),
        ("company B admin", Some(&b.admin)),
        ("officer", Some(&officer)),
        ("supervisor", Some(&sup)),
    ];
    let bad_site = json!({"code": "bad"});
    // Bodies are chosen so that an allowed caller reaches validation (422) or
    // a state conflict (409) without changing anything.
    let cases: Vec<(Method, String, Value, [u16; 6])> = vec![
        (Method::GET, "/api/v1/sites".into(), Value::Null, [401, 200, 200, 200, 200, 200]),
        (Method::POST, "/api/v1/sites".into(), bad_site.clone(), [401, 403, 403, 403, 403, 422]),
        (Method::GET, format!("/api/v1/sites/{site}"), Value::Null, [401, 200, 200, 200, 200, 200]),
        (Method::PATCH, format!("/api/v1/sites/{site}"), json!({"name": ""}), [401, 403, 403, 403, 403, 422]),
        (Method::GET, format!("/api/v1/sites/{site}/schedules"), Value::Null, [401, 200, 200, 200, 200, 200]),
        (
            Method::POST,
            format!("/api/v1/sites/{site}/schedules"),
            json!({"mode": "road", "capacity": -1}),
            [401, 403, 403, 403, 403, 422],
        ),
        (
            Method::PATCH,
            format!("/api/v1/sites/{site}/schedules/{schedule}"),
            json!({"capacity": -1}),
            [401, 403, 403, 403, 403, 422],
        ),
        (Method::GET, format!("/api/v1/slots?site_id={site}&limit=1"), Value::Null, [401, 200, 200, 200, 200, 200]),
        (Method::GET, format!("/api/v1/slots/{slot}"), Value::Null, [401, 200, 200, 200, 200, 200]),
        (Method::PATCH, format!("/api/v1/slots/{slot}"), json!({"capacity": -1}), [401, 403, 403, 403, 422, 422]),
        (Method::GET, "/api/v1/declarations".into(), Value::Null, [401, 200, 200, 200, 200, 200]),
        (Method::POST, "/api/v1/declarations".into(), json!({"kind": "import"}), [401, 422, 422, 422, 403, 403]),
        (Method::GET, format!("/api/v1/declarations/{da}"), Value::Null, [401, 200, 200, 404, 200, 200]),
        (Method::GET, format!("/api/v1/declarations/{da}/history"), Value::Null, [401, 200, 200, 404, 200, 200]),
        (Method::PATCH, format!("/api/v1/declarations/{da}"), json!({}), [401, 428, 428, 428, 403, 403]),
        (Method::POST, format!("/api/v1/declarations/{da}/submit"), json!({}), [401, 409, 409, 404, 403, 403]),
        (Method::POST, format!("/api/v1/declarations/{da}/approve"), json!({}), [401, 403, 403, 403, 422, 422]),
        (Method::POST, format!("/api/v1/declarations/{da}/reject"), json!({}), [401, 403, 403, 403, 422, 422]),
        (Method::POST, format!("/api/v1/declarations/{da}/release"), json!({}), [401, 403, 403, 403, 409, 409]),
        (Method::POST, format!("/api/v1/declarations/{none}/review"), json!({}), [401, 403, 403, 403, 404, 404]),
        (Method::GET, "/api/v1/bookings".into(), Value::Null, [401, 200, 200, 200, 200, 200]),
        (
            Method::POST,
            "/api/v1/bookings".into(),
            json!({"declaration_id": db, "slot_id": slot}),
            [401, 404, 404, 201, 403, 403],
        ),
        (Method::GET, format!("/api/v1/bookings/{booking}"), Value::Null, [401, 200, 200, 404, 200, 200]),
        (
            Method::POST,
            format!("/api/v1/bookings/{booking}/reschedule"),
            json!({"slot_id": slot}),
            [401, 422, 422, 404, 403, 403],
        ),
        (Method::POST, format!("/api/v1/bookings/{booking}/complete"), json!({}), [401, 403, 403, 403, 409, 409]),
        (Method::POST, format!("/api/v1/bookings/{none}/check-in"), json!({}), [401, 403, 403, 403, 404, 404]),
        (Method::POST, format!("/api/v1/bookings/{booking}/no-show"), json!({}), [401, 403, 403, 403, 422, 422]),
        (Method::GET, "/api/v1/webhooks".into(), Value::Null, [401, 200, 403, 200, 403, 403]),
        (
            Method::POST,
            "/api/v1/webhooks".into(),
            json!({"url": "ftp://x", "events": []}),
            [401, 422, 403, 422, 403, 403],
        ),
        (Method::GET, format!("/api/v1/webhooks/{hook}"), Value::Null, [401, 200, 403, 404, 403, 403]),
        (Method::GET, format!("/api/v1/webhooks/{hook}/deliveries"), Value::Null, [401, 200, 403, 404, 403, 403]),
        (
            Method::POST,
            format!("/api/v1/webhooks/{hook}/deliveries/{none}/redeliver"),
            json!({}),
            [401, 404, 403, 404, 403, 403],
        ),
        (Method::GET, "/api/v1/audit".into(), Value::Null, [401, 403, 403, 403, 200, 200]),
        (Method::GET, "/metrics".into(), Value::Null, [200, 200, 200, 200, 200, 200]),
    ];
    for (method, path, body, expected) in cases {
        for ((who, token), want) in callers.iter().zip(expected) {
            let body = if body.is_null() { None } else { Some(body.clone()) };
            let r = app.call(method.clone(), &path, *token, body).await;
            assert_eq!(r.status.as_u16(), want, "{who} {method} {path}: {}", r.text);
        }
    }
    // B's booking above really exists; nothing else changed: A's booking is still confirmed.
    let r = app.get(&format!("/api/v1/bookings/{booking}"), Some(&a.admin)).await.expect(200);
    assert_eq!(r.body["status"], "confirmed");
}

api_tests!(role_matrix_of_sites_declarations_bookings_webhooks);

/// A slot whose only booking was cancelled still carries that booking's
/// history: shortening the schedule keeps it instead of failing (found by
/// schemathesis as a 500).
async fn shortening_a_schedule_keeps_slots_with_booking_history(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let a = app.verified_company("history", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    let b = book(&app, &a.admin, &d, &slot).await.expect(201).str("/id");
    app.post(&format!("/api/v1/bookings/{b}/cancel"), Some(&a.admin), json!({})).await.expect(200);
    let sched = app.get(&format!("/api/v1/sites/{}/schedules", w.site), Some(&w.customs.supervisor)).await.expect(200);
    let schedule = sched.body["items"][0]["id"].as_str().unwrap().to_owned();
    let valid_from = sched.body["items"][0]["valid_from"].as_str().unwrap().to_owned();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/sites/{}/schedules/{schedule}", w.site),
            Some(&w.customs.supervisor),
            Some(json!({"valid_to": valid_from})),
        )
        .await
        .expect(200);
    assert!(r.body["booked_slots_kept"].as_u64().unwrap() >= 1, "{}", r.text);
    app.get(&format!("/api/v1/bookings/{b}"), Some(&a.admin)).await.expect(200);
}

api_tests!(shortening_a_schedule_keeps_slots_with_booking_history);

/// Every company write goes through one gate: a suspended enterprise may
/// read but not cancel a booking, remove or redeliver a webhook, file or
/// book; and the writes that used to skip the service layer are audited.
async fn a_suspended_enterprise_changes_nothing_and_every_write_is_audited(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let officer = w.customs.officer.clone();
    let a = app.verified_company("gate-susp", &officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    let b = book(&app, &a.admin, &d, &slot).await.expect(201).str("/id");
    let hook = app
        .post(
            "/api/v1/webhooks",
            Some(&a.admin),
            json!({"url": "http://127.0.0.1:9/hook", "events": ["booking.cancelled"]}),
        )
        .await
        .expect(201)
        .str("/id");
    app.post(&format!("/api/v1/enterprises/{}/suspend", a.enterprise_id), Some(&officer), json!({"reason": "audit"}))
        .await
        .expect(200);
    // Reads still work.
    app.get(&format!("/api/v1/bookings/{b}"), Some(&a.admin)).await.expect(200);
    app.get("/api/v1/webhooks", Some(&a.admin)).await.expect(200);
    // Writes do not, whichever resource they touch.
    app.post(&format!("/api/v1/bookings/{b}/cancel"), Some(&a.admin), json!({})).await.problem(403);
    app.call(Method::DELETE, &format!("/api/v1/webhooks/{hook}"), Some(&a.admin), None).await.problem(403);
    let deliveries = format!("/api/v1/webhooks/{hook}/deliveries/{}/redeliver", uuid::Uuid::now_v7());
    app.post(&deliveries, Some(&a.admin), json!({})).await.problem(403);
    app.post("/api/v1/declarations", Some(&a.admin), declaration_body(&w.site)).await.problem(403);
    // Nothing changed.
    let r = app.get(&format!("/api/v1/bookings/{b}"), Some(&a.admin)).await.expect(200);
    assert_eq!(r.body["status"], "confirmed");
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{hook}"), Some(&a.admin)).await.expect(200).body["id"],
        hook.as_str()
    );
    // Webhook registration, site and schedule creation are audited with their actor.
    for (entity, id) in [("webhook", hook.as_str()), ("site", w.site.as_str())] {
        let r =
            app.get(&format!("/api/v1/audit?entity_type={entity}&entity_id={id}"), Some(&officer)).await.expect(200);
        let items = r.body["items"].as_array().unwrap();
        assert!(!items.is_empty(), "no audit event for {entity} {id}");
        assert!(items[0]["actor_id"].is_string(), "{entity} event without its actor: {}", items[0]);
    }
}
