//! `spawn_app()`: a fresh server on a fresh database per test, dropped
//! afterwards (even when the test fails: cleanup runs in `Drop`).

use std::sync::atomic::{AtomicU32, Ordering};

use clearway::config::{Profile, Settings};
use clearway::startup::Application;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Password used by every account the tests create.
pub const PASSWORD: &str = "Correct-Horse-Battery-9271";

/// A running app and how to reach it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    #[allow(dead_code)]
    pub backend: Backend,
    pub db_url: String,
    pub state: actix_web::web::Data<clearway::state::AppState>,
    _sqlite_dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin_url, db_name)) = self.pg_admin.take() {
            // FORCE ends the app's pooled connections (PostgreSQL 13+).
            match PgConnection::establish(&admin_url) {
                Ok(mut conn) => {
                    if let Err(e) = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)")) {
                        eprintln!("could not drop test database {db_name}: {e}");
                    }
                }
                Err(e) => eprintln!("could not connect to drop test database {db_name}: {e}"),
            }
        }
    }
}

/// The PostgreSQL admin URL, or `None` when the suite runs on SQLite only.
/// CI sets CLEARWAY_REQUIRE_PG=1 so that a missing URL fails instead of skipping.
pub fn pg_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CLEARWAY_REQUIRE_PG").is_err(),
                "CLEARWAY_REQUIRE_PG is set but TEST_DATABASE_URL is not"
            );
            None
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, migrated database; returns its URL and what cleanup needs.
pub fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>, Option<(String, String)>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("clearway.db").display());
            (url, Some(dir), None)
        }
        Backend::Postgres => {
            let admin = pg_url().expect("TEST_DATABASE_URL");
            let name = format!(
                "clearway_test_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                uuid::Uuid::new_v4().simple()
            );
            let mut conn = PgConnection::establish(&admin).expect("connect to TEST_DATABASE_URL");
            conn.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create test database");
            let url = replace_db_name(&admin, &name);
            (url, None, Some((admin, name)))
        }
    }
}

/// The same server URL with another database name.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let new_base = match base[scheme_end..].find('/') {
        Some(slash) => format!("{}/{}", &base[..scheme_end + slash], name),
        None => format!("{base}/{name}"),
    };
    match query {
        Some(q) => format!("{new_base}?{q}"),
        None => new_base,
    }
}

/// Test settings: the `test` profile on a port of the OS's choosing.
pub fn test_settings(db_url: &str) -> Settings {
    let mut s = Settings::load_profile(Profile::Test).expect("test settings");
    s.database.url = db_url.to_owned();
    s.database.pool_size = 4;
    s.server.port = 0;
    s.server.workers = 2;
    s
}

/// Starts the app on a fresh database of `backend`.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the app with adjusted settings.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let (db_url, dir, pg_admin) = fresh_database(backend);
    let mut settings = test_settings(&db_url);
    adjust(&mut settings);
    clearway::telemetry::init(&settings.log);
    let app = Application::build(settings).await.expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        backend,
        db_url,
        state,
        _sqlite_dir: dir,
        pg_admin,
    }
}

