//! A `tower` layer that admits only requests carrying a valid bearer token
//! (RFC 6750), for axum, tonic, hyper-util and any other tower stack.
//!
//! The layer reads the one `Authorization: Bearer <token>` header, verifies
//! the token through a [`KeyRegistryHandle`], and on success inserts the
//! [`Verified`] token into the request's extensions before calling the inner
//! service. Otherwise it answers itself:
//!
//! | situation | status | `WWW-Authenticate` |
//! | --- | --- | --- |
//! | no bearer token | 401 | `Bearer` |
//! | malformed `Authorization` header | 400 | `Bearer error="invalid_request", ...` |
//! | bad, expired or foreign token | 401 | `Bearer error="invalid_token", ...` |
//! | issuer unreachable | 503 (with `Retry-After`) | none |
//! | registry stopped or misconfigured | 500 | none |
//!
//! The `error_description` is one of a few fixed phrases: it says whether
//! the token expired or is not meant for this service, never which key or
//! check failed. Tokens are never logged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::{Chain, Error, ErrorClass};
use crate::registry::KeyRegistryHandle;
use crate::validation::Validation;
use crate::verify::Verified;

/// The default `Retry-After` of a 503 answer.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Protects a service with bearer tokens verified by a [`KeyRegistryHandle`].
///
/// Cheap to clone: a handle and an `Arc`.
///
/// # Example
///
/// ```no_run
/// use axum::{Extension, Router, routing::get};
/// use jwks_registry::{BearerAuthLayer, KeyRegistryHandle, Validation, Verified};
///
/// # async fn run() -> Result<(), jwks_registry::Error> {
/// let registry = KeyRegistryHandle::builder()
///     .valid_issuers(["https://login.example.com"])
///     .build()?;
/// let app: Router = Router::new()
///     .route("/me", get(|Extension(token): Extension<Verified>| async move {
///         format!("hello, {}", token.subject().unwrap_or("stranger"))
///     }))
///     .layer(BearerAuthLayer::new(registry, Validation::new(["my-api"])));
/// # let _ = app; Ok(()) }
/// ```
#[derive(Clone)]
pub struct BearerAuthLayer {
    registry: KeyRegistryHandle,
    validation: Arc<Validation>,
    retry_after: HeaderValue,
}

/// The service [`BearerAuthLayer`] wraps around an inner service.
///
/// Cheap to clone: the inner service and one `Arc`.
#[derive(Clone)]
pub struct BearerAuth<S> {
    inner: S,
    /// Shared, so that each request costs one reference count rather than a
    /// clone of the registry handle.
    layer: Arc<BearerAuthLayer>,
}

/// Why a request's `Authorization` header yields no token.
enum NoToken {
    /// No bearer credentials at all (RFC 6750 §3.1: answer without an error
    /// code).
    Missing,
    /// Bearer credentials that cannot be read.
    Malformed(&'static str),
}

impl BearerAuthLayer {
    /// A layer verifying tokens with `registry` against `validation`.
    pub fn new(registry: KeyRegistryHandle, validation: Validation) -> BearerAuthLayer {
        BearerAuthLayer {
            registry,
            validation: Arc::new(validation),
            retry_after: seconds(DEFAULT_RETRY_AFTER),
        }
    }

    /// Sets the `Retry-After` sent with a 503 answer (default 5 s, rounded
    /// up to whole seconds).
    pub fn retry_after(mut self, delay: Duration) -> BearerAuthLayer {
        self.retry_after = seconds(delay);
        self
    }

    /// Checks a request's headers: `Ok` with the verified token, or `Err`
    /// with the answer to send instead.
    async fn authorize<B: Default>(&self, headers: &HeaderMap) -> Result<Verified, Response<B>> {
        let token = match bearer_token(headers) {
            Ok(token) => token,
            Err(NoToken::Missing) => {
                return Err(answer(
                    StatusCode::UNAUTHORIZED,
                    Some(HeaderValue::from_static("Bearer")),
                    None,
                ));
            }
            Err(NoToken::Malformed(description)) => {
                let challenge = challenge("invalid_request", description);
                return Err(answer(StatusCode::BAD_REQUEST, Some(challenge), None));
            }
        };
        self.registry
            .verify(token, &self.validation)
            .await
            .map_err(|err| self.refusal(&err))
    }

