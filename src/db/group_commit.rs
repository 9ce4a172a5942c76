//! Group commit for SQLite's single writer.
//!
//! With `synchronous = FULL` every COMMIT waits for an fsync, and one writer
//! connection does them one after another: the disk, not the SQL, bounds how
//! many write requests a second SQLite serves. Here one thread owns the
//! writing. It takes the requests waiting for it, runs each inside its own
//! SAVEPOINT of one `BEGIN IMMEDIATE` transaction and COMMITs once: one fsync
//! for the whole batch. Nobody is answered before that COMMIT has returned,
//! so an acknowledged write is on disk exactly as before.
//!
//! - A request whose work returns `Err` (or panics) is rolled back to its own
//!   savepoint; the others in the batch go on.
//! - If a savepoint can no longer be rolled back, or the COMMIT fails, the
//!   whole batch is rolled back and every request in it is answered
//!   [`RunError::Unavailable`] (503, retryable): nothing of it was kept.
//! - A batch ends when the queue is empty, at [`MAX_JOBS`] requests or after
//!   [`MAX_BATCH_TIME`] of work. The writer never waits for more requests
//!   to arrive, so a lone request costs what it did before.
//! - A request still queued after the acquire timeout is answered
//!   [`RunError::PoolTimeout`] (503) and never run; one whose caller went
//!   away (client disconnected) before its turn is dropped unrun.
//! - The writer borrows the write pool's single connection for each batch
//!   and gives it back between batches, so direct users of that connection
//!   (migrations, the CLI) take turns with it rather than deadlock, and r2d2
//!   replaces the connection if it broke.
//! - The thread ends when the last [`Db`](super::Db) handle is dropped, after
//!   running and committing whatever was still queued.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use diesel::connection::TransactionManager;
use tokio::sync::oneshot;

use super::changes::{self, SiteVersions};
use super::connection::{DbConnection, DbPool, RunError};

/// Most requests in one transaction: bounds what one failed COMMIT costs.
pub const MAX_JOBS: usize = 64;
/// No new request joins a batch that has already run this long, so that a
/// batch's first request is not held back by many after it.
pub const MAX_BATCH_TIME: Duration = Duration::from_millis(5);

/// When a batch stops taking requests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_jobs: usize,
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_jobs: MAX_JOBS, max_time: MAX_BATCH_TIME }
    }
}

/// How the writer answers a request it did not (or could not) keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Waited in the queue past the acquire timeout.
    Timeout,
    /// The batch was rolled back (or its COMMIT failed).
    Unavailable,
}

/// What one job's work did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    Ok,
    Err,
    Panicked,
}

/// A request's state between its caller and the writer: whichever moves it
/// out of `QUEUED` first decides whether it runs.
const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

/// One request, its result type erased.
trait Work: Send {
    /// Claims the job for running; false if its caller gave up on it.
    fn take(&self) -> bool;
    /// Runs the work on the writer's connection (inside its savepoint).
    fn run(&mut self, conn: &mut DbConnection) -> Ran;
    /// Answers the caller: its own result once the batch committed.
    fn answer(self: Box<Self>, outcome: Result<(), Failure>);
    /// The caller's tracing span, entered while the work runs.
    fn span(&self) -> &tracing::Span;
}

struct Job<T, E, F> {
    work: Option<F>,
    result: Option<Result<T, E>>,
    panicked: bool,
    state: Arc<AtomicU8>,
    reply: oneshot::Sender<Result<T, RunError<E>>>,
    span: tracing::Span,
}

