//! What the actor knows about each issuer, and the snapshot it publishes.
//!
//! An [`IssuerEntry`] is owned by the actor alone. After every change the
//! actor builds a [`Snapshot`], an immutable map from issuer to its current
//! key set and deadlines, and publishes it for handles to read without a
//! lock. The rules that turn instants into decisions (is the set fresh, may
//! an unknown `kid` refetch, how long to back off) live here as plain
//! functions of the entry and the time, so they can be tested without a
//! runtime.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::algorithm::Algorithm;
use crate::error::Error;
use crate::jwk::{KeySet, VerifyingKey};

/// How close to expiry a hit starts a background refresh: a tenth of the
/// freshness period, at most this long.
const MAX_REFRESH_AHEAD: Duration = Duration::from_secs(300);

/// The first retry delay after a failed fetch; it doubles with each failure
/// up to `min_refetch_interval`.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// A caller waiting for an issuer's fetch to finish.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// Wants one key.
    Key {
        kid: Option<String>,
        alg: Option<Algorithm>,
        respond_to: oneshot::Sender<Result<Arc<VerifyingKey>, Error>>,
    },
    /// Wants the issuer's keys loaded.
    Prefetch {
        respond_to: oneshot::Sender<Result<(), Error>>,
    },
}

/// Everything the actor knows about one issuer.
#[derive(Debug)]
pub(crate) struct IssuerEntry {
    /// From discovery or a static setting; `None` until discovered.
    pub(crate) jwks_uri: Option<String>,
    /// Whether `jwks_uri` was configured, so discovery is never needed.
    pub(crate) is_static: bool,
    /// The last key set fetched successfully.
    pub(crate) keys: Option<Arc<KeySet>>,
    /// Until when `keys` is fresh.
    pub(crate) fresh_until: Instant,
    /// When the last JWKS fetch started, successful or not; an unknown `kid`
    /// refetches only once `min_refetch_interval` has passed since.
    pub(crate) last_fetch: Option<Instant>,
    /// Consecutive failed fetches.
    pub(crate) failures: u32,
    /// No new fetch starts before this instant after a failure.
    pub(crate) retry_at: Option<Instant>,
    /// The error of the last failed fetch, answered while backing off.
    pub(crate) last_error: Option<Error>,
    /// Whether a fetch task is running for this issuer (single-flight).
    pub(crate) in_flight: bool,
    /// Callers waiting for the running fetch.
    pub(crate) waiters: Vec<Waiter>,
    /// Last use in milliseconds since the registry started, written by
    /// handles on the lock-free hit path and by the actor; eviction picks
    /// the smallest.
    pub(crate) last_used: Arc<AtomicU64>,
}

/// The actor's published answer: for each issuer with keys, the keys and
/// their deadlines.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) issuers: HashMap<String, IssuerView>,
}

/// One issuer in a [`Snapshot`].
#[derive(Debug)]
pub(crate) struct IssuerView {
    pub(crate) keys: Arc<KeySet>,
    pub(crate) fresh_until: Instant,
    /// From this instant on, a hit asks the actor for a background refresh.
    pub(crate) refresh_at: Instant,
    /// Set by the first hit that asks for a refresh, so that only one asks.
    pub(crate) refresh_requested: AtomicBool,
    pub(crate) last_used: Arc<AtomicU64>,
}

impl IssuerEntry {
    pub(crate) fn new(jwks_uri: Option<String>, now: Instant, stamp: u64) -> IssuerEntry {
        IssuerEntry {
            is_static: jwks_uri.is_some(),
            jwks_uri,
            keys: None,
            fresh_until: now,
            last_fetch: None,
            failures: 0,
            retry_at: None,
            last_error: None,
            in_flight: false,
            waiters: Vec::new(),
            last_used: Arc::new(AtomicU64::new(stamp)),
        }
    }

    pub(crate) fn is_fresh(&self, now: Instant) -> bool {
        self.keys.is_some() && now < self.fresh_until
    }

