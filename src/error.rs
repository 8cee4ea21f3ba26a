//! The crate's one error type.
//!
//! Every failure, from a malformed token to an unreachable issuer, is a
//! variant of [`Error`]. A gateway answers the client from [`Error::class`]:
//! [`ErrorClass::Rejected`] means the token is bad (HTTP 401),
//! [`ErrorClass::Unavailable`] means the key could not be obtained right now
//! (HTTP 503), and [`ErrorClass::Internal`] means the registry itself is
//! misconfigured or gone (HTTP 500).
//!
//! Strings that come from a token or an issuer (a `kid`, an `alg`, a claim
//! value) are truncated and escaped before they are stored in an error, so
//! that an error can be logged without letting a client write into the log.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The longest piece of untrusted text an error message or a log line
/// carries, in characters; longer text is cut and marked with `…`.
pub(crate) const MAX_QUOTED_CHARS: usize = 64;

/// Everything that can go wrong while verifying a token or fetching keys.
///
/// The `Display` form is one lowercase line without the cause; the cause, if
/// any, is available through [`std::error::Error::source`]. Errors are cheap
/// to clone, so that one failed fetch can answer every caller waiting on it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The token is longer than the configured limit; nothing was decoded.
    TokenTooLarge {
        /// Length of the token in bytes.
        len: usize,
        /// The configured limit in bytes.
        max: usize,
    },
    /// The token is not a well-formed compact JWS with JSON header and
    /// claims: wrong number of segments, bad base64url, bad JSON, a
    /// duplicate member name, a member of the wrong type.
    MalformedToken {
        /// Which part of the token is wrong.
        part: TokenPart,
        /// What is wrong with it.
        reason: String,
    },
    /// The header names an algorithm this crate does not verify: `none`,
    /// `HS*`, `ES512`, or anything unknown.
    UnsupportedAlgorithm {
        /// The algorithm name, escaped and truncated.
        alg: String,
    },
    /// The algorithm is supported but not among those the [`Validation`]
    /// allows.
    ///
    /// [`Validation`]: crate::Validation
    AlgorithmNotAllowed {
        /// The algorithm named by the token.
        alg: crate::Algorithm,
    },
    /// The header lists a critical extension (`crit`) this crate does not
    /// implement, or asks for an unencoded payload (`b64: false`).
    UnsupportedCritical {
        /// The extension name, escaped and truncated.
        name: String,
    },
    /// The token's issuer is not in the registry's allow-list; no request
    /// was made.
    IssuerNotAllowed {
        /// The issuer named by the token, escaped and truncated.
        issuer: String,
    },
    /// No usable key matches the token's `kid` and algorithm.
    KeyNotFound {
        /// The issuer whose keys were searched, if known.
        issuer: Option<String>,
        /// The `kid` searched for (escaped and truncated), or `None` when the
        /// token carries none.
        kid: Option<String>,
    },
    /// More than one usable key fits the token and nothing tells them
    /// apart, so none is used.
    AmbiguousKey {
        /// The `kid` shared by the candidate keys, if any.
        kid: Option<String>,
    },
    /// The key found for the token cannot be used with the token's
    /// algorithm (wrong key type or curve, or a different JWK `alg`).
    KeyMismatch {
        /// The key's `kid`, if it has one.
        kid: Option<String>,
        /// The algorithm named by the token.
        alg: crate::Algorithm,
        /// Why the key does not fit.
        reason: &'static str,
    },
    /// A JSON Web Key could not be imported.
    InvalidKey {
        /// The key's `kid`, if it has one (escaped and truncated).
        kid: Option<String>,
        /// Why the key was refused.
        reason: String,
    },
    /// A JSON Web Key Set could not be used: not JSON, no `keys` array, or
    /// no usable key in it.
    InvalidKeySet {
        /// Why the set was refused.
        reason: String,
    },
    /// The signature does not verify with the selected key.
    InvalidSignature,
    /// The token's `exp` lies in the past, beyond the leeway.
    Expired {
        /// The token's `exp`, in seconds since the Unix epoch.
        exp: f64,
        /// The time of the check, in seconds since the Unix epoch.
        now: u64,
    },
    /// The token's `nbf` lies in the future, beyond the leeway.
    NotYetValid {
        /// The token's `nbf`, in seconds since the Unix epoch.
        nbf: f64,
        /// The time of the check, in seconds since the Unix epoch.
        now: u64,
    },
    /// A claim required by the [`Validation`] is absent.
    ///
    /// [`Validation`]: crate::Validation
    MissingClaim {
        /// The claim's name.
        claim: String,
    },
    /// A registered claim has the wrong JSON type (a string `exp`, a numeric
    /// `aud`, ...).
    InvalidClaim {
        /// The claim's name.
        claim: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token's `aud` names none of the audiences the [`Validation`]
    /// accepts.
    ///
    /// [`Validation`]: crate::Validation
    InvalidAudience,
    /// The token's `iss` differs from the issuer its key came from.
    InvalidIssuer {
        /// The issuer the key belongs to.
        expected: String,
        /// The `iss` found in the token (escaped and truncated), if any.
        found: Option<String>,
    },
    /// The token's `typ` header differs from the expected one.
    InvalidType {
        /// The expected `typ`.
        expected: String,
        /// The `typ` found in the token (escaped and truncated), if any.
        found: Option<String>,
    },
    /// The verified claims could not be deserialized into the caller's type.
    ClaimsType {
        /// The deserialization error.
        source: Arc<serde_json::Error>,
    },
    /// A URL is not acceptable: not `https` (and `allow_http` is off), not
    /// absolute, or carrying credentials.
    InvalidUrl {
        /// The URL (escaped and truncated).
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The HTTP request failed before a response arrived: connection refused,
    /// TLS failure, reset, a body that broke off.
    Http {
        /// The URL requested.
        url: String,
        /// The underlying failure.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The server answered with a status other than 200 (redirects are never
    /// followed and end here too).
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The status received.
        status: u16,
    },
    /// The request took longer than the fetch timeout, connect to last byte.
    Timeout {
        /// The URL requested.
        url: String,
        /// The timeout that ran out.
        after: Duration,
    },
    /// The response body is larger than `max_response_bytes`; reading
    /// stopped at the limit.
    ResponseTooLarge {
        /// The URL requested.
        url: String,
        /// The configured limit in bytes.
        max: usize,
    },
    /// The discovery document is unusable: not JSON, no `jwks_uri`, or an
    /// `issuer` that differs from the token's `iss`.
    InvalidDiscovery {
        /// The issuer being discovered.
        issuer: String,
        /// Why the document was refused.
        reason: String,
    },
    /// The response is not JSON: its `Content-Type` is not
    /// `application/json`, `application/jwk-set+json` or another
    /// `application/*+json`.
    ContentType {
        /// The URL requested.
        url: String,
        /// The `Content-Type` received (escaped and truncated), if any.
        content_type: Option<String>,
    },
    /// The host of an issuer or key set URL resolves to a loopback, private,
    /// link-local or otherwise non-public address, and the registry accepts
    /// any issuer without `allow_private_networks`. Refused before any
    /// request, so a token cannot point the registry at internal services.
    PrivateAddress {
        /// The host (escaped and truncated).
        host: String,
    },
    /// The registry already runs as many fetches as it allows at once; the
    /// request was refused without waiting. A retry later may succeed.
    TooManyFetches,
    /// A builder setting is invalid; nothing was started.
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The registry's actor has stopped (shut down, or every handle
    /// dropped), so the request could not be served.
    Shutdown,
}

/// Which part of a compact JWS a [`Error::MalformedToken`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenPart {
    /// The whole token (segment count, characters).
    Token,
    /// The protected header (first segment).
    Header,
    /// The claims or payload (second segment).
    Claims,
    /// The signature (third segment).
    Signature,
}

