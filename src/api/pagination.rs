//! Cursor pagination shared by every list: `limit` (1..=200, default 50)
//! and an opaque `cursor`; answers `{"items": [...], "next_cursor": ...}`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::error::AppError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// The paging part of a list's query string.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    // Text, so that `limit=abc` is our 400 and not a flattening quirk of
    // the query-string decoder.
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page, with the same filters.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

/// A list's query string, as a handler argument: its own filters and the
/// page window. The page parameters are declared once, here; each list
/// states only its filters. Read like `web::Query` (same error answers).
#[derive(Debug, Deserialize)]
pub struct Listed<F> {
    #[serde(flatten)]
    pub filter: F,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// A list's parameters in the OpenAPI document: its filters, then the page.
impl<F: IntoParams> IntoParams for Listed<F> {
    fn into_params(
        parameter_in: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        let mut params = F::into_params(&parameter_in);
        params.extend(PageQuery::into_params(&parameter_in));
        params
    }
}

impl<F: DeserializeOwned + 'static> FromRequest for Listed<F> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let query = web::Query::<Self>::from_request(req, payload).into_inner().map(web::Query::into_inner);
        let req = req.clone();
        Box::pin(async move {
            if query.is_err() {
                // The caller's 401/403 first (see `caller_settled`).
                crate::auth::extract::caller_settled(&req).await;
            }
            query
        })
    }
}

impl PageQuery {
    /// The page size, checked.
    pub fn limit(&self) -> Result<i64, AppError> {
        let Some(raw) = self.limit.as_deref() else {
            return Ok(DEFAULT_LIMIT);
        };
        match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Ok(_) => Err(AppError::field("limit", "range", "limit must be between 1 and 200")),
            Err(_) => Err(AppError::BadRequest("limit must be an integer".into())),
        }
    }

    /// The decoded cursor (the sort key of the last item seen).
    pub fn after(&self) -> Result<Option<String>, AppError> {
        self.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_cursor).transpose()
    }

    /// The page size and the decoded cursor, both checked (the size first).
    pub fn window(&self) -> Result<(i64, Option<String>), AppError> {
        Ok((self.limit()?, self.after()?))
    }

    /// The decoded cursor of a list ordered by (time, id) (see [`time_id_key`]).
    pub fn after_time(&self) -> Result<Option<(chrono::NaiveDateTime, String)>, AppError> {
        self.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_time_cursor).transpose()
    }
}

pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Result<String, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| s.len() <= 200)
        .ok_or_else(|| AppError::field("cursor", "invalid", "cursor is not one this API gave out"))
}

/// One page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Declares `$name`, the OpenAPI schema of `Page<$item>`. (utoipa inlines
/// the arguments of a generic schema; a named page type instead refers to
/// its item's schema. The tests hold these to `Page`'s fields.)
macro_rules! page_schema {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(utoipa::ToSchema)]
        pub struct $name {
            /// The items of this page, in the list's stable order.
            pub items: Vec<$item>,
            /// Pass as `cursor` to read the next page; `null` on the last page.
            pub next_cursor: Option<String>,
        }
    };
}
pub(crate) use page_schema;

impl<T> Page<T> {
    /// The only page: the whole list.
    pub fn all(items: impl IntoIterator<Item = T>) -> Self {
        Page { items: items.into_iter().collect(), next_cursor: None }
    }

    /// A page whose service already cut it and said whether there is `more`;
    /// the cursor is the key of its last item.
    pub fn cut(items: Vec<T>, more: bool, key: impl Fn(&T) -> &str) -> Self {
        let next_cursor = if more { items.last().map(|i| encode_cursor(key(i))) } else { None };
        Page { items, next_cursor }
    }

    /// Builds a page from rows fetched with `limit + 1` (the extra row only
    /// tells that there is more), mapping each kept row to its item.
    pub fn from_rows<R>(mut rows: Vec<R>, limit: i64, key: impl Fn(&R) -> String, map: impl FnMut(R) -> T) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(|r| encode_cursor(&key(r))) } else { None };
        Page { items: rows.into_iter().map(map).collect(), next_cursor }
    }
}

/// The sort key of lists ordered by (time, id): `<micros>|<id>`.
pub fn time_id_key(t: chrono::NaiveDateTime, id: &str) -> String {
    format!("{}|{id}", t.and_utc().timestamp_micros())
}

/// Reads a cursor made from [`time_id_key`].
pub fn decode_time_cursor(raw: &str) -> Result<(chrono::NaiveDateTime, String), AppError> {
    let bad = || AppError::field("cursor", "invalid", "cursor is not one this API gave out");
    let decoded = decode_cursor(raw)?;
    let (micros, id) = decoded.split_once('|').ok_or_else(bad)?;
    let t = chrono::DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((t.naive_utc(), id.to_owned()))
}