    /// Whether a failure forbids starting a fetch now.
    pub(crate) fn is_backing_off(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|at| now < at)
    }

    /// Whether an unknown `kid` may refetch the key set now.
    pub(crate) fn may_refetch(&self, now: Instant, min_interval: Duration) -> bool {
        self.last_fetch
            .is_none_or(|at| now.duration_since(at) >= min_interval)
    }

    /// Whether stale keys may still be served at `now`.
    pub(crate) fn may_serve_stale(&self, now: Instant, max_stale: Duration) -> bool {
        self.keys.is_some() && now < self.fresh_until + max_stale
    }

    pub(crate) fn touch(&self, stamp: u64) {
        self.last_used.fetch_max(stamp, Ordering::Relaxed);
    }

    pub(crate) fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// Records a successful fetch.
    pub(crate) fn record_success(
        &mut self,
        keys: KeySet,
        jwks_uri: String,
        now: Instant,
        fresh_for: Duration,
    ) {
        self.keys = Some(Arc::new(keys));
        self.jwks_uri = Some(jwks_uri);
        self.fresh_until = now + fresh_for;
        self.failures = 0;
        self.retry_at = None;
        self.last_error = None;
    }

    /// Records a failed fetch and schedules the next attempt: exponential
    /// from [`FIRST_BACKOFF`], capped at `max_backoff`, with up to a quarter
    /// subtracted at random so that many registries do not retry in step.
    pub(crate) fn record_failure(
        &mut self,
        error: Error,
        now: Instant,
        max_backoff: Duration,
        jitter: f64,
    ) {
        self.failures = self.failures.saturating_add(1);
        let delay = backoff(self.failures, max_backoff, jitter);
        self.retry_at = Some(now + delay);
        self.last_error = Some(error);
    }

    /// The view of this entry in a snapshot, if it has keys.
    pub(crate) fn view(&self, fresh_for: Duration) -> Option<IssuerView> {
        let keys = Arc::clone(self.keys.as_ref()?);
        let ahead = (fresh_for / 10).min(MAX_REFRESH_AHEAD);
        Some(IssuerView {
            keys,
            fresh_until: self.fresh_until,
            refresh_at: self
                .fresh_until
                .checked_sub(ahead)
                .unwrap_or(self.fresh_until),
            refresh_requested: AtomicBool::new(false),
            last_used: Arc::clone(&self.last_used),
        })
    }
}

/// The delay before retry number `failures`: `FIRST_BACKOFF · 2^(failures-1)`
/// capped at `max`, reduced by `jitter` (in `[0, 1)`) times a quarter.
pub(crate) fn backoff(failures: u32, max: Duration, jitter: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let delay = FIRST_BACKOFF.saturating_mul(1 << exponent).min(max);
    delay.mul_f64(1.0 - 0.25 * jitter.clamp(0.0, 1.0))
}

/// How long a fetched set is fresh: the response's `max-age` if any, kept
/// within `[min, max]`, else `max`.
pub(crate) fn freshness(cache_control: Option<&str>, min: Duration, max: Duration) -> Duration {
    let Some(max_age) = cache_control.and_then(max_age) else {
        return max;
    };
    Duration::from_secs(max_age).clamp(min.min(max), max)
}

/// Reads `max-age` from a `Cache-Control` value (RFC 9111 §5.2.2.1).
/// `no-store` and `no-cache` count as `max-age=0`.
fn max_age(value: &str) -> Option<u64> {
    let mut found = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        let (name, argument) = match directive.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            found = argument.and_then(|seconds| seconds.parse::<u64>().ok());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(300);
    const MAX: Duration = Duration::from_secs(3600);

    /// `max-age` moves freshness only within the configured bounds.
    #[test]
    fn freshness_bounds() {
        assert_eq!(freshness(None, MIN, MAX), MAX);
        assert_eq!(
            freshness(Some("public, max-age=600"), MIN, MAX),
            Duration::from_secs(600)
        );
        assert_eq!(freshness(Some("max-age=5"), MIN, MAX), MIN);
        assert_eq!(freshness(Some("max-age=999999"), MIN, MAX), MAX);
        assert_eq!(freshness(Some("no-store"), MIN, MAX), MIN);
        assert_eq!(freshness(Some("max-age=abc"), MIN, MAX), MAX);
        assert_eq!(
            freshness(Some("MAX-AGE=\"900\""), MIN, MAX),
            Duration::from_secs(900)
        );
    }

    /// Backoff doubles, caps, and jitter only shortens it.
    #[test]
    fn backoff_growth() {
        assert_eq!(backoff(1, MIN, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(2, MIN, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(5, MIN, 0.0), Duration::from_secs(16));
        assert_eq!(backoff(20, MIN, 0.0), MIN);
        assert_eq!(backoff(u32::MAX, MIN, 0.0), MIN);
        assert_eq!(backoff(1, MIN, 1.0), Duration::from_millis(750));
    }

    /// The refetch interval counts from the last fetch.
    #[test]
    fn refetch_interval() {
        let now = Instant::now();
        let mut entry = IssuerEntry::new(None, now, 0);
        assert!(entry.may_refetch(now, MIN));
        entry.last_fetch = Some(now);
        assert!(!entry.may_refetch(now + MIN - Duration::from_millis(1), MIN));
        assert!(entry.may_refetch(now + MIN, MIN));
    }
}
