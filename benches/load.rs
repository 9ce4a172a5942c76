#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Load benchmark: booking throughput and latency over HTTP against the same
//! booking transaction run straight at the database, on SQLite and PostgreSQL.
//!
//! ```sh
//! cargo bench --bench load                                                     # SQLite only
//! TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test cargo bench --bench load # + PostgreSQL
//! ```
//!
//! `BENCH_DATABASE_URL` wins over `TEST_DATABASE_URL`; through it a fresh
//! database `clearway_bench_<random>` is created and dropped at the end.
//! Knobs (environment): `BENCH_BOOKINGS` bookings per measured run (default
//! 4000), `BENCH_CLIENTS` concurrent clients / threads (default 64),
//! `BENCH_SLOT_GETS` sequential `GET /slots` requests (default 500),
//! `BENCH_POOL_SIZE` database pool size (default 8, the app's default), `BENCH_ORDER` (`abba`
//! by default, `http-first`, `direct-first`), `BENCH_BACKENDS`
//! (`sqlite,postgres` by default).
//!
//! Per backend: setup (not measured: app, customs, site, schedule, 8 verified
//! companies, submitted declarations made through the service functions) →
//! warm-up → scenario A (bookings spread over 1,000 slots) → scenario B (one
//! hot slot raised to capacity 10,000) → `GET /slots` for one site-week.
//! Each scenario runs over HTTP and straight at the database (the same
//! `book` transaction in `Db::transaction` on the app's write pool), in
//! halves ordered HTTP, direct, direct, HTTP; the invariants are checked
//! through SQL after every part.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Data;
use actix_web::ResponseError;
use chrono::{NaiveDateTime, SecondsFormat, Utc};
use clearway::auth::Principal;
use clearway::config::Settings;
use clearway::context::RequestContext;
use clearway::db::schema::{bookings, clearance_slots};
use clearway::db::Db;
use clearway::domain::booking_policy::BookingStatus;
use clearway::domain::declaration::DeclarationAction;
use clearway::domain::declaration_form::DeclarationInput;
use clearway::domain::identity::Role;
use clearway::domain::ids::{DeclarationId, SlotId};
use clearway::domain::vehicle::VisitDetails;
use clearway::error::AppError;
use clearway::services::bookings::{BookingRules, NewVisit};
use clearway::services::declarations::ActionInput;
use clearway::state::AppState;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;

#[path = "../tests/support/mod.rs"]
mod support;
use support::{Api, RunningApp, TestDb};

const COMPANIES: usize = 8;
/// Slots of scenario A.
const SPREAD_SLOTS: usize = 1_000;
/// Capacity the officer gives the hot slot of scenario B.
const HOT_CAPACITY: i64 = 10_000;
/// Bookings of each (HTTP and direct) warm-up run.
const WARMUP_BOOKINGS: usize = 256;
/// Declarations created per write transaction during setup.
const SETUP_BATCH: usize = 250;

// ---------------------------------------------------------------- knobs

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

// ---------------------------------------------------------------- statistics

/// What one measured run produced.
#[derive(Default)]
struct RunResult {
    latencies_us: Vec<u64>,
    ok_ids: Vec<String>,
    statuses: BTreeMap<u16, usize>,
    samples: Vec<String>,
    elapsed: Duration,
    /// Direct runs: time spent holding a write connection (checkout to return), summed.
    held: Duration,
}

