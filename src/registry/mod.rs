//! The key registry: a background actor that owns every issuer's keys, and
//! the cheap handles that ask it for them.
//!
//! - `handle.rs`: [`KeyRegistryHandle`], its builder, and the statistics;
//! - `actor.rs`: the actor's loop, its messages, and the fetch tasks;
//! - `cache.rs`: issuer entries, the published snapshot, freshness and
//!   backoff rules;
//! - `tokens.rs`: the optional verified-token cache.

mod actor;
mod cache;
mod handle;
mod tokens;

pub use handle::{DEFAULT_CONFIG_PATH, KeyRegistryBuilder, KeyRegistryHandle, Stats};
