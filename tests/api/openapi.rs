//! The OpenAPI contract: the served document matches the committed snapshot,
//! documents exactly the routes the server registers (both come from the
//! route tables of `clearway::api`, so this guards how they are built), each
//! documented route is really served with the documented security, and the
//! offline Swagger UI answers at /docs.
//!
//! The document does not depend on the database, so these run on SQLite only.

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{spawn_app, Backend, TestApp};

/// The committed snapshot of `GET /api-docs/openapi.json`.
fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/snapshots/openapi.json")
}

async fn served_document(app: &TestApp) -> Value {
    let r = app.get("/api-docs/openapi.json", None).await.expect(200);
    assert!(
        r.header("content-type").is_some_and(|c| c.starts_with("application/json")),
        "content-type: {:?}",
        r.header("content-type")
    );
    assert!(r.body.is_object(), "not a JSON object: {}", r.text);
    r.body
}

/// Every (METHOD, path) pair of the document's `paths`.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let paths = doc["paths"].as_object().expect("paths is an object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter(|m| item.get(**m).is_some()).map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    &doc["paths"][path][method.to_lowercase()]
}

/// The first lines where two texts differ, with some context.
fn diff_excerpt(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = e.iter().zip(&a).position(|(x, y)| x != y).unwrap_or(e.len().min(a.len()));
    let from = first.saturating_sub(5);
    let show = |lines: &[&str]| {
        lines.iter().enumerate().skip(from).take(15).map(|(i, l)| format!("{:>6} {l}\n", i + 1)).collect::<String>()
    };
    format!(
        "first difference at line {}\n--- snapshot ({} lines)\n{}+++ served ({} lines)\n{}",
        first + 1,
        e.len(),
        show(&e),
        a.len(),
        show(&a)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_snapshot() {
    let app = spawn_app(Backend::Sqlite).await;
    let served = served_document(&app).await;
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["info"]["title"], "Clearway API");
    assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));

    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
    let path = snapshot_path();
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &pretty).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let hint = "If the API changed on purpose, re-run with UPDATE_SNAPSHOTS=1 \
                (UPDATE_SNAPSHOTS=1 cargo test --test api openapi) and review the diff of \
                tests/api/snapshots/openapi.json before committing it.";
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the snapshot {}: {e}\n{hint}", path.display()));
    let expected: Value = serde_json::from_str(&committed)
        .unwrap_or_else(|e| panic!("the snapshot {} is not JSON: {e}\n{hint}", path.display()));
    if expected != served {
        let expected_pretty = serde_json::to_string_pretty(&expected).unwrap() + "\n";
        panic!(
            "the served OpenAPI document differs from {}.\n{hint}\n\n{}",
            path.display(),
            diff_excerpt(&expected_pretty, &pretty)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_route_is_documented_and_every_documented_route_is_served() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc = served_document(&app).await;

    // What the server registers: `configure` registers exactly the route
    // tables, and the document is built from the same tables.
    let registered: BTreeSet<(String, String)> =
        clearway::api::routes().into_iter().map(|(m, p)| (m.as_str().to_owned(), p)).collect();
    assert_eq!(registered.len(), clearway::api::routes().len(), "a route is registered twice");
    let documented = documented_operations(&doc);

    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(undocumented.is_empty(), "registered but not in the OpenAPI document: {undocumented:?}");
    let unserved: Vec<_> = documented.difference(&registered).collect();
    assert!(unserved.is_empty(), "in the OpenAPI document but not registered: {unserved:?}");

    // Operation ids are unique; every operation has a tag and a 5XX answer;
    // every error answer is problem+json (through the reusable responses).
    let mut ids = BTreeSet::new();
    for (method, path) in &documented {
        let op = operation(&doc, method, path);
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{method} {path}: no tag");
        let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: no responses"));
        assert!(responses.contains_key("5XX"), "{method} {path}: no 5XX answer");
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                let inline_problem =
                    response["content"]["application/problem+json"]["schema"]["$ref"] == "#/components/schemas/Problem";
                let reusable = response["$ref"].as_str().is_some_and(|r| r.starts_with("#/components/responses/"));
                assert!(inline_problem || reusable, "{method} {path} {status}: not a problem+json answer: {response}");
            }
        }
    }
    for (name, response) in doc["components"]["responses"].as_object().expect("reusable responses") {
        assert_eq!(
            response["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
            "response {name} is not a problem+json Problem"
        );
    }

    // Each documented route is really served, and its documented security
    // matches what it does without a token: a bearer operation answers 401,
    // a public one does not (no body is sent, so no handler gets further).
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for (method, path) in &documented {
        let concrete = path.split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect::<Vec<_>>().join("/");
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let r = app.call(m, &concrete, None, None).await;
        let status = r.status.as_u16();
        // A public route may answer 404 for its placeholder id, naming what
        // is missing; the router's own 404 names nothing.
        let names_missing = r.body.as_object().is_some_and(|o| o.keys().any(|k| k.ends_with("_id") || k == "code"));
        let unserved = status == 405 || (status == 404 && !names_missing);
        assert!(!unserved, "{method} {concrete}: {status}, the route is not served: {}", r.text);
        let op = operation(&doc, method, path);
        let bearer = op["security"].as_array().is_some_and(|s| s.iter().any(|req| req.get("bearer").is_some()));
        if bearer {
            r.problem(401);
            assert!(op["responses"].get("401").is_some(), "{method} {path}: 401 is not documented");
        } else {
            assert_ne!(status, 401, "{method} {path} is documented as public but wants a token");
        }
    }
}

/// Page schemas are declared beside the list they describe (`page_schema!`)
/// and must name the fields `Page` serialises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_schemas_have_the_fields_of_a_page() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc = served_document(&app).await;
    let page = clearway::api::pagination::Page::<()> { items: vec![], next_cursor: None };
    let serialised: BTreeSet<String> =
        serde_json::to_value(&page).unwrap().as_object().unwrap().keys().cloned().collect();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let pages: Vec<&String> = schemas.keys().filter(|name| name.ends_with("Page")).collect();
    assert!(pages.len() >= 7, "page schemas: {pages:?}");
    for name in pages {
        let documented: BTreeSet<String> = schemas[name]["properties"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(documented, serialised, "schema {name} does not match a serialised page");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_docs_are_served_offline_without_a_token() {
    let app = spawn_app(Backend::Sqlite).await;

    let r = app.get("/docs", None).await;
    assert!(r.status.is_redirection(), "GET /docs: {} {}", r.status, r.text);
    let location = r.header("location").expect("a Location header");
    assert_eq!(location, "/docs/");

    let page = app.get(&location, None).await.expect(200);
    assert!(page.header("content-type").is_some_and(|c| c.starts_with("text/html")), "{:?}", page.headers);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    for scheme in ["http://", "https://", "//cdn", "unpkg", "jsdelivr"] {
        assert!(!page.text.contains(scheme), "the page references {scheme}: {}", page.text);
    }

    // Its scripts and styles come from this server, and it reads our document.
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"] {
        assert!(page.text.contains(asset), "the page does not load {asset}");
        app.get(&format!("/docs/{asset}"), None).await.expect(200);
    }
    let init = app.get("/docs/swagger-initializer.js", None).await.expect(200);
    assert!(init.text.contains("/api-docs/openapi.json"), "{}", init.text);
    assert!(!init.text.contains("http://") && !init.text.contains("https://"), "{}", init.text);
}
