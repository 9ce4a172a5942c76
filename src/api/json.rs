//! `ApiJson<T>`: a JSON body whose errors name the offending field.
//!
//! Malformed JSON or a wrong JSON type is 400 (with the field's path); a
//! missing required field is a rule broken by the value, 422 `required`, and
//! so is a field the body may not have (request DTOs deny unknown fields, so
//! that a misspelt field is named instead of silently dropped), 422 `unknown`.
//! Every body of this API is a JSON object: anything else is a 400 too
//! (serde alone would read a struct from an array of its fields in order).

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

/// A deserialised JSON body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let parsed = match value.await {
                Ok(web::Json(value)) => require_object(&value).and_then(|()| parse(value)).map_err(Into::into),
                Err(e) => Err(e),
            };
            if parsed.is_err() {
                // The caller's 401/403 first (see `caller_settled`).
                crate::auth::extract::caller_settled(&req).await;
            }
            parsed.map(ApiJson)
        })
    }
}

/// An optional JSON body. No body at all (no `Content-Length`, or `0`, and
/// no `Transfer-Encoding`) or a JSON `null` is `None`; a body that is there
/// is read exactly like [`ApiJson`]: 415 when it is not sent as JSON, 413
/// above the limit, 400 for malformed JSON or a wrong type (naming the
/// field). (actix's `Option<ApiJson<T>>` would turn all of those into
/// `None` and silently drop what the client sent.)
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !has_body(req) {
            return Box::pin(async { Ok(OptionalJson(None)) });
        }
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let parsed = match value.await {
                Ok(web::Json(value)) if value.is_null() => Ok(None),
                Ok(web::Json(value)) => {
                    require_object(&value).and_then(|()| parse(value)).map(Some).map_err(Into::into)
                }
                Err(e) => Err(e),
            };
            if parsed.is_err() {
                // The caller's 401/403 first (see `caller_settled`).
                crate::auth::extract::caller_settled(&req).await;
            }
            parsed.map(OptionalJson)
        })
    }
}

/// A body must be a JSON object.
fn require_object(value: &serde_json::Value) -> Result<(), AppError> {
    use serde_json::Value;
    let found = match value {
        Value::Object(_) => return Ok(()),
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
    };
    Err(AppError::BadRequest(format!("body: expected a JSON object, found {found}")))
}

/// Whether the request announces a body (HTTP/1.1: `Content-Length` above 0,
/// or `Transfer-Encoding`).
fn has_body(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.to_str().map_or(true, |v| v.trim() != "0"))
}

/// Deserialises a JSON value into `T`, naming the field on failure.
pub fn parse<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        if let Some(rest) = inner.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or("");
            let field = if path == "." || path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
            AppError::Validation(vec![FieldError::new(field, "required", format!("{name} is required"))])
        } else if inner.starts_with("unknown field `") {
            // serde's path ends with the unknown field itself; its message
            // names the fields that are allowed there.
            AppError::Validation(vec![FieldError::new(path, "unknown", bounded(&inner))])
        } else {
            let field = if path == "." { String::new() } else { path };
            let detail = format!("{}: {inner}", if field.is_empty() { "body" } else { &field });
            AppError::BadRequest(bounded(&detail))
        }
    })
}

/// Bounds the echo of client input, cutting on a character boundary (a byte
/// cut inside a multi-byte character would panic).
fn bounded(text: &str) -> String {
    text.chars().take(300).collect()
}

/// `#[serde(deserialize_with = "integer")]`: a JSON integer as JSON Schema
/// defines it, which includes a number with a zero fraction (`60.0`).
/// serde reads `60.0` as a float and would refuse it for an `i64`, although
/// the document declares the field `type: integer`. A real fraction (`60.5`)
/// or a value beyond `i64` is still a 400 naming the field.
pub fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(IntegerVisitor)
}

/// [`integer`] for an optional field (`null` or absent is `None`).
pub fn opt_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(OptIntegerVisitor)
}

/// A field where `null` means something other than leaving it out:
/// absent is `None` (with `#[serde(default)]`), `null` is `Some(None)`
/// (or `Some` of whatever `T` reads from `null`), a value `Some(..)`.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// [`present`] for an integer: absent `None`, `null` `Some(None)`, a
/// value `Some(Some(v))` (read as [`integer`] does).
pub fn nullable_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    opt_integer(d).map(Some)
}

