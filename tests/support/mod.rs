//! What the API tests and the benchmarks share: fresh databases, a running
//! app that stops cleanly, HTTP calls, and the accounts and declarations
//! every scenario starts from. Included with
//! `#[path = "…/tests/support/mod.rs"] mod support;` by `tests/api/main.rs`,
//! `benches/load.rs` and `benches/fault.rs`, so that each helper exists once.

// Each including crate uses a different part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use actix_web::web::Data;
use clearway::config::{Profile, Settings};
use clearway::domain::booking_policy::BookingStatus;
use clearway::startup::Application;
use clearway::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Password of every account the tests and benchmarks create.
pub const PASSWORD: &str = "Correct-Horse-Battery-9271";

// ---------------------------------------------------------------- databases

/// The first of these environment variables that is set and not empty: the
/// URL of a PostgreSQL database through which fresh databases are created.
pub fn pg_admin_url(vars: &[&str]) -> Option<String> {
    vars.iter().filter_map(|k| std::env::var(k).ok()).find(|v| !v.trim().is_empty())
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

/// A fresh, empty database that is removed when this value goes, also when
/// the test panics: a temporary SQLite file, or a PostgreSQL database
/// created through an admin URL and dropped `WITH (FORCE)`.
pub struct TestDb {
    /// The URL the app connects to.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite database in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("clearway.db").display());
        TestDb { url, _dir: Some(dir), pg: None }
    }

    /// A PostgreSQL database `<prefix>_<pid>_<random>` on the server of `admin_url`.
    pub fn postgres(admin_url: &str, prefix: &str) -> Self {
        let name = format!("{prefix}_{}_{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(admin_url).expect("connect to the PostgreSQL admin URL");
        conn.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create a fresh database");
        TestDb { url: replace_db_name(admin_url, &name), _dir: None, pg: Some((admin_url.to_owned(), name)) }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.pg.take() else { return };
        // FORCE ends the connections an app may still hold (PostgreSQL 13+).
        match PgConnection::establish(&admin_url) {
            Ok(mut conn) => {
                if let Err(e) = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")) {
                    eprintln!("could not drop database {name}: {e}");
                }
            }
            Err(e) => eprintln!("could not connect to drop database {name}: {e}"),
        }
    }
}

// ---------------------------------------------------------------- the app

/// Settings of the `test` profile on `db_url`, on a port of the OS's choosing.
pub fn test_settings(db_url: &str) -> Settings {
    let mut s = Settings::load_profile(Profile::Test).expect("test settings");
    s.database.url = db_url.to_owned();
    s.database.pool_size = 4;
    s.server.port = 0;
    s.server.workers = 2;
    s
}

/// The app serving in this process. Stopping it (or dropping it) ends the
/// server and its background tasks and waits for them, so that nothing uses
/// the database any more when the database is dropped after it.
pub struct RunningApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The app's shared state (its database pools, settings, …).
    pub state: Data<AppState>,
    server: actix_web::dev::ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// How long stopping may take before the app is left behind.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the accept thread gets to stop accepting before the workers go.
/// A connection that reaches it after they went is logged as an ERROR ("No
/// workers"), and HTTP clients do open late connections: hyper finishes a
/// connect it started for a request that an idle connection then served.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Stops the server and waits until `run_until_stopped` (`task`) has returned.
async fn stop_app(server: actix_web::dev::ServerHandle, task: tokio::task::JoinHandle<std::io::Result<()>>) {
    let stop = async {
        server.pause().await;
        tokio::time::sleep(ACCEPT_PAUSE).await;
        // In-flight requests are cut: the test or benchmark is over.
        server.stop(false).await;
        let _ = task.await;
    };
    if tokio::time::timeout(STOP_TIMEOUT, stop).await.is_err() {
        eprintln!("the app did not stop within {STOP_TIMEOUT:?}");
    }
}

impl RunningApp {
    /// Builds the app (migrating its database) and serves it on the current runtime.
    pub async fn start(settings: Settings) -> Self {
        clearway::telemetry::init(&settings.log);
        let app = Application::build(settings).await.expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let server = app.server_handle();
        let task = Some(tokio::spawn(app.run_until_stopped()));
        RunningApp { address, state, server, task }
    }

    /// Stops the server (in-flight requests are cut) and the background tasks, and waits for both.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            stop_app(self.server.clone(), task).await;
        }
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        let Some(task) = self.task.take() else { return };
        // Drop cannot await: block this thread (not the runtime) until the app has
        // stopped. Every test runs on a multi-threaded runtime; elsewhere, abort.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                let server = self.server.clone();
                tokio::task::block_in_place(|| rt.block_on(stop_app(server, task)));
            }
            _ => {
                drop(self.server.stop(false));
                task.abort();
            }
        }
    }
}

