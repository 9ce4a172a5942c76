//! One page per problem type: every error answer's `type` is
//! `<server.public_url>/problems/<slug>`, and this module serves that URI
//! (what the problem means, what to do), plus `/problems`, the list.
//!
//! Pages are HTML for people; `Accept: application/json` gets the same
//! entry as JSON. Like the console, these are not API routes: they are
//! registered here and not in the endpoint tables of the OpenAPI document.
//! `tests/api/problems.rs` checks that every slug the code answers with is
//! in [`PROBLEMS`], and that every entry is still used.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::{problem_type, AppError, PROBLEM_PATH};

/// One problem type.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProblemType {
    /// Last segment of the `type` URI.
    pub slug: &'static str,
    /// The `title` answers of this type carry (booking refusals and rule
    /// refusals share a generic title; this one is specific).
    pub title: &'static str,
    /// HTTP status of answers of this type; `None` when it varies.
    pub status: Option<u16>,
    /// What it means.
    pub meaning: &'static str,
    /// What the client should do.
    pub what_to_do: &'static str,
}

const fn p(
    slug: &'static str,
    title: &'static str,
    status: Option<u16>,
    meaning: &'static str,
    what_to_do: &'static str,
) -> ProblemType {
    ProblemType { slug, title, status, meaning, what_to_do }
}

