//! Problem `type` URIs resolve: every slug the code answers with has a page
//! in `src/api/problems.rs`, and the server serves it.

use std::path::{Path, PathBuf};

use clearway::api::problems::PROBLEMS;
use clearway::error::problem_type_uri;

use crate::api_tests;
use crate::helpers::TestApp;

/// Every `.rs` file under `src/`, except the table itself.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("api/problems.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// The string literal at the start of `s` (after spaces), if it looks like a slug.
fn slug_at(s: &str) -> Option<&str> {
    let rest = s.trim_start().strip_prefix('"')?;
    let slug = &rest[..rest.find('"')?];
    let ok = !slug.is_empty() && slug.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    ok.then_some(slug)
}

/// The slugs a source file answers with, found the ways the code names them:
/// `AppError::conflict("…"` and `unprocessable("…"`; `("slug", "Title"`
/// tuples (`kind_and_title`, the framework errors in startup.rs); the arms of
/// a `fn kind(` (the booking refusals).
fn slugs_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for call in ["conflict(", "unprocessable("] {
        for (i, _) in text.match_indices(call) {
            if let Some(slug) = slug_at(&text[i + call.len()..]) {
                found.push(slug.to_owned());
            }
        }
    }
    for (i, _) in text.match_indices("(\"") {
        let Some(slug) = slug_at(&text[i + 1..]) else { continue };
        let after = text[i + 1 + slug.len() + 2..].trim_start();
        let title = after.strip_prefix(',').map(str::trim_start).and_then(|t| t.strip_prefix('"'));
        if title.is_some_and(|t| t.starts_with(|c: char| c.is_ascii_uppercase())) {
            found.push(slug.to_owned());
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        if !line.contains("fn kind(") {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let end = format!("{}}}", " ".repeat(indent));
        for body in lines[n + 1..].iter().take_while(|l| **l != end) {
            if let Some(arm) = body.split_once("=>").map(|(_, r)| r) {
                if let Some(slug) = slug_at(arm) {
                    found.push(slug.to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn every_problem_slug_in_src_has_a_page_and_every_page_is_used() {
    let sources = sources();
    let mut used = Vec::new();
    for (path, text) in &sources {
        for slug in slugs_in(text) {
            used.push((slug, path.display().to_string()));
        }
    }
    // The scan must see the known forms, or it proves nothing.
    for known in ["slot-full", "illegal-transition", "idempotency-key-reused", "not-found", "method-not-allowed"] {
        assert!(used.iter().any(|(s, _)| s == known), "the scan no longer finds {known}: update slugs_in");
    }
    let missing: Vec<String> = used
        .iter()
        .filter(|(slug, _)| !PROBLEMS.iter().any(|p| p.slug == slug))
        .map(|(slug, path)| format!("{slug} ({path})"))
        .collect();
    assert!(missing.is_empty(), "problem types without a page in src/api/problems.rs: {missing:?}");
    let unused: Vec<&str> = PROBLEMS
        .iter()
        .map(|p| p.slug)
        .filter(|slug| !sources.iter().any(|(_, text)| text.contains(&format!("\"{slug}\""))))
        .collect();
    assert!(unused.is_empty(), "pages in src/api/problems.rs for types the code no longer uses: {unused:?}");
}

#[test]
fn docs_api_md_links_every_problem_page() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md")).unwrap();
    let missing: Vec<&str> =
        PROBLEMS.iter().map(|p| p.slug).filter(|slug| !doc.contains(&format!("/problems/{slug})"))).collect();
    assert!(missing.is_empty(), "docs/API.md does not link these problem pages: {missing:?}");
}

async fn problem_types_resolve(app: TestApp) {
    // A real error's `type` is <public_url>/problems/<slug> ...
    let public_url = app.state.settings.server.public_url.clone();
    let r = app.get("/api/v1/me", None).await.problem(401);
    let type_uri = r.str("/type");
    assert_eq!(type_uri, problem_type_uri(&public_url, "unauthorized"));
    // ... and that path is a page of this server.
    let path = type_uri.strip_prefix(&public_url).unwrap();
    let page = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("Authentication required"));

    let page = app.client.get(app.url("/problems/slot-full")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Slot fully booked</h1>") && html.contains("What to do"), "{html}");
    assert!(html.contains(&problem_type_uri(&public_url, "slot-full")), "{html}");

    let r = app
        .call_with(reqwest::Method::GET, "/problems/slot-full", None, None, &[("accept", "application/json")])
        .await
        .expect(200);
    assert_eq!(r.body["status"], 409);
    assert_eq!(r.str("/type"), problem_type_uri(&public_url, "slot-full"));

    let list = app.client.get(app.url("/problems")).send().await.unwrap();
    assert_eq!(list.status().as_u16(), 200);
    let html = list.text().await.unwrap();
    for p in PROBLEMS {
        assert!(html.contains(&format!("href=\"problems/{}\"", p.slug)), "{} not listed", p.slug);
    }

    let r = app.get("/problems/no-such-problem", None).await.problem(404);
    assert_eq!(r.str("/type"), problem_type_uri(&public_url, "not-found"));
}

api_tests!(problem_types_resolve);
