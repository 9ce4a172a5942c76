//! Values parsed once at the edge: a reason is trimmed and held to 1000
//! characters on every action that takes one, and a slot change names every
//! broken field in one answer.

use reqwest::Method;
use serde_json::json;

use crate::api_tests;
use crate::bookings::{tomorrow_slot, world};
use crate::helpers::TestApp;

api_tests!(every_reason_is_trimmed_and_at_most_1000_characters, a_slot_change_names_every_broken_field,);

/// The field errors of an answer, as (field, code).
fn errors(r: &crate::helpers::Resp) -> Vec<(String, String)> {
    let list = r.body["errors"].as_array().cloned().unwrap_or_default();
    list.iter().map(|e| (e["field"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned())).collect()
}

async fn every_reason_is_trimmed_and_at_most_1000_characters(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let officer = &w.customs.officer;
    let c = app.verified_company("reason", officer).await;
    let suspend = format!("/api/v1/enterprises/{}/suspend", c.enterprise_id);
    let long = "x".repeat(1001);
    let r = app.post(&suspend, Some(officer), json!({"reason": long})).await.problem(422);
    assert_eq!(errors(&r), [("reason".to_owned(), "length".to_owned())], "{}", r.text);
    let r = app.post(&suspend, Some(officer), json!({"reason": "  \n "})).await.problem(422);
    assert_eq!(errors(&r), [("reason".to_owned(), "required".to_owned())], "{}", r.text);
    app.post(&suspend, Some(officer), json!({"reason": format!("  {}  ", "y".repeat(1000))})).await.expect(200);
    let reinstate = format!("/api/v1/enterprises/{}/reinstate", c.enterprise_id);
    app.post(&reinstate, Some(officer), json!({"reason": long})).await.problem(422);
    app.post(&reinstate, Some(officer), json!({"reason": "  paid  "})).await.expect(200);
    let events = app
        .get(&format!("/api/v1/audit?entity_type=enterprise&entity_id={}", c.enterprise_id), Some(officer))
        .await
        .expect(200);
    let reasons: Vec<_> = events.body["items"].as_array().unwrap().iter().map(|e| e["reason"].clone()).collect();
    assert_eq!(reasons.last(), Some(&json!("paid")), "{}", events.text);

    let slot = tomorrow_slot(&app, &w, 0).await;
    let path = format!("/api/v1/slots/{slot}");
    let r = app.call(Method::PATCH, &path, Some(officer), Some(json!({"status": "closed", "reason": long}))).await;
    assert_eq!(errors(&r.problem(422)), [("reason".to_owned(), "length".to_owned())]);
    app.call(Method::PATCH, &path, Some(officer), Some(json!({"status": "closed", "reason": "  storm "})))
        .await
        .expect(200);
}

async fn a_slot_change_names_every_broken_field(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let path = format!("/api/v1/slots/{slot}");
    let officer = Some(w.customs.officer.as_str());
    let body = json!({"capacity": 10001, "status": "ajar", "reason": "r".repeat(1001)});
    let r = app.call(Method::PATCH, &path, officer, Some(body)).await.problem(422);
    let expected = [("capacity", "range"), ("status", "enum"), ("reason", "length")];
    assert_eq!(errors(&r), expected.map(|(f, c)| (f.to_owned(), c.to_owned())), "{}", r.text);
    let r = app.call(Method::PATCH, &path, officer, Some(json!({"displace": true}))).await.problem(422);
    assert_eq!(errors(&r), [("capacity".to_owned(), "required".to_owned())], "{}", r.text);
    let r = app.call(Method::PATCH, &path, officer, Some(json!({"capacity": 10000}))).await.expect(200);
    assert_eq!(r.body["capacity"], 10000);
}
