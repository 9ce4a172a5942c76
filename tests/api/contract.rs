//! The request contract: a body with a field the API does not know is
//! refused with 422, naming the field by its JSON path (code `unknown`),
//! instead of the field being silently dropped; the OpenAPI document says so
//! (`additionalProperties: false`).

use serde_json::{json, Value};

use crate::api_tests;
use crate::helpers::{Resp, TestApp, PASSWORD};

api_tests!(
    a_misspelt_registration_field_is_named,
    unknown_fields_are_refused_at_any_depth_and_in_optional_bodies,
    an_unknown_field_changes_nothing,
);

/// Asserts a 422 whose one field error is `field`, code `unknown`.
#[track_caller]
fn unknown_field(r: Resp, field: &str) -> Resp {
    let r = r.problem(422);
    assert_eq!(r.fields(), vec![field.to_owned()], "{}", r.text);
    let error = &r.body["errors"][0];
    assert_eq!(error["code"], "unknown", "{}", r.text);
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("`{}`", field.rsplit('.').next().unwrap_or(field))), "{}", r.text);
    r
}

fn registration(enterprise: Value) -> Value {
    json!({
        "enterprise": enterprise,
        "admin": {"email": "admin@contract.test", "password": PASSWORD, "display_name": "Contract Admin"}
    })
}

async fn a_misspelt_registration_field_is_named(app: TestApp) {
    // `legal_name` for `name`: the answer names the field that is not ours,
    // and says which ones are.
    let body =
        registration(json!({"legal_name": "Contract GmbH", "country": "DE", "registration_code": "DECONTRACT0001"}));
    let r = unknown_field(app.post("/api/v1/auth/register", None, body).await, "enterprise.legal_name");
    let message = r.body["errors"][0]["message"].as_str().unwrap_or_default();
    for allowed in ["`name`", "`country`", "`registration_code`"] {
        assert!(message.contains(allowed), "{message}");
    }

    // The document tells integrators the same.
    let doc = app.get("/api-docs/openapi.json", None).await.expect(200).body;
    for schema in ["RegisterRequest", "RegisterEnterprise", "NewAccount"] {
        assert_eq!(doc["components"]["schemas"][schema]["additionalProperties"], json!(false), "{schema}");
    }
}

async fn unknown_fields_are_refused_at_any_depth_and_in_optional_bodies(app: TestApp) {
    // Top level, and nested in an object.
    let body = json!({"email": "nobody@contract.test", "password": PASSWORD, "remember_me": true});
    unknown_field(app.post("/api/v1/auth/login", None, body).await, "remember_me");
    let mut body =
        registration(json!({"name": "Contract GmbH", "country": "DE", "registration_code": "DECONTRACT0002"}));
    body["admin"]["phone"] = json!("+49 30 123456");
    unknown_field(app.post("/api/v1/auth/register", None, body).await, "admin.phone");

    // An optional body that is sent is read as strictly as a required one.
    let customs = app.customs().await;
    let company = app.register_company("Contract").await;
    let verify = format!("/api/v1/enterprises/{}/verify", company.enterprise_id);
    unknown_field(app.post(&verify, Some(&customs.officer), json!({"note": "papers checked"})).await, "note");

    // A change body: a field that is not a slot's.
    let slot = "/api/v1/slots/0190f7a1-9d8e-7f66-b5a4-3c2d1e0f9a8b";
    let r = app.call(reqwest::Method::PATCH, slot, Some(&customs.officer), Some(json!({"capacty": 5}))).await;
    unknown_field(r, "capacty");
}

async fn an_unknown_field_changes_nothing(app: TestApp) {
    let customs = app.customs().await;
    let company = app.register_company("Untouched").await;
    let path = format!("/api/v1/enterprises/{}", company.enterprise_id);
    let suspend = format!("{path}/suspend");
    unknown_field(
        app.post(&suspend, Some(&customs.officer), json!({"reason": "test", "until": "2027-01-01"})).await,
        "until",
    );
    let e = app.get(&path, Some(&customs.officer)).await.expect(200);
    assert_eq!(e.body["status"], "pending", "{}", e.text);

    // The same body without the stray field is accepted.
    app.post(&format!("{path}/verify"), Some(&customs.officer), json!({})).await.expect(200);
    app.post(&suspend, Some(&customs.officer), json!({"reason": "test"})).await.expect(200);
}
