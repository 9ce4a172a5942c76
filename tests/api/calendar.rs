//! Calendar feeds: admins create, list and revoke feed tokens; the feed
//! lists the enterprise's active bookings as events in the site's time;
//! a revoked token, a wrong secret or another enterprise's token is refused.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_tests;
use crate::bookings::submitted_declaration;
use crate::helpers::{Resp, TestApp};
use crate::slots::{create_schedule, create_site};

api_tests!(
    a_feed_lists_active_bookings_in_the_sites_time_until_revoked,
    feed_tokens_belong_to_one_enterprise_and_its_admins,
);

fn slug(r: &Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
}

fn tokens(enterprise: &str) -> String {
    format!("/api/v1/enterprises/{enterprise}/calendar-tokens")
}

async fn a_feed_lists_active_bookings_in_the_sites_time_until_revoked(app: TestApp) {
    let customs = app.customs().await;
    let site = create_site(&app, &customs.supervisor, "CNURC", "Asia/Shanghai").await;
    create_schedule(&app, &customs.supervisor, &site, json!({"mode": "road", "slot_minutes": 60, "capacity": 10}))
        .await
        .expect(201);
    let c = app.verified_company("feed", &customs.officer).await;
    let from = (Utc::now() + Duration::days(1)).to_rfc3339().replace('+', "%2B");
    let r =
        app.get(&format!("/api/v1/slots?site_id={site}&mode=road&from={from}&limit=2"), Some(&customs.officer)).await;
    let slots: Vec<Value> = r.expect(200).body["items"].as_array().unwrap().clone();
    let mut ids = Vec::new();
    for (slot, plate) in [(&slots[0], "01KZ555AB"), (&slots[1], "02KZ556AB")] {
        let d = submitted_declaration(&app, &c.admin, &site).await;
        let body = json!({"declaration_id": d, "slot_id": slot["id"], "vehicle": {"plate": plate, "country": "KZ"}});
        ids.push(app.post("/api/v1/bookings", Some(&c.admin), body).await.expect(201).str("/id"));
    }
    let created =
        app.post(&tokens(&c.enterprise_id), Some(&c.admin), json!({"label": "Dispatch office"})).await.expect(201);
    let token = created.str("/token");
    let feed = created.str("/feed_path");
    assert!(created.str("/feed_url").ends_with(&feed));
    assert_eq!(created.body["label"], "Dispatch office");
    let r = app.get(&feed, None).await.expect(200);
    assert!(r.header("content-type").unwrap().starts_with("text/calendar"), "{:?}", r.headers);
    assert!(r.text.starts_with("BEGIN:VCALENDAR\r\n"), "{}", r.text);
    for id in &ids {
        assert!(r.text.contains(&format!("UID:{id}\r\n")), "{}", r.text);
    }
    let starts: DateTime<Utc> = slots[0]["starts_at"].as_str().unwrap().parse().unwrap();
    let local = starts.with_timezone(&chrono_tz::Asia::Shanghai).format("%Y%m%dT%H%M%S");
    assert!(r.text.contains(&format!("DTSTART;TZID=Asia/Shanghai:{local}\r\n")), "{}", r.text);
    assert!(r.text.contains("SUMMARY:CNURC road · 01KZ555AB"), "{}", r.text);
    // A cancelled booking leaves the feed.
    app.post(&format!("/api/v1/bookings/{}/cancel", ids[1]), Some(&c.admin), json!({})).await.expect(200);
    let r = app.get(&feed, None).await.expect(200);
    assert!(r.text.contains(&ids[0]) && !r.text.contains(&ids[1]), "{}", r.text);
    // Listed without the secret.
    let list = app.get(&tokens(&c.enterprise_id), Some(&c.admin)).await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert!(!list.text.contains(token.split('.').nth(1).unwrap()), "{}", list.text);
    assert!(list.body["items"][0]["token"].is_null() && list.body["items"][0]["revoked_at"].is_null());
    // A wrong secret, a missing token: refused.
    let wrong = feed.replace(&token, &format!("{}.AAAA", token.split('.').next().unwrap()));
    assert_eq!(slug(&app.get(&wrong, None).await.problem(404)), "not-found");
    let bare = feed.split('?').next().unwrap().to_owned();
    let r = app.get(&bare, None).await.problem(422);
    assert_eq!((slug(&r), r.fields()), ("validation".to_owned(), vec!["token".to_owned()]));
    // Revoking stops the feed at once.
    let token_id = created.str("/id");
    let one = format!("{}/{token_id}", tokens(&c.enterprise_id));
    app.call(Method::DELETE, &one, Some(&c.admin), None).await.expect(204);
    assert_eq!(slug(&app.get(&feed, None).await.problem(404)), "not-found");
    assert_eq!(slug(&app.call(Method::DELETE, &one, Some(&c.admin), None).await.problem(404)), "not-found");
    let list = app.get(&tokens(&c.enterprise_id), Some(&c.admin)).await.expect(200);
    assert!(list.body["items"][0]["revoked_at"].is_string(), "{}", list.text);
}

