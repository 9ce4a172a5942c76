//! Languages of the API's answers: problem `title` and `detail` in Chinese,
//! English or Russian by the request's `Accept-Language` (English when none
//! of ours is asked for). The `type`, field names and error codes never
//! change; only the words do.
//!
//! The English words are built where the error is (`src/error.rs` and the
//! rules); the other languages are one table per language ([`zh`], [`ru`]),
//! one entry per problem type, whose `{name}` placeholders are filled from
//! the problem's extension members (the ids and values it concerns), so a
//! detail carries the same values in every language.

pub mod ru;
pub mod zh;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;

/// A language of the answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
    Ru,
}

impl Lang {
    /// The BCP 47 tag sent in `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
            Lang::Ru => "ru",
        }
    }

    fn table(self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self {
            Lang::En => &[],
            Lang::Zh => zh::PROBLEMS,
            Lang::Ru => ru::PROBLEMS,
        }
    }

    fn of_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next().unwrap_or("").trim().to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::Zh),
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// The best of our languages for an `Accept-Language` value (RFC 9110:
/// the highest `q` wins, the first listed among equals; `q=0` means "not
/// this one"); English when none of ours is listed.
pub fn negotiate(accept_language: &str) -> Lang {
    let mut best: Option<(f32, Lang)> = None;
    for part in accept_language.split(',').take(32) {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        if let Some(lang) = Lang::of_tag(tag) {
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
    }
    best.map_or(Lang::En, |(_, l)| l)
}

tokio::task_local! {
    static LANGUAGE: Lang;
}

/// The language of the request being answered (English outside one).
pub fn current() -> Lang {
    LANGUAGE.try_with(|l| *l).unwrap_or(Lang::En)
}

/// Middleware: answers the request in the language it asks for. Errors
/// that inner middleware return are turned into their answers here, still
/// inside the request's language.
pub async fn request_language(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> actix_web::Result<ServiceResponse<impl MessageBody>> {
    let lang = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map_or(Lang::En, negotiate);
    LANGUAGE
        .scope(lang, async move {
            // An error answer is rendered here, in the language's scope; the
            // framework then sends that answer as it is.
            next.call(req).await.map_err(|e| {
                let response = e.error_response();
                actix_web::error::InternalError::from_response(e.to_string(), response).into()
            })
        })
        .await
}

/// The `title` and `detail` of a problem of type `slug` in `lang`: the
/// English ones given, or the language's entry with its placeholders
/// filled from `vars` (English when the type has no entry). `at_gate`:
/// the gate's refusal of a slug it shares with booking (`too-late`).
pub fn problem_text(
    lang: Lang,
    slug: &str,
    at_gate: bool,
    english: (&str, String),
    vars: &serde_json::Map<String, serde_json::Value>,
) -> (String, String) {
    let table = lang.table();
    let find = |key: &str| table.iter().find(|(s, _, _)| *s == key);
    let gate_key = format!("gate:{slug}");
    let entry = if at_gate { find(&gate_key).or_else(|| find(slug)) } else { find(slug) };
    match entry {
        Some((_, title, detail)) => ((*title).to_owned(), fill(detail, vars)),
        None => (english.0.to_owned(), english.1),
    }
}

/// `{name}` placeholders replaced by the values of `vars` (strings without
/// quotes); a placeholder without a value is left as it is.
pub fn fill(template: &str, vars: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                let name = &after[..close];
                match vars.get(name) {
                    Some(serde_json::Value::String(s)) => out.push_str(s),
                    Some(v) => out.push_str(&v.to_string()),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders of a template, for tests.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push(&after[..close]);
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::problems::PROBLEMS;

    #[test]
    fn negotiates_by_quality_and_falls_back_to_english() {
        assert_eq!(negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(negotiate("ru-RU"), Lang::Ru);
        assert_eq!(negotiate("zh-Hant-TW"), Lang::Zh);
        assert_eq!(negotiate("de-DE,ru;q=0.5,en;q=0.7"), Lang::En);
        assert_eq!(negotiate("de, fr;q=0.9"), Lang::En);
        assert_eq!(negotiate("ru;q=0, zh;q=0.2"), Lang::Zh);
        assert_eq!(negotiate(""), Lang::En);
        assert_eq!(negotiate("*"), Lang::En);
    }

    /// Every problem type the API answers with has a Chinese and a Russian
    /// title and detail, and no entry is left over.
    #[test]
    fn every_problem_type_is_translated() {
        for lang in [Lang::Zh, Lang::Ru] {
            let table = lang.table();
            for p in PROBLEMS {
                let entry = table.iter().find(|(s, _, _)| *s == p.slug);
                let (_, title, detail) = entry.unwrap_or_else(|| panic!("{} has no {:?} entry", p.slug, lang));
                assert!(!title.trim().is_empty() && !detail.trim().is_empty(), "{} {lang:?}", p.slug);
            }
            for (slug, _, _) in table {
                let base = slug.trim_start_matches("gate:");
                assert!(PROBLEMS.iter().any(|p| p.slug == base), "{lang:?} has an entry for unknown type {slug}");
            }
            assert_eq!(table.len(), PROBLEMS.len() + 1, "{lang:?}: one entry per type, plus gate:too-late");
        }
    }

    /// The two languages fill the same values into the same entry, and
    /// only values problems carry.
    #[test]
    fn placeholders_agree_across_languages() {
        const KNOWN: &[&str] = &[
            "count",
            "retry_after_secs",
            "seconds",
            "reserved_until",
            "limit",
            "notice_minutes",
            "window_opens_at",
            "window_closes_at",
            "horizon_days",
            "declaration_id",
            "cancel_cutoff_minutes",
            "plate",
            "country",
            "site_id",
            "version",
            "current_version",
            "booking_status",
            "checked_in_at",
            "checked_in_by",
        ];
        for (slug, _, zh_detail) in zh::PROBLEMS {
            let (_, _, ru_detail) = ru::PROBLEMS.iter().find(|(s, _, _)| s == slug).unwrap();
            let mut a = placeholders(zh_detail);
            let mut b = placeholders(ru_detail);
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "{slug}");
            for name in a {
                assert!(KNOWN.contains(&name), "{slug}: {{{name}}} is no value a problem carries");
            }
        }
    }

    #[test]
    fn fills_values_and_keeps_english_for_english() {
        let vars = serde_json::json!({"notice_minutes": 120, "plate": "01KZ123ABC"});
        let vars = vars.as_object().unwrap();
        let (title, detail) = problem_text(Lang::Ru, "too-late", false, ("Booking refused", "x".into()), vars);
        assert_eq!(title, "Слишком поздно");
        assert!(detail.contains("за 120 мин"), "{detail}");
        let (_, gate) = problem_text(Lang::Zh, "too-late", true, ("t", "x".into()), vars);
        assert!(gate.contains("到达时间窗"), "{gate}");
        let en = problem_text(Lang::En, "too-late", false, ("Booking refused", "bookings close".into()), vars);
        assert_eq!(en, ("Booking refused".to_owned(), "bookings close".to_owned()));
        assert_eq!(fill("{a} {b} {", serde_json::json!({"a": "x"}).as_object().unwrap()), "x {b} {");
    }
}