impl RunResult {
    fn merge(&mut self, other: RunResult) {
        self.latencies_us.extend(other.latencies_us);
        self.held += other.held;
        self.ok_ids.extend(other.ok_ids);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for s in other.samples {
            if self.samples.len() < 3 {
                self.samples.push(s);
            }
        }
    }
    fn record(&mut self, status: u16, latency: Duration, id: Option<String>, sample: impl FnOnce() -> String) {
        self.latencies_us.push(latency.as_micros() as u64);
        *self.statuses.entry(status).or_default() += 1;
        if let Some(id) = id {
            self.ok_ids.push(id);
        } else if self.samples.len() < 3 {
            self.samples.push(format!("{status}: {}", sample()));
        }
    }
    fn ok(&self) -> usize {
        self.ok_ids.len()
    }
    fn count(&self, pred: impl Fn(u16) -> bool) -> usize {
        self.statuses.iter().filter(|(s, _)| pred(**s)).map(|(_, n)| n).sum()
    }
    fn conflicts(&self) -> usize {
        self.count(|s| s == 409)
    }
    fn others(&self) -> usize {
        self.count(|s| !(200..300).contains(&s) && s != 409)
    }
    fn server_errors(&self) -> usize {
        self.count(|s| s >= 500)
    }
    fn rate(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Nearest-rank percentile of latencies in microseconds, as milliseconds.
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil().max(1.0) as usize;
    sorted_us[rank.min(sorted_us.len()) - 1] as f64 / 1000.0
}

struct Summary {
    rate: f64,
    p50: f64,
    p99: f64,
    ok: usize,
    conflicts: usize,
    others: usize,
    server_errors: usize,
}

fn summarise(r: &mut RunResult) -> Summary {
    r.latencies_us.sort_unstable();
    Summary {
        rate: r.rate(),
        p50: percentile_ms(&r.latencies_us, 50.0),
        p99: percentile_ms(&r.latencies_us, 99.0),
        ok: r.ok(),
        conflicts: r.conflicts(),
        others: r.others(),
        server_errors: r.server_errors(),
    }
}

// ---------------------------------------------------------------- databases

// ---------------------------------------------------------------- the world

struct Company {
    principal: Principal,
    token: String,
    declarations: Vec<String>,
    next: usize,
}

impl Company {
    fn take(&mut self) -> String {
        let id = self.declarations.get(self.next).cloned().expect("ran out of declarations: raise the setup count");
        self.next += 1;
        id
    }
}

/// One booking to make: which company, which declaration, which slot.
struct Job {
    company: usize,
    declaration: String,
    slot: String,
}

struct World {
    /// The app serving HTTP in this process.
    app: RunningApp,
    state: Data<AppState>,
    api: Api,
    officer: String,
    site: String,
    companies: Vec<Company>,
    /// Future slots of the site, in start order: [0, 1000) spread, 1000 and 1001 hot, the rest warm-up.
    slots: Vec<(String, NaiveDateTime)>,
}

fn bench_settings(db_url: &str) -> Settings {
    let mut s = support::test_settings(db_url);
    s.database.pool_size = env_usize("BENCH_POOL_SIZE", 8).max(1) as u32;
    s.booking.min_notice_minutes = 0;
    s.booking.min_notice_minutes_advanced = 0;
    s.booking.horizon_days = 60;
    s.slots.horizon_days = 50;
    s
}

fn declaration_input(site: &str) -> DeclarationInput {
    serde_json::from_value(support::declaration_body(site)).expect("declaration input")
}

/// The context of one request by `p`, now.
fn context_of(p: &Principal) -> RequestContext {
    RequestContext { caller: p.clone(), request_id: Some(uuid::Uuid::new_v4().to_string()), now: Utc::now() }
}

/// Submitted declarations created through the service functions, in batches of one write transaction each.
async fn make_declarations(state: &Data<AppState>, who: &Principal, site: &str, count: usize) -> Vec<String> {
    let valid = clearway::domain::declaration_form::validate(&declaration_input(site))
        .unwrap_or_else(|e| panic!("invalid declaration: {e:?}"));
    let mut ids = Vec::with_capacity(count);
    while ids.len() < count {
        let n = SETUP_BATCH.min(count - ids.len());
        let (who, valid, rules) = (who.clone(), valid.clone(), state.bookings.clone());
        let batch = state
            .db
            .write(move |conn| {
                let ctx = context_of(&who);
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    let (row, _) = clearway::services::declarations::create(conn, &ctx, &valid)?;
                    let id = DeclarationId::new(row.id.clone());
                    clearway::services::declarations::act(
                        conn,
                        &ctx,
                        &id,
                        DeclarationAction::Submit,
                        &ActionInput::default(),
                        &rules,
                    )?;
                    out.push(row.id);
                }
                Ok::<_, AppError>(out)
            })
            .await
            .unwrap_or_else(|e| panic!("creating declarations: {e:?}"));
        ids.extend(batch);
    }
    ids
}

