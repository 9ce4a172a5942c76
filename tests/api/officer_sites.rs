//! Officers limited to sites (`site_ids` on customs accounts): creating and
//! changing them, and what a limited officer sees: everything of another
//! site is 404 (never 403), lists hold only their sites' items, and a
//! change of sites holds from the officer's next request. Officers without
//! sites, supervisors and companies see as before.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{book_slot, submitted_declaration, world, World};
use crate::helpers::{Company, Resp, TestApp, PASSWORD};
use crate::slots::{create_schedule, create_site};

api_tests!(
    officers_are_created_listed_and_changed_with_their_sites,
    site_ids_must_be_existing_sites_and_only_officers_are_limited,
    only_supervisors_manage_officer_sites,
    a_limited_officer_gets_404_for_everything_of_other_sites,
    a_limited_officer_acts_on_their_own_sites,
    a_limited_officer_lists_only_their_sites,
    slot_pages_of_a_limited_officer_hold_only_their_sites,
    unlimited_officers_supervisors_and_companies_see_every_site,
    a_change_of_sites_holds_from_the_next_request,
    the_audit_trail_of_a_limited_officer_leaves_out_other_sites,
    a_limited_officer_has_no_closures_at_other_sites,
);

// ---------------------------------------------------------------- helpers

const OFFICERS: &str = "/api/v1/officers";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B")
}

