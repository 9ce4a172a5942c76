//! Reserved places for advanced-certified enterprises (issue 15 item 5):
//! until `release_minutes` before a slot starts, only `advanced_certified`
//! enterprises may take its last `reserved_advanced` places; then anyone.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{book_slot, submitted_declaration};
use crate::helpers::{Company, Customs, Resp, TestApp};
use crate::slots::{create_schedule, create_site};

api_tests!(
    general_companies_wait_for_the_release_advanced_ones_do_not,
    sixty_four_bookings_never_take_reserved_places_early with |s| s.booking.max_share_percent = 100,
    generated_slots_inherit_the_schedules_reserve,
    slot_reserve_changes_are_checked_and_audited,
    the_guarded_update_is_the_domain_rule,
);

/// A site with a road schedule of 60-minute slots.
struct World {
    customs: Customs,
    site: String,
    schedule: String,
}

async fn world(app: &TestApp, capacity: i64, reserved: i64, release_minutes: i64) -> World {
    let customs = app.customs().await;
    let site = create_site(app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let body = json!({"mode": "road", "slot_minutes": 60, "capacity": capacity,
        "reserved_advanced": reserved, "release_minutes": release_minutes});
    let r = create_schedule(app, &customs.supervisor, &site, body).await.expect(201);
    assert_eq!(
        (r.body["reserved_advanced"].as_i64(), r.body["release_minutes"].as_i64()),
        (Some(reserved), Some(release_minutes))
    );
    World { customs, site, schedule: r.str("/id") }
}

fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B")
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().unwrap()
}

/// The slots of the site starting from `from`, as `token` sees them.
async fn slots_from(app: &TestApp, w: &World, token: &str, from: DateTime<Utc>, n: usize) -> Vec<Value> {
    let path = format!("/api/v1/slots?site_id={}&mode=road&from={}&limit={n}", w.site, enc(from));
    app.get(&path, Some(token)).await.expect(200).body["items"].as_array().unwrap().clone()
}

/// The slot as `token` sees it.
async fn slot(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/api/v1/slots/{id}"), Some(token)).await.expect(200).body
}

/// A verified company that customs rate `advanced_certified`.
async fn advanced(app: &TestApp, officer: &str, tag: &str) -> Company {
    let c = app.verified_company(tag, officer).await;
    app.post(
        &format!("/api/v1/enterprises/{}/credit-class", c.enterprise_id),
        Some(officer),
        json!({"credit_class": "advanced_certified"}),
    )
    .await
    .expect(200);
    c
}

fn kind(r: &Resp) -> String {
    r.str("/type").rsplit('/').next().unwrap().to_owned()
}

