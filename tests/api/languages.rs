//! Languages and time zones: problems answer `title` and `detail` in the
//! language of `Accept-Language` (Chinese, Russian, English; English for any
//! other), with the same `type`, members, field names and codes; sites'
//! display zones, validated, and every slot and booking time given in each.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::{book_slot, slots_from, submitted_declaration, tomorrow_slot, world};
use crate::helpers::{Resp, TestApp};
use crate::slots::create_schedule;

api_tests!(
    one_refusal_in_every_language,
    validation_and_routing_problems_are_localised_but_fields_and_codes_are_not,
    display_zones_are_validated_and_shown_beside_the_official_zone,
);

fn slug(r: &Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

async fn in_language(
    app: &TestApp,
    lang: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    app.call_with(method, path, token, body, &[("Accept-Language", lang)]).await
}

/// The same booking refusal (`too-late`, which carries its notice) asked in
/// zh, ru, en and an unknown language.
async fn one_refusal_in_every_language(app: TestApp) {
    let w = world(&app, 4, 60).await;
    let company = app.verified_company("lang", &w.customs.officer).await;
    let declaration = submitted_declaration(&app, &company.admin, &w.site).await;
    let soon = slots_from(&app, &w, Utc::now() + Duration::minutes(1), 1).await;
    let body = json!({"declaration_id": declaration, "slot_id": soon[0]["id"]});
    let mut answers = Vec::new();
    for lang in ["zh-CN,zh;q=0.9,en;q=0.5", "ru-RU,ru;q=0.9", "en-GB", "de-DE,fr;q=0.8", ""] {
        let headers: Vec<(&str, &str)> = if lang.is_empty() { vec![] } else { vec![("Accept-Language", lang)] };
        let r =
            app.call_with(Method::POST, "/api/v1/bookings", Some(&company.admin), Some(body.clone()), &headers).await;
        let r = r.problem(422);
        assert_eq!(slug(&r), "too-late", "{}", r.text);
        // The values stay members, in every language.
        assert_eq!(r.body["notice_minutes"], 120, "{}", r.text);
        answers.push(r);
    }
    let text = |r: &Resp, k: &str| r.body[k].as_str().unwrap().to_owned();
    assert_eq!(text(&answers[0], "title"), "为时已晚");
    assert!(text(&answers[0], "detail").contains("120 分钟"), "{}", answers[0].text);
    assert_eq!(answers[0].headers["content-language"], "zh-CN");
    assert_eq!(text(&answers[1], "title"), "Слишком поздно");
    assert!(text(&answers[1], "detail").contains("за 120 мин"), "{}", answers[1].text);
    assert_eq!(answers[1].headers["content-language"], "ru");
    assert_eq!(text(&answers[2], "title"), "Booking refused");
    assert!(text(&answers[2], "detail").contains("120 minutes"), "{}", answers[2].text);
    // Unknown language and none: English, word for word.
    for r in &answers[3..] {
        assert_eq!(text(r, "title"), text(&answers[2], "title"));
        assert_eq!(text(r, "detail"), text(&answers[2], "detail"));
        assert_eq!(r.headers["content-language"], "en");
    }
    // `type` never changes.
    let types: Vec<_> = answers.iter().map(|r| text(r, "type")).collect();
    assert!(types.windows(2).all(|p| p[0] == p[1]), "{types:?}");

    // A refusal carrying ids: `already-booked` names the declaration in each language.
    let first = tomorrow_slot(&app, &w, 0).await;
    let second = tomorrow_slot(&app, &w, 1).await;
    book_slot(&app, &company.admin, &declaration, &first).await.expect(201);
    for (lang, word) in
        [("zh", "已有有效预约"), ("ru", "уже есть действующая бронь"), ("en", "already has an active booking")]
    {
        let r = in_language(
            &app,
            lang,
            Method::POST,
            "/api/v1/bookings",
            Some(&company.admin),
            Some(json!({"declaration_id": declaration, "slot_id": second})),
        )
        .await
        .problem(409);
        assert_eq!(slug(&r), "already-booked");
        assert_eq!(r.body["declaration_id"], declaration.as_str());
        let detail = text(&r, "detail");
        assert!(detail.contains(word) && detail.contains(&declaration), "{lang}: {detail}");
    }
}

async fn validation_and_routing_problems_are_localised_but_fields_and_codes_are_not(app: TestApp) {
    let customs = app.customs().await;
    let bad = json!({"code": "cnkhg", "name": "", "timezone": "Mars/Olympus", "modes": ["road"]});
    let mut field_sets = Vec::new();
    for (lang, title, words) in [
        ("zh", "输入无效", "个字段无效"),
        ("ru", "Неверные данные", "Неверных полей: 3"),
        ("en", "Invalid input", "3 field(s) are invalid"),
    ] {
        let r = in_language(&app, lang, Method::POST, "/api/v1/sites", Some(&customs.supervisor), Some(bad.clone()))
            .await
            .problem(422);
        assert_eq!(slug(&r), "validation");
        assert_eq!(r.body["title"], title, "{}", r.text);
        assert!(r.body["detail"].as_str().unwrap().contains(words), "{}", r.text);
        let fields: Vec<(String, String)> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned()))
            .collect();
        field_sets.push(fields);
    }
    assert_eq!(field_sets[0], field_sets[2]);
    assert_eq!(field_sets[1], field_sets[2]);
    assert!(field_sets[0].contains(&("timezone".to_owned(), "timezone".to_owned())), "{field_sets:?}");

    // Without a token (401), an unknown route (404 from the router), another's object.
    let r = in_language(&app, "zh-TW", Method::GET, "/api/v1/sites", None, None).await.problem(401);
    assert_eq!((slug(&r), r.body["title"].as_str().unwrap()), ("unauthorized".to_owned(), "需要登录"));
    let r = in_language(&app, "ru", Method::GET, "/api/v1/no-such-thing", None, None).await.problem(404);
    assert_eq!((slug(&r), r.body["title"].as_str().unwrap()), ("not-found".to_owned(), "Не найдено"));
    let r = in_language(&app, "ru;q=0.1, zh;q=0.8", Method::GET, "/api/v1/sites/nope", Some(&customs.officer), None)
        .await
        .problem(404);
    assert_eq!(r.body["title"], "未找到");
}