impl<T, E, F> Work for Job<T, E, F>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send,
    T: Send,
    E: Send,
{
    fn take(&self) -> bool {
        !self.reply.is_closed()
            && self.state.compare_exchange(QUEUED, TAKEN, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    fn run(&mut self, conn: &mut DbConnection) -> Ran {
        let Some(work) = self.work.take() else { return Ran::Panicked };
        match catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(Ok(value)) => {
                self.result = Some(Ok(value));
                Ran::Ok
            }
            Ok(Err(err)) => {
                self.result = Some(Err(err));
                Ran::Err
            }
            Err(_) => {
                self.panicked = true;
                Ran::Panicked
            }
        }
    }

    fn answer(self: Box<Self>, outcome: Result<(), Failure>) {
        let this = *self;
        let answer = match (outcome, this.result) {
            (Err(Failure::Timeout), _) => Err(RunError::PoolTimeout),
            _ if this.panicked => Err(RunError::Canceled),
            (Err(Failure::Unavailable), _) => Err(RunError::Unavailable),
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Ok(()), Some(Err(err))) => Err(RunError::Inner(err)),
            (Ok(()), None) => Err(RunError::Canceled),
        };
        // The caller may have gone away meanwhile; nothing to tell then.
        let _ = this.reply.send(answer);
    }

    fn span(&self) -> &tracing::Span {
        &self.span
    }
}

struct Queued {
    at: Instant,
    work: Box<dyn Work>,
}

/// Jobs run and COMMITs done by one writer (per handle, for tests; the
/// process-wide metrics count the same).
#[derive(Debug, Default)]
pub struct Stats {
    jobs: AtomicU64,
    commits: AtomicU64,
}

impl Stats {
    /// (jobs in committed batches, COMMITs).
    pub fn snapshot(&self) -> (u64, u64) {
        (self.jobs.load(Ordering::Relaxed), self.commits.load(Ordering::Relaxed))
    }
}

/// The handle callers queue work on; the thread behind it does the writing.
pub struct GroupCommit {
    queue: mpsc::Sender<Queued>,
    stats: Arc<Stats>,
    queue_timeout: Duration,
}

impl GroupCommit {
    /// Starts the writer thread over `pool` (the one-connection write pool).
    /// `versions` are bumped for the sites whose slots a batch changed,
    /// after its COMMIT and before anyone of it is answered.
    pub fn start(
        pool: DbPool,
        versions: Arc<SiteVersions>,
        queue_timeout: Duration,
        limits: Limits,
    ) -> std::io::Result<Self> {
        let (queue, rx) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let writer = Writer { pool, rx, stats: stats.clone(), versions, queue_timeout, limits };
        std::thread::Builder::new().name("sqlite-writer".into()).spawn(move || writer.run())?;
        Ok(Self { queue, stats, queue_timeout })
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Queues `f` and waits for its answer, which comes only after the
    /// batch holding it committed (or with the reason it was not kept).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let (reply, mut answer) = oneshot::channel();
        let state = Arc::new(AtomicU8::new(QUEUED));
        let job = Job {
            work: Some(f),
            result: None,
            panicked: false,
            state: state.clone(),
            reply,
            span: tracing::Span::current(),
        };
        self.queue.send(Queued { at: Instant::now(), work: Box::new(job) }).map_err(|_| RunError::Canceled)?;
        match tokio::time::timeout(self.queue_timeout, &mut answer).await {
            Ok(answer) => answer.unwrap_or(Err(RunError::Canceled)),
            Err(_) => {
                // Still queued: withdraw it, it will never run. Already taken:
                // it runs to the end, and its answer is the only true one.
                if state.compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    return Err(RunError::PoolTimeout);
                }
                answer.await.unwrap_or(Err(RunError::Canceled))
            }
        }
    }
}

struct Writer {
    pool: DbPool,
    rx: mpsc::Receiver<Queued>,
    stats: Arc<Stats>,
    versions: Arc<SiteVersions>,
    queue_timeout: Duration,
    limits: Limits,
}

impl Writer {
    fn run(self) {
        // `recv` hands out what is still queued before it reports that every
        // handle is gone: the queue drains before the thread ends.
        while let Ok(first) = self.rx.recv() {
            let Some(first) = self.claim(first) else { continue };
            self.batch(first);
        }
        tracing::debug!("sqlite writer stopped");
    }

