#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fault test: bookings, cancellations and idempotent retries from many
//! clients while the server is killed with SIGKILL several times (and, on
//! PostgreSQL, the database is stopped with `-m immediate` once). Afterwards
//! every booking that got a 2xx exists exactly once, no slot is over
//! capacity, `booked` equals the active bookings of every slot, and no
//! Idempotency-Key produced two bookings.
//!
//! ```sh
//! cargo bench --bench fault                                                      # SQLite
//! TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test cargo bench --bench fault  # + PostgreSQL
//! # Crash safety at scale: >= 100,000 acknowledged bookings across 3 kill -9 (+ the PostgreSQL stop).
//! FAULT_MIN_BOOKINGS=100000 FAULT_KILLS=3 cargo bench --bench fault
//! ```
//! Not part of `cargo test`: it restarts the local PostgreSQL cluster.
//!
//! Knobs (environment): `FAULT_SECS` shortest run in seconds (default 24),
//! `FAULT_KILLS` number of `kill -9` (default 4), `FAULT_MIN_BOOKINGS`
//! (default 0: off) the run goes on past `FAULT_SECS` until at least this
//! many bookings were acknowledged, `FAULT_HOLD` bookings each client keeps
//! before it cancels its oldest (default 2), `FAULT_BACKENDS`
//! (`sqlite,postgres` by default; PostgreSQL only with `BENCH_DATABASE_URL`
//! or `TEST_DATABASE_URL`). The faults are spread over the run: kill k
//! (from 0) at (k+1)/(KILLS+2) of it, the PostgreSQL stop in its middle,
//! between two kills; "of the run" is of `FAULT_MIN_BOOKINGS` acknowledged
//! bookings when that is set, else of `FAULT_SECS`.
//!
//! The workload lasts as long as wanted: each client books one of its own
//! declarations per round and cancels its oldest booking once it holds more
//! than `FAULT_HOLD`, so that declarations and places are used again and
//! again. Every few rounds a client aims at the one hot slot (always about
//! full: capacity refusals race with cancels) or at any declaration of its
//! company (races with the other clients of the company on one declaration).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::r2d2::ManageConnection;
use serde_json::{json, Value};

#[path = "../tests/support/mod.rs"]
mod support;
use clearway::domain::booking_policy::BookingStatus;
use support::{Api, TestDb, PASSWORD};

const CLIENTS: usize = 32;
const COMPANIES: usize = 8;
const DECLARATIONS_PER_COMPANY: usize = 60;
/// Slots booked; the first is the hot one.
const SLOTS: usize = 48;
/// Places per slot; a company may hold half of them (`max_share_percent`).
const CAPACITY: usize = 8;
/// Every this many rounds a client books the hot slot.
const HOT_EVERY: usize = 8;
/// Every this many rounds a client books any declaration of its company.
const CONTENDED_EVERY: usize = 10;
/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// A run without a new acknowledged booking for this long has failed.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// What the environment asks of the run (see the module's documentation).
struct Knobs {
    secs: u64,
    kills: usize,
    min_bookings: usize,
    hold: usize,
    backends: String,
}

/// The value of `name`, or `default` when it is not set; panics on a value that does not parse.
fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not valid")),
        _ => default,
    }
}

impl Knobs {
    fn from_env() -> Self {
        let knobs = Knobs {
            secs: knob("FAULT_SECS", 24),
            kills: knob("FAULT_KILLS", 4),
            min_bookings: knob("FAULT_MIN_BOOKINGS", 0),
            hold: knob("FAULT_HOLD", 2),
            backends: knob("FAULT_BACKENDS", "sqlite,postgres".to_owned()).to_lowercase(),
        };
        // A client books its own declarations in turn: it must not still hold the next one.
        let own = DECLARATIONS_PER_COMPANY / (CLIENTS / COMPANIES);
        assert!(knobs.hold + 2 <= own, "FAULT_HOLD must be at most {}", own - 2);
        knobs
    }
}

struct Server {
    child: Option<Child>,
    port: u16,
    db_url: String,
}