/// The slug a problem's `type` ends in.
fn slug(r: &Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

/// A 404 `not-found` problem.
#[track_caller]
fn not_found(r: Resp) -> Resp {
    let r = r.problem(404);
    assert_eq!(slug(&r), "not-found", "{}", r.text);
    r
}

/// A validation problem naming `field` with `code`.
#[track_caller]
fn invalid(r: Resp, field: &str, code: &str) {
    let r = r.problem(422);
    assert_eq!(slug(&r), "validation", "{}", r.text);
    let errors = r.body["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e["field"] == field && e["code"] == code), "expected {field} ({code}) in {}", r.text);
}

/// The strings of an array member of each list item.
fn column(r: &Resp, key: &str) -> Vec<String> {
    r.body["items"].as_array().unwrap().iter().map(|i| i[key].as_str().unwrap().to_owned()).collect()
}

/// The body of a new customs account.
fn new_account(role: &str, site_ids: Option<Value>) -> (String, Value) {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let email = format!("limited{n}-{}@customs.test", uuid::Uuid::new_v4().simple());
    let mut body = json!({"email": email, "password": PASSWORD, "display_name": "Aliya Sites", "role": role});
    if let Some(ids) = site_ids {
        body["site_ids"] = ids;
    }
    (email, body)
}

/// A supervisor creates an officer limited to `sites`; returns (token, user id).
async fn limited_officer(app: &TestApp, supervisor: &str, sites: &[&str]) -> (String, String) {
    let (email, body) = new_account("officer", Some(json!(sites)));
    let r = app.post(OFFICERS, Some(supervisor), body).await.expect(201);
    let mut want: Vec<&str> = sites.to_vec();
    want.sort();
    assert_eq!(r.body["site_ids"], json!(want), "{}", r.text);
    (app.login(&email).await, r.str("/id"))
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> Resp {
    app.call(Method::PATCH, path, Some(token), Some(body)).await
}

async fn user_id(app: &TestApp, token: &str) -> String {
    app.get("/api/v1/me", Some(token)).await.expect(200).str("/id")
}

/// The first open road slots of `site` a day ahead.
async fn tomorrow_slots(app: &TestApp, token: &str, site: &str, n: usize) -> Vec<String> {
    let from = Utc::now() + Duration::days(1);
    let r = app
        .get(&format!("/api/v1/slots?site_id={site}&mode=road&from={}&limit={n}", enc(from)), Some(token))
        .await
        .expect(200);
    column(&r, "id")
}

/// Two sites, A (`w.site`) and B, each with hourly road slots; a verified
/// company with a submitted declaration and a booking at each.
struct TwoSites {
    w: World,
    b: String,
    company: Company,
    declaration_a: String,
    declaration_b: String,
    slot_a: String,
    slot_b: String,
    booking_a: String,
    booking_b: String,
}

async fn two_sites(app: &TestApp) -> TwoSites {
    let w = world(app, 10, 60).await;
    let b = create_site(app, &w.customs.supervisor, "CNALA", "Asia/Urumqi").await;
    create_schedule(app, &w.customs.supervisor, &b, json!({"mode": "road", "slot_minutes": 60, "capacity": 10}))
        .await
        .expect(201);
    let company = app.verified_company("sites", &w.customs.officer).await;
    let declaration_a = submitted_declaration(app, &company.admin, &w.site).await;
    let declaration_b = submitted_declaration(app, &company.admin, &b).await;
    let slot_a = tomorrow_slots(app, &w.customs.officer, &w.site, 1).await.remove(0);
    let slot_b = tomorrow_slots(app, &w.customs.officer, &b, 1).await.remove(0);
    let booking_a = book_slot(app, &company.admin, &declaration_a, &slot_a).await.expect(201).str("/id");
    let booking_b = book_slot(app, &company.admin, &declaration_b, &slot_b).await.expect(201).str("/id");
    TwoSites { w, b, company, declaration_a, declaration_b, slot_a, slot_b, booking_a, booking_b }
}

// ---------------------------------------------------------------- accounts

async fn officers_are_created_listed_and_changed_with_their_sites(app: TestApp) {
    let customs = app.customs().await;
    let a = create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let b = create_site(&app, &customs.supervisor, "CNALA", "Asia/Urumqi").await;

    // Limited at creation; the answer shows the sites in id order.
    let (email, body) = new_account("officer", Some(json!([b, a])));
    let created = app.post(OFFICERS, Some(&customs.supervisor), body).await.expect(201);
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(created.body["site_ids"], json!(both), "{}", created.text);
    assert_eq!(created.body["role"], "officer");
    assert_eq!(created.body["enterprise_id"], Value::Null);
    assert!(created.body.get("password_hash").is_none());
    let id = created.str("/id");
    app.login(&email).await;

    // Absent, null or empty: every site.
    for sites in [None, Some(Value::Null), Some(json!([]))] {
        let (_, body) = new_account("officer", sites);
        let r = app.post(OFFICERS, Some(&customs.supervisor), body).await.expect(201);
        assert_eq!(r.body["site_ids"], json!([]), "{}", r.text);
    }
    let (_, body) = new_account("supervisor", Some(json!([])));
    let supervisor = app.post(OFFICERS, Some(&customs.supervisor), body).await.expect(201);
    assert_eq!(supervisor.body["site_ids"], json!([]));

    // The list and one account show the sites.
    let list = app.get(OFFICERS, Some(&customs.supervisor)).await.expect(200);
    assert_eq!(list.body["next_cursor"], Value::Null);
    let items = list.body["items"].as_array().unwrap();
    assert!(items.iter().all(|i| i["enterprise_id"].is_null() && i["site_ids"].is_array()), "{}", list.text);
    let mine = items.iter().find(|i| i["id"] == id.as_str()).unwrap();
    assert_eq!(mine["site_ids"], json!(both));
    assert_eq!(items.len(), 2 + 5, "the two of customs(), the five created here: {}", list.text);
    let one = app.get(&format!("{OFFICERS}/{id}"), Some(&customs.supervisor)).await.expect(200);
    assert_eq!(one.body["site_ids"], json!(both));
    assert_eq!(one.body["email"], email.as_str());

    // PATCH replaces the sites; absent keeps them; null or [] is every site.
    let path = format!("{OFFICERS}/{id}");
    let r = patch(&app, &customs.supervisor, &path, json!({"site_ids": [b]})).await.expect(200);
    assert_eq!(r.body["site_ids"], json!([b]));
    assert_eq!(r.body["id"], id.as_str());
    let r = patch(&app, &customs.supervisor, &path, json!({})).await.expect(200);
    assert_eq!(r.body["site_ids"], json!([b]));
    let r = patch(&app, &customs.supervisor, &path, json!({"site_ids": null})).await.expect(200);
    assert_eq!(r.body["site_ids"], json!([]));
    let r = patch(&app, &customs.supervisor, &path, json!({"site_ids": [a]})).await.expect(200);
    assert_eq!(r.body["site_ids"], json!([a]));
    let r = patch(&app, &customs.supervisor, &path, json!({"site_ids": []})).await.expect(200);
    assert_eq!(r.body["site_ids"], json!([]));
    // The same sites again change nothing (and record nothing).
    patch(&app, &customs.supervisor, &path, json!({"site_ids": []})).await.expect(200);

    // Each change of sites is audited, with the supervisor as actor.
    let sup_id = user_id(&app, &customs.supervisor).await;
    let trail = app.get(&format!("/api/v1/audit?entity_type=user&entity_id={id}"), Some(&customs.supervisor)).await;
    let trail = trail.expect(200);
    let events: Vec<&Value> = trail.body["items"].as_array().unwrap().iter().collect();
    let changes: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e["action"] == "sites")
        .map(|e| {
            assert_eq!(e["actor_id"], sup_id.as_str(), "{e}");
            assert_eq!(e["actor_role"], "supervisor", "{e}");
            let s = |k: &str| e[k].as_str().unwrap().to_owned();
            (s("from_state"), s("to_state"), s("actor_role"))
        })
        .collect();
    let joined = both.join(",");
    let want: Vec<(String, String)> = vec![
        ("all".into(), joined.clone()),
        (joined, b.clone()),
        (b.clone(), "all".into()),
        ("all".into(), a.clone()),
        (a.clone(), "all".into()),
    ];
    assert_eq!(changes.into_iter().map(|(f, t, _)| (f, t)).collect::<Vec<_>>(), want, "{}", trail.text);
    assert_eq!(events.first().map(|e| e["action"].clone()), Some(json!("create")));
}

async fn site_ids_must_be_existing_sites_and_only_officers_are_limited(app: TestApp) {
    let customs = app.customs().await;
    let a = create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let missing = uuid::Uuid::now_v7().to_string();

    // Each missing site is named by its index, all at once; nothing is created.
    let (email, body) = new_account("officer", Some(json!([a, missing, "0190f7a2-0000-7000-8000-000000000000"])));
    let r = app.post(OFFICERS, Some(&customs.supervisor), body.clone()).await.problem(422);
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, vec!["site_ids[1]", "site_ids[2]"], "{}", r.text);
    assert!(r.body["errors"].as_array().unwrap().iter().all(|e| e["code"] == "not_found"));
    app.post("/api/v1/auth/login", None, json!({"email": email, "password": PASSWORD})).await.problem(401);
    // Shape: a site twice, an empty id, not a list.
    invalid(
        app.post(OFFICERS, Some(&customs.supervisor), new_account("officer", Some(json!([a, a]))).1).await,
        "site_ids[1]",
        "duplicate",
    );
    invalid(
        app.post(OFFICERS, Some(&customs.supervisor), new_account("officer", Some(json!([" "]))).1).await,
        "site_ids[0]",
        "required",
    );
    app.post(OFFICERS, Some(&customs.supervisor), new_account("officer", Some(json!(a))).1).await.problem(400);
    // A supervisor sees every site: cannot be limited.
    invalid(
        app.post(OFFICERS, Some(&customs.supervisor), new_account("supervisor", Some(json!([a]))).1).await,
        "site_ids",
        "not_limitable",
    );

    // PATCH: the same rules; only customs accounts are officers here.
    let (_, body) = new_account("officer", None);
    let officer = app.post(OFFICERS, Some(&customs.supervisor), body).await.expect(201).str("/id");
    let path = format!("{OFFICERS}/{officer}");
    let r = patch(&app, &customs.supervisor, &path, json!({"site_ids": [missing]})).await;
    invalid(r, "site_ids[0]", "not_found");
    invalid(patch(&app, &customs.supervisor, &path, json!({"site_ids": [a, a]})).await, "site_ids[1]", "duplicate");
    invalid(patch(&app, &customs.supervisor, &path, json!({"sites": [a]})).await, "sites", "unknown");
    let unchanged = app.get(&path, Some(&customs.supervisor)).await.expect(200);
    assert_eq!(unchanged.body["site_ids"], json!([]));
    let sup_id = user_id(&app, &customs.supervisor).await;
    let r = patch(&app, &customs.supervisor, &format!("{OFFICERS}/{sup_id}"), json!({"site_ids": [a]})).await;
    invalid(r, "site_ids", "not_limitable");
    patch(&app, &customs.supervisor, &format!("{OFFICERS}/{sup_id}"), json!({"site_ids": []})).await.expect(200);
    // A company user or an unknown id is not a customs account.
    let company = app.register_company("notcustoms").await;
    not_found(
        patch(&app, &customs.supervisor, &format!("{OFFICERS}/{}", company.admin_user_id), json!({"site_ids": []}))
            .await,
    );
    not_found(app.get(&format!("{OFFICERS}/{}", company.admin_user_id), Some(&customs.supervisor)).await);
    not_found(patch(&app, &customs.supervisor, &format!("{OFFICERS}/{missing}"), json!({"site_ids": [a]})).await);
    not_found(app.get(&format!("{OFFICERS}/{missing}"), Some(&customs.supervisor)).await);
}

async fn only_supervisors_manage_officer_sites(app: TestApp) {
    let customs = app.customs().await;
    let a = create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let company = app.register_company("nosites").await;
    let officer_id = user_id(&app, &customs.officer).await;
    let path = format!("{OFFICERS}/{officer_id}");
    for token in [&customs.officer, &company.admin] {
        patch(&app, token, &path, json!({"site_ids": [a]})).await.problem(403);
        app.get(OFFICERS, Some(token)).await.problem(403);
        app.get(&path, Some(token)).await.problem(403);
        app.post(OFFICERS, Some(token), new_account("officer", Some(json!([a]))).1).await.problem(403);
    }
    app.call(Method::PATCH, &path, None, Some(json!({"site_ids": [a]}))).await.problem(401);
    // Nothing changed.
    let r = app.get(&path, Some(&customs.supervisor)).await.expect(200);
    assert_eq!(r.body["site_ids"], json!([]));
}

// ---------------------------------------------------------------- a limited officer

async fn a_limited_officer_gets_404_for_everything_of_other_sites(app: TestApp) {
    let t = two_sites(&app).await;
    let sup = &t.w.customs.supervisor;
    let (officer, _) = limited_officer(&app, sup, &[&t.w.site]).await;
    let o = Some(officer.as_str());

    // The site, its schedules.
    not_found(app.get(&format!("/api/v1/sites/{}", t.b), o).await);
    not_found(app.get(&format!("/api/v1/sites/{}/schedules", t.b), o).await);
    // The slot: read and change.
    not_found(app.get(&format!("/api/v1/slots/{}", t.slot_b), o).await);
    not_found(patch(&app, &officer, &format!("/api/v1/slots/{}", t.slot_b), json!({"capacity": 3})).await);
    let close = json!({"status": "closed", "reason": "storm"});
    not_found(patch(&app, &officer, &format!("/api/v1/slots/{}", t.slot_b), close).await);
    // The declaration: read, its history, every customs action.
    let d = format!("/api/v1/declarations/{}", t.declaration_b);
    not_found(app.get(&d, o).await);
    not_found(app.get(&format!("{d}/history"), o).await);
    for (action, body) in [
        ("review", json!({})),
        ("approve", json!({"risk_lane": "green"})),
        ("reject", json!({"reason": "not ours"})),
        ("request-amendment", json!({"reason": "not ours"})),
        ("release", json!({})),
    ] {
        not_found(app.post(&format!("{d}/{action}"), o, body).await);
    }
    // The booking: read, its gate pass, cancel, the gate actions.
    let b = format!("/api/v1/bookings/{}", t.booking_b);
    not_found(app.get(&b, o).await);
    not_found(app.get(&format!("{b}/gate-pass.svg"), o).await);
    not_found(app.post(&format!("{b}/cancel"), o, json!({"reason": "not ours"})).await);
    for action in ["check-in", "complete", "no-show"] {
        not_found(app.post(&format!("{b}/{action}"), o, json!({})).await);
    }
    // The gate of another site: 404 naming the site, whatever was scanned.
    let code = app.get(&b, Some(&t.company.admin)).await.expect(200).str("/gate_pass/code");
    let r = not_found(app.post("/api/v1/gate/scan", o, json!({"site_id": t.b, "code": code})).await);
    assert_eq!(r.body["site_id"], t.b.as_str(), "{}", r.text);
    let r = app.post("/api/v1/gate/scan", o, json!({"site_id": t.b, "plate": "01 KZ 123 ABC", "country": "KZ"})).await;
    assert_eq!(not_found(r).body["site_id"], t.b.as_str());

    // Nothing of site B changed.
    let slot = app.get(&format!("/api/v1/slots/{}", t.slot_b), Some(sup)).await.expect(200);
    assert_eq!((slot.body["capacity"].clone(), slot.body["status"].clone()), (json!(10), json!("open")));
    assert_eq!(slot.body["booked"], 1);
    let decl = app.get(&d, Some(sup)).await.expect(200);
    assert_eq!(decl.body["status"], "submitted");
    assert_eq!(decl.body["assigned_officer_id"], Value::Null);
    let booking = app.get(&b, Some(sup)).await.expect(200);
    assert_eq!(booking.body["status"], "confirmed");
    // The ids that do not exist at all answer the same.
    let nowhere = uuid::Uuid::now_v7().to_string();
    for path in ["sites", "slots", "declarations", "bookings"] {
        let other = app.get(&format!("/api/v1/{path}/{nowhere}"), o).await.problem(404);
        assert_eq!(slug(&other), "not-found");
    }
}

async fn a_limited_officer_acts_on_their_own_sites(app: TestApp) {
    let t = two_sites(&app).await;
    let sup = &t.w.customs.supervisor;
    let (officer, officer_id) = limited_officer(&app, sup, &[&t.w.site]).await;
    let o = Some(officer.as_str());
    app.get(&format!("/api/v1/sites/{}", t.w.site), o).await.expect(200);
    let schedules = app.get(&format!("/api/v1/sites/{}/schedules", t.w.site), o).await.expect(200);
    assert_eq!(schedules.body["items"].as_array().unwrap().len(), 1);
    app.get(&format!("/api/v1/slots/{}", t.slot_a), o).await.expect(200);
    let changed = patch(&app, &officer, &format!("/api/v1/slots/{}", t.slot_a), json!({"capacity": 8})).await;
    assert_eq!(changed.expect(200).body["capacity"], 8);
    // Review and approve a declaration of their site.
    let d = format!("/api/v1/declarations/{}", t.declaration_a);
    app.get(&d, o).await.expect(200);
    app.get(&format!("{d}/history"), o).await.expect(200);
    let reviewed = app.post(&format!("{d}/review"), o, json!({})).await.expect(200);
    assert_eq!(reviewed.body["assigned_officer_id"], officer_id.as_str());
    app.post(&format!("{d}/approve"), o, json!({"risk_lane": "green"})).await.expect(200);
    // The booking: read, gate pass, the gate at their site judges the pass.
    let b = format!("/api/v1/bookings/{}", t.booking_a);
    let booking = app.get(&b, o).await.expect(200);
    let svg = app.get(&format!("{b}/gate-pass.svg"), o).await.expect(200);
    assert!(svg.text.contains("<svg"));
    let code = booking.str("/gate_pass/code");
    // Tomorrow's slot: too early, which only the gate of its site can say.
    let r = app.post("/api/v1/gate/scan", o, json!({"site_id": t.w.site, "code": code})).await.problem(422);
    assert_eq!(slug(&r), "too-early", "{}", r.text);
    let r = app.post(&format!("{b}/check-in"), o, json!({})).await.problem(422);
    assert_eq!(slug(&r), "too-early", "{}", r.text);
    let r = app.post(&format!("{b}/cancel"), o, json!({"reason": "lane closed"})).await.expect(200);
    assert_eq!(r.body["status"], "cancelled");
}

async fn a_limited_officer_lists_only_their_sites(app: TestApp) {
    let t = two_sites(&app).await;
    let sup = &t.w.customs.supervisor;
    // A second declaration and booking at each site.
    for site in [&t.w.site, &t.b] {
        let d = submitted_declaration(&app, &t.company.admin, site).await;
        let slot = tomorrow_slots(&app, sup, site, 2).await.remove(1);
        book_slot(&app, &t.company.admin, &d, &slot).await.expect(201);
    }
    let (officer, _) = limited_officer(&app, sup, &[&t.w.site]).await;
    let o = Some(officer.as_str());
    let only_a = |r: &Resp, key: &str, n: usize| {
        let sites = column(r, key);
        assert_eq!(sites.len(), n, "{}", r.text);
        assert!(sites.iter().all(|s| *s == t.w.site), "{}", r.text);
    };

    let sites = app.get("/api/v1/sites", o).await.expect(200);
    only_a(&sites, "id", 1);
    let from = enc(Utc::now() + Duration::days(1));
    let slots = app.get(&format!("/api/v1/slots?from={from}&limit=40"), o).await.expect(200);
    only_a(&slots, "site_id", 40);
    let slots = app.get(&format!("/api/v1/slots?site_id={}&from={from}", t.b), o).await.expect(200);
    only_a(&slots, "site_id", 0);
    let queue = app.get("/api/v1/declarations", o).await.expect(200);
    only_a(&queue, "site_id", 2);
    let queue = app.get("/api/v1/declarations?status=submitted&kind=import", o).await.expect(200);
    only_a(&queue, "site_id", 2);
    let queue = app.get(&format!("/api/v1/declarations?site_id={}", t.b), o).await.expect(200);
    only_a(&queue, "site_id", 0);
    let bookings = app.get("/api/v1/bookings", o).await.expect(200);
    only_a(&bookings, "site_id", 2);
    let bookings = app.get(&format!("/api/v1/bookings?slot_id={}", t.slot_b), o).await.expect(200);
    only_a(&bookings, "site_id", 0);
    let bookings = app.get(&format!("/api/v1/bookings?declaration_id={}", t.declaration_b), o).await.expect(200);
    only_a(&bookings, "site_id", 0);

    // Small pages: each page is full and the cursor walks only their items.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app.get(&format!("/api/v1/declarations?limit=1&cursor={cursor}"), o).await.expect(200);
        seen.extend(column(&r, "id"));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.contains(&t.declaration_a));
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app.get(&format!("/api/v1/bookings?limit=1&cursor={cursor}"), o).await.expect(200);
        assert!(column(&r, "site_id").iter().all(|s| *s == t.w.site), "{}", r.text);
        seen.extend(column(&r, "id"));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.contains(&t.booking_a) && !seen.contains(&t.booking_b));
}