    /// The job if it is still to be run; a stale one is answered here.
    fn claim(&self, queued: Queued) -> Option<Box<dyn Work>> {
        if queued.at.elapsed() > self.queue_timeout {
            if queued.work.take() {
                queued.work.answer(Err(Failure::Timeout));
            }
            return None;
        }
        queued.work.take().then_some(queued.work)
    }

    /// The next waiting job for the open batch, if it may still grow.
    fn next(&self, started: Instant, size: usize) -> Option<Box<dyn Work>> {
        while size < self.limits.max_jobs && started.elapsed() < self.limits.max_time {
            match self.rx.try_recv() {
                Ok(queued) => {
                    if let Some(work) = self.claim(queued) {
                        return Some(work);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    /// Runs `first` and whatever joins it in one transaction, then answers all.
    fn batch(&self, first: Box<dyn Work>) {
        let mut conn = match self.pool.get() {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "sqlite writer: no connection");
                first.answer(Err(Failure::Timeout));
                return;
            }
        };
        let conn: &mut DbConnection = &mut conn;
        if let Err(e) = begin(conn) {
            tracing::error!(error = %e, "sqlite writer: BEGIN IMMEDIATE failed");
            first.answer(Err(Failure::Unavailable));
            return;
        }
        let started = Instant::now();
        // Jobs that ran in the open batch, waiting for the COMMIT.
        let mut done: Vec<Box<dyn Work>> = Vec::new();
        // The sites whose slots the batch changed (`db::changes`).
        let (outcome, sites) = changes::collect(|| self.run_batch(conn, first, started, &mut done));
        // After the COMMIT, before any answer: a writer's next read of a
        // cached board sees its change (after a rollback, harmless).
        self.versions.bump(&sites);
        for work in done {
            work.answer(outcome);
        }
    }

    /// Runs `first` and the jobs that join it, then COMMITs (or rolls all
    /// back); the jobs that ran are left in `done` to be answered.
    fn run_batch(
        &self,
        conn: &mut DbConnection,
        first: Box<dyn Work>,
        started: Instant,
        done: &mut Vec<Box<dyn Work>>,
    ) -> Result<(), Failure> {
        let mut next = Some(first);
        let mut broken = None;
        while let Some(mut work) = next.take() {
            let span = work.span().clone();
            let kept = span.in_scope(|| run_in_savepoint(conn, work.as_mut()));
            done.push(work);
            if let Err(e) = kept {
                broken = Some(e);
                break;
            }
            next = self.next(started, done.len());
        }
        let outcome = match broken {
            Some(e) => {
                tracing::error!(error = %e, jobs = done.len(), "sqlite writer: batch rolled back");
                abort(conn);
                Err(Failure::Unavailable)
            }
            None => match <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn) {
                Ok(()) => {
                    let jobs = done.len() as u64;
                    self.stats.jobs.fetch_add(jobs, Ordering::Relaxed);
                    self.stats.commits.fetch_add(1, Ordering::Relaxed);
                    crate::metrics::group_commit(jobs);
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(error = %e, jobs = done.len(), "sqlite writer: COMMIT failed");
                    abort(conn);
                    Err(Failure::Unavailable)
                }
            },
        };
        outcome
    }
}

/// `BEGIN IMMEDIATE`: the write lock is taken up front, so no statement of
/// the batch fails half-way on a lock upgrade.
fn begin(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(inner) => {
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(_) => {
            Err(diesel::result::Error::QueryBuilderError("group commit is for SQLite only".into()))
        }
    }
}

/// The open transactions and savepoints on `conn` (1 = the batch itself).
fn depth(conn: &mut DbConnection) -> diesel::QueryResult<u32> {
    <DbConnection as TransactionManager<DbConnection>>::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map(|d| d.map_or(0, |d| d.get()))
}

/// Runs one job in its own savepoint: released when the work returned `Ok`,
/// rolled back to when it returned `Err` or panicked. `Err` here means the
/// batch itself can no longer be trusted (a savepoint would not roll back).
fn run_in_savepoint(conn: &mut DbConnection, work: &mut dyn Work) -> diesel::QueryResult<()> {
    type Tm = DbConnection;
    <Tm as TransactionManager<Tm>>::begin_transaction(conn)?;
    let ran = work.run(conn);
    // A panic inside a nested `conn.transaction` leaves its savepoints open:
    // close them first, so that the next step acts on this job's own.
    while depth(conn)? > 2 {
        <Tm as TransactionManager<Tm>>::rollback_transaction(conn)?;
    }
    if ran == Ran::Panicked {
        tracing::error!("sqlite writer: a job panicked; rolled back to its savepoint");
    }
    match ran {
        Ran::Ok => <Tm as TransactionManager<Tm>>::commit_transaction(conn)?,
        Ran::Err | Ran::Panicked => <Tm as TransactionManager<Tm>>::rollback_transaction(conn)?,
    }
    // Whatever happened inside, the batch must be where it began.
    match depth(conn)? {
        1 => Ok(()),
        other => Err(diesel::result::Error::QueryBuilderError(
            format!("transaction depth {other} after a job, expected 1").into(),
        )),
    }
}

/// Rolls the whole batch back. If even that fails, the transaction is left
/// open, diesel reports the connection broken and r2d2 replaces it.
fn abort(conn: &mut DbConnection) {
    while matches!(depth(conn), Ok(d) if d > 0) {
        if let Err(e) = <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn) {
            tracing::error!(error = %e, "sqlite writer: rollback failed; the connection will be replaced");
            return;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::db::connection::ConnectionManager;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::r2d2;
    use diesel::sql_types::BigInt;

    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }

    /// A one-connection pool on a new SQLite file with a table `t` whose
    /// `parent` is a deferred foreign key (checked only at COMMIT).
    fn pool(dir: &tempfile::TempDir) -> DbPool {
        let url = format!("sqlite://{}", dir.path().join("gc.db").display());
        let pool = r2d2::Pool::builder().max_size(1).build(ConnectionManager::new(&url, 5).unwrap()).unwrap();
        pool.get()
            .unwrap()
            .batch_execute(
                "CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE t (id INTEGER PRIMARY KEY,
                     parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
            )
            .unwrap();
        pool
    }

    fn ids(pool: &DbPool) -> Vec<i64> {
        let mut conn = pool.get().unwrap();
        let DbConnection::Sqlite(conn) = &mut *conn else { panic!("SQLite only") };
        diesel::sql_query("SELECT id FROM t ORDER BY id").load::<Id>(conn).unwrap().into_iter().map(|r| r.id).collect()
    }

    fn insert(conn: &mut DbConnection, id: i64, parent: Option<i64>) -> diesel::QueryResult<usize> {
        let DbConnection::Sqlite(conn) = conn else { panic!("SQLite only") };
        diesel::sql_query(format!(
            "INSERT INTO t (id, parent) VALUES ({id}, {})",
            parent.map_or("NULL".into(), |p| p.to_string())
        ))
        .execute(conn)
    }

    type Answer = Result<(), RunError<diesel::result::Error>>;

    /// Holds the writer for a while, so that what is queued meanwhile
    /// forms the next batch.
    /// A writer over `pool` (batches of up to 64, no time limit) with its
    /// first batch held open, so that jobs queued now all join it.
    async fn writer_held(pool: &DbPool) -> (Arc<GroupCommit>, tokio::task::JoinHandle<Answer>) {
        let limits = Limits { max_jobs: 64, max_time: Duration::from_secs(10) };
        let gc = Arc::new(GroupCommit::start(pool.clone(), Arc::default(), Duration::from_secs(10), limits).unwrap());
        let holder = hold_writer(&gc);
        tokio::time::sleep(Duration::from_millis(100)).await;
        (gc, holder)
    }

    fn hold_writer(gc: &Arc<GroupCommit>) -> tokio::task::JoinHandle<Answer> {
        let gc = gc.clone();
        tokio::spawn(async move {
            gc.write(|_conn| -> diesel::QueryResult<()> {
                std::thread::sleep(Duration::from_millis(300));
                Ok(())
            })
            .await
        })
    }

    /// Queues one job per id; `job(conn, id)` is its work.
    fn queue<F>(gc: &Arc<GroupCommit>, ids: std::ops::Range<i64>, job: F) -> Vec<tokio::task::JoinHandle<(i64, Answer)>>
    where
        F: Fn(&mut DbConnection, i64) -> diesel::QueryResult<()> + Send + Sync + Copy + 'static,
    {
        ids.map(|id| {
            let gc = gc.clone();
            tokio::spawn(async move { (id, gc.write(move |conn| job(conn, id)).await) })
        })
        .collect()
    }

    async fn answers(handles: Vec<tokio::task::JoinHandle<(i64, Answer)>>) -> Vec<(i64, Answer)> {
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_or_panicking_job_rolls_back_alone_and_one_commit_serves_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir);
        let (gc, holder) = writer_held(&pool).await;
        // Every job writes its row; job 7 then fails, job 11 panics inside a
        // nested transaction (a savepoint of its own savepoint).
        let handles = queue(&gc, 0..20, |conn, id| {
            insert(conn, id, None)?;
            match id {
                7 => Err(diesel::result::Error::RollbackTransaction),
                11 => conn.transaction(|conn| {
                    insert(conn, 1000 + id, None)?;
                    panic!("job 11 breaks");
                }),
                _ => Ok(()),
            }
        });
        holder.await.unwrap().unwrap();
        for (id, answer) in answers(handles).await {
            match id {
                7 => assert!(matches!(answer, Err(RunError::Inner(diesel::result::Error::RollbackTransaction)))),
                11 => assert!(matches!(answer, Err(RunError::Canceled))),
                _ => assert!(answer.is_ok(), "job {id}: {answer:?}"),
            }
        }
        let expected: Vec<i64> = (0..20).filter(|id| *id != 7 && *id != 11).collect();
        assert_eq!(ids(&pool), expected);
        // The 20 queued behind the holder joined its batch: one COMMIT.
        assert_eq!(gc.stats().snapshot(), (21, 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_fails_every_job_of_its_batch_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir);
        let (gc, holder) = writer_held(&pool).await;
        // Job 3 names a parent that does not exist: each job's own work
        // succeeds, the COMMIT's deferred foreign-key check fails.
        let handles = queue(&gc, 0..6, |conn, id| insert(conn, id, (id == 3).then_some(999)).map(drop));
        // They join the holder's batch, which fails as a whole.
        let held = holder.await.unwrap();
        assert!(matches!(held, Err(RunError::Unavailable)), "{held:?}");
        for (id, answer) in answers(handles).await {
            assert!(matches!(answer, Err(RunError::Unavailable)), "job {id}: {answer:?}");
        }
        assert_eq!(ids(&pool), Vec::<i64>::new(), "nothing of the batch was kept");
        assert_eq!(gc.stats().snapshot(), (0, 0), "no batch committed");
        // The writer and its connection are still fine.
        gc.write(|conn| insert(conn, 42, None)).await.unwrap();
        assert_eq!(ids(&pool), vec![42]);
        assert_eq!(gc.stats().snapshot(), (1, 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_queued_past_the_timeout_is_answered_busy_and_never_runs() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir);
        let gc = Arc::new(
            GroupCommit::start(pool.clone(), Arc::default(), Duration::from_millis(100), Limits::default()).unwrap(),
        );
        let holder = hold_writer(&gc);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let late = gc.write(|conn| insert(conn, 1, None)).await;
        assert!(matches!(late, Err(RunError::PoolTimeout)), "{late:?}");
        // The job already running when the wait ran out still gets its answer.
        holder.await.unwrap().unwrap();
        gc.write(|conn| insert(conn, 2, None)).await.unwrap();
        assert_eq!(ids(&pool), vec![2]);
    }
}