async fn setup(db_url: &str, declarations_per_company: usize) -> World {
    let app = RunningApp::start(bench_settings(db_url)).await;
    let api = Api::new(&app.address);
    let state = app.state.clone();

    // Customs: a supervisor the way `clearway create-supervisor` makes one, and an officer.
    support::create_supervisor(&state, "supervisor@bench.test", "Bench Supervisor").await;
    let supervisor = api.login("supervisor@bench.test").await;
    let officer = api.add_officer(&supervisor, "officer@bench.test", "Bench Officer").await;

    // A site with a road schedule of 60-minute slots, capacity 10.
    let body =
        json!({"code": "CNKHG", "name": "Kashgar bench zone", "timezone": "Asia/Urumqi", "modes": ["road", "rail"]});
    let site = api.post("/api/v1/sites", Some(&supervisor), body).await.expect(201).str("/id");
    let body = json!({"mode": "road", "slot_minutes": 60, "capacity": 10});
    api.post(&format!("/api/v1/sites/{site}/schedules"), Some(&supervisor), body).await.expect(201);

    // Verified companies, each with its admin's token and principal.
    let mut companies = Vec::new();
    for i in 0..COMPANIES {
        let (name, code, email) = (
            format!("Bench Trading {i} GmbH"),
            format!("DE{:012}", 4711 + i),
            format!("admin{i}@company{i}.bench.test"),
        );
        let c = api.register_company(&name, "DE", &code, &email).await;
        api.verify_company(&c.enterprise_id, &officer).await;
        let principal =
            Principal { user_id: c.admin_user_id, role: Role::CompanyAdmin, enterprise_id: Some(c.enterprise_id) };
        companies.push(Company { principal, token: c.admin, declarations: Vec::new(), next: 0 });
    }

    let started = Instant::now();
    for c in &mut companies {
        c.declarations = make_declarations(&state, &c.principal, &site, declarations_per_company).await;
    }
    eprintln!(
        "  setup: {} submitted declarations in {:.1} s",
        declarations_per_company * COMPANIES,
        started.elapsed().as_secs_f64()
    );
    // As pgbench does before it measures: statistics and visibility maps
    // for the tables just filled, and their WAL checkpointed, so that an
    // autovacuum or a checkpoint set off by the setup does not land inside
    // a measured part (on 2 cores either takes a good share of the CPU).
    if state.db.backend() == clearway::db::connection::Backend::Postgres {
        let mut conn = state.db.read_conn().expect("a connection");
        for sql in ["VACUUM ANALYZE", "CHECKPOINT"] {
            conn.batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    // Future slots in start order (at least 30 minutes ahead, well inside the booking horizon).
    let site_id = site.clone();
    let from = (Utc::now() + chrono::Duration::minutes(30)).naive_utc();
    let slots = state
        .db
        .read(move |conn| {
            clearance_slots::table
                .filter(clearance_slots::site_id.eq(site_id))
                .filter(clearance_slots::mode.eq("road"))
                .filter(clearance_slots::starts_at.gt(from))
                .order(clearance_slots::starts_at.asc())
                .select((clearance_slots::id, clearance_slots::starts_at))
                .load::<(String, NaiveDateTime)>(conn)
        })
        .await
        .unwrap_or_else(|e| panic!("listing slots: {e:?}"));
    assert!(slots.len() >= SPREAD_SLOTS + 2 + 64, "only {} future slots", slots.len());

    World { app, state, api, officer, site, companies, slots }
}

// ---------------------------------------------------------------- runs

/// Bookings spread over `slots`: job k goes to slot k mod n, for company (round + k) mod 8. Every
/// company gets the same number of jobs; with n = 1,000 (a multiple of 8) a slot sees one company
/// per run, at most ceil(count / n) ≤ 5 times (its share of a capacity-10 slot), and round 4 gives
/// the direct run other companies than the HTTP run.
fn spread_jobs(w: &mut World, slots: std::ops::Range<usize>, count: usize, round: usize) -> Vec<Job> {
    let n = slots.len();
    (0..count)
        .map(|k| {
            let company = (round + k) % COMPANIES;
            let slot = w.slots[slots.start + k % n].0.clone();
            Job { company, declaration: w.companies[company].take(), slot }
        })
        .collect()
}

/// Bookings all onto one slot, companies in turn.
fn hot_jobs(w: &mut World, slot: &str, count: usize) -> Vec<Job> {
    (0..count)
        .map(|k| {
            let company = k % COMPANIES;
            Job { company, declaration: w.companies[company].take(), slot: slot.to_owned() }
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
}

/// `clients` tasks with one shared client, each sending POST /bookings back to back.
async fn http_run(w: &World, jobs: Vec<Job>, clients: usize) -> RunResult {
    let client = reqwest::Client::builder().pool_max_idle_per_host(clients * 2).build().expect("client");
    let url = Arc::new(w.api.url("/api/v1/bookings"));
    let tokens: Arc<Vec<String>> = Arc::new(w.companies.iter().map(|c| format!("Bearer {}", c.token)).collect());
    let bodies: Arc<Vec<(usize, String)>> = Arc::new(
        jobs.iter()
            .map(|j| (j.company, json!({"declaration_id": j.declaration, "slot_id": j.slot}).to_string()))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (client, url, tokens, bodies, next) =
            (client.clone(), url.clone(), tokens.clone(), bodies.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut r = RunResult::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((company, body)) = bodies.get(i) else { break };
                let t0 = Instant::now();
                let resp = client
                    .post(url.as_str())
                    .header(reqwest::header::AUTHORIZATION, tokens[*company].as_str())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let (status, bytes) = match resp {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        (status, resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
                    }
                    Err(e) => (599, e.to_string().into_bytes()),
                };
                let latency = t0.elapsed();
                let id = if (200..300).contains(&status) {
                    serde_json::from_slice::<IdOnly>(&bytes).ok().map(|b| b.id)
                } else {
                    None
                };
                r.record(status, latency, id, || String::from_utf8_lossy(&bytes).into_owned());
            }
            r
        }));
    }
    let mut total = RunResult::default();
    for h in handles {
        total.merge(h.await.expect("client task"));
    }
    total.elapsed = started.elapsed();
    total
}

/// The same transaction without HTTP: `threads` OS threads, each taking a
/// connection from the app's write pool and running `book` in `Db::transaction`.
fn direct_run(db: &Db, rules: &BookingRules, principals: &[Principal], jobs: &[Job], threads: usize) -> RunResult {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let mut total = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut r = RunResult::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let who = &principals[job.company];
                        let ctx = context_of(who);
                        let visit = NewVisit {
                            declaration_ids: vec![DeclarationId::new(job.declaration.clone())],
                            slot_id: SlotId::new(job.slot.clone()),
                            details: VisitDetails { vehicle: None, driver: None, containers: vec![] },
                            hold_id: None,
                        };
                        let t0 = Instant::now();
                        let outcome = match db.write_conn() {
                            Ok(mut conn) => {
                                let checked_out = Instant::now();
                                let outcome = db.transaction(&mut conn, |c| {
                                    clearway::services::bookings::book(c, &ctx, &visit, None, rules)
                                });
                                r.held += checked_out.elapsed();
                                drop(conn);
                                outcome
                            }
                            Err(_) => Err(AppError::Unavailable),
                        };
                        let latency = t0.elapsed();
                        match outcome {
                            Ok(answer) => {
                                let id = serde_json::from_str::<IdOnly>(&answer.body).ok().map(|b| b.id);
                                r.record(answer.status, latency, id, || answer.body.clone());
                            }
                            Err(e) => r.record(e.status_code().as_u16(), latency, None, || e.to_string()),
                        }
                    }
                    r
                })
            })
            .collect();
        let mut total = RunResult::default();
        for h in handles {
            total.merge(h.join().expect("direct thread"));
        }
        total
    });
    total.elapsed = started.elapsed();
    total
}