/// How a caller should react to an [`Error`], without matching variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The token is bad: malformed, forged, expired, not for this audience,
    /// or from an issuer not allowed. Retrying the same token is useless; an
    /// HTTP server answers 401.
    Rejected,
    /// The key could not be obtained or checked right now: the issuer or the
    /// network failed, or the issuer published something unusable. A retry
    /// later may succeed; an HTTP server answers 503.
    Unavailable,
    /// The registry is misconfigured or has stopped; an HTTP server answers
    /// 500.
    Internal,
}

impl Error {
    /// Says whether the token was rejected, the issuer was unavailable, or
    /// the registry itself failed.
    ///
    /// # Example
    ///
    /// ```
    /// use jwks_registry::{Error, ErrorClass};
    ///
    /// assert_eq!(Error::InvalidSignature.class(), ErrorClass::Rejected);
    /// assert_eq!(Error::Shutdown.class(), ErrorClass::Internal);
    /// ```
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::TokenTooLarge { .. }
            | Error::MalformedToken { .. }
            | Error::UnsupportedAlgorithm { .. }
            | Error::AlgorithmNotAllowed { .. }
            | Error::UnsupportedCritical { .. }
            | Error::IssuerNotAllowed { .. }
            | Error::PrivateAddress { .. }
            | Error::KeyNotFound { .. }
            | Error::AmbiguousKey { .. }
            | Error::KeyMismatch { .. }
            | Error::InvalidSignature
            | Error::Expired { .. }
            | Error::NotYetValid { .. }
            | Error::MissingClaim { .. }
            | Error::InvalidClaim { .. }
            | Error::InvalidAudience
            | Error::InvalidIssuer { .. }
            | Error::InvalidType { .. }
            | Error::ClaimsType { .. } => ErrorClass::Rejected,
            Error::InvalidKey { .. }
            | Error::InvalidKeySet { .. }
            | Error::InvalidUrl { .. }
            | Error::Http { .. }
            | Error::HttpStatus { .. }
            | Error::Timeout { .. }
            | Error::ResponseTooLarge { .. }
            | Error::InvalidDiscovery { .. }
            | Error::ContentType { .. }
            | Error::TooManyFetches => ErrorClass::Unavailable,
            Error::Config { .. } | Error::Shutdown => ErrorClass::Internal,
        }
    }

    /// Shorthand for `self.class() == ErrorClass::Rejected`: the token itself
    /// is bad.
    pub fn is_rejected(&self) -> bool {
        self.class() == ErrorClass::Rejected
    }

    /// Shorthand for `self.class() == ErrorClass::Unavailable`: keys could
    /// not be obtained right now and a later retry may succeed.
    pub fn is_unavailable(&self) -> bool {
        self.class() == ErrorClass::Unavailable
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TokenTooLarge { len, max } => {
                write!(f, "token of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::MalformedToken { part, reason } => write!(f, "malformed token {part}: {reason}"),
            Error::UnsupportedAlgorithm { alg } => write!(f, "unsupported algorithm \"{alg}\""),
            Error::AlgorithmNotAllowed { alg } => {
                write!(f, "algorithm {alg} is not allowed by the validation rules")
            }
            Error::UnsupportedCritical { name } => {
                write!(f, "unsupported critical header parameter \"{name}\"")
            }
            Error::IssuerNotAllowed { issuer } => write!(f, "issuer \"{issuer}\" is not allowed"),
            Error::KeyNotFound { issuer, kid } => {
                match kid {
                    Some(kid) => write!(f, "no usable key with kid \"{kid}\"")?,
                    None => write!(f, "no usable key for a token without kid")?,
                }
                if let Some(issuer) = issuer {
                    write!(f, " from issuer \"{issuer}\"")?;
                }
                Ok(())
            }
            Error::AmbiguousKey { kid: Some(kid) } => {
                write!(f, "several usable keys share kid \"{kid}\"")
            }
            Error::AmbiguousKey { kid: None } => {
                write!(f, "token has no kid and several usable keys fit it")
            }
            Error::KeyMismatch { kid, alg, reason } => match kid {
                Some(kid) => write!(f, "key \"{kid}\" cannot verify {alg}: {reason}"),
                None => write!(f, "key cannot verify {alg}: {reason}"),
            },
            Error::InvalidKey { kid, reason } => match kid {
                Some(kid) => write!(f, "invalid key \"{kid}\": {reason}"),
                None => write!(f, "invalid key: {reason}"),
            },
            Error::InvalidKeySet { reason } => write!(f, "invalid key set: {reason}"),
            Error::InvalidSignature => f.write_str("invalid signature"),
            Error::Expired { exp, now } => write!(f, "token expired at {exp} (now {now})"),
            Error::NotYetValid { nbf, now } => {
                write!(f, "token not valid before {nbf} (now {now})")
            }
            Error::MissingClaim { claim } => write!(f, "required claim \"{claim}\" is missing"),
            Error::InvalidClaim { claim, reason } => {
                write!(f, "claim \"{claim}\" is invalid: {reason}")
            }
            Error::InvalidAudience => f.write_str("token audience does not match"),
            Error::InvalidIssuer { expected, found } => match found {
                Some(found) => write!(f, "token issuer \"{found}\" is not \"{expected}\""),
                None => write!(f, "token has no issuer, expected \"{expected}\""),
            },
            Error::InvalidType { expected, found } => match found {
                Some(found) => write!(f, "token type \"{found}\" is not \"{expected}\""),
                None => write!(f, "token has no type, expected \"{expected}\""),
            },
            Error::ClaimsType { .. } => f.write_str("claims do not fit the requested type"),
            Error::InvalidUrl { url, reason } => write!(f, "refused url \"{url}\": {reason}"),
            Error::Http { url, .. } => write!(f, "request to {url} failed"),
            Error::HttpStatus { url, status } => write!(f, "{url} answered with status {status}"),
            Error::Timeout { url, after } => {
                write!(f, "request to {url} timed out after {after:?}")
            }
            Error::ResponseTooLarge { url, max } => {
                write!(f, "response from {url} exceeds {max} bytes")
            }
            Error::InvalidDiscovery { issuer, reason } => {
                write!(f, "invalid discovery document for \"{issuer}\": {reason}")
            }
            Error::ContentType {
                url,
                content_type: Some(found),
            } => {
                write!(f, "{url} answered with content type \"{found}\", not JSON")
            }
            Error::ContentType {
                url,
                content_type: None,
            } => {
                write!(f, "{url} answered without a content type")
            }
            Error::PrivateAddress { host } => {
                write!(f, "host \"{host}\" resolves to a non-public address")
            }
            Error::TooManyFetches => f.write_str("too many key fetches in flight"),
            Error::Config { reason } => write!(f, "invalid configuration: {reason}"),
            Error::Shutdown => f.write_str("key registry has shut down"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::ClaimsType { source } => Some(source.as_ref()),
            Error::Http { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenPart::Token => "token",
            TokenPart::Header => "header",
            TokenPart::Claims => "claims",
            TokenPart::Signature => "signature",
        })
    }
}

/// Displays an error followed by its causes (`outer: inner: innermost`), for
/// log lines, where the one-level `Display` would hide why a fetch failed.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        // Bounded, in case a source chain loops back on itself.
        for _ in 0..16 {
            let Some(inner) = cause else { break };
            write!(f, ": {inner}")?;
            cause = inner.source();
        }
        Ok(())
    }
}

