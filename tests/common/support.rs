//! Helpers shared by the registry's integration tests: a builder trusting
//! the test issuer, standard claims, request counts, and moving Tokio's
//! clock.
//!
//! Include it after `issuer` and `keys`, which it uses:
//! `#[path = "common/support.rs"] mod support;`.

// Each test crate that includes this file uses a different part of it.
#![allow(dead_code)]

use std::time::Duration;

use jwks_registry::{KeyRegistryBuilder, KeyRegistryHandle, Validation};
use serde_json::{Value, json};

use crate::issuer::TestIssuer;
use crate::keys::{TestKey, jwks, now};

/// The discovery path the registry asks for by default.
pub const DISCOVERY: &str = "/.well-known/openid-configuration";

/// A builder that trusts the test issuer's CA.
pub fn builder(issuer: &TestIssuer) -> KeyRegistryBuilder {
    KeyRegistryHandle::builder().root_certificate(issuer.ca_der())
}

/// A started issuer whose tenant `t1` serves `keys`, and that tenant's
/// issuer name.
pub async fn issuer_serving(keys: &[&TestKey]) -> (TestIssuer, String) {
    let issuer = TestIssuer::start().await;
    issuer.set_jwks("t1", jwks(keys));
    let iss = issuer.issuer("t1");
    (issuer, iss)
}

/// A builder that trusts the test issuer's CA and allows `iss` alone.
pub fn builder_for(issuer: &TestIssuer, iss: &str) -> KeyRegistryBuilder {
    builder(issuer).valid_issuers([iss])
}

/// Valid claims from `iss` for the audience `api`, expiring in ten minutes.
pub fn claims_from(iss: &str) -> Value {
    claims_lasting(iss, 600)
}

/// Valid claims from `iss` for the audience `api`, expiring in `seconds`.
pub fn claims_lasting(iss: &str, seconds: u64) -> Value {
    json!({"iss": iss, "sub": "alice", "aud": "api", "iat": now(), "exp": now() + seconds})
}

/// The rules of the service the claims above are meant for.
pub fn api() -> Validation {
    Validation::new(["api"])
}

/// The path of a tenant's discovery document.
pub fn discovery_path(tenant: &str) -> String {
    format!("/{tenant}{DISCOVERY}")
}

/// The path of a tenant's key set.
pub fn jwks_path(tenant: &str) -> String {
    format!("/{tenant}/jwks")
}

/// Counts of (discovery, jwks) requests for a tenant.
pub fn counts(issuer: &TestIssuer, tenant: &str) -> (usize, usize) {
    (
        issuer.requests(&discovery_path(tenant)),
        issuer.requests(&jwks_path(tenant)),
    )
}

/// Moves Tokio's clock forward by `by` without leaving it paused, so that
/// later network waits run in real time.
pub async fn jump(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}