async fn direct_run_async(w: &World, jobs: Vec<Job>, threads: usize) -> RunResult {
    let db = w.state.db.clone();
    let rules = w.state.bookings.clone();
    let principals: Vec<Principal> = w.companies.iter().map(|c| c.principal.clone()).collect();
    tokio::task::spawn_blocking(move || direct_run(&db, &rules, &principals, &jobs, threads)).await.expect("direct run")
}

/// Which jobs of a path one part of a scenario runs.
#[derive(Clone, Copy)]
enum Part {
    FirstHalf,
    SecondHalf,
    Whole,
}

/// The order of the HTTP and direct parts of a scenario (`BENCH_ORDER`): `abba` (default:
/// HTTP, direct, direct, HTTP by halves, so that a drift during the scenario — tables and WAL
/// growing, neighbours on the machine — weighs on both paths alike), `http-first` or `direct-first`.
fn order() -> &'static [(bool, Part)] {
    match std::env::var("BENCH_ORDER").as_deref() {
        Ok("http-first") => &[(true, Part::Whole), (false, Part::Whole)],
        Ok("direct-first") => &[(false, Part::Whole), (true, Part::Whole)],
        _ => &[(true, Part::FirstHalf), (false, Part::FirstHalf), (false, Part::SecondHalf), (true, Part::SecondHalf)],
    }
}

