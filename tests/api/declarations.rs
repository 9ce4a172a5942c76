//! Declarations: filing, editing (ETag / If-Match), the review state
//! machine, numbering, the officers' queue, tenant isolation and the audit
//! chain of every change.

use chrono::{DateTime, Datelike, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::helpers::{Company, Customs, Resp, TestApp};
use crate::slots::create_site;

api_tests!(
    file_submit_review_approve_release_and_numbering,
    approve_straight_from_submitted_claims_it,
    reject_needs_a_reason_and_is_final,
    amendment_round_trip_keeps_the_number,
    company_cancels_before_approval_only,
    illegal_transitions_are_409_naming_the_state,
    the_other_party_is_403,
    edits_need_the_current_if_match,
    concurrent_edits_with_one_etag_let_exactly_one_win,
    patch_items_replace_the_whole_list,
    unknown_fields_in_a_declaration_are_named_and_nothing_is_stored,
    every_bad_field_is_its_own_422_and_nothing_is_stored,
    review_queue_order_filters_and_pages,
    other_enterprises_declarations_are_404,
    history_shows_the_chain_and_tampering_is_detected,
    pending_may_draft_but_not_submit_and_suspended_may_not_write,
);

const DECLARATIONS: &str = "/api/v1/declarations";
const SITE_CODE: &str = "CNKHG";

/// A customs office, its Kashgar site (road + rail) and one verified company with a clerk.
struct World {
    customs: Customs,
    site: String,
    company: Company,
    clerk: String,
}

async fn world(app: &TestApp, tag: &str) -> World {
    let customs = app.customs().await;
    let site = create_site(app, &customs.supervisor, SITE_CODE, "Asia/Urumqi").await;
    let company = app.verified_company(tag, &customs.officer).await;
    let clerk = app.add_clerk(&company).await;
    World { customs, site, company, clerk }
}

/// Cotton yarn from Uzbekistan into Kashgar by road: two lines that add up to 1250.00 CNY.
fn cotton(site: &str) -> Value {
    json!({
        "kind": "import",
        "site_id": site,
        "transport_mode": "road",
        "consignor": "Tashkent Textile Export LLC",
        "consignee": "Kashgar Silk Road Trading Co., Ltd.",
        "origin_country": "UZ",
        "destination_country": "CN",
        "currency": "CNY",
        "incoterm": "FCA",
        "invoice_total": "1250.00",
        "gross_mass_kg": "1600.5",
        "items": [
            {"hs_code": "520512", "description": "Single cotton yarn, uncombed", "quantity": "1200",
             "unit": "KGM", "net_mass_kg": "1200", "value": "1000", "origin_country": "UZ"},
            {"hs_code": "5205220000", "description": "Single cotton yarn, combed", "quantity": "300",
             "unit": "KGM", "net_mass_kg": "300", "value": "250.00", "origin_country": "UZ"}
        ]
    })
}

/// The same goods going the other way.
fn cotton_export(site: &str) -> Value {
    let mut b = cotton(site);
    b["kind"] = json!("export");
    b["origin_country"] = json!("CN");
    b["destination_country"] = json!("UZ");
    b
}

fn url(id: &str) -> String {
    format!("{DECLARATIONS}/{id}")
}

fn action_url(id: &str, action: &str) -> String {
    format!("{DECLARATIONS}/{id}/{action}")
}

/// The body each action needs to pass its own checks (so that only the state decides).
fn action_body(action: &str) -> Value {
    match action {
        "approve" => json!({"risk_lane": "green"}),
        "reject" | "request-amendment" => json!({"reason": "the invoice does not match the packing list"}),
        _ => json!({}),
    }
}

/// Files a draft; returns its id.
async fn create(app: &TestApp, token: &str, body: Value) -> String {
    app.post(DECLARATIONS, Some(token), body).await.expect(201).str("/id")
}

async fn act(app: &TestApp, token: &str, id: &str, action: &str) -> Resp {
    app.post(&action_url(id, action), Some(token), action_body(action)).await
}

async fn patch(app: &TestApp, token: &str, id: &str, if_match: Option<&str>, body: Value) -> Resp {
    let headers: Vec<(&str, &str)> = if_match.map(|t| ("If-Match", t)).into_iter().collect();
    app.call_with(Method::PATCH, &url(id), Some(token), Some(body), &headers).await
}

/// The current ETag, as the company reads it.
async fn etag_of(app: &TestApp, token: &str, id: &str) -> String {
    app.get(&url(id), Some(token)).await.expect(200).header("etag").expect("ETag on GET")
}

async fn status_of(app: &TestApp, token: &str, id: &str) -> (String, i64) {
    let r = app.get(&url(id), Some(token)).await.expect(200);
    (r.str("/status"), r.body["version"].as_i64().unwrap())
}

async fn user_id(app: &TestApp, token: &str) -> String {
    app.get("/api/v1/me", Some(token)).await.expect(200).str("/id")
}

/// The year at the Kashgar site right now (numbers carry the site-local year).
fn site_year() -> i32 {
    Utc::now().with_timezone(&chrono_tz::Asia::Urumqi).year()
}

/// The response is the declaration with the ETag of its version.
#[track_caller]
fn assert_etag_matches_version(r: &Resp) {
    let version = r.body["version"].as_i64().unwrap_or_else(|| panic!("no version in {}", r.text));
    assert_eq!(r.header("etag"), Some(format!("\"{version}\"")), "{}", r.text);
}

/// A 409 problem whose detail names `state`.
#[track_caller]
fn assert_illegal(r: Resp, state: &str, what: &str) {
    let r = r.problem(409);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(state), "{what}: detail does not name the state {state}: {}", r.text);
}

/// A declaration driven into `status` through the API; returns its id.
async fn declaration_in(app: &TestApp, w: &World, status: &str) -> String {
    let id = create(app, &w.clerk, cotton(&w.site)).await;
    let officer = w.customs.officer.as_str();
    let steps: &[(&str, &str)] = match status {
        "draft" => &[],
        "submitted" => &[("c", "submit")],
        "under_review" => &[("c", "submit"), ("o", "review")],
        "approved" => &[("c", "submit"), ("o", "review"), ("o", "approve")],
        "released" => &[("c", "submit"), ("o", "review"), ("o", "approve"), ("o", "release")],
        "rejected" => &[("c", "submit"), ("o", "reject")],
        "amendment_requested" => &[("c", "submit"), ("o", "request-amendment")],
        "cancelled" => &[("c", "submit"), ("c", "cancel")],
        other => panic!("no route to {other}"),
    };
    for (who, action) in steps {
        let token = if *who == "c" { w.clerk.as_str() } else { officer };
        act(app, token, &id, action).await.expect(200);
    }
    assert_eq!(status_of(app, &w.clerk, &id).await.0, status);
    id
}

