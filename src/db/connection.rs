//! Connections, pools and transactions for both backends.
//!
//! The backend is picked from the URL scheme by our own r2d2 manager (never by
//! trying each backend in turn). SQLite has one writer at a time, so writes go
//! through a pool of exactly one connection, which one writer thread uses to
//! group queued transactions into one `BEGIN IMMEDIATE … COMMIT` (see
//! `group_commit`): writers queue instead of fighting over the file lock
//! (SQLITE_BUSY), and share one fsync per batch.
//! Reads get their own pool (WAL lets them run beside the writer).
//! PostgreSQL uses one pool for both, at READ COMMITTED.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use anyhow::{bail, Context};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::changes::{self, SiteVersions};
use super::group_commit::{GroupCommit, Limits};
use crate::config::DatabaseSettings;

/// One connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// Reads the backend from the URL scheme and returns it with the
    /// address diesel expects (a file path for SQLite).
    pub fn parse_url(url: &str) -> anyhow::Result<(Backend, String)> {
        if let Some(rest) = url.strip_prefix("sqlite://") {
            if rest.is_empty() {
                bail!("sqlite URL has no path: use sqlite://path/to/file.db");
            }
            Ok((Backend::Sqlite, rest.to_owned()))
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            Ok((Backend::Sqlite, rest.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok((Backend::Postgres, url.to_owned()))
        } else {
            bail!(
                "database URL must start with sqlite:// or postgres:// (got scheme {:?})",
                url.split(':').next().unwrap_or("")
            )
        }
    }
}

/// r2d2 manager that opens the backend named by the URL and prepares each
/// new connection (SQLite pragmas, PostgreSQL time zone).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    backend: Backend,
    address: String,
    /// SQLite: the writer's connection (its sub-journals in memory, see `connect`).
    writer: bool,
}

impl ConnectionManager {
    /// `connect_timeout_secs` bounds how long a PostgreSQL connect may hang.
    pub fn new(url: &str, connect_timeout_secs: u64) -> anyhow::Result<Self> {
        let (backend, mut address) = Backend::parse_url(url)?;
        if backend == Backend::Postgres && !address.contains("connect_timeout=") {
            let sep = if address.contains('?') { '&' } else { '?' };
            address = format!("{address}{sep}connect_timeout={}", connect_timeout_secs.max(1));
        }
        Ok(Self { backend, address, writer: false })
    }

    /// The same, for SQLite's one writing connection.
    fn for_writer(&self) -> Self {
        Self { writer: true, ..self.clone() }
    }
}

/// Errors of connecting and of pooled work.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("connecting: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("query: {0}")]
    Query(#[from] diesel::result::Error),
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.address)?;
                // Timestamps are stored as UTC TIMESTAMP; keep the session in UTC too.
                conn.batch_execute("SET TIME ZONE 'UTC'")?;
                Ok(DbConnection::Postgres(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.address)?;
                // WAL: readers run beside the one writer. FULL: a commit is on
                // disk before we answer (a booking acknowledged is never lost).
                // busy_timeout first: switching to WAL itself may meet a lock.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;",
                )?;
                if self.writer {
                    // Group commit runs each request in a SAVEPOINT: SQLite
                    // keeps the pages a savepoint changes, to roll it back,
                    // in a sub-journal, by default a temporary file written
                    // with a system call per page. In memory instead: a
                    // request's pages, freed when it is released.
                    conn.batch_execute("PRAGMA temp_store = MEMORY;")?;
                }
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking()
            || <DbConnection as TransactionManager<DbConnection>>::is_broken_transaction_manager(conn)
    }
}

/// A pool of connections to one backend.
pub type DbPool = Pool<ConnectionManager>;
/// A connection on loan from a pool.
pub type PooledConn = PooledConnection<ConnectionManager>;

