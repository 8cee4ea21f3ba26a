//! Verify JWTs from OpenID Connect issuers whose keys are discovered,
//! fetched and cached at run time.
//!
//! Given a token, the registry reads its `iss` and `kid` without trusting
//! them, finds the issuer's discovery document
//! (`{iss}/.well-known/openid-configuration`), follows its `jwks_uri`,
//! fetches and caches the key set, verifies the signature with `ring` and
//! checks the claims.
//!
//! # Quick example
//!
//! ```no_run
//! use jwks_registry::{ErrorClass, KeyRegistryHandle, Validation};
//!
//! # async fn handle(token: &str) -> Result<(), jwks_registry::Error> {
//! let registry = KeyRegistryHandle::builder()
//!     .valid_issuers(["https://login.example.com"])
//!     .build()?;
//!
//! match registry.verify(token, &Validation::new(["my-api"])).await {
//!     Ok(verified) => println!("hello, {:?}", verified.subject()),
//!     Err(err) if err.class() == ErrorClass::Rejected => println!("401: {err}"),
//!     Err(err) => println!("503: {err}"),
//! }
//! # Ok(()) }
//! ```
//!
//! Keys already at hand verify offline through [`KeySet`]:
//!
//! ```no_run
//! # fn run(jwks_json: &[u8], token: &str) -> Result<(), jwks_registry::Error> {
//! let keys = jwks_registry::KeySet::from_json(jwks_json)?;
//! let verified = keys.verify(token, &jwks_registry::Validation::new(["my-api"]))?;
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! - **One owner.** [`KeyRegistryHandle::builder`]`.build()` spawns an actor
//!   task that owns every issuer's state: an LRU of issuers, their key sets,
//!   fetch instants, failure and backoff state, and the callers waiting on a
//!   fetch. Nothing else mutates it and there is no mutex around it.
//! - **Cheap handles.** A handle is a channel sender and an `Arc`; clone it
//!   freely. Requests travel over a bounded channel with a one-shot reply.
//! - **Lock-free hits.** After each change the actor publishes an immutable
//!   snapshot (issuer → keys, with deadlines). A handle that finds a fresh
//!   key there answers at once, without the channel or a lock.
//!   Each thread remembers the last four token headers it parsed, since
//!   every token of one key repeats its header, and
//!   [`KeyRegistryHandle::get_key`] reads `iss` without building a JSON
//!   value; any token that reader is unsure of gets the full strict parse.
//! - **Single-flight.** Concurrent requests that need one issuer's fetch
//!   wait on the same fetch. The actor runs fetches in spawned tasks, so a
//!   slow issuer never delays another.
//! - **Outages.** A failed fetch is remembered and retried with exponential
//!   backoff; known keys keep verifying for `max_stale` past expiry.
//! - **Shutdown.** The actor ends when the last handle drops, or at once on
//!   [`KeyRegistryHandle::shutdown`]; waiting callers then get
//!   [`Error::Shutdown`], never a hang.
//!
//! # Cancel safety
//!
//! Every async method of [`KeyRegistryHandle`] is cancel safe: dropping its
//! future abandons that caller's wait, and a fetch it started goes on to
//! serve the other callers and the cache.
//!
//! # Logging
//!
//! Through `tracing`: `info` when the actor starts and stops, `debug` for
//! decisions (miss, refetch, refetch suppressed, eviction, key added or
//! removed, key skipped), `warn` when an error is swallowed or stale keys
//! are served, and a `fetch` span with `issuer` and `url` around each fetch.
//! Tokens and signatures are never logged; a `kid` or any other text taken
//! from a token is logged truncated and escaped.
//!
//! # Features
//!
//! - `tower`: `BearerAuthLayer`, a `tower` layer that admits only requests
//!   with a valid bearer token and answers the others as RFC 6750 says.
//! - `cli`: the `jwks-verify` command and its offline demo
//!   (`cargo run --release --features cli -- demo`).
//!
//! Neither is on by default; the library alone depends on no CLI or tower
//! crate.
//!
//! # Limits
//!
//! - Algorithms: RS256/384/512, PS256/384/512, ES256, ES384, EdDSA. No
//!   `none`, no HMAC, no ES512 (`ring` has no P-521).
//! - No JWE, no signing, no JSON serialization, no `x5c` chain validation.
//! - The check that an open registry only contacts public addresses looks
//!   the host up once before connecting; DNS rebinding between that look-up
//!   and the connection is not covered. Set `valid_issuers` in production.
//!
//! # Layout
//!
//! `token` (strict compact JWS parsing), `json` (duplicate-refusing JSON),
//! `scan` (the reading of `iss` behind `get_key`, which leaves whatever it
//! cannot judge to `json`),
//! `algorithm` (the algorithm table), `jwk` (key import and key sets),
//! `validation` (claim rules), `verify` (signature checks and results),
//! `http` (the client), `discovery` (issuer and URL rules), `registry` (the
//! actor, its cache and the handle), `error`.

// The crate parses hostile input; there is no reason for unsafe code here.
#![forbid(unsafe_code)]
// A security library's public items must say what they promise.
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod algorithm;
mod discovery;
mod error;
mod http;
mod json;
mod jwk;
mod registry;
mod scan;
mod token;
#[cfg(feature = "tower")]
mod tower;
mod validation;
mod verify;

pub use algorithm::Algorithm;
pub use error::{Error, ErrorClass, TokenPart};
pub use http::{FetchFuture, HttpClient, HttpResponse, HyperClient, USER_AGENT_VALUE};
pub use jwk::{KeySet, MAX_KEYS_PER_SET, SkippedKey, VerifyingKey};
pub use registry::{DEFAULT_CONFIG_PATH, KeyRegistryBuilder, KeyRegistryHandle, Stats};
pub use token::{DEFAULT_MAX_TOKEN_BYTES, Header, MAX_KEY_ID_BYTES, UnverifiedToken};
#[cfg(feature = "tower")]
pub use tower::{BearerAuth, BearerAuthLayer};
pub use validation::{DEFAULT_LEEWAY, Validation};
pub use verify::{Verified, VerifiedJws};

/// Entry points for the fuzz targets in `fuzz/`. Not part of the public API:
/// no stability promise, hidden from the docs.
#[doc(hidden)]
pub mod fuzzing {
    /// Reads a discovery document for `issuer` and returns its `jwks_uri`.
    pub fn parse_discovery_document(
        issuer: &str,
        body: &[u8],
        allow_http: bool,
    ) -> Result<String, crate::Error> {
        crate::discovery::parse_document(issuer, body, allow_http)
    }

    /// What `KeyRegistryHandle::get_key` reads from a token (its `iss`,
    /// `kid` and algorithm) through its own cheaper parse.
    pub fn key_hint(
        token: &str,
    ) -> Result<(String, Option<String>, crate::Algorithm), crate::Error> {
        let hint = crate::token::KeyHint::parse(token, crate::DEFAULT_MAX_TOKEN_BYTES)?;
        Ok((hint.issuer, hint.key_id, hint.algorithm))
    }
}

// The README's examples are compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