impl Server {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_clearway"))
            .env("CLEARWAY_PROFILE", "test")
            .env("CLEARWAY__SERVER__PORT", self.port.to_string())
            .env("CLEARWAY__DATABASE__URL", &self.db_url)
            .env("CLEARWAY__BOOKING__MIN_NOTICE_MINUTES", "0")
            .env("CLEARWAY__BOOKING__CANCEL_CUTOFF_MINUTES", "0")
            .env("CLEARWAY__DATABASE__ACQUIRE_TIMEOUT_SECS", "2")
            .env("CLEARWAY__WEBHOOKS__WORKER_ENABLED", "false")
            // A long run outlives the default 15-minute access tokens; their
            // expiry is not what this test is about.
            .env("CLEARWAY__AUTH__ACCESS_TOKEN_TTL_SECS", "86400")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clearway");
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until a booking is acknowledged beyond the `before` first ones;
/// panics if none comes within `limit` of `since`.
async fn first_booking_after(ledger: &Mutex<Ledger>, before: usize, since: Instant, limit: Duration, what: &str) {
    while ledger.lock().unwrap().acknowledged.len() <= before {
        assert!(since.elapsed() < limit, "no booking within {limit:?} of {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `pg_ctlcluster <version> main <action…>` on the local cluster.
fn pg_ctlcluster(action: &[&str]) {
    let version = std::fs::read_dir("/etc/postgresql").unwrap().next().unwrap().unwrap().file_name();
    let version = version.to_string_lossy().into_owned();
    let out = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main"])
        .args(action)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

async fn wait_ready(api: &Api) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(r) = api.client.get(api.url("/health/ready")).send().await {
            if r.status().is_success() {
                return started.elapsed();
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Default)]
struct Ledger {
    /// booking id → declaration, for every 2xx booking
    acknowledged: HashMap<String, String>,
    /// booking ids whose cancel got a 2xx
    cancelled: HashSet<String>,
    /// definite refusals (4xx) of booking requests, by problem type
    refusals: BTreeMap<String, usize>,
    /// tries after the first of a request (bookings and cancels)
    retries: usize,
    transport_errors: usize,
    server_errors: usize,
    /// 409 `idempotency-key-in-flight`: an earlier try with the key was still running
    in_flight: usize,
}

struct Trader {
    token: String,
    declarations: Vec<String>,
}

/// What the clients, the fault injector and the progress line share.
struct Shared {
    ledger: Mutex<Ledger>,
    stop: AtomicBool,
    /// Rounds started by all clients: spreads them over slots and declarations.
    next: AtomicUsize,
    faults_done: AtomicUsize,
    companies: Vec<Trader>,
    slot_ids: Vec<String>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn acknowledged(&self) -> usize {
        self.ledger.lock().unwrap().acknowledged.len()
    }
}

/// The slug of a problem's `type` (`…/problems/slot-full` → `slot-full`).
fn problem_type(v: &Value) -> String {
    v["type"].as_str().and_then(|t| t.rsplit('/').next()).unwrap_or("?").to_owned()
}

/// One try of a booking request or cancel: `Ok(status, body)`, or `Err(())`
/// when no whole answer came (the server is down, the request timed out).
async fn attempt(api: &Api, path: &str, token: &str, body: &Value, key: Option<&str>) -> Result<(u16, Value), ()> {
    let mut req = api.client.post(api.url(path)).bearer_auth(token).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let resp = req.send().await.map_err(drop)?;
    let status = resp.status().as_u16();
    // A body cut off by the kill is no answer either.
    let text = resp.text().await.map_err(drop)?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Books `decl` on `slot`, retrying with the same Idempotency-Key until a
/// definite answer: the booking's id on a 2xx, `None` on a refusal (4xx) or
/// when the run ends first.
async fn book(api: &Api, s: &Shared, token: &str, decl: &str, slot: &str, key: &str) -> Option<String> {
    let body = json!({"declaration_id": decl, "slot_id": slot});
    loop {
        match attempt(api, "/api/v1/bookings", token, &body, Some(key)).await {
            Ok((201, v)) => {
                let id = v["id"].as_str().unwrap().to_owned();
                let mut l = s.ledger.lock().unwrap();
                if let Some(prev) = l.acknowledged.insert(id.clone(), decl.to_owned()) {
                    assert_eq!(prev, decl);
                }
                return Some(id);
            }
            // Not an answer yet: the first try with this key is still running.
            Ok((409, v)) if problem_type(&v) == "idempotency-key-in-flight" => s.ledger.lock().unwrap().in_flight += 1,
            // The token is valid for the whole run: this would silently stop the workload.
            Ok((st @ (401 | 403), v)) => panic!("booking answered {st}: {v}"),
            // A definite refusal (slot full, share, already booked…).
            Ok((st, v)) if (400..500).contains(&st) => {
                *s.ledger.lock().unwrap().refusals.entry(problem_type(&v)).or_default() += 1;
                return None;
            }
            Ok((st, _)) if st >= 500 => s.ledger.lock().unwrap().server_errors += 1,
            Ok((st, v)) => panic!("booking answered {st}: {v}"),
            Err(()) => s.ledger.lock().unwrap().transport_errors += 1,
        }
        s.ledger.lock().unwrap().retries += 1;
        if s.stopped() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Cancels booking `id`, retrying until a definite answer (or the end of the run).
async fn cancel(api: &Api, s: &Shared, token: &str, id: String) {
    let path = format!("/api/v1/bookings/{id}/cancel");
    loop {
        match attempt(api, &path, token, &json!({}), None).await {
            Ok((200, _)) => {
                s.ledger.lock().unwrap().cancelled.insert(id);
                return;
            }
            // Already cancelled by a retry whose answer was lost.
            Ok((409, v)) if problem_type(&v) == "booking-state" => {
                s.ledger.lock().unwrap().cancelled.insert(id);
                return;
            }
            Ok((st, v)) if st < 500 => panic!("cancel of {id} answered {st}: {v}"),
            Ok(_) => s.ledger.lock().unwrap().server_errors += 1,
            Err(()) => s.ledger.lock().unwrap().transport_errors += 1,
        }
        s.ledger.lock().unwrap().retries += 1;
        if s.stopped() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One client, until the run stops: each round books, then cancels the
/// oldest of its bookings while it holds more than `hold`.
async fn trader_client(api: Arc<Api>, s: Arc<Shared>, c: usize, hold: usize) {
    let company = &s.companies[c % COMPANIES];
    // Its own share of the company's declarations, booked in turn.
    let own: Vec<&String> = company.declarations.iter().skip(c / COMPANIES).step_by(CLIENTS / COMPANIES).collect();
    let mut mine: VecDeque<String> = VecDeque::new();
    let mut round = 0usize;
    while !s.stopped() {
        round += 1;
        let n = s.next.fetch_add(1, Ordering::Relaxed);
        let decl = if round.is_multiple_of(CONTENDED_EVERY) {
            &company.declarations[n % company.declarations.len()]
        } else {
            own[round % own.len()]
        };
        let slot = if round.is_multiple_of(HOT_EVERY) { &s.slot_ids[0] } else { &s.slot_ids[1 + n % (SLOTS - 1)] };
        if let Some(id) = book(&api, &s, &company.token, decl, slot, &format!("c{c}-r{round}")).await {
            mine.push_back(id);
        }
        while mine.len() > hold && !s.stopped() {
            let id = mine.pop_front().unwrap();
            cancel(&api, &s, &company.token, id).await;
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// `kill -9` of the server (number k from 0) and a restart.
    Kill(usize),
    /// `pg_ctlcluster … stop -m immediate`, a second, and a start.
    PostgresStop,
}

/// The faults in order, each with the share of the run after which it comes.
fn fault_plan(kills: usize, on_postgres: bool) -> VecDeque<(f64, Fault)> {
    let parts = (kills + 2) as f64;
    let mut plan: Vec<(f64, Fault)> = (0..kills).map(|k| ((k + 1) as f64 / parts, Fault::Kill(k))).collect();
    if on_postgres {
        // The middle of the run; when a kill comes there, half-way to the next one.
        let middle = parts / 2.0 + if kills > 0 && kills.is_multiple_of(2) { 0.5 } else { 0.0 };
        plan.push((middle / parts, Fault::PostgresStop));
    }
    plan.sort_by(|a, b| a.0.total_cmp(&b.0));
    plan.into()
}

/// How a fault went: when it came and how long until bookings were acknowledged again.
struct Recovery {
    what: String,
    at: Duration,
    acknowledged_before: usize,
    /// Until `/health/ready` answered 2xx again (after a restart).
    ready: Option<Duration>,
    first_booking: Duration,
}

async fn inject(fault: Fault, server: &mut Server, api: &Api, s: &Shared, started: Instant) -> Recovery {
    let at = started.elapsed();
    let before = s.acknowledged();
    match fault {
        Fault::Kill(k) => {
            let what = format!("kill -9 #{}", k + 1);
            server.kill9();
            server.start();
            let restarted = Instant::now();
            let ready = wait_ready(api).await;
            first_booking_after(&s.ledger, before, restarted, Duration::from_secs(30), &what).await;
            Recovery { what, at, acknowledged_before: before, ready: Some(ready), first_booking: restarted.elapsed() }
        }
        Fault::PostgresStop => {
            pg_ctlcluster(&["stop", "-m", "immediate"]);
            let stopped = Instant::now();
            tokio::time::sleep(Duration::from_secs(1)).await;
            pg_ctlcluster(&["start"]);
            first_booking_after(&s.ledger, before, stopped, Duration::from_secs(60), "the database restart").await;
            Recovery {
                what: "PostgreSQL stop -m immediate + start".to_owned(),
                at,
                acknowledged_before: before,
                ready: None,
                first_booking: stopped.elapsed(),
            }
        }
    }
}

/// Prints a line every [`PROGRESS_EVERY`] until the run stops.
async fn progress(backend: String, s: Arc<Shared>, started: Instant, faults: usize) {
    let mut last = (started, 0usize);
    while !s.stopped() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if last.0.elapsed() < PROGRESS_EVERY {
            continue;
        }
        let (acknowledged, cancelled, transport, server) = {
            let l = s.ledger.lock().unwrap();
            (l.acknowledged.len(), l.cancelled.len(), l.transport_errors, l.server_errors)
        };
        let now = Instant::now();
        let rate = (acknowledged - last.1) as f64 / (now - last.0).as_secs_f64();
        println!(
            "[{:>5.0} s] {backend}: {acknowledged} bookings acknowledged ({rate:.0}/s lately), {cancelled} cancels, \
             faults {}/{faults}, transport errors {transport}, 5xx {server}",
            started.elapsed().as_secs_f64(),
            s.faults_done.load(Ordering::Relaxed),
        );
        last = (now, acknowledged);
    }
}

/// Loads the booking id of every stored idempotency answer, page by page
/// (the answers are whole booking views: too many to hold at once on a long run).
fn booking_ids_of_keys(conn: &mut clearway::db::connection::DbConnection) -> Vec<String> {
    use clearway::db::schema::idempotency_keys as k;
    let mut ids = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let mut query = k::table.select((k::enterprise_id, k::key, k::response_body)).into_boxed();
        if let Some((e, key)) = &after {
            query = query
                .filter(k::enterprise_id.gt(e.clone()).or(k::enterprise_id.eq(e.clone()).and(k::key.gt(key.clone()))));
        }
        let page: Vec<(String, String, String)> =
            query.order((k::enterprise_id, k::key)).limit(5_000).load(&mut *conn).unwrap();
        let Some((e, key, _)) = page.last() else { return ids };
        after = Some((e.clone(), key.clone()));
        for (_, _, body) in &page {
            let v: Value = serde_json::from_str(body).unwrap();
            ids.push(v["id"].as_str().unwrap().to_owned());
        }
    }
}

/// One fault run on `db_url`; `on_postgres` adds a database restart to the faults.
async fn run(backend: &str, db_url: String, on_postgres: bool, knobs: &Knobs) {
    println!("\n== fault test on {backend}");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // No idle connections kept: each request finds out whether the server is up.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(10)).build().unwrap();
    let api = Arc::new(Api { address: base.clone(), client });
    // First supervisor from the command line, as in production.
    let mut cs = Command::new(env!("CARGO_BIN_EXE_clearway"))
        .args(["create-supervisor", "--email", "chief@customs.test"])
        .env("CLEARWAY_PROFILE", "test")
        .env("CLEARWAY__DATABASE__URL", &db_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    cs.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    assert!(cs.wait().unwrap().success());
    let mut server = Server { child: None, port, db_url: db_url.clone() };
    server.start();
    wait_ready(&api).await;

    // Customs, a site, slots, companies and submitted declarations.
    let sup = api.login("chief@customs.test").await;
    let officer = api.add_officer(&sup, "gate@customs.test", "Gate Officer").await;
    let body = json!({"code": "CNKHG", "name": "Kashgar", "timezone": "Asia/Urumqi", "modes": ["road"]});
    let site_id = api.post("/api/v1/sites", Some(&sup), body).await.expect(201).str("/id");
    let body = json!({"mode": "road", "slot_minutes": 60, "capacity": CAPACITY});
    api.post(&format!("/api/v1/sites/{site_id}/schedules"), Some(&sup), body).await.expect(201);
    // A day ahead: no slot starts during a long run.
    let from = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339().replace('+', "%2B");
    let slots =
        api.get(&format!("/api/v1/slots?site_id={site_id}&from={from}&limit={SLOTS}"), Some(&sup)).await.expect(200);
    let slot_ids: Vec<String> =
        slots.body["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(slot_ids.len(), SLOTS);
    let mut companies = Vec::new();
    for i in 0..COMPANIES {
        let c = api
            .register_company(&format!("Trader {i}"), "KZ", &format!("KZ{i:06}"), &format!("admin{i}@trader.test"))
            .await;
        api.verify_company(&c.enterprise_id, &officer).await;
        let mut declarations = Vec::new();
        for _ in 0..DECLARATIONS_PER_COMPANY {
            declarations.push(support::submitted_declaration(&api, &c.admin, &site_id).await);
        }
        companies.push(Trader { token: c.admin, declarations });
    }
    println!(
        "setup: {SLOTS} slots (capacity {CAPACITY}, the first one hot), {COMPANIES} companies x \
         {DECLARATIONS_PER_COMPANY} submitted declarations, {CLIENTS} clients each holding at most {} booking(s)",
        knobs.hold
    );

    // Load: every client books for its company's declarations, retrying each
    // request with its Idempotency-Key until it gets a definite answer, and
    // cancels its oldest bookings.
    let shared = Arc::new(Shared {
        ledger: Mutex::new(Ledger::default()),
        stop: AtomicBool::new(false),
        next: AtomicUsize::new(0),
        faults_done: AtomicUsize::new(0),
        companies,
        slot_ids,
    });
    let started = Instant::now();
    let mut plan = fault_plan(knobs.kills, on_postgres);
    let faults = plan.len();
    let tasks: Vec<_> =
        (0..CLIENTS).map(|c| tokio::spawn(trader_client(api.clone(), shared.clone(), c, knobs.hold))).collect();
    let ticker = tokio::spawn(progress(backend.to_owned(), shared.clone(), started, faults));

    // Faults, spread over the run; then on until it is long enough.
    let min_secs = Duration::from_secs(knobs.secs);
    let mut recoveries = Vec::new();
    let mut last_booking = (Instant::now(), 0usize);
    loop {
        let acknowledged = shared.acknowledged();
        let share_done = if knobs.min_bookings > 0 {
            acknowledged as f64 / knobs.min_bookings as f64
        } else {
            started.elapsed().as_secs_f64() / knobs.secs.max(1) as f64
        };
        match plan.front() {
            Some(&(at, fault)) if share_done >= at => {
                plan.pop_front();
                recoveries.push(inject(fault, &mut server, &api, &shared, started).await);
                shared.faults_done.fetch_add(1, Ordering::Relaxed);
                last_booking = (Instant::now(), shared.acknowledged());
                continue;
            }
            None if started.elapsed() >= min_secs && acknowledged >= knobs.min_bookings => break,
            _ => {}
        }
        if acknowledged > last_booking.1 {
            last_booking = (Instant::now(), acknowledged);
        }
        assert!(
            last_booking.0.elapsed() < STALL_LIMIT,
            "no booking acknowledged for {STALL_LIMIT:?} ({acknowledged} so far)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    ticker.await.unwrap();
    let elapsed = started.elapsed();
    server.kill9();

    // Invariants, read straight from the database.
    let manager = clearway::db::connection::ConnectionManager::new(&db_url, 5).unwrap();
    let mut conn = manager.connect().unwrap();
    use clearway::db::schema::{bookings, clearance_slots};
    let rows: Vec<(String, String, String, BookingStatus)> = bookings::table
        .select((bookings::id, bookings::declaration_id, bookings::slot_id, bookings::status))
        .load(&mut conn)
        .unwrap();
    let by_id: HashMap<&str, (&str, BookingStatus)> =
        rows.iter().map(|(id, d, _, st)| (id.as_str(), (d.as_str(), *st))).collect();
    let ledger = shared.ledger.lock().unwrap();
    for (id, decl) in &ledger.acknowledged {
        let (d, status) = by_id.get(id.as_str()).unwrap_or_else(|| panic!("acknowledged booking {id} is missing"));
        assert_eq!(d, decl);
        if ledger.cancelled.contains(id) {
            assert_eq!(*status, BookingStatus::Cancelled, "cancel of {id} was acknowledged");
        }
    }
    let slots: Vec<(String, i32, i32)> = clearance_slots::table
        .select((clearance_slots::id, clearance_slots::capacity, clearance_slots::booked))
        .load(&mut conn)
        .unwrap();
    support::assert_slot_counts(&slots, rows.iter().map(|(_, _, slot, status)| (slot.as_str(), *status)));
    // Every booking row came from exactly one key, and no key made two.
    let from_keys = booking_ids_of_keys(&mut conn);
    let mut seen: HashSet<&str> = HashSet::with_capacity(from_keys.len());
    assert!(from_keys.iter().all(|id| seen.insert(id.as_str())), "a booking is the answer of two keys");
    assert_eq!(seen.len(), rows.len(), "every booking row has exactly one key");
    let mut active_per_declaration: HashMap<&str, usize> = HashMap::new();
    for (_, d, _, status) in &rows {
        if status.is_active() {
            *active_per_declaration.entry(d.as_str()).or_default() += 1;
        }
    }
    assert!(active_per_declaration.values().all(|&n| n <= 1));
    drop(conn);

    let kills_done = recoveries.iter().filter(|r| r.what.starts_with("kill")).count();
    let pg_stops = recoveries.len() - kills_done;
    let secs = elapsed.as_secs_f64();
    println!("-- {backend}: summary");
    println!(
        "ran {secs:.1} s with {CLIENTS} clients (FAULT_SECS={}, FAULT_MIN_BOOKINGS={}, FAULT_HOLD={})",
        knobs.secs, knobs.min_bookings, knobs.hold
    );
    println!(
        "bookings acknowledged (2xx): {}   cancels acknowledged: {}   bookings/s acknowledged: {:.1}",
        ledger.acknowledged.len(),
        ledger.cancelled.len(),
        ledger.acknowledged.len() as f64 / secs
    );
    println!(
        "kills done: {kills_done}/{}   PostgreSQL stop -m immediate: {}",
        knobs.kills,
        if on_postgres { format!("{pg_stops}/1") } else { "not on this backend".to_owned() }
    );
    println!("booking rows: {}   idempotency keys: {}", rows.len(), from_keys.len());
    println!(
        "retries: {}   transport errors: {}   5xx answers: {}   in-flight 409s: {}",
        ledger.retries, ledger.transport_errors, ledger.server_errors, ledger.in_flight
    );
    let refusals: Vec<String> = ledger.refusals.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("booking refusals (4xx): {}", if refusals.is_empty() { "none".to_owned() } else { refusals.join(", ") });
    for r in &recoveries {
        let ready = r.ready.map(|d| format!("ready after {:.2} s, ", d.as_secs_f64())).unwrap_or_default();
        println!(
            "{} at {:.1} s ({} acknowledged): {ready}first acknowledged booking after {:.2} s",
            r.what,
            r.at.as_secs_f64(),
            r.acknowledged_before,
            r.first_booking.as_secs_f64()
        );
    }
    println!("acknowledged bookings lost: 0   slots over capacity: 0   slots whose booked != active bookings: 0");
    println!("invariants: OK ({backend})");
}

fn main() {
    let knobs = Knobs::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        if knobs.backends.contains("sqlite") {
            let db = TestDb::sqlite();
            run("SQLite", db.url.clone(), false, &knobs).await;
        }
        if knobs.backends.contains("postgres") {
            match support::pg_admin_url(&["BENCH_DATABASE_URL", "TEST_DATABASE_URL"]) {
                Some(admin) => {
                    let db = TestDb::postgres(&admin, "clearway_fault");
                    run("PostgreSQL", db.url.clone(), true, &knobs).await;
                }
                None => println!("\n== PostgreSQL skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)"),
            }
        }
    });
}
