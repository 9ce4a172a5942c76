//! Truck visits and the gate: a booking of several declarations for one
//! vehicle, the plate rule, editing a visit (`If-Match`), the signed gate
//! pass and its QR code, the scan at the gate with every refusal and their
//! order, check-in, declarations leaving a visit, and the no-show sweep.
//!
//! Time: bookings need 120 minutes' notice, so every visit is booked on a
//! slot tomorrow and the application's clock is then set to the edges of
//! its arrival window, computed from the booking's `starts_at`/`ends_at`.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{submitted_declaration, tomorrow_slot, world, World};
use crate::helpers::{Company, Resp, TestApp};
use crate::slots::{create_schedule, create_site};
use crate::webhooks::{receiver, wait_for};

api_tests!(
    // Booking a truck.
    a_truck_of_two_declarations_takes_one_place,
    a_single_declaration_id_still_books,
    declaration_lists_hold_one_to_twenty_distinct_ids,
    one_already_booked_declaration_books_nothing,
    another_companys_declaration_or_another_site_books_nothing,
    // Validation.
    containers_need_their_check_digit,
    plates_countries_and_drivers_are_validated,
    // The plate rule.
    one_plate_may_not_hold_overlapping_bookings,
    concurrent_bookings_of_one_plate_book_once,
    concurrent_bookings_of_one_plate_at_two_sites_book_once,
    rescheduling_keeps_the_plate_rule,
    // Editing a visit.
    editing_needs_the_current_if_match_and_supersedes_the_gate_pass,
    editing_keeps_the_plate_rule_ownership_and_roles,
    // The gate pass.
    the_gate_pass_svg_is_a_qr_for_owner_and_customs,
    // The scan: every refusal.
    forged_or_spliced_codes_are_gate_pass_invalid,
    a_scan_at_another_site_is_wrong_site,
    an_older_gate_pass_is_superseded_after_reschedule,
    a_cancelled_booking_is_not_active,
    a_second_scan_is_already_checked_in,
    the_arrival_window_holds_to_the_second with |s| s.gate.sweep_interval_secs = 3600,
    a_visit_without_vehicle_is_vehicle_missing,
    uncleared_declarations_are_listed,
    refusals_follow_the_precedence_order with |s| s.gate.sweep_interval_secs = 3600,
    // The scan: success, by code and by plate.
    a_scan_checks_in_and_complete_completes,
    a_scan_by_plate_finds_the_visit_however_the_plate_is_written,
    a_scan_by_plate_prefers_this_site_and_names_the_other,
    only_customs_scan,
    // Check-in by id.
    check_in_by_id_applies_the_gate_rules,
    // Declarations leaving a visit.
    rejected_declarations_leave_the_visit_and_the_last_cancels_it,
    // The sweep and the gate webhooks.
    the_sweep_marks_visits_past_their_window_no_show,
    check_in_and_complete_are_webhooks,
);

// ---------------------------------------------------------------- helpers

const BOOKINGS: &str = "/api/v1/bookings";
const SCAN: &str = "/api/v1/gate/scan";

/// The slug a problem's `type` ends in.
fn slug(r: &Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

/// Asserts a problem of this status whose `type` ends in `slug` and whose
/// `detail` says something.
#[track_caller]
fn refused(r: Resp, status: u16, want: &str) -> Resp {
    let r = r.problem(status);
    assert_eq!(slug(&r), want, "problem type: {}", r.text);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.trim().is_empty()), "no detail: {}", r.text);
    r
}

/// A validation problem naming `field`.
#[track_caller]
fn invalid_field(r: Resp, field: &str) {
    let r = refused(r, 422, "validation");
    assert!(r.fields().contains(&field.to_owned()), "expected field {field}: {}", r.text);
}

/// A string member of a JSON value.
fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("no string {key} in {v}")).to_owned()
}

/// An RFC 3339 time member of a JSON value.
fn time(v: &Value, pointer: &str) -> DateTime<Utc> {
    let text = v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no time at {pointer} in {v}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{pointer} = {text}: {e}")).with_timezone(&Utc)
}

fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B")
}

/// A vehicle registered in Kazakhstan.
fn truck(plate: &str) -> Value {
    json!({"plate": plate, "country": "KZ"})
}

/// The body of a truck visit: these declarations on this slot, plus `extra` members.
fn visit(declarations: &[&str], slot: &str, extra: Value) -> Value {
    let mut body = json!({"declaration_ids": declarations, "slot_id": slot});
    if let Value::Object(more) = extra {
        body.as_object_mut().unwrap().extend(more);
    }
    body
}

async fn book(app: &TestApp, token: &str, body: Value) -> Resp {
    app.post(BOOKINGS, Some(token), body).await
}

async fn get_booking(app: &TestApp, token: &str, id: &str) -> Resp {
    app.get(&format!("{BOOKINGS}/{id}"), Some(token)).await.expect(200)
}

async fn patch_booking(app: &TestApp, token: &str, id: &str, if_match: Option<&str>, body: Value) -> Resp {
    let headers: Vec<(&str, &str)> = if_match.map(|t| ("If-Match", t)).into_iter().collect();
    app.call_with(Method::PATCH, &format!("{BOOKINGS}/{id}"), Some(token), Some(body), &headers).await
}

async fn scan(app: &TestApp, token: &str, site: &str, code: &str) -> Resp {
    app.post(SCAN, Some(token), json!({"site_id": site, "code": code})).await
}

async fn scan_plate(app: &TestApp, token: &str, site: &str, plate: &str, country: &str) -> Resp {
    app.post(SCAN, Some(token), json!({"site_id": site, "plate": plate, "country": country})).await
}

async fn check_in(app: &TestApp, token: &str, id: &str) -> Resp {
    app.post(&format!("{BOOKINGS}/{id}/check-in"), Some(token), json!({})).await
}

/// How many places of a slot are booked.
async fn booked(app: &TestApp, token: &str, slot: &str) -> i64 {
    app.get(&format!("/api/v1/slots/{slot}"), Some(token)).await.expect(200).body["booked"].as_i64().unwrap()
}

/// Open road slots of `site` starting from `from`.
async fn slots_at(app: &TestApp, token: &str, site: &str, from: DateTime<Utc>, n: usize) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/slots?site_id={site}&mode=road&from={}&limit={n}", enc(from)), Some(token))
        .await
        .expect(200);
    r.body["items"].as_array().unwrap().clone()
}

/// A second site with hourly road slots; `tz` decides where its hours fall in UTC.
async fn another_site(app: &TestApp, w: &World, code: &str, tz: &str) -> String {
    let site = create_site(app, &w.customs.supervisor, code, tz).await;
    create_schedule(app, &w.customs.supervisor, &site, json!({"mode": "road", "slot_minutes": 60, "capacity": 10}))
        .await
        .expect(201);
    site
}

async fn approve(app: &TestApp, officer: &str, declaration: &str) {
    app.post(&format!("/api/v1/declarations/{declaration}/approve"), Some(officer), json!({"risk_lane": "green"}))
        .await
        .expect(200);
}

async fn user_id(app: &TestApp, token: &str) -> String {
    app.get("/api/v1/me", Some(token)).await.expect(200).str("/id")
}

/// The arrival window a booking answer implies: [start − 30 min, end + 30 min].
fn window(b: &Value) -> (DateTime<Utc>, DateTime<Utc>) {
    (time(b, "/starts_at") - Duration::minutes(30), time(b, "/ends_at") + Duration::minutes(30))
}

/// Moves the application's clock to `at` (it runs on from there).
fn clock_at(app: &TestApp, at: DateTime<Utc>) {
    app.state.clock.set(at);
}