async fn slot_pages_of_a_limited_officer_hold_only_their_sites(app: TestApp) {
    let t = two_sites(&app).await;
    let sup = &t.w.customs.supervisor;
    let (officer, _) = limited_officer(&app, sup, &[&t.b]).await;
    let from = enc(Utc::now() + Duration::days(1));
    // The supervisor's first 12 slots of site B, and the officer's, 5 a page.
    let all_b = app.get(&format!("/api/v1/slots?site_id={}&from={from}&limit=12", t.b), Some(sup)).await.expect(200);
    let want = column(&all_b, "id");
    let mut got = Vec::new();
    let mut cursor = String::new();
    while got.len() < 12 {
        let r = app.get(&format!("/api/v1/slots?from={from}&limit=5&cursor={cursor}"), Some(&officer)).await;
        let r = r.expect(200);
        assert_eq!(column(&r, "id").len(), 5, "{}", r.text);
        assert!(column(&r, "site_id").iter().all(|s| *s == t.b), "{}", r.text);
        got.extend(column(&r, "id"));
        cursor = r.str("/next_cursor");
    }
    got.truncate(12);
    assert_eq!(got, want);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 12);
}

async fn unlimited_officers_supervisors_and_companies_see_every_site(app: TestApp) {
    let t = two_sites(&app).await;
    let sup = &t.w.customs.supervisor;
    // An officer limited elsewhere changes nothing for the others.
    limited_officer(&app, sup, &[&t.w.site]).await;
    let from = enc(Utc::now() + Duration::days(1));
    for token in [&t.w.customs.officer, sup, &t.company.admin] {
        let t_ = Some(token.as_str());
        let sites = app.get("/api/v1/sites", t_).await.expect(200);
        assert_eq!(column(&sites, "id").len(), 2, "{}", sites.text);
        let slots = app.get(&format!("/api/v1/slots?from={from}&limit=100"), t_).await.expect(200);
        let site_ids: HashSet<String> = column(&slots, "site_id").into_iter().collect();
        assert_eq!(site_ids.len(), 2, "{}", slots.text);
        let decls = app.get("/api/v1/declarations", t_).await.expect(200);
        assert_eq!(column(&decls, "site_id").into_iter().collect::<HashSet<_>>().len(), 2, "{}", decls.text);
        let bookings = app.get("/api/v1/bookings", t_).await.expect(200);
        assert_eq!(column(&bookings, "site_id").into_iter().collect::<HashSet<_>>().len(), 2, "{}", bookings.text);
        for path in [
            format!("/api/v1/sites/{}", t.b),
            format!("/api/v1/sites/{}/schedules", t.b),
            format!("/api/v1/slots/{}", t.slot_b),
            format!("/api/v1/declarations/{}", t.declaration_b),
            format!("/api/v1/bookings/{}", t.booking_b),
        ] {
            app.get(&path, t_).await.expect(200);
        }
    }
    // Customs without limits act at site B.
    let d = format!("/api/v1/declarations/{}", t.declaration_b);
    app.post(&format!("{d}/review"), Some(&t.w.customs.officer), json!({})).await.expect(200);
    app.post(&format!("{d}/approve"), Some(&t.w.customs.officer), json!({"risk_lane": "green"})).await.expect(200);
    let code =
        app.get(&format!("/api/v1/bookings/{}", t.booking_b), Some(sup)).await.expect(200).str("/gate_pass/code");
    let r = app.post("/api/v1/gate/scan", Some(&t.w.customs.officer), json!({"site_id": t.b, "code": code})).await;
    assert_eq!(slug(&r.problem(422)), "too-early");
    // The company still cancels its own booking at either site.
    let r = app.post(&format!("/api/v1/bookings/{}/cancel", t.booking_b), Some(&t.company.admin), json!({})).await;
    assert_eq!(r.expect(200).body["status"], "cancelled");
}

