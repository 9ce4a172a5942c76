//! The platform: health, error shapes, limits, migrations, CLI.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::api_tests;
use crate::helpers::{fresh_database, pg_url, Backend, TestApp};

api_tests!(
    health_probes_answer,
    malformed_requests_get_problem_json_and_the_server_keeps_serving,
    request_ids_are_on_every_response,
    // The schema goes away under the running app: its webhook worker and its
    // no-show sweep would log every failed round meanwhile.
    migrations_go_up_down_and_up_again with |s| {
        s.webhooks.worker_enabled = false;
        s.gate.sweep_interval_secs = 60;
    },
    truck_visits_migrate_wave_one_bookings_with_nothing_lost with |s| {
        s.webhooks.worker_enabled = false;
        s.gate.sweep_interval_secs = 60;
    },
);

async fn health_probes_answer(app: TestApp) {
    let live = app.get("/health/live", None).await.expect(200);
    assert_eq!(live.body["status"], "ok");
    let ready = app.get("/health/ready", None).await.expect(200);
    assert_eq!(ready.body["database"], "ok");
}

async fn malformed_requests_get_problem_json_and_the_server_keeps_serving(app: TestApp) {
    // Malformed JSON.
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    crate::helpers::read(r).await.problem(400);

    // Wrong JSON type names the field.
    let r = app.post("/api/v1/auth/login", None, json!({"email": 42, "password": "x"})).await.problem(400);
    assert!(r.body["detail"].as_str().unwrap().contains("email"), "{}", r.text);

    // Over the 1 MiB body limit.
    let big = format!("{{\"email\": \"{}\", \"password\": \"x\"}}", "a".repeat(1_100_000));
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    crate::helpers::read(r).await.problem(413);

    // Not JSON at all.
    let r = app.client.post(app.url("/api/v1/auth/login")).body("email=x").send().await.unwrap();
    crate::helpers::read(r).await.problem(415);

    // Unknown route, wrong method.
    app.get("/api/v1/no-such-thing", None).await.problem(404);
    app.get("/nope", None).await.problem(404);
    app.call(Method::DELETE, "/health/live", None, None).await.problem(405);
    app.call(Method::PUT, "/api/v1/auth/login", None, Some(json!({}))).await.problem(405);

    // Bad query parameter type.
    let customs = app.customs().await;
    app.get("/api/v1/enterprises?limit=abc", Some(&customs.officer)).await.problem(400);
    app.get("/api/v1/enterprises?limit=500", Some(&customs.officer)).await.problem(422);

    // Still serving.
    app.get("/health/ready", None).await.expect(200);
}

async fn request_ids_are_on_every_response(app: TestApp) {
    let a = app.get("/health/live", None).await;
    let b = app.get("/nope", None).await;
    let (ida, idb) = (a.header("x-request-id").unwrap(), b.header("x-request-id").unwrap());
    assert!(!ida.is_empty() && !idb.is_empty());
    assert_ne!(ida, idb);
}

async fn migrations_go_up_down_and_up_again(app: TestApp) {
    let url = app.db_url.clone();
    tokio::task::spawn_blocking(move || {
        use clearway::db::migrations::{revert_all, run_pending};
        let manager = clearway::db::connection::ConnectionManager::new(&url, 5).unwrap();
        let mut conn = diesel::r2d2::ManageConnection::connect(&manager).unwrap();
        // The app applied everything at start: nothing is pending.
        assert!(run_pending(&mut conn).unwrap().is_empty());
        let reverted = revert_all(&mut conn).unwrap();
        assert!(!reverted.is_empty());
        let applied = run_pending(&mut conn).unwrap();
        assert_eq!(applied.len(), reverted.len());
        assert!(run_pending(&mut conn).unwrap().is_empty());
    })
    .await
    .unwrap();
    // The app still works on the re-created schema.
    app.customs().await;
}

/// Runs `f` on its own connection to the app's database.
async fn on_database<T: Send + 'static>(
    app: &TestApp,
    f: impl FnOnce(&mut clearway::db::DbConnection) -> T + Send + 'static,
) -> T {
    let url = app.db_url.clone();
    tokio::task::spawn_blocking(move || {
        let manager = clearway::db::connection::ConnectionManager::new(&url, 5).unwrap();
        let mut conn = diesel::r2d2::ManageConnection::connect(&manager).unwrap();
        f(&mut conn)
    })
    .await
    .unwrap()
}