// ---- 1. the happy path and numbering ----------------------------------------

async fn file_submit_review_approve_release_and_numbering(app: TestApp) {
    let w = world(&app, "happy").await;
    let officer_id = user_id(&app, &w.customs.officer).await;
    let year = site_year();

    let r = app.post(DECLARATIONS, Some(&w.clerk), cotton(&w.site)).await.expect(201);
    assert_eq!(r.header("etag").as_deref(), Some("\"1\""));
    let d = &r.body;
    assert_eq!(d["status"], "draft");
    assert_eq!(d["version"], 1);
    assert!(d["number"].is_null(), "{}", r.text);
    assert_eq!(d["enterprise_id"], w.company.enterprise_id.as_str());
    assert_eq!(d["kind"], "import");
    assert_eq!(d["site_id"], w.site.as_str());
    assert_eq!(d["transport_mode"], "road");
    assert_eq!(d["origin_country"], "UZ");
    assert_eq!(d["destination_country"], "CN");
    assert_eq!(d["currency"], "CNY");
    assert_eq!(d["incoterm"], "FCA");
    assert_eq!(d["invoice_total"], "1250.00");
    assert_eq!(d["gross_mass_kg"], "1600.5");
    assert!(d["risk_lane"].is_null() && d["assigned_officer_id"].is_null() && d["submitted_at"].is_null());
    let items = d["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["line_no"], 1);
    assert_eq!(items[1]["line_no"], 2);
    assert_eq!(items[0]["hs_code"], "520512");
    assert_eq!(items[1]["hs_code"], "5205220000");
    // Money is a decimal string in the currency's minor units, never a float.
    assert_eq!(items[0]["value"], "1000.00");
    assert_eq!(items[1]["value"], "250.00");
    assert_eq!(items[0]["unit"], "KGM");
    assert_eq!(items[1]["origin_country"], "UZ");
    let id = r.str("/id");

    // Reading it back gives the same declaration and ETag.
    let g = app.get(&url(&id), Some(&w.company.admin)).await.expect(200);
    assert_eq!(g.body, r.body);
    assert_eq!(g.header("etag").as_deref(), Some("\"1\""));

    let s = act(&app, &w.clerk, &id, "submit").await.expect(200);
    assert_eq!(s.body["status"], "submitted");
    assert_eq!(s.str("/number"), format!("{SITE_CODE}{year}I000001"));
    assert!(s.body["submitted_at"].is_string(), "{}", s.text);
    assert!(s.body["version"].as_i64().unwrap() > 1, "a status change is a new version: {}", s.text);
    assert_etag_matches_version(&s);

    let c = act(&app, &w.customs.officer, &id, "review").await.expect(200);
    assert_eq!(c.body["status"], "under_review");
    assert_eq!(c.body["assigned_officer_id"], officer_id.as_str());
    assert_etag_matches_version(&c);

    let a = act(&app, &w.customs.officer, &id, "approve").await.expect(200);
    assert_eq!(a.body["status"], "approved");
    assert_eq!(a.body["risk_lane"], "green");
    assert_eq!(a.body["assigned_officer_id"], officer_id.as_str());

    let rel = act(&app, &w.customs.officer, &id, "release").await.expect(200);
    assert_eq!(rel.body["status"], "released");
    assert_eq!(rel.body["risk_lane"], "green");
    assert_eq!(rel.str("/number"), format!("{SITE_CODE}{year}I000001"));
    let versions: Vec<i64> = [&s, &c, &a, &rel].iter().map(|r| r.body["version"].as_i64().unwrap()).collect();
    assert!(versions.windows(2).all(|p| p[0] < p[1]), "versions must grow: {versions:?}");

    // The next import at the same site takes the next serial; an export has its own series.
    let second = create(&app, &w.company.admin, cotton(&w.site)).await;
    let s2 = act(&app, &w.company.admin, &second, "submit").await.expect(200);
    assert_eq!(s2.str("/number"), format!("{SITE_CODE}{year}I000002"));
    let export = create(&app, &w.clerk, cotton_export(&w.site)).await;
    let e = act(&app, &w.clerk, &export, "submit").await.expect(200);
    assert_eq!(e.str("/number"), format!("{SITE_CODE}{year}E000001"));
    assert_eq!(e.body["kind"], "export");
}

// ---- 2. every other path ----------------------------------------------------

async fn approve_straight_from_submitted_claims_it(app: TestApp) {
    let w = world(&app, "direct").await;
    let supervisor_id = user_id(&app, &w.customs.supervisor).await;
    let id = declaration_in(&app, &w, "submitted").await;
    let path = action_url(&id, "approve");
    // Approval needs a known risk lane.
    let r = app.post(&path, Some(&w.customs.supervisor), json!({})).await.problem(422);
    assert_eq!(r.fields(), ["risk_lane"]);
    let r = app.post(&path, Some(&w.customs.supervisor), json!({"risk_lane": "purple"})).await.problem(422);
    assert_eq!(r.fields(), ["risk_lane"]);
    assert_eq!(status_of(&app, &w.clerk, &id).await.0, "submitted");

    let a = app.post(&path, Some(&w.customs.supervisor), json!({"risk_lane": "red"})).await.expect(200);
    assert_eq!(a.body["status"], "approved");
    assert_eq!(a.body["risk_lane"], "red");
    // The implicit claim assigns it to whoever approved it.
    assert_eq!(a.body["assigned_officer_id"], supervisor_id.as_str());
    let rel = act(&app, &w.customs.officer, &id, "release").await.expect(200);
    assert_eq!(rel.body["status"], "released");
}

async fn reject_needs_a_reason_and_is_final(app: TestApp) {
    let w = world(&app, "reject").await;
    let id = declaration_in(&app, &w, "under_review").await;
    let path = action_url(&id, "reject");
    for body in [json!({}), json!({"reason": "   "})] {
        let r = app.post(&path, Some(&w.customs.officer), body).await.problem(422);
        assert_eq!(r.fields(), ["reason"], "{}", r.text);
    }
    // No body at all is the same missing reason.
    let r = app.call(Method::POST, &path, Some(&w.customs.officer), None).await.problem(422);
    assert_eq!(r.fields(), ["reason"]);
    assert_eq!(status_of(&app, &w.clerk, &id).await.0, "under_review");

    let r = app
        .post(&path, Some(&w.customs.officer), json!({"reason": "HS code does not match the goods"}))
        .await
        .expect(200);
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(r.body["status_reason"], "HS code does not match the goods");
    let version = r.body["version"].as_i64().unwrap();

    // Rejected is final for both sides.
    for action in ["review", "approve", "reject", "request-amendment", "release"] {
        assert_illegal(act(&app, &w.customs.officer, &id, action).await, "rejected", action);
    }
    for action in ["submit", "cancel"] {
        assert_illegal(act(&app, &w.clerk, &id, action).await, "rejected", action);
    }
    let tag = format!("\"{version}\"");
    assert_illegal(patch(&app, &w.clerk, &id, Some(&tag), json!({"consignor": "X"})).await, "rejected", "edit");
    assert_eq!(status_of(&app, &w.clerk, &id).await, ("rejected".to_owned(), version));

    // Rejecting straight from submitted works too.
    let other = declaration_in(&app, &w, "submitted").await;
    let r =
        app.post(&action_url(&other, "reject"), Some(&w.customs.officer), json!({"reason": "no"})).await.expect(200);
    assert_eq!(r.body["status"], "rejected");
}

async fn amendment_round_trip_keeps_the_number(app: TestApp) {
    let w = world(&app, "amend").await;
    let officer_id = user_id(&app, &w.customs.officer).await;
    let id = declaration_in(&app, &w, "submitted").await;
    let number = app.get(&url(&id), Some(&w.clerk)).await.expect(200).str("/number");
    assert_eq!(number, format!("{SITE_CODE}{}I000001", site_year()));

    let path = action_url(&id, "request-amendment");
    let r = app.post(&path, Some(&w.customs.officer), json!({})).await.problem(422);
    assert_eq!(r.fields(), ["reason"]);
    let r = app
        .post(&path, Some(&w.customs.officer), json!({"reason": "state the yarn's dtex on line 2"}))
        .await
        .expect(200);
    assert_eq!(r.body["status"], "amendment_requested");
    assert_eq!(r.body["status_reason"], "state the yarn's dtex on line 2");
    // Straight from submitted: claimed implicitly.
    assert_eq!(r.body["assigned_officer_id"], officer_id.as_str());

    // Customs may not edit; the company edits with the current ETag.
    let tag = etag_of(&app, &w.clerk, &id).await;
    patch(&app, &w.customs.officer, &id, Some(&tag), json!({"consignor": "X"})).await.problem(403);
    let mut items = cotton(&w.site)["items"].clone();
    items[1]["description"] = json!("Single cotton yarn, combed, 714-232 dtex");
    let e = patch(&app, &w.clerk, &id, Some(&tag), json!({"items": items})).await.expect(200);
    assert_eq!(e.body["status"], "amendment_requested");
    assert_eq!(e.body["items"][1]["description"], "Single cotton yarn, combed, 714-232 dtex");
    assert_etag_matches_version(&e);

    let s = act(&app, &w.clerk, &id, "submit").await.expect(200);
    assert_eq!(s.body["status"], "submitted");
    assert_eq!(s.str("/number"), number, "a resubmission keeps its number");
    // The resubmission took no serial: the next declaration gets 000002.
    let next = create(&app, &w.clerk, cotton(&w.site)).await;
    let n = act(&app, &w.clerk, &next, "submit").await.expect(200);
    assert_eq!(n.str("/number"), format!("{SITE_CODE}{}I000002", site_year()));

    // And the amended one goes on through review as usual.
    act(&app, &w.customs.officer, &id, "review").await.expect(200);
    let a = act(&app, &w.customs.officer, &id, "approve").await.expect(200);
    assert_eq!(a.body["status"], "approved");
}

async fn company_cancels_before_approval_only(app: TestApp) {
    let w = world(&app, "cancel").await;
    for from in ["draft", "submitted", "under_review", "amendment_requested"] {
        let id = declaration_in(&app, &w, from).await;
        let r = app
            .post(&action_url(&id, "cancel"), Some(&w.clerk), json!({"reason": "order withdrawn"}))
            .await
            .expect(200);
        assert_eq!(r.body["status"], "cancelled", "cancel from {from}: {}", r.text);
        assert_eq!(status_of(&app, &w.company.admin, &id).await.0, "cancelled");
        // Cancelled is final.
        assert_illegal(act(&app, &w.clerk, &id, "cancel").await, "cancelled", "cancel twice");
        assert_illegal(act(&app, &w.clerk, &id, "submit").await, "cancelled", "submit after cancel");
    }
    // Cancelling without a body is fine (the reason is optional).
    let id = declaration_in(&app, &w, "submitted").await;
    let r = app.call(Method::POST, &action_url(&id, "cancel"), Some(&w.clerk), None).await.expect(200);
    assert_eq!(r.body["status"], "cancelled");

    for from in ["approved", "released"] {
        let id = declaration_in(&app, &w, from).await;
        assert_illegal(act(&app, &w.clerk, &id, "cancel").await, from, "cancel");
        assert_eq!(status_of(&app, &w.clerk, &id).await.0, from);
    }
}

// ---- 3. illegal transitions and parties -------------------------------------

async fn illegal_transitions_are_409_naming_the_state(app: TestApp) {
    let w = world(&app, "illegal").await;
    let officer = w.customs.officer.as_str();
    // (state, company actions it forbids, customs actions it forbids); "edit" is the PATCH.
    let table: [(&str, &[&str], &[&str]); 7] = [
        ("submitted", &["edit", "submit"], &["release"]),
        ("under_review", &["edit", "submit"], &["review", "release"]),
        ("approved", &["edit", "submit", "cancel"], &["review", "approve", "reject", "request-amendment"]),
        ("released", &["edit", "submit", "cancel"], &["review", "approve", "reject", "request-amendment", "release"]),
        ("rejected", &["edit", "submit", "cancel"], &["review", "approve", "reject", "request-amendment", "release"]),
        ("amendment_requested", &[], &["review", "approve", "reject", "request-amendment", "release"]),
        ("cancelled", &["edit", "submit", "cancel"], &["review", "approve", "reject", "request-amendment", "release"]),
    ];
    for (state, company, customs) in table {
        let id = declaration_in(&app, &w, state).await;
        let before = status_of(&app, &w.clerk, &id).await;
        for action in company {
            let r = if *action == "edit" {
                let tag = etag_of(&app, &w.clerk, &id).await;
                patch(&app, &w.clerk, &id, Some(&tag), json!({"consignor": "Someone Else"})).await
            } else {
                act(&app, &w.clerk, &id, action).await
            };
            assert_illegal(r, state, &format!("company {action} on {state}"));
        }
        for action in customs {
            assert_illegal(act(&app, officer, &id, action).await, state, &format!("customs {action} on {state}"));
        }
        assert_eq!(status_of(&app, &w.clerk, &id).await, before, "a refused action changed {state}");
    }

    // Customs cannot see drafts at all, so acting on one is 404, not 409.
    let draft = declaration_in(&app, &w, "draft").await;
    for action in ["review", "approve", "reject", "request-amendment", "release"] {
        act(&app, officer, &draft, action).await.problem(404);
    }
    assert_eq!(status_of(&app, &w.clerk, &draft).await, ("draft".to_owned(), 1));
}

async fn the_other_party_is_403(app: TestApp) {
    let w = world(&app, "party").await;
    let submitted = declaration_in(&app, &w, "submitted").await;
    for token in [w.clerk.as_str(), w.company.admin.as_str()] {
        for action in ["review", "approve", "reject", "request-amendment", "release"] {
            act(&app, token, &submitted, action).await.problem(403);
        }
    }
    let draft = declaration_in(&app, &w, "draft").await;
    for token in [w.customs.officer.as_str(), w.customs.supervisor.as_str()] {
        for id in [&submitted, &draft] {
            act(&app, token, id, "submit").await.problem(403);
            act(&app, token, id, "cancel").await.problem(403);
        }
        app.post(DECLARATIONS, Some(token), cotton(&w.site)).await.problem(403);
        patch(&app, token, &draft, Some("\"1\""), json!({"consignor": "Customs"})).await.problem(403);
    }
    // Without a token it is 401 everywhere.
    app.get(DECLARATIONS, None).await.problem(401);
    app.post(&action_url(&submitted, "approve"), None, json!({"risk_lane": "green"})).await.problem(401);
    assert_eq!(status_of(&app, &w.clerk, &submitted).await.0, "submitted");
    assert_eq!(status_of(&app, &w.clerk, &draft).await, ("draft".to_owned(), 1));
}

// ---- 4. ETag / If-Match -----------------------------------------------------

async fn edits_need_the_current_if_match(app: TestApp) {
    let w = world(&app, "etag").await;
    let id = create(&app, &w.clerk, cotton(&w.site)).await;
    let change = json!({"consignor": "Samarkand Cotton JSC"});

    patch(&app, &w.clerk, &id, None, change.clone()).await.problem(428);
    // A wildcard would defeat the optimistic lock: refused too.
    let star = patch(&app, &w.clerk, &id, Some("*"), change.clone()).await;
    assert!(matches!(star.status.as_u16(), 412 | 428), "If-Match: * must not edit: {}", star.text);
    patch(&app, &w.clerk, &id, Some("\"7\""), change.clone()).await.problem(412);
    patch(&app, &w.clerk, &id, Some("\"garbage\""), change.clone()).await.problem(412);
    assert_eq!(status_of(&app, &w.clerk, &id).await, ("draft".to_owned(), 1));

    let r = patch(&app, &w.clerk, &id, Some("\"1\""), change.clone()).await.expect(200);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag").as_deref(), Some("\"2\""));
    assert_eq!(r.body["consignor"], "Samarkand Cotton JSC");
    // Fields the patch left out are kept.
    assert_eq!(r.body["consignee"], "Kashgar Silk Road Trading Co., Ltd.");
    assert_eq!(r.body["invoice_total"], "1250.00");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);

    // The old tag is stale now; the new one works (another clerk of the same company may edit).
    patch(&app, &w.company.admin, &id, Some("\"1\""), json!({"consignee": "Late"})).await.problem(412);
    let r = patch(&app, &w.company.admin, &id, Some("\"2\""), json!({"consignee": "Kashgar Import Co."})).await;
    let r = r.expect(200);
    assert_eq!(r.body["version"], 3);
    assert_eq!(r.body["consignor"], "Samarkand Cotton JSC");
    assert_eq!(r.body["consignee"], "Kashgar Import Co.");

    // An edit that breaks a rule is 422 and changes nothing.
    let r = patch(&app, &w.clerk, &id, Some("\"3\""), json!({"invoice_total": "999.00"})).await.problem(422);
    assert_eq!(r.fields(), ["invoice_total"]);
    assert_eq!(status_of(&app, &w.clerk, &id).await, ("draft".to_owned(), 3));

    // Once submitted it cannot be edited, whatever the tag.
    let s = act(&app, &w.clerk, &id, "submit").await.expect(200);
    let tag = s.header("etag").unwrap();
    assert_illegal(patch(&app, &w.clerk, &id, Some(&tag), change.clone()).await, "submitted", "edit submitted");
    let g = app.get(&url(&id), Some(&w.clerk)).await.expect(200);
    assert_eq!(g.header("etag"), Some(tag));
    assert_eq!(g.body["consignee"], "Kashgar Import Co.");
}

