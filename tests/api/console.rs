//! The web console: `/` and its assets come from the binary itself, with a
//! strict Content-Security-Policy, the right content types, revalidation
//! (ETag), and nothing loaded from outside the origin. The console is not an
//! API route, so it is not in the route tables the OpenAPI document covers.
//!
//! Nothing here touches the database, so these run on SQLite only.

use std::collections::BTreeSet;

use reqwest::header;

use crate::helpers::{spawn_app, Backend, TestApp};

/// The SVG namespace is an identifier, not something a browser fetches.
const ALLOWED_URLS: &[&str] = &["http://www.w3.org/2000/svg"];

struct Fetched {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn fetch(app: &TestApp, path: &str) -> Fetched {
    let r = app.client.get(app.url(path)).send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.text().await.expect("body");
    Fetched { status, headers, body }
}

fn header_of(f: &Fetched, name: header::HeaderName) -> String {
    f.headers.get(&name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

fn assert_strict_csp(path: &str, f: &Fetched) {
    let csp = header_of(f, header::CONTENT_SECURITY_POLICY);
    for directive in
        ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]
    {
        assert!(csp.contains(directive), "{path}: CSP lacks {directive}: {csp}");
    }
    for loose in ["unsafe-inline", "unsafe-eval", "*", "http:", "https:", "data:"] {
        assert!(!csp.contains(loose), "{path}: CSP allows {loose}: {csp}");
    }
    assert_eq!(header_of(f, header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{path}");
    assert!(!header_of(f, header::CACHE_CONTROL).is_empty(), "{path}: no Cache-Control");
    assert!(!header_of(f, header::ETAG).is_empty(), "{path}: no ETag");
}

/// Every absolute http(s) URL in a text.
fn absolute_urls(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for scheme in ["http://", "https://"] {
        let mut rest = text;
        while let Some(i) = rest.find(scheme) {
            let url: String = rest[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | ')' | '`' | '<' | '>'))
                .collect();
            rest = &rest[i + scheme.len()..];
            out.push(url);
        }
    }
    out
}

/// `/console/x` references in the page and `./x.js` imports in the modules.
fn local_references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (marker, prefix) in [("\"/console/", "/console/"), ("'./", "/console/")] {
        let mut rest = text;
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            let name: String = rest.chars().take_while(|c| !matches!(c, '"' | '\'')).collect();
            if name.ends_with(".js") || name.ends_with(".css") || name.ends_with(".svg") {
                out.push(format!("{prefix}{name}"));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_at_root_is_html_with_a_strict_csp() {
    let app = spawn_app(Backend::Sqlite).await;
    let page = fetch(&app, "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(header_of(&page, header::CONTENT_TYPE), "text/html; charset=utf-8");
    assert_strict_csp("/", &page);
    assert!(page.body.contains("<script type=\"module\" src=\"/console/app.js\"></script>"), "{}", page.body);
    // No inline script or style: the CSP would block it anyway.
    for (i, _) in page.body.match_indices("<script") {
        let tag: String = page.body[i..].chars().take_while(|c| *c != '>').collect();
        assert!(tag.contains("src="), "inline script: {tag}");
    }
    assert!(!page.body.contains("<style") && !page.body.contains(" style="), "inline style in the page");
    assert!(page.body.contains("<html lang=\"en\">"));

    // Revalidation: the same ETag answers 304 without a body.
    let etag = header_of(&page, header::ETAG);
    let again = app.client.get(app.url("/")).header(header::IF_NONE_MATCH, &etag).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 304);

    // Other methods are refused as problem+json, like every unknown route.
    let post = app.post("/", None, serde_json::json!({})).await;
    assert_eq!(post.status.as_u16(), 405, "{}", post.text);

    // Not an API route: the OpenAPI route tables do not list it.
    assert!(!clearway::api::routes().iter().any(|(_, p)| p == "/" || p.starts_with("/console")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_asset_loads_with_its_content_type_and_nothing_from_elsewhere() {
    let app = spawn_app(Backend::Sqlite).await;
    let names = clearway::api::console::asset_names();
    assert!(names.contains(&"app.js") && names.contains(&"app.css"), "{names:?}");
    let mut referenced = BTreeSet::new();
    referenced.extend(local_references(&fetch(&app, "/").await.body));
    for name in &names {
        let path = format!("/console/{name}");
        let f = fetch(&app, &path).await;
        assert_eq!(f.status, 200, "{path}");
        let expected = match name.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected asset type {other:?}"),
        };
        assert_eq!(header_of(&f, header::CONTENT_TYPE), expected, "{path}");
        assert_strict_csp(&path, &f);
        for url in absolute_urls(&f.body) {
            assert!(ALLOWED_URLS.contains(&url.as_str()), "{path} references {url} outside the origin");
        }
        if name.ends_with(".js") {
            assert!(!f.body.contains("innerHTML") && !f.body.contains("eval("), "{path}: unsafe DOM or eval");
            // The one thing kept across sessions is the language chosen (i18n.js), never a token.
            if *name == "i18n.js" {
                assert!(!f.body.contains("token"), "{path}: keeps the language only");
            } else {
                assert!(!f.body.contains("localStorage"), "{path}: tokens belong in sessionStorage only");
            }
        }
        referenced.extend(local_references(&f.body));
    }
    // Everything the page and its modules import is served.
    for path in referenced {
        assert_eq!(fetch(&app, &path).await.status, 200, "{path} is referenced but not served");
    }
    // An unknown asset is a plain 404 problem.
    let missing = app.get("/console/nope.js", None).await;
    missing.problem(404);
}
