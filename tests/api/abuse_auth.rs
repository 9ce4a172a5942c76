//! Issue 17, the attacks on sign-in and sessions, replayed through the API:
//! each must now fail the way the SPEC's "Security and abuse" section says.

use std::time::{Duration, Instant};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::helpers::{spawn_app_on, TestApp, PASSWORD};

api_tests!(
    deactivated_clerk_token_stops_at_once,
    logout_ends_the_session_and_a_new_login_works_at_once,
    logout_all_and_password_change_end_every_session,
    supervisors_deactivate_and_reactivate_officers,
    role_and_enterprise_come_from_the_database,
    parallel_wrong_logins_spend_at_most_the_budget with |s| s.server.trusted_proxies = vec!["127.0.0.1".into()],
    forged_forwarded_for_does_not_escape_the_throttle,
    oversized_fields_are_refused_before_any_work,
    hash_queue_is_bounded with |s| { s.auth.max_concurrent_hashes = 1; s.auth.hash_queue = 2; },
    registrations_are_throttled_per_address with |s| {
        s.auth.registrations_per_hour = 3;
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
    },
    an_officer_rejects_a_squatted_registration,
    sessions_have_an_absolute_lifetime,
    common_passwords_are_refused,
    revocation_reaches_another_instance_within_the_cache_time,
    the_caller_is_refused_before_the_body_is_judged with |s| s.auth.session_cache_ms = 0,
);

fn wrong(email: &str) -> Value {
    json!({"email": email, "password": "Wrong-Password-000"})
}

async fn login_from(app: &TestApp, body: Value, addr: &str) -> u16 {
    app.call_with(Method::POST, "/api/v1/auth/login", None, Some(body), &[("X-Forwarded-For", addr)])
        .await
        .status
        .as_u16()
}

fn problem_type(r: &crate::helpers::Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

async fn deactivated_clerk_token_stops_at_once(app: TestApp) {
    let customs = app.customs().await;
    let c = app.verified_company("deact", &customs.officer).await;
    let clerk = app.add_clerk(&c).await;
    app.get("/api/v1/declarations", Some(&clerk)).await.expect(200);
    let users = app.get("/api/v1/users", Some(&c.admin)).await.expect(200);
    let clerk_id = users.body["items"]
        .as_array()
        .and_then(|a| a.iter().find(|u| u["role"] == "company_clerk"))
        .map(|u| u["id"].as_str().unwrap_or_default().to_owned())
        .expect("clerk listed");
    app.post(&format!("/api/v1/users/{clerk_id}/deactivate"), Some(&c.admin), json!({})).await.expect(200);
    // The old token lists, creates and books nothing any more: 401 everywhere.
    let r = app.get("/api/v1/declarations", Some(&clerk)).await.problem(401);
    assert_eq!(problem_type(&r), "unauthorized");
    app.post("/api/v1/declarations", Some(&clerk), json!({})).await.problem(401);
    app.post("/api/v1/bookings", Some(&clerk), json!({})).await.problem(401);
    app.get("/api/v1/me", Some(&clerk)).await.problem(401);
}

async fn logout_ends_the_session_and_a_new_login_works_at_once(app: TestApp) {
    let c = app.register_company("logout").await;
    let first = app.login_full(&c.admin_email).await;
    let (access, refresh) = (first.str("/access_token"), first.str("/refresh_token"));
    app.get("/api/v1/me", Some(&access)).await.expect(200);
    app.post("/api/v1/auth/logout", Some(&access), json!({"refresh_token": refresh})).await.expect(204);
    // The token that made the request is refused at once, and so is its refresh token.
    app.get("/api/v1/me", Some(&access)).await.problem(401);
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh})).await.problem(401);
    // A sign-in within the same second works.
    let again = app.login(&c.admin_email).await;
    app.get("/api/v1/me", Some(&again)).await.expect(200);
    // Another session of the same user was not touched by that logout.
    app.get("/api/v1/me", Some(&c.admin)).await.expect(200);
}