/// Errors of running work on the database helper.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E> {
    /// No connection came free in time (answered as 503).
    #[error("database busy: no connection available")]
    PoolTimeout,
    /// The blocking thread pool was shut down or the closure panicked.
    #[error("blocking task failed")]
    Canceled,
    /// The work was rolled back with the group-commit batch it ran in (the
    /// batch's COMMIT failed): nothing of it was kept, a retry may succeed.
    #[error("database unavailable: the write was rolled back")]
    Unavailable,
    #[error(transparent)]
    Inner(E),
}

/// Handle to the database: the pools plus the backend they serve.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    read: DbPool,
    write: DbPool,
    /// Bound the blocking work queued per pool: requests wait here, on the
    /// async side and in arrival order, not in blocking threads.
    read_permits: Arc<Semaphore>,
    write_permits: Arc<Semaphore>,
    acquire_timeout: Duration,
    /// Per-site versions, bumped after each write transaction that changed
    /// a site's slots (`db::changes`).
    versions: Arc<SiteVersions>,
    /// SQLite's single writer, batching transactions into one COMMIT.
    group: Option<Arc<GroupCommit>>,
}

impl Db {
    /// Builds the pools and checks that the database answers, failing fast
    /// with a readable error when it does not.
    pub fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let manager = ConnectionManager::new(&settings.url, settings.connect_timeout_secs)?;
        let backend = manager.backend;
        if backend == Backend::Sqlite {
            ensure_parent_dir(&manager.address)?;
        }
        // Fail fast, with the driver's own reason, when the database cannot
        // be reached (rather than a pool that retries in the background).
        manager
            .connect()
            .with_context(|| format!("cannot connect to the {backend:?} database at {}", redact_url(&settings.url)))?;
        let build = |size: u32| -> DbPool {
            Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                // No `SELECT 1` at every checkout (a round trip per request):
                // a connection that died (database restart) fails its next
                // statement, diesel then finds libpq's status unknown and
                // marks it broken, and r2d2 drops it on return — one 503, not
                // a dead connection lent out again (tests/api/platform.rs).
                .test_on_check_out(false)
                .connection_timeout(Duration::from_secs(settings.acquire_timeout_secs.max(1)))
                .build_unchecked(manager.clone())
        };
        let read = build(settings.pool_size);
        let write = match backend {
            Backend::Sqlite => Pool::builder()
                .max_size(1)
                .min_idle(Some(1))
                .test_on_check_out(false)
                .connection_timeout(Duration::from_secs(settings.acquire_timeout_secs.max(1)))
                .build_unchecked(manager.for_writer()),
            Backend::Postgres => read.clone(),
        };
        let write_size = if backend == Backend::Sqlite { 1 } else { settings.pool_size as usize };
        let acquire_timeout = Duration::from_secs(settings.acquire_timeout_secs.max(1));
        let versions: Arc<SiteVersions> = Arc::default();
        let group = match backend {
            Backend::Sqlite => Some(Arc::new(
                GroupCommit::start(write.clone(), versions.clone(), acquire_timeout, Limits::default())
                    .context("starting the SQLite writer thread")?,
            )),
            Backend::Postgres => None,
        };
        Ok(Self {
            backend,
            read,
            write,
            read_permits: Arc::new(Semaphore::new(settings.pool_size as usize)),
            write_permits: Arc::new(Semaphore::new(write_size)),
            acquire_timeout,
            versions,
            group,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The per-site versions this handle's write transactions bump.
    pub fn site_versions(&self) -> Arc<SiteVersions> {
        self.versions.clone()
    }

    /// [`write_transaction`] on a connection of this handle's write pool,
    /// on the calling (blocking) thread, then a bump of the versions of
    /// the sites whose slots it changed: after the commit, and before the
    /// caller can answer anyone. After a rollback the bump is harmless.
    pub fn transaction<T, E, F>(&self, conn: &mut DbConnection, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let (result, sites) = changes::collect(|| write_transaction(conn, f));
        self.versions.bump(&sites);
        result
    }

    /// Connections of each pool (`read`, and `write` on SQLite), for metrics.
    pub fn pool_states(&self) -> Vec<(&'static str, r2d2::State)> {
        match self.backend {
            Backend::Sqlite => vec![("read", self.read.state()), ("write", self.write.state())],
            Backend::Postgres => vec![("main", self.read.state())],
        }
    }

    /// A read connection, waiting at most the pool's acquire timeout.
    pub fn read_conn(&self) -> Result<PooledConn, r2d2::PoolError> {
        self.read.get()
    }

    /// Jobs and COMMITs of SQLite's group-commit writer (None on PostgreSQL).
    pub fn group_commit_stats(&self) -> Option<(u64, u64)> {
        self.group.as_ref().map(|g| g.stats().snapshot())
    }

    /// The write connection (the single writer on SQLite), for work outside
    /// a request (migrations, the CLI). On SQLite the group-commit writer
    /// borrows the same connection for each batch: hold it briefly, and
    /// never call [`Db::write`] while holding it (the writer would wait for
    /// it, up to the acquire timeout).
    pub fn write_conn(&self) -> Result<PooledConn, r2d2::PoolError> {
        self.write.get()
    }

    /// Waits (asynchronously) for a turn on a pool, at most the acquire
    /// timeout: past it the request is answered 503 with Retry-After.
    async fn permit<E>(&self, permits: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, RunError<E>> {
        match tokio::time::timeout(self.acquire_timeout, permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(RunError::Canceled),
            Err(_) => Err(RunError::PoolTimeout),
        }
    }

    /// Runs read-only work on a pooled connection, off the async executor,
    /// inside the caller's tracing span.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let pool = self.read.clone();
        let permit = self.permit(&self.read_permits).await?;
        crate::telemetry::spawn_blocking_in_span(move || {
            let _permit = permit;
            let mut conn = pool.get().map_err(|_| RunError::PoolTimeout)?;
            f(&mut conn).map_err(RunError::Inner)
        })
        .await
        .map_err(|_| RunError::Canceled)?
    }

    /// Runs `f` as one write transaction, off the async executor, inside the
    /// caller's tracing span; its changes are kept on `Ok`, rolled back on
    /// `Err`. On PostgreSQL that is its own `BEGIN … COMMIT`. On SQLite it is
    /// a savepoint in the single writer's current batch (see
    /// [`group_commit`](super::group_commit)); either way the answer comes
    /// after the COMMIT that made `f`'s changes durable, and after the
    /// versions of the sites whose slots it changed were bumped (see
    /// [`Db::transaction`]).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        if let Some(group) = &self.group {
            return group.write(f).await;
        }
        let db = self.clone();
        let permit = self.permit(&self.write_permits).await?;
        crate::telemetry::spawn_blocking_in_span(move || {
            let _permit = permit;
            let mut conn = db.write.get().map_err(|_| RunError::PoolTimeout)?;
            db.transaction(&mut conn, f).map_err(RunError::Inner)
        })
        .await
        .map_err(|_| RunError::Canceled)?
    }
}

/// How a PostgreSQL write transaction begins (see [`write_transaction`]).
pub const PG_BEGIN: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";

/// One write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock is
/// taken up front, so a transaction never fails half-way on lock upgrade),
/// plain `BEGIN` (READ COMMITTED) with generic plans on PostgreSQL.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?,
        // Generic plans: a write's statements find their rows by key, and
        // PostgreSQL would otherwise keep re-planning those whose custom
        // plan looks cheaper (the booking's declaration lock, with its
        // `= ANY($1)` list and subqueries), a planning run per booking that
        // cost more than the statement itself. One round trip with BEGIN.
        DbConnection::Postgres(inner) => AnsiTransactionManager::begin_transaction_sql(inner, PG_BEGIN)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            // The work's own error is what the caller needs; a failed
            // rollback marks the connection broken and r2d2 discards it.
            if let Err(rb) = <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn) {
                tracing::error!(error = %rb, "rollback failed");
            }
            Err(err)
        }
    }
}

fn ensure_parent_dir(path: &str) -> anyhow::Result<()> {
    if path == ":memory:" || path.starts_with("file:") {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating the database folder {}", parent.display()))?;
        }
    }
    Ok(())
}

/// The URL without its password, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