async fn concurrent_edits_with_one_etag_let_exactly_one_win(app: TestApp) {
    let w = world(&app, "race").await;
    for round in 0..3 {
        let id = create(&app, &w.clerk, cotton(&w.site)).await;
        let (a, b) = tokio::join!(
            patch(&app, &w.clerk, &id, Some("\"1\""), json!({"consignor": "Writer A"})),
            patch(&app, &w.company.admin, &id, Some("\"1\""), json!({"consignor": "Writer B"})),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "round {round}: A {} / B {}", a.text, b.text);
        let winner = if a.status.as_u16() == 200 { "Writer A" } else { "Writer B" };
        let g = app.get(&url(&id), Some(&w.clerk)).await.expect(200);
        assert_eq!(g.body["version"], 2);
        assert_eq!(g.body["consignor"], winner);
        // One edit event, not two.
        let h = app.get(&action_url(&id, "history"), Some(&w.clerk)).await.expect(200);
        let edits = h.body["items"].as_array().unwrap().iter().filter(|e| e["action"] == "edit").count();
        assert_eq!(edits, 1, "round {round}: {}", h.text);
    }
}

/// Asserts a 422 whose one field error is `field`, code `unknown`.
#[track_caller]
fn unknown_field(r: Resp, field: &str) {
    let r = r.problem(422);
    assert_eq!(r.fields(), [field], "{}", r.text);
    assert_eq!(r.body["errors"][0]["code"], "unknown", "{}", r.text);
}