async fn a_change_of_sites_holds_from_the_next_request(app: TestApp) {
    let t = two_sites(&app).await;
    let sup = &t.w.customs.supervisor;
    let (officer, id) = limited_officer(&app, sup, &[&t.w.site]).await;
    let o = Some(officer.as_str());
    let path = format!("{OFFICERS}/{id}");
    let decl = |d: &str| format!("/api/v1/declarations/{d}");
    app.get(&decl(&t.declaration_a), o).await.expect(200);
    not_found(app.get(&decl(&t.declaration_b), o).await);

    // Moved to site B: the same token now sees B and not A.
    patch(&app, sup, &path, json!({"site_ids": [t.b]})).await.expect(200);
    not_found(app.get(&decl(&t.declaration_a), o).await);
    app.get(&decl(&t.declaration_b), o).await.expect(200);
    let sites = app.get("/api/v1/sites", o).await.expect(200);
    assert_eq!(column(&sites, "id"), vec![t.b.clone()]);
    let bookings = app.get("/api/v1/bookings", o).await.expect(200);
    assert_eq!(column(&bookings, "id"), vec![t.booking_b.clone()]);

    // Every site again.
    patch(&app, sup, &path, json!({"site_ids": null})).await.expect(200);
    app.get(&decl(&t.declaration_a), o).await.expect(200);
    app.get(&decl(&t.declaration_b), o).await.expect(200);
    let sites = app.get("/api/v1/sites", o).await.expect(200);
    assert_eq!(column(&sites, "id").len(), 2);
    let bookings = app.get("/api/v1/bookings", o).await.expect(200);
    assert_eq!(column(&bookings, "id").len(), 2);
}

