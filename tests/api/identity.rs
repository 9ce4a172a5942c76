//! Identity and access: registration, tokens, roles, tenant isolation.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::helpers::{TestApp, PASSWORD};

api_tests!(
    register_verify_login_refresh_reuse_logout,
    malformed_tokens_are_401,
    bad_registration_input_is_422_with_field_errors,
    duplicates_are_409_and_nothing_is_half_created,
    failed_logins_are_throttled,
    tenants_are_isolated_and_roles_enforced,
    suspended_enterprise_reads_but_does_not_write,
    enterprise_changes_are_audited_and_chains_verify,
    role_matrix,
);

fn registration(code: &str, email: &str) -> Value {
    json!({
        "enterprise": {"name": "Horgos Logistics Co.", "country": "CN", "registration_code": code},
        "admin": {"email": email, "password": PASSWORD, "display_name": "Wang Fang"}
    })
}

async fn register_verify_login_refresh_reuse_logout(app: TestApp) {
    let customs = app.customs().await;
    let r = app
        .post("/api/v1/auth/register", None, registration("91350100M000100Y43", "Ops@Horgos.test"))
        .await
        .expect(201);
    assert_eq!(r.body["enterprise"]["status"], "pending");
    assert_eq!(r.body["enterprise"]["credit_class"], "general");
    assert_eq!(r.body["user"]["role"], "company_admin");
    assert_eq!(r.body["user"]["email"], "ops@horgos.test");
    assert!(r.body["user"].get("password_hash").is_none());
    let ent = r.str("/enterprise/id");

    // Pending in the officer's queue.
    let q = app.get("/api/v1/enterprises?status=pending", Some(&customs.officer)).await.expect(200);
    assert!(q.body["items"].as_array().unwrap().iter().any(|e| e["id"] == ent.as_str()));

    let v = app.post(&format!("/api/v1/enterprises/{ent}/verify"), Some(&customs.officer), json!({})).await.expect(200);
    assert_eq!(v.body["status"], "verified");
    // Verifying twice is an illegal transition naming the state.
    let again =
        app.post(&format!("/api/v1/enterprises/{ent}/verify"), Some(&customs.officer), json!({})).await.problem(409);
    assert!(again.text.contains("verified"));

    let login = app.login_full("OPS@horgos.test").await;
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    let access = login.str("/access_token");
    let refresh1 = login.str("/refresh_token");

    let me = app.get("/api/v1/me", Some(&access)).await.expect(200);
    assert_eq!(me.body["role"], "company_admin");
    assert_eq!(me.body["enterprise_id"], ent.as_str());
    assert_eq!(me.body["email"], "ops@horgos.test");

    // Rotation: refresh1 → refresh2.
    let r2 = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh1})).await.expect(200);
    let refresh2 = r2.str("/refresh_token");
    assert_ne!(refresh1, refresh2);
    app.get("/api/v1/me", Some(&r2.str("/access_token"))).await.expect(200);

    // Reusing refresh1 is theft: 401, and refresh2 dies with its family.
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh1})).await.problem(401);
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh2})).await.problem(401);

    // A new sign-in is a new family; logout revokes it.
    let login = app.login_full("ops@horgos.test").await;
    let access = login.str("/access_token");
    let refresh3 = login.str("/refresh_token");
    app.post("/api/v1/auth/logout", Some(&access), json!({"refresh_token": refresh3})).await.expect(204);
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh3})).await.problem(401);
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": "never-issued"})).await.problem(401);

    // Wrong password and unknown account answer alike.
    let a = app
        .post("/api/v1/auth/login", None, json!({"email": "ops@horgos.test", "password": "wrong-password-123"}))
        .await
        .problem(401);
    let b = app
        .post("/api/v1/auth/login", None, json!({"email": "nobody@horgos.test", "password": "wrong-password-123"}))
        .await
        .problem(401);
    assert_eq!(a.body["detail"], b.body["detail"]);
}

fn claims(now: i64) -> Value {
    json!({
        "sub": "01900000-0000-7000-8000-000000000000", "role": "supervisor",
        "iss": "clearway", "aud": "clearway-api", "iat": now, "nbf": now, "exp": now + 600,
        "jti": "x"
    })
}

fn sign(claims: &Value, secret: &[u8], kid: Option<&str>) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = kid.map(str::to_owned);
    encode(&h, claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
}