async fn feed_tokens_belong_to_one_enterprise_and_its_admins(app: TestApp) {
    let customs = app.customs().await;
    let a = app.verified_company("cal-a", &customs.officer).await;
    let b = app.verified_company("cal-b", &customs.officer).await;
    let a_token = app.post(&tokens(&a.enterprise_id), Some(&a.admin), json!({})).await.expect(201);
    let b_token = app.post(&tokens(&b.enterprise_id), Some(&b.admin), json!({})).await.expect(201).str("/token");
    assert_eq!(a_token.body["label"], "Calendar");
    // Another enterprise's id: 404, for its admin and for its feed with a valid token of another enterprise.
    assert_eq!(slug(&app.post(&tokens(&a.enterprise_id), Some(&b.admin), json!({})).await.problem(404)), "not-found");
    assert_eq!(slug(&app.get(&tokens(&a.enterprise_id), Some(&b.admin)).await.problem(404)), "not-found");
    let revoke_a = format!("{}/{}", tokens(&a.enterprise_id), a_token.str("/id"));
    assert_eq!(slug(&app.call(Method::DELETE, &revoke_a, Some(&b.admin), None).await.problem(404)), "not-found");
    let cross = format!("/api/v1/enterprises/{}/calendar.ics?token={b_token}", a.enterprise_id);
    assert_eq!(slug(&app.get(&cross, None).await.problem(404)), "not-found");
    app.get(&format!("/api/v1/enterprises/{}/calendar.ics?token={b_token}", b.enterprise_id), None).await.expect(200);
    // Clerks and officers do not manage tokens.
    let clerk = app.add_clerk(&a).await;
    assert_eq!(slug(&app.post(&tokens(&a.enterprise_id), Some(&clerk), json!({})).await.problem(403)), "forbidden");
    assert_eq!(slug(&app.get(&tokens(&a.enterprise_id), Some(&customs.officer)).await.problem(403)), "forbidden");
    // A label is 1 to 100 characters; an unknown field is named.
    let r = app.post(&tokens(&a.enterprise_id), Some(&a.admin), json!({"label": "x".repeat(101)})).await.problem(422);
    assert!(r.fields().contains(&"label".to_owned()), "{}", r.text);
    let r = app.post(&tokens(&a.enterprise_id), Some(&a.admin), json!({"lable": "x"})).await.problem(422);
    assert!(r.fields().contains(&"lable".to_owned()), "{}", r.text);
    // At most 10 live tokens.
    for _ in 0..9 {
        app.post(&tokens(&a.enterprise_id), Some(&a.admin), json!({})).await.expect(201);
    }
    let r = app.post(&tokens(&a.enterprise_id), Some(&a.admin), json!({})).await.problem(409);
    assert_eq!(slug(&r), "too-many-calendar-tokens");
    app.call(Method::DELETE, &revoke_a, Some(&a.admin), None).await.expect(204);
    app.post(&tokens(&a.enterprise_id), Some(&a.admin), json!({})).await.expect(201);
}
