//! Access tokens: HS256 JWTs, algorithm pinned, every claim checked.
//!
//! Tokens carry `kid`; the server signs with the current key and accepts
//! the current and the previous one, so that a key can be rotated without
//! signing everybody out.

use chrono::Utc;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::AuthSettings;
use crate::domain::identity::Role;

/// What an access token says about its bearer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    /// The user's enterprise (company roles only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ent: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The session (sign-in) the token belongs to: revoking it refuses the
    /// token at once. A token without one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

struct Key {
    kid: String,
    decoding: DecodingKey,
}

/// Signing and verification keys plus the rules every token must meet.
pub struct JwtKeys {
    current_kid: String,
    encoding: EncodingKey,
    accepted: Vec<Key>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

/// Why a token was refused (logged, never shown in detail to the client).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token header: {0}")]
    Header(jsonwebtoken::errors::Error),
    #[error("token has no kid or an unknown kid")]
    UnknownKey,
    #[error("token rejected: {0}")]
    Invalid(jsonwebtoken::errors::Error),
}

impl JwtKeys {
    /// Builds the keys from settings (validated at load: a secret exists).
    pub fn from_settings(auth: &AuthSettings) -> anyhow::Result<Self> {
        let secret = auth
            .jwt_secret
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no JWT secret configured"))?
            .expose_secret()
            .as_bytes()
            .to_vec();
        let mut accepted = vec![Key { kid: auth.jwt_key_id.clone(), decoding: DecodingKey::from_secret(&secret)? }];
        if let (Some(prev), Some(kid)) = (&auth.jwt_previous_secret, &auth.jwt_previous_key_id) {
            accepted
                .push(Key { kid: kid.clone(), decoding: DecodingKey::from_secret(prev.expose_secret().as_bytes())? });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[auth.issuer.as_str()]);
        validation.set_audience(&[auth.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "iat", "sub", "nbf"]);
        validation.leeway = auth.leeway_secs.min(30);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Ok(Self {
            current_kid: auth.jwt_key_id.clone(),
            encoding: EncodingKey::from_secret(&secret)?,
            accepted,
            validation,
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            ttl_secs: auth.access_token_ttl_secs,
        })
    }

    /// Lifetime of an access token, in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Signs a new access token for a user's session.
    pub fn issue(
        &self,
        user_id: &str,
        role: Role,
        enterprise_id: Option<&str>,
        session_id: &str,
    ) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            ent: enterprise_id.map(str::to_owned),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.ttl_secs,
            jti: uuid::Uuid::now_v7().to_string(),
            sid: Some(session_id.to_owned()),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current_kid.clone());
        Ok(encode(&header, &claims, &self.encoding)?)
    }

    /// Verifies signature, algorithm, kid, issuer, audience, times and the
    /// presence of every required claim.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(TokenError::Header)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::UnknownKey);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.accepted.iter().find(|k| k.kid == kid).ok_or(TokenError::UnknownKey)?;
        let data = decode::<Claims>(token, &key.decoding, &self.validation).map_err(TokenError::Invalid)?;
        let claims = data.claims;
        // iat in the future (beyond leeway) means a forged or mis-clocked token.
        if claims.iat > Utc::now().timestamp() + self.validation.leeway as i64 {
            return Err(TokenError::UnknownKey);
        }
        Ok(claims)
    }
}
