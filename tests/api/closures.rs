//! Closures: closing or reducing a range of slots, the order in which
//! displaced bookings keep, move or lose their places, dry runs, slots
//! generated later, schedule changes, lifting, and a closure racing with
//! bookings.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{slots_from, submitted_declaration, world, World};
use crate::helpers::{Company, TestApp};
use crate::slots::{create_schedule, create_site};
use crate::webhooks::{receiver, wait_for};

api_tests!(
    a_closure_keeps_the_earliest_and_moves_the_others_in_creation_order,
    a_closure_moves_nobody_into_its_own_slots_beyond_its_capacity,
    a_dry_run_answers_exactly_what_applying_does_and_changes_nothing,
    closing_with_cancel_cancels_with_a_displaced_reason,
    closures_bind_slots_made_later_survive_schedule_changes_and_lift,
    patching_a_slot_with_displace_uses_the_same_rules,
    closure_requests_are_checked,
    thirty_two_bookings_racing_a_closure_never_oversell_or_lose_a_booking,
);

fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B")
}

/// `n` consecutive open slots from a day ahead: (id, starts_at).
async fn hours(app: &TestApp, w: &World, n: usize) -> Vec<(String, DateTime<Utc>)> {
    slots_from(app, w, Utc::now() + Duration::days(1), n)
        .await
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["starts_at"].as_str().unwrap().parse().unwrap()))
        .collect()
}

async fn book(app: &TestApp, c: &Company, w: &World, slot: &str) -> String {
    let d = submitted_declaration(app, &c.admin, &w.site).await;
    app.post("/api/v1/bookings", Some(&c.admin), json!({"declaration_id": d, "slot_id": slot}))
        .await
        .expect(201)
        .str("/id")
}

async fn booking(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/api/v1/bookings/{id}"), Some(token)).await.expect(200).body
}

async fn slot(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/api/v1/slots/{id}"), Some(token)).await.expect(200).body
}