/// Creates a supervisor the way `clearway create-supervisor` does (straight
/// through the service, there is no API for the first one).
pub async fn create_supervisor(state: &Data<AppState>, email: &str, display_name: &str) {
    let hash = tokio::task::spawn_blocking(|| clearway::auth::password::hash_blocking(PASSWORD))
        .await
        .expect("hash task")
        .expect("hash");
    let (email, display_name) = (email.to_owned(), display_name.to_owned());
    state
        .db
        .write(move |conn| {
            clearway::services::identity::create_user(
                conn,
                None,
                &email,
                &display_name,
                clearway::domain::identity::Role::Supervisor,
                &hash,
                clearway::db::now(),
            )
        })
        .await
        .unwrap_or_else(|e| panic!("create supervisor: {e:?}"));
}

// ---------------------------------------------------------------- HTTP

/// A response read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (`Null` when it is not JSON).
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

    /// A header's value as text.
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

/// Reads a response whole.
pub async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, body, text }
}

/// A client of one server.
pub struct Api {
    /// `http://host:port`.
    pub address: String,
    pub client: reqwest::Client,
}

/// A company registered through the API, with its first admin signed in.
pub struct Company {
    pub enterprise_id: String,
    /// The admin's access token.
    pub admin: String,
    pub admin_email: String,
    pub admin_user_id: String,
}

impl Api {
    /// A client that does not follow redirects.
    pub fn new(address: &str) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Api { address: address.to_owned(), client }
    }

    /// The full URL of a path.
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
        read(req.send().await.expect("request failed")).await
    }

    /// GET.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    /// POST with a JSON body.
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

    /// A supervisor adds an officer; returns the officer's token.
    pub async fn add_officer(&self, supervisor: &str, email: &str, display_name: &str) -> String {
        let body = json!({"email": email, "password": PASSWORD, "display_name": display_name, "role": "officer"});
        self.post("/api/v1/officers", Some(supervisor), body).await.expect(201);
        self.login(email).await
    }

    /// Registers a company (pending verification) with its admin `email`, and signs the admin in.
    pub async fn register_company(&self, name: &str, country: &str, code: &str, email: &str) -> Company {
        let body = json!({
            "enterprise": {"name": name, "country": country, "registration_code": code},
            "admin": {"email": email, "password": PASSWORD, "display_name": format!("Admin {name}")}
        });
        let r = self.post("/api/v1/auth/register", None, body).await.expect(201);
        let admin = self.login(email).await;
        Company {
            enterprise_id: r.str("/enterprise/id"),
            admin,
            admin_email: email.to_owned(),
            admin_user_id: r.str("/user/id"),
        }
    }

    /// An officer verifies a company.
    pub async fn verify_company(&self, enterprise_id: &str, officer: &str) {
        self.post(&format!("/api/v1/enterprises/{enterprise_id}/verify"), Some(officer), json!({})).await.expect(200);
    }
}

// ---------------------------------------------------------------- scenarios

/// A valid import declaration by road at `site`, two goods items.
pub fn declaration_body(site: &str) -> Value {
    json!({
        "kind": "import", "site_id": site, "transport_mode": "road",
        "consignor": "Almaty Textile LLP", "consignee": "Kashgar Silk Road Trading Co.",
        "origin_country": "KZ", "destination_country": "CN", "currency": "CNY", "incoterm": "FCA",
        "invoice_total": "1250.00", "gross_mass_kg": "1200.5",
        "items": [
            {"hs_code": "520512", "description": "Cotton yarn, single, uncombed", "quantity": "1000", "unit": "KGM",
             "net_mass_kg": "1000", "value": "1000.00", "origin_country": "KZ"},
            {"hs_code": "630533", "description": "Polypropylene sacks", "quantity": "50", "unit": "PCE",
             "net_mass_kg": "150.25", "value": "250.00", "origin_country": "KZ"}
        ]
    })
}

/// A submitted declaration of `token`'s company at the site; returns its id.
pub async fn submitted_declaration(api: &Api, token: &str, site: &str) -> String {
    let id = api.post("/api/v1/declarations", Some(token), declaration_body(site)).await.expect(201).str("/id");
    api.post(&format!("/api/v1/declarations/{id}/submit"), Some(token), json!({})).await.expect(200);
    id
}

/// Asserts, from rows read straight from the database, that every slot's
/// `booked` equals its active bookings and fits its capacity. `slots` are
/// (id, capacity, booked), `bookings` are (slot id, status).
pub fn assert_slot_counts<'a>(
    slots: &[(String, i32, i32)],
    bookings: impl IntoIterator<Item = (&'a str, BookingStatus)>,
) {
    let mut active: HashMap<&str, i32> = HashMap::new();
    for (slot, status) in bookings {
        if status.is_active() {
            *active.entry(slot).or_default() += 1;
        }
    }
    for (id, capacity, booked) in slots {
        let n = active.get(id.as_str()).copied().unwrap_or(0);
        assert_eq!(*booked, n, "invariant violated: slot {id} says booked={booked} but has {n} active bookings");
        assert!(booked <= capacity, "invariant violated: slot {id} booked={booked} > capacity={capacity}");
    }
}
