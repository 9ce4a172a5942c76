//! The public board's answers kept in memory (issue 19): a map from a
//! board query to its finished body and ETag, in front of
//! [`public_board::load`](super::public_board::load).
//!
//! Fresh on this instance: each answer carries its site's version
//! ([`SiteVersions`]) read before its database read; every write
//! transaction that changed a slot of the site bumps that version after
//! its commit and before its writer is answered, so an answer read before
//! the change is never served after it. Another instance on the same
//! database bumps its own versions only: there an answer is at most `ttl`
//! old (`[public] cache_ttl_ms`), counted from before its read.
//!
//! Bounded: at most `max_entries` answers and `max_bytes` of bodies;
//! past either, expired answers go first, then the oldest. Only what the
//! board shows is kept (free places, never who booked), and unknown site
//! codes are not kept at all.
//!
//! Many requests for one missing answer share one database read (a
//! "flight"): the first runs it, the others wait for it without a lock
//! held (a `tokio` cell) and take it if no write came in between.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::public_board::{BoardAnswer, BoardQuery};
use crate::db::changes::SiteVersions;
use crate::error::AppError;

/// An answer as read, with what tells whether it is still current.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub answer: BoardAnswer,
    /// The site the answer shows.
    pub site_id: String,
    /// The site's version before the read.
    pub version: u64,
    /// When the read began (its data is at least this recent).
    pub read_at: Instant,
}

/// The settings of the cache (`[public]`).
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    /// Longest an answer is served (0: no cache).
    pub ttl: Duration,
    pub max_entries: usize,
    pub max_bytes: usize,
}

/// One read shared by the requests that asked for the same answer at
/// once: `None` inside when the read failed (each waiter then reads on
/// its own, so that an error reaches its requester only).
type Flight = OnceCell<Option<Option<Stamped>>>;

/// The cache; one per app instance.
pub struct BoardCache {
    limits: CacheLimits,
    versions: Arc<SiteVersions>,
    entries: Mutex<Entries>,
    flights: Mutex<HashMap<BoardQuery, Arc<Flight>>>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<BoardQuery, Stamped>,
    bytes: usize,
}

/// What an entry counts against `max_bytes`: its body, key and bookkeeping.
fn size_of(q: &BoardQuery, s: &Stamped) -> usize {
    s.answer.body.len() + s.answer.etag.len() + q.code.len() + s.site_id.len() + 160
}

/// Leaves the flight map when the last request of a flight is done with
/// it, also when a request is dropped half-way (its client went away).
struct Boarding<'a> {
    cache: &'a BoardCache,
    query: &'a BoardQuery,
    flight: Arc<Flight>,
}

impl Drop for Boarding<'_> {
    fn drop(&mut self) {
        let mut flights = lock(&self.cache.flights);
        let ours = flights.get(self.query).is_some_and(|f| Arc::ptr_eq(f, &self.flight));
        // The map's reference and ours: nobody else waits on it.
        if ours && Arc::strong_count(&self.flight) <= 2 {
            flights.remove(self.query);
        }
    }
}