async fn logout_all_and_password_change_end_every_session(app: TestApp) {
    let c = app.register_company("everywhere").await;
    let other = app.login_full(&c.admin_email).await;
    app.post("/api/v1/auth/logout-all", Some(&c.admin), json!({})).await.expect(204);
    app.get("/api/v1/me", Some(&c.admin)).await.problem(401);
    app.get("/api/v1/me", Some(&other.str("/access_token"))).await.problem(401);
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": other.str("/refresh_token")})).await.problem(401);
    let token = app.login(&c.admin_email).await;
    app.get("/api/v1/me", Some(&token)).await.expect(200);

    // Password change: the current password is checked, the new one meets the policy.
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let r =
        app.post("/api/v1/me/password", Some(&token), change("Wrong-Password-000", "Staple-Orbit-Lantern-4410")).await;
    assert_eq!(problem_type(&r.problem(401)), "unauthorized");
    let r = app.post("/api/v1/me/password", Some(&token), change(PASSWORD, "password123456")).await.problem(422);
    assert_eq!(r.fields(), vec!["new_password"]);
    app.post("/api/v1/me/password", Some(&token), change(PASSWORD, "Staple-Orbit-Lantern-4410")).await.expect(204);
    // Every token from before is refused, the one that asked included.
    app.get("/api/v1/me", Some(&token)).await.problem(401);
    app.post("/api/v1/auth/login", None, json!({"email": c.admin_email, "password": PASSWORD})).await.problem(401);
    let r = app
        .post("/api/v1/auth/login", None, json!({"email": c.admin_email, "password": "Staple-Orbit-Lantern-4410"}))
        .await
        .expect(200);
    app.get("/api/v1/me", Some(&r.str("/access_token"))).await.expect(200);
}

async fn supervisors_deactivate_and_reactivate_officers(app: TestApp) {
    let customs = app.customs().await;
    let me = app.get("/api/v1/me", Some(&customs.officer)).await.expect(200);
    let officer_id = me.str("/id");
    let supervisor_id = app.get("/api/v1/me", Some(&customs.supervisor)).await.expect(200).str("/id");
    // Only supervisors; never their own account.
    let r = app.post(&format!("/api/v1/officers/{officer_id}/deactivate"), Some(&customs.officer), json!({})).await;
    assert_eq!(problem_type(&r.problem(403)), "forbidden");
    let r = app
        .post(&format!("/api/v1/officers/{supervisor_id}/deactivate"), Some(&customs.supervisor), json!({}))
        .await
        .problem(409);
    assert_eq!(problem_type(&r), "self-deactivation");
    let c = app.register_company("notcustoms").await;
    let r = app
        .post(&format!("/api/v1/officers/{}/deactivate", c.admin_user_id), Some(&customs.supervisor), json!({}))
        .await;
    assert_eq!(problem_type(&r.problem(404)), "not-found");

    let r = app
        .post(&format!("/api/v1/officers/{officer_id}/deactivate"), Some(&customs.supervisor), json!({}))
        .await
        .expect(200);
    assert_eq!(r.body["active"], false);
    app.get("/api/v1/enterprises", Some(&customs.officer)).await.problem(401);
    let email = me.str("/email");
    app.post("/api/v1/auth/login", None, json!({"email": email, "password": PASSWORD})).await.problem(401);

    let r = app
        .post(&format!("/api/v1/officers/{officer_id}/reactivate"), Some(&customs.supervisor), json!({}))
        .await
        .expect(200);
    assert_eq!(r.body["active"], true);
    // The old token stays refused; a new sign-in works.
    app.get("/api/v1/enterprises", Some(&customs.officer)).await.problem(401);
    let token = app.login(&email).await;
    app.get("/api/v1/enterprises", Some(&token)).await.expect(200);
}

