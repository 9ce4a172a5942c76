//! The web console: a single-page application for companies and customs
//! officers, served by this binary from files embedded at build time
//! (`web/`, plain ES modules and CSS: no build step, nothing from a CDN).
//!
//! It talks to `/api/v1` with a bearer token like any integrator; these
//! pages are not API routes, so they are registered here and not in the
//! endpoint tables that the OpenAPI document is checked against.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// Where the assets are served; `GET /` serves the page that loads them.
pub const ASSET_PREFIX: &str = "/console";

/// Only this origin's scripts, styles, images and API; no inline script or
/// style, no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The page at `/`.
const INDEX: Asset = Asset { name: "index.html", content_type: HTML, body: include_str!("../../web/index.html") };

/// Everything under `/console/`.
const ASSETS: &[Asset] = &[
    Asset { name: "app.css", content_type: CSS, body: include_str!("../../web/app.css") },
    Asset { name: "app.js", content_type: JS, body: include_str!("../../web/app.js") },
    Asset { name: "api.js", content_type: JS, body: include_str!("../../web/api.js") },
    Asset { name: "ui.js", content_type: JS, body: include_str!("../../web/ui.js") },
    Asset { name: "time.js", content_type: JS, body: include_str!("../../web/time.js") },
    Asset { name: "company.js", content_type: JS, body: include_str!("../../web/company.js") },
    Asset { name: "declaration-form.js", content_type: JS, body: include_str!("../../web/declaration-form.js") },
    Asset { name: "heatmap.js", content_type: JS, body: include_str!("../../web/heatmap.js") },
    Asset { name: "holds.js", content_type: JS, body: include_str!("../../web/holds.js") },
    Asset { name: "officer.js", content_type: JS, body: include_str!("../../web/officer.js") },
    Asset { name: "i18n.js", content_type: JS, body: include_str!("../../web/i18n.js") },
    Asset { name: "charts.js", content_type: JS, body: include_str!("../../web/charts.js") },
    Asset { name: "reports.js", content_type: JS, body: include_str!("../../web/reports.js") },
    Asset { name: "board.js", content_type: JS, body: include_str!("../../web/board.js") },
    Asset { name: "calendar.js", content_type: JS, body: include_str!("../../web/calendar.js") },
    Asset { name: "lang-en.js", content_type: JS, body: include_str!("../../web/lang-en.js") },
    Asset { name: "lang-zh-CN.js", content_type: JS, body: include_str!("../../web/lang-zh-CN.js") },
    Asset { name: "lang-ru.js", content_type: JS, body: include_str!("../../web/lang-ru.js") },
    Asset { name: "icon.svg", content_type: SVG, body: include_str!("../../web/icon.svg") },
];

/// Strong ETags, one per file, computed once.
static ETAGS: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    std::iter::once(&INDEX)
        .chain(ASSETS)
        .map(|a| {
            let digest = Sha256::digest(a.body.as_bytes());
            (a.name, format!("\"{}\"", hex::encode(&digest[..12])))
        })
        .collect()
});

/// The names of the files served under [`ASSET_PREFIX`] (tests use it).
pub fn asset_names() -> Vec<&'static str> {
    ASSETS.iter().map(|a| a.name).collect()
}

/// Registers `GET /` and `GET /console/{file}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(index)))
        .service(web::resource(format!("{ASSET_PREFIX}/{{file}}")).route(web::get().to(asset)));
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, &INDEX)
}

async fn asset(req: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, AppError> {
    let name = file.into_inner();
    let asset = ASSETS.iter().find(|a| a.name == name).ok_or(AppError::NotFound)?;
    Ok(serve(&req, asset))
}

/// Answers a file, or 304 when the client's copy is current. Files are
/// revalidated on every use (`no-cache`), so a new binary is never mixed
/// with cached files of an old one.
fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let etag = ETAGS.iter().find(|(n, _)| *n == asset.name).map(|(_, t)| t.as_str()).unwrap_or("\"0\"");
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*"));
    let mut res = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if fresh {
        return res.finish();
    }
    res.insert_header((header::CONTENT_TYPE, asset.content_type)).body(asset.body)
}