struct IntegerVisitor;

impl serde::de::Visitor<'_> for IntegerVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("i64")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
        // Exactly representable and in range: -2^63 ≤ v < 2^63.
        if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
            Ok(v as i64)
        } else {
            Err(E::invalid_type(serde::de::Unexpected::Float(v), &self))
        }
    }
}

struct OptIntegerVisitor;

impl<'de> serde::de::Visitor<'de> for OptIntegerVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("i64 or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        integer(d).map(Some)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::parse;
    use crate::error::AppError;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::integer")]
        n: i64,
        #[serde(default, deserialize_with = "super::opt_integer")]
        m: Option<i64>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line {
        #[allow(dead_code)] // read by serde only
        a: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nested {
        #[allow(dead_code)] // read by serde only
        inner: Line,
        #[allow(dead_code)] // read by serde only
        #[serde(default)]
        lines: Vec<Line>,
    }

    #[test]
    fn an_unknown_field_is_a_422_naming_its_path() {
        for (body, field, allowed) in [
            (json!({"inner": {"a": 1}, "extra": true}), "extra", "expected `inner` or `lines`"),
            (json!({"inner": {"a": 1, "b": 2}}), "inner.b", "expected `a`"),
            (json!({"inner": {"a": 1}, "lines": [{"a": 1}, {"a": 2, "zz": 3}]}), "lines[1].zz", "expected `a`"),
        ] {
            match parse::<Nested>(body.clone()) {
                Err(AppError::Validation(errors)) => {
                    assert_eq!(errors.len(), 1, "{body}: {errors:?}");
                    let e = &errors[0];
                    assert_eq!((e.field.as_str(), e.code.as_str()), (field, "unknown"), "{body}: {e:?}");
                    assert!(e.message.starts_with("unknown field `") && e.message.contains(allowed), "{body}: {e:?}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_body_is_an_object() {
        assert!(super::require_object(&json!({"n": 1})).is_ok());
        for body in [json!([null, null]), json!(null), json!(true), json!(1), json!("x")] {
            match super::require_object(&body) {
                Err(AppError::BadRequest(d)) => assert!(d.starts_with("body: expected a JSON object"), "{d}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        // Why: serde reads a struct from an array of its fields.
        assert!(parse::<Body>(json!([5, null])).is_ok());
    }

    #[derive(Debug, Deserialize)]
    struct Nullable {
        #[serde(default, deserialize_with = "super::nullable_integer")]
        n: Option<Option<i64>>,
    }

    #[test]
    fn a_nullable_integer_tells_null_from_absent() {
        assert_eq!(parse::<Nullable>(json!({})).unwrap().n, None);
        assert_eq!(parse::<Nullable>(json!({"n": null})).unwrap().n, Some(None));
        assert_eq!(parse::<Nullable>(json!({"n": 5.0})).unwrap().n, Some(Some(5)));
        assert!(matches!(parse::<Nullable>(json!({"n": "5"})), Err(AppError::BadRequest(d)) if d.starts_with("n: ")));
    }

    #[test]
    fn integers_include_numbers_with_a_zero_fraction() {
        let b: Body = parse(json!({"n": 60.0, "m": -3.0})).unwrap();
        assert_eq!((b.n, b.m), (60, Some(-3)));
        let b: Body = parse(json!({"n": 60, "m": null})).unwrap();
        assert_eq!((b.n, b.m), (60, None));
        let b: Body = parse(json!({"n": 1})).unwrap();
        assert_eq!(b.m, None);
    }

    #[test]
    fn fractions_strings_and_huge_numbers_are_a_400_naming_the_field() {
        for (body, field) in [
            (json!({"n": 60.5}), "n"),
            (json!({"n": "60"}), "n"),
            (json!({"n": 1e19}), "n"),
            (json!({"n": 18446744073709551615u64}), "n"),
            (json!({"n": 1, "m": 0.25}), "m"),
            (json!({"n": 1, "m": "x"}), "m"),
        ] {
            match parse::<Body>(body.clone()) {
                Err(AppError::BadRequest(d)) => assert!(d.starts_with(&format!("{field}: ")), "{body}: {d}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}