async fn unknown_fields_in_a_declaration_are_named_and_nothing_is_stored(app: TestApp) {
    let w = world(&app, "stray").await;
    // A misspelt header field, and a field an item line does not have.
    let mut body = cotton(&w.site);
    body["incoterms"] = json!("DAP");
    unknown_field(app.post(DECLARATIONS, Some(&w.clerk), body).await, "incoterms");
    let mut body = cotton(&w.site);
    body["items"][1]["weight"] = json!("20");
    unknown_field(app.post(DECLARATIONS, Some(&w.clerk), body).await, "items[1].weight");
    let list = app.get(DECLARATIONS, Some(&w.clerk)).await.expect(200);
    assert_eq!(list.body["items"], json!([]), "{}", list.text);

    // An edit: a field that is not the declaration's changes nothing.
    let id = create(&app, &w.clerk, cotton(&w.site)).await;
    let r = patch(&app, &w.clerk, &id, Some("\"1\""), json!({"consignee": "Other Ltd.", "status": "approved"})).await;
    unknown_field(r, "status");
    let g = app.get(&url(&id), Some(&w.clerk)).await.expect(200);
    assert_eq!(g.body["consignee"], cotton(&w.site)["consignee"], "{}", g.text);
    assert_eq!((g.body["version"].clone(), g.body["status"].clone()), (json!(1), json!("draft")));

    // The document says so.
    let doc = app.get("/api-docs/openapi.json", None).await.expect(200).body;
    for schema in ["DeclarationInput", "ItemInput", "DeclarationPatch"] {
        assert_eq!(doc["components"]["schemas"][schema]["additionalProperties"], json!(false), "{schema}");
    }
}

