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
//! ```
//! Not part of `cargo test`: it restarts the local PostgreSQL cluster.

use std::collections::{HashMap, HashSet};
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
const KILLS: usize = 4;
const RUN_SECS: u64 = 24;

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
    retries: usize,
    transport_errors: usize,
    server_errors: usize,
}

struct Trader {
    token: String,
    declarations: Vec<String>,
}

/// One try of a booking request or cancel: `Ok(status, body)`, or `Err(())`
/// when no whole answer came (the server is down, the request timed out).
async fn attempt(api: &Api, path: &str, token: &str, body: Value, key: Option<&str>) -> Result<(u16, Value), ()> {
    let mut req = api.client.post(api.url(path)).bearer_auth(token).json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let resp = req.send().await.map_err(drop)?;
    let status = resp.status().as_u16();
    // A body cut off by the kill is no answer either.
    let text = resp.text().await.map_err(drop)?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// One fault run on `db_url`; `on_postgres` adds a database restart to the faults.
async fn run(backend: &str, db_url: String, on_postgres: bool) {
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
    let body = json!({"mode": "road", "slot_minutes": 60, "capacity": 4});
    api.post(&format!("/api/v1/sites/{site_id}/schedules"), Some(&sup), body).await.expect(201);
    let from = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339().replace('+', "%2B");
    let slots = api.get(&format!("/api/v1/slots?site_id={site_id}&from={from}&limit=40"), Some(&sup)).await.expect(200);
    let slot_ids: Vec<String> =
        slots.body["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
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
        "setup: {} slots (capacity 4), {} companies x {} submitted declarations",
        slot_ids.len(),
        COMPANIES,
        DECLARATIONS_PER_COMPANY
    );

    // Load: every client books for its company's declarations, retrying each
    // request with its Idempotency-Key until it gets a definite answer, and
    // cancels some of what it booked.
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let companies = Arc::new(companies);
    let slot_ids = Arc::new(slot_ids);
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (api, ledger, stop, next, companies, slot_ids) =
            (api.clone(), ledger.clone(), stop.clone(), next.clone(), companies.clone(), slot_ids.clone());
        tasks.push(tokio::spawn(async move {
            let company = &companies[c % COMPANIES];
            let mut mine: Vec<String> = Vec::new();
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let n = next.fetch_add(1, Ordering::Relaxed);
                let decl = &company.declarations[(n / COMPANIES + c) % company.declarations.len()];
                let slot = &slot_ids[n % slot_ids.len()];
                let key = format!("c{c}-r{round}");
                let body = json!({"declaration_id": decl, "slot_id": slot});
                // Retry the same key until a definite answer (2xx/4xx) or the end.
                loop {
                    match attempt(&api, "/api/v1/bookings", &company.token, body.clone(), Some(&key)).await {
                        Ok((201, v)) => {
                            let id = v["id"].as_str().unwrap().to_owned();
                            let mut l = ledger.lock().unwrap();
                            if let Some(prev) = l.acknowledged.insert(id.clone(), decl.clone()) {
                                assert_eq!(&prev, decl);
                            }
                            mine.push(id);
                            break;
                        }
                        // A definite refusal (slot full, share, already booked…).
                        Ok((s, _)) if (400..500).contains(&s) => break,
                        Ok((_, _)) => ledger.lock().unwrap().server_errors += 1,
                        Err(_) => ledger.lock().unwrap().transport_errors += 1,
                    }
                    ledger.lock().unwrap().retries += 1;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                // Every third round, cancel the oldest of ours.
                if round.is_multiple_of(3) && !mine.is_empty() {
                    let id = mine.remove(0);
                    loop {
                        let path = format!("/api/v1/bookings/{id}/cancel");
                        match attempt(&api, &path, &company.token, json!({}), None).await {
                            Ok((200, _)) => {
                                ledger.lock().unwrap().cancelled.insert(id);
                                break;
                            }
                            // Already cancelled by a retry whose answer was lost.
                            Ok((409, _)) => {
                                ledger.lock().unwrap().cancelled.insert(id);
                                break;
                            }
                            Ok((s, v)) if s < 500 => panic!("cancel answered {s}: {v}"),
                            _ => {
                                if stop.load(Ordering::Relaxed) {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                }
            }
        }));
    }

    // Faults.
    let started = Instant::now();
    let mut recoveries = Vec::new();
    let pause = Duration::from_secs(RUN_SECS / (KILLS as u64 + 2));
    for k in 0..KILLS {
        tokio::time::sleep(pause).await;
        let before = ledger.lock().unwrap().acknowledged.len();
        server.kill9();
        server.start();
        let restarted = Instant::now();
        wait_ready(&api).await;
        first_booking_after(&ledger, before, restarted, Duration::from_secs(30), &format!("restart {k}")).await;
        recoveries.push(("kill -9", restarted.elapsed()));
    }
    if on_postgres {
        tokio::time::sleep(pause).await;
        let before = ledger.lock().unwrap().acknowledged.len();
        pg_ctlcluster(&["stop", "-m", "immediate"]);
        let stopped = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        pg_ctlcluster(&["start"]);
        first_booking_after(&ledger, before, stopped, Duration::from_secs(60), "the database restart").await;
        recoveries.push(("PostgreSQL stop -m immediate + start", stopped.elapsed()));
    }
    tokio::time::sleep(pause).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    server.kill9();

    // Invariants, read straight from the database.
    let manager = clearway::db::connection::ConnectionManager::new(&db_url, 5).unwrap();
    let mut conn = manager.connect().unwrap();
    use clearway::db::schema::{bookings, clearance_slots, idempotency_keys};
    let rows: Vec<(String, String, String, BookingStatus)> = bookings::table
        .select((bookings::id, bookings::declaration_id, bookings::slot_id, bookings::status))
        .load(&mut conn)
        .unwrap();
    let by_id: HashMap<&str, (&str, BookingStatus)> =
        rows.iter().map(|(id, d, _, st)| (id.as_str(), (d.as_str(), *st))).collect();
    let ledger = ledger.lock().unwrap();
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
    let answers: Vec<String> = idempotency_keys::table.select(idempotency_keys::response_body).load(&mut conn).unwrap();
    let mut from_keys: HashMap<String, usize> = HashMap::new();
    for a in &answers {
        let v: Value = serde_json::from_str(a).unwrap();
        *from_keys.entry(v["id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert!(from_keys.values().all(|&n| n == 1), "a booking is the answer of two keys");
    assert_eq!(from_keys.len(), rows.len(), "every booking row has exactly one key");
    let mut active_per_declaration: HashMap<&str, usize> = HashMap::new();
    for (_, d, _, status) in &rows {
        if status.is_active() {
            *active_per_declaration.entry(d.as_str()).or_default() += 1;
        }
    }
    assert!(active_per_declaration.values().all(|&n| n <= 1));
    drop(conn);

    println!("ran {:.1} s with {CLIENTS} clients", elapsed.as_secs_f64());
    println!(
        "bookings acknowledged (2xx): {}   cancels acknowledged: {}",
        ledger.acknowledged.len(),
        ledger.cancelled.len()
    );
    println!("booking rows: {}   idempotency keys: {}", rows.len(), answers.len());
    println!(
        "retries: {}   transport errors: {}   5xx answers: {}",
        ledger.retries, ledger.transport_errors, ledger.server_errors
    );
    for (what, d) in &recoveries {
        println!("first acknowledged booking after {what}: {:.2} s", d.as_secs_f64());
    }
    println!("slots over capacity: 0   slots whose booked != active bookings: 0");
    println!("invariants: OK ({backend})");
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let db = TestDb::sqlite();
        run("SQLite", db.url.clone(), false).await;
        if let Some(admin) = support::pg_admin_url(&["BENCH_DATABASE_URL", "TEST_DATABASE_URL"]) {
            let db = TestDb::postgres(&admin, "clearway_fault");
            run("PostgreSQL", db.url.clone(), true).await;
        }
    });
}