/// The truck-visit migration (000006) takes wave 1's bookings (one
/// declaration each) up with nothing lost: down to wave 1's schema with the
/// data in it, then up again, and every booking reads as before, with its
/// declaration on its visit, its place and its one-active-booking rule.
async fn truck_visits_migrate_wave_one_bookings_with_nothing_lost(app: TestApp) {
    use crate::bookings::{book_slot, submitted_declaration, tomorrow_slot, world};
    use diesel::RunQueryDsl;
    let w = world(&app, 10, 60).await;
    let c = app.verified_company("migrate", &w.customs.officer).await;
    let slot = tomorrow_slot(&app, &w, 0).await;
    let mut declarations = Vec::new();
    for _ in 0..4 {
        declarations.push(submitted_declaration(&app, &c.admin, &w.site).await);
    }
    let confirmed = book_slot(&app, &c.admin, &declarations[0], &slot).await.expect(201).str("/id");
    let cancelled = book_slot(&app, &c.admin, &declarations[1], &slot).await.expect(201).str("/id");
    app.post(&format!("/api/v1/bookings/{cancelled}/cancel"), Some(&c.admin), json!({})).await.expect(200);
    let kept = book_slot(&app, &c.admin, &declarations[2], &slot).await.expect(201).str("/id");
    let before: Vec<serde_json::Value> = {
        let mut v = Vec::new();
        for id in [&confirmed, &cancelled, &kept] {
            v.push(app.get(&format!("/api/v1/bookings/{id}"), Some(&c.admin)).await.expect(200).body);
        }
        v
    };

    // Down to wave 1: the bookings are still there, one declaration each,
    // and wave 1's index (one active booking per declaration) holds them.
    // (The migrations after it first, newest first.)
    let reverted = on_database(&app, |conn| {
        let mut reverted = Vec::new();
        while !reverted.last().is_some_and(|v: &String| v.contains("000006")) {
            reverted.push(clearway::db::migrations::revert_last(conn).unwrap());
        }
        reverted
    })
    .await;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count =
        |sql: &'static str| on_database(&app, move |conn| diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n);
    assert_eq!(count("SELECT COUNT(*) AS n FROM bookings").await, 3);
    assert_eq!(count("SELECT COUNT(*) AS n FROM bookings WHERE status IN ('confirmed', 'checked_in')").await, 2);

    // Up again: each booking is a visit of its one declaration.
    let applied = on_database(&app, |conn| clearway::db::migrations::run_pending(conn).unwrap()).await;
    assert_eq!(applied.len(), reverted.len(), "{applied:?}");
    assert_eq!(count("SELECT COUNT(*) AS n FROM booking_declarations").await, 3);
    for (old, id) in before.iter().zip([&confirmed, &cancelled, &kept]) {
        let now = app.get(&format!("/api/v1/bookings/{id}"), Some(&c.admin)).await.expect(200).body;
        for field in
            ["status", "slot_id", "declaration_id", "declaration_ids", "enterprise_id", "created_at", "cancel_reason"]
        {
            assert_eq!(now[field], old[field], "{field} of booking {id}");
        }
        assert_eq!(now["declaration_ids"], json!([old["declaration_id"]]));
        assert_eq!(now["gate_pass"]["version"], 1);
    }
    // The places and the one-active-booking rule came through.
    let s = app.get(&format!("/api/v1/slots/{slot}"), Some(&w.customs.officer)).await.expect(200);
    assert_eq!(s.body["booked"], 2);
    let again = book_slot(&app, &c.admin, &declarations[0], &slot).await.problem(409);
    assert!(again.body["type"].as_str().unwrap().ends_with("/already-booked"));
    assert_eq!(again.body["declaration_id"], declarations[0].as_str());
    book_slot(&app, &c.admin, &declarations[1], &slot).await.expect(201);
    book_slot(&app, &c.admin, &declarations[3], &slot).await.expect(201);
}