async fn patch_items_replace_the_whole_list(app: TestApp) {
    let w = world(&app, "items").await;
    let id = create(&app, &w.clerk, cotton(&w.site)).await;
    let one = json!([{"hs_code": "5205220000", "description": "Single cotton yarn, combed", "quantity": "500",
                      "unit": "KGM", "net_mass_kg": "500", "value": "800.50", "origin_country": "KZ"}]);
    let r =
        patch(&app, &w.clerk, &id, Some("\"1\""), json!({"items": one, "invoice_total": "800.50"})).await.expect(200);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", r.text);
    assert_eq!(items[0]["line_no"], 1);
    assert_eq!(items[0]["hs_code"], "5205220000");
    assert_eq!(items[0]["value"], "800.50");
    assert_eq!(items[0]["origin_country"], "KZ");
    assert_eq!(r.body["invoice_total"], "800.50");
    let g = app.get(&url(&id), Some(&w.clerk)).await.expect(200);
    assert_eq!(g.body["items"], r.body["items"]);

    // Three lines replace the one, numbered afresh.
    let mut three = cotton(&w.site)["items"].clone();
    three.as_array_mut().unwrap().push(json!({"hs_code": "52051200", "description": "Yarn, third lot",
        "quantity": "10", "unit": "KGM", "net_mass_kg": "10", "value": "0.50", "origin_country": "UZ"}));
    let r = patch(&app, &w.clerk, &id, Some("\"2\""), json!({"items": three, "invoice_total": "1250.50"}))
        .await
        .expect(200);
    let lines: Vec<(i64, String)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["line_no"].as_i64().unwrap(), i["hs_code"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        lines,
        [(1, "520512".to_owned()), (2, "5205220000".to_owned()), (3, "52051200".to_owned())],
        "{}",
        r.text
    );
    // Items that no longer add up are refused, and the stored list stays.
    let r = patch(&app, &w.clerk, &id, Some("\"3\""), json!({"items": one})).await.problem(422);
    assert_eq!(r.fields(), ["invoice_total"]);
    let g = app.get(&url(&id), Some(&w.clerk)).await.expect(200);
    assert_eq!(g.body["items"].as_array().unwrap().len(), 3);
}

// ---- 5. validation ----------------------------------------------------------

async fn every_bad_field_is_its_own_422_and_nothing_is_stored(app: TestApp) {
    let w = world(&app, "invalid").await;
    let base = cotton(&w.site);
    type Change = Box<dyn Fn(&mut Value)>;
    let set = |pointer: &'static str, v: Value| -> Change {
        Box::new(move |b: &mut Value| *b.pointer_mut(pointer).unwrap() = v.clone())
    };
    let cases: Vec<(&str, Change, &str, &str)> = vec![
        ("chapter 77", set("/items/0/hs_code", json!("770000")), "items[0].hs_code", "hs_code"),
        ("chapter 99", set("/items/0/hs_code", json!("990000")), "items[0].hs_code", "hs_code"),
        ("5 digits", set("/items/0/hs_code", json!("52051")), "items[0].hs_code", "hs_code"),
        ("11 digits", set("/items/0/hs_code", json!("52051200001")), "items[0].hs_code", "hs_code"),
        ("letters", set("/items/0/hs_code", json!("52O512")), "items[0].hs_code", "hs_code"),
        ("dotted", set("/items/0/hs_code", json!("5205.12")), "items[0].hs_code", "hs_code"),
        ("origin", set("/origin_country", json!("UZB")), "origin_country", "country"),
        ("unknown origin", set("/origin_country", json!("XX")), "origin_country", "country"),
        ("destination", set("/destination_country", json!("cn")), "destination_country", "country"),
        ("item origin", set("/items/1/origin_country", json!("XX")), "items[1].origin_country", "country"),
        ("currency", set("/currency", json!("RMB")), "currency", "currency"),
        ("incoterm", set("/incoterm", json!("DAT")), "incoterm", "enum"),
        ("kind", set("/kind", json!("transfer")), "kind", "enum"),
        ("mode", set("/transport_mode", json!("sea")), "transport_mode", "enum"),
        ("total decimals", set("/invoice_total", json!("1250.001")), "invoice_total", "scale"),
        ("value decimals", set("/items/0/value", json!("1000.005")), "items[0].value", "scale"),
        ("zero quantity", set("/items/0/quantity", json!("0")), "items[0].quantity", "positive"),
        ("negative quantity", set("/items/1/quantity", json!("-3")), "items[1].quantity", "positive"),
        ("zero net mass", set("/items/0/net_mass_kg", json!("0")), "items[0].net_mass_kg", "positive"),
        ("negative net mass", set("/items/1/net_mass_kg", json!("-300")), "items[1].net_mass_kg", "positive"),
        ("zero gross mass", set("/gross_mass_kg", json!("0")), "gross_mass_kg", "positive"),
        ("negative gross mass", set("/gross_mass_kg", json!("-1600.5")), "gross_mass_kg", "positive"),
        ("net over gross", set("/gross_mass_kg", json!("1499.999")), "gross_mass_kg", "mass"),
        ("sum", set("/items/1/value", json!("250.01")), "invoice_total", "sum_mismatch"),
        ("total", set("/invoice_total", json!("1300.00")), "invoice_total", "sum_mismatch"),
        ("no items", set("/items", json!([])), "items", "count"),
        ("no consignor", set("/consignor", json!("  ")), "consignor", "required"),
        ("unknown site", set("/site_id", json!(uuid::Uuid::new_v4().to_string())), "site_id", "not_found"),
        ("air at a road+rail site", set("/transport_mode", json!("air")), "transport_mode", "not_served"),
        (
            "1000 items",
            Box::new(|b: &mut Value| {
                let mut line = b["items"][0].clone();
                line["value"] = json!("1.00");
                line["net_mass_kg"] = json!("1");
                b["items"] = Value::Array(vec![line; 1000]);
                b["invoice_total"] = json!("1000.00");
            }),
            "items",
            "count",
        ),
    ];
    for (what, change, field, code) in &cases {
        let mut body = base.clone();
        change(&mut body);
        let r = app.post(DECLARATIONS, Some(&w.clerk), body).await.problem(422);
        assert_eq!(r.fields(), [*field], "{what}: {}", r.text);
        assert_eq!(r.body["errors"][0]["code"], *code, "{what}: {}", r.text);
        assert!(r.body["errors"][0]["message"].is_string(), "{what}: {}", r.text);
    }

    // Money as a JSON number is the wrong JSON type: 400, naming the field.
    for (pointer, name) in [("/invoice_total", "invoice_total"), ("/items/0/value", "value")] {
        let mut body = base.clone();
        *body.pointer_mut(pointer).unwrap() = json!(1250.0);
        let r = app.post(DECLARATIONS, Some(&w.clerk), body).await.problem(400);
        assert!(r.body["detail"].as_str().unwrap().contains(name), "{}", r.text);
    }
    let mut body = base.clone();
    body["items"][0]["quantity"] = json!(1200);
    app.post(DECLARATIONS, Some(&w.clerk), body).await.problem(400);

    // Several bad fields at once are all reported.
    let mut body = base.clone();
    body["currency"] = json!("EURO");
    body["items"][0]["hs_code"] = json!("770000");
    body["items"][1]["origin_country"] = json!("Uzbekistan");
    let r = app.post(DECLARATIONS, Some(&w.clerk), body).await.problem(422);
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, ["currency", "items[0].hs_code", "items[1].origin_country"], "{}", r.text);

    // Nothing of all that was stored.
    let list = app.get(DECLARATIONS, Some(&w.clerk)).await.expect(200);
    assert_eq!(list.body["items"], json!([]), "{}", list.text);
    assert!(list.body["next_cursor"].is_null());

    // 999 lines is the most, and allowed.
    let mut body = base.clone();
    let mut line = body["items"][0].clone();
    line["value"] = json!("1.00");
    line["net_mass_kg"] = json!("1");
    body["items"] = Value::Array(vec![line; 999]);
    body["invoice_total"] = json!("999.00");
    let r = app.post(DECLARATIONS, Some(&w.clerk), body).await.expect(201);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 999);
    assert_eq!(items[998]["line_no"], 999);
    let list = app.get(DECLARATIONS, Some(&w.clerk)).await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