async fn the_audit_trail_of_a_limited_officer_leaves_out_other_sites(app: TestApp) {
    let t = two_sites(&app).await;
    let sup = &t.w.customs.supervisor;
    // A slot event at each site.
    for slot in [&t.slot_a, &t.slot_b] {
        patch(&app, sup, &format!("/api/v1/slots/{slot}"), json!({"capacity": 9})).await.expect(200);
    }
    let (officer, _) = limited_officer(&app, sup, &[&t.w.site]).await;
    let trail = |token: String, query: String| {
        let app = &app;
        async move { app.get(&format!("/api/v1/audit?limit=200{query}"), Some(&token)).await.expect(200) }
    };
    let of = |r: &Resp, kind: &str, id: &str| {
        r.body["items"].as_array().unwrap().iter().filter(|e| e["entity_type"] == kind && e["entity_id"] == id).count()
    };
    let all = trail(officer.clone(), String::new()).await;
    let everything = trail(sup.clone(), String::new()).await;
    for (kind, a, b) in [
        ("site", &t.w.site, &t.b),
        ("slot", &t.slot_a, &t.slot_b),
        ("declaration", &t.declaration_a, &t.declaration_b),
        ("booking", &t.booking_a, &t.booking_b),
    ] {
        assert!(of(&all, kind, a) > 0, "{kind} of site A: {}", all.text);
        assert_eq!(of(&all, kind, b), 0, "{kind} of site B: {}", all.text);
        assert!(of(&everything, kind, b) > 0, "{kind} of site B for the supervisor");
        let one = trail(officer.clone(), format!("&entity_type={kind}&entity_id={b}")).await;
        assert_eq!(one.body["items"], json!([]), "{}", one.text);
        let one = trail(officer.clone(), format!("&entity_type={kind}&entity_id={a}")).await;
        assert!(!one.body["items"].as_array().unwrap().is_empty());
    }
    // Schedules: the only one the officer sees is site A's.
    let schedules = trail(officer.clone(), "&entity_type=schedule".into()).await;
    assert_eq!(schedules.body["items"].as_array().unwrap().len(), 1, "{}", schedules.text);
    // Events of no site (the enterprise) stay.
    assert!(of(&all, "enterprise", &t.company.enterprise_id) > 0);
}