fn versions(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn both_backends_have_the_same_migrations() {
    let (sqlite, postgres) = (versions("sqlite"), versions("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for v in &sqlite {
        for backend in ["sqlite", "postgres"] {
            for file in ["up.sql", "down.sql"] {
                let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("migrations")
                    .join(backend)
                    .join(v)
                    .join(file);
                assert!(p.is_file(), "{} missing", p.display());
            }
        }
    }
}

fn clearway(envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clearway"));
    cmd.env_remove("CLEARWAY_PROFILE").env("CLEARWAY_PROFILE", "test");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

fn migrate_twice(url: &str) {
    let first = clearway(&[("CLEARWAY__DATABASE__URL", url)]).arg("migrate").output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let second = clearway(&[("CLEARWAY__DATABASE__URL", url)]).arg("migrate").output().unwrap();
    assert!(second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("nothing to apply"),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
}

#[test]
fn cli_migrate_twice_is_a_no_op_the_second_time_sqlite() {
    migrate_twice(&fresh_database(Backend::Sqlite).url);
}

#[test]
#[cfg_attr(not(clearway_pg), ignore = "set TEST_DATABASE_URL to run on PostgreSQL")]
fn cli_migrate_twice_is_a_no_op_the_second_time_postgres() {
    migrate_twice(&fresh_database(Backend::Postgres).url);
}

#[test]
fn unreachable_postgres_fails_fast_and_readably() {
    let started = Instant::now();
    let out =
        clearway(&[("CLEARWAY__DATABASE__URL", "postgres://nobody@127.0.0.1:1/none")]).arg("serve").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to the Postgres database"), "{err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn production_refuses_a_weak_or_missing_jwt_secret() {
    let out = Command::new(env!("CARGO_BIN_EXE_clearway"))
        .env("CLEARWAY_PROFILE", "production")
        .env("CLEARWAY__AUTH__JWT_SECRET", "too-short")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 bytes"));
    let out = Command::new(env!("CARGO_BIN_EXE_clearway"))
        .env("CLEARWAY_PROFILE", "production")
        .env_remove("CLEARWAY__AUTH__JWT_SECRET")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT secret"));
}

#[test]
fn create_supervisor_reads_the_password_from_stdin() {
    use std::io::Write;
    let db = fresh_database(Backend::Sqlite);
    let url = &db.url;
    let mut child = clearway(&[("CLEARWAY__DATABASE__URL", url)])
        .args(["create-supervisor", "--email", "Chief@Customs.test"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"Correct-Horse-Battery-9271\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("chief@customs.test"));
    // A weak password is refused.
    let mut child = clearway(&[("CLEARWAY__DATABASE__URL", url)])
        .args(["create-supervisor", "--email", "two@customs.test"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exposed_in_prometheus_format() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    app.get("/health/live", None).await.expect(200);
    app.get("/api/v1/nope", None).await.problem(404);
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    // By route template and status, never by raw path.
    assert!(text.contains("http_requests_total{method=\"GET\",route=\"/health/live\",status=\"200\"}"), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
    assert!(!text.contains("/api/v1/nope"));
    assert!(text.contains("db_pool_connections_idle"), "{text}");
}

/// A client that trickles its body is cut off at the request deadline with a
/// 503, and others are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_do_not_starve_others() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, |s| s.server.request_timeout_secs = 1).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..8 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"em")
            .await
            .unwrap();
        slow.push(s);
    }
    let started = Instant::now();
    for _ in 0..20 {
        app.get("/health/ready", None).await.expect(200);
    }
    assert!(started.elapsed() < Duration::from_secs(1), "others were starved");
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), slow[0].read(&mut buf)).await.unwrap().unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");
}

/// A long wrong-type value full of multi-byte characters: the echo in the
/// 400 is bounded, and shortening it never cuts inside a character.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_unicode_type_errors_are_400_not_a_panic() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let customs = app.customs().await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/slots/{}", uuid::Uuid::now_v7()),
            Some(&customs.officer),
            Some(json!({"capacity": format!("x{}", "喀什".repeat(200))})),
        )
        .await
        .problem(400);
    assert!(r.body["detail"].as_str().unwrap().chars().count() <= 300);
    app.get("/health/live", None).await.expect(200);
}

/// PostgreSQL ends every connection of the app, as a database restart does.
/// The pool does not test connections at checkout: each dead connection
/// answers at most one 503 (retryable) and is then replaced, so the service
/// recovers by itself, for reads and for writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clearway_pg), ignore = "set TEST_DATABASE_URL to run on PostgreSQL")]
async fn connections_lost_with_the_database_are_replaced() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let admin_url = pg_url();
    let app = crate::helpers::spawn_app(Backend::Postgres).await;
    let supervisor = app.create_supervisor_named("lost-connections@customs.test").await;
    let pool_size = app.state.settings.database.pool_size as usize;
    // Fill the pool with open connections.
    let warm = (0..pool_size).map(|_| app.get("/health/ready", None));
    for r in futures_util::future::join_all(warm).await {
        r.expect(200);
    }
    let db_name = app.db_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let mut admin = diesel::PgConnection::establish(&admin_url).unwrap();
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db_name}' AND pid <> pg_backend_pid()"
        ))
        .unwrap();

    // Reads: a 503 per dead connection at most, then 200s.
    let mut unavailable = 0;
    for _ in 0..pool_size + 5 {
        let r = app.get("/health/ready", None).await;
        match r.status.as_u16() {
            200 => {}
            503 => unavailable += 1,
            other => panic!("unexpected status {other}: {:?}", r.body),
        }
    }
    assert!((1..=pool_size).contains(&unavailable), "{unavailable} answers 503 for {pool_size} lost connections");
    for _ in 0..5 {
        app.get("/health/ready", None).await.expect(200);
    }
    // Writes (a login stores a refresh token): the same, then they succeed.
    let mut logged_in = false;
    for _ in 0..=pool_size {
        let body = serde_json::json!({"email": "lost-connections@customs.test", "password": crate::helpers::PASSWORD});
        let r = app.post("/api/v1/auth/login", None, body).await;
        match r.status.as_u16() {
            200 => {
                logged_in = true;
                break;
            }
            503 => {}
            other => panic!("unexpected status {other}: {:?}", r.body),
        }
    }
    assert!(logged_in, "no login succeeded after the connections were lost");
    app.get("/api/v1/sites", Some(&supervisor)).await.expect(200);
}
