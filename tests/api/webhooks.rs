//! Webhooks: registration, signed delivery, retries, restart, redelivery.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::api_tests;
use crate::bookings::{book_slot, submitted_declaration, tomorrow_slot, world};
use crate::helpers::{spawn_app_on, Backend, TestApp};

api_tests!(
    webhooks_are_registered_and_validated,
    events_are_delivered_signed,
    a_receiver_that_fails_twice_gets_the_event_on_the_third_try,
    redelivery_sends_the_same_event_again,
    an_endpoint_gets_the_bookings_made_after_its_registration,
);

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub signature: String,
    pub body: String,
}

/// A local HTTP receiver that fails its first `fail_first` requests with 500.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub calls: Arc<AtomicUsize>,
}

pub async fn receiver(fail_first: usize) -> Receiver {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let (g, c) = (got.clone(), calls.clone());
    let server = HttpServer::new(move || {
        let (g, c) = (g.clone(), c.clone());
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: String| {
                let (g, c) = (g.clone(), c.clone());
                async move {
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    if n < fail_first {
                        return HttpResponse::InternalServerError().finish();
                    }
                    let header = |name: &str| {
                        req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                    };
                    g.lock().unwrap().push(Received {
                        event_id: header("x-clearway-event-id"),
                        signature: header("x-clearway-signature"),
                        body,
                    });
                    HttpResponse::NoContent().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    Receiver { url: format!("http://127.0.0.1:{port}/hook"), got, calls }
}

/// Checks `t=…,v1=…` against the secret and the raw body.
pub fn verify_signature(secret: &str, header: &str, body: &str) -> bool {
    let mut t = "";
    let mut v1 = "";
    for part in header.split(',') {
        if let Some(x) = part.strip_prefix("t=") {
            t = x;
        } else if let Some(x) = part.strip_prefix("v1=") {
            v1 = x;
        }
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes()) == v1
}

/// Waits until the receiver holds at least `n` events.
pub async fn wait_for(r: &Receiver, n: usize) -> Vec<Received> {
    for _ in 0..200 {
        {
            let got = r.got.lock().unwrap();
            if got.len() >= n {
                return got.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("receiver got {} of {n} events", r.got.lock().unwrap().len());
}

async fn webhooks_are_registered_and_validated(app: TestApp) {
    let customs = app.customs().await;
    let a = app.verified_company("hooks-a", &customs.officer).await;
    let b = app.verified_company("hooks-b", &customs.officer).await;
    let clerk = app.add_clerk(&a).await;
    let body =
        json!({"url": "https://erp.example.com/clearway", "events": ["booking.confirmed", "declaration.approved"]});
    let r = app.post("/api/v1/webhooks", Some(&a.admin), body.clone()).await.expect(201);
    let id = r.str("/id");
    assert!(r.str("/secret").starts_with("whsec_"));
    assert_eq!(r.body["events"], json!(["booking.confirmed", "declaration.approved"]));
    // The secret is shown once.
    let got = app.get(&format!("/api/v1/webhooks/{id}"), Some(&a.admin)).await.expect(200);
    assert!(got.body.get("secret").is_none());
    let list = app.get("/api/v1/webhooks", Some(&a.admin)).await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert!(!list.text.contains("whsec_"));
    // Only admins, only their own.
    app.post("/api/v1/webhooks", Some(&clerk), body.clone()).await.problem(403);
    app.post("/api/v1/webhooks", Some(&customs.officer), body).await.problem(403);
    app.get(&format!("/api/v1/webhooks/{id}"), Some(&b.admin)).await.problem(404);
    app.call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), Some(&b.admin), None).await.problem(404);
    // Bad input.
    for (body, field) in [
        (json!({"url": "ftp://x.example.com", "events": ["booking.confirmed"]}), "url"),
        (json!({"url": "not a url", "events": ["booking.confirmed"]}), "url"),
        (json!({"url": "https://x.example.com", "events": ["booking.exploded"]}), "events[0]"),
        (json!({"url": "https://x.example.com", "events": []}), "events"),
    ] {
        let r = app.post("/api/v1/webhooks", Some(&a.admin), body).await.problem(422);
        assert!(r.fields().contains(&field.to_owned()), "{field}: {}", r.text);
    }
    app.call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), Some(&a.admin), None).await.expect(204);
    app.get(&format!("/api/v1/webhooks/{id}"), Some(&a.admin)).await.problem(404);
}

async fn events_are_delivered_signed(app: TestApp) {
    let rx = receiver(0).await;
    let w = world(&app, 4, 60).await;
    let a = app.verified_company("signed", &w.customs.officer).await;
    let hook = app
        .post(
            "/api/v1/webhooks",
            Some(&a.admin),
            json!({"url": rx.url, "events": ["declaration.submitted", "booking.confirmed", "booking.cancelled"]}),
        )
        .await
        .expect(201);
    let secret = hook.str("/secret");
    let slot = tomorrow_slot(&app, &w, 0).await;
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    let booking = book_slot(&app, &a.admin, &d, &slot).await.expect(201).str("/id");
    app.post(&format!("/api/v1/bookings/{booking}/cancel"), Some(&a.admin), json!({})).await.expect(200);
    let got = wait_for(&rx, 3).await;
    let mut types = Vec::new();
    for r in &got {
        assert!(verify_signature(&secret, &r.signature, &r.body), "bad signature {}", r.signature);
        assert!(!verify_signature("whsec_wrong", &r.signature, &r.body));
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["id"], r.event_id.as_str());
        assert!(v["occurred_at"].is_string());
        types.push(v["type"].as_str().unwrap().to_owned());
    }
    types.sort();
    assert_eq!(types, ["booking.cancelled", "booking.confirmed", "declaration.submitted"]);
    let confirmed: Value = got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .find(|v| v["type"] == "booking.confirmed")
        .unwrap();
    assert_eq!(confirmed["data"]["id"], booking.as_str());
    assert_eq!(confirmed["data"]["slot_id"], slot.as_str());
    // The delivery log shows them delivered.
    let log = settled_log(&app, &a.admin, &hook.str("/id"), 3).await;
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|d| d["status"] == "delivered" && d["attempts"] == 1), "{}", log.text);
}