async fn general_companies_wait_for_the_release_advanced_ones_do_not(app: TestApp) {
    // 4 places, the last 2 reserved until 3 hours before the start.
    let w = world(&app, 4, 2, 180).await;
    let officer = w.customs.officer.clone();
    let slots = slots_from(&app, &w, &officer, Utc::now() + Duration::days(1), 2).await;
    let (slot_id, other_slot) = (slots[0]["id"].as_str().unwrap().to_owned(), slots[1]["id"].as_str().unwrap());
    let starts_at = time(&slots[0]["starts_at"]);
    let release = starts_at - Duration::minutes(180);
    let s = &slots[0];
    assert_eq!((s["reserved_advanced"].as_i64(), s["release_minutes"].as_i64()), (Some(2), Some(180)));
    assert_eq!(time(&s["reserved_until"]), release);
    assert_eq!((s["available"].as_i64(), s["reserved_available"].as_i64()), (Some(4), Some(2)));

    let g1 = app.verified_company("gen-one", &officer).await;
    let g2 = app.verified_company("gen-two", &officer).await;
    let g3 = app.verified_company("gen-three", &officer).await;
    let a = advanced(&app, &officer, "adv").await;
    // The two places for anyone.
    for g in [&g1, &g2] {
        let d = submitted_declaration(&app, &g.admin, &w.site).await;
        book_slot(&app, &g.admin, &d, &slot_id).await.expect(201);
    }
    // What is left is reserved: a general company sees no place, an advanced one two.
    let seen = slot(&app, &g1.admin, &slot_id).await;
    assert_eq!((seen["available"].as_i64(), seen["reserved_available"].as_i64()), (Some(0), Some(2)), "{seen}");
    assert_eq!(slot(&app, &a.admin, &slot_id).await["available"], 2);
    assert_eq!(slot(&app, &officer, &slot_id).await["available"], 2);
    // A general company is refused with the release time...
    let d3 = submitted_declaration(&app, &g1.admin, &w.site).await;
    let r = book_slot(&app, &g1.admin, &d3, &slot_id).await.problem(409);
    assert_eq!(kind(&r), "reserved", "{}", r.text);
    assert_eq!(r.body["slot_id"], slot_id.as_str());
    assert_eq!(time(&r.body["reserved_until"]), release);
    let detail = r.str("/detail");
    assert!(detail.contains("reserved for advanced-certified enterprises until"), "{detail}");
    // ...also when it moves a booking there (the same guarded statement).
    let d4 = submitted_declaration(&app, &g3.admin, &w.site).await;
    let b4 = book_slot(&app, &g3.admin, &d4, other_slot).await.expect(201).str("/id");
    let r = app
        .post(&format!("/api/v1/bookings/{b4}/reschedule"), Some(&g3.admin), json!({"slot_id": slot_id}))
        .await
        .problem(409);
    assert_eq!(kind(&r), "reserved", "{}", r.text);
    // `available=true` leaves the slot out for general companies only.
    let window = format!(
        "/api/v1/slots?site_id={}&mode=road&from={}&to={}&available=true",
        w.site,
        enc(starts_at),
        enc(starts_at + Duration::minutes(1))
    );
    let listed = |token: &str| {
        let (app, path) = (&app, window.clone());
        let token = token.to_owned();
        async move { app.get(&path, Some(&token)).await.expect(200).body["items"].as_array().unwrap().len() }
    };
    assert_eq!(listed(&g1.admin).await, 0);
    assert_eq!(listed(&a.admin).await, 1);
    assert_eq!(listed(&officer).await, 1);
    // An advanced-certified enterprise takes a reserved place.
    let da = submitted_declaration(&app, &a.admin, &w.site).await;
    book_slot(&app, &a.admin, &da, &slot_id).await.expect(201);
    assert_eq!(slot(&app, &officer, &slot_id).await["booked"], 3);
    let r = book_slot(&app, &g1.admin, &d3, &slot_id).await.problem(409);
    assert_eq!(kind(&r), "reserved");

    // From the release time on, anyone may take the last place.
    app.state.clock.set(release + Duration::minutes(1));
    let seen = slot(&app, &g1.admin, &slot_id).await;
    assert_eq!((seen["available"].as_i64(), seen["reserved_available"].as_i64()), (Some(1), Some(0)), "{seen}");
    assert_eq!(listed(&g1.admin).await, 1);
    book_slot(&app, &g1.admin, &d3, &slot_id).await.expect(201);
    // Then the slot is full, and says so.
    let d5 = submitted_declaration(&app, &g2.admin, &w.site).await;
    assert_eq!(kind(&book_slot(&app, &g2.admin, &d5, &slot_id).await.problem(409)), "slot-full");
    let s = slot(&app, &officer, &slot_id).await;
    assert_eq!((s["booked"].as_i64(), s["available"].as_i64()), (Some(4), Some(0)));
}

