//! Verify JWTs from OpenID Connect issuers whose keys are discovered,
//! fetched and cached at run time.

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
mod token;
mod validation;
mod verify;

pub use algorithm::Algorithm;
pub use error::{Error, ErrorClass, TokenPart};
pub use http::{FetchFuture, HttpClient, HttpResponse, HyperClient, USER_AGENT_VALUE};
pub use jwk::{KeySet, MAX_KEYS_PER_SET, SkippedKey, VerifyingKey};
pub use registry::{DEFAULT_CONFIG_PATH, KeyRegistryBuilder, KeyRegistryHandle, Stats};
pub use token::{DEFAULT_MAX_TOKEN_BYTES, Header, MAX_KEY_ID_BYTES, UnverifiedToken};
pub use validation::{DEFAULT_LEEWAY, Validation};
pub use verify::{Verified, VerifiedJws};