fn local(v: &Value) -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}"))).unwrap()
}

async fn display_zones_are_validated_and_shown_beside_the_official_zone(app: TestApp) {
    let customs = app.customs().await;
    let sup = customs.supervisor.clone();
    let site = |zones: Value| json!({"code": "CNHGS", "name": "Horgos", "timezone": "Asia/Shanghai", "modes": ["road"], "display_zones": zones});
    // Refusals: not a zone, twice, more than three, wrong role.
    let r = app.post("/api/v1/sites", Some(&sup), site(json!(["Asia/Urumqi", "Nowhere/Town"]))).await.problem(422);
    assert_eq!(r.fields(), vec!["display_zones[1]"]);
    let r = app.post("/api/v1/sites", Some(&sup), site(json!(["Asia/Almaty", "Asia/Almaty"]))).await.problem(422);
    assert_eq!(r.body["errors"][0]["code"], "duplicate");
    let four = json!(["Asia/Urumqi", "Asia/Almaty", "Asia/Bishkek", "Asia/Tashkent"]);
    let r = app.post("/api/v1/sites", Some(&sup), site(four)).await.problem(422);
    assert_eq!(r.fields(), vec!["display_zones"]);
    app.post("/api/v1/sites", Some(&customs.officer), site(json!([]))).await.problem(403);

    let created = app.post("/api/v1/sites", Some(&sup), site(json!(["Asia/Urumqi", "Asia/Almaty"]))).await.expect(201);
    assert_eq!(created.body["display_zones"], json!(["Asia/Urumqi", "Asia/Almaty"]));
    assert_eq!(created.body["timezone"], "Asia/Shanghai");
    let id = created.str("/id");
    create_schedule(&app, &sup, &id, json!({"mode": "road", "slot_minutes": 60, "capacity": 4})).await.expect(201);

    // Slots: the official time unchanged, then each display zone, same instant.
    let from = (Utc::now() + Duration::days(1)).to_rfc3339().replace('+', "%2B");
    let r = app.get(&format!("/api/v1/slots?site_id={id}&mode=road&from={from}&limit=2"), Some(&customs.officer)).await;
    let slot = r.expect(200).body["items"][0].clone();
    let official = local(&slot["starts_at_local"]);
    assert_eq!(official.offset().local_minus_utc(), 8 * 3600, "Beijing time: {slot}");
    let shown = slot["display_times"].as_array().unwrap();
    assert_eq!(shown.len(), 2, "{slot}");
    assert_eq!(shown[0]["timezone"], "Asia/Urumqi");
    assert_eq!(shown[1]["timezone"], "Asia/Almaty");
    let urumqi = local(&shown[0]["starts_at_local"]);
    assert_eq!(urumqi, official);
    assert_eq!(urumqi.offset().local_minus_utc(), 6 * 3600);
    assert_eq!(local(&shown[1]["ends_at_local"]), local(&slot["ends_at_local"]));

    // Bookings carry them too.
    let company = app.verified_company("zones", &customs.officer).await;
    let declaration = submitted_declaration(&app, &company.admin, &id).await;
    let booking = book_slot(&app, &company.admin, &declaration, slot["id"].as_str().unwrap()).await.expect(201);
    assert_eq!(booking.body["display_times"], slot["display_times"], "{}", booking.text);

    // PATCH replaces the list; [] clears it; a bad one is refused; the official zone stays.
    let path = format!("/api/v1/sites/{id}");
    let r = app.call(Method::PATCH, &path, Some(&sup), Some(json!({"display_zones": ["Asia/Almaty"]}))).await;
    assert_eq!(r.expect(200).body["display_zones"], json!(["Asia/Almaty"]));
    let r = app.call(Method::PATCH, &path, Some(&sup), Some(json!({"display_zones": ["UTC+5"]}))).await.problem(422);
    assert_eq!(r.fields(), vec!["display_zones[0]"]);
    let r = app.call(Method::PATCH, &path, Some(&sup), Some(json!({"display_zones": []}))).await.expect(200);
    assert_eq!(r.body["display_zones"], json!([]));
    assert_eq!(r.body["timezone"], "Asia/Shanghai");
    let r = app.get(&format!("/api/v1/bookings/{}", booking.str("/id")), Some(&company.admin)).await.expect(200);
    assert_eq!(r.body["display_times"], json!([]));
}