// ---- 6. the review queue and company lists ----------------------------------

/// An RFC 3339 time as Kashgar shows it (+06:00), ready for a query string.
fn query_time(t: &str) -> String {
    let t = DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&chrono_tz::Asia::Urumqi);
    let shown = t.to_rfc3339();
    assert!(shown.contains("+06:00"), "{shown}");
    shown.replace('+', "%2B")
}

fn ids(r: &Resp) -> Vec<String> {
    r.body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

async fn review_queue_order_filters_and_pages(app: TestApp) {
    let w = world(&app, "queue").await;
    let officer = w.customs.officer.as_str();
    let horgos = create_site(&app, &w.customs.supervisor, "CNHGS", "Asia/Urumqi").await;
    let b = app.verified_company("queueb", officer).await;

    let a1 = create(&app, &w.clerk, cotton(&w.site)).await;
    let a2 = create(&app, &w.clerk, cotton_export(&w.site)).await;
    let a3 = create(&app, &w.clerk, cotton(&horgos)).await;
    let b1 = create(&app, &b.admin, cotton(&w.site)).await;
    let b2 = create(&app, &b.admin, cotton(&w.site)).await;
    let a_draft = create(&app, &w.clerk, cotton(&w.site)).await;
    let b_draft = create(&app, &b.admin, cotton(&w.site)).await;

    // Submitted in another order than created: the queue follows submission.
    let order = [(&b1, &b.admin), (&a3, &w.clerk), (&a1, &w.clerk), (&b2, &b.admin), (&a2, &w.clerk)];
    let mut submitted_at = Vec::new();
    for (id, token) in order {
        let r = act(&app, token, id, "submit").await.expect(200);
        submitted_at.push(r.str("/submitted_at"));
    }
    let queue: Vec<String> = order.iter().map(|(id, _)| (*id).clone()).collect();

    let r = app.get(&format!("{DECLARATIONS}?status=submitted"), Some(officer)).await.expect(200);
    assert_eq!(ids(&r), queue, "oldest submission first");
    assert!(r.body["next_cursor"].is_null());
    let all = app.get(DECLARATIONS, Some(officer)).await.expect(200);
    assert_eq!(ids(&all), queue, "no drafts for customs");
    for d in all.body["items"].as_array().unwrap() {
        assert_ne!(d["status"], "draft");
    }
    let drafts = app.get(&format!("{DECLARATIONS}?status=draft"), Some(officer)).await.expect(200);
    assert_eq!(drafts.body["items"], json!([]));
    let drafts = app.get(&format!("{DECLARATIONS}?status=draft"), Some(&w.customs.supervisor)).await.expect(200);
    assert_eq!(drafts.body["items"], json!([]));

    let r = app.get(&format!("{DECLARATIONS}?site_id={horgos}"), Some(officer)).await.expect(200);
    assert_eq!(ids(&r), [a3.as_str()]);
    let r = app.get(&format!("{DECLARATIONS}?kind=export"), Some(officer)).await.expect(200);
    assert_eq!(ids(&r), [a2.as_str()]);
    let r = app.get(&format!("{DECLARATIONS}?site_id={}&kind=import", w.site), Some(officer)).await.expect(200);
    assert_eq!(ids(&r), [b1.clone(), a1.clone(), b2.clone()]);
    // submitted_from ≤ submitted_at < submitted_to, with offsets in the query.
    let path = format!(
        "{DECLARATIONS}?submitted_from={}&submitted_to={}",
        query_time(&submitted_at[1]),
        query_time(&submitted_at[3])
    );
    let r = app.get(&path, Some(officer)).await.expect(200);
    assert_eq!(ids(&r), [a3.clone(), a1.clone()], "{path}");
    let path = format!("{DECLARATIONS}?submitted_from={}", query_time(&submitted_at[4]));
    assert_eq!(ids(&app.get(&path, Some(officer)).await.expect(200)), [a2.as_str()]);
    let path = format!("{DECLARATIONS}?submitted_to={}", query_time(&submitted_at[0]));
    assert_eq!(ids(&app.get(&path, Some(officer)).await.expect(200)), Vec::<String>::new());

    // Pages of two walk the whole queue once.
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{DECLARATIONS}?status=submitted&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, Some(officer)).await.expect(200);
        let got = ids(&page);
        assert!(got.len() <= 2);
        seen.extend(got);
        pages += 1;
        assert!(pages <= 5, "pagination does not end");
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, queue, "pages overlap, skip or reorder");
    assert_eq!(pages, 3);

    // A claimed declaration moves from one status filter to the other.
    act(&app, officer, &a1, "review").await.expect(200);
    let r = app.get(&format!("{DECLARATIONS}?status=under_review"), Some(officer)).await.expect(200);
    assert_eq!(ids(&r), [a1.as_str()]);
    let r = app.get(&format!("{DECLARATIONS}?status=submitted"), Some(officer)).await.expect(200);
    assert_eq!(ids(&r), [b1.clone(), a3.clone(), b2.clone(), a2.clone()]);

    // Bad filters are 422.
    for q in ["status=pending", "kind=smuggling", "submitted_from=yesterday", "limit=0", "cursor=%25%25"] {
        let r = app.get(&format!("{DECLARATIONS}?{q}"), Some(officer)).await.problem(422);
        assert!(!r.fields().is_empty(), "{q}: {}", r.text);
    }

    // Companies see only their own, drafts included, and nothing of the other's.
    let mine = app.get(DECLARATIONS, Some(&w.company.admin)).await.expect(200);
    let mut expected = vec![a1.clone(), a2.clone(), a3.clone(), a_draft.clone()];
    let mut got = ids(&mine);
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    for d in mine.body["items"].as_array().unwrap() {
        assert_eq!(d["enterprise_id"], w.company.enterprise_id.as_str());
    }
    let theirs = app.get(DECLARATIONS, Some(&b.admin)).await.expect(200);
    let mut got = ids(&theirs);
    let mut expected = vec![b1.clone(), b2.clone(), b_draft.clone()];
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    let r = app.get(&format!("{DECLARATIONS}?status=draft"), Some(&w.clerk)).await.expect(200);
    assert_eq!(ids(&r), [a_draft.as_str()]);
    let r = app.get(&format!("{DECLARATIONS}?status=submitted"), Some(&b.admin)).await.expect(200);
    let mut got = ids(&r);
    got.sort();
    let mut expected = vec![b1.clone(), b2.clone()];
    expected.sort();
    assert_eq!(got, expected);
    // A company's pages also walk its list once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let mut path = format!("{DECLARATIONS}?limit=3");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, Some(&w.clerk)).await.expect(200);
        seen.extend(ids(&page));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids(&mine));
}