/// An ISO 6346 container number: `owner_and_serial` (3 letters, the
/// category letter, 6 digits) and its check digit.
fn container(owner_and_serial: &str) -> String {
    let value = |c: char| -> u32 {
        if let Some(d) = c.to_digit(10) {
            return d;
        }
        // A = 10, then up by one, skipping the multiples of 11.
        let mut v = 10;
        for _ in 'A'..c {
            v += 1;
            if v % 11 == 0 {
                v += 1;
            }
        }
        v
    };
    let sum: u32 = owner_and_serial.chars().enumerate().map(|(i, c)| value(c) << i).sum();
    format!("{owner_and_serial}{}", sum % 11 % 10)
}

#[test]
fn the_check_digit_helper_agrees_with_the_spec_example() {
    assert_eq!(container("CSQU305438"), "CSQU3054383");
    // The SPEC's request example `MSCU1234565` has a wrong check digit.
    assert_eq!(container("MSCU123456"), "MSCU1234566");
}

/// A site, customs, a verified company, and the officer's user id.
struct Gate {
    w: World,
    a: Company,
    officer_id: String,
}

impl Gate {
    fn officer(&self) -> &str {
        &self.w.customs.officer
    }
    fn site(&self) -> &str {
        &self.w.site
    }
}

async fn gate(app: &TestApp, tag: &str) -> Gate {
    let w = world(app, 10, 60).await;
    let a = app.verified_company(tag, &w.customs.officer).await;
    let officer_id = user_id(app, &w.customs.officer).await;
    Gate { w, a, officer_id }
}

/// A visit of `n` submitted declarations of the company on `slot`, with `extra`; returns (booking, declarations).
async fn visit_of(app: &TestApp, g: &Gate, n: usize, slot: &str, extra: Value) -> (Value, Vec<String>) {
    let mut ds = Vec::new();
    for _ in 0..n {
        ds.push(submitted_declaration(app, &g.a.admin, g.site()).await);
    }
    let refs: Vec<&str> = ds.iter().map(String::as_str).collect();
    let b = book(app, &g.a.admin, visit(&refs, slot, extra)).await.expect(201).body;
    (b, ds)
}

/// A visit ready for the gate: two approved declarations and the truck `plate`, on tomorrow's slot `offset`.
async fn cleared_visit(app: &TestApp, g: &Gate, offset: usize, plate: &str) -> Value {
    let slot = tomorrow_slot(app, &g.w, offset).await;
    let (b, ds) = visit_of(app, g, 2, &slot, json!({"vehicle": truck(plate)})).await;
    for d in &ds {
        approve(app, g.officer(), d).await;
    }
    b
}

