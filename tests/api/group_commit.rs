//! Writes under concurrency, where SQLite's single writer groups many
//! requests into one COMMIT: each request still succeeds or fails on its
//! own. (On PostgreSQL the same requests take the ordinary path.)

use serde_json::json;

use crate::api_tests;
use crate::bookings::{book_slot, submitted_declaration, tomorrow_slot, world};
use crate::helpers::TestApp;

api_tests!(concurrent_bookings_all_succeed_with_exact_counts, a_refused_booking_in_a_batch_leaves_the_others_booked,);

/// `per_company` submitted declarations for each of `companies` new
/// companies, each with its company admin's token.
async fn declarations(
    app: &TestApp,
    site: &str,
    officer: &str,
    companies: &[&str],
    per_company: usize,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for tag in companies {
        let c = app.verified_company(tag, officer).await;
        for _ in 0..per_company {
            let d = submitted_declaration(app, &c.admin, site).await;
            out.push((c.admin.clone(), d));
        }
    }
    out
}

async fn booked_ids(app: &TestApp, officer: &str, slot: &str) -> Vec<String> {
    let listed = app.get(&format!("/api/v1/bookings?slot_id={slot}&limit=200"), Some(officer)).await.expect(200);
    let mut ids: Vec<String> =
        listed.body["items"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

async fn booked_count(app: &TestApp, officer: &str, slot: &str) -> i64 {
    app.get(&format!("/api/v1/slots/{slot}"), Some(officer)).await.expect(200).body["booked"].as_i64().unwrap()
}

async fn concurrent_bookings_all_succeed_with_exact_counts(app: TestApp) {
    let w = world(&app, 40, 60).await;
    let officer = &w.customs.officer;
    let slots = [tomorrow_slot(&app, &w, 2).await, tomorrow_slot(&app, &w, 3).await];
    let attempts = declarations(&app, &w.site, officer, &["alpha", "bravo", "charlie", "delta"], 8).await;
    let before = app.state.db.group_commit_stats();
    let tries = attempts.iter().enumerate().map(|(i, (token, d))| {
        let (app, slot) = (&app, slots[i % 2].clone());
        async move { (slot.clone(), book_slot(app, token, d, &slot).await) }
    });
    let results = futures_util::future::join_all(tries).await;
    let mut created: [Vec<String>; 2] = Default::default();
    for (slot, r) in &results {
        assert_eq!(r.status.as_u16(), 201, "{}", r.text);
        created[usize::from(slot == &slots[1])].push(r.str("/id"));
    }
    for (i, slot) in slots.iter().enumerate() {
        created[i].sort();
        assert_eq!(created[i].len(), 16);
        assert_eq!(booked_count(&app, officer, slot).await, 16, "the slot counts every booking once");
        assert_eq!(booked_ids(&app, officer, slot).await, created[i], "every 201 is a stored booking");
    }
    // SQLite: every booking went through the group-commit writer, committed
    // (never more COMMITs than jobs; how many share one depends on timing).
    if let (Some((jobs0, commits0)), Some((jobs1, commits1))) = (before, app.state.db.group_commit_stats()) {
        assert!(jobs1 - jobs0 >= 32, "32 bookings ran as jobs ({jobs0} → {jobs1})");
        assert!(commits1 - commits0 <= jobs1 - jobs0);
    }
}

async fn a_refused_booking_in_a_batch_leaves_the_others_booked(app: TestApp) {
    // Capacity 10, share 50%: 12 tries at slot A (3 per company) leave
    // exactly 2 refused as full, while 8 tries at slot B all book — all at
    // once, so that refusals share batches with bookings.
    let w = world(&app, 10, 60).await;
    let officer = &w.customs.officer;
    let (a, b, c) =
        (tomorrow_slot(&app, &w, 2).await, tomorrow_slot(&app, &w, 3).await, tomorrow_slot(&app, &w, 4).await);
    let at_a = declarations(&app, &w.site, officer, &["north", "south", "east", "west"], 3).await;
    let at_b = declarations(&app, &w.site, officer, &["upper", "lower"], 4).await;
    let tries =
        at_a.iter().map(|x| (x, a.clone())).chain(at_b.iter().map(|x| (x, b.clone()))).map(|((token, d), slot)| {
            let app = &app;
            async move { (token.clone(), d.clone(), slot.clone(), book_slot(app, token, d, &slot).await) }
        });
    let results = futures_util::future::join_all(tries).await;
    let (mut booked_a, mut booked_b, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    for (token, decl, slot, r) in results {
        match r.status.as_u16() {
            201 if slot == a => booked_a.push(r.str("/id")),
            201 => booked_b.push(r.str("/id")),
            409 if slot == a => {
                assert!(r.body["type"].as_str().unwrap().ends_with("/slot-full"), "{}", r.text);
                refused.push((token, decl));
            }
            other => panic!("unexpected {other} at {slot}: {}", r.text),
        }
    }
    assert_eq!((booked_a.len(), booked_b.len(), refused.len()), (10, 8, 2));
    booked_a.sort();
    booked_b.sort();
    assert_eq!(booked_count(&app, officer, &a).await, 10);
    assert_eq!(booked_count(&app, officer, &b).await, 8);
    assert_eq!(booked_ids(&app, officer, &a).await, booked_a, "no row of a refused booking is left");
    assert_eq!(booked_ids(&app, officer, &b).await, booked_b);
    // A refused booking's declaration was left untouched: it books elsewhere.
    for (token, decl) in &refused {
        book_slot(&app, token, decl, &c).await.expect(201);
    }
    assert_eq!(booked_count(&app, officer, &c).await, 2);
    let again =
        app.post("/api/v1/bookings", Some(&refused[0].0), json!({"declaration_id": refused[0].1, "slot_id": b}));
    again.await.expect(409);
}