// ---- 7. tenant isolation ----------------------------------------------------

async fn other_enterprises_declarations_are_404(app: TestApp) {
    let w = world(&app, "tenanta").await;
    let b = app.verified_company("tenantb", &w.customs.officer).await;
    let b_clerk = app.add_clerk(&b).await;
    let id = create(&app, &w.clerk, cotton(&w.site)).await;

    for token in [b.admin.as_str(), b_clerk.as_str()] {
        app.get(&url(&id), Some(token)).await.problem(404);
        app.get(&action_url(&id, "history"), Some(token)).await.problem(404);
        patch(&app, token, &id, Some("\"1\""), json!({"consignor": "Hijacked"})).await.problem(404);
        act(&app, token, &id, "submit").await.problem(404);
        act(&app, token, &id, "cancel").await.problem(404);
        assert!(!ids(&app.get(DECLARATIONS, Some(token)).await.expect(200)).contains(&id));
    }
    // An id that does not exist answers the same.
    let ghost = uuid::Uuid::new_v4().to_string();
    let not_found = app.get(&url(&ghost), Some(&b.admin)).await.problem(404);
    let other = app.get(&url(&id), Some(&b.admin)).await.problem(404);
    assert_eq!(not_found.body, other.body);
    app.get(&url("not-a-uuid"), Some(&w.clerk)).await.problem(404);

    // Customs do not see the draft ...
    for token in [w.customs.officer.as_str(), w.customs.supervisor.as_str()] {
        app.get(&url(&id), Some(token)).await.problem(404);
        app.get(&action_url(&id, "history"), Some(token)).await.problem(404);
    }
    // ... and nothing of the above touched it.
    assert_eq!(status_of(&app, &w.company.admin, &id).await, ("draft".to_owned(), 1));
    assert_eq!(app.get(&url(&id), Some(&w.clerk)).await.expect(200).body["consignor"], "Tashkent Textile Export LLC");

    act(&app, &w.clerk, &id, "submit").await.expect(200);
    let r = app.get(&url(&id), Some(&w.customs.officer)).await.expect(200);
    assert_eq!(r.body["status"], "submitted");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    app.get(&action_url(&id, "history"), Some(&w.customs.officer)).await.expect(200);
    // Still nothing for the other company.
    app.get(&url(&id), Some(&b.admin)).await.problem(404);
    app.get(&action_url(&id, "history"), Some(&b.admin)).await.problem(404);
    act(&app, &b.admin, &id, "cancel").await.problem(404);
    assert_eq!(status_of(&app, &w.clerk, &id).await.0, "submitted");
}

// ---- 8. audit ---------------------------------------------------------------

