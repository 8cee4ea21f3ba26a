//! The verified-token cache: a token whose signature verified once is
//! answered again without a signature check.
//!
//! Entries are keyed by the whole token string (compared in full, not only
//! by hash) and live no longer than the token's `exp` and the freshness of
//! the key set that verified it. An entry is used only while the key that
//! verified it is still in the issuer's published key set, so a key removed
//! by a rotation stops verifying through the cache at the same moment as
//! through the key path. Claims are checked against the caller's
//! [`Validation`](crate::Validation) on every hit.
//!
//! The cache is split into shards, each behind a mutex held only for a hash
//! lookup or insert, so that tasks on different cores rarely meet.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;
use tokio::time::Instant;

use crate::verify::Verified;

/// How many shards the cache is split into.
const SHARDS: usize = 16;

pub(crate) struct TokenCache {
    shards: Vec<Mutex<LruCache<Arc<str>, Entry>>>,
    /// Keyed per process with a random seed, so that clients cannot aim
    /// their tokens at one shard.
    hasher: RandomState,
}

#[derive(Clone)]
struct Entry {
    verified: Verified,
    issuer: Arc<str>,
    /// The earlier of the token's `exp` and the key set's freshness.
    valid_until: Instant,
}

/// A cached verification, to be confirmed against the current snapshot.
pub(crate) struct Hit {
    pub(crate) verified: Verified,
    pub(crate) issuer: Arc<str>,
}

impl TokenCache {
    /// A cache for `capacity` tokens, or `None` when `capacity` is zero.
    pub(crate) fn new(capacity: usize) -> Option<TokenCache> {
        let per_shard = NonZeroUsize::new(capacity.div_ceil(SHARDS))?;
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(LruCache::new(per_shard)))
            .collect();
        Some(TokenCache {
            shards,
            hasher: RandomState::new(),
        })
    }

    pub(crate) fn get(&self, token: &str, now: Instant) -> Option<Hit> {
        let mut shard = self.shard(token);
        let entry = shard.get(token)?;
        if now >= entry.valid_until {
            shard.pop(token);
            return None;
        }
        Some(Hit {
            verified: entry.verified.clone(),
            issuer: Arc::clone(&entry.issuer),
        })
    }

    pub(crate) fn insert(
        &self,
        token: &str,
        issuer: &str,
        verified: Verified,
        valid_until: Instant,
    ) {
        let entry = Entry {
            verified,
            issuer: Arc::from(issuer),
            valid_until,
        };
        self.shard(token).put(Arc::from(token), entry);
    }

    pub(crate) fn remove(&self, token: &str) {
        self.shard(token).pop(token);
    }

    fn shard(&self, token: &str) -> std::sync::MutexGuard<'_, LruCache<Arc<str>, Entry>> {
        let index = (self.hasher.hash_one(token) as usize) % SHARDS;
        // A panic while holding a shard cannot leave an entry half written:
        // every operation is one call on the LRU. Carry on with the data.
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}