async fn a_limited_officer_has_no_closures_at_other_sites(app: TestApp) {
    let t = two_sites(&app).await;
    let sup = &t.w.customs.supervisor;
    let (officer, _) = limited_officer(&app, sup, &[&t.w.site]).await;
    let o = Some(officer.as_str());
    let from = Utc::now() + Duration::days(2);
    let body = |dry_run: bool| {
        json!({"from": from.to_rfc3339(), "to": (from + Duration::hours(2)).to_rfc3339(), "reason": "storm",
               "rebook": "cancel", "dry_run": dry_run})
    };
    let closures = |site: &str| format!("/api/v1/sites/{site}/closures");
    // The supervisor closes two hours at site B; to the officer it does not exist.
    let at_b = app.post(&closures(&t.b), Some(sup), body(false)).await.expect(201).str("/id");
    not_found(app.post(&closures(&t.b), o, body(true)).await);
    not_found(app.post(&closures(&t.b), o, body(false)).await);
    not_found(app.get(&closures(&t.b), o).await);
    not_found(app.call(Method::DELETE, &format!("/api/v1/closures/{at_b}"), o, None).await);
    let trail = app.get(&format!("/api/v1/audit?entity_type=closure&entity_id={at_b}"), o).await.expect(200);
    assert_eq!(trail.body["items"], json!([]), "{}", trail.text);
    // Nothing changed at B: one closure, still active.
    let list = app.get(&closures(&t.b), Some(sup)).await.expect(200);
    assert_eq!(column(&list, "id"), vec![at_b.clone()]);
    assert_eq!(list.body["items"][0]["active"], true, "{}", list.text);

    // At their own site they preview, close, list and lift.
    app.post(&closures(&t.w.site), o, body(true)).await.expect(200);
    let own = app.post(&closures(&t.w.site), o, body(false)).await.expect(201).str("/id");
    let list = app.get(&closures(&t.w.site), o).await.expect(200);
    assert_eq!(column(&list, "id"), vec![own.clone()]);
    let trail = app.get(&format!("/api/v1/audit?entity_type=closure&entity_id={own}"), o).await.expect(200);
    assert!(!trail.body["items"].as_array().unwrap().is_empty(), "{}", trail.text);
    app.call(Method::DELETE, &format!("/api/v1/closures/{own}"), o, None).await.expect(204);
}