async fn sixty_four_bookings_never_take_reserved_places_early(app: TestApp) {
    // 10 places, 4 reserved; shares are off (100 %) so that only the reserve limits anyone.
    let w = world(&app, 10, 4, 180).await;
    let officer = w.customs.officer.clone();
    let slot_id =
        slots_from(&app, &w, &officer, Utc::now() + Duration::days(1), 1).await[0]["id"].as_str().unwrap().to_owned();
    let mut companies: Vec<(Company, bool)> = Vec::new();
    for i in 0..4 {
        companies.push((app.verified_company(&format!("race-gen{i}"), &officer).await, false));
        companies.push((advanced(&app, &officer, &format!("race-adv{i}")).await, true));
    }
    let mut attempts = Vec::new();
    for (c, is_advanced) in &companies {
        for _ in 0..8 {
            attempts.push((
                c.enterprise_id.clone(),
                *is_advanced,
                c.admin.clone(),
                submitted_declaration(&app, &c.admin, &w.site).await,
            ));
        }
    }
    assert_eq!(attempts.len(), 64);
    let results = futures_util::future::join_all(attempts.iter().map(|(ent, is_advanced, token, decl)| {
        let (app, slot_id) = (&app, slot_id.as_str());
        async move { (ent.clone(), *is_advanced, book_slot(app, token, decl, slot_id).await) }
    }))
    .await;
    let mut booked: HashMap<String, bool> = HashMap::new();
    for (_, is_advanced, r) in &results {
        match r.status.as_u16() {
            201 => {
                booked.insert(r.str("/id"), *is_advanced);
            }
            409 => {
                let k = kind(r);
                // Advanced-certified enterprises are never told "reserved".
                let expected: &[&str] = if *is_advanced { &["slot-full"] } else { &["slot-full", "reserved"] };
                assert!(expected.contains(&k.as_str()), "{}", r.text);
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    let general = booked.values().filter(|a| !**a).count();
    // 32 advanced attempts are more than the capacity: the slot fills up.
    assert_eq!(booked.len(), 10, "exactly the capacity is booked");
    assert!(general <= 6, "general enterprises took {general} places: reserved ones among them");
    let s = slot(&app, &officer, &slot_id).await;
    assert_eq!((s["booked"].as_i64(), s["available"].as_i64()), (Some(10), Some(0)));
    // Every 2xx booking exists once, on that slot, for the enterprise that asked.
    let listed = app.get(&format!("/api/v1/bookings?slot_id={slot_id}&limit=200"), Some(&officer)).await.expect(200);
    let items = listed.body["items"].as_array().unwrap();
    let ids: HashSet<&str> = items.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids, booked.keys().map(String::as_str).collect::<HashSet<_>>());
    let advanced_ids: HashSet<&str> =
        companies.iter().filter(|(_, a)| *a).map(|(c, _)| c.enterprise_id.as_str()).collect();
    let general_listed = items.iter().filter(|b| !advanced_ids.contains(b["enterprise_id"].as_str().unwrap())).count();
    assert_eq!(general_listed, general);
}

async fn generated_slots_inherit_the_schedules_reserve(app: TestApp) {
    let customs = app.customs().await;
    let supervisor = customs.supervisor.clone();
    let sup = supervisor.as_str();
    let site = create_site(&app, sup, "CNKHG", "Asia/Urumqi").await;
    // Refused shapes name their fields.
    for (body, field) in [
        (json!({"mode": "road", "capacity": 4, "reserved_advanced": 5}), "reserved_advanced"),
        (json!({"mode": "road", "capacity": 4, "reserved_advanced": -1}), "reserved_advanced"),
        (json!({"mode": "road", "capacity": 4, "release_minutes": 10081}), "release_minutes"),
        (json!({"mode": "road", "capacity": 4, "release_minutes": -5}), "release_minutes"),
    ] {
        let r = create_schedule(&app, sup, &site, body).await.problem(422);
        assert_eq!(r.fields(), [field], "{}", r.text);
    }
    // Defaults: nothing reserved.
    let rail = create_schedule(&app, sup, &site, json!({"mode": "rail", "capacity": 2})).await.expect(201);
    assert_eq!((rail.body["reserved_advanced"].as_i64(), rail.body["release_minutes"].as_i64()), (Some(0), Some(0)));
    let w = World {
        site: site.clone(),
        schedule: create_schedule(
            &app,
            sup,
            &site,
            json!({"mode": "road", "capacity": 4, "reserved_advanced": 1, "release_minutes": 60}),
        )
        .await
        .expect(201)
        .str("/id"),
        customs,
    };
    let from = Utc::now() + Duration::days(1);
    let check = |reserved: i64, release: i64, items: &[Value]| {
        assert!(!items.is_empty());
        for s in items {
            assert_eq!(
                (s["reserved_advanced"].as_i64(), s["release_minutes"].as_i64()),
                (Some(reserved), Some(release)),
                "{s}"
            );
            let until = (reserved > 0).then(|| time(&s["starts_at"]) - Duration::minutes(release));
            assert_eq!(s["reserved_until"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap()), until, "{s}");
        }
    };
    let officer = w.customs.officer.clone();
    check(1, 60, &slots_from(&app, &w, &officer, from, 30).await);
    let schedules = app.get(&format!("/api/v1/sites/{site}/schedules"), Some(sup)).await.expect(200);
    let road = schedules.body["items"].as_array().unwrap().iter().find(|s| s["mode"] == "road").unwrap().clone();
    assert_eq!((road["reserved_advanced"].as_i64(), road["release_minutes"].as_i64()), (Some(1), Some(60)));

    // A change passes to the future slots, with their release times.
    let path = format!("/api/v1/sites/{site}/schedules/{}", w.schedule);
    let r = app
        .call(Method::PATCH, &path, Some(sup), Some(json!({"reserved_advanced": 2, "release_minutes": 30})))
        .await
        .expect(200);
    assert_eq!((r.body["reserved_advanced"].as_i64(), r.body["release_minutes"].as_i64()), (Some(2), Some(30)));
    check(2, 30, &slots_from(&app, &w, &officer, from, 30).await);
    // More reserved places than the capacity are refused...
    let r = app.call(Method::PATCH, &path, Some(sup), Some(json!({"reserved_advanced": 5}))).await.problem(422);
    assert_eq!(r.fields(), ["reserved_advanced"]);
    let r = app
        .call(Method::PATCH, &path, Some(sup), Some(json!({"capacity": 3, "reserved_advanced": 4})))
        .await
        .problem(422);
    assert_eq!(r.fields(), ["reserved_advanced"]);
    // ...and a capacity lowered alone lowers the reserve with it.
    let r = app.call(Method::PATCH, &path, Some(sup), Some(json!({"capacity": 1}))).await.expect(200);
    assert_eq!((r.body["capacity"].as_i64(), r.body["reserved_advanced"].as_i64()), (Some(1), Some(1)));
    check(1, 30, &slots_from(&app, &w, &officer, from, 30).await);
    // Nothing reserved: no release time shown.
    app.call(Method::PATCH, &path, Some(sup), Some(json!({"reserved_advanced": 0}))).await.expect(200);
    check(0, 30, &slots_from(&app, &w, &officer, from, 30).await);
    // The schedule's trail records its reserve.
    let audit = app
        .get(&format!("/api/v1/audit?entity_type=schedule&entity_id={}", w.schedule), Some(&officer))
        .await
        .expect(200);
    let shapes: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["to_state"].as_str().unwrap()).collect();
    assert!(shapes[0].contains("1 reserved for advanced_certified until 60 min before the start"), "{shapes:?}");
    assert!(shapes[1].contains("2 reserved for advanced_certified until 30 min before the start"), "{shapes:?}");
}

async fn slot_reserve_changes_are_checked_and_audited(app: TestApp) {
    let w = world(&app, 4, 0, 0).await;
    let officer = w.customs.officer.clone();
    let s = &slots_from(&app, &w, &officer, Utc::now() + Duration::days(1), 1).await[0];
    let (id, starts_at) = (s["id"].as_str().unwrap().to_owned(), time(&s["starts_at"]));
    assert!(s["reserved_until"].is_null(), "{s}");
    let path = format!("/api/v1/slots/{id}");
    let patch = |body: Value| {
        let (app, path, officer) = (&app, path.clone(), officer.clone());
        async move { app.call(Method::PATCH, &path, Some(&officer), Some(body)).await }
    };
    // Field problems: beyond the capacity (current or new), out of range.
    for (body, fields) in [
        (json!({"reserved_advanced": 5}), vec!["reserved_advanced"]),
        (json!({"capacity": 2, "reserved_advanced": 3}), vec!["reserved_advanced"]),
        (json!({"reserved_advanced": -1}), vec!["reserved_advanced"]),
        (json!({"release_minutes": -1}), vec!["release_minutes"]),
        (json!({"release_minutes": 10081}), vec!["release_minutes"]),
        (json!({"reserved_advanced": 10001, "release_minutes": 99999}), vec!["reserved_advanced", "release_minutes"]),
    ] {
        let r = patch(body.clone()).await.problem(422);
        assert_eq!(r.fields(), fields, "{body}: {}", r.text);
    }
    let r = patch(json!({"reserved_advanced": null})).await.problem(422);
    assert_eq!(r.fields(), ["capacity"], "{}", r.text);
    // Companies may not change slots.
    let c = app.verified_company("patcher", &officer).await;
    app.call(Method::PATCH, &path, Some(&c.admin), Some(json!({"reserved_advanced": 1}))).await.problem(403);
    // A reserve, with its release time.
    let r = patch(json!({"reserved_advanced": 4, "release_minutes": 90, "reason": "AEO lane"})).await.expect(200);
    assert_eq!((r.body["reserved_advanced"].as_i64(), r.body["release_minutes"].as_i64()), (Some(4), Some(90)));
    assert_eq!(time(&r.body["reserved_until"]), starts_at - Duration::minutes(90));
    // Customs see every free place; a general company none before the release.
    assert_eq!((r.body["available"].as_i64(), r.body["reserved_available"].as_i64()), (Some(4), Some(4)));
    assert_eq!(slot(&app, &c.admin, &id).await["available"], 0);
    // The release time alone moves reserved_until.
    let r = patch(json!({"release_minutes": 0})).await.expect(200);
    assert_eq!(time(&r.body["reserved_until"]), starts_at);
    // A capacity lowered alone lowers the reserve.
    let r = patch(json!({"capacity": 2})).await.expect(200);
    assert_eq!((r.body["capacity"].as_i64(), r.body["reserved_advanced"].as_i64()), (Some(2), Some(2)));
    // Each change is in the slot's trail, with who and why.
    let audit = app.get(&format!("/api/v1/audit?entity_type=slot&entity_id={id}"), Some(&officer)).await.expect(200);
    let events: Vec<(&str, &str, &str, Option<&str>, &str)> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["from_state"].as_str().unwrap(),
                e["to_state"].as_str().unwrap(),
                e["reason"].as_str(),
                e["actor_role"].as_str().unwrap(),
            )
        })
        .collect();
    let reserve = |n: i32, m: i32| format!("{n} reserved for advanced_certified until {m} min before the start");
    let (r0, r490, r40, r20) = (reserve(0, 0), reserve(4, 90), reserve(4, 0), reserve(2, 0));
    assert_eq!(
        events,
        [
            ("reserve", r0.as_str(), r490.as_str(), Some("AEO lane"), "officer"),
            ("reserve", r490.as_str(), r40.as_str(), None, "officer"),
            ("capacity", "4", "2", None, "officer"),
            ("reserve", r40.as_str(), r20.as_str(), None, "officer"),
        ]
    );
}