/// Makes untrusted text safe to print: control and non-ASCII characters are
/// escaped and the result is cut after [`MAX_QUOTED_CHARS`] characters.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_QUOTED_CHARS + 8));
    for (count, c) in text.chars().enumerate() {
        if count == MAX_QUOTED_CHARS {
            out.push('…');
            break;
        }
        out.extend(c.escape_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    /// Every message renders as one lowercase line without a trailing period.
    #[test]
    fn messages_render() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let cases: Vec<(Error, &str)> = vec![
            (
                Error::TokenTooLarge {
                    len: 20000,
                    max: 16384,
                },
                "token of 20000 bytes exceeds the limit of 16384 bytes",
            ),
            (
                Error::MalformedToken {
                    part: TokenPart::Header,
                    reason: "not JSON".into(),
                },
                "malformed token header: not JSON",
            ),
            (
                Error::UnsupportedAlgorithm {
                    alg: "HS256".into(),
                },
                "unsupported algorithm \"HS256\"",
            ),
            (
                Error::AlgorithmNotAllowed {
                    alg: Algorithm::RS256,
                },
                "algorithm RS256 is not allowed by the validation rules",
            ),
            (
                Error::UnsupportedCritical { name: "b64".into() },
                "unsupported critical header parameter \"b64\"",
            ),
            (
                Error::IssuerNotAllowed {
                    issuer: "https://evil".into(),
                },
                "issuer \"https://evil\" is not allowed",
            ),
            (
                Error::KeyNotFound {
                    issuer: Some("https://a".into()),
                    kid: Some("k1".into()),
                },
                "no usable key with kid \"k1\" from issuer \"https://a\"",
            ),
            (
                Error::KeyNotFound {
                    issuer: None,
                    kid: None,
                },
                "no usable key for a token without kid",
            ),
            (
                Error::AmbiguousKey {
                    kid: Some("k".into()),
                },
                "several usable keys share kid \"k\"",
            ),
            (
                Error::AmbiguousKey { kid: None },
                "token has no kid and several usable keys fit it",
            ),
            (
                Error::KeyMismatch {
                    kid: Some("k".into()),
                    alg: Algorithm::ES256,
                    reason: "key type is RSA",
                },
                "key \"k\" cannot verify ES256: key type is RSA",
            ),
            (
                Error::KeyMismatch {
                    kid: None,
                    alg: Algorithm::PS256,
                    reason: "r",
                },
                "key cannot verify PS256: r",
            ),
            (
                Error::InvalidKey {
                    kid: Some("k".into()),
                    reason: "too small".into(),
                },
                "invalid key \"k\": too small",
            ),
            (
                Error::InvalidKey {
                    kid: None,
                    reason: "x".into(),
                },
                "invalid key: x",
            ),
            (
                Error::InvalidKeySet {
                    reason: "no keys".into(),
                },
                "invalid key set: no keys",
            ),
            (Error::InvalidSignature, "invalid signature"),
            (
                Error::Expired {
                    exp: 10.0,
                    now: 100,
                },
                "token expired at 10 (now 100)",
            ),
            (
                Error::NotYetValid {
                    nbf: 200.5,
                    now: 100,
                },
                "token not valid before 200.5 (now 100)",
            ),
            (
                Error::MissingClaim {
                    claim: "exp".into(),
                },
                "required claim \"exp\" is missing",
            ),
            (
                Error::InvalidClaim {
                    claim: "exp".into(),
                    reason: "not a number",
                },
                "claim \"exp\" is invalid: not a number",
            ),
            (Error::InvalidAudience, "token audience does not match"),
            (
                Error::InvalidIssuer {
                    expected: "https://a".into(),
                    found: Some("https://b".into()),
                },
                "token issuer \"https://b\" is not \"https://a\"",
            ),
            (
                Error::InvalidIssuer {
                    expected: "https://a".into(),
                    found: None,
                },
                "token has no issuer, expected \"https://a\"",
            ),
            (
                Error::InvalidType {
                    expected: "at+jwt".into(),
                    found: Some("JWT".into()),
                },
                "token type \"JWT\" is not \"at+jwt\"",
            ),
            (
                Error::InvalidType {
                    expected: "at+jwt".into(),
                    found: None,
                },
                "token has no type, expected \"at+jwt\"",
            ),
            (
                Error::ClaimsType {
                    source: Arc::new(
                        serde_json::from_str::<u8>("\"x\"").expect_err("a string is no u8"),
                    ),
                },
                "claims do not fit the requested type",
            ),
            (
                Error::InvalidUrl {
                    url: "http://a".into(),
                    reason: "not https",
                },
                "refused url \"http://a\": not https",
            ),
            (
                Error::Http {
                    url: "https://a/x".into(),
                    source: Arc::new(io),
                },
                "request to https://a/x failed",
            ),
            (
                Error::HttpStatus {
                    url: "https://a/x".into(),
                    status: 302,
                },
                "https://a/x answered with status 302",
            ),
            (
                Error::Timeout {
                    url: "https://a/x".into(),
                    after: Duration::from_secs(10),
                },
                "request to https://a/x timed out after 10s",
            ),
            (
                Error::ResponseTooLarge {
                    url: "https://a/x".into(),
                    max: 1024,
                },
                "response from https://a/x exceeds 1024 bytes",
            ),
            (
                Error::InvalidDiscovery {
                    issuer: "https://a".into(),
                    reason: "no jwks_uri".into(),
                },
                "invalid discovery document for \"https://a\": no jwks_uri",
            ),
            (
                Error::Config {
                    reason: "zero capacity".into(),
                },
                "invalid configuration: zero capacity",
            ),
            (Error::Shutdown, "key registry has shut down"),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), expected);
        }
    }

    /// The cause of a network error is reachable through `source()`, and
    /// errors without a cause report none.
    #[test]
    fn sources() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = Error::Http {
            url: "https://a".into(),
            source: Arc::new(io),
        };
        assert_eq!(
            error.source().map(|s| s.to_string()).as_deref(),
            Some("refused")
        );
        assert!(Error::InvalidSignature.source().is_none());
    }

    /// Log lines carry the whole cause chain.
    #[test]
    fn chain_shows_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = Error::Http {
            url: "https://a".into(),
            source: Arc::new(io),
        };
        assert_eq!(
            Chain(&error).to_string(),
            "request to https://a failed: refused"
        );
    }

    /// A gateway can tell a bad token from an unreachable issuer.
    #[test]
    fn classes() {
        assert!(Error::InvalidSignature.is_rejected());
        assert!(Error::Expired { exp: 0.0, now: 1 }.is_rejected());
        assert!(
            Error::HttpStatus {
                url: String::new(),
                status: 500
            }
            .is_unavailable()
        );
        assert!(
            Error::InvalidKeySet {
                reason: String::new()
            }
            .is_unavailable()
        );
        assert_eq!(
            Error::Config {
                reason: String::new()
            }
            .class(),
            ErrorClass::Internal
        );
    }

    /// Untrusted text is escaped and cut.
    #[test]
    fn quoting() {
        assert_eq!(quoted("a\nb\u{7}"), "a\\nb\\u{7}");
        let long = "x".repeat(1000);
        assert_eq!(quoted(&long).chars().count(), MAX_QUOTED_CHARS + 1);
    }
}
