//! Demo data for the development profile: known accounts, printed at start.

use anyhow::Context;

use crate::auth::Principal;
use crate::clock::Clock;
use crate::context::RequestContext;
use crate::db::{sites, users, Db, DbConnection};
use crate::domain::goods::TransportMode;
use crate::domain::identity::{EnterpriseAction, Role};
use crate::domain::ids::{EnterpriseId, SiteId};
use crate::domain::vehicle::{Driver, Vehicle, VisitDetails};
use crate::error::AppError;
use crate::services::bookings::{BookingRules, NewVisit};
use crate::services::identity::{self, Registration};

/// A demo account to print.
pub struct DemoAccount {
    pub role: Role,
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
pub fn seed(db: &Db, rules: &BookingRules) -> anyhow::Result<Vec<DemoAccount>> {
    let clock = Clock::system();
    let mut conn = db.write_conn().context("opening a connection for demo data")?;
    let hash = crate::auth::password::hash_blocking(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    db.transaction(&mut conn, |conn| -> Result<(), AppError> {
        let at = clock.now();
        let now = at.naive_utc();
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
            let officer = acting_as(conn, OFFICER, at)?;
            let id = EnterpriseId::new(enterprise.id.clone());
            identity::change_enterprise_status(conn, &officer, &id, EnterpriseAction::Verify, None)?;
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
        let supervisor = acting_as(conn, SUPERVISOR, at)?;
        seed_sites(conn, &supervisor)?;
        let admin = acting_as(conn, COMPANY_ADMIN, at)?;
        seed_declaration_and_booking(conn, &admin, rules)?;
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("seeding demo data: {e}"))?;
    Ok(vec![
        DemoAccount { role: Role::Supervisor, email: SUPERVISOR, password: DEMO_PASSWORD },
        DemoAccount { role: Role::Officer, email: OFFICER, password: DEMO_PASSWORD },
        DemoAccount { role: Role::CompanyAdmin, email: COMPANY_ADMIN, password: DEMO_PASSWORD },
        DemoAccount { role: Role::CompanyClerk, email: COMPANY_CLERK, password: DEMO_PASSWORD },
    ])
}

/// Prints the demo accounts (development only: these are public knowledge).
pub fn print_accounts(accounts: &[DemoAccount]) {
    println!("Demo accounts (development profile only; sites CNKHG, CNHGS, CNAKA, CNURC open 24/7):");
    for a in accounts {
        println!("  {:<14} {:<36} password: {}", a.role.as_str(), a.email, a.password);
    }
}

/// The four Xinjiang clearance sites, open 24/7 (Urumqi also by air).
const SITES: &[(&str, &str, &[TransportMode])] = &[
    ("CNKHG", "Kashgar Comprehensive Bonded Zone", &[TransportMode::Road, TransportMode::Rail]),
    ("CNHGS", "Horgos Comprehensive Bonded Zone", &[TransportMode::Road, TransportMode::Rail]),
    ("CNAKA", "Alataw Pass Comprehensive Bonded Zone", &[TransportMode::Road, TransportMode::Rail]),
    ("CNURC", "Urumqi Comprehensive Bonded Zone", &[TransportMode::Road, TransportMode::Rail, TransportMode::Air]),
];

/// The demo data is written as the demo accounts would write it, so that
/// its audit trail names them.
fn acting_as(
    conn: &mut DbConnection,
    email: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<RequestContext, AppError> {
    let user = users::find_by_email(conn, email)?.ok_or(AppError::NotFound)?;
    let caller = Principal { user_id: user.id, role: user.role, enterprise_id: user.enterprise_id };
    Ok(RequestContext { caller, request_id: None, now })
}

fn seed_sites(conn: &mut DbConnection, supervisor: &RequestContext) -> Result<(), AppError> {
    use crate::domain::schedule::Weekdays;
    use crate::services::schedules::{create_schedule, create_site, ScheduleShape, SiteInput};
    for (code, name, modes) in SITES {
        if sites::find_by_code(conn, code)?.is_some() {
            continue;
        }
        let input = SiteInput {
            code: (*code).to_owned(),
            name: (*name).to_owned(),
            // Chinese customs keep Beijing time; drivers and local staff read
            // Xinjiang's (Urumqi) and Kazakh drivers Almaty's.
            timezone: "Asia/Shanghai".to_owned(),
            modes: modes.to_vec(),
            display_zones: vec!["Asia/Urumqi".to_owned(), "Asia/Almaty".to_owned()],
        };
        let site = create_site(conn, supervisor, &input)?;
        for mode in *modes {
            let (slot_minutes, capacity) = match mode {
                TransportMode::Road => (60, 12),
                TransportMode::Rail => (120, 4),
                TransportMode::Air => (60, 2),
            };
            let shape = ScheduleShape {
                mode: *mode,
                slot_minutes,
                capacity,
                reserved_advanced: 0,
                release_minutes: 0,
                days: Weekdays::ALL,
                valid_from: None,
                valid_to: None,
            };
            create_schedule(conn, supervisor, &SiteId::new(site.id.clone()), &shape, 30)?;
        }
    }
    Ok(())
}

/// One submitted declaration with a booking tomorrow at Kashgar, so that
/// the console has something to show.
fn seed_declaration_and_booking(
    conn: &mut DbConnection,
    admin: &RequestContext,
    rules: &BookingRules,
) -> Result<(), AppError> {
    use crate::domain::declaration::{DeclarationAction, DeclarationKind};
    use crate::domain::declaration_form::{validate, DeclarationInput, ItemInput};
    use crate::domain::ids::{DeclarationId, SlotId};
    let enterprise_id = admin.caller.enterprise()?.to_owned();
    let filter = crate::db::declarations::DeclarationFilter {
        enterprise_id: Some(enterprise_id),
        limit: 1,
        ..Default::default()
    };
    if !crate::db::declarations::list_for_company(conn, &filter, None)?.is_empty() {
        return Ok(());
    }
    let Some(site) = sites::find_by_code(conn, "CNKHG")? else { return Ok(()) };
    let input = DeclarationInput {
        kind: DeclarationKind::Import.as_str().into(),
        site_id: site.id.clone(),
        transport_mode: TransportMode::Road.as_str().into(),
        consignor: "Almaty Textile LLP".into(),
        consignee: "Kashgar Silk Road Trading Co., Ltd.".into(),
        origin_country: "KZ".into(),
        destination_country: "CN".into(),
        currency: "CNY".into(),
        incoterm: "FCA".into(),
        invoice_total: "86400.00".into(),
        gross_mass_kg: "12450".into(),
        items: vec![ItemInput {
            hs_code: "520512".into(),
            description: "Cotton yarn, single, uncombed, 80 bales".into(),
            quantity: "12000".into(),
            unit: "KGM".into(),
            net_mass_kg: "12000".into(),
            value: "86400.00".into(),
            origin_country: "KZ".into(),
        }],
    };
    let valid = validate(&input).map_err(AppError::Validation)?;
    let (declaration, _) = crate::services::declarations::create(conn, admin, &valid)?;
    let declaration_id = DeclarationId::new(declaration.id);
    crate::services::declarations::act(
        conn,
        admin,
        &declaration_id,
        DeclarationAction::Submit,
        &Default::default(),
        rules,
    )?;
    let clock = admin.now;
    let filter = crate::db::slots::SlotFilter {
        site_id: Some(site.id),
        sites: None,
        mode: Some(TransportMode::Road),
        from: (clock + chrono::Duration::hours(20)).naive_utc(),
        to: (clock + chrono::Duration::hours(30)).naive_utc(),
        only_available: true,
        reserve_applies_at: Some(clock.naive_utc()),
        after: None,
        limit: 1,
    };
    if let Some((slot, _)) = crate::db::slots::list(conn, &filter)?.into_iter().next() {
        // A Kazakh truck with one container, as they arrive at Kashgar.
        let details = VisitDetails {
            vehicle: Some(Vehicle {
                plate: "01KZ123ABC".into(),
                country: "KZ".into(),
                trailer_plate: Some("01KZ456AC".into()),
            }),
            driver: Some(Driver { name: "Nurlan Abenov".into(), document_number: "N12345678".into() }),
            containers: vec!["CSQU3054383".into()],
        };
        let visit =
            NewVisit { declaration_ids: vec![declaration_id], slot_id: SlotId::new(slot.id), details, hold_id: None };
        crate::services::bookings::book(conn, admin, &visit, None, rules)?;
    }
    Ok(())
}