/// A booking made while the enterprise had no endpoint records no event
/// (nothing would receive it); one made after the registration is delivered.
async fn an_endpoint_gets_the_bookings_made_after_its_registration(app: TestApp) {
    let rx = receiver(0).await;
    let w = world(&app, 4, 60).await;
    let a = app.verified_company("late-hook", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let before = submitted_declaration(&app, &a.admin, &w.site).await;
    let after = submitted_declaration(&app, &a.admin, &w.site).await;
    let early = book_slot(&app, &a.admin, &before, &slot).await.expect(201).str("/id");
    let hook = app
        .post("/api/v1/webhooks", Some(&a.admin), json!({"url": rx.url, "events": ["booking.confirmed"]}))
        .await
        .expect(201);
    let late = book_slot(&app, &a.admin, &after, &slot).await.expect(201).str("/id");
    let got = wait_for(&rx, 1).await;
    let v: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!((v["type"].as_str(), v["data"]["id"].as_str()), (Some("booking.confirmed"), Some(late.as_str())));
    // Give the worker a few rounds: the early booking never becomes a delivery.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = settled_log(&app, &a.admin, &hook.str("/id"), 1).await;
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", log.text);
    assert!(rx.got.lock().unwrap().iter().all(|r| !r.body.contains(&early)));
}

/// The delivery log once `n` deliveries are delivered: the worker records
/// an attempt after the receiver has answered, so a test that has seen the
/// request arrive gives the worker a moment (at most 5 s).
async fn settled_log(app: &TestApp, token: &str, hook_id: &str, n: usize) -> crate::helpers::Resp {
    let path = format!("/api/v1/webhooks/{hook_id}/deliveries");
    for _ in 0..50 {
        let log = app.get(&path, Some(token)).await.expect(200);
        let items = log.body["items"].as_array().unwrap();
        if items.len() >= n && items.iter().all(|d| d["status"] == "delivered") {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.get(&path, Some(token)).await.expect(200)
}

async fn a_receiver_that_fails_twice_gets_the_event_on_the_third_try(app: TestApp) {
    let rx = receiver(2).await;
    let customs = app.customs().await;
    let a = app.verified_company("retry", &customs.officer).await;
    let hook = app
        .post("/api/v1/webhooks", Some(&a.admin), json!({"url": rx.url, "events": ["declaration.draft"]}))
        .await
        .expect(201);
    let site = crate::slots::create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    app.post("/api/v1/declarations", Some(&a.admin), crate::bookings::declaration_body(&site)).await.expect(201);
    let got = wait_for(&rx, 1).await;
    assert_eq!(rx.calls.load(Ordering::SeqCst), 3);
    assert_eq!(got.len(), 1);
    let log = settled_log(&app, &a.admin, &hook.str("/id"), 1).await;
    let d = &log.body["items"][0];
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 3);
    let attempts: Vec<Value> = d["log"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(attempts[1]["status_code"], 500);
    assert_eq!(attempts[2]["status_code"], 204);
}

async fn redelivery_sends_the_same_event_again(app: TestApp) {
    let rx = receiver(0).await;
    let customs = app.customs().await;
    let a = app.verified_company("again", &customs.officer).await;
    let hook = app
        .post("/api/v1/webhooks", Some(&a.admin), json!({"url": rx.url, "events": ["declaration.draft"]}))
        .await
        .expect(201)
        .str("/id");
    let site = crate::slots::create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    app.post("/api/v1/declarations", Some(&a.admin), crate::bookings::declaration_body(&site)).await.expect(201);
    let first = wait_for(&rx, 1).await;
    let log = app.get(&format!("/api/v1/webhooks/{hook}/deliveries"), Some(&a.admin)).await.expect(200);
    let delivery = log.body["items"][0]["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/webhooks/{hook}/deliveries/{delivery}/redeliver"), Some(&a.admin), json!({}))
        .await
        .expect(202);
    let both = wait_for(&rx, 2).await;
    // At least once: the same event id, the same body.
    assert_eq!(both[1].event_id, first[0].event_id);
    assert_eq!(both[1].body, first[0].body);
}

async fn events_survive_a_restart(backend: Backend) {
    let rx = receiver(0).await;
    // First process: the worker is off, as if it died before delivering.
    let first = crate::helpers::spawn_app_with(backend, |s| s.webhooks.worker_enabled = false).await;
    let customs = first.customs().await;
    let a = first.verified_company("restart", &customs.officer).await;
    first
        .post("/api/v1/webhooks", Some(&a.admin), json!({"url": rx.url, "events": ["declaration.draft"]}))
        .await
        .expect(201);
    let site = crate::slots::create_site(&first, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    for _ in 0..3 {
        first.post("/api/v1/declarations", Some(&a.admin), crate::bookings::declaration_body(&site)).await.expect(201);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.calls.load(Ordering::SeqCst), 0);
    // Second process on the same database, worker on: every event arrives, once each.
    let second = spawn_app_on(backend, &first.db_url).await;
    let got = wait_for(&rx, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids: Vec<String> = got.iter().map(|r| r.event_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert_eq!(rx.got.lock().unwrap().len(), 3, "no duplicates beyond at-least-once");
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_a_restart_sqlite() {
    events_survive_a_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clearway_pg), ignore = "set TEST_DATABASE_URL to run on PostgreSQL")]
async fn events_survive_a_restart_postgres() {
    events_survive_a_restart(Backend::Postgres).await;
}
