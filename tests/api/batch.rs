//! `POST /bookings/batch`: each item booked exactly as `POST /bookings`
//! would book it, in order, each on its own; replays by key; bounded size.

use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{slots_from, submitted_declaration, world};
use crate::helpers::{Resp, TestApp};

api_tests!(batch_items_answer_as_single_bookings_in_order, batches_are_bounded_and_for_company_users,);

fn slug(v: &Value) -> String {
    v["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

async fn batch(app: &TestApp, token: &str, items: Vec<Value>) -> Resp {
    app.post("/api/v1/bookings/batch", Some(token), json!({"items": items})).await
}

async fn batch_items_answer_as_single_bookings_in_order(app: TestApp) {
    // Capacity 4: an enterprise may hold 2 places of one slot (50 %).
    let w = world(&app, 4, 60).await;
    let c = app.verified_company("batch", &w.customs.officer).await;
    let slots = slots_from(&app, &w, chrono::Utc::now() + chrono::Duration::days(1), 2).await;
    let (s, t) = (slots[0]["id"].clone(), slots[1]["id"].clone());
    let mut d = Vec::new();
    for _ in 0..4 {
        d.push(submitted_declaration(&app, &c.admin, &w.site).await);
    }
    let items = vec![
        json!({"idempotency_key": "k-1", "declaration_id": d[0], "slot_id": s, "vehicle": {"plate": "01KZ901AB", "country": "KZ"}}),
        json!({"idempotency_key": "k-2", "declaration_id": d[1], "slot_id": s}),
        json!({"idempotency_key": "k-3", "declaration_id": d[2], "slot_id": s}),
        json!({"idempotency_key": "k-4", "declaration_id": d[0], "slot_id": t}),
        json!({"declaration_id": d[3], "slot_id": t}),
        json!({"idempotency_key": "k-6", "declaration_id": d[3], "slot_id": "no-such-slot"}),
        json!("not a booking"),
        json!({"idempotency_key": "k-8", "declaration_id": d[3], "slot_id": t}),
    ];
    let r = batch(&app, &c.admin, items.clone()).await.expect(200);
    let results = r.body["results"].as_array().unwrap().clone();
    let statuses: Vec<u64> = results.iter().map(|x| x["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [201, 201, 409, 409, 422, 404, 400, 201], "{}", r.text);
    assert_eq!(slug(&results[2]["problem"]), "share-exceeded", "{}", r.text);
    assert_eq!(slug(&results[3]["problem"]), "already-booked", "{}", r.text);
    assert_eq!(results[4]["problem"]["errors"][0]["field"], "idempotency_key", "{}", r.text);
    assert_eq!(slug(&results[5]["problem"]), "not-found");
    assert_eq!(slug(&results[6]["problem"]), "malformed-request");
    assert_eq!(results[0]["booking"]["status"], "confirmed");
    assert_eq!(results[0]["booking"]["vehicle"]["plate"], "01KZ901AB");
    assert!(results[2]["booking"].is_null() && results[0]["problem"].is_null());
    let booked: Vec<String> =
        [0, 1, 7].iter().map(|&i| results[i]["booking"]["id"].as_str().unwrap().to_owned()).collect();
    // The same batch again: the booked items replay, nothing more is booked.
    let again = batch(&app, &c.admin, items).await.expect(200);
    let again = again.body["results"].as_array().unwrap().clone();
    for (i, id) in [0usize, 1, 7].iter().zip(&booked) {
        assert_eq!((again[*i]["status"].as_u64(), again[*i]["booking"]["id"].as_str()), (Some(201), Some(id.as_str())));
        assert_eq!(again[*i]["replayed"], true);
    }
    let listed = app.get("/api/v1/bookings?limit=50", Some(&c.admin)).await.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 3, "{}", listed.text);
    // An item's key is the single request's key: a single POST with it replays.
    let single = app
        .call_with(
            Method::POST,
            "/api/v1/bookings",
            Some(&c.admin),
            Some(json!({"declaration_id": d[1], "slot_id": s})),
            &[("Idempotency-Key", "k-2")],
        )
        .await
        .expect(201);
    assert_eq!(single.str("/id"), booked[1]);
    assert_eq!(single.header("idempotent-replayed").as_deref(), Some("true"));
    // The key reused with another body: 422, as for a single request.
    let r = batch(&app, &c.admin, vec![json!({"idempotency_key": "k-2", "declaration_id": d[2], "slot_id": t})]).await;
    let result = &r.expect(200).body["results"][0];
    assert_eq!(result["status"], 422, "{result}");
}

async fn batches_are_bounded_and_for_company_users(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let c = app.verified_company("batch-b", &w.customs.officer).await;
    let item = |i: usize| json!({"idempotency_key": format!("k{i}"), "declaration_id": "x", "slot_id": "y"});
    for items in [vec![], (0..101).map(item).collect::<Vec<_>>()] {
        let r = batch(&app, &c.admin, items).await.problem(422);
        assert_eq!(slug(&r.body), "validation");
        assert_eq!(r.fields(), ["items"], "{}", r.text);
    }
    let r = app.post("/api/v1/bookings/batch", Some(&c.admin), json!({"items": [], "extra": 1})).await.problem(422);
    assert_eq!(r.fields(), ["extra"], "{}", r.text);
    let r =
        app.post("/api/v1/bookings/batch", Some(&w.customs.officer), json!({"items": [item(0)]})).await.problem(403);
    assert_eq!(slug(&r.body), "forbidden");
    let r = app.post("/api/v1/bookings/batch", None, json!({"items": [item(0)]})).await.problem(401);
    assert_eq!(slug(&r.body), "unauthorized");
    // 100 items is allowed (each refused here on its own: unknown declarations).
    let r = batch(&app, &c.admin, (0..100).map(item).collect()).await.expect(200);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 100);
    assert!(results.iter().all(|x| x["status"] == 404 || x["status"] == 422), "{}", r.text);
}
