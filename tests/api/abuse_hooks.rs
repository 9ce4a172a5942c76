//! Issue 17, replayed as an attacker would: webhooks, metrics, the smaller
//! ones (claims, amendments of booked declarations, /docs headers, HSTS) and
//! the audit trail's tail. Each test is the attack; it fails if the attack works.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{book_slot, declaration_body, submitted_declaration, tomorrow_slot, world};
use crate::helpers::{Resp, TestApp};
use crate::webhooks::{receiver, verify_signature, wait_for};

api_tests!(
    a_pending_enterprise_registers_no_webhook_and_a_verified_one_at_most_ten,
    a_slow_endpoint_never_delays_another_enterprise with |s| {
        s.webhooks.max_in_flight = 8;
        s.webhooks.per_enterprise_concurrency = 4;
    },
    redelivery_is_rate_limited with |s| s.webhooks.redeliveries_per_hour = 2,
    delivered_events_are_pruned_after_the_retention with |s| {
        s.webhooks.retention_days = 0;
        s.webhooks.prune_interval_secs = 1;
    },
    secrets_are_sealed_at_rest_and_old_clear_ones_are_sealed_at_start,
    a_name_resolving_to_a_private_address_is_refused_where_it_is_connected with |s| {
        s.webhooks.allow_private_targets = false;
    },
    delivery_errors_are_shown_in_coarse_words,
    made_up_http_methods_do_not_become_metric_labels,
    an_officer_cannot_decide_a_declaration_another_officer_claimed,
    an_amendment_cannot_move_a_booked_declaration,
    docs_pages_carry_security_headers_and_do_not_keep_the_token,
    production_answers_carry_hsts with |s| s.profile = clearway::config::Profile::Production,
    a_deleted_tail_of_an_audit_chain_is_detected,
    a_schedule_change_audits_every_slot_capacity_it_changes,
);

/// The problem's `type` ends in `slug`.
#[track_caller]
fn assert_type(r: &Resp, slug: &str) {
    assert!(r.str("/type").ends_with(&format!("/problems/{slug}")), "expected {slug}: {}", r.text);
}

/// Runs one SQL statement behind the API's back (tampering); returns rows changed.
async fn sql(app: &TestApp, statement: String) -> usize {
    app.state
        .db
        .write(move |conn| {
            use diesel::RunQueryDsl;
            match conn {
                clearway::db::DbConnection::Sqlite(c) => diesel::sql_query(statement).execute(c),
                clearway::db::DbConnection::Postgres(c) => diesel::sql_query(statement).execute(c),
            }
        })
        .await
        .map_err(|_| "sql")
        .unwrap()
}

fn hook_body(url: &str, events: &[&str]) -> Value {
    json!({"url": url, "events": events})
}