/// Runs one scenario's HTTP and direct jobs in the order of `order()`, checks the invariants
/// after every part, and returns (HTTP, direct), each with the elapsed times of its parts summed.
async fn run_pair(
    w: &World,
    acked: &mut Vec<String>,
    http_jobs: Vec<Job>,
    direct_jobs: Vec<Job>,
    clients: usize,
) -> (RunResult, RunResult) {
    let halves = |mut jobs: Vec<Job>| {
        let second = jobs.split_off(jobs.len() / 2);
        [Some(jobs), Some(second)]
    };
    let mut store = [halves(http_jobs), halves(direct_jobs)];
    let (mut http, mut direct) = (RunResult::default(), RunResult::default());
    for &(is_http, part) in order() {
        let halves = &mut store[usize::from(!is_http)];
        let jobs: Vec<Job> = match part {
            Part::FirstHalf => halves[0].take().unwrap_or_default(),
            Part::SecondHalf => halves[1].take().unwrap_or_default(),
            Part::Whole => halves.iter_mut().flat_map(|h| h.take().unwrap_or_default()).collect(),
        };
        let r = if is_http { http_run(w, jobs, clients).await } else { direct_run_async(w, jobs, clients).await };
        acked.extend(r.ok_ids.iter().cloned());
        check_invariants(&w.state, acked).await;
        let total = if is_http { &mut http } else { &mut direct };
        let elapsed = total.elapsed + r.elapsed;
        total.merge(r);
        total.elapsed = elapsed;
    }
    (http, direct)
}

// ---------------------------------------------------------------- invariants

/// Every slot's `booked` equals its active bookings and fits its capacity;
/// every acknowledged booking exists exactly once; nothing else was booked.
async fn check_invariants(state: &Data<AppState>, acked: &[String]) {
    let (slots, rows) = state
        .db
        .read(|conn| {
            let slots = clearance_slots::table
                .select((clearance_slots::id, clearance_slots::capacity, clearance_slots::booked))
                .load::<(String, i32, i32)>(conn)?;
            let rows =
                bookings::table.select((bookings::id, bookings::slot_id, bookings::status)).load::<(
                    String,
                    String,
                    BookingStatus,
                )>(conn)?;
            Ok::<_, diesel::result::Error>((slots, rows))
        })
        .await
        .unwrap_or_else(|e| panic!("invariants query: {e:?}"));
    support::assert_slot_counts(&slots, rows.iter().map(|(_, slot, status)| (slot.as_str(), *status)));
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (id, _, _) in &rows {
        *by_id.entry(id.as_str()).or_default() += 1;
    }
    let mut seen = HashSet::new();
    for id in acked {
        assert!(seen.insert(id.as_str()), "invariant violated: booking {id} was acknowledged twice");
        let n = by_id.get(id.as_str()).copied().unwrap_or(0);
        assert_eq!(n, 1, "invariant violated: acknowledged booking {id} exists {n} times");
    }
    assert_eq!(
        rows.len(),
        acked.len(),
        "invariant violated: {} bookings stored, {} acknowledged",
        rows.len(),
        acked.len()
    );
    println!(
        "  invariants: OK ({} slots, {} bookings, every acknowledged booking stored once)",
        slots.len(),
        rows.len()
    );
}