fn closure(from: DateTime<Utc>, to: DateTime<Utc>, extra: Value) -> Value {
    let mut body = json!({"from": from.to_rfc3339(), "to": to.to_rfc3339(), "reason": "X-ray scanner out of order"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn a_closure_keeps_the_earliest_and_moves_the_others_in_creation_order(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let officer = w.customs.officer.clone();
    let h = hours(&app, &w, 3).await;
    let mut companies = Vec::new();
    for tag in ["first", "second", "third", "fourth"] {
        companies.push(app.verified_company(tag, &officer).await);
    }
    // Four bookings at 10:00, made in this order; 11:00 has one place left, 12:00 four.
    let mut made = Vec::new();
    for c in &companies {
        made.push(book(&app, c, &w, &h[0].0).await);
    }
    let other = app.verified_company("other", &officer).await;
    for _ in 0..2 {
        book(&app, &other, &w, &h[1].0).await;
    }
    let third = app.verified_company("third-party", &officer).await;
    book(&app, &third, &w, &h[1].0).await;
    let before = booking(&app, &companies[1].admin, &made[1]).await;
    // The second company's system listens for displacements.
    let rx = receiver(0).await;
    app.post("/api/v1/webhooks", Some(&companies[1].admin), json!({"url": rx.url, "events": ["booking.displaced"]}))
        .await
        .expect(201);
    // 10:00 shrinks to 1 place: the first booking keeps it; the second goes to 11:00, the
    // third and fourth to 12:00, in the order they were made.
    let r = app
        .post(
            &format!("/api/v1/sites/{}/closures", w.site),
            Some(&officer),
            closure(h[0].1, h[0].1 + Duration::minutes(1), json!({"capacity": 1, "rebook": "next_available"})),
        )
        .await
        .expect(201);
    let affected: Vec<(String, Option<String>)> = r.body["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["booking_id"].as_str().unwrap().to_owned(), a["to_slot_id"].as_str().map(str::to_owned)))
        .collect();
    assert_eq!(
        affected,
        vec![
            (made[1].clone(), Some(h[1].0.clone())),
            (made[2].clone(), Some(h[2].0.clone())),
            (made[3].clone(), Some(h[2].0.clone())),
        ]
    );
    assert_eq!(r.body["capacity"], 1);
    assert!(r.body["id"].is_string());
    let kept = booking(&app, &companies[0].admin, &made[0]).await;
    assert_eq!((kept["slot_id"].as_str(), kept["status"].as_str()), (Some(h[0].0.as_str()), Some("confirmed")));
    let moved = booking(&app, &companies[1].admin, &made[1]).await;
    assert_eq!(moved["status"], "confirmed");
    assert_eq!(moved["slot_id"], h[1].0.as_str());
    assert_eq!(moved["id"], before["id"]);
    assert_eq!(moved["declaration_ids"], before["declaration_ids"]);
    assert_eq!(moved["gate_pass"]["version"], 2, "a moved booking gets a new gate pass");
    assert!(moved["version"].as_i64() > before["version"].as_i64());
    // It is told where its booking went.
    let got = wait_for(&rx, 1).await;
    let event: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(event["type"], "booking.displaced");
    assert_eq!(event["data"]["booking_id"], made[1].as_str());
    assert_eq!(event["data"]["from_slot_id"], h[0].0.as_str());
    assert_eq!(event["data"]["to_slot_id"], h[1].0.as_str());
    assert_eq!(event["data"]["gate_pass"]["version"], 2);
    let s0 = slot(&app, &officer, &h[0].0).await;
    assert_eq!((s0["capacity"].as_i64(), s0["booked"].as_i64()), (Some(1), Some(1)));
    let s1 = slot(&app, &officer, &h[1].0).await;
    assert_eq!((s1["capacity"].as_i64(), s1["booked"].as_i64()), (Some(4), Some(4)));
    let s2 = slot(&app, &officer, &h[2].0).await;
    assert_eq!(s2["booked"], 2);
    // The closure and the slot changes are in the audit trail with the officer.
    let id = r.str("/id");
    let audit = app.get(&format!("/api/v1/audit?entity_type=closure&entity_id={id}"), Some(&officer)).await.expect(200);
    assert_eq!(audit.body["items"][0]["action"], "close");
    assert!(audit.body["items"][0]["actor_id"].is_string());
    let moved_audit =
        app.get(&format!("/api/v1/audit?entity_type=booking&entity_id={}", made[1]), Some(&officer)).await.expect(200);
    assert!(moved_audit.body["items"].as_array().unwrap().iter().any(|e| e["action"] == "displace"));
}

/// A slot of the closed range that had room takes displaced bookings only
/// up to the closure's capacity; the rest go after the range.
async fn a_closure_moves_nobody_into_its_own_slots_beyond_its_capacity(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let officer = w.customs.officer.clone();
    let h = hours(&app, &w, 3).await;
    let mut made = Vec::new();
    for tag in ["own-a", "own-b", "own-c"] {
        let c = app.verified_company(tag, &officer).await;
        made.push(book(&app, &c, &w, &h[0].0).await);
    }
    let r = app
        .post(
            &format!("/api/v1/sites/{}/closures", w.site),
            Some(&officer),
            closure(h[0].1, h[1].1 + Duration::minutes(1), json!({"capacity": 1, "rebook": "next_available"})),
        )
        .await
        .expect(201);
    let to: Vec<Option<&str>> =
        r.body["affected"].as_array().unwrap().iter().map(|a| a["to_slot_id"].as_str()).collect();
    assert_eq!(to, vec![Some(h[1].0.as_str()), Some(h[2].0.as_str())]);
    for (id, _) in &h[..2] {
        let s = slot(&app, &officer, id).await;
        assert_eq!((s["capacity"].as_i64(), s["booked"].as_i64()), (Some(1), Some(1)), "{s}");
    }
    assert_eq!(slot(&app, &officer, &h[2].0).await["booked"], 1);
}

async fn a_dry_run_answers_exactly_what_applying_does_and_changes_nothing(app: TestApp) {
    let w = world(&app, 2, 60).await;
    let officer = w.customs.officer.clone();
    let h = hours(&app, &w, 2).await;
    let a = app.verified_company("dry-a", &officer).await;
    let b = app.verified_company("dry-b", &officer).await;
    let (ba, bb) = (book(&app, &a, &w, &h[0].0).await, book(&app, &b, &w, &h[0].0).await);
    let body = closure(h[0].1, h[0].1 + Duration::minutes(1), json!({"rebook": "next_available"}));
    let mut dry = body.clone();
    dry["dry_run"] = json!(true);
    let preview = app.post(&format!("/api/v1/sites/{}/closures", w.site), Some(&officer), dry).await.expect(200);
    assert!(preview.body["id"].is_null());
    // Nothing changed.
    assert_eq!(slot(&app, &officer, &h[0].0).await["status"], "open");
    assert_eq!(booking(&app, &a.admin, &ba).await["slot_id"], h[0].0.as_str());
    let list = app.get(&format!("/api/v1/sites/{}/closures", w.site), Some(&officer)).await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    // Applying does exactly what the preview said.
    let applied = app.post(&format!("/api/v1/sites/{}/closures", w.site), Some(&officer), body).await.expect(201);
    assert_eq!(preview.body["affected"], applied.body["affected"]);
    assert_eq!(applied.body["affected"].as_array().unwrap().len(), 2);
    assert_eq!(slot(&app, &officer, &h[0].0).await["status"], "closed");
    for (c, id) in [(&a, &ba), (&b, &bb)] {
        assert_eq!(booking(&app, &c.admin, id).await["slot_id"], h[1].0.as_str());
    }
}

async fn closing_with_cancel_cancels_with_a_displaced_reason(app: TestApp) {
    let w = world(&app, 2, 60).await;
    let officer = w.customs.officer.clone();
    let h = hours(&app, &w, 3).await;
    let a = app.verified_company("cancel-a", &officer).await;
    let ids = [book(&app, &a, &w, &h[0].0).await, book(&app, &a, &w, &h[2].0).await];
    let r = app
        .post(
            &format!("/api/v1/sites/{}/closures", w.site),
            Some(&officer),
            closure(h[0].1, h[2].1 + Duration::minutes(1), json!({"mode": "road", "rebook": "cancel"})),
        )
        .await
        .expect(201);
    assert_eq!(r.body["affected"].as_array().unwrap().len(), 2);
    for id in &ids {
        let b = booking(&app, &a.admin, id).await;
        assert_eq!(b["status"], "cancelled");
        assert!(b["cancel_reason"].as_str().unwrap().starts_with("displaced"), "{b}");
        assert!(b["cancel_reason"].as_str().unwrap().contains("X-ray scanner"));
    }
    for (id, _) in &h {
        let s = slot(&app, &officer, id).await;
        assert_eq!((s["status"].as_str(), s["booked"].as_i64()), (Some("closed"), Some(0)));
    }
    // The rail slots of the site are not bound by a road closure.
    let rail = app
        .get(&format!("/api/v1/slots?site_id={}&mode=rail&from={}&limit=1", w.site, enc(h[0].1)), Some(&officer))
        .await
        .expect(200);
    assert!(rail.body["items"].as_array().unwrap().iter().all(|s| s["status"] == "open"));
}

async fn closures_bind_slots_made_later_survive_schedule_changes_and_lift(app: TestApp) {
    let customs = app.customs().await;
    let site = create_site(&app, &customs.supervisor, "CNURC", "Asia/Urumqi").await;
    // The closure comes before the slots exist.
    let from = Utc::now() + Duration::days(2);
    let r = app
        .post(
            &format!("/api/v1/sites/{site}/closures"),
            Some(&customs.officer),
            json!({"mode": "road", "from": from.to_rfc3339(), "to": (from + Duration::hours(6)).to_rfc3339(),
                   "capacity": 1, "reason": "holiday shift", "rebook": "cancel"}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["slots"], 0);
    let closure_id = r.str("/id");
    let schedule =
        create_schedule(&app, &customs.supervisor, &site, json!({"mode": "road", "slot_minutes": 60, "capacity": 5}))
            .await
            .expect(201)
            .str("/id");
    let range =
        format!("/api/v1/slots?site_id={site}&mode=road&from={}&to={}", enc(from), enc(from + Duration::hours(6)));
    let slots = in_range(&app, &range, &customs.officer).await;
    assert!(slots.len() >= 5, "{slots:?}");
    assert!(slots.iter().all(|s| s["capacity"] == 1), "slots made later are bound: {slots:?}");
    // A slot outside the range keeps the schedule's capacity.
    let after = app
        .get(
            &format!("/api/v1/slots?site_id={site}&mode=road&from={}&limit=1", enc(from + Duration::hours(8))),
            Some(&customs.officer),
        )
        .await
        .expect(200);
    assert_eq!(after.body["items"][0]["capacity"], 5);
    // A schedule change does not undo the closure...
    app.call(
        Method::PATCH,
        &format!("/api/v1/sites/{site}/schedules/{schedule}"),
        Some(&customs.supervisor),
        Some(json!({"capacity": 8})),
    )
    .await
    .expect(200);
    assert!(in_range(&app, &range, &customs.officer).await.iter().all(|s| s["capacity"] == 1));
    // ...and lifting it gives the slots the schedule's capacity of now.
    app.call(Method::DELETE, &format!("/api/v1/closures/{closure_id}"), Some(&customs.officer), None).await.expect(204);
    assert!(in_range(&app, &range, &customs.officer).await.iter().all(|s| s["capacity"] == 8 && s["status"] == "open"));
    let again = app.call(Method::DELETE, &format!("/api/v1/closures/{closure_id}"), Some(&customs.officer), None).await;
    let again = again.problem(409);
    assert!(again.body["type"].as_str().unwrap().ends_with("/closure-lifted"));
    let list = app.get(&format!("/api/v1/sites/{site}/closures"), Some(&customs.officer)).await.expect(200);
    assert_eq!(list.body["items"][0]["active"], false);
    assert!(list.body["items"][0]["lifted_at"].is_string());
}

async fn in_range(app: &TestApp, path: &str, officer: &str) -> Vec<Value> {
    app.get(path, Some(officer)).await.expect(200).body["items"].as_array().unwrap().clone()
}

async fn patching_a_slot_with_displace_uses_the_same_rules(app: TestApp) {
    let w = world(&app, 2, 60).await;
    let officer = w.customs.officer.clone();
    let h = hours(&app, &w, 2).await;
    let a = app.verified_company("patch-a", &officer).await;
    let b = app.verified_company("patch-b", &officer).await;
    let (first, second) = (book(&app, &a, &w, &h[0].0).await, book(&app, &b, &w, &h[0].0).await);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/slots/{}", h[0].0),
            Some(&officer),
            Some(json!({"capacity": 1, "displace": true, "rebook": "next_available", "reason": "one lane"})),
        )
        .await
        .expect(200);
    assert_eq!((r.body["capacity"].as_i64(), r.body["booked"].as_i64()), (Some(1), Some(1)));
    assert_eq!(booking(&app, &a.admin, &first).await["slot_id"], h[0].0.as_str());
    let moved = booking(&app, &b.admin, &second).await;
    assert_eq!((moved["slot_id"].as_str(), moved["status"].as_str()), (Some(h[1].0.as_str()), Some("confirmed")));
    let bad = app
        .call(
            Method::PATCH,
            &format!("/api/v1/slots/{}", h[1].0),
            Some(&officer),
            Some(json!({"status": "closed", "rebook": "later"})),
        )
        .await
        .problem(422);
    assert_eq!(bad.fields(), ["rebook"]);
}

async fn closure_requests_are_checked(app: TestApp) {
    let w = world(&app, 2, 60).await;
    let officer = w.customs.officer.clone();
    let company = app.verified_company("nosy", &officer).await;
    let t = Utc::now() + Duration::days(1);
    let path = format!("/api/v1/sites/{}/closures", w.site);
    let r = app
        .post(&path, Some(&officer), json!({"from": t.to_rfc3339(), "to": (t - Duration::hours(1)).to_rfc3339()}))
        .await;
    let mut fields = r.problem(422).fields();
    fields.sort();
    assert_eq!(fields, ["reason", "rebook", "to"]);
    let r = app
        .post(
            &path,
            Some(&officer),
            closure(t, t + Duration::hours(1), json!({"mode": "road", "rebook": "later", "capacity": -1})),
        )
        .await
        .problem(422);
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, ["capacity", "rebook"]);
    // The site has no air clearance.
    let r = app
        .post(&path, Some(&officer), closure(t, t + Duration::hours(1), json!({"mode": "air", "rebook": "cancel"})))
        .await
        .problem(422);
    assert_eq!(r.fields(), ["mode"]);
    app.post(&path, Some(&company.admin), closure(t, t + Duration::hours(1), json!({"rebook": "cancel"})))
        .await
        .problem(403);
    app.post(
        "/api/v1/sites/0190f7a2-0000-7000-8000-000000000000/closures",
        Some(&officer),
        closure(t, t + Duration::hours(1), json!({"rebook": "cancel"})),
    )
    .await
    .problem(404);
    app.call(Method::DELETE, "/api/v1/closures/nope", Some(&officer), None).await.problem(404);
    app.post(&path, Some(&officer), closure(t, t + Duration::days(40), json!({"rebook": "cancel"}))).await.problem(422);
}

/// 32 bookings race a closure of their range: every booking that got a
/// 201 ends in its slot, moved, or cancelled with a `displaced` reason;
/// no slot is over capacity and every count equals its active bookings.
async fn thirty_two_bookings_racing_a_closure_never_oversell_or_lose_a_booking(app: TestApp) {
    let w = world(&app, 6, 60).await;
    let officer = w.customs.officer.clone();
    let h = hours(&app, &w, 6).await;
    let mut companies = Vec::new();
    for i in 0..8 {
        companies.push(app.verified_company(&format!("race{i}"), &officer).await);
    }
    let mut jobs = Vec::new();
    for i in 0..32 {
        let c = &companies[i % companies.len()];
        let d = submitted_declaration(&app, &c.admin, &w.site).await;
        jobs.push((c.admin.clone(), d, h[i % 3].0.clone()));
    }
    let mut tasks = Vec::new();
    for (token, d, slot) in jobs {
        let client = app.client.clone();
        let url = app.url("/api/v1/bookings");
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(&token)
                .json(&json!({"declaration_id": d, "slot_id": slot}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body["id"].as_str().map(str::to_owned), token)
        }));
    }
    let path = format!("/api/v1/sites/{}/closures", w.site);
    let closing = app.post(
        &path,
        Some(&officer),
        closure(h[0].1, h[2].1 + Duration::minutes(1), json!({"capacity": 2, "rebook": "next_available"})),
    );
    let closed = closing.await.expect(201);
    let mut booked = Vec::new();
    for t in tasks {
        let (status, id, token) = t.await.unwrap();
        assert!(matches!(status, 201 | 409), "a racing booking answered {status}");
        if let Some(id) = id.filter(|_| status == 201) {
            booked.push((id, token));
        }
    }
    assert!(!booked.is_empty());
    // Every booking that got a 201 still exists: in a slot, moved, or cancelled as displaced.
    for (id, token) in &booked {
        let b = booking(&app, token, id).await;
        match b["status"].as_str().unwrap() {
            "confirmed" => {}
            "cancelled" => assert!(b["cancel_reason"].as_str().unwrap().starts_with("displaced"), "{b}"),
            other => panic!("booking {id} is {other}"),
        }
    }
    // No slot over capacity, and every count equals its active bookings.
    let all = slots_from(&app, &w, h[0].1, 6).await;
    let mut active = std::collections::HashMap::new();
    for (id, token) in &booked {
        let b = booking(&app, token, id).await;
        if b["active"] == true {
            *active.entry(b["slot_id"].as_str().unwrap().to_owned()).or_insert(0i64) += 1;
        }
    }
    for s in &all {
        let id = s["id"].as_str().unwrap();
        let (capacity, n) = (s["capacity"].as_i64().unwrap(), s["booked"].as_i64().unwrap());
        assert!(n <= capacity, "slot {id} booked {n} > capacity {capacity}");
        assert_eq!(n, active.get(id).copied().unwrap_or(0), "slot {id}: booked {n} vs active bookings");
    }
    // The three bound slots kept at most two places each.
    for (id, _) in &h[..3] {
        assert!(slot(&app, &officer, id).await["booked"].as_i64().unwrap() <= 2);
    }
    assert!(closed.body["affected"].is_array());
}