    fn refusal<B: Default>(&self, err: &Error) -> Response<B> {
        match err.class() {
            ErrorClass::Rejected => {
                tracing::debug!(error = %err, "bearer token rejected");
                let challenge = challenge("invalid_token", describe(err));
                answer(StatusCode::UNAUTHORIZED, Some(challenge), None)
            }
            ErrorClass::Unavailable => {
                tracing::warn!(error = %Chain(err), "bearer token could not be checked");
                answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    Some(self.retry_after.clone()),
                )
            }
            _ => {
                tracing::warn!(error = %Chain(err), "bearer token could not be checked");
                answer(StatusCode::INTERNAL_SERVER_ERROR, None, None)
            }
        }
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> BearerAuth<S> {
        BearerAuth {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready is the one to call; leave a fresh
        // clone in its place (the usual tower idiom).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = Arc::clone(&self.layer);
        Box::pin(async move {
            match layer.authorize(request.headers()).await {
                Ok(verified) => {
                    request.extensions_mut().insert(verified);
                    inner.call(request).await
                }
                Err(refusal) => Ok(refusal),
            }
        })
    }
}

impl fmt::Debug for BearerAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("validation", &self.validation)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

impl<S: fmt::Debug> fmt::Debug for BearerAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

/// Reads the token of the one `Authorization: Bearer` header (RFC 6750
/// §2.1: the scheme is case-insensitive, the token is `b64token`).
fn bearer_token(headers: &HeaderMap) -> Result<&str, NoToken> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        if headers.contains_key(AUTHORIZATION) {
            return Err(NoToken::Malformed("more than one Authorization header"));
        }
        return Err(NoToken::Missing);
    };
    let value = value
        .to_str()
        .map_err(|_| NoToken::Malformed("the Authorization header is not ASCII"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Credentials of another scheme are no bearer credentials.
        return Err(NoToken::Missing);
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() {
        return Err(NoToken::Malformed("the bearer token is empty"));
    }
    if !is_b64token(token) {
        return Err(NoToken::Malformed(
            "the bearer token has characters a token cannot have",
        ));
    }
    Ok(token)
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// A fixed phrase for a rejected token: enough for a client to act on,
/// nothing about keys or the check that failed.
fn describe(err: &Error) -> &'static str {
    match err {
        Error::Expired { .. } => "the token has expired",
        Error::NotYetValid { .. } => "the token is not valid yet",
        Error::InvalidAudience => "the token is not meant for this service",
        Error::IssuerNotAllowed { .. } => "the token's issuer is not accepted here",
        _ => "the token is invalid",
    }
}

fn challenge(code: &str, description: &str) -> HeaderValue {
    let value = format!("Bearer error=\"{code}\", error_description=\"{description}\"");
    // OK because the code and the description are fixed ASCII phrases of
    // this module.
    HeaderValue::from_str(&value).expect("fixed ASCII challenge")
}

fn answer<B: Default>(
    status: StatusCode,
    challenge: Option<HeaderValue>,
    retry_after: Option<HeaderValue>,
) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    if let Some(challenge) = challenge {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    if let Some(retry_after) = retry_after {
        response.headers_mut().insert(RETRY_AFTER, retry_after);
    }
    response
}

fn seconds(delay: Duration) -> HeaderValue {
    let whole = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    HeaderValue::from(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// The scheme is case-insensitive and the token must be a b64token.
    #[test]
    fn bearer_parsing() {
        assert!(matches!(
            bearer_token(&headers(&["Bearer a.b.c"])),
            Ok("a.b.c")
        ));
        assert!(matches!(
            bearer_token(&headers(&["bEaReR a.b.c"])),
            Ok("a.b.c")
        ));
        assert!(matches!(bearer_token(&headers(&[])), Err(NoToken::Missing)));
        assert!(matches!(
            bearer_token(&headers(&["Basic dXNlcjpwdw=="])),
            Err(NoToken::Missing)
        ));
        for malformed in [
            &["Bearer"][..],
            &["Bearer "],
            &["Bearer a b"],
            &["Bearer a,b"],
            &["Bearer a", "Bearer b"],
        ] {
            assert!(
                matches!(
                    bearer_token(&headers(malformed)),
                    Err(NoToken::Malformed(_))
                ),
                "{malformed:?}"
            );
        }
    }

    /// Retry-After is whole seconds, rounded up.
    #[test]
    fn retry_after_seconds() {
        assert_eq!(seconds(Duration::from_millis(1500)), "2");
        assert_eq!(seconds(Duration::from_secs(5)), "5");
    }
}