/// Starts a second app on an existing database (a restart): it does not
/// own the database, the first app's cleanup drops it.
pub async fn spawn_app_on(backend: Backend, db_url: &str) -> TestApp {
    let settings = test_settings(db_url);
    let app = Application::build(settings).await.expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        backend,
        db_url: db_url.to_owned(),
        state,
        _sqlite_dir: None,
        pg_admin: None,
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// Panics with the body when the status is not the expected one.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        self
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
    /// The body's `str` at a JSON pointer.
    #[track_caller]
    pub fn str(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer} in {}", self.text))
            .to_owned()
    }
    /// Asserts an RFC 9457 problem with this status.
    #[track_caller]
    pub fn problem(self, status: u16) -> Self {
        let r = self.expect(status);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/problem+json"),
            "not problem+json: {}",
            r.text
        );
        assert_eq!(r.body["status"], json!(status), "{}", r.text);
        assert!(r.body["type"].is_string() && r.body["title"].is_string(), "{}", r.text);
        r
    }
    /// The field names of a validation problem.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        self.call_with(method, path, token, body, &[]).await
    }

    /// Sends a request with extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request failed");
        read(resp).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Logs in; returns the access token.
    pub async fn login(&self, email: &str) -> String {
        self.login_full(email).await.str("/access_token")
    }

    /// Logs in; returns the whole answer.
    pub async fn login_full(&self, email: &str) -> Resp {
        self.post("/api/v1/auth/login", None, json!({"email": email, "password": PASSWORD})).await.expect(200)
    }

    /// A supervisor and an officer; returns their tokens.
    pub async fn customs(&self) -> Customs {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let sup_email = format!("supervisor{n}@customs.test");
        let supervisor = self.create_supervisor_named(&sup_email).await;
        let officer_email = format!("officer{n}@customs.test");
        self.post(
            "/api/v1/officers",
            Some(&supervisor),
            json!({"email": officer_email, "password": PASSWORD, "display_name": "Officer Test", "role": "officer"}),
        )
        .await
        .expect(201);
        let officer = self.login(&officer_email).await;
        Customs { supervisor, officer }
    }

    /// Bootstraps a supervisor the way `clearway create-supervisor` does.
    pub async fn create_supervisor_named(&self, email: &str) -> String {
        let hash = clearway::auth::password::hash_blocking(PASSWORD).expect("hash");
        let e = email.to_owned();
        self.state
            .db
            .write(move |conn| {
                clearway::services::identity::create_user(
                    conn,
                    None,
                    &e,
                    "Test Supervisor",
                    clearway::domain::identity::Role::Supervisor,
                    &hash,
                    clearway::db::now(),
                )
            })
            .await
            .map_err(|_| "create supervisor")
            .expect("supervisor");
        self.login(email).await
    }

    /// Registers a company (pending); returns its ids and admin token.
    pub async fn register_company(&self, tag: &str) -> Company {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let email = format!("admin-{tag}-{n}@company.test");
        let code = format!("DE{tag}{n:06}").chars().filter(|c| c.is_ascii_alphanumeric()).take(17).collect::<String>();
        let r = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({
                    "enterprise": {"name": format!("{tag} Trading GmbH"), "country": "DE", "registration_code": code},
                    "admin": {"email": email, "password": PASSWORD, "display_name": format!("Admin {tag}")}
                }),
            )
            .await
            .expect(201);
        let enterprise_id = r.str("/enterprise/id");
        let admin = self.login(&email).await;
        Company { enterprise_id, admin, admin_email: email }
    }

    /// Registers a company and has an officer verify it.
    pub async fn verified_company(&self, tag: &str, officer: &str) -> Company {
        let c = self.register_company(tag).await;
        self.post(&format!("/api/v1/enterprises/{}/verify", c.enterprise_id), Some(officer), json!({}))
            .await
            .expect(200);
        c
    }

    /// Adds a clerk to a company; returns the clerk's token.
    pub async fn add_clerk(&self, company: &Company) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let email = format!("clerk{n}@company.test");
        self.post(
            "/api/v1/users",
            Some(&company.admin),
            json!({"email": email, "password": PASSWORD, "display_name": "Clerk Test"}),
        )
        .await
        .expect(201);
        self.login(&email).await
    }
}

/// Customs tokens.
pub struct Customs {
    pub supervisor: String,
    pub officer: String,
}

/// A company's ids and admin token.
pub struct Company {
    pub enterprise_id: String,
    pub admin: String,
    pub admin_email: String,
}

pub async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, body, text }
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on
/// PostgreSQL (when TEST_DATABASE_URL is set).
#[macro_export]
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::helpers::pg_url().is_none() {
                        eprintln!("skipped: TEST_DATABASE_URL is not set");
                        return;
                    }
                    super::$name($crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await).await
                }
            }
        )*
    };
}