/// Every problem type the API answers with, grouped as in docs/API.md.
pub const PROBLEMS: &[ProblemType] = &[
    // Requests the server could not take as they are.
    p(
        "malformed-request",
        "Malformed request",
        Some(400),
        "The body is not valid JSON, a field has the wrong JSON type, or a path or query parameter cannot be read. The detail names the field or parameter.",
        "Correct the request as the detail says. Sending it again unchanged gives the same answer.",
    ),
    p(
        "validation",
        "Invalid input",
        Some(422),
        "The request is well-formed but values break rules. The `errors` array lists every broken rule \
         as {field, code, message}; `field` is a JSON path such as items[2].hs_code.",
        "Correct every listed field and send the request again.",
    ),
    p(
        "unauthorized",
        "Authentication required",
        Some(401),
        "No bearer token, a malformed, expired or forged one, or a wrong email or password at sign-in.",
        "Sign in (POST /api/v1/auth/login) or renew the access token with the refresh token \
         (POST /api/v1/auth/refresh), then send Authorization: Bearer <access_token>.",
    ),
    p(
        "forbidden",
        "Not allowed",
        Some(403),
        "The caller's role may not do this, the enterprise's status does not allow it (pending enterprises \
         cannot submit or book; suspended ones read but do not write), or the action belongs to the other party \
         (customs approve, companies submit).",
        "Use an account with the role the detail names. A pending enterprise waits for customs to verify it; \
         a suspended one contacts customs.",
    ),
    p(
        "not-found",
        "Not found",
        Some(404),
        "No such resource or route. An object of another enterprise is also answered 404, so that its \
         existence is not revealed.",
        "Check the id and the path (the API is under /api/v1).",
    ),
    p(
        "method-not-allowed",
        "Method not allowed",
        Some(405),
        "The path exists but does not accept this HTTP method.",
        "Use one of the methods in the Allow header.",
    ),
    p(
        "payload-too-large",
        "Payload too large",
        Some(413),
        "The body is larger than the server accepts (server.body_limit_bytes, 1 MiB by default).",
        "Send a smaller body; a declaration has at most 999 items.",
    ),
    p(
        "unsupported-media-type",
        "Unsupported media type",
        Some(415),
        "A body was sent without Content-Type: application/json.",
        "Send the body as JSON with Content-Type: application/json.",
    ),
    p(
        "stale-version",
        "Precondition failed",
        Some(412),
        "The If-Match header names a version that is no longer current: someone changed the object since you \
         read it.",
        "GET the object again, apply your change to the current version and send it with the new ETag in If-Match.",
    ),
    p(
        "if-match-required",
        "Precondition required",
        Some(428),
        "This change needs an If-Match header, so that it cannot overwrite a change you have not seen.",
        "GET the object and send its ETag header value in If-Match.",
    ),
    p(
        "too-many-requests",
        "Too many requests",
        Some(429),
        "Too many failed sign-ins for this account or from this address in the last minute.",
        "Wait the number of seconds in the Retry-After header, then sign in with the right password.",
    ),
    p(
        "unavailable",
        "Service temporarily unavailable",
        Some(503),
        "No database connection was free in time, or the database went away during the request. Nothing \
         half-done was kept.",
        "Retry after the Retry-After header's seconds. Retry a booking with the same Idempotency-Key.",
    ),
    p(
        "overloaded",
        "Service temporarily overloaded",
        Some(503),
        "Too many password checks were already waiting (sign-in, registration, password change): the server \
         bounds them so that its memory stays within its stated ceiling.",
        "Retry after the Retry-After header's seconds.",
    ),
    p(
        "timeout",
        "Request timed out",
        Some(503),
        "The request took longer than the server allows (server.request_timeout_secs, 30 s by default), for \
         example a body sent too slowly. Work already handed to the database may still have completed.",
        "Retry; retry a booking with the same Idempotency-Key to learn its outcome.",
    ),
    p(
        "internal",
        "Internal server error",
        Some(500),
        "An unexpected error. Its cause is logged with the request id and never sent to the client.",
        "Retry later. If it persists, give the operator the x-request-id header of the answer.",
    ),
    p(
        "http-error",
        "HTTP error",
        None,
        "Another error raised by the HTTP layer; the status and the detail say which.",
        "Act on the status code; the detail gives the reason.",
    ),
    // Conflicts with the current state.
    p(
        "duplicate",
        "Already registered",
        Some(409),
        "The email, the enterprise's registration code or the site code is already registered.",
        "Use another one, or sign in with the account that exists.",
    ),
    p(
        "illegal-transition",
        "Not allowed in the current state",
        Some(409),
        "The action is not allowed from the object's current status, which the detail names: for example \
         approving a draft, editing a submitted declaration or verifying an enterprise twice.",
        "GET the object to see its status and do only what that status allows (a declaration's history \
         shows how it got there).",
    ),
    p(
        "claimed-by-another",
        "Claimed by another officer",
        Some(409),
        "Another officer claimed the declaration for review (`claimed_by`, `claimed_by_name`); only they, \
         or a supervisor, may approve, reject or request an amendment of it.",
        "Leave it to the officer who holds it, or ask a supervisor to decide it.",
    ),
    p(
        "declaration-booked",
        "Declaration is booked",
        Some(409),
        "The amendment would move a declaration to another site or transport mode while its booking \
         (`booking_id`) holds a place at the old one.",
        "Cancel the booking first, then amend the declaration and book a slot at the new site.",
    ),
    p(
        "webhook-limit",
        "Too many webhook endpoints",
        Some(409),
        "The enterprise already has the most webhook endpoints one enterprise may have \
         (`webhooks.max_per_enterprise`, 10 by default).",
        "Delete an endpoint you no longer use (one endpoint may subscribe to many event types), then register again.",
    ),
    p(
        "concurrent-change",
        "Changed meanwhile",
        Some(409),
        "Another request changed the object between this request's read and its write; nothing was changed.",
        "GET the object again and retry if the action still makes sense.",
    ),
    p(
        "self-deactivation",
        "Cannot deactivate yourself",
        Some(409),
        "A company admin tried to deactivate their own account.",
        "Another admin of the enterprise deactivates the account.",
    ),
    p(
        "schedule-overlap",
        "Schedules overlap",
        Some(409),
        "Two schedules of one site and transport mode would be valid on the same days.",
        "Change valid_from / valid_to so that they do not overlap, or change the existing schedule instead.",
    ),
    p(
        "capacity-below-booked",
        "Capacity below booked places",
        Some(409),
        "The new capacity of a slot is lower than the places already booked in it.",
        "Choose a capacity at least the booked count, or send \"displace\": true with a reason to cancel the \
         latest bookings (their owners are notified).",
    ),
    p(
        "idempotency-key-in-flight",
        "Request with this key in progress",
        Some(409),
        "A request with the same Idempotency-Key is still being processed.",
        "Wait a moment and retry with the same key and the same body: you then get that request's answer.",
    ),
    p(
        "idempotency-key-reused",
        "Idempotency-Key reused",
        Some(422),
        "This Idempotency-Key was already used by your enterprise with another request body.",
        "Use a new key for a new request; reuse a key only to retry exactly the same request.",
    ),
    // Booking refusals.
    p(
        "slot-full",
        "Slot fully booked",
        Some(409),
        "The slot has no free place.",
        "Choose another slot: GET /api/v1/slots?available=true lists the ones with free places.",
    ),
    p(
        "reserved",
        "Places reserved for advanced-certified enterprises",
        Some(409),
        "The slot still has free places, but they are its last places, which customs hold for \
         advanced_certified enterprises until `reserved_until` (the slot's start minus its release_minutes). \
         `slot_id` names the slot.",
        "Choose another slot (GET /api/v1/slots?available=true lists the slots with places your enterprise may \
         take), or book this one from `reserved_until` on, when the reserved places are released to everyone.",
    ),
    // Holds and waitlists.
    p(
        "too-many-holds",
        "Too many live holds",
        Some(409),
        "Your enterprise keeps the most live holds allowed at once (holds.max_per_enterprise, 3 by default). \
         Offers from the waitlist are not counted.",
        "Book one of your holds (POST /api/v1/bookings with hold_id) or release one (DELETE /api/v1/holds/{id}), \
         then hold again.",
    ),
    p(
        "hold-expired",
        "Hold no longer active",
        Some(409),
        "The hold expired, was released or was already converted into a booking: its place is no longer kept.",
        "Hold the slot again (POST /api/v1/holds) or book it directly, if it still has a free place.",
    ),
    p(
        "already-waiting",
        "Declaration already on the waitlist",
        Some(409),
        "The declaration has a waiting or offered waitlist entry already.",
        "See GET /api/v1/waitlist; withdraw that entry (DELETE /api/v1/waitlist/{id}) to wait with another window.",
    ),
    p(
        "waitlist-entry-state",
        "Waitlist entry not waiting",
        Some(409),
        "Only a waiting or offered waitlist entry can be withdrawn; the detail names its status.",
        "Nothing to do: the entry is already fulfilled, lapsed, closed or withdrawn.",
    ),
    p(
        "share-exceeded",
        "Share of the slot exceeded",
        Some(409),
        "Your enterprise already holds the largest share of this slot's capacity that one enterprise may hold \
         (the site's max_share_percent: half by default, at least one place). `limit` gives the places.",
        "Book another slot for this declaration.",
    ),
    p(
        "too-late",
        "Too late",
        Some(422),
        "Booking: bookings close a minimum notice before the slot starts (the site's min_notice_minutes and \
         min_notice_minutes_advanced: 120 minutes, 30 for advanced_certified enterprises, by default). At the \
         gate: the truck arrived after its arrival window closed (slot end + the site's arrival_late_minutes); \
         `window_opens_at` and \
         `window_closes_at` give the window, `booking_id` the booking.",
        "Booking: choose a slot that starts later. At the gate: the company books another slot (the booking \
         becomes no_show).",
    ),
    p(
        "beyond-horizon",
        "Beyond the booking horizon",
        Some(422),
        "The slot starts further ahead than bookings are taken (the site's horizon_days, 30 by default).",
        "Choose an earlier slot, or book later.",
    ),
    p(
        "slot-started",
        "Slot already started",
        Some(422),
        "The slot has already started; it cannot be booked or moved to.",
        "Choose a slot that has not started.",
    ),
    p(
        "slot-closed",
        "Slot closed",
        Some(409),
        "Customs closed this slot.",
        "Choose another slot.",
    ),
    p(
        "declaration-state",
        "Declaration not bookable",
        Some(409),
        "Only a submitted, under_review or approved declaration can be booked; the detail names its status.",
        "Submit the declaration first (POST /api/v1/declarations/{id}/submit), or book for another one.",
    ),
    p(
        "already-booked",
        "Declaration already booked",
        Some(409),
        "The declaration already has an active booking.",
        "Move that booking (POST /api/v1/bookings/{id}/reschedule) or cancel it before booking again.",
    ),
    p(
        "wrong-site-or-mode",
        "Wrong site or transport mode",
        Some(422),
        "The slot is not at the declaration's clearance site or not for its transport mode.",
        "Choose a slot with the declaration's site_id and transport_mode (GET /api/v1/slots?site_id=…&mode=…).",
    ),
    p(
        "discredited",
        "Enterprise discredited",
        Some(403),
        "Enterprises in the discredited credit class may not book clearance slots.",
        "Contact customs about the enterprise's credit class.",
    ),
    p(
        "enterprise-not-verified",
        "Enterprise not verified",
        Some(403),
        "Customs have not verified the enterprise (or suspended it), so it may not book.",
        "Wait for customs to verify the enterprise, or contact them; a suspended enterprise asks customs to \
         reinstate it.",
    ),
    p(
        "cancel-cutoff",
        "Past the cancellation cut-off",
        Some(422),
        "A company may cancel or move a booking only until a cut-off before the slot starts \
         (the cancel_cutoff_minutes of the slot's site, 60 by default).",
        "Contact customs: officers can cancel at any time, with a reason.",
    ),
    p(
        "slot-not-ended",
        "Slot not ended",
        Some(422),
        "A no-show can be recorded only after the slot has ended.",
        "Record it after the slot's ends_at.",
    ),
    p(
        "same-slot",
        "Same slot",
        Some(422),
        "The booking is already on the slot it was asked to move to.",
        "Choose a different slot, or leave the booking as it is.",
    ),
    p(
        "booking-state",
        "Not allowed in the booking's state",
        Some(409),
        "The booking's status does not allow the action, for example checking in a cancelled booking or \
         completing one that was not checked in; the detail names both.",
        "GET the booking to see its status.",
    ),
    p(
        "closure-lifted",
        "Closure already lifted",
        Some(409),
        "The closure was lifted before: its slots already got back what they had.",
        "Nothing to do; GET /api/v1/sites/{id}/closures lists the active ones.",
    ),
    p(
        "vehicle-already-booked",
        "Vehicle already booked at that time",
        Some(409),
        "The vehicle (plate and country, `plate` and `country`) already holds an active booking whose slot \
         overlaps this one, at this or another site: one vehicle is at one gate at a time.",
        "Choose a slot that does not overlap, another vehicle, or move or cancel the other booking.",
    ),
    p(
        "gate-pass-invalid",
        "Not a valid gate pass",
        Some(422),
        "The scanned or typed code is not a gate pass this server signed: forged, damaged or mistyped.",
        "Scan it again, type the code printed under the QR code, or look the truck up by its plate.",
    ),
    p(
        "no-booking-for-vehicle",
        "No booking for this vehicle",
        Some(404),
        "The plate and country (`plate`, `country`) have no active booking.",
        "Check the plate as written on the vehicle; otherwise the company must book a slot.",
    ),
    p(
        "wrong-site",
        "Booked at another site",
        Some(409),
        "The gate pass is for a booking at another clearance site (`site_id`, `booking_id`).",
        "Send the truck to the site of its booking, or the company moves the booking.",
    ),
    p(
        "gate-pass-superseded",
        "Gate pass replaced",
        Some(409),
        "The booking was rescheduled, displaced or its vehicle changed since this pass was issued; the pass \
         presented (`version`) is older than the current one (`current_version`).",
        "The driver shows the current pass (the company reads it with GET /api/v1/bookings/{id}).",
    ),
    p(
        "booking-not-active",
        "Booking not active",
        Some(409),
        "The booking is cancelled, a no-show or completed (`booking_status`): it admits no truck.",
        "The company books again.",
    ),
    p(
        "already-checked-in",
        "Already checked in",
        Some(409),
        "The truck of this booking was already checked in, at `checked_in_at` by `checked_in_by`.",
        "Nothing to do at the gate; complete the booking when the clearance is done.",
    ),
    p(
        "too-early",
        "Too early at the gate",
        Some(422),
        "The truck arrived before its arrival window opens (slot start - the site's arrival_early_minutes); \
         `window_opens_at` and `window_closes_at` give the window.",
        "Wait until the window opens.",
    ),
    p(
        "vehicle-missing",
        "No vehicle on the booking",
        Some(422),
        "The booking names no vehicle, so the gate cannot tell which truck it admits.",
        "The company adds the vehicle (PATCH /api/v1/bookings/{id} with `vehicle`).",
    ),
    p(
        "declarations-not-cleared",
        "Declarations not cleared",
        Some(409),
        "Some declarations of the visit are not approved or released (`declarations` lists them with their \
         status).",
        "Customs decide those declarations first; or the company takes them off the visit.",
    ),
    // Calendar feeds (issue 18).
    p(
        "too-many-calendar-tokens",
        "Too many calendar tokens",
        Some(409),
        "The enterprise already holds the most calendar feed tokens that may be live at once (10).",
        "Revoke a token that is no longer used (DELETE /api/v1/enterprises/{id}/calendar-tokens/{token_id}), \
         then create the new one.",
    ),
];

