//! `ApiJson<T>`: a JSON body whose errors name the offending field.
//!
//! Malformed JSON or a wrong JSON type is 400 (with the field's path); a
//! missing required field is a rule broken by the value, 422 `required`.

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
        Box::pin(async move {
            let web::Json(value) = value.await?;
            parse(value).map(ApiJson).map_err(Into::into)
        })
    }
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
        } else {
            let field = if path == "." { String::new() } else { path };
            let mut e = AppError::BadRequest(format!("{}: {inner}", if field.is_empty() { "body" } else { &field }));
            if let AppError::BadRequest(ref mut d) = e {
                d.truncate(300);
            }
            e
        }
    })
}
