//! Background tasks started with the server.

use std::time::Duration;

use actix_web::web;
use tokio::task::JoinSet;

use crate::error::AppError;
use crate::state::AppState;

/// Logs a background task's failure: a database that is briefly out of
/// reach (a restart, a failover, connections ended by an administrator) is
/// a warning, since the next round retries; anything else is an error.
pub fn report_failure(what: &str, e: impl Into<AppError>) {
    match e.into() {
        AppError::Unavailable => tracing::warn!(task = what, "database unavailable; retrying on the next round"),
        other => tracing::error!(task = what, error = %other, "background task failed"),
    }
}

/// Starts every background task; aborting the set stops them.
pub fn spawn(state: web::Data<AppState>) -> JoinSet<()> {
    let mut set = JoinSet::new();
    set.spawn(slot_top_up(state.clone()));
    if state.settings.webhooks.worker_enabled {
        set.spawn(crate::services::webhooks::run_worker(state.clone()));
    }
    set.spawn(no_show_sweep(state.clone()));
    set.spawn(hold_sweep(state.clone()));
    set.spawn(housekeeping(state));
    set
}

/// Bookings per transaction of the no-show sweep (a backlog after a long
/// stop is worked off in rounds without holding the writer long).
const NO_SHOW_BATCH: i64 = 200;

/// Marks as `no_show` the bookings still `confirmed` after their arrival
/// window closed, every `gate.sweep_interval_secs` (at most a minute): a
/// read never shows such a booking as confirmed for longer than that.
async fn no_show_sweep(state: web::Data<AppState>) {
    let every = Duration::from_secs(state.settings.gate.sweep_interval_secs.max(1));
    // Each round looks at the arrival windows that closed since the previous
    // one (with a margin); the first round after a start looks back SWEEP_LOOKBACK.
    let mut since = state.clock.now() - SWEEP_LOOKBACK;
    loop {
        tokio::time::sleep(every).await;
        let round = state.clock.now();
        let mut swept = true;
        loop {
            let (now, rules) = (state.clock.now(), state.bookings.clone());
            let result = state
                .db
                .write(move |conn| crate::services::bookings::sweep_no_shows(conn, now, since, NO_SHOW_BATCH, &rules))
                .await;
            match result {
                Ok(n) if n > 0 => {
                    tracing::info!(bookings = n, "bookings past their arrival window marked no_show");
                    crate::metrics::bookings_no_show(n);
                    if (n as i64) < NO_SHOW_BATCH {
                        break;
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    report_failure("no-show sweep", e);
                    swept = false;
                    break;
                }
            }
        }
        if swept {
            since = since.max(round - SWEEP_MARGIN);
        }
    }
}

/// Frees the places of expired holds (offering them on to the waitlist,
/// lapsing expired offers) and closes waitlist entries whose window passed,
/// every `holds.sweep_interval_secs`. Every instance may run it: each hold
/// is ended by one guarded status change, so no place is freed twice.
async fn hold_sweep(state: web::Data<AppState>) {
    let every = Duration::from_secs(state.settings.holds.sweep_interval_secs.max(1));
    loop {
        tokio::time::sleep(every).await;
        loop {
            let (now, rules) = (state.clock.now(), state.bookings.clone());
            let result = state.db.write(move |conn| crate::services::holds::sweep(conn, now, &rules)).await;
            match result {
                Ok(n) if n as i64 >= crate::services::holds::SWEEP_BATCH => continue,
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(holds = n, "expired holds freed");
                    }
                    break;
                }
                Err(e) => {
                    report_failure("hold sweep", e);
                    break;
                }
            }
        }
    }
}

/// How far back the first no-show sweep after a start looks (bookings of
/// slots that ended longer ago while no instance ran stay `confirmed`).
const SWEEP_LOOKBACK: chrono::Duration = chrono::Duration::days(30);

/// Overlap between two sweep rounds, so that no slot falls between them.
const SWEEP_MARGIN: chrono::Duration = chrono::Duration::hours(1);

/// Keeps the rolling horizon of slots filled: at start, then periodically.
async fn slot_top_up(state: web::Data<AppState>) {
    let every = Duration::from_secs(state.settings.slots.topup_interval_minutes.max(1) * 60);
    let horizon = state.settings.slots.horizon_days;
    loop {
        let now = state.clock.now();
        let result = state.db.write(move |conn| crate::services::schedules::top_up_all(conn, horizon, now)).await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(slots_created = n, "slot horizon topped up"),
            Err(e) => report_failure("slot top-up", e),
        }
        tokio::time::sleep(every).await;
    }
}

/// Forgets idempotency keys past their 24 hours, every ten minutes.
async fn housekeeping(state: web::Data<AppState>) {
    loop {
        tokio::time::sleep(Duration::from_secs(600)).await;
        let now = state.clock.now();
        let result = state.db.write(move |conn| crate::services::bookings::prune_idempotency_keys(conn, now)).await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(keys_pruned = n, "idempotency keys pruned"),
            Err(e) => report_failure("idempotency key pruning", e),
        }
    }
}