/// The entry of a slug.
pub fn find(slug: &str) -> Option<&'static ProblemType> {
    PROBLEMS.iter().find(|p| p.slug == slug)
}

/// Registers `GET /problems` and `GET /problems/{slug}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let list_path = PROBLEM_PATH.trim_end_matches('/');
    cfg.service(web::resource(list_path).route(web::get().to(list)))
        .service(web::resource(format!("{PROBLEM_PATH}{{slug}}")).route(web::get().to(page)));
}

/// An entry as JSON, with its full `type` URI.
#[derive(Serialize)]
struct Entry {
    #[serde(rename = "type")]
    type_: String,
    #[serde(flatten)]
    problem: ProblemType,
}

fn entry(p: &ProblemType) -> Entry {
    Entry { type_: problem_type(p.slug), problem: *p }
}

async fn list(req: HttpRequest) -> HttpResponse {
    if wants_json(&req) {
        return respond(HttpResponse::Ok().json(PROBLEMS.iter().map(entry).collect::<Vec<_>>()));
    }
    let mut rows = String::new();
    for p in PROBLEMS {
        // Relative links keep working under a path prefix (public_url with a path).
        rows.push_str(&format!(
            "<tr><td><a href=\"problems/{slug}\"><code>{slug}</code></a></td><td>{status}</td><td>{title}</td></tr>\n",
            slug = esc(p.slug),
            status = status_text(p.status),
            title = esc(p.title),
        ));
    }
    let body = format!(
        "<h1>Problem types</h1>\n<p>Every error answer of the Clearway API is <code>application/problem+json</code>; \
         its <code>type</code> is one of these pages.</p>\n\
         <table><thead><tr><th>type</th><th>status</th><th>title</th></tr></thead><tbody>\n{rows}</tbody></table>"
    );
    respond(html_page("Problem types", &body))
}

