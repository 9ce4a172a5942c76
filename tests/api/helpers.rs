//! `spawn_app()`: a fresh server on a fresh database per test. Dropping the
//! `TestApp` (also when the test fails) stops the server and its background
//! tasks first, then drops the database.

use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};

use clearway::config::Settings;
use serde_json::json;

pub use crate::support::{read, Company, Resp, PASSWORD};
use crate::support::{Api, RunningApp, TestDb};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running app and how to reach it; derefs to its [`Api`] client.
pub struct TestApp {
    api: Api,
    #[allow(dead_code)]
    pub backend: Backend,
    pub db_url: String,
    pub state: actix_web::web::Data<clearway::state::AppState>,
    // Fields drop in this order: the app stops before its database goes.
    _app: RunningApp,
    _db: Option<TestDb>,
}

impl Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// The PostgreSQL admin URL of `TEST_DATABASE_URL`. The PostgreSQL tests are
/// built only with `cfg(clearway_pg)` (see build.rs), which is set exactly
/// when that variable is, so here it is missing only if the test binary is
/// run by hand without it.
pub fn pg_url() -> String {
    crate::support::pg_admin_url(&["TEST_DATABASE_URL"])
        .expect("TEST_DATABASE_URL is not set: this test needs PostgreSQL (the test binary was built with it set)")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database of `backend` (the app migrates it at start), dropped with the value.
pub fn fresh_database(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => TestDb::sqlite(),
        Backend::Postgres => TestDb::postgres(&pg_url(), "clearway_test"),
    }
}

/// Starts the app on a fresh database of `backend`.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the app with adjusted settings.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let db = fresh_database(backend);
    let mut settings = crate::support::test_settings(&db.url);
    adjust(&mut settings);
    TestApp::start(backend, settings, Some(db)).await
}

/// Starts a second app on an existing database (a restart): it does not
/// own the database, the first app's cleanup drops it.
pub async fn spawn_app_on(backend: Backend, db_url: &str) -> TestApp {
    TestApp::start(backend, crate::support::test_settings(db_url), None).await
}

impl TestApp {
    async fn start(backend: Backend, settings: Settings, db: Option<TestDb>) -> TestApp {
        let db_url = settings.database.url.clone();
        let app = RunningApp::start(settings).await;
        TestApp { api: Api::new(&app.address), backend, db_url, state: app.state.clone(), _app: app, _db: db }
    }

    /// A supervisor and an officer; returns their tokens.
    pub async fn customs(&self) -> Customs {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let supervisor = self.create_supervisor_named(&format!("supervisor{n}@customs.test")).await;
        let officer = self.add_officer(&supervisor, &format!("officer{n}@customs.test"), "Officer Test").await;
        Customs { supervisor, officer }
    }

    /// Bootstraps a supervisor the way `clearway create-supervisor` does; returns the token.
    pub async fn create_supervisor_named(&self, email: &str) -> String {
        crate::support::create_supervisor(&self.state, email, "Test Supervisor").await;
        self.login(email).await
    }

    /// Registers a company (pending); returns its ids and admin token.
    pub async fn register_company(&self, tag: &str) -> Company {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let email = format!("admin-{tag}-{n}@company.test");
        let code = format!("DE{tag}{n:06}").chars().filter(|c| c.is_ascii_alphanumeric()).take(17).collect::<String>();
        self.api.register_company(&format!("{tag} Trading GmbH"), "DE", &code, &email).await
    }

    /// Registers a company and has an officer verify it.
    pub async fn verified_company(&self, tag: &str, officer: &str) -> Company {
        let c = self.register_company(tag).await;
        self.verify_company(&c.enterprise_id, officer).await;
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

/// Runs each named `async fn(TestApp)` once on SQLite and once on
/// PostgreSQL; `name with |s| …` adjusts the settings of its app. Without
/// `TEST_DATABASE_URL` (no `cfg(clearway_pg)`, see build.rs) the PostgreSQL
/// variant is marked ignored, so that the summary line counts it as ignored,
/// not as passed.
#[macro_export]
macro_rules! api_tests {
    ($($name:ident $(with $adjust:expr)?),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let backend = $crate::helpers::Backend::Sqlite;
                    super::$name($crate::helpers::spawn_app_with(backend, $crate::api_tests!(@adjust $($adjust)?)).await)
                        .await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(clearway_pg), ignore = "set TEST_DATABASE_URL to run on PostgreSQL")]
                async fn postgres() {
                    let backend = $crate::helpers::Backend::Postgres;
                    super::$name($crate::helpers::spawn_app_with(backend, $crate::api_tests!(@adjust $($adjust)?)).await)
                        .await
                }
            }
        )*
    };
    (@adjust) => { |_| {} };
    (@adjust $adjust:expr) => { $adjust };
}

/// CI sets `CLEARWAY_REQUIRE_PG=1`: there the PostgreSQL tests must run,
/// so a build without `TEST_DATABASE_URL` fails here instead of ignoring them.
#[test]
fn postgres_tests_run_when_required() {
    let required = std::env::var_os("CLEARWAY_REQUIRE_PG").is_some_and(|v| !v.is_empty());
    let built_with_pg = cfg!(clearway_pg);
    let url_set = crate::support::pg_admin_url(&["TEST_DATABASE_URL"]).is_some();
    assert!(!required || (built_with_pg && url_set), "CLEARWAY_REQUIRE_PG is set but TEST_DATABASE_URL is not");
}