#[derive(serde::Serialize)]
struct ForgedClaims {
    sub: String,
    role: String,
    iss: String,
    aud: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

async fn role_and_enterprise_come_from_the_database(app: TestApp) {
    use secrecy::ExposeSecret;
    let customs = app.customs().await;
    let claims: Value = {
        let payload = customs.officer.split('.').nth(1).expect("payload");
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64");
        serde_json::from_slice(&bytes).expect("claims")
    };
    let secret = app.state.settings.auth.jwt_secret.as_ref().expect("secret").expose_secret().to_owned();
    let now = chrono::Utc::now().timestamp();
    let forge = |role: &str, sid: Option<String>| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(app.state.settings.auth.jwt_key_id.clone());
        let c = ForgedClaims {
            sub: claims["sub"].as_str().unwrap_or_default().into(),
            role: role.into(),
            iss: app.state.settings.auth.issuer.clone(),
            aud: app.state.settings.auth.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + 600,
            jti: "forged".into(),
            sid,
        };
        encode(&header, &c, &EncodingKey::from_secret(secret.as_bytes()).expect("key")).expect("token")
    };
    // A token that claims supervisor for an officer's session acts as the officer.
    let forged = forge("supervisor", claims["sid"].as_str().map(str::to_owned));
    let body =
        json!({"email": "rogue@customs.test", "password": PASSWORD, "display_name": "Rogue", "role": "supervisor"});
    let r = app.post("/api/v1/officers", Some(&forged), body).await.problem(403);
    assert_eq!(problem_type(&r), "forbidden");
    // A token without a session, or with a made-up one, is no token.
    app.get("/api/v1/me", Some(&forge("supervisor", None))).await.problem(401);
    app.get("/api/v1/me", Some(&forge("supervisor", Some("no-such-session".into())))).await.problem(401);
}

async fn parallel_wrong_logins_spend_at_most_the_budget(app: TestApp) {
    let c = app.register_company("burst").await;
    let started = Instant::now();
    let attempts = (0..200).map(|_| login_from(&app, wrong(&c.admin_email), "203.0.113.7"));
    let statuses = futures_util::future::join_all(attempts).await;
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(unauthorized <= 6, "{unauthorized} wrong logins reached the password check");
    assert_eq!(unauthorized + throttled, 200, "{statuses:?}");
    // The right password from that address waits too...
    let right = json!({"email": c.admin_email, "password": PASSWORD});
    assert_eq!(login_from(&app, right.clone(), "203.0.113.7").await, 429);
    // ...but the owner signing in from elsewhere is not locked out.
    assert_eq!(login_from(&app, right, "198.51.100.20").await, 200);
    assert!(started.elapsed() < Duration::from_secs(30));
}

async fn forged_forwarded_for_does_not_escape_the_throttle(app: TestApp) {
    // No trusted proxy (the default): X-Forwarded-For is the client's own words.
    let c = app.register_company("forged").await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(login_from(&app, wrong(&c.admin_email), &format!("10.9.8.{i}")).await);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert_eq!(statuses[5..], [429, 429]);
}

async fn oversized_fields_are_refused_before_any_work(app: TestApp) {
    let huge = format!("{}@example.com", "a".repeat(900_000));
    let started = Instant::now();
    for _ in 0..20 {
        let r = app.post("/api/v1/auth/login", None, json!({"email": huge, "password": "x"})).await.problem(422);
        assert_eq!(r.fields(), vec!["email"]);
    }
    // No password check ran (20 hashes would take a second) and no budget was spent.
    assert!(started.elapsed() < Duration::from_secs(5));
    let just_over = format!("{}@example.com", "a".repeat(243));
    assert_eq!(just_over.len(), 255);
    let r = app.post("/api/v1/auth/login", None, json!({"email": just_over, "password": "x"})).await.problem(422);
    assert_eq!(r.fields(), vec!["email"]);
    let r = app
        .post("/api/v1/auth/login", None, json!({"email": "a@example.com", "password": "p".repeat(257)}))
        .await
        .problem(422);
    assert_eq!(r.fields(), vec!["password"]);
    let body = json!({
        "enterprise": {"name": "Big Co", "country": "DE", "registration_code": "DE123456789012"},
        "admin": {"email": just_over, "password": PASSWORD, "display_name": "Big"}
    });
    let r = app.post("/api/v1/auth/register", None, body).await.problem(422);
    assert_eq!(r.fields(), vec!["admin.email"]);
    let rows: i64 = app
        .state
        .db
        .read(|conn| {
            use diesel::prelude::*;
            clearway::db::schema::login_throttle::table.count().get_result::<i64>(conn)
        })
        .await
        .expect("count");
    assert_eq!(rows, 0, "refused requests must leave no throttle state");
}

