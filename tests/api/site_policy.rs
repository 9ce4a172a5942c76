//! Per-site booking policy (`PATCH /sites/{id}` `{"policy": {...}}`): who
//! may set it, its validation, the effective values shown, and every rule
//! following the slot's site: notice, share, cancel cut-off and reschedule,
//! the arrival window in booking answers and at the gate, and the no-show
//! sweep. Then `bookable`/`reason` on slots for company callers, each reason
//! checked against what booking that slot answers.
//!
//! Time: slots are found a day ahead of the real time, then the
//! application's clock is set relative to their start.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{slots_from, submitted_declaration, world, World};
use crate::helpers::{Resp, TestApp};
use crate::slots::{create_schedule, create_site};

api_tests!(
    policy_changes_are_validated_and_for_supervisors_only,
    the_effective_policy_is_shown_reset_and_audited with |s| s.booking.cancel_cutoff_minutes = 45,
    notice_follows_the_slots_site,
    share_follows_the_slots_site,
    cancel_cutoff_and_reschedule_follow_the_slots_site,
    the_arrival_window_follows_the_site_in_answers_and_at_the_gate with |s| s.gate.sweep_interval_secs = 3600,
    the_sweep_uses_each_sites_late_minutes,
    slots_say_whether_and_why_not_as_booking_answers with |s| s.booking.horizon_days = 2,
);

// ---------------------------------------------------------------- helpers

const DEFAULTS: [(&str, i64); 7] = [
    ("min_notice_minutes", 120),
    ("min_notice_minutes_advanced", 30),
    ("horizon_days", 30),
    ("cancel_cutoff_minutes", 60),
    ("max_share_percent", 50),
    ("arrival_early_minutes", 30),
    ("arrival_late_minutes", 30),
];

/// The slug a problem's `type` ends in.
fn slug(r: &Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

#[track_caller]
fn refused(r: Resp, status: u16, want: &str) -> Resp {
    let r = r.problem(status);
    assert_eq!(slug(&r), want, "problem type: {}", r.text);
    r
}

fn time(v: &Value, pointer: &str) -> DateTime<Utc> {
    let text = v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no time at {pointer} in {v}"));
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("no string {key} in {v}")).to_owned()
}

async fn patch_site(app: &TestApp, token: &str, site: &str, body: Value) -> Resp {
    app.call(Method::PATCH, &format!("/api/v1/sites/{site}"), Some(token), Some(body)).await
}

/// Sets a site's policy values (supervisor); returns the site answer.
async fn set_policy(app: &TestApp, supervisor: &str, site: &str, policy: Value) -> Value {
    patch_site(app, supervisor, site, json!({"policy": policy})).await.expect(200).body
}

async fn policy_of(app: &TestApp, token: &str, site: &str) -> Value {
    app.get(&format!("/api/v1/sites/{site}"), Some(token)).await.expect(200).body["policy"].clone()
}

/// The defaults with these values changed.
fn policy_with(changes: &[(&str, i64)]) -> Value {
    let mut p = serde_json::Map::new();
    for (k, v) in DEFAULTS {
        p.insert(k.to_owned(), json!(changes.iter().find(|(c, _)| *c == k).map_or(v, |(_, v)| *v)));
    }
    Value::Object(p)
}

/// A second site like the world's (same zone, so its slots start at the
/// same times), hourly road slots of `capacity`.
async fn second_site(app: &TestApp, w: &World, code: &str, capacity: i64) -> String {
    let site = create_site(app, &w.customs.supervisor, code, "Asia/Urumqi").await;
    create_schedule(
        app,
        &w.customs.supervisor,
        &site,
        json!({"mode": "road", "slot_minutes": 60, "capacity": capacity}),
    )
    .await
    .expect(201);
    site
}

/// The first road slot of `site` starting at or after `from`.
async fn slot_from(app: &TestApp, token: &str, site: &str, from: DateTime<Utc>) -> Value {
    let enc = from.to_rfc3339().replace('+', "%2B");
    let r =
        app.get(&format!("/api/v1/slots?site_id={site}&mode=road&from={enc}&limit=1"), Some(token)).await.expect(200);
    r.body["items"][0].clone()
}

