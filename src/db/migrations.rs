//! Embedded migrations, one folder per backend with the same versions.

use anyhow::{anyhow, Context};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::connection::{ConnectionManager, DbConnection};
use diesel::connection::SimpleConnection;
use diesel::r2d2::ManageConnection;

/// Advisory lock key that serialises migrations across instances ("CLRWAY").
const MIGRATION_LOCK: i64 = 0x434c_5257_4159;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies every pending migration; returns the versions it applied
/// (empty when the database was already current).
pub fn run_pending(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map(versions),
        DbConnection::Postgres(c) => {
            // Several instances start together: one migrates, the others
            // wait on this session lock and then find nothing pending.
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .map_err(|e| anyhow!("taking the migration lock: {e}"))?;
            let result = c.run_pending_migrations(POSTGRES).map(versions);
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                .map_err(|e| anyhow!("releasing the migration lock: {e}"))?;
            result
        }
    };
    applied.map_err(|e| anyhow!("applying migrations: {e}"))
}

/// Reverts every applied migration (used by the up → down → up test).
pub fn revert_all(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let reverted = match conn {
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE).map(versions),
        DbConnection::Postgres(c) => c.revert_all_migrations(POSTGRES).map(versions),
    };
    reverted.map_err(|e| anyhow!("reverting migrations: {e}"))
}

/// Reverts the latest applied migration; returns its version (used by the
/// tests that migrate data from one version to the next and back).
pub fn revert_last(conn: &mut DbConnection) -> anyhow::Result<String> {
    let reverted = match conn {
        DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE).map(|v| v.to_string()),
        DbConnection::Postgres(c) => c.revert_last_migration(POSTGRES).map(|v| v.to_string()),
    };
    reverted.map_err(|e| anyhow!("reverting the last migration: {e}"))
}

/// Opens one connection to `url` and applies pending migrations.
pub fn run_for_url(url: &str, connect_timeout_secs: u64) -> anyhow::Result<Vec<String>> {
    let manager = ConnectionManager::new(url, connect_timeout_secs)?;
    let mut conn =
        manager.connect().with_context(|| format!("cannot connect to {}", super::connection::redact_url(url)))?;
    run_pending(&mut conn)
}

fn versions(v: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    v.into_iter().map(|m| m.to_string()).collect()
}
