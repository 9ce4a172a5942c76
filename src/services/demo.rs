//! Demo data for the development profile: known accounts, printed at start.

use anyhow::Context;

use crate::db::connection::write_transaction;
use crate::db::{enterprises, users, Db};
use crate::domain::identity::{EnterpriseAction, Role};
use crate::error::AppError;
use crate::services::identity::{self, Registration};

/// A demo account to print.
pub struct DemoAccount {
    pub role: &'static str,
    pub email: &'static str,
    pub password: &'static str,
}

/// Demo password of every demo account (development profile only).
pub const DEMO_PASSWORD: &str = "clearway-demo-2026";

const SUPERVISOR: &str = "supervisor@demo.clearway.test";
const OFFICER: &str = "officer@demo.clearway.test";
const COMPANY_ADMIN: &str = "admin@kashgar-trading.demo.test";
const COMPANY_CLERK: &str = "clerk@kashgar-trading.demo.test";

/// Creates what is missing of the demo data; running it again changes nothing.
pub fn seed(db: &Db) -> anyhow::Result<Vec<DemoAccount>> {
    let mut conn = db.write_conn().context("opening a connection for demo data")?;
    let hash = crate::auth::password::hash_blocking(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    write_transaction(&mut conn, |conn| -> Result<(), AppError> {
        let now = crate::db::now();
        let actor = crate::db::audit::Actor { user_id: None, role: Some("system".into()), request_id: None };
        for (email, name, role) in
            [(SUPERVISOR, "Demo Supervisor", Role::Supervisor), (OFFICER, "Demo Officer", Role::Officer)]
        {
            if users::find_by_email(conn, email)?.is_none() {
                identity::create_user(conn, None, email, name, role, &hash, now)?;
            }
        }
        if users::find_by_email(conn, COMPANY_ADMIN)?.is_none() {
            let reg = Registration {
                legal_name: "Kashgar Silk Road Trading Co., Ltd.".into(),
                country: "CN".into(),
                registration_code: "91350100M000100Y43".into(),
                email: COMPANY_ADMIN.into(),
                display_name: "Demo Company Admin".into(),
                password_hash: hash.clone(),
            };
            let (enterprise, _) = identity::register(conn, &reg, &actor, now)?;
            identity::change_enterprise_status(conn, &enterprise.id, EnterpriseAction::Verify, None, &actor, now)?;
            identity::create_user(
                conn,
                Some(&enterprise.id),
                COMPANY_CLERK,
                "Demo Clerk",
                Role::CompanyClerk,
                &hash,
                now,
            )?;
        }
        let _ = enterprises::find;
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("seeding demo data: {e}"))?;
    Ok(vec![
        DemoAccount { role: "supervisor", email: SUPERVISOR, password: DEMO_PASSWORD },
        DemoAccount { role: "officer", email: OFFICER, password: DEMO_PASSWORD },
        DemoAccount { role: "company_admin", email: COMPANY_ADMIN, password: DEMO_PASSWORD },
        DemoAccount { role: "company_clerk", email: COMPANY_CLERK, password: DEMO_PASSWORD },
    ])
}

/// Prints the demo accounts (development only: these are public knowledge).
pub fn print_accounts(accounts: &[DemoAccount]) {
    println!("Demo accounts (development profile only):");
    for a in accounts {
        println!("  {:<14} {:<36} password: {}", a.role, a.email, a.password);
    }
}
