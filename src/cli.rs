//! Command-line entry points.

use std::io::BufRead;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use crate::config::{Profile, Settings};
use crate::db::Db;
use crate::domain::identity::{check_password, Email, Role};
use crate::startup::Application;

#[derive(Debug, Parser)]
#[command(name = "clearway", version, about = "Customs declarations and 24/7 clearance slot reservations")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a customs supervisor; the password is read from stdin (one line).
    CreateSupervisor {
        #[arg(long)]
        email: String,
        /// The name shown for this account (default "Customs supervisor").
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Create the demo data (idempotent; development profile only).
    SeedDemo,
    /// Exit 0 if the local server answers /health/ready (container health check).
    Healthcheck,
}

/// Parses the command line and runs the command.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    crate::telemetry::init(&settings.log);
    crate::error::set_public_url(&settings.server.public_url);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let applied =
                crate::db::migrations::run_for_url(&settings.database.url, settings.database.connect_timeout_secs)?;
            if applied.is_empty() {
                println!("database is up to date; nothing to apply");
            } else {
                println!("applied {} migration(s): {}", applied.len(), applied.join(", "));
            }
            Ok(())
        }
        Command::CreateSupervisor { email, display_name } => {
            create_supervisor(&settings, &email, display_name.as_deref())
        }
        Command::Healthcheck => healthcheck(&settings),
        Command::SeedDemo => {
            if settings.profile == Profile::Production {
                bail!("demo data is for the development profile only");
            }
            let db = connect_migrated(&settings)?;
            let accounts = crate::services::demo::seed(&db, &crate::state::rules_of(&settings))?;
            crate::services::demo::print_accounts(&accounts);
            Ok(())
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let seed = settings.demo.seed_on_start && settings.profile == Profile::Development;
        let app = Application::build(settings.clone()).await?;
        if seed {
            let (db, rules) = (app.state().db.clone(), app.state().bookings.clone());
            let accounts = tokio::task::spawn_blocking(move || crate::services::demo::seed(&db, &rules)).await??;
            crate::services::demo::print_accounts(&accounts);
        }
        println!(
            "Clearway console: http://{}:{}/   API docs: http://{}:{}/docs",
            settings.server.host,
            app.port(),
            settings.server.host,
            app.port()
        );
        tracing::info!(
            profile = %settings.profile,
            address = %format!("http://{}:{}", settings.server.host, app.port()),
            database = %crate::db::connection::redact_url(&settings.database.url),
            "clearway listening"
        );
        app.run_until_stopped().await.context("server stopped with an error")
    })
}

fn connect_migrated(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database)?;
    let mut conn = db.write_conn().context("opening a connection")?;
    crate::db::migrations::run_pending(&mut conn)?;
    Ok(db)
}

/// Display name of a supervisor created without `--display-name`.
const DEFAULT_SUPERVISOR_NAME: &str = "Customs supervisor";

fn create_supervisor(settings: &Settings, email: &str, display_name: Option<&str>) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|m| anyhow::anyhow!("--email: {m}"))?.into_inner();
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password).context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    check_supervisor_password(password, &email, display_name)?;
    let display_name = display_name.unwrap_or(DEFAULT_SUPERVISOR_NAME);
    let hash = crate::auth::password::hash_blocking(password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = connect_migrated(settings)?;
    let mut conn = db.write_conn().context("opening a connection")?;
    let user = db
        .transaction(&mut conn, |conn| {
            crate::services::identity::create_user(
                conn,
                None,
                &email,
                display_name,
                Role::Supervisor,
                &hash,
                crate::db::now(),
            )
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("created supervisor {} ({})", user.email, user.id);
    Ok(())
}

/// The password rules, against the name the operator gave: the default
/// name is nobody's, so "customs" or "supervisor" in a password is no leak.
/// A refusal names what the password was compared with.
fn check_supervisor_password(password: &str, email: &str, display_name: Option<&str>) -> anyhow::Result<()> {
    check_password(password, email, display_name.unwrap_or("")).map_err(|m| match display_name {
        Some(name) if m.contains("your name") => anyhow::anyhow!("password refused: {m} (--display-name {name:?})"),
        _ if m.contains("email") => anyhow::anyhow!("password refused: {m} (--email {email})"),
        _ => anyhow::anyhow!("password refused: {m}"),
    })
}

/// A plain HTTP/1.0 probe of the local server: the runtime image carries no curl.
fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    use std::time::Duration;
    let host = if settings.server.host == "0.0.0.0" { "127.0.0.1" } else { settings.server.host.as_str() };
    let addr = format!("{host}:{}", settings.server.port);
    let sock = addr.parse().with_context(|| format!("address {addr}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(2))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.write_all(b"GET /health/ready HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut head = [0u8; 16];
    let n = stream.read(&mut head)?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    if status_line.starts_with("HTTP/1.1 200") || status_line.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        bail!("not ready: {}", status_line.lines().next().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_supervisor_name_does_not_refuse_a_password() {
        assert!(check_supervisor_password("customs-supervisor-2026", "chief@customs.example", None).is_ok());
    }

    #[test]
    fn a_refusal_names_what_the_password_was_compared_with() {
        let e = check_supervisor_password("Marta-Kowalska-2026", "chief@customs.example", Some("Marta Kowalska"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(e, "password refused: password must not contain your name (--display-name \"Marta Kowalska\")");
        let e = check_supervisor_password("chief-of-customs-2026", "chief@customs.example", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.ends_with("(--email chief@customs.example)"), "{e}");
    }
}