// ---------------------------------------------------------------- report

struct Row {
    backend: &'static str,
    scenario: &'static str,
    http: Summary,
    direct: Summary,
}

struct SlotsRow {
    backend: &'static str,
    requests: usize,
    items: usize,
    p50: f64,
    p99: f64,
    rate: f64,
}

fn target_of(backend: &str) -> (f64, Option<f64>) {
    if backend == "PostgreSQL" {
        (0.7, Some(100.0))
    } else {
        (0.5, None)
    }
}

fn verdict(backend: &str, ratio: f64, p99: f64) -> String {
    let (min_ratio, max_p99) = target_of(backend);
    let mut missed = Vec::new();
    if ratio < min_ratio {
        missed.push(format!("ratio < {min_ratio}"));
    }
    if let Some(m) = max_p99 {
        if p99 > m {
            missed.push(format!("p99 > {m:.0} ms"));
        }
    }
    if missed.is_empty() {
        "met".to_owned()
    } else {
        format!("MISSED ({})", missed.join(", "))
    }
}

fn target_text(backend: &str) -> String {
    match target_of(backend) {
        (r, Some(p)) => format!("≥ {r}, p99 ≤ {p:.0} ms"),
        (r, None) => format!("≥ {r}"),
    }
}

fn print_line(label: &str, s: &Summary) {
    println!(
        "  {label:<30} {:>7} ok {:>9.0} bookings/s  p50 {:>7.1} ms  p99 {:>7.1} ms  409: {}  other: {}  5xx: {}",
        s.ok, s.rate, s.p50, s.p99, s.conflicts, s.others, s.server_errors
    );
}

/// How busy the write connections were during a direct run: the share of the run's time that
/// a connection was checked out (SQLite: of its one writer; PostgreSQL: of the whole pool), and
/// the mean time one transaction held it, pool wait excluded.
fn print_held(w: &World, r: &RunResult) {
    let connections = match w.state.db.backend() {
        clearway::db::Backend::Sqlite => 1.0,
        clearway::db::Backend::Postgres => f64::from(w.state.settings.database.pool_size),
    };
    let n = r.latencies_us.len().max(1) as f64;
    println!(
        "    direct: write connection(s) held {:.0}% of the run, {:.2} ms per transaction (pool wait excluded)",
        100.0 * r.held.as_secs_f64() / (r.elapsed.as_secs_f64() * connections).max(1e-9),
        1000.0 * r.held.as_secs_f64() / n
    );
}

fn print_samples(r: &RunResult) {
    for s in &r.samples {
        println!("    e.g. {}", s.chars().take(300).collect::<String>());
    }
}

fn print_markdown(rows: &[Row], slots: &[SlotsRow], bookings: usize, clients: usize) {
    println!();
    println!("## Summary ({bookings} bookings per run, {clients} concurrent clients / threads)");
    println!();
    println!("| backend | scenario | path | 2xx | 409 | other | bookings/s | p50 ms | p99 ms | HTTP/direct | target | result |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for r in rows {
        let ratio = r.http.rate / r.direct.rate.max(1e-9);
        for (path, s, tail) in [
            (
                "HTTP",
                &r.http,
                format!("**{ratio:.2}** | {} | {}", target_text(r.backend), verdict(r.backend, ratio, r.http.p99)),
            ),
            ("direct", &r.direct, "| |".to_owned()),
        ] {
            println!(
                "| {} | {} | {path} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {tail} |",
                r.backend, r.scenario, s.ok, s.conflicts, s.others, s.rate, s.p50, s.p99
            );
        }
    }
    println!();
    println!("| backend | GET /slots (one site-week) | slots per answer | median ms | p99 ms | req/s (sequential) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for s in slots {
        println!("| {} | {} | {} | {:.2} | {:.2} | {:.0} |", s.backend, s.requests, s.items, s.p50, s.p99, s.rate);
    }
}