async fn malformed_tokens_are_401(app: TestApp) {
    let secret = b"TEST-ONLY-INSECURE-JWT-SECRET-never-use-in-production-0000";
    let now = chrono::Utc::now().timestamp();
    // The control: a real supervisor's token is accepted. A well-formed,
    // correctly signed token that names no session (and no user) is not:
    // every request checks its session and takes the role from the
    // database (issue 17; tests/api/abuse_auth.rs has the forged-role case).
    let customs = app.customs().await;
    app.get("/api/v1/enterprises", Some(&customs.supervisor)).await.expect(200);
    let good = sign(&claims(now), secret, Some("k1"));
    app.get("/api/v1/enterprises", Some(&good)).await.problem(401);

    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none_alg =
        format!("{}.{}.", b64.encode(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#), b64.encode(claims(now).to_string()));
    let mut tampered_claims = claims(now);
    tampered_claims["role"] = json!("supervisor");
    let parts: Vec<&str> = good.split('.').collect();
    let mut c2 = claims(now);
    c2["sub"] = json!("someone-else");
    let tampered = format!("{}.{}.{}", parts[0], b64.encode(c2.to_string()), parts[2]);

    let mut expired = claims(now - 3600);
    expired["exp"] = json!(now - 1800);
    let mut wrong_iss = claims(now);
    wrong_iss["iss"] = json!("evil");
    let mut wrong_aud = claims(now);
    wrong_aud["aud"] = json!("other-api");
    let mut no_sub = claims(now);
    no_sub.as_object_mut().unwrap().remove("sub");
    let mut no_iat = claims(now);
    no_iat.as_object_mut().unwrap().remove("iat");
    let mut future = claims(now + 3600);
    future["exp"] = json!(now + 7200);
    let hs512 = {
        let h = Header { alg: Algorithm::HS512, kid: Some("k1".into()), ..Header::default() };
        encode(&h, &claims(now), &EncodingKey::from_secret(secret).unwrap()).unwrap()
    };

    let bad = [
        ("none algorithm", none_alg),
        ("wrong key", sign(&claims(now), b"another-secret-another-secret-0123456789", Some("k1"))),
        ("no kid", sign(&claims(now), secret, None)),
        ("unknown kid", sign(&claims(now), secret, Some("k9"))),
        ("expired", sign(&expired, secret, Some("k1"))),
        ("wrong issuer", sign(&wrong_iss, secret, Some("k1"))),
        ("wrong audience", sign(&wrong_aud, secret, Some("k1"))),
        ("missing sub", sign(&no_sub, secret, Some("k1"))),
        ("missing iat", sign(&no_iat, secret, Some("k1"))),
        ("not yet valid", sign(&future, secret, Some("k1"))),
        ("HS512", hs512),
        ("tampered payload", tampered),
        ("garbage", "not.a.token".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in bad {
        let r = app.get("/api/v1/enterprises", Some(&token)).await;
        assert_eq!(r.status.as_u16(), 401, "{what} was accepted: {}", r.text);
    }
    // Not a Bearer scheme.
    let r =
        app.client.get(app.url("/api/v1/me")).header("Authorization", format!("Basic {good}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

async fn bad_registration_input_is_422_with_field_errors(app: TestApp) {
    let cases: Vec<(Value, &str)> = vec![
        (registration("91350100M000100Y44", "a@x.test"), "enterprise.registration_code"),
        (registration("91350100M000100Y4", "a@x.test"), "enterprise.registration_code"),
        (
            json!({"enterprise": {"name": "X", "country": "XX", "registration_code": "XX123"},
                   "admin": {"email": "a@x.test", "password": PASSWORD, "display_name": "A"}}),
            "enterprise.country",
        ),
        (
            json!({"enterprise": {"name": "X", "country": "DE", "registration_code": "DE 12"},
                   "admin": {"email": "a@x.test", "password": PASSWORD, "display_name": "A"}}),
            "enterprise.registration_code",
        ),
        (
            json!({"enterprise": {"name": "X", "country": "DE", "registration_code": "DE123"},
                   "admin": {"email": "a@x.test", "password": "short", "display_name": "A"}}),
            "admin.password",
        ),
        (
            json!({"enterprise": {"name": "X", "country": "DE", "registration_code": "DE123"},
                   "admin": {"email": "zhang.wei@x.test", "password": "zhang.wei-password", "display_name": "Zhang"}}),
            "admin.password",
        ),
        (
            json!({"enterprise": {"name": "X", "country": "DE", "registration_code": "DE123"},
                   "admin": {"email": "not-an-email", "password": PASSWORD, "display_name": "A"}}),
            "admin.email",
        ),
        (
            json!({"enterprise": {"name": "", "country": "DE", "registration_code": "DE123"},
                   "admin": {"email": "a@x.test", "password": PASSWORD, "display_name": "A"}}),
            "enterprise.name",
        ),
        (
            json!({"enterprise": {"name": "X", "country": "DE"},
                   "admin": {"email": "a@x.test", "password": PASSWORD, "display_name": "A"}}),
            "enterprise.registration_code",
        ),
        (json!({"enterprise": {"name": "X", "country": "DE", "registration_code": "DE123"}}), "admin"),
    ];
    for (body, field) in cases {
        let r = app.post("/api/v1/auth/register", None, body.clone()).await.problem(422);
        assert!(r.fields().iter().any(|f| f == field), "expected a field error on {field}: {}", r.text);
    }
    // Wrong JSON types are malformed requests (400), naming the field.
    let r = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"enterprise": {"name": 5, "country": "DE", "registration_code": "DE123"},
                   "admin": {"email": "a@x.test", "password": PASSWORD, "display_name": "A"}}),
        )
        .await
        .problem(400);
    assert!(r.text.contains("enterprise.name"), "{}", r.text);
    // Nothing was stored: the same email registers fine now.
    app.post("/api/v1/auth/register", None, registration("91350100M000100Y43", "a@x.test")).await.expect(201);
}

async fn duplicates_are_409_and_nothing_is_half_created(app: TestApp) {
    app.post("/api/v1/auth/register", None, registration("91350100M000100Y43", "first@x.test")).await.expect(201);
    // Same code, new email.
    app.post("/api/v1/auth/register", None, registration("91350100M000100Y43", "second@x.test")).await.problem(409);
    // New code, taken email: 409 and the new code is not left behind.
    let other = json!({"enterprise": {"name": "Y", "country": "KZ", "registration_code": "KZ998877"},
                       "admin": {"email": "FIRST@x.test", "password": PASSWORD, "display_name": "B"}});
    app.post("/api/v1/auth/register", None, other).await.problem(409);
    let retry = json!({"enterprise": {"name": "Y", "country": "KZ", "registration_code": "KZ998877"},
                       "admin": {"email": "third@x.test", "password": PASSWORD, "display_name": "B"}});
    app.post("/api/v1/auth/register", None, retry).await.expect(201);
    // The email that lost never got an account.
    app.post("/api/v1/auth/login", None, json!({"email": "second@x.test", "password": PASSWORD})).await.problem(401);
}

async fn failed_logins_are_throttled(app: TestApp) {
    let c = app.register_company("throttle").await;
    let mut last = None;
    for _ in 0..5 {
        let r = app
            .post("/api/v1/auth/login", None, json!({"email": c.admin_email, "password": "wrong-password-123"}))
            .await;
        last = Some(r.status.as_u16());
        if last == Some(429) {
            break;
        }
    }
    let r = app
        .post("/api/v1/auth/login", None, json!({"email": c.admin_email, "password": "wrong-password-123"}))
        .await
        .problem(429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert!(matches!(last, Some(401) | Some(429)));
    // Even the right password waits while the account is locked.
    app.post("/api/v1/auth/login", None, json!({"email": c.admin_email, "password": PASSWORD})).await.problem(429);
}

async fn tenants_are_isolated_and_roles_enforced(app: TestApp) {
    let customs = app.customs().await;
    let a = app.verified_company("alpha", &customs.officer).await;
    let b = app.verified_company("beta", &customs.officer).await;
    app.get(&format!("/api/v1/enterprises/{}", a.enterprise_id), Some(&a.admin)).await.expect(200);
    app.get(&format!("/api/v1/enterprises/{}", b.enterprise_id), Some(&a.admin)).await.problem(404);
    app.get(&format!("/api/v1/enterprises/{}", a.enterprise_id), Some(&customs.officer)).await.expect(200);

    // A's admin cannot deactivate B's clerk: it does not exist for A.
    let b_clerk_email = "bclerk@company.test";
    let clerk = app
        .post(
            "/api/v1/users",
            Some(&b.admin),
            json!({"email": b_clerk_email, "password": PASSWORD, "display_name": "Bee Clerk"}),
        )
        .await
        .expect(201);
    let clerk_id = clerk.str("/id");
    app.post(&format!("/api/v1/users/{clerk_id}/deactivate"), Some(&a.admin), json!({})).await.problem(404);
    let b_clerk = app.login(b_clerk_email).await;
    // A clerk does not manage users.
    app.post("/api/v1/users", Some(&b_clerk), json!({"email": "x@y.test", "password": PASSWORD, "display_name": "X"}))
        .await
        .problem(403);
    // Deactivated: the clerk cannot sign in or refresh any more.
    app.post(&format!("/api/v1/users/{clerk_id}/deactivate"), Some(&b.admin), json!({})).await.expect(200);
    app.post("/api/v1/auth/login", None, json!({"email": b_clerk_email, "password": PASSWORD})).await.problem(401);

    // A company cannot act as customs; an officer cannot create officers.
    app.post(&format!("/api/v1/enterprises/{}/verify", a.enterprise_id), Some(&a.admin), json!({})).await.problem(403);
    app.post(
        "/api/v1/officers",
        Some(&customs.officer),
        json!({"email": "o2@customs.test", "password": PASSWORD, "display_name": "O", "role": "officer"}),
    )
    .await
    .problem(403);
    // A supervisor may create another supervisor, not a company role.
    app.post(
        "/api/v1/officers",
        Some(&customs.supervisor),
        json!({"email": "s2@customs.test", "password": PASSWORD, "display_name": "S", "role": "company_admin"}),
    )
    .await
    .problem(422);
    app.post(
        "/api/v1/officers",
        Some(&customs.supervisor),
        json!({"email": "s2@customs.test", "password": PASSWORD, "display_name": "S", "role": "supervisor"}),
    )
    .await
    .expect(201);
}

async fn suspended_enterprise_reads_but_does_not_write(app: TestApp) {
    let customs = app.customs().await;
    let c = app.verified_company("susp", &customs.officer).await;
    let path = format!("/api/v1/enterprises/{}/suspend", c.enterprise_id);
    // A suspension needs a reason.
    app.post(&path, Some(&customs.officer), json!({})).await.problem(422);
    let r = app.post(&path, Some(&customs.officer), json!({"reason": "unpaid duties"})).await.expect(200);
    assert_eq!(r.body["status"], "suspended");
    app.get(&format!("/api/v1/enterprises/{}", c.enterprise_id), Some(&c.admin)).await.expect(200);
    app.get("/api/v1/users", Some(&c.admin)).await.expect(200);
    app.post(
        "/api/v1/users",
        Some(&c.admin),
        json!({"email": "new@x.test", "password": PASSWORD, "display_name": "New"}),
    )
    .await
    .problem(403);
    let r = app
        .post(&format!("/api/v1/enterprises/{}/reinstate", c.enterprise_id), Some(&customs.officer), json!({}))
        .await
        .expect(200);
    assert_eq!(r.body["status"], "verified");
    app.post(
        "/api/v1/users",
        Some(&c.admin),
        json!({"email": "new@x.test", "password": PASSWORD, "display_name": "New"}),
    )
    .await
    .expect(201);
    // Credit class.
    let r = app
        .post(
            &format!("/api/v1/enterprises/{}/credit-class", c.enterprise_id),
            Some(&customs.officer),
            json!({"credit_class": "advanced_certified", "customs_code": "6501234567"}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["credit_class"], "advanced_certified");
    app.post(
        &format!("/api/v1/enterprises/{}/credit-class", c.enterprise_id),
        Some(&customs.officer),
        json!({"credit_class": "platinum"}),
    )
    .await
    .problem(422);
}

async fn enterprise_changes_are_audited_and_chains_verify(app: TestApp) {
    let customs = app.customs().await;
    let c = app.verified_company("audit", &customs.officer).await;
    app.post(
        &format!("/api/v1/enterprises/{}/suspend", c.enterprise_id),
        Some(&customs.officer),
        json!({"reason": "check"}),
    )
    .await
    .expect(200);
    let events = app
        .get(&format!("/api/v1/audit?entity_type=enterprise&entity_id={}", c.enterprise_id), Some(&customs.officer))
        .await
        .expect(200);
    let items = events.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["register", "verify", "suspend"]);
    assert_eq!(items[2]["from_state"], "verified");
    assert_eq!(items[2]["to_state"], "suspended");
    assert_eq!(items[2]["reason"], "check");
    assert_eq!(items[2]["actor_role"], "officer");
    assert!(items[2]["request_id"].is_string());
    assert_eq!(items[1]["hash"], items[2]["prev_hash"]);
    let v = app.get("/api/v1/audit/verify", Some(&customs.officer)).await.expect(200);
    assert_eq!(v.body["valid"], true, "{}", v.text);
    // Companies do not read the audit trail.
    app.get("/api/v1/audit", Some(&c.admin)).await.problem(403);
}

/// The exact status of every endpoint that exists so far, for each kind of caller.
async fn role_matrix(app: TestApp) {
    let customs = app.customs().await;
    let a = app.verified_company("ma", &customs.officer).await;
    let b = app.verified_company("mb", &customs.officer).await;
    let clerk = app.add_clerk(&a).await;
    let ea = a.enterprise_id.clone();
    let eb = b.enterprise_id.clone();
    let officer_id = app.get("/api/v1/me", Some(&customs.officer)).await.expect(200).str("/id");

    let anon: Option<&str> = None;
    let callers: [(&str, Option<&str>); 5] = [
        ("anonymous", anon),
        ("company A admin", Some(&a.admin)),
        ("company A clerk", Some(&clerk)),
        ("officer", Some(&customs.officer)),
        ("supervisor", Some(&customs.supervisor)),
    ];
    // (method, path, body, expected status per caller in the order above)
    let cases: Vec<(Method, String, Value, [u16; 5])> = vec![
        (Method::GET, "/api/v1/me".into(), Value::Null, [401, 200, 200, 200, 200]),
        (Method::GET, "/api/v1/enterprises".into(), Value::Null, [401, 403, 403, 200, 200]),
        (Method::GET, format!("/api/v1/enterprises/{ea}"), Value::Null, [401, 200, 200, 200, 200]),
        (Method::GET, format!("/api/v1/enterprises/{eb}"), Value::Null, [401, 404, 404, 200, 200]),
        (
            Method::POST,
            format!("/api/v1/enterprises/{eb}/credit-class"),
            json!({"credit_class": "general"}),
            [401, 403, 403, 200, 200],
        ),
        (Method::POST, format!("/api/v1/enterprises/{eb}/verify"), json!({}), [401, 403, 403, 409, 409]),
        (Method::POST, format!("/api/v1/enterprises/{eb}/reinstate"), json!({}), [401, 403, 403, 409, 409]),
        (Method::GET, "/api/v1/users".into(), Value::Null, [401, 200, 403, 403, 403]),
        (Method::POST, "/api/v1/users".into(), json!({"email": "bad"}), [401, 422, 403, 403, 403]),
        (Method::POST, "/api/v1/officers".into(), json!({"email": "bad"}), [401, 403, 403, 403, 422]),
        (Method::GET, "/api/v1/officers".into(), Value::Null, [401, 403, 403, 403, 200]),
        (Method::GET, format!("/api/v1/officers/{officer_id}"), Value::Null, [401, 403, 403, 403, 200]),
        (Method::PATCH, format!("/api/v1/officers/{officer_id}"), json!({}), [401, 403, 403, 403, 200]),
        (Method::GET, "/api/v1/audit".into(), Value::Null, [401, 403, 403, 200, 200]),
        (Method::GET, "/api/v1/audit/verify".into(), Value::Null, [401, 403, 403, 200, 200]),
        (Method::GET, "/health/live".into(), Value::Null, [200, 200, 200, 200, 200]),
    ];
    for (method, path, body, expected) in cases {
        for ((who, token), want) in callers.iter().zip(expected) {
            let body = if body.is_null() { None } else { Some(body.clone()) };
            let r = app.call(method.clone(), &path, *token, body).await;
            assert_eq!(r.status.as_u16(), want, "{who} {method} {path}: {}", r.text);
        }
    }
}
