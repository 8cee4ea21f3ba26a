//! Signature verification and the verified results.
//!
//! The order is fixed: the algorithm is checked against the rules and the
//! key, the signature is verified, and only then are the claims checked.
//! Claims were parsed before (strictly, see the token module), but nothing
//! in them is acted upon until the signature holds.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::jwk::VerifyingKey;
use crate::token::{Header, Jws, UnverifiedToken};
use crate::validation::Validation;

/// A JWT whose signature verified and whose claims met the [`Validation`].
///
/// Cheap to clone: the parts are shared.
#[derive(Clone)]
pub struct Verified {
    inner: Arc<VerifiedInner>,
}

struct VerifiedInner {
    header: Header,
    claims: Map<String, Value>,
    /// The decoded payload, kept so that typed claims deserialize from the
    /// original bytes without cloning the map.
    payload: Vec<u8>,
    key: Arc<VerifyingKey>,
}

/// A compact JWS whose signature verified; its payload is opaque bytes.
#[derive(Clone, Debug)]
pub struct VerifiedJws {
    header: Header,
    payload: Vec<u8>,
    key: Arc<VerifyingKey>,
}

impl Verified {
    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.inner.header
    }

    /// The verified claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.inner.claims
    }

    /// Deserializes the claims into the caller's type.
    ///
    /// # Errors
    ///
    /// [`Error::ClaimsType`] when the claims do not fit `T`.
    ///
    /// # Example
    ///
    /// ```
    /// # fn show(verified: jwks_registry::Verified) -> Result<(), jwks_registry::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Claims {
    ///     sub: String,
    ///     scope: Option<String>,
    /// }
    /// let claims: Claims = verified.deserialize_claims()?;
    /// println!("{} may {:?}", claims.sub, claims.scope);
    /// # Ok(()) }
    /// ```
    pub fn deserialize_claims<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.inner.payload).map_err(|source| Error::ClaimsType {
            source: Arc::new(source),
        })
    }

    /// The key that verified the signature.
    pub fn key(&self) -> &Arc<VerifyingKey> {
        &self.inner.key
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> Option<&str> {
        self.inner.claims.get("iss").and_then(Value::as_str)
    }

    /// The `sub` claim.
    pub fn subject(&self) -> Option<&str> {
        self.inner.claims.get("sub").and_then(Value::as_str)
    }
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("header", &self.inner.header)
            .field("claims", &self.inner.claims)
            .field("key", &self.inner.key)
            .finish()
    }
}

impl VerifiedJws {
    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The verified payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The key that verified the signature.
    pub fn key(&self) -> &Arc<VerifyingKey> {
        &self.key
    }
}

/// Verifies a parsed JWT with `key` and checks its claims.
pub(crate) fn verify_token(
    token: UnverifiedToken<'_>,
    key: &Arc<VerifyingKey>,
    validation: &Validation,
) -> Result<Verified, Error> {
    verify_token_from(token, key, validation, None)
}

/// As [`verify_token`], also requiring `iss` to equal the issuer the key
/// came from.
pub(crate) fn verify_token_from(
    token: UnverifiedToken<'_>,
    key: &Arc<VerifyingKey>,
    validation: &Validation,
    key_issuer: Option<&str>,
) -> Result<Verified, Error> {
    let UnverifiedToken { jws, claims } = token;
    validation.check_algorithm(jws.header.algorithm())?;
    key.verify(jws.header.algorithm(), jws.signing_input, &jws.signature)?;
    validation.check(&jws.header, &claims, key_issuer)?;
    Ok(Verified {
        inner: Arc::new(VerifiedInner {
            header: jws.header,
            claims,
            payload: jws.payload,
            key: Arc::clone(key),
        }),
    })
}

/// Verifies a parsed JWS with `key`.
pub(crate) fn verify_jws(jws: Jws<'_>, key: &Arc<VerifyingKey>) -> Result<VerifiedJws, Error> {
    key.verify(jws.header.algorithm(), jws.signing_input, &jws.signature)?;
    Ok(VerifiedJws {
        header: jws.header,
        payload: jws.payload,
        key: Arc::clone(key),
    })
}