async fn book(app: &TestApp, token: &str, declaration: &str, slot: &str, extra: Value) -> Resp {
    let mut body = json!({"declaration_ids": [declaration], "slot_id": slot});
    if let Value::Object(more) = extra {
        body.as_object_mut().unwrap().extend(more);
    }
    app.post("/api/v1/bookings", Some(token), body).await
}

async fn get_booking(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/api/v1/bookings/{id}"), Some(token)).await.expect(200).body
}

fn clock_at(app: &TestApp, at: DateTime<Utc>) {
    app.state.clock.set(at);
}

async fn scan(app: &TestApp, officer: &str, site: &str, booking: &Value) -> Resp {
    let code = booking["gate_pass"]["code"].as_str().unwrap();
    app.post("/api/v1/gate/scan", Some(officer), json!({"site_id": site, "code": code})).await
}

async fn approve(app: &TestApp, officer: &str, declaration: &str) {
    app.post(&format!("/api/v1/declarations/{declaration}/approve"), Some(officer), json!({"risk_lane": "green"}))
        .await
        .expect(200);
}

/// Polls a booking until it reads `status`, at most 10 s.
async fn wait_for_status(app: &TestApp, token: &str, id: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let b = get_booking(app, token, id).await;
        if b["status"] == status || std::time::Instant::now() > deadline {
            assert_eq!(b["status"], status, "booking {id} did not become {status}: {b}");
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------- setting the policy

async fn policy_changes_are_validated_and_for_supervisors_only(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let sup = w.customs.supervisor.clone();
    let a = app.verified_company("policy-roles", &w.customs.officer).await;
    let body = json!({"policy": {"min_notice_minutes": 0}});
    // Officers and companies may not.
    patch_site(&app, &w.customs.officer, &w.site, body.clone()).await.problem(403);
    patch_site(&app, &a.admin, &w.site, body.clone()).await.problem(403);
    // Each value out of its range is named by its path.
    let r = patch_site(
        &app,
        &sup,
        &w.site,
        json!({"policy": {
            "min_notice_minutes": -1, "min_notice_minutes_advanced": 10081, "horizon_days": 0,
            "cancel_cutoff_minutes": 10081, "max_share_percent": 101,
            "arrival_early_minutes": -5, "arrival_late_minutes": 20000,
        }}),
    )
    .await;
    let r = refused(r, 422, "validation");
    let mut fields = r.fields();
    fields.sort();
    let mut want: Vec<String> = DEFAULTS.iter().map(|(k, _)| format!("policy.{k}")).collect();
    want.sort();
    assert_eq!(fields, want, "{}", r.text);
    for (policy, field) in [
        (json!({"max_share_percent": 0}), "policy.max_share_percent"),
        (json!({"horizon_days": 367}), "policy.horizon_days"),
        (json!({"horizon_days": 0}), "policy.horizon_days"),
    ] {
        let r = refused(patch_site(&app, &sup, &w.site, json!({"policy": policy})).await, 422, "validation");
        assert_eq!(r.fields(), [field], "{}", r.text);
    }
    // The edges of each range are accepted (and then reset).
    set_policy(
        &app,
        &sup,
        &w.site,
        json!({"min_notice_minutes": 0, "cancel_cutoff_minutes": 10080, "horizon_days": 366, "max_share_percent": 1}),
    )
    .await;
    set_policy(
        &app,
        &sup,
        &w.site,
        json!({"min_notice_minutes": null, "cancel_cutoff_minutes": null, "horizon_days": null, "max_share_percent": null}),
    )
    .await;
    // An unknown key, `policy: null`, a wrong type.
    let r = refused(patch_site(&app, &sup, &w.site, json!({"policy": {"max_share": 10}})).await, 422, "validation");
    assert_eq!(r.fields(), ["policy.max_share"], "{}", r.text);
    assert_eq!(r.body["errors"][0]["code"], "unknown");
    let r = refused(patch_site(&app, &sup, &w.site, json!({"policy": null})).await, 422, "validation");
    assert_eq!(r.fields(), ["policy"], "{}", r.text);
    let r = patch_site(&app, &sup, &w.site, json!({"policy": {"max_share_percent": "100"}})).await.problem(400);
    assert!(r.body["detail"].as_str().unwrap().contains("policy.max_share_percent"), "{}", r.text);
    let r = patch_site(&app, &sup, &w.site, json!({"policy": {"max_share_percent": 50.5}})).await.problem(400);
    assert!(r.body["detail"].as_str().unwrap().contains("policy.max_share_percent"), "{}", r.text);
    // Nothing of that changed the site; an unknown site is 404.
    assert_eq!(policy_of(&app, &a.admin, &w.site).await, policy_with(&[]));
    patch_site(&app, &sup, "0190f7a3-0000-7000-8000-000000000000", body).await.problem(404);
}

/// The test app's configured cut-off is 45 minutes: a site without its own
/// value shows (and uses) that, and `null` returns a key to it.
async fn the_effective_policy_is_shown_reset_and_audited(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let sup = w.customs.supervisor.clone();
    let other = second_site(&app, &w, "CNURC", 10).await;
    let a = app.verified_company("policy-shown", &w.customs.officer).await;
    let defaults = policy_with(&[("cancel_cutoff_minutes", 45)]);
    // Every caller sees all seven values.
    assert_eq!(policy_of(&app, &a.admin, &w.site).await, defaults);
    assert_eq!(policy_of(&app, &w.customs.officer, &w.site).await, defaults);
    // Set two: the answer shows them with the defaults of the rest.
    let site = set_policy(&app, &sup, &w.site, json!({"min_notice_minutes": 0, "max_share_percent": 100})).await;
    let mine = policy_with(&[("cancel_cutoff_minutes", 45), ("min_notice_minutes", 0), ("max_share_percent", 100)]);
    assert_eq!(site["policy"], mine);
    assert_eq!(site["name"], "CNKHG bonded zone");
    // The list shows each site's own.
    let list = app.get("/api/v1/sites", Some(&a.admin)).await.expect(200).body;
    let by_id = |id: &str| list["items"].as_array().unwrap().iter().find(|x| x["id"] == id).unwrap()["policy"].clone();
    assert_eq!(by_id(&w.site), mine);
    assert_eq!(by_id(&other), defaults);
    // `null` resets one key; the keys left out keep their value; a name
    // change alone keeps the policy.
    let site = set_policy(&app, &sup, &w.site, json!({"min_notice_minutes": null, "cancel_cutoff_minutes": 10})).await;
    let now = policy_with(&[("cancel_cutoff_minutes", 10), ("max_share_percent", 100)]);
    assert_eq!(site["policy"], now);
    let renamed = patch_site(&app, &sup, &w.site, json!({"name": "Khorgos"})).await.expect(200).body;
    assert_eq!(renamed["policy"], now);
    set_policy(&app, &sup, &w.site, json!({"cancel_cutoff_minutes": null})).await;
    assert_eq!(policy_of(&app, &a.admin, &w.site).await["cancel_cutoff_minutes"], 45);
    // Audited with the supervisor: from the values set before to those after.
    let me = app.get("/api/v1/me", Some(&sup)).await.expect(200).str("/id");
    let audit = app
        .get(&format!("/api/v1/audit?entity_type=site&entity_id={}", w.site), Some(&w.customs.officer))
        .await
        .expect(200)
        .body;
    let changes: Vec<(Value, Value)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "policy")
        .inspect(|e| {
            assert_eq!(e["actor_id"], me.as_str(), "{e}");
            assert_eq!(e["actor_role"], "supervisor", "{e}");
        })
        .map(|e| (e["from_state"].clone(), e["to_state"].clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (json!("default"), json!("min_notice_minutes=0 max_share_percent=100")),
            (
                json!("min_notice_minutes=0 max_share_percent=100"),
                json!("cancel_cutoff_minutes=10 max_share_percent=100")
            ),
            (json!("cancel_cutoff_minutes=10 max_share_percent=100"), json!("max_share_percent=100")),
        ]
    );
    let verify = app.get("/api/v1/audit/verify", Some(&w.customs.officer)).await.expect(200);
    assert_eq!(verify.body["valid"], true, "{}", verify.text);
}

// ---------------------------------------------------------------- the rules follow the site

/// A site with no notice lets a company book a slot ten minutes ahead;
/// another site, at the default (120 minutes), refuses it.
async fn notice_follows_the_slots_site(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let other = second_site(&app, &w, "CNURC", 10).await;
    set_policy(&app, &w.customs.supervisor, &w.site, json!({"min_notice_minutes": 0})).await;
    let a = app.verified_company("notice", &w.customs.officer).await;
    let here = submitted_declaration(&app, &a.admin, &w.site).await;
    let there = submitted_declaration(&app, &a.admin, &other).await;
    let tomorrow = Utc::now() + Duration::days(1);
    let slot_here = slot_from(&app, &a.admin, &w.site, tomorrow).await;
    let slot_there = slot_from(&app, &a.admin, &other, tomorrow).await;
    assert_eq!(slot_here["starts_at"], slot_there["starts_at"]);
    clock_at(&app, time(&slot_here, "/starts_at") - Duration::minutes(10));
    assert_eq!((&slot_from(&app, &a.admin, &w.site, tomorrow).await)["bookable"], true);
    book(&app, &a.admin, &here, &s(&slot_here, "id"), json!({})).await.expect(201);
    let r = refused(book(&app, &a.admin, &there, &s(&slot_there, "id"), json!({})).await, 422, "too-late");
    assert!(r.body["detail"].as_str().unwrap().contains("120 minutes"), "{}", r.text);
}

/// 100% share at one site: one enterprise may take every place there; at
/// the other (capacity 2, share 50%) only one.
async fn share_follows_the_slots_site(app: TestApp) {
    let w = world(&app, 2, 60).await;
    let other = second_site(&app, &w, "CNURC", 2).await;
    set_policy(&app, &w.customs.supervisor, &w.site, json!({"max_share_percent": 100})).await;
    let a = app.verified_company("share", &w.customs.officer).await;
    let tomorrow = Utc::now() + Duration::days(1);
    let here = s(&slot_from(&app, &a.admin, &w.site, tomorrow).await, "id");
    let there = s(&slot_from(&app, &a.admin, &other, tomorrow).await, "id");
    for _ in 0..2 {
        let d = submitted_declaration(&app, &a.admin, &w.site).await;
        book(&app, &a.admin, &d, &here, json!({})).await.expect(201);
    }
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    refused(book(&app, &a.admin, &d, &here, json!({})).await, 409, "slot-full");
    let d = submitted_declaration(&app, &a.admin, &other).await;
    book(&app, &a.admin, &d, &there, json!({})).await.expect(201);
    let d = submitted_declaration(&app, &a.admin, &other).await;
    let r = refused(book(&app, &a.admin, &d, &there, json!({})).await, 409, "share-exceeded");
    assert_eq!(r.body["limit"], 1, "{}", r.text);
    // The slots say so.
    let view = |id: String| {
        let app = &app;
        let token = a.admin.clone();
        async move { app.get(&format!("/api/v1/slots/{id}"), Some(&token)).await.expect(200).body }
    };
    assert_eq!(view(here.clone()).await["reason"], "full");
    assert_eq!(view(there.clone()).await["reason"], "share");
}

/// The cut-off of the site of the slot a booking leaves: cancel and
/// reschedule 30 minutes before the slot starts, allowed at a site with a
/// 10-minute cut-off, refused at one with the default 60.
async fn cancel_cutoff_and_reschedule_follow_the_slots_site(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let other = second_site(&app, &w, "CNURC", 10).await;
    set_policy(&app, &w.customs.supervisor, &w.site, json!({"cancel_cutoff_minutes": 10})).await;
    let a = app.verified_company("cutoff-site", &w.customs.officer).await;
    let tomorrow = Utc::now() + Duration::days(1);
    let here = slot_from(&app, &a.admin, &w.site, tomorrow).await;
    let there = slot_from(&app, &a.admin, &other, tomorrow).await;
    let later_here = slot_from(&app, &a.admin, &w.site, tomorrow + Duration::hours(4)).await;
    let later_there = slot_from(&app, &a.admin, &other, tomorrow + Duration::hours(4)).await;
    let mut bookings = Vec::new();
    for (site, slot) in [(&w.site, &here), (&w.site, &here), (&other, &there), (&other, &there)] {
        let d = submitted_declaration(&app, &a.admin, site).await;
        bookings.push(book(&app, &a.admin, &d, &s(slot, "id"), json!({})).await.expect(201).str("/id"));
    }
    clock_at(&app, time(&here, "/starts_at") - Duration::minutes(30));
    let cancel = |id: String| {
        let app = &app;
        let token = a.admin.clone();
        async move { app.post(&format!("/api/v1/bookings/{id}/cancel"), Some(&token), json!({})).await }
    };
    let reschedule = |id: String, slot: String| {
        let app = &app;
        let token = a.admin.clone();
        async move { app.post(&format!("/api/v1/bookings/{id}/reschedule"), Some(&token), json!({"slot_id": slot})).await }
    };
    assert_eq!(cancel(bookings[0].clone()).await.expect(200).body["status"], "cancelled");
    let moved = reschedule(bookings[1].clone(), s(&later_here, "id")).await.expect(200);
    assert_eq!(moved.body["slot_id"], later_here["id"]);
    let r = refused(cancel(bookings[2].clone()).await, 422, "cancel-cutoff");
    assert!(r.body["detail"].as_str().unwrap().contains("60 minutes"), "{}", r.text);
    refused(reschedule(bookings[3].clone(), s(&later_there, "id")).await, 422, "cancel-cutoff");
    assert_eq!(get_booking(&app, &a.admin, &bookings[3]).await["slot_id"], there["id"]);
    // Customs cancel at any time, whatever the site's cut-off.
    let id = &bookings[2];
    let r = app
        .post(&format!("/api/v1/bookings/{id}/cancel"), Some(&w.customs.officer), json!({"reason": "gate closed"}))
        .await;
    assert_eq!(r.expect(200).body["status"], "cancelled");
}

/// Site A's window is [start, end + 90 min], B's the default [start − 30,
/// end + 30]: both in the booking answers, and the gate follows each.
async fn the_arrival_window_follows_the_site_in_answers_and_at_the_gate(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let other = second_site(&app, &w, "CNURC", 10).await;
    let (sup, officer) = (w.customs.supervisor.clone(), w.customs.officer.clone());
    set_policy(&app, &sup, &w.site, json!({"arrival_early_minutes": 0, "arrival_late_minutes": 90})).await;
    let a = app.verified_company("window-site", &officer).await;
    let tomorrow = Utc::now() + Duration::days(1);
    let mut visits = Vec::new();
    for (site, plate) in [(&w.site, "515AAA01"), (&w.site, "515BBB01"), (&other, "515CCC01")] {
        let slot = slot_from(&app, &a.admin, site, tomorrow).await;
        let d = submitted_declaration(&app, &a.admin, site).await;
        let b = book(&app, &a.admin, &d, &s(&slot, "id"), json!({"vehicle": {"plate": plate, "country": "KZ"}}))
            .await
            .expect(201)
            .body;
        approve(&app, &officer, &d).await;
        visits.push(b);
    }
    let (early_here, late_here, there) = (&visits[0], &visits[1], &visits[2]);
    let (start, end) = (time(early_here, "/starts_at"), time(early_here, "/ends_at"));
    assert_eq!(time(there, "/starts_at"), start);
    // The answers.
    assert_eq!(time(early_here, "/arrival_window/opens_at"), start);
    assert_eq!(time(early_here, "/arrival_window/closes_at"), end + Duration::minutes(90));
    assert_eq!(time(there, "/arrival_window/opens_at"), start - Duration::minutes(30));
    assert_eq!(time(there, "/arrival_window/closes_at"), end + Duration::minutes(30));
    // One second before A's window opens (B's is open): too early at A.
    clock_at(&app, start - Duration::seconds(1));
    let r = refused(scan(&app, &officer, &w.site, early_here).await, 422, "too-early");
    assert_eq!(time(&r.body, "/window_opens_at"), start);
    assert_eq!(time(&r.body, "/window_closes_at"), end + Duration::minutes(90));
    clock_at(&app, start);
    assert_eq!(scan(&app, &officer, &w.site, early_here).await.expect(200).body["status"], "checked_in");
    // An hour after the end: B's window closed, A's still open.
    clock_at(&app, end + Duration::minutes(60));
    let r = refused(scan(&app, &officer, &other, there).await, 422, "too-late");
    assert_eq!(time(&r.body, "/window_closes_at"), end + Duration::minutes(30));
    let id = s(late_here, "id");
    let r = app.post(&format!("/api/v1/bookings/{id}/check-in"), Some(&officer), json!({})).await.expect(200);
    assert_eq!(r.body["status"], "checked_in");
    // B's supervisor widens its window: the booking's answer and the gate follow.
    set_policy(&app, &sup, &other, json!({"arrival_late_minutes": 120})).await;
    let b = get_booking(&app, &a.admin, &s(there, "id")).await;
    assert_eq!(time(&b, "/arrival_window/closes_at"), end + Duration::minutes(120));
    assert_eq!(scan(&app, &officer, &other, there).await.expect(200).body["status"], "checked_in");
}

/// Site A lets a truck be 0 minutes late, B 120: a minute after their
/// slots end, only A's visit is a no-show; B's becomes one after 120.
async fn the_sweep_uses_each_sites_late_minutes(app: TestApp) {
    let w = world(&app, 10, 60).await;
    let other = second_site(&app, &w, "CNURC", 10).await;
    set_policy(&app, &w.customs.supervisor, &w.site, json!({"arrival_late_minutes": 0})).await;
    set_policy(&app, &w.customs.supervisor, &other, json!({"arrival_late_minutes": 120})).await;
    let a = app.verified_company("sweep-site", &w.customs.officer).await;
    let tomorrow = Utc::now() + Duration::days(1);
    let mut ids = Vec::new();
    for site in [&w.site, &other] {
        let slot = slot_from(&app, &a.admin, site, tomorrow).await;
        let d = submitted_declaration(&app, &a.admin, site).await;
        ids.push(book(&app, &a.admin, &d, &s(&slot, "id"), json!({})).await.expect(201).body);
    }
    let end = time(&ids[0], "/ends_at");
    assert_eq!(time(&ids[1], "/ends_at"), end);
    assert_eq!(time(&ids[0], "/arrival_window/closes_at"), end);
    clock_at(&app, end + Duration::minutes(1));
    wait_for_status(&app, &a.admin, &s(&ids[0], "id"), "no_show").await;
    // The sweep runs every second: give it three more rounds.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(get_booking(&app, &a.admin, &s(&ids[1], "id")).await["status"], "confirmed");
    clock_at(&app, end + Duration::minutes(121));
    wait_for_status(&app, &a.admin, &s(&ids[1], "id"), "no_show").await;
}

// ---------------------------------------------------------------- bookable and reason

/// Which refusal booking a slot answers for each reason a slot shows.
fn refusal_for(reason: &str) -> (u16, &'static str) {
    match reason {
        "closed" => (409, "slot-closed"),
        "started" => (422, "slot-started"),
        "notice" => (422, "too-late"),
        "horizon" => (422, "beyond-horizon"),
        "full" => (409, "slot-full"),
        "share" => (409, "share-exceeded"),
        other => panic!("unexpected reason {other}"),
    }
}

/// The app's booking horizon is two days. Hourly slots of capacity 2 from
/// three hours before a slot a day ahead, with the clock a minute after
/// the first started: each reason, what booking says, and the list and
/// one-slot answers agree; customs see neither field.
async fn slots_say_whether_and_why_not_as_booking_answers(app: TestApp) {
    let w = world(&app, 2, 60).await;
    let officer = w.customs.officer.clone();
    let a = app.verified_company("why-a", &officer).await;
    let b = app.verified_company("why-b", &officer).await;
    let c = app.verified_company("why-c", &officer).await;
    let anchor = time(&slot_from(&app, &officer, &w.site, Utc::now() + Duration::days(1)).await, "/starts_at");
    let slots = slots_from(&app, &w, anchor - Duration::hours(3), 8).await;
    let id = |i: usize| s(&slots[i], "id");
    clock_at(&app, anchor - Duration::hours(3) + Duration::minutes(1));
    // [0] started; [1], [2] start within the 120-minute notice; [3] the
    // company holds its share (1 of 2); [4] full (two others took it);
    // [5] closed; [6] free; a slot three days ahead is beyond the horizon.
    let d = submitted_declaration(&app, &a.admin, &w.site).await;
    book(&app, &a.admin, &d, &id(3), json!({})).await.expect(201);
    for other in [&b, &c] {
        let d = submitted_declaration(&app, &other.admin, &w.site).await;
        book(&app, &other.admin, &d, &id(4), json!({})).await.expect(201);
    }
    app.call(Method::PATCH, &format!("/api/v1/slots/{}", id(5)), Some(&officer), Some(json!({"status": "closed"})))
        .await
        .expect(200);
    let far = slot_from(&app, &officer, &w.site, anchor + Duration::days(3)).await;
    let expected: Vec<(String, Option<&str>)> = vec![
        (id(0), Some("started")),
        (id(1), Some("notice")),
        (id(2), Some("notice")),
        (id(3), Some("share")),
        (id(4), Some("full")),
        (id(5), Some("closed")),
        (id(6), None),
        (s(&far, "id"), Some("horizon")),
    ];
    // One slot at a time, and the list, for the company.
    let enc = |t: DateTime<Utc>| t.to_rfc3339().replace('+', "%2B");
    let list = app
        .get(
            &format!("/api/v1/slots?site_id={}&mode=road&from={}&limit=8", w.site, enc(anchor - Duration::hours(3))),
            Some(&a.admin),
        )
        .await
        .expect(200)
        .body;
    let try_with = submitted_declaration(&app, &a.admin, &w.site).await;
    for (i, (slot, reason)) in expected.iter().enumerate() {
        let one = app.get(&format!("/api/v1/slots/{slot}"), Some(&a.admin)).await.expect(200).body;
        assert_eq!(one["bookable"], reason.is_none(), "slot {i}: {one}");
        assert_eq!(one["reason"], json!(reason), "slot {i}: {one}");
        assert!(one.as_object().unwrap().contains_key("reason"), "reason is there, null when bookable: {one}");
        if i < 8 && *slot != s(&far, "id") {
            let listed = &list["items"][i];
            assert_eq!(listed["id"], slot.as_str());
            assert_eq!((&listed["bookable"], &listed["reason"]), (&one["bookable"], &one["reason"]), "slot {i}");
        }
        // Booking it answers the same.
        let r = book(&app, &a.admin, &try_with, slot, json!({})).await;
        match reason {
            Some(reason) => {
                let (status, want) = refusal_for(reason);
                refused(r, status, want);
            }
            None => {
                let booked = r.expect(201).str("/id");
                app.post(&format!("/api/v1/bookings/{booked}/cancel"), Some(&a.admin), json!({})).await.expect(200);
            }
        }
    }
    // Another company, holding nothing in slot 3, may book it.
    let for_b = app.get(&format!("/api/v1/slots/{}", id(3)), Some(&b.admin)).await.expect(200).body;
    assert_eq!((&for_b["bookable"], &for_b["reason"]), (&json!(true), &Value::Null));
    // Customs callers get neither field.
    let for_customs = app.get(&format!("/api/v1/slots/{}", id(3)), Some(&officer)).await.expect(200).body;
    assert!(for_customs.get("bookable").is_none() && for_customs.get("reason").is_none(), "{for_customs}");
    let listed = app.get(&format!("/api/v1/slots?site_id={}", w.site), Some(&officer)).await.expect(200).body;
    assert!(listed["items"].as_array().unwrap().iter().all(|x| x.get("bookable").is_none()), "{listed}");
    // The site's policy moves the reasons: no notice, a year's horizon.
    set_policy(&app, &w.customs.supervisor, &w.site, json!({"min_notice_minutes": 0, "horizon_days": 366})).await;
    for slot in [id(1), s(&far, "id")] {
        let one = app.get(&format!("/api/v1/slots/{slot}"), Some(&a.admin)).await.expect(200).body;
        assert_eq!((&one["bookable"], &one["reason"]), (&json!(true), &Value::Null), "{one}");
    }
    book(&app, &a.admin, &try_with, &id(1), json!({})).await.expect(201);
}