/// Polls a booking until it reads `status`, at most `secs` seconds.
async fn wait_for_status(app: &TestApp, token: &str, id: &str, status: &str, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let b = get_booking(app, token, id).await.body;
        if b["status"] == status || std::time::Instant::now() > deadline {
            assert_eq!(b["status"], status, "booking {id} did not become {status} within {secs} s: {b}");
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The event types of a webhook's delivery log once `n` deliveries are delivered (at most 10 s).
async fn delivered_types(app: &TestApp, token: &str, hook: &str, n: usize) -> Vec<String> {
    let path = format!("/api/v1/webhooks/{hook}/deliveries");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = app.get(&path, Some(token)).await.expect(200);
        let items = log.body["items"].as_array().unwrap().clone();
        let done = items.len() >= n && items.iter().all(|d| d["status"] == "delivered");
        if done || std::time::Instant::now() > deadline {
            assert!(done, "the delivery log did not settle with {n} delivered: {}", log.text);
            let mut types: Vec<String> = items.iter().map(|d| s(d, "event_type")).collect();
            types.sort();
            return types;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A `booking-not-active` refusal naming the booking and its state. The
/// state cannot be the member `status`: RFC 9457 (and the SPEC) give
/// `status` to the HTTP status code, so it is `booking_status`.
#[track_caller]
fn not_active(r: Resp, booking_id: &str, state: &str) {
    assert_eq!(r.text.matches("\"status\"").count(), 1, "one `status` member, the HTTP status: {}", r.text);
    let r = refused(r, 409, "booking-not-active");
    assert_eq!(r.body["booking_id"], booking_id);
    assert_eq!(r.body["booking_status"], state, "{}", r.text);
}

/// The ETag a booking answer must carry: its version, strong and quoted.
#[track_caller]
fn assert_etag_is_version(r: &Resp) {
    let version = r.body["version"].as_i64().unwrap_or_else(|| panic!("no version: {}", r.text));
    assert_eq!(r.header("etag"), Some(format!("\"{version}\"")), "{}", r.text);
}

// ---------------------------------------------------------------- booking a truck

async fn a_truck_of_two_declarations_takes_one_place(app: TestApp) {
    let g = gate(&app, "truck").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let d1 = submitted_declaration(&app, &g.a.admin, g.site()).await;
    let d2 = submitted_declaration(&app, &g.a.admin, g.site()).await;
    let body = visit(
        &[&d2, &d1],
        &slot,
        json!({
            "vehicle": {"plate": "01 kz-123·ab", "country": "KZ", "trailer_plate": "02KZ456"},
            "driver": {"name": "Serik Akhmetov", "document_number": "N12345678"},
            "containers": ["CSQU3054383"],
        }),
    );
    let r = book(&app, &g.a.admin, body).await.expect(201);
    let b = &r.body;
    assert_eq!(b["status"], "confirmed");
    assert_eq!(b["declaration_ids"], json!([d2, d1]), "in the order given");
    assert_eq!(b["declaration_id"], d2.as_str(), "the first of them");
    assert_eq!(b["vehicle"]["plate"], "01KZ123AB", "stored normalised");
    assert_eq!(b["vehicle"]["country"], "KZ");
    assert_eq!(b["vehicle"]["trailer_plate"], "02KZ456");
    assert_eq!(b["driver"], json!({"name": "Serik Akhmetov", "document_number": "N12345678"}));
    assert_eq!(b["containers"], json!(["CSQU3054383"]));
    assert!(b["gate_pass"]["code"].as_str().is_some_and(|c| !c.is_empty()), "{b}");
    assert_eq!(b["gate_pass"]["version"], 1);
    assert!(b["checked_in_at"].is_null() && b["checked_in_by"].is_null(), "{b}");
    assert_etag_is_version(&r);
    // The arrival window: 30 minutes either side of the slot.
    let (opens, closes) = window(b);
    assert_eq!(time(b, "/arrival_window/opens_at"), opens);
    assert_eq!(time(b, "/arrival_window/closes_at"), closes);
    // The company may cancel, move and edit it.
    let actions: Vec<&str> = b["allowed_actions"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for action in ["cancel", "reschedule", "edit"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    // One place for the whole truck.
    assert_eq!(booked(&app, g.officer(), &slot).await, 1);
    // A read answers the same visit and the same ETag.
    let id = s(b, "id");
    let read = get_booking(&app, &g.a.admin, &id).await;
    assert_etag_is_version(&read);
    assert_eq!(read.body["declaration_ids"], json!([d2, d1]));
    assert_eq!(read.body["gate_pass"], b["gate_pass"]);
    // Both declarations are now booked.
    for d in [&d1, &d2] {
        let other = tomorrow_slot(&app, &g.w, 1).await;
        let r = refused(
            book(&app, &g.a.admin, json!({"declaration_id": d, "slot_id": other})).await,
            409,
            "already-booked",
        );
        assert_eq!(r.body["declaration_id"], d.as_str(), "{}", r.text);
    }
}

async fn a_single_declaration_id_still_books(app: TestApp) {
    let g = gate(&app, "single").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let d = submitted_declaration(&app, &g.a.admin, g.site()).await;
    let r = book(&app, &g.a.admin, json!({"declaration_id": d, "slot_id": slot})).await.expect(201);
    assert_eq!(r.body["declaration_ids"], json!([d]));
    assert_eq!(r.body["declaration_id"], d.as_str());
    assert!(r.body["vehicle"].is_null() && r.body["driver"].is_null(), "{}", r.text);
    assert_eq!(r.body["containers"], json!([]));
    assert_eq!(r.body["gate_pass"]["version"], 1);
    assert_etag_is_version(&r);
    assert_eq!(booked(&app, g.officer(), &slot).await, 1);
}

async fn declaration_lists_hold_one_to_twenty_distinct_ids(app: TestApp) {
    let g = gate(&app, "twenty").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let mut ds = Vec::new();
    for _ in 0..21 {
        ds.push(submitted_declaration(&app, &g.a.admin, g.site()).await);
    }
    let all: Vec<&str> = ds.iter().map(String::as_str).collect();
    // 21 is one too many; none is too few; a repeated id is refused.
    invalid_field(book(&app, &g.a.admin, visit(&all, &slot, json!({}))).await, "declaration_ids");
    invalid_field(book(&app, &g.a.admin, visit(&[], &slot, json!({}))).await, "declaration_ids");
    invalid_field(
        book(&app, &g.a.admin, visit(&[all[0], all[1], all[0]], &slot, json!({}))).await,
        "declaration_ids[2]",
    );
    assert_eq!(booked(&app, g.officer(), &slot).await, 0, "no refusal booked anything");
    // Twenty is fine, and still one place.
    let r = book(&app, &g.a.admin, visit(&all[..20], &slot, json!({}))).await.expect(201);
    assert_eq!(r.body["declaration_ids"], json!(all[..20]));
    assert_eq!(booked(&app, g.officer(), &slot).await, 1);
}

async fn one_already_booked_declaration_books_nothing(app: TestApp) {
    let g = gate(&app, "partial").await;
    let first = tomorrow_slot(&app, &g.w, 0).await;
    let second = tomorrow_slot(&app, &g.w, 1).await;
    let d1 = submitted_declaration(&app, &g.a.admin, g.site()).await;
    let d2 = submitted_declaration(&app, &g.a.admin, g.site()).await;
    book(&app, &g.a.admin, json!({"declaration_id": d1, "slot_id": first})).await.expect(201);
    // d2 is free, d1 is not: nothing is booked, and the refusal names d1.
    let r = refused(book(&app, &g.a.admin, visit(&[&d2, &d1], &second, json!({}))).await, 409, "already-booked");
    assert_eq!(r.body["declaration_id"], d1.as_str(), "{}", r.text);
    assert!(r.str("/detail").contains(&d1), "the detail names the declaration: {}", r.text);
    assert_eq!(booked(&app, g.officer(), &second).await, 0, "nothing booked");
    let listed = app.get(&format!("{BOOKINGS}?declaration_id={d2}"), Some(&g.a.admin)).await.expect(200);
    assert_eq!(listed.body["items"], json!([]), "d2 has no booking");
    // d2 is still bookable.
    book(&app, &g.a.admin, visit(&[&d2], &second, json!({}))).await.expect(201);
    assert_eq!(booked(&app, g.officer(), &second).await, 1);
}

async fn another_companys_declaration_or_another_site_books_nothing(app: TestApp) {
    let g = gate(&app, "mixed").await;
    let b = app.verified_company("mixed-b", g.officer()).await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let own = submitted_declaration(&app, &g.a.admin, g.site()).await;
    let foreign = submitted_declaration(&app, &b.admin, g.site()).await;
    // Another enterprise's declaration in the list: 404, as if it did not exist.
    let r = refused(book(&app, &g.a.admin, visit(&[&own, &foreign], &slot, json!({}))).await, 404, "not-found");
    assert!(r.str("/detail").contains(&foreign), "{}", r.text);
    // A declaration of another site in the list: 422.
    let elsewhere = another_site(&app, &g.w, "KZNUR", "Asia/Almaty").await;
    let far = submitted_declaration(&app, &g.a.admin, &elsewhere).await;
    refused(book(&app, &g.a.admin, visit(&[&own, &far], &slot, json!({}))).await, 422, "wrong-site-or-mode");
    assert_eq!(booked(&app, g.officer(), &slot).await, 0, "nothing booked");
    book(&app, &g.a.admin, visit(&[&own], &slot, json!({}))).await.expect(201);
}

// ---------------------------------------------------------------- validation

async fn containers_need_their_check_digit(app: TestApp) {
    let g = gate(&app, "boxes").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let d = submitted_declaration(&app, &g.a.admin, g.site()).await;
    let good = container("MSCU123456");
    for (containers, field) in [
        (json!([good, "CSQU3054384"]), "containers[1]"), // wrong check digit
        (json!(["MSCU1234565"]), "containers[0]"),       // the SPEC's request example: wrong check digit too
        (json!(["CSQX3054383"]), "containers[0]"),       // category must be U, J or Z
        (json!(["CSQ3054383"]), "containers[0]"),        // owner code too short
        (json!([good, good, "12345678901"]), "containers[2]"),
    ] {
        let r = book(&app, &g.a.admin, visit(&[&d], &slot, json!({"containers": containers}))).await;
        invalid_field(r, field);
    }
    // At most ten.
    let eleven: Vec<String> = (0..11).map(|i| container(&format!("TGHU{:06}", 100 + i))).collect();
    invalid_field(book(&app, &g.a.admin, visit(&[&d], &slot, json!({"containers": eleven}))).await, "containers");
    assert_eq!(booked(&app, g.officer(), &slot).await, 0);
    // Ten valid ones are fine.
    let ten: Vec<String> = (0..10).map(|i| container(&format!("TGHU{:06}", 100 + i))).collect();
    let r = book(&app, &g.a.admin, visit(&[&d], &slot, json!({"containers": ten}))).await.expect(201);
    assert_eq!(r.body["containers"], json!(ten));
}

async fn plates_countries_and_drivers_are_validated(app: TestApp) {
    let g = gate(&app, "plates").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let d = submitted_declaration(&app, &g.a.admin, g.site()).await;
    let cases = [
        (json!({"vehicle": {"plate": "A", "country": "KZ"}}), "vehicle.plate"), // too short
        (json!({"vehicle": {"plate": "- · -", "country": "KZ"}}), "vehicle.plate"), // nothing left
        (json!({"vehicle": {"plate": "ABCDEFGH12345678", "country": "KZ"}}), "vehicle.plate"), // 16
        (json!({"vehicle": {"plate": "AB#123", "country": "KZ"}}), "vehicle.plate"), // a symbol
        (json!({"vehicle": {"plate": "123ABC02", "country": "KAZ"}}), "vehicle.country"),
        (json!({"vehicle": {"plate": "123ABC02", "country": "K1"}}), "vehicle.country"),
        (json!({"vehicle": {"plate": "123ABC02", "country": ""}}), "vehicle.country"),
        (json!({"driver": {"name": "", "document_number": "N1"}}), "driver.name"),
        (json!({"driver": {"name": "Serik", "document_number": ""}}), "driver.document_number"),
    ];
    for (extra, field) in cases {
        let r = book(&app, &g.a.admin, visit(&[&d], &slot, extra.clone())).await;
        assert_eq!(r.status.as_u16(), 422, "{extra} should be refused: {}", r.text);
        invalid_field(r, field);
    }
    assert_eq!(booked(&app, g.officer(), &slot).await, 0);
    // Letters of any script count, and are upper-cased.
    let r = book(&app, &g.a.admin, visit(&[&d], &slot, json!({"vehicle": truck("ав 123-с")}))).await.expect(201);
    assert_eq!(r.body["vehicle"]["plate"], "АВ123С");
}

// ---------------------------------------------------------------- the plate rule

async fn one_plate_may_not_hold_overlapping_bookings(app: TestApp) {
    let g = gate(&app, "plate-rule").await;
    let slot = tomorrow_slot(&app, &g.w, 1).await;
    let mut ds = Vec::new();
    for _ in 0..5 {
        ds.push(submitted_declaration(&app, &g.a.admin, g.site()).await);
    }
    let first = book(&app, &g.a.admin, visit(&[&ds[0]], &slot, json!({"vehicle": truck("777 ABC 02")}))).await;
    let first = first.expect(201).body;
    let (starts, ends) = (time(&first, "/starts_at"), time(&first, "/ends_at"));
    // The same plate (written otherwise) and country on the same slot: refused.
    let same = visit(&[&ds[1]], &slot, json!({"vehicle": truck("777abc02")}));
    refused(book(&app, &g.a.admin, same).await, 409, "vehicle-already-booked");
    // At another site, on a slot that overlaps by half an hour: refused too.
    let other_site = another_site(&app, &g.w, "INDEL", "Asia/Kolkata").await;
    let other = app.verified_company("plate-rule-b", g.officer()).await;
    let overlapping = slots_at(&app, g.officer(), &other_site, starts - Duration::minutes(59), 1).await;
    let overlapping = &overlapping[0];
    assert!(time(overlapping, "/starts_at") < ends && starts < time(overlapping, "/ends_at"), "{overlapping}");
    let d_other = submitted_declaration(&app, &other.admin, &other_site).await;
    let r = book(&app, &other.admin, visit(&[&d_other], &s(overlapping, "id"), json!({"vehicle": truck("777ABC02")})));
    refused(r.await, 409, "vehicle-already-booked");
    // A slot that does not overlap: fine; the very next slot (touching, not overlapping): fine.
    let later = tomorrow_slot(&app, &g.w, 3).await;
    book(&app, &g.a.admin, visit(&[&ds[1]], &later, json!({"vehicle": truck("777ABC02")}))).await.expect(201);
    let next = tomorrow_slot(&app, &g.w, 2).await;
    let r = book(&app, &g.a.admin, visit(&[&ds[2]], &next, json!({"vehicle": truck("777ABC02")}))).await;
    assert_eq!(r.status.as_u16(), 201, "adjacent slots do not overlap: {}", r.text);
    // The same plate from another country: another vehicle.
    let uz = json!({"vehicle": {"plate": "777ABC02", "country": "UZ"}});
    book(&app, &g.a.admin, visit(&[&ds[3]], &slot, uz)).await.expect(201);
    // Once the first booking is cancelled, the plate is free on that slot again.
    app.post(&format!("{BOOKINGS}/{}/cancel", s(&first, "id")), Some(&g.a.admin), json!({})).await.expect(200);
    book(&app, &g.a.admin, visit(&[&ds[4]], &slot, json!({"vehicle": truck("777ABC02")}))).await.expect(201);
}

async fn concurrent_bookings_of_one_plate_book_once(app: TestApp) {
    let w = world(&app, 20, 60).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let mut attempts = Vec::new();
    for tag in ["race-a", "race-b"] {
        let c = app.verified_company(tag, &w.customs.officer).await;
        for _ in 0..4 {
            attempts.push((c.admin.clone(), submitted_declaration(&app, &c.admin, &w.site).await));
        }
    }
    let tries = attempts
        .iter()
        .map(|(token, d)| book(&app, token, visit(&[d], &slot, json!({"vehicle": truck("555 RACE 01")}))));
    let results = futures_util::future::join_all(tries).await;
    let mut created = 0;
    for r in results {
        match r.status.as_u16() {
            201 => created += 1,
            _ => {
                refused(r, 409, "vehicle-already-booked");
            }
        }
    }
    assert_eq!(created, 1, "one plate, one booking on one slot time");
    assert_eq!(booked(&app, &w.customs.officer, &slot).await, 1);
}

/// The same race across two sites whose slots overlap by half an hour: no
/// slot row is shared, only the vehicle.
async fn concurrent_bookings_of_one_plate_at_two_sites_book_once(app: TestApp) {
    let w = world(&app, 20, 60).await;
    let here = tomorrow_slot(&app, &w, 0).await;
    let starts =
        time(&app.get(&format!("/api/v1/slots/{here}"), Some(&w.customs.officer)).await.expect(200).body, "/starts_at");
    let site2 = another_site(&app, &w, "INDEL", "Asia/Kolkata").await;
    let there = slots_at(&app, &w.customs.officer, &site2, starts - Duration::minutes(59), 1).await;
    let there = s(&there[0], "id");
    let mut attempts = Vec::new();
    for tag in ["race2-a", "race2-b"] {
        let c = app.verified_company(tag, &w.customs.officer).await;
        for i in 0..4 {
            let (site, slot) = if i % 2 == 0 { (&w.site, &here) } else { (&site2, &there) };
            attempts.push((c.admin.clone(), submitted_declaration(&app, &c.admin, site).await, slot.clone()));
        }
    }
    let tries = attempts
        .iter()
        .map(|(token, d, slot)| book(&app, token, visit(&[d], slot, json!({"vehicle": truck("556 RACE 01")}))));
    let results = futures_util::future::join_all(tries).await;
    let mut created = 0;
    for r in results {
        match r.status.as_u16() {
            201 => created += 1,
            _ => {
                refused(r, 409, "vehicle-already-booked");
            }
        }
    }
    assert_eq!(created, 1, "one plate, one booking over two overlapping slots");
    let places = booked(&app, &w.customs.officer, &here).await + booked(&app, &w.customs.officer, &there).await;
    assert_eq!(places, 1);
}

async fn rescheduling_keeps_the_plate_rule(app: TestApp) {
    let g = gate(&app, "move-plate").await;
    let early = tomorrow_slot(&app, &g.w, 0).await;
    let late = tomorrow_slot(&app, &g.w, 2).await;
    visit_of(&app, &g, 1, &early, json!({"vehicle": truck("232AAA01")})).await;
    let (second, _) = visit_of(&app, &g, 1, &late, json!({"vehicle": truck("232AAA01")})).await;
    let id = s(&second, "id");
    // Onto the slot the same truck already holds: refused, nothing moves.
    let r = app.post(&format!("{BOOKINGS}/{id}/reschedule"), Some(&g.a.admin), json!({"slot_id": early})).await;
    refused(r, 409, "vehicle-already-booked");
    assert_eq!(get_booking(&app, &g.a.admin, &id).await.body["slot_id"], late.as_str());
    assert_eq!(booked(&app, g.officer(), &early).await, 1);
    assert_eq!(booked(&app, g.officer(), &late).await, 1);
    // Elsewhere in time: moved.
    let free = tomorrow_slot(&app, &g.w, 4).await;
    let r = app.post(&format!("{BOOKINGS}/{id}/reschedule"), Some(&g.a.admin), json!({"slot_id": free})).await;
    assert_eq!(r.expect(200).body["slot_id"], free.as_str());
}

// ---------------------------------------------------------------- editing a visit

async fn editing_needs_the_current_if_match_and_supersedes_the_gate_pass(app: TestApp) {
    let g = gate(&app, "edit").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let (b, _) = visit_of(&app, &g, 1, &slot, json!({"vehicle": truck("111AAA01")})).await;
    let id = s(&b, "id");
    let old_code = s(&b["gate_pass"], "code");
    let etag = get_booking(&app, &g.a.admin, &id).await.header("etag").expect("ETag");
    let change = json!({"vehicle": {"plate": "222 bbb 01", "country": "KZ"}});
    // Without If-Match: 428; with a stale one: 412; nothing changes.
    refused(patch_booking(&app, &g.a.admin, &id, None, change.clone()).await, 428, "if-match-required");
    refused(patch_booking(&app, &g.a.admin, &id, Some("\"999\""), change.clone()).await, 412, "stale-version");
    assert_eq!(get_booking(&app, &g.a.admin, &id).await.body["vehicle"]["plate"], "111AAA01");
    // With the current one: the new vehicle, a new ETag, a new gate pass.
    let r = patch_booking(&app, &g.a.admin, &id, Some(&etag), change.clone()).await.expect(200);
    assert_etag_is_version(&r);
    assert_ne!(r.header("etag"), Some(etag.clone()));
    assert_eq!(r.body["vehicle"]["plate"], "222BBB01");
    assert_eq!(r.body["gate_pass"]["version"], 2);
    assert_ne!(s(&r.body["gate_pass"], "code"), old_code);
    // The old ETag is stale now.
    refused(patch_booking(&app, &g.a.admin, &id, Some(&etag), change).await, 412, "stale-version");
    // The old gate pass no longer admits.
    let refusal = refused(scan(&app, g.officer(), g.site(), &old_code).await, 409, "gate-pass-superseded");
    assert_eq!(refusal.body["booking_id"], id.as_str());
    assert_eq!(refusal.body["version"], 1);
    assert_eq!(refusal.body["current_version"], 2);
    // Driver and containers change too; the vehicle may be removed.
    let etag = r.header("etag").unwrap();
    let r = patch_booking(
        &app,
        &g.a.admin,
        &id,
        Some(&etag),
        json!({"driver": {"name": "Aida Nurlanovna", "document_number": "N7654321"}, "containers": ["CSQU3054383"]}),
    )
    .await
    .expect(200);
    assert_eq!(r.body["driver"]["name"], "Aida Nurlanovna");
    assert_eq!(r.body["containers"], json!(["CSQU3054383"]));
    assert_eq!(r.body["vehicle"]["plate"], "222BBB01", "untouched members stay");
    let etag = r.header("etag").unwrap();
    invalid_field(
        patch_booking(&app, &g.a.admin, &id, Some(&etag), json!({"containers": ["CSQU3054384"]})).await,
        "containers[0]",
    );
    let r = patch_booking(&app, &g.a.admin, &id, Some(&etag), json!({"vehicle": null})).await.expect(200);
    assert!(r.body["vehicle"].is_null(), "{}", r.text);
}

async fn editing_keeps_the_plate_rule_ownership_and_roles(app: TestApp) {
    let g = gate(&app, "edit-rules").await;
    let b = app.verified_company("edit-rules-b", g.officer()).await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let (mine, _) = visit_of(&app, &g, 1, &slot, json!({"vehicle": truck("333CCC01")})).await;
    visit_of(&app, &g, 1, &slot, json!({"vehicle": truck("444DDD01")})).await;
    let id = s(&mine, "id");
    let etag = get_booking(&app, &g.a.admin, &id).await.header("etag").unwrap();
    // Onto a plate that holds an overlapping booking: refused, nothing changes.
    let r = patch_booking(&app, &g.a.admin, &id, Some(&etag), json!({"vehicle": truck("444-ddd-01")})).await;
    refused(r, 409, "vehicle-already-booked");
    let now = get_booking(&app, &g.a.admin, &id).await;
    assert_eq!(now.body["vehicle"]["plate"], "333CCC01");
    assert_eq!(now.header("etag"), Some(etag.clone()));
    // Its own plate again (adding a trailer) does not collide with itself.
    let trailer = json!({"vehicle": {"plate": "333CCC01", "country": "KZ", "trailer_plate": "55TR01"}});
    let r = patch_booking(&app, &g.a.admin, &id, Some(&etag), trailer).await.expect(200);
    assert_eq!(r.body["vehicle"]["trailer_plate"], "55TR01");
    let etag = r.header("etag").unwrap();
    // Another enterprise: 404; customs: 403.
    let change = json!({"driver": {"name": "X Y", "document_number": "N1"}});
    refused(patch_booking(&app, &b.admin, &id, Some(&etag), change.clone()).await, 404, "not-found");
    patch_booking(&app, g.officer(), &id, Some(&etag), change.clone()).await.problem(403);
    // Only while confirmed.
    app.post(&format!("{BOOKINGS}/{id}/cancel"), Some(&g.a.admin), json!({})).await.expect(200);
    let etag = get_booking(&app, &g.a.admin, &id).await.header("etag").unwrap();
    refused(patch_booking(&app, &g.a.admin, &id, Some(&etag), change).await, 409, "booking-state");
}

// ---------------------------------------------------------------- the gate pass

async fn the_gate_pass_svg_is_a_qr_for_owner_and_customs(app: TestApp) {
    let g = gate(&app, "svg").await;
    let b = app.verified_company("svg-b", g.officer()).await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let (visit, _) = visit_of(&app, &g, 1, &slot, json!({"vehicle": truck("666EEE01")})).await;
    let path = format!("{BOOKINGS}/{}/gate-pass.svg", s(&visit, "id"));
    for token in [g.a.admin.as_str(), g.officer()] {
        let r = app.get(&path, Some(token)).await.expect(200);
        let content_type = r.header("content-type").unwrap_or_default();
        assert!(content_type.starts_with("image/svg+xml"), "{content_type}");
        assert!(r.text.contains("<svg"), "{}", r.text);
    }
    refused(app.get(&path, Some(&b.admin)).await, 404, "not-found");
    app.get(&path, None).await.problem(401);
}

// ---------------------------------------------------------------- the scan: refusals

/// `code` with one character of its signature changed.
fn tampered(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    let at = chars.len() - 3;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// The booking and version of `other` under the signature of `code`: a code
/// is `CW1.<booking id>.<version>.<signature>`.
fn spliced(code: &str, other: &str) -> String {
    let (_, mac) = code.rsplit_once('.').unwrap_or_else(|| panic!("gate pass code without a '.': {code}"));
    let (payload, _) = other.rsplit_once('.').unwrap();
    format!("{payload}.{mac}")
}

/// `code` claiming the next version, with its own signature.
fn version_raised(code: &str) -> String {
    let parts: Vec<&str> = code.split('.').collect();
    assert_eq!(parts.len(), 4, "CW1.<booking id>.<version>.<signature>: {code}");
    let version: i32 = parts[2].parse().unwrap();
    format!("{}.{}.{}.{}", parts[0], parts[1], version + 1, parts[3])
}

async fn forged_or_spliced_codes_are_gate_pass_invalid(app: TestApp) {
    let g = gate(&app, "forged").await;
    let one = cleared_visit(&app, &g, 0, "101AAA01").await;
    let two = cleared_visit(&app, &g, 0, "202BBB01").await;
    let code = s(&one["gate_pass"], "code");
    clock_at(&app, window(&one).0 + Duration::minutes(1));
    let forgeries = [
        tampered(&code),
        spliced(&code, &s(&two["gate_pass"], "code")),
        version_raised(&code),
        "garbage".to_owned(),
        "💥".repeat(50),
    ];
    for bad in forgeries {
        refused(scan(&app, g.officer(), g.site(), &bad).await, 422, "gate-pass-invalid");
    }
    // Nobody was checked in by any of them.
    for b in [&one, &two] {
        assert_eq!(get_booking(&app, &g.a.admin, &s(b, "id")).await.body["status"], "confirmed");
    }
    // The genuine code still works.
    scan(&app, g.officer(), g.site(), &code).await.expect(200);
}

async fn a_scan_at_another_site_is_wrong_site(app: TestApp) {
    let g = gate(&app, "wrong-site").await;
    let elsewhere = another_site(&app, &g.w, "KZNUR", "Asia/Almaty").await;
    let b = cleared_visit(&app, &g, 0, "303CCC01").await;
    clock_at(&app, window(&b).0 + Duration::minutes(1));
    let r = refused(scan(&app, g.officer(), &elsewhere, &s(&b["gate_pass"], "code")).await, 409, "wrong-site");
    assert_eq!(r.body["booking_id"], b["id"]);
    assert_eq!(r.body["site_id"], g.site(), "names the booking's site");
    assert_eq!(get_booking(&app, &g.a.admin, &s(&b, "id")).await.body["status"], "confirmed");
}

async fn an_older_gate_pass_is_superseded_after_reschedule(app: TestApp) {
    let g = gate(&app, "moved").await;
    let b = cleared_visit(&app, &g, 0, "404DDD01").await;
    let id = s(&b, "id");
    let old_code = s(&b["gate_pass"], "code");
    let later = tomorrow_slot(&app, &g.w, 2).await;
    let moved =
        app.post(&format!("{BOOKINGS}/{id}/reschedule"), Some(&g.a.admin), json!({"slot_id": later})).await.expect(200);
    assert_etag_is_version(&moved);
    assert_eq!(moved.body["gate_pass"]["version"], 2);
    let new_code = s(&moved.body["gate_pass"], "code");
    assert_ne!(new_code, old_code);
    clock_at(&app, window(&moved.body).0 + Duration::minutes(1));
    let r = refused(scan(&app, g.officer(), g.site(), &old_code).await, 409, "gate-pass-superseded");
    assert_eq!(r.body["booking_id"], id.as_str());
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["current_version"], 2);
    // The new one admits, in the new slot's window.
    let r = scan(&app, g.officer(), g.site(), &new_code).await.expect(200);
    assert_eq!(r.body["status"], "checked_in");
}

async fn a_cancelled_booking_is_not_active(app: TestApp) {
    let g = gate(&app, "inactive").await;
    let b = cleared_visit(&app, &g, 0, "505EEE01").await;
    let id = s(&b, "id");
    app.post(&format!("{BOOKINGS}/{id}/cancel"), Some(&g.a.admin), json!({})).await.expect(200);
    clock_at(&app, window(&b).0 + Duration::minutes(1));
    not_active(scan(&app, g.officer(), g.site(), &s(&b["gate_pass"], "code")).await, &id, "cancelled");
}

async fn a_second_scan_is_already_checked_in(app: TestApp) {
    let g = gate(&app, "twice").await;
    let b = cleared_visit(&app, &g, 0, "606FFF01").await;
    let code = s(&b["gate_pass"], "code");
    clock_at(&app, window(&b).0 + Duration::minutes(5));
    let first = scan(&app, g.officer(), g.site(), &code).await.expect(200);
    let r = refused(scan(&app, g.officer(), g.site(), &code).await, 409, "already-checked-in");
    assert_eq!(r.body["booking_id"], b["id"]);
    assert_eq!(time(&r.body, "/checked_in_at"), time(&first.body, "/checked_in_at"));
    assert_eq!(r.body["checked_in_by"], "Officer Test", "the officer's display name");
    assert_eq!(r.body["checked_in_by_id"], g.officer_id.as_str());
    // Also by id, by the supervisor.
    let r = refused(check_in(&app, &g.w.customs.supervisor, &s(&b, "id")).await, 409, "already-checked-in");
    assert_eq!(r.body["checked_in_by_id"], g.officer_id.as_str());
}

/// The sweep is held off (interval of an hour) so that a visit just past its
/// window is still `confirmed` when it is scanned.
async fn the_arrival_window_holds_to_the_second(app: TestApp) {
    let g = gate(&app, "window").await;
    let early = cleared_visit(&app, &g, 0, "707AAA01").await;
    let last_second = cleared_visit(&app, &g, 0, "707BBB01").await;
    let late = cleared_visit(&app, &g, 0, "707CCC01").await;
    let (opens, closes) = window(&early);
    let code = |b: &Value| s(&b["gate_pass"], "code");
    // One second before the window opens: too early, with the window.
    clock_at(&app, opens - Duration::seconds(1));
    let r = refused(scan(&app, g.officer(), g.site(), &code(&early)).await, 422, "too-early");
    assert_eq!(r.body["booking_id"], early["id"]);
    assert_eq!(time(&r.body, "/window_opens_at"), opens);
    assert_eq!(time(&r.body, "/window_closes_at"), closes);
    // At the opening second: in.
    clock_at(&app, opens);
    let r = scan(&app, g.officer(), g.site(), &code(&early)).await.expect(200);
    assert_eq!(r.body["status"], "checked_in");
    // One second before it closes: in.
    clock_at(&app, closes - Duration::seconds(1));
    scan(&app, g.officer(), g.site(), &code(&last_second)).await.expect(200);
    // One second after it closes: too late, with the window.
    clock_at(&app, closes + Duration::seconds(1));
    let r = refused(scan(&app, g.officer(), g.site(), &code(&late)).await, 422, "too-late");
    assert_eq!(r.body["booking_id"], late["id"]);
    assert_eq!(time(&r.body, "/window_opens_at"), opens);
    assert_eq!(time(&r.body, "/window_closes_at"), closes);
    assert_eq!(get_booking(&app, &g.a.admin, &s(&late, "id")).await.body["status"], "confirmed");
}

async fn a_visit_without_vehicle_is_vehicle_missing(app: TestApp) {
    let g = gate(&app, "no-truck").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let (b, ds) = visit_of(&app, &g, 1, &slot, json!({})).await;
    approve(&app, g.officer(), &ds[0]).await;
    clock_at(&app, window(&b).0 + Duration::minutes(1));
    let r = refused(scan(&app, g.officer(), g.site(), &s(&b["gate_pass"], "code")).await, 422, "vehicle-missing");
    assert_eq!(r.body["booking_id"], b["id"]);
    // The company adds the truck (a new gate pass); then it is admitted.
    let id = s(&b, "id");
    let etag = get_booking(&app, &g.a.admin, &id).await.header("etag").unwrap();
    let r = patch_booking(&app, &g.a.admin, &id, Some(&etag), json!({"vehicle": truck("808AAA01")})).await.expect(200);
    scan(&app, g.officer(), g.site(), &s(&r.body["gate_pass"], "code")).await.expect(200);
}

async fn uncleared_declarations_are_listed(app: TestApp) {
    let g = gate(&app, "uncleared").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let (b, ds) = visit_of(&app, &g, 3, &slot, json!({"vehicle": truck("909AAA01")})).await;
    let code = s(&b["gate_pass"], "code");
    // The first approved, the second claimed for review, the third only submitted.
    approve(&app, g.officer(), &ds[0]).await;
    app.post(&format!("/api/v1/declarations/{}/review", ds[1]), Some(g.officer()), json!({})).await.expect(200);
    clock_at(&app, window(&b).0 + Duration::minutes(1));
    let r = refused(scan(&app, g.officer(), g.site(), &code).await, 409, "declarations-not-cleared");
    assert_eq!(r.body["booking_id"], b["id"]);
    let listed = r.body["declarations"].as_array().unwrap_or_else(|| panic!("no declarations: {}", r.text));
    let ids: Vec<&str> = listed.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ds[1].as_str(), ds[2].as_str()], "exactly those not approved or released: {}", r.text);
    assert_eq!(listed[0]["status"], "under_review");
    assert_eq!(listed[1]["status"], "submitted");
    for d in listed {
        assert!(d["number"].as_str().is_some_and(|n| !n.is_empty()), "{d}");
    }
    // Approved or released both clear: released the first, approve the others.
    app.post(&format!("/api/v1/declarations/{}/release", ds[0]), Some(g.officer()), json!({})).await.expect(200);
    approve(&app, g.officer(), &ds[1]).await;
    approve(&app, g.officer(), &ds[2]).await;
    let r = scan(&app, g.officer(), g.site(), &code).await.expect(200);
    assert_eq!(r.body["status"], "checked_in");
}

/// When several refusals apply, the first of the SPEC's order is answered.
/// The sweep is held off, so that a visit past its window stays `confirmed`.
async fn refusals_follow_the_precedence_order(app: TestApp) {
    let g = gate(&app, "order").await;
    let elsewhere = another_site(&app, &g.w, "KZNUR", "Asia/Almaty").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    // Neither vehicle nor cleared declarations, and (now) too early.
    let (bare, _) = visit_of(&app, &g, 1, &slot, json!({})).await;
    let bare_code = s(&bare["gate_pass"], "code");
    let inside = cleared_visit(&app, &g, 0, "131AAA01").await;
    let inside_code = s(&inside["gate_pass"], "code");
    // gate-pass-invalid before wrong-site.
    refused(scan(&app, g.officer(), &elsewhere, &tampered(&bare_code)).await, 422, "gate-pass-invalid");
    // wrong-site before too-early, vehicle-missing, declarations-not-cleared.
    refused(scan(&app, g.officer(), &elsewhere, &bare_code).await, 409, "wrong-site");
    // too-early before vehicle-missing and declarations-not-cleared.
    refused(scan(&app, g.officer(), g.site(), &bare_code).await, 422, "too-early");
    // A moved, then cancelled visit: wrong-site before superseded, superseded before not-active,
    // and not-active before too-early.
    let moved = cleared_visit(&app, &g, 0, "121AAA01").await;
    let moved_id = s(&moved, "id");
    let old_code = s(&moved["gate_pass"], "code");
    let later = tomorrow_slot(&app, &g.w, 1).await;
    let r = app.post(&format!("{BOOKINGS}/{moved_id}/reschedule"), Some(&g.a.admin), json!({"slot_id": later})).await;
    let new_code = s(&r.expect(200).body["gate_pass"], "code");
    app.post(&format!("{BOOKINGS}/{moved_id}/cancel"), Some(&g.a.admin), json!({})).await.expect(200);
    refused(scan(&app, g.officer(), &elsewhere, &old_code).await, 409, "wrong-site");
    refused(scan(&app, g.officer(), g.site(), &old_code).await, 409, "gate-pass-superseded");
    not_active(scan(&app, g.officer(), g.site(), &new_code).await, &moved_id, "cancelled");
    // In the window: vehicle-missing before declarations-not-cleared.
    let (opens, closes) = window(&bare);
    clock_at(&app, opens + Duration::minutes(1));
    refused(scan(&app, g.officer(), g.site(), &bare_code).await, 422, "vehicle-missing");
    // Checked in, then past the window: already-checked-in before too-late.
    scan(&app, g.officer(), g.site(), &inside_code).await.expect(200);
    clock_at(&app, closes + Duration::minutes(1));
    refused(scan(&app, g.officer(), g.site(), &inside_code).await, 409, "already-checked-in");
    // Past the window: too-late before vehicle-missing and declarations-not-cleared.
    refused(scan(&app, g.officer(), g.site(), &bare_code).await, 422, "too-late");
}

// ---------------------------------------------------------------- the scan: success

async fn a_scan_checks_in_and_complete_completes(app: TestApp) {
    let g = gate(&app, "happy").await;
    let b = cleared_visit(&app, &g, 0, "141AAA01").await;
    let id = s(&b, "id");
    let at = window(&b).0 + Duration::minutes(10);
    clock_at(&app, at);
    let r = scan(&app, g.officer(), g.site(), &s(&b["gate_pass"], "code")).await.expect(200);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["status"], "checked_in");
    let checked_in_at = time(&r.body, "/checked_in_at");
    assert!((checked_in_at - at).num_seconds().abs() < 60, "checked in at the application's time: {checked_in_at}");
    assert_eq!(r.body["checked_in_by"], g.officer_id.as_str());
    let actions: Vec<&str> = r.body["allowed_actions"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(actions.contains(&"complete"), "{actions:?}");
    // The company sees the same.
    let seen = get_booking(&app, &g.a.admin, &id).await;
    assert_eq!(seen.body["status"], "checked_in");
    assert_eq!(time(&seen.body, "/checked_in_at"), checked_in_at);
    let done = app.post(&format!("{BOOKINGS}/{id}/complete"), Some(g.officer()), json!({})).await.expect(200);
    assert_eq!(done.body["status"], "completed");
    not_active(scan(&app, g.officer(), g.site(), &s(&b["gate_pass"], "code")).await, &id, "completed");
}

async fn a_scan_by_plate_finds_the_visit_however_the_plate_is_written(app: TestApp) {
    let g = gate(&app, "by-plate").await;
    let b = cleared_visit(&app, &g, 0, "01 kz-123·ab").await;
    clock_at(&app, window(&b).0 + Duration::minutes(1));
    // Unknown plate, or the plate from another country: no booking for that vehicle.
    refused(scan_plate(&app, g.officer(), g.site(), "99ZZZ99", "KZ").await, 404, "no-booking-for-vehicle");
    refused(scan_plate(&app, g.officer(), g.site(), "01KZ123AB", "UZ").await, 404, "no-booking-for-vehicle");
    let r = scan_plate(&app, g.officer(), g.site(), "01-KZ 123 ab", "KZ").await.expect(200);
    assert_eq!(r.body["id"], b["id"]);
    assert_eq!(r.body["status"], "checked_in");
    // The same rules follow: a second time it is already in.
    refused(scan_plate(&app, g.officer(), g.site(), "01kz123ab", "KZ").await, 409, "already-checked-in");
}

async fn a_scan_by_plate_prefers_this_site_and_names_the_other(app: TestApp) {
    let g = gate(&app, "plate-sites").await;
    let elsewhere = another_site(&app, &g.w, "KZNUR", "Asia/Almaty").await;
    let third = another_site(&app, &g.w, "KZALA", "Asia/Almaty").await;
    // The truck is expected here, and three hours later at the other site.
    let here = cleared_visit(&app, &g, 0, "151AAA01").await;
    let later = slots_at(&app, g.officer(), &elsewhere, time(&here, "/starts_at") + Duration::hours(3), 1).await;
    let d = submitted_declaration(&app, &g.a.admin, &elsewhere).await;
    let there = book(&app, &g.a.admin, visit(&[&d], &s(&later[0], "id"), json!({"vehicle": truck("151AAA01")})));
    let there = there.await.expect(201).body;
    approve(&app, g.officer(), &d).await;
    clock_at(&app, window(&here).0 + Duration::minutes(1));
    // At a site where it has no visit: wrong site, naming a visit and where it is expected.
    let r = refused(scan_plate(&app, g.officer(), &third, "151AAA01", "KZ").await, 409, "wrong-site");
    let named = (r.body["booking_id"].clone(), r.body["site_id"].clone());
    assert!(
        named == (here["id"].clone(), json!(g.site())) || named == (there["id"].clone(), json!(elsewhere)),
        "{}",
        r.text
    );
    // At the other site, its own visit is preferred (too early yet), not the one here whose window is open.
    let r = refused(scan_plate(&app, g.officer(), &elsewhere, "151 aaa 01", "KZ").await, 422, "too-early");
    assert_eq!(r.body["booking_id"], there["id"]);
    // Here, the visit here.
    let r = scan_plate(&app, g.officer(), g.site(), "151AAA01", "KZ").await.expect(200);
    assert_eq!(r.body["id"], here["id"]);
    // Three hours on, at the other site: the visit there.
    clock_at(&app, window(&there).0 + Duration::minutes(1));
    let r = scan_plate(&app, g.officer(), &elsewhere, "151AAA01", "KZ").await.expect(200);
    assert_eq!(r.body["id"], there["id"]);
}

async fn only_customs_scan(app: TestApp) {
    let g = gate(&app, "who-scans").await;
    let b = cleared_visit(&app, &g, 0, "161AAA01").await;
    clock_at(&app, window(&b).0 + Duration::minutes(1));
    let code = s(&b["gate_pass"], "code");
    let clerk = app.add_clerk(&g.a).await;
    for token in [g.a.admin.as_str(), clerk.as_str()] {
        scan(&app, token, g.site(), &code).await.problem(403);
        scan_plate(&app, token, g.site(), "161AAA01", "KZ").await.problem(403);
    }
    scan(&app, "", g.site(), &code).await.problem(401);
    assert_eq!(get_booking(&app, &g.a.admin, &s(&b, "id")).await.body["status"], "confirmed");
    // A supervisor runs the gate too.
    scan(&app, &g.w.customs.supervisor, g.site(), &code).await.expect(200);
}

// ---------------------------------------------------------------- check-in by id

async fn check_in_by_id_applies_the_gate_rules(app: TestApp) {
    let g = gate(&app, "check-in").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let ready = cleared_visit(&app, &g, 0, "171AAA01").await;
    let (bare, bare_ds) = visit_of(&app, &g, 1, &slot, json!({})).await;
    let (unapproved, _) = visit_of(&app, &g, 1, &slot, json!({"vehicle": truck("171BBB01")})).await;
    let (gone, _) = visit_of(&app, &g, 1, &tomorrow_slot(&app, &g.w, 3).await, json!({})).await;
    let id = s(&ready, "id");
    // Companies do not check in.
    check_in(&app, &g.a.admin, &id).await.problem(403);
    // Now is a day early.
    let r = refused(check_in(&app, g.officer(), &id).await, 422, "too-early");
    let (opens, closes) = window(&ready);
    assert_eq!(time(&r.body, "/window_opens_at"), opens);
    assert_eq!(time(&r.body, "/window_closes_at"), closes);
    clock_at(&app, opens + Duration::minutes(1));
    approve(&app, g.officer(), &bare_ds[0]).await;
    let r = refused(check_in(&app, g.officer(), &s(&bare, "id")).await, 422, "vehicle-missing");
    assert_eq!(r.body["booking_id"], bare["id"]);
    let r = refused(check_in(&app, g.officer(), &s(&unapproved, "id")).await, 409, "declarations-not-cleared");
    assert_eq!(r.body["declarations"].as_array().map(Vec::len), Some(1), "{}", r.text);
    let r = check_in(&app, g.officer(), &id).await.expect(200);
    assert_eq!(r.body["status"], "checked_in");
    assert_eq!(r.body["checked_in_by"], g.officer_id.as_str());
    refused(check_in(&app, g.officer(), &id).await, 409, "already-checked-in");
    // A cancelled visit is not active.
    app.post(&format!("{BOOKINGS}/{}/cancel", s(&gone, "id")), Some(g.officer()), json!({"reason": "lane closed"}))
        .await
        .expect(200);
    not_active(check_in(&app, g.officer(), &s(&gone, "id")).await, &s(&gone, "id"), "cancelled");
}

// ---------------------------------------------------------------- declarations leaving

async fn rejected_declarations_leave_the_visit_and_the_last_cancels_it(app: TestApp) {
    let g = gate(&app, "leaving").await;
    let slot = tomorrow_slot(&app, &g.w, 0).await;
    let (b, ds) = visit_of(&app, &g, 2, &slot, json!({"vehicle": truck("181AAA01")})).await;
    let id = s(&b, "id");
    let version = b["version"].as_i64().unwrap();
    let reject = |d: String| {
        let app = &app;
        let officer = g.officer().to_owned();
        async move {
            app.post(&format!("/api/v1/declarations/{d}/reject"), Some(&officer), json!({"reason": "invoice missing"}))
                .await
                .expect(200);
        }
    };
    reject(ds[0].clone()).await;
    let r = get_booking(&app, &g.a.admin, &id).await;
    assert_eq!(r.body["status"], "confirmed", "one declaration is still on the truck");
    assert_eq!(r.body["declaration_ids"], json!([ds[1]]));
    assert_eq!(r.body["declaration_id"], ds[1].as_str());
    assert!(r.body["version"].as_i64().unwrap() > version, "the visit changed: {}", r.text);
    assert_etag_is_version(&r);
    assert_eq!(booked(&app, g.officer(), &slot).await, 1);
    // The last one leaves: the visit is cancelled, its place freed.
    reject(ds[1].clone()).await;
    let r = get_booking(&app, &g.a.admin, &id).await;
    assert_eq!(r.body["status"], "cancelled");
    assert!(r.body["cancel_reason"].as_str().is_some_and(|t| !t.is_empty()), "says why: {}", r.text);
    assert_eq!(booked(&app, g.officer(), &slot).await, 0);
}

// ---------------------------------------------------------------- the sweep and webhooks

async fn the_sweep_marks_visits_past_their_window_no_show(app: TestApp) {
    let rx = receiver(0).await;
    let g = gate(&app, "sweep").await;
    let hook = app
        .post("/api/v1/webhooks", Some(&g.a.admin), json!({"url": rx.url, "events": ["booking.no_show"]}))
        .await
        .expect(201)
        .str("/id");
    let missed = cleared_visit(&app, &g, 0, "191AAA01").await;
    let arrived = cleared_visit(&app, &g, 0, "191BBB01").await;
    let tomorrow_later = cleared_visit(&app, &g, 4, "191CCC01").await;
    let (opens, closes) = window(&missed);
    // One truck arrives; the other does not.
    clock_at(&app, opens + Duration::minutes(1));
    scan(&app, g.officer(), g.site(), &s(&arrived["gate_pass"], "code")).await.expect(200);
    clock_at(&app, closes + Duration::seconds(1));
    let b = wait_for_status(&app, &g.a.admin, &s(&missed, "id"), "no_show", 10).await;
    assert!(b["active"] == false || b["active"].is_null(), "{b}");
    // Checked in, and still to come: untouched.
    assert_eq!(get_booking(&app, &g.a.admin, &s(&arrived, "id")).await.body["status"], "checked_in");
    assert_eq!(get_booking(&app, &g.a.admin, &s(&tomorrow_later, "id")).await.body["status"], "confirmed");
    // The company hears of it, once (the delivery log first: it tells why when nothing arrives).
    assert_eq!(delivered_types(&app, &g.a.admin, &hook, 1).await, ["booking.no_show"]);
    let got = wait_for(&rx, 1).await;
    let event: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(event["type"], "booking.no_show");
    assert_eq!(event["data"]["id"], missed["id"]);
    assert_eq!(event["data"]["status"], "no_show");
}

async fn check_in_and_complete_are_webhooks(app: TestApp) {
    let rx = receiver(0).await;
    let g = gate(&app, "gate-hooks").await;
    let hook = app
        .post(
            "/api/v1/webhooks",
            Some(&g.a.admin),
            json!({"url": rx.url, "events": ["booking.checked_in", "booking.completed"]}),
        )
        .await
        .expect(201)
        .str("/id");
    let b = cleared_visit(&app, &g, 0, "202AAA02").await;
    let id = s(&b, "id");
    clock_at(&app, window(&b).0 + Duration::minutes(1));
    scan(&app, g.officer(), g.site(), &s(&b["gate_pass"], "code")).await.expect(200);
    app.post(&format!("{BOOKINGS}/{id}/complete"), Some(g.officer()), json!({})).await.expect(200);
    assert_eq!(delivered_types(&app, &g.a.admin, &hook, 2).await, ["booking.checked_in", "booking.completed"]);
    let got = wait_for(&rx, 2).await;
    let mut events: Vec<(String, String)> = got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .map(|e| {
            assert_eq!(e["data"]["id"], id.as_str(), "{e}");
            (s(&e, "type"), e["data"]["status"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            ("booking.checked_in".to_owned(), "checked_in".to_owned()),
            ("booking.completed".to_owned(), "completed".to_owned())
        ]
    );
}