async fn page(req: HttpRequest, slug: web::Path<String>) -> Result<HttpResponse, AppError> {
    let p = find(&slug).ok_or(AppError::NotFound)?;
    if wants_json(&req) {
        return Ok(respond(HttpResponse::Ok().json(entry(p))));
    }
    let body = format!(
        "<p><a href=\"../problems\">All problem types</a></p>\n<h1>{title}</h1>\n\
         <p><code>type</code>: <code>{uri}</code><br>HTTP status: {status}</p>\n\
         <h2>What it means</h2>\n<p>{meaning}</p>\n<h2>What to do</h2>\n<p>{todo}</p>",
        title = esc(p.title),
        uri = esc(&problem_type(p.slug)),
        status = status_text(p.status),
        meaning = esc(p.meaning),
        todo = esc(p.what_to_do),
    );
    Ok(respond(html_page(p.title, &body)))
}

/// JSON when the client asks for it and not for HTML.
fn wants_json(req: &HttpRequest) -> bool {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("json") && !accept.contains("text/html")
}

fn status_text(status: Option<u16>) -> String {
    status.map_or_else(|| "varies".to_owned(), |s| s.to_string())
}

fn html_page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · Clearway</title>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n",
        esc(title)
    ))
}

/// Static pages: cacheable, and nothing but their own text may run or load.
fn respond(mut res: HttpResponse) -> HttpResponse {
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    res
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::problem_type_uri;

    #[test]
    fn slugs_are_unique_and_url_safe() {
        for (i, p) in PROBLEMS.iter().enumerate() {
            assert!(p.slug.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", p.slug);
            assert!(PROBLEMS[..i].iter().all(|q| q.slug != p.slug), "{} twice", p.slug);
            assert!(!p.meaning.is_empty() && !p.what_to_do.is_empty(), "{}", p.slug);
        }
    }

    #[test]
    fn type_uris_are_built_on_the_public_url() {
        assert_eq!(
            problem_type_uri("https://customs.example/cw/", "slot-full"),
            "https://customs.example/cw/problems/slot-full"
        );
        assert_eq!(
            problem_type_uri("http://127.0.0.1:8080", "validation"),
            "http://127.0.0.1:8080/problems/validation"
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