// ---------------------------------------------------------------- one backend

async fn run_backend(backend: &'static str, db_url: &str, rows: &mut Vec<Row>, slot_rows: &mut Vec<SlotsRow>) {
    let bookings = env_usize("BENCH_BOOKINGS", 4_000);
    let clients = env_usize("BENCH_CLIENTS", 64).max(1);
    let gets = env_usize("BENCH_SLOT_GETS", 500).max(1);
    assert!(bookings <= SPREAD_SLOTS * 5, "BENCH_BOOKINGS above 5,000 would exceed the slots' capacity or share");
    assert!(2 * bookings <= HOT_CAPACITY as usize * COMPANIES / 2, "BENCH_BOOKINGS too large for the hot slot");
    println!("\n# {backend}");
    // Declarations: warm-up (2 runs) + A (2 runs) + B (2 runs), evenly over the companies.
    let per_company = 2 * WARMUP_BOOKINGS.div_ceil(COMPANIES) + 4 * bookings.div_ceil(COMPANIES);
    let mut w = setup(db_url, per_company).await;
    let mut acked: Vec<String> = Vec::new();

    // Warm-up (not reported): caches, connections, prepared statements.
    let warm = SPREAD_SLOTS + 2..w.slots.len();
    let jobs = spread_jobs(&mut w, warm.clone(), WARMUP_BOOKINGS, 0);
    let r = http_run(&w, jobs, clients).await;
    assert_eq!(r.ok(), WARMUP_BOOKINGS, "warm-up over HTTP failed: {:?} {:?}", r.statuses, r.samples);
    acked.extend(r.ok_ids);
    let jobs = spread_jobs(&mut w, warm, WARMUP_BOOKINGS, 4);
    let r = direct_run_async(&w, jobs, clients).await;
    assert_eq!(r.ok(), WARMUP_BOOKINGS, "direct warm-up failed: {:?} {:?}", r.statuses, r.samples);
    acked.extend(r.ok_ids);
    check_invariants(&w.state, &acked).await;

    // Scenario A: spread over 1,000 slots; the direct run books for other companies than the HTTP run.
    println!("scenario A: {bookings} bookings over {SPREAD_SLOTS} slots, {clients} clients");
    let http_jobs = spread_jobs(&mut w, 0..SPREAD_SLOTS, bookings, 0);
    let direct_jobs = spread_jobs(&mut w, 0..SPREAD_SLOTS, bookings, 4);
    let (mut a_http, mut a_direct) = run_pair(&w, &mut acked, http_jobs, direct_jobs, clients).await;
    let (h, d) = (summarise(&mut a_http), summarise(&mut a_direct));
    print_line("HTTP POST /bookings", &h);
    print_samples(&a_http);
    print_line("direct book() transaction", &d);
    print_samples(&a_direct);
    print_held(&w, &a_direct);
    let ratio = h.rate / d.rate.max(1e-9);
    println!("  ratio HTTP/direct: {ratio:.2} (target {}) → {}", target_text(backend), verdict(backend, ratio, h.p99));
    rows.push(Row { backend, scenario: "A: 1,000 slots", http: h, direct: d });

    // Scenario B: one hot slot each for HTTP and direct, capacity raised by an officer.
    println!("scenario B: {bookings} bookings onto one slot of capacity {HOT_CAPACITY}, {clients} clients");
    let hot_http = w.slots[SPREAD_SLOTS].0.clone();
    let hot_direct = w.slots[SPREAD_SLOTS + 1].0.clone();
    for slot in [&hot_http, &hot_direct] {
        let path = format!("/api/v1/slots/{slot}");
        let body = json!({"capacity": HOT_CAPACITY});
        w.api.call(reqwest::Method::PATCH, &path, Some(&w.officer), Some(body)).await.expect(200);
    }
    let http_jobs = hot_jobs(&mut w, &hot_http, bookings);
    let direct_jobs = hot_jobs(&mut w, &hot_direct, bookings);
    let (mut b_http, mut b_direct) = run_pair(&w, &mut acked, http_jobs, direct_jobs, clients).await;
    let (h, d) = (summarise(&mut b_http), summarise(&mut b_direct));
    print_line("HTTP POST /bookings", &h);
    print_samples(&b_http);
    print_line("direct book() transaction", &d);
    print_samples(&b_direct);
    print_held(&w, &b_direct);
    let ratio = h.rate / d.rate.max(1e-9);
    println!("  ratio HTTP/direct: {ratio:.2} (target {}) → {}", target_text(backend), verdict(backend, ratio, h.p99));
    rows.push(Row { backend, scenario: "B: one hot slot", http: h, direct: d });

    // GET /slots for one site-week: 168 hourly slots.
    let from = w.slots[24].1.and_utc();
    let to = from + chrono::Duration::days(7);
    let path = format!(
        "/api/v1/slots?site_id={}&mode=road&from={}&to={}&limit=200",
        w.site,
        from.to_rfc3339_opts(SecondsFormat::Secs, true),
        to.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let token = w.companies[0].token.clone();
    let body = w.api.get(&path, Some(&token)).await.expect(200).body;
    let items = body["items"].as_array().map_or(0, Vec::len);
    assert_eq!(items, 168, "one site-week should be 168 hourly slots");
    let url = w.api.url(&path);
    let bearer = format!("Bearer {token}");
    for _ in 0..20 {
        let r = w.api.client.get(&url).header(reqwest::header::AUTHORIZATION, &bearer).send().await.expect("GET");
        r.bytes().await.expect("body");
    }
    let mut lat = Vec::with_capacity(gets);
    let started = Instant::now();
    for _ in 0..gets {
        let t0 = Instant::now();
        let r = w.api.client.get(&url).header(reqwest::header::AUTHORIZATION, &bearer).send().await.expect("GET");
        assert_eq!(r.status().as_u16(), 200);
        r.bytes().await.expect("body");
        lat.push(t0.elapsed().as_micros() as u64);
    }
    let elapsed = started.elapsed();
    lat.sort_unstable();
    let s = SlotsRow {
        backend,
        requests: gets,
        items,
        p50: percentile_ms(&lat, 50.0),
        p99: percentile_ms(&lat, 99.0),
        rate: gets as f64 / elapsed.as_secs_f64(),
    };
    println!("GET /slots (site-week, {items} slots): {gets} sequential, median {:.2} ms, p99 {:.2} ms", s.p50, s.p99);
    slot_rows.push(s);
    check_invariants(&w.state, &acked).await;

    // The server and its background tasks stop before the database is dropped.
    w.app.stop().await;
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".to_owned())
}

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let started = Instant::now();
    let wanted = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".to_owned());
    let mut rows = Vec::new();
    let mut slot_rows = Vec::new();
    println!(
        "Clearway load benchmark — {} CPU(s), release build, load average {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        load_average()
    );
    runtime.block_on(async {
        if wanted.contains("sqlite") {
            let db = TestDb::sqlite();
            run_backend("SQLite", &db.url, &mut rows, &mut slot_rows).await;
        }
        if wanted.contains("postgres") {
            match support::pg_admin_url(&["BENCH_DATABASE_URL", "TEST_DATABASE_URL"]) {
                Some(admin) => {
                    let db = TestDb::postgres(&admin, "clearway_bench");
                    run_backend("PostgreSQL", &db.url, &mut rows, &mut slot_rows).await;
                }
                None => println!("\n# PostgreSQL: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)"),
            }
        }
    });
    print_markdown(&rows, &slot_rows, env_usize("BENCH_BOOKINGS", 4_000), env_usize("BENCH_CLIENTS", 64).max(1));
    println!("\ntotal time {:.0} s, load average at the end {}", started.elapsed().as_secs_f64(), load_average());
    let server_errors: usize = rows.iter().map(|r| r.http.server_errors + r.direct.server_errors).sum();
    // The runtime (and the servers on it) goes before the exit code is decided.
    runtime.shutdown_timeout(Duration::from_secs(2));
    if server_errors > 0 {
        eprintln!("FAILED: {server_errors} answers were 5xx");
        std::process::exit(1);
    }
}