async fn hash_queue_is_bounded(app: TestApp) {
    // One hashing thread and two places in the queue: 12 logins at once,
    // each for another account, cannot all wait.
    let attempts = (0..12).map(|i| app.post("/api/v1/auth/login", None, wrong(&format!("nobody{i}@example.com"))));
    let answers = futures_util::future::join_all(attempts).await;
    let overloaded: Vec<_> = answers.into_iter().filter(|r| r.status.as_u16() == 503).collect();
    assert!(!overloaded.is_empty(), "the queue should have been full");
    for r in overloaded {
        assert_eq!(r.header("retry-after").as_deref(), Some("1"));
        assert_eq!(problem_type(&r.problem(503)), "overloaded");
    }
}

fn registration(code: &str, email: &str) -> Value {
    json!({
        "enterprise": {"name": "Squat Trading Co.", "country": "DE", "registration_code": code},
        "admin": {"email": email, "password": PASSWORD, "display_name": "Someone"}
    })
}

async fn register_from(app: &TestApp, body: Value, addr: &str) -> crate::helpers::Resp {
    app.call_with(Method::POST, "/api/v1/auth/register", None, Some(body), &[("X-Forwarded-For", addr)]).await
}

async fn registrations_are_throttled_per_address(app: TestApp) {
    let addr = "203.0.113.50";
    register_from(&app, registration("DE100000000001", "r1@squat.test"), addr).await.expect(201);
    // A refused registration does not count against the address.
    register_from(&app, registration("DE100000000001", "r1b@squat.test"), addr).await.problem(409);
    register_from(&app, registration("DE100000000002", "r2@squat.test"), addr).await.expect(201);
    register_from(&app, registration("DE100000000003", "r3@squat.test"), addr).await.expect(201);
    let r = register_from(&app, registration("DE100000000004", "r4@squat.test"), addr).await.problem(429);
    assert!(r.header("retry-after").is_some());
    assert_eq!(problem_type(&r), "too-many-requests");
    // Another address is not affected.
    register_from(&app, registration("DE100000000004", "r4@squat.test"), "198.51.100.9").await.expect(201);
}

async fn an_officer_rejects_a_squatted_registration(app: TestApp) {
    let customs = app.customs().await;
    let code = "DE900000000001";
    let squat = app.post("/api/v1/auth/register", None, registration(code, "squatter@evil.test")).await.expect(201);
    let ent = squat.str("/enterprise/id");
    let squatter = app.login("squatter@evil.test").await;
    // The rightful owner is refused, and the answer is the same whether the
    // code or the email is the one taken.
    let by_code = app.post("/api/v1/auth/register", None, registration(code, "owner@real.test")).await.problem(409);
    let by_email = app
        .post("/api/v1/auth/register", None, registration("DE200000000001", "squatter@evil.test"))
        .await
        .problem(409);
    assert_eq!(by_code.body["detail"], by_email.body["detail"]);
    assert_eq!(problem_type(&by_code), "duplicate");

    let path = format!("/api/v1/enterprises/{ent}/reject");
    app.post(&path, Some(&squatter), json!({"reason": "x"})).await.problem(403);
    let r = app.post(&path, Some(&customs.officer), json!({})).await.problem(422);
    assert_eq!(problem_type(&r), "validation");
    let r =
        app.post(&path, Some(&customs.officer), json!({"reason": "not authorised by the company"})).await.expect(200);
    assert_eq!(r.body["status"], "rejected");
    // Only a pending registration can be rejected.
    app.post(&path, Some(&customs.officer), json!({"reason": "again"})).await.problem(409);
    // The squatter is signed out and cannot sign in; code and email are free again.
    app.get("/api/v1/me", Some(&squatter)).await.problem(401);
    app.post("/api/v1/auth/login", None, json!({"email": "squatter@evil.test", "password": PASSWORD}))
        .await
        .problem(401);
    let owner = app.post("/api/v1/auth/register", None, registration(code, "owner@real.test")).await.expect(201);
    assert_eq!(owner.body["enterprise"]["registration_code"], code);
    app.post("/api/v1/auth/register", None, registration("DE200000000002", "squatter@evil.test")).await.expect(201);
    let listed = app.get("/api/v1/enterprises?status=rejected", Some(&customs.officer)).await.expect(200);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
}