async fn history_shows_the_chain_and_tampering_is_detected(app: TestApp) {
    let w = world(&app, "audit").await;
    let officer_id = user_id(&app, &w.customs.officer).await;
    let supervisor_id = user_id(&app, &w.customs.supervisor).await;
    let clerk_id = user_id(&app, &w.clerk).await;
    let admin_id = user_id(&app, &w.company.admin).await;
    let officer = w.customs.officer.as_str();

    let id = create(&app, &w.clerk, cotton(&w.site)).await;
    act(&app, &w.company.admin, &id, "submit").await.expect(200);
    act(&app, officer, &id, "review").await.expect(200);
    app.post(&action_url(&id, "request-amendment"), Some(officer), json!({"reason": "add the dtex"})).await.expect(200);
    let tag = etag_of(&app, &w.clerk, &id).await;
    patch(&app, &w.clerk, &id, Some(&tag), json!({"consignor": "Tashkent Textile Export JSC"})).await.expect(200);
    act(&app, &w.clerk, &id, "submit").await.expect(200);
    // A refused action leaves no trace.
    assert_illegal(act(&app, officer, &id, "release").await, "submitted", "release submitted");
    act(&app, &w.customs.supervisor, &id, "approve").await.expect(200);
    act(&app, officer, &id, "release").await.expect(200);

    let h = app.get(&action_url(&id, "history"), Some(officer)).await.expect(200);
    let events = h.body["items"].as_array().unwrap();
    let expected = [
        ("create", None, Some("draft"), "company_clerk", &clerk_id),
        ("submit", Some("draft"), Some("submitted"), "company_admin", &admin_id),
        ("review", Some("submitted"), Some("under_review"), "officer", &officer_id),
        ("request-amendment", Some("under_review"), Some("amendment_requested"), "officer", &officer_id),
        ("edit", Some("amendment_requested"), Some("amendment_requested"), "company_clerk", &clerk_id),
        ("submit", Some("amendment_requested"), Some("submitted"), "company_clerk", &clerk_id),
        ("approve", Some("submitted"), Some("approved"), "supervisor", &supervisor_id),
        ("release", Some("approved"), Some("released"), "officer", &officer_id),
    ];
    assert_eq!(events.len(), expected.len(), "{}", h.text);
    for (i, (e, (action, from, to, role, actor))) in events.iter().zip(expected.iter()).enumerate() {
        assert_eq!(e["entity_type"], "declaration", "{i}");
        assert_eq!(e["entity_id"], id.as_str(), "{i}");
        assert_eq!(e["seq"], i + 1, "{i}");
        assert_eq!(e["action"], *action, "{i}: {e}");
        assert_eq!(e["from_state"].as_str(), *from, "{i}: {e}");
        assert_eq!(e["to_state"].as_str(), *to, "{i}: {e}");
        assert_eq!(e["actor_role"], *role, "{i}: {e}");
        assert_eq!(e["actor_id"], actor.as_str(), "{i}: {e}");
        assert!(e["request_id"].is_string() && e["occurred_at"].is_string(), "{e}");
        if i > 0 {
            assert_eq!(e["prev_hash"], events[i - 1]["hash"], "chain link {i}");
        }
    }
    assert_eq!(events[3]["reason"], "add the dtex");
    // The company reads the same history of its own declaration.
    let own = app.get(&action_url(&id, "history"), Some(&w.company.admin)).await.expect(200);
    assert_eq!(own.body["items"], h.body["items"]);

    let v = app.get("/api/v1/audit/verify", Some(officer)).await.expect(200);
    assert_eq!(v.body["valid"], true, "{}", v.text);
    assert!(v.body["first_broken"].is_null(), "{}", v.text);
    assert!(v.body["events_checked"].as_u64().unwrap() >= 8, "{}", v.text);

    // Rewrite the reason of the amendment request behind the API's back.
    let sql = format!(
        "UPDATE audit_events SET reason = 'tampered' \
         WHERE entity_type = 'declaration' AND entity_id = '{id}' AND seq = 4"
    );
    let changed = app
        .state
        .db
        .write(move |conn| {
            use diesel::RunQueryDsl;
            match conn {
                clearway::db::DbConnection::Sqlite(c) => diesel::sql_query(sql).execute(c),
                clearway::db::DbConnection::Postgres(c) => diesel::sql_query(sql).execute(c),
            }
        })
        .await
        .map_err(|_| "tamper")
        .unwrap();
    assert_eq!(changed, 1);

    let v = app.get("/api/v1/audit/verify", Some(officer)).await.expect(200);
    assert_eq!(v.body["valid"], false, "{}", v.text);
    let broken = &v.body["first_broken"];
    assert_eq!(broken["entity_type"], "declaration", "{}", v.text);
    assert_eq!(broken["entity_id"], id.as_str(), "{}", v.text);
    assert_eq!(broken["seq"], 4, "{}", v.text);
    assert_eq!(broken["event_id"], events[3]["id"], "{}", v.text);
    // Other entities' chains are untouched.
    let v = app.get("/api/v1/audit/verify?entity_type=enterprise", Some(officer)).await.expect(200);
    assert_eq!(v.body["valid"], true, "{}", v.text);
    // Companies do not verify the trail.
    app.get("/api/v1/audit/verify", Some(&w.company.admin)).await.problem(403);
}

// ---- 9. enterprise status ---------------------------------------------------

async fn pending_may_draft_but_not_submit_and_suspended_may_not_write(app: TestApp) {
    let w = world(&app, "status").await;
    let officer = w.customs.officer.as_str();

    // Pending: drafts yes, submission no.
    let pending = app.register_company("pend").await;
    let id = create(&app, &pending.admin, cotton(&w.site)).await;
    act(&app, &pending.admin, &id, "submit").await.problem(403);
    assert_eq!(status_of(&app, &pending.admin, &id).await, ("draft".to_owned(), 1));
    let r = patch(&app, &pending.admin, &id, Some("\"1\""), json!({"consignor": "Edited While Pending"})).await;
    assert_eq!(r.expect(200).body["version"], 2);
    app.post(&format!("/api/v1/enterprises/{}/verify", pending.enterprise_id), Some(officer), json!({}))
        .await
        .expect(200);
    let r = act(&app, &pending.admin, &id, "submit").await.expect(200);
    assert_eq!(r.body["status"], "submitted");

    // Suspended: reads yes, writes no.
    let draft = create(&app, &w.clerk, cotton(&w.site)).await;
    let submitted = declaration_in(&app, &w, "submitted").await;
    app.post(
        &format!("/api/v1/enterprises/{}/suspend", w.company.enterprise_id),
        Some(officer),
        json!({"reason": "unpaid duties"}),
    )
    .await
    .expect(200);
    for token in [w.clerk.as_str(), w.company.admin.as_str()] {
        app.post(DECLARATIONS, Some(token), cotton(&w.site)).await.problem(403);
        patch(&app, token, &draft, Some("\"1\""), json!({"consignor": "Suspended Edit"})).await.problem(403);
        act(&app, token, &draft, "submit").await.problem(403);
        act(&app, token, &draft, "cancel").await.problem(403);
        act(&app, token, &submitted, "cancel").await.problem(403);
        app.get(&url(&draft), Some(token)).await.expect(200);
        app.get(&action_url(&submitted, "history"), Some(token)).await.expect(200);
        assert_eq!(ids(&app.get(DECLARATIONS, Some(token)).await.expect(200)).len(), 2);
    }
    assert_eq!(status_of(&app, &w.clerk, &draft).await, ("draft".to_owned(), 1));
    assert_eq!(status_of(&app, &w.clerk, &submitted).await.0, "submitted");

    // Reinstated, it files again.
    app.post(&format!("/api/v1/enterprises/{}/reinstate", w.company.enterprise_id), Some(officer), json!({}))
        .await
        .expect(200);
    act(&app, &w.clerk, &draft, "submit").await.expect(200);
    create(&app, &w.clerk, cotton(&w.site)).await;
}