/// A receiver that answers 204 after `delay`, noting when each request arrived.
struct SlowReceiver {
    url: String,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

async fn slow_receiver(delay: Duration) -> SlowReceiver {
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let a = arrivals.clone();
    let server = HttpServer::new(move || {
        let a = a.clone();
        App::new().route(
            "/hook",
            web::post().to(move |_body: String| {
                let a = a.clone();
                async move {
                    a.lock().unwrap().push(Instant::now());
                    tokio::time::sleep(delay).await;
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
    SlowReceiver { url: format!("http://127.0.0.1:{port}/hook"), arrivals }
}

/// The delivery log of an endpoint once `done` says it is settled (at most 10 s).
async fn log_until(app: &TestApp, token: &str, hook: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let path = format!("/api/v1/webhooks/{hook}/deliveries");
    for _ in 0..100 {
        let items = app.get(&path, Some(token)).await.expect(200).body["items"].as_array().unwrap().clone();
        if done(&items) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("delivery log of {hook} never settled: {:?}", app.get(&path, Some(token)).await.text);
}

// ---- webhooks ---------------------------------------------------------------

async fn a_pending_enterprise_registers_no_webhook_and_a_verified_one_at_most_ten(app: TestApp) {
    let customs = app.customs().await;
    let body = hook_body("https://erp.example.com/hook", &["declaration.draft"]);
    // The attack: an unverified enterprise registers endpoints.
    let pending = app.register_company("squat").await;
    let r = app.post("/api/v1/webhooks", Some(&pending.admin), body.clone()).await.problem(403);
    assert_type(&r, "forbidden");
    assert!(r.str("/detail").contains("verify"), "{}", r.text);

    // A verified one registers 15 at once: exactly 10 get in.
    let a = app.verified_company("hooks-cap", &customs.officer).await;
    let tries = (0..15).map(|i| {
        let body = hook_body(&format!("https://erp.example.com/hook/{i}"), &["declaration.draft"]);
        let (app, token) = (&app, a.admin.clone());
        async move { app.post("/api/v1/webhooks", Some(&token), body).await }
    });
    let answers = futures_util::future::join_all(tries).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 10, "{statuses:?}");
    // The answer with the secret is not to be cached.
    let created = answers.iter().find(|r| r.status.as_u16() == 201).unwrap();
    assert_eq!(created.header("cache-control").as_deref(), Some("no-store"));
    for r in answers.into_iter().filter(|r| r.status.as_u16() != 201) {
        assert_type(&r.problem(409), "webhook-limit");
    }
    let r = app.post("/api/v1/webhooks", Some(&a.admin), body.clone()).await.problem(409);
    assert_type(&r, "webhook-limit");

    // The list pages (limit/cursor), and every endpoint appears once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/webhooks?limit=4".to_owned();
    let mut pages = 0;
    loop {
        let r = app.get(&path, Some(&a.admin)).await.expect(200);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 4, "{}", r.text);
        assert!(!r.text.contains("whsec_"), "{}", r.text);
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/webhooks?limit=4&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    let r = app.get("/api/v1/webhooks?limit=201", Some(&a.admin)).await.problem(422);
    assert_eq!(r.fields(), ["limit"]);

    // Deleting one frees its place.
    app.call(Method::DELETE, &format!("/api/v1/webhooks/{}", seen[0]), Some(&a.admin), None).await.expect(204);
    app.post("/api/v1/webhooks", Some(&a.admin), body.clone()).await.expect(201);
    app.post("/api/v1/webhooks", Some(&a.admin), body).await.problem(409);
}

async fn a_slow_endpoint_never_delays_another_enterprise(app: TestApp) {
    let slow = slow_receiver(Duration::from_secs(6)).await;
    let fast = receiver(0).await;
    let customs = app.customs().await;
    let site = crate::slots::create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    // The attacker: ten endpoints on a receiver that takes 6 s, and a backlog.
    let a = app.verified_company("slow", &customs.officer).await;
    for i in 0..10 {
        let url = format!("{}?n={i}", slow.url);
        app.post("/api/v1/webhooks", Some(&a.admin), hook_body(&url, &["declaration.draft"])).await.expect(201);
    }
    for _ in 0..4 {
        app.post("/api/v1/declarations", Some(&a.admin), declaration_body(&site)).await.expect(201);
    }
    // Wait until the slow receiver is busy with the attacker's deliveries.
    for _ in 0..100 {
        if slow.arrivals.lock().unwrap().len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(slow.arrivals.lock().unwrap().len() >= 4, "the slow receiver was never called");
    // The victim's event arrives promptly all the same.
    let b = app.verified_company("victim", &customs.officer).await;
    app.post("/api/v1/webhooks", Some(&b.admin), hook_body(&fast.url, &["declaration.draft"])).await.expect(201);
    let started = Instant::now();
    app.post("/api/v1/declarations", Some(&b.admin), declaration_body(&site)).await.expect(201);
    wait_for(&fast, 1).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "another enterprise's delivery took {took:?}");
    // The attacker holds at most its share of places: never more than 4 at once.
    let arrivals = slow.arrivals.lock().unwrap().clone();
    let first = arrivals[0];
    let within_first_attempt = arrivals.iter().filter(|t| t.duration_since(first) < Duration::from_secs(5)).count();
    assert!(within_first_attempt <= 4, "{within_first_attempt} slow deliveries at once");
}

async fn redelivery_is_rate_limited(app: TestApp) {
    let rx = receiver(0).await;
    let customs = app.customs().await;
    let a = app.verified_company("redo", &customs.officer).await;
    let hook = app
        .post("/api/v1/webhooks", Some(&a.admin), hook_body(&rx.url, &["declaration.draft"]))
        .await
        .expect(201)
        .str("/id");
    let site = crate::slots::create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    app.post("/api/v1/declarations", Some(&a.admin), declaration_body(&site)).await.expect(201);
    let items = log_until(&app, &a.admin, &hook, |i| i.len() == 1 && i[0]["status"] == "delivered").await;
    let delivery = items[0]["id"].as_str().unwrap();
    let path = format!("/api/v1/webhooks/{hook}/deliveries/{delivery}/redeliver");
    for _ in 0..2 {
        app.post(&path, Some(&a.admin), json!({})).await.expect(202);
    }
    let r = app.post(&path, Some(&a.admin), json!({})).await.problem(429);
    assert_type(&r, "too-many-requests");
    let wait: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
}

async fn delivered_events_are_pruned_after_the_retention(app: TestApp) {
    let good = receiver(0).await;
    let failing = receiver(usize::MAX).await;
    let customs = app.customs().await;
    let site = crate::slots::create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let a = app.verified_company("prune", &customs.officer).await;
    let kept = app
        .post("/api/v1/webhooks", Some(&a.admin), hook_body(&good.url, &["declaration.draft"]))
        .await
        .expect(201)
        .str("/id");
    let retried = app
        .post("/api/v1/webhooks", Some(&a.admin), hook_body(&failing.url, &["declaration.submitted"]))
        .await
        .expect(201)
        .str("/id");
    submitted_declaration(&app, &a.admin, &site).await;
    wait_for(&good, 1).await;
    // Delivered, then gone with its event (retention 0 days).
    log_until(&app, &a.admin, &kept, |i| i.is_empty()).await;
    // A delivery still being retried is kept.
    let items = log_until(&app, &a.admin, &retried, |i| i.len() == 1 && i[0]["attempts"].as_i64() >= Some(2)).await;
    assert_eq!(items[0]["status"], "pending");
    let events =
        sql(&app, "UPDATE outbox_events SET event_type = event_type WHERE event_type = 'declaration.draft'".into())
            .await;
    assert_eq!(events, 0, "the delivered event is still stored");
}

async fn secrets_are_sealed_at_rest_and_old_clear_ones_are_sealed_at_start(app: TestApp) {
    let rx = receiver(0).await;
    let customs = app.customs().await;
    let a = app.verified_company("seal", &customs.officer).await;
    let r = app.post("/api/v1/webhooks", Some(&a.admin), hook_body(&rx.url, &["declaration.draft"])).await.expect(201);
    let (id, secret) = (r.str("/id"), r.str("/secret"));
    let stored = stored_secret(&app, &id).await;
    assert!(stored.starts_with("enc1:"), "{stored}");
    assert!(!stored.contains(&secret[6..]), "the secret is stored in clear");
    // Deliveries are still signed with the secret shown once.
    let site = crate::slots::create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    app.post("/api/v1/declarations", Some(&a.admin), declaration_body(&site)).await.expect(201);
    let got = wait_for(&rx, 1).await;
    assert!(verify_signature(&secret, &got[0].signature, &got[0].body));

    // A row from before sealing (secret in clear) is sealed when a server starts.
    let clear = "whsec_0123456789abcdef0123456789abcdef";
    assert_eq!(sql(&app, format!("UPDATE webhooks SET secret = '{clear}' WHERE id = '{id}'")).await, 1);
    let second = crate::helpers::spawn_app_on(app.backend, &app.db_url).await;
    let stored = stored_secret(&second, &id).await;
    assert!(stored.starts_with("enc1:"), "{stored}");
    assert_eq!(app.state.settings.webhooks.sealing_key().open(&id, &stored).unwrap(), clear);
    drop(second);
}

async fn stored_secret(app: &TestApp, id: &str) -> String {
    let id = id.to_owned();
    app.state
        .db
        .read(move |conn| clearway::db::webhooks::find(conn, &id))
        .await
        .map_err(|_| "read")
        .unwrap()
        .unwrap()
        .secret
}

async fn a_name_resolving_to_a_private_address_is_refused_where_it_is_connected(app: TestApp) {
    // DNS rebinding: the endpoint passed the check when registered; its name
    // now resolves to this machine. The address the worker would connect to
    // is the one refused: no second lookup could answer otherwise.
    let host = std::process::Command::new("hostname").output().unwrap();
    let host = String::from_utf8(host.stdout).unwrap().trim().to_owned();
    let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), 0)).await.unwrap().collect();
    assert!(addrs.iter().all(|a| !clearway::domain::webhook::is_public(a.ip())), "{host} is public: {addrs:?}");
    let customs = app.customs().await;
    let a = app.verified_company("rebind", &customs.officer).await;
    let hook = app
        .post("/api/v1/webhooks", Some(&a.admin), hook_body("https://erp.example.com/hook", &["declaration.draft"]))
        .await
        .expect(201)
        .str("/id");
    let url = format!("https://{host}:9/hook");
    assert_eq!(sql(&app, format!("UPDATE webhooks SET url = '{url}' WHERE id = '{hook}'")).await, 1);
    let site = crate::slots::create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    app.post("/api/v1/declarations", Some(&a.admin), declaration_body(&site)).await.expect(201);
    let items = log_until(&app, &a.admin, &hook, |i| i.len() == 1 && i[0]["attempts"] == 1).await;
    let error = items[0]["last_error"].as_str().unwrap();
    assert!(error.starts_with("address not allowed"), "{error}");
    assert!(!error.contains("127.0.0.1") && !error.contains(&host), "{error}");
    // The missing ranges are refused at registration as literals.
    for url in
        ["https://[64:ff9b::a00:1]/h", "https://[2002:a00:1::1]/h", "https://198.18.0.1/h", "https://240.0.0.1/h"]
    {
        let r = app.post("/api/v1/webhooks", Some(&a.admin), hook_body(url, &["declaration.draft"])).await.problem(422);
        assert_eq!(r.fields(), ["url"], "{url}: {}", r.text);
    }
}

async fn delivery_errors_are_shown_in_coarse_words(app: TestApp) {
    let customs = app.customs().await;
    let a = app.verified_company("coarse", &customs.officer).await;
    // Nothing listens on port 9.
    let hook = app
        .post("/api/v1/webhooks", Some(&a.admin), hook_body("http://127.0.0.1:9/hook", &["declaration.draft"]))
        .await
        .expect(201)
        .str("/id");
    let site = crate::slots::create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    app.post("/api/v1/declarations", Some(&a.admin), declaration_body(&site)).await.expect(201);
    let items = log_until(&app, &a.admin, &hook, |i| i.len() == 1 && i[0]["attempts"] == 1).await;
    let shown = serde_json::to_string(&items[0]).unwrap();
    assert_eq!(items[0]["last_error"], "could not connect to the receiver", "{shown}");
    for leak in ["127.0.0.1", "refused", "os error", "tcp"] {
        assert!(!shown.to_lowercase().contains(leak), "{leak} in {shown}");
    }
}

// ---- metrics ----------------------------------------------------------------

async fn made_up_http_methods_do_not_become_metric_labels(app: TestApp) {
    for method in ["BREWCOFFEE".to_owned(), "X".repeat(6000)] {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let r = app.call(m, "/health/live", None, None).await;
        assert!(r.status.as_u16() >= 400, "{}", r.status);
    }
    let text = app.get("/metrics", None).await.expect(200).text;
    assert!(!text.contains("BREWCOFFEE"), "a made-up method became a label");
    assert!(!text.contains("XXXXXXXX"), "a made-up method became a label");
    assert!(text.contains("method=\"other\""), "{text}");
}

// ---- smaller ones -----------------------------------------------------------

async fn an_officer_cannot_decide_a_declaration_another_officer_claimed(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let company = app.verified_company("claims", &w.customs.officer).await;
    let other = app.add_officer(&w.customs.supervisor, "officer-b-claims@customs.test", "Officer B").await;
    let id = submitted_declaration(&app, &company.admin, &w.site).await;
    let action = |a: &str| format!("/api/v1/declarations/{id}/{a}");
    app.post(&action("review"), Some(&w.customs.officer), json!({})).await.expect(200);
    let holder = app.get("/api/v1/me", Some(&w.customs.officer)).await.expect(200).str("/id");
    for (a, body) in [
        ("approve", json!({"risk_lane": "green"})),
        ("reject", json!({"reason": "not mine to reject"})),
        ("request-amendment", json!({"reason": "not mine to ask"})),
    ] {
        let r = app.post(&action(a), Some(&other), body).await.problem(409);
        assert_type(&r, "claimed-by-another");
        assert_eq!(r.str("/claimed_by"), holder, "{}", r.text);
        assert_eq!(r.str("/declaration_id"), id, "{}", r.text);
    }
    let r = app.get(&format!("/api/v1/declarations/{id}"), Some(&w.customs.officer)).await.expect(200);
    assert_eq!(r.str("/status"), "under_review");
    // A supervisor may take over.
    let r = app.post(&action("approve"), Some(&w.customs.supervisor), json!({"risk_lane": "green"})).await;
    assert_eq!(r.expect(200).str("/status"), "approved");
}

async fn an_amendment_cannot_move_a_booked_declaration(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let company = app.verified_company("moves", &w.customs.officer).await;
    let elsewhere = crate::slots::create_site(&app, &w.customs.supervisor, "CNALA", "Asia/Urumqi").await;
    let id = submitted_declaration(&app, &company.admin, &w.site).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let booking = book_slot(&app, &company.admin, &id, &slot).await.expect(201).str("/id");
    app.post(
        &format!("/api/v1/declarations/{id}/request-amendment"),
        Some(&w.customs.officer),
        json!({"reason": "fix the invoice"}),
    )
    .await
    .expect(200);
    let edit = |body: Value| {
        let (app, token, id) = (&app, company.admin.clone(), id.clone());
        async move {
            let etag = app.get(&format!("/api/v1/declarations/{id}"), Some(&token)).await.expect(200).header("etag");
            let headers = [("If-Match", etag.unwrap())];
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call_with(Method::PATCH, &format!("/api/v1/declarations/{id}"), Some(&token), Some(body), &headers)
                .await
        }
    };
    for body in [json!({"site_id": elsewhere}), json!({"transport_mode": "rail"})] {
        let r = edit(body).await.problem(409);
        assert_type(&r, "declaration-booked");
        assert_eq!(r.str("/booking_id"), booking, "{}", r.text);
    }
    let b = app.get(&format!("/api/v1/bookings/{booking}"), Some(&company.admin)).await.expect(200);
    assert_eq!(b.str("/status"), "confirmed");
    // Other amendments are fine.
    edit(json!({"consignor": "Amended Consignor Ltd"})).await.expect(200);
}

async fn docs_pages_carry_security_headers_and_do_not_keep_the_token(app: TestApp) {
    let r = app.get("/docs/", None).await.expect(200);
    let csp = r.header("content-security-policy").expect("CSP on /docs/");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"));
    // No inline script for the policy to forbid.
    assert!(!r.text.contains("<script>"), "{}", r.text);
    let init = app.get("/docs/swagger-initializer.js", None).await.expect(200).text;
    assert!(!init.contains("\"persistAuthorization\":true"), "{init}");
    // No HSTS outside production.
    assert!(r.header("strict-transport-security").is_none());
}

async fn production_answers_carry_hsts(app: TestApp) {
    let r = app.get("/health/live", None).await.expect(200);
    let hsts = r.header("strict-transport-security").expect("HSTS in production");
    assert!(hsts.starts_with("max-age=31536000"), "{hsts}");
}

// ---- audit --------------------------------------------------------------------

async fn a_deleted_tail_of_an_audit_chain_is_detected(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let company = app.verified_company("tail", &w.customs.officer).await;
    let id = submitted_declaration(&app, &company.admin, &w.site).await;
    app.post(&format!("/api/v1/declarations/{id}/reject"), Some(&w.customs.officer), json!({"reason": "bad"}))
        .await
        .expect(200);
    let officer = w.customs.officer.as_str();
    let v = app.get("/api/v1/audit/verify", Some(officer)).await.expect(200);
    assert_eq!(v.body["valid"], true, "{}", v.text);
    // Remove the rejection (the last event) behind the API's back: every link
    // that is left is intact, only the head tells.
    let deleted = sql(
        &app,
        format!(
            "DELETE FROM audit_events WHERE entity_type = 'declaration' AND entity_id = '{id}' \
             AND seq = (SELECT m FROM (SELECT max(seq) AS m FROM audit_events \
                        WHERE entity_type = 'declaration' AND entity_id = '{id}') AS last)"
        ),
    )
    .await;
    assert_eq!(deleted, 1);
    let v = app.get("/api/v1/audit/verify", Some(officer)).await.expect(200);
    assert_eq!(v.body["valid"], false, "{}", v.text);
    let broken = &v.body["first_broken"];
    assert_eq!(broken["entity_id"], id.as_str(), "{}", v.text);
    assert!(broken["event_id"].is_null(), "{}", v.text);
    assert!(broken["problem"].as_str().unwrap().contains("deleted or rewritten"), "{}", v.text);
}

async fn a_schedule_change_audits_every_slot_capacity_it_changes(app: TestApp) {
    let customs = app.customs().await;
    let site = crate::slots::create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let schedule = crate::slots::create_schedule(
        &app,
        &customs.supervisor,
        &site,
        json!({"mode": "road", "slot_minutes": 60, "capacity": 10}),
    )
    .await
    .expect(201)
    .str("/id");
    app.call(
        Method::PATCH,
        &format!("/api/v1/sites/{site}/schedules/{schedule}"),
        Some(&customs.supervisor),
        Some(json!({"capacity": 6})),
    )
    .await
    .expect(200);
    let supervisor = app.get("/api/v1/me", Some(&customs.supervisor)).await.expect(200).str("/id");
    let slots = app.get(&format!("/api/v1/slots?site_id={site}&mode=road&limit=3"), Some(&customs.officer)).await;
    for s in slots.expect(200).body["items"].as_array().unwrap() {
        let slot = s["id"].as_str().unwrap();
        assert_eq!(s["capacity"], 6);
        let trail = app.get(&format!("/api/v1/audit?entity_type=slot&entity_id={slot}"), Some(&customs.officer)).await;
        let trail = trail.expect(200);
        let change = trail.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "capacity")
            .unwrap_or_else(|| panic!("no capacity event for {slot}: {}", trail.text))
            .clone();
        assert_eq!(change["from_state"], "10");
        assert_eq!(change["to_state"], "6");
        assert_eq!(change["actor_id"], supervisor.as_str());
    }
}