/// Locks a map whose every change is one insert or removal: a panic
/// elsewhere cannot leave it half-changed, so a poisoned lock is used as is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl BoardCache {
    pub fn new(limits: CacheLimits, versions: Arc<SiteVersions>) -> Self {
        Self { limits, versions, entries: Mutex::default(), flights: Mutex::default() }
    }

    /// The answer to `q`: a kept one if still current, else the result of
    /// `load` (one database read, shared with whoever asks the same at
    /// once). `None`: no site has that code.
    pub async fn answer<F, Fut>(&self, q: &BoardQuery, load: F) -> Result<Option<BoardAnswer>, AppError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<Stamped>, AppError>>,
    {
        if self.limits.ttl.is_zero() {
            crate::metrics::board_cache("miss");
            return Ok(load().await?.map(|s| s.answer));
        }
        if let Some(answer) = self.lookup(q) {
            crate::metrics::board_cache("hit");
            return Ok(Some(answer));
        }
        let boarding = self.board(q);
        let ran = AtomicBool::new(false);
        let mut own_error = None;
        let shared = boarding
            .flight
            .get_or_init(|| async {
                ran.store(true, Ordering::Relaxed);
                match load().await {
                    Ok(read) => Some(read),
                    Err(e) => {
                        own_error = Some(e);
                        None
                    }
                }
            })
            .await
            .clone();
        if let Some(e) = own_error {
            return Err(e);
        }
        let ran = ran.load(Ordering::Relaxed);
        match shared {
            // Our own read answers us even if a write came in meanwhile:
            // it began after we asked.
            Some(Some(s)) if ran || self.is_current(&s) => {
                self.store(q, &s);
                drop(boarding);
                crate::metrics::board_cache(if ran { "miss" } else { "shared" });
                Ok(Some(s.answer))
            }
            Some(None) if ran => Ok(None),
            // Another request's read that a write overtook, failed, or found
            // no site (that may be new): a read of our own, begun after we asked.
            _ => {
                drop(boarding);
                crate::metrics::board_cache("miss");
                let read = load().await?;
                if let Some(s) = &read {
                    self.store(q, s);
                }
                Ok(read.map(|s| s.answer))
            }
        }
    }

    /// Whether no write changed the answer's site since its read began,
    /// and it is not older than the TTL.
    fn is_current(&self, s: &Stamped) -> bool {
        s.read_at.elapsed() < self.limits.ttl && self.versions.of(&s.site_id) == s.version
    }

    /// The kept answer to `q` if it is current; a stale one is dropped.
    fn lookup(&self, q: &BoardQuery) -> Option<BoardAnswer> {
        let kept = lock(&self.entries).map.get(q).cloned()?;
        if self.is_current(&kept) {
            return Some(kept.answer);
        }
        let mut entries = lock(&self.entries);
        if entries.map.get(q).is_some_and(|e| e.read_at == kept.read_at) {
            if let Some(old) = entries.map.remove(q) {
                entries.bytes = entries.bytes.saturating_sub(size_of(q, &old));
            }
        }
        None
    }

    /// Joins the read of `q` under way, or starts one.
    fn board<'a>(&'a self, q: &'a BoardQuery) -> Boarding<'a> {
        let mut flights = lock(&self.flights);
        let flight = flights.entry(q.clone()).or_default();
        // A finished read that failed or was overtaken by a write is no
        // use to newcomers: they start a new one.
        let spent = match flight.get() {
            Some(Some(Some(s))) => !self.is_current(s),
            Some(_) => true,
            None => false,
        };
        if spent {
            *flight = Arc::default();
        }
        Boarding { cache: self, query: q, flight: flight.clone() }
    }

    /// Keeps `s` as the answer to `q` if it is current and newer than
    /// the one kept, within the limits.
    fn store(&self, q: &BoardQuery, s: &Stamped) {
        if !self.is_current(s) {
            return;
        }
        let size = size_of(q, s);
        if size > self.limits.max_bytes / 4 {
            return;
        }
        let mut entries = lock(&self.entries);
        if entries.map.get(q).is_some_and(|kept| kept.read_at >= s.read_at) {
            return;
        }
        if let Some(old) = entries.map.insert(q.clone(), s.clone()) {
            entries.bytes = entries.bytes.saturating_sub(size_of(q, &old));
        }
        entries.bytes += size;
        if entries.map.len() > self.limits.max_entries || entries.bytes > self.limits.max_bytes {
            self.make_room(&mut entries);
        }
    }

    /// Drops stale answers, then the oldest, until within the limits.
    fn make_room(&self, entries: &mut Entries) {
        let Entries { map, bytes } = entries;
        map.retain(|k, e| {
            let keep = self.is_current(e);
            if !keep {
                *bytes = bytes.saturating_sub(size_of(k, e));
            }
            keep
        });
        while map.len() > self.limits.max_entries || *bytes > self.limits.max_bytes {
            let Some(oldest) = map.iter().min_by_key(|(_, e)| e.read_at).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some(e) = map.remove(&oldest) {
                *bytes = bytes.saturating_sub(size_of(&oldest, &e));
            }
        }
    }

    /// Answers kept and the bytes they count (for tests).
    pub fn usage(&self) -> (usize, usize) {
        let e = lock(&self.entries);
        (e.map.len(), e.bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use chrono::{TimeZone, Utc};

    use super::*;

    fn query(n: i64) -> BoardQuery {
        let from = Utc.with_ymd_and_hms(2026, 12, 8, 0, 0, 0).unwrap() + chrono::Duration::hours(n);
        BoardQuery { code: "CNURC".into(), mode: None, from, to: from + chrono::Duration::hours(1) }
    }

    fn cache(ttl_ms: u64, max_entries: usize) -> (BoardCache, Arc<SiteVersions>) {
        let versions = Arc::new(SiteVersions::default());
        let limits = CacheLimits { ttl: Duration::from_millis(ttl_ms), max_entries, max_bytes: 1 << 20 };
        (BoardCache::new(limits, versions.clone()), versions)
    }

    /// A loader that counts its reads and answers `body` for site `s1`.
    fn loader<'a>(
        versions: &'a SiteVersions,
        reads: &'a AtomicUsize,
        body: &'a str,
    ) -> impl Fn() -> std::future::Ready<Result<Option<Stamped>, AppError>> + 'a {
        move || {
            reads.fetch_add(1, Ordering::SeqCst);
            let read_at = Instant::now();
            let version = versions.of("s1");
            let answer = BoardAnswer::of(&body).unwrap();
            std::future::ready(Ok(Some(Stamped { answer, site_id: "s1".into(), version, read_at })))
        }
    }

    #[tokio::test]
    async fn a_kept_answer_is_served_until_its_site_changes() {
        let (c, v) = cache(60_000, 10);
        let reads = AtomicUsize::new(0);
        let q = query(0);
        let a = c.answer(&q, loader(&v, &reads, "one")).await.unwrap().unwrap();
        let b = c.answer(&q, loader(&v, &reads, "two")).await.unwrap().unwrap();
        assert_eq!((a.etag == b.etag, reads.load(Ordering::SeqCst)), (true, 1));
        v.bump(&["other".to_owned()]);
        c.answer(&q, loader(&v, &reads, "two")).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 1, "another site's change keeps the answer");
        v.bump(&["s1".to_owned()]);
        let c2 = c.answer(&q, loader(&v, &reads, "two")).await.unwrap().unwrap();
        assert_eq!((c2.body.as_ref(), reads.load(Ordering::SeqCst)), (b"\"two\"".as_ref(), 2));
    }

    #[tokio::test]
    async fn an_answer_expires_after_the_ttl() {
        let (c, v) = cache(30, 10);
        let reads = AtomicUsize::new(0);
        c.answer(&query(0), loader(&v, &reads, "x")).await.unwrap();
        c.answer(&query(0), loader(&v, &reads, "x")).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(40)).await;
        c.answer(&query(0), loader(&v, &reads, "x")).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_ttl_means_no_cache() {
        let (c, v) = cache(0, 10);
        let reads = AtomicUsize::new(0);
        for _ in 0..3 {
            c.answer(&query(0), loader(&v, &reads, "x")).await.unwrap();
        }
        assert_eq!((reads.load(Ordering::SeqCst), c.usage().0), (3, 0));
    }

    #[tokio::test]
    async fn the_cache_keeps_at_most_its_entries() {
        let (c, v) = cache(60_000, 4);
        let reads = AtomicUsize::new(0);
        for n in 0..20 {
            c.answer(&query(n), loader(&v, &reads, "x")).await.unwrap();
        }
        assert_eq!(c.usage().0, 4);
        // The newest stay.
        c.answer(&query(19), loader(&v, &reads, "x")).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 20);
        assert!(lock(&c.flights).is_empty(), "finished flights leave the map");
    }

    #[tokio::test]
    async fn a_read_overtaken_by_a_write_is_not_kept() {
        let (c, v) = cache(60_000, 10);
        let reads = AtomicUsize::new(0);
        let q = query(0);
        let inner = loader(&v, &reads, "x");
        let answer = c
            .answer(&q, || {
                let r = inner();
                // A write commits between the read and its storing.
                v.bump(&["s1".to_owned()]);
                r
            })
            .await
            .unwrap();
        assert!(answer.is_some(), "the reader itself gets its read");
        assert_eq!(c.usage().0, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_for_one_missing_answer_share_a_read() {
        let (c, v) = cache(60_000, 10);
        let c = Arc::new(c);
        let reads = Arc::new(AtomicUsize::new(0));
        let q = query(0);
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (c, v, reads, q) = (c.clone(), v.clone(), reads.clone(), q.clone());
                tokio::spawn(async move {
                    c.answer(&q, || {
                        let (v, reads) = (v.clone(), reads.clone());
                        async move {
                            reads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            let answer = BoardAnswer::of(&"x").unwrap();
                            Ok(Some(Stamped {
                                answer,
                                site_id: "s1".into(),
                                version: v.of("s1"),
                                read_at: Instant::now(),
                            }))
                        }
                    })
                    .await
                    .unwrap()
                    .unwrap()
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert!(lock(&c.flights).is_empty());
    }
}
