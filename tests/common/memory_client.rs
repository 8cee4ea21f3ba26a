//! An [`HttpClient`] serving fixed documents from memory, by URL, for tests
//! and benches that need no network.
//!
//! Include it with `#[path = "common/memory_client.rs"] mod memory_client;`.

// Each test crate or bench that includes this file uses a different part.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use jwks_registry::{DEFAULT_CONFIG_PATH, FetchFuture, HttpClient, HttpResponse};
use serde_json::json;

/// Answers 200 with `application/json` for the URLs it knows, 404 for the
/// others, and counts the calls.
#[derive(Debug, Default)]
pub struct MemoryClient {
    documents: HashMap<String, Bytes>,
    calls: Arc<AtomicUsize>,
}

impl MemoryClient {
    /// Serves `body` at `url`.
    pub fn with(mut self, url: impl Into<String>, body: impl Into<String>) -> MemoryClient {
        self.documents.insert(url.into(), Bytes::from(body.into()));
        self
    }

    /// Serves `issuer`'s discovery document, pointing at `{issuer}/jwks`,
    /// and `jwks` there.
    pub fn with_issuer(self, issuer: &str, jwks: impl Into<String>) -> MemoryClient {
        let jwks_uri = format!("{issuer}/jwks");
        let discovery = json!({"issuer": issuer, "jwks_uri": jwks_uri}).to_string();
        self.with(format!("{issuer}{DEFAULT_CONFIG_PATH}"), discovery)
            .with(jwks_uri, jwks)
    }

    /// A counter of the calls, still readable after the client is handed
    /// to a registry.
    pub fn calls(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.calls)
    }
}

impl HttpClient for MemoryClient {
    fn get<'a>(&'a self, url: &'a str, _max_bytes: usize) -> FetchFuture<'a> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let response = match self.documents.get(url) {
            Some(body) => HttpResponse {
                status: 200,
                content_type: Some("application/json".into()),
                // A copy, so that what the registry keeps never shares the
                // client's own buffers (the memory test counts it).
                body: Bytes::copy_from_slice(body),
                ..HttpResponse::default()
            },
            None => HttpResponse {
                status: 404,
                ..HttpResponse::default()
            },
        };
        Box::pin(async move { Ok(response) })
    }
}
