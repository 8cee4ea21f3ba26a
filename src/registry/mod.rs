//! The key registry: a background actor that owns every issuer's keys, and
//! the cheap handles that ask it for them.
//!
//! - `handle.rs`: [`KeyRegistryHandle`], its builder, and the statistics;
//! - `actor.rs`: the actor's loop, its messages, and the fetch tasks;
//! - `cache.rs`: issuer entries, the published snapshot, freshness and
//!   backoff rules.

mod actor;
mod cache;
mod handle;

pub use handle::{DEFAULT_CONFIG_PATH, KeyRegistryBuilder, KeyRegistryHandle, Stats};