async fn sessions_have_an_absolute_lifetime(app: TestApp) {
    let c = app.register_company("lifetime").await;
    let first = app.login_full(&c.admin_email).await;
    let rotated =
        app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first.str("/refresh_token")})).await.expect(200);
    // The session reaches its absolute end (as if session_max_days passed).
    let past = clearway::db::now() - chrono::Duration::seconds(1);
    app.state
        .db
        .write(move |conn| {
            use clearway::db::schema::sessions;
            use diesel::prelude::*;
            diesel::update(sessions::table).set(sessions::expires_at.eq(past)).execute(conn)
        })
        .await
        .expect("expire");
    app.state.sessions.forget_user(&c.admin_user_id);
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": rotated.str("/refresh_token")})).await.problem(401);
    app.get("/api/v1/me", Some(&rotated.str("/access_token"))).await.problem(401);
}

async fn common_passwords_are_refused(app: TestApp) {
    let mut body = registration("DE300000000001", "common@pw.test");
    body["admin"]["password"] = json!("qwertyuiop123");
    let r = app.post("/api/v1/auth/register", None, body).await.problem(422);
    assert_eq!(r.fields(), vec!["admin.password"]);
    assert_eq!(r.body["errors"][0]["code"], "weak_password");
}

async fn revocation_reaches_another_instance_within_the_cache_time(app: TestApp) {
    let other = spawn_app_on(app.backend, &app.db_url).await;
    let c = app.register_company("twoinstances").await;
    // Both instances have the session cached.
    app.get("/api/v1/me", Some(&c.admin)).await.expect(200);
    other.get("/api/v1/me", Some(&c.admin)).await.expect(200);
    app.post("/api/v1/auth/logout-all", Some(&c.admin), json!({})).await.expect(204);
    let revoked = Instant::now();
    app.get("/api/v1/me", Some(&c.admin)).await.problem(401);
    let bound = Duration::from_millis(app.state.settings.auth.session_cache_ms + 300);
    loop {
        let status = other.get("/api/v1/me", Some(&c.admin)).await.status.as_u16();
        if status == 401 {
            break;
        }
        assert!(revoked.elapsed() < bound, "the other instance still accepts the token");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The development and test profiles refuse to start on a non-loopback
/// address, before opening the database.
#[test]
fn development_refuses_a_public_listen_address() {
    let dir = std::env::temp_dir().join(format!("clearway-listen-{}", std::process::id()));
    let db = dir.join("never.db");
    for profile in ["development", "test"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_clearway"))
            .env("CLEARWAY_PROFILE", profile)
            .env("CLEARWAY__SERVER__HOST", "0.0.0.0")
            .env("CLEARWAY__DATABASE__URL", format!("sqlite://{}", db.display()))
            .arg("serve")
            .output()
            .expect("run clearway");
        assert!(!out.status.success(), "{profile} started on 0.0.0.0");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback only"), "{err}");
        assert!(!db.exists(), "the database was opened");
    }
}

/// With no session cache every caller check waits for the database, while a
/// small bad body is judged at once: the caller's 403 (or 401) must still
/// come first, never the body's 422 or 400 (whoever may not call a route
/// learns nothing of its validation, and the answer does not depend on
/// timing).
async fn the_caller_is_refused_before_the_body_is_judged(app: TestApp) {
    let customs = app.customs().await;
    let company = app.verified_company("gate-order", &customs.officer).await;
    for round in 0..20 {
        // A company admin may not create sites: 403, whatever the body.
        let r = app.post("/api/v1/sites", Some(&company.admin), json!({"code": "bad"})).await;
        assert_eq!(r.status, 403, "round {round}: {}", r.body);
        let r = app.post("/api/v1/sites", Some(&company.admin), json!(["not", "an", "object"])).await;
        assert_eq!(r.status, 403, "round {round}: {}", r.body);
    }
    // A session that ended: 401 before the body's 422.
    app.post("/api/v1/auth/logout-all", Some(&company.admin), json!({})).await.expect(204);
    let r = app.post("/api/v1/sites", Some(&company.admin), json!({"code": "bad"})).await;
    assert_eq!(r.status, 401, "{}", r.body);
    // An allowed caller still gets the body's answer.
    let r = app.post("/api/v1/sites", Some(&customs.supervisor), json!({"code": "bad"})).await;
    assert_eq!(r.status, 422, "{}", r.body);
}