/// The booking's guarded UPDATE (`db::slots::take_place`) grants a place
/// exactly when `domain::reserve` says the caller may take one, for every
/// small case, on this backend: the race above only catches a wrong
/// statement when the timing is unlucky, this catches it every time.
async fn the_guarded_update_is_the_domain_rule(app: TestApp) {
    use clearway::db::slots::{self, SlotRow};
    use clearway::domain::identity::CreditClass;
    use clearway::domain::reserve::reserved_blocks;
    use clearway::domain::slot::SlotStatus;
    let customs = app.customs().await;
    let site = create_site(&app, &customs.supervisor, "CNKHG", "Asia/Urumqi").await;
    let now = app.state.clock.now();
    let checked = app
        .state
        .db
        .write(move |conn| {
            let stamp = now.naive_utc();
            let mut n = 0;
            for capacity in 0..4 {
                for booked in 0..=capacity {
                    for reserved_advanced in 0..5 {
                        for until in [now - Duration::minutes(1), now, now + Duration::minutes(1)] {
                            for credit in [CreditClass::General, CreditClass::AdvancedCertified] {
                                n += 1;
                                let starts_at = stamp + Duration::hours(n);
                                let row = SlotRow {
                                    id: format!("grid-{n}"),
                                    site_id: site.clone(),
                                    mode: clearway::domain::goods::TransportMode::Road,
                                    schedule_id: None,
                                    starts_at,
                                    ends_at: starts_at + Duration::hours(1),
                                    capacity,
                                    booked,
                                    status: SlotStatus::Open,
                                    created_at: stamp,
                                    updated_at: stamp,
                                    reserved_advanced,
                                    release_minutes: 0,
                                    reserved_until: Some(until.naive_utc()),
                                    held: 0,
                                };
                                slots::insert_all(conn, std::slice::from_ref(&row))?;
                                let advanced = credit == CreditClass::AdvancedCertified;
                                let taken = slots::take_place(conn, &row.id, advanced, stamp)?;
                                let may = row.places().available_to(credit, now) > 0;
                                assert_eq!(taken.is_some(), may, "{row:?} {credit}");
                                assert_eq!(reserved_blocks(credit, &row.places(), now), !may && booked < capacity);
                            }
                        }
                    }
                }
            }
            Ok::<_, clearway::error::AppError>(n)
        })
        .await
        .map_err(|_| "the grid")
        .unwrap();
    assert_eq!(checked, 10 * 5 * 3 * 2);
}
