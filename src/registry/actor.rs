//! The actor: the one task that owns all issuer state.
//!
//! Handles send [`Request`]s over a bounded channel; each carries a
//! `respond_to` sender for the answer. The actor never performs I/O in its
//! loop: when keys must be fetched it spawns a fetch task, records the
//! caller as a waiter, and goes on serving other issuers. The fetch task
//! reports back over a second channel; the actor then updates the entry,
//! publishes a new snapshot and answers every waiter at once
//! (single-flight).
//!
//! The loop ends when the last handle is dropped (the request channel
//! closes) or when the cancellation token fires. Waiting callers then see
//! their `respond_to` sender dropped and get [`Error::Shutdown`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lru::LruCache;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument as _;

use super::cache::{self, IssuerEntry, Snapshot, Waiter};
use super::handle::Shared;
use crate::algorithm::Algorithm;
use crate::discovery;
use crate::error::{Chain, Error, quoted};
use crate::jwk::{KeySet, VerifyingKey};

/// A request from a handle.
#[derive(Debug)]
pub(crate) enum Request {
    /// Answer with the key for `kid` (and `alg`, when known) from `issuer`,
    /// fetching if needed.
    Key {
        issuer: String,
        kid: Option<String>,
        alg: Option<Algorithm>,
        respond_to: oneshot::Sender<Result<Arc<VerifyingKey>, Error>>,
    },
    /// Load `issuer`'s keys if they are not fresh.
    Prefetch {
        issuer: String,
        respond_to: oneshot::Sender<Result<(), Error>>,
    },
    /// A hit found `issuer`'s keys close to expiry: refresh them in the
    /// background.
    Refresh { issuer: String },
}

/// What a fetch task reports.
#[derive(Debug)]
struct FetchDone {
    issuer: String,
    result: Result<Fetched, Error>,
}

#[derive(Debug)]
struct Fetched {
    jwks_uri: String,
    keys: KeySet,
    fresh_for: Duration,
}

/// Why a fetch starts; decides whether discovery runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FetchKind {
    /// First fetch, or the set expired: discovery (unless static) and JWKS.
    Full,
    /// An unknown `kid`: the JWKS again, from the known `jwks_uri`.
    KeysOnly,
}

pub(crate) struct Actor {
    shared: Arc<Shared>,
    requests_rx: mpsc::Receiver<Request>,
    done_tx: mpsc::UnboundedSender<FetchDone>,
    done_rx: mpsc::UnboundedReceiver<FetchDone>,
    /// Issuers whose keys were fetched at least once, least recently used
    /// first out.
    issuers: LruCache<String, IssuerEntry>,
    /// Issuers that have never been fetched successfully. Kept apart so that
    /// a flood of bogus issuers cannot push working ones out of `issuers`.
    probation: LruCache<String, IssuerEntry>,
    /// Fetch tasks running now, across all issuers.
    in_flight: usize,
    rng: Jitter,
}

impl Actor {
    pub(crate) fn new(shared: Arc<Shared>, requests_rx: mpsc::Receiver<Request>) -> Actor {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let capacity = shared.config.cache_max_issuers;
        let probation = shared.config.probation_capacity;
        Actor {
            shared,
            requests_rx,
            done_tx,
            done_rx,
            issuers: LruCache::new(capacity),
            probation: LruCache::new(probation),
            in_flight: 0,
            rng: Jitter::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        tracing::info!("key registry started");
        let cancel = self.shared.cancel.clone();
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                Some(done) = self.done_rx.recv() => self.on_fetch_done(done),
                request = self.requests_rx.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => break,
                },
            }
        }
        // Stop the hit path too: a handle that outlives the actor must not
        // keep answering from the last snapshot forever.
        self.shared.stop();
        tracing::info!("key registry stopped");
    }

    fn on_request(&mut self, request: Request) {
        let now = Instant::now();
        match request {
            Request::Key {
                issuer,
                kid,
                alg,
                respond_to,
            } => {
                let waiter = Waiter::Key {
                    kid,
                    alg,
                    respond_to,
                };
                self.serve(issuer, waiter, now);
            }
            Request::Prefetch { issuer, respond_to } => {
                self.serve(issuer, Waiter::Prefetch { respond_to }, now);
            }
            Request::Refresh { issuer } => self.refresh_ahead(&issuer, now),
        }
    }

    /// Decides how to answer one caller: from known keys, by waiting on a
    /// fetch, or with an error.
    fn serve(&mut self, issuer: String, waiter: Waiter, now: Instant) {
        let stamp = self.stamp(now);
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;

        // Look up, creating a probation entry for an issuer never seen.
        if !self.issuers.contains(&issuer) && !self.probation.contains(&issuer) {
            if let Err(err) = discovery::check_issuer(&issuer, config.allow_http) {
                fail(waiter, err);
                return;
            }
            if !self.make_room_in_probation() {
                fail(waiter, Error::TooManyFetches);
                return;
            }
            let jwks_uri = config.static_issuers.get(&issuer).cloned();
            tracing::debug!(issuer = %quoted(&issuer), "unknown issuer, fetching");
            self.probation
                .put(issuer.clone(), IssuerEntry::new(jwks_uri, now, stamp));
        }
        let Some(entry) = entry_in(&mut self.issuers, &mut self.probation, &issuer) else {
            unreachable!("the entry exists or was just inserted")
        };
        entry.touch(stamp);

        // Decide: wait on the running fetch, answer now, or start a fetch.
        let fetch = if entry.in_flight {
            // Callers do not queue behind a retry of a failing issuer while
            // its expired keys may still serve.
            if !entry.is_fresh(now)
                && entry.failures > 0
                && entry.may_serve_stale(now, config.max_stale)
            {
                serve_stale(entry, waiter, &issuer, &shared);
            } else {
                shared.stats.miss();
                entry.waiters.push(waiter);
            }
            None
        } else if entry.is_fresh(now) {
            match waiter {
                Waiter::Prefetch { respond_to } => {
                    send(respond_to, Ok(()));
                    None
                }
                Waiter::Key {
                    kid,
                    alg,
                    respond_to,
                } => match select(entry.keys.as_deref(), kid.as_deref(), alg, &issuer) {
                    Err(Error::KeyNotFound { .. })
                        if entry.may_refetch(now, config.min_refetch_interval)
                            && !entry.is_backing_off(now) =>
                    {
                        tracing::debug!(
                            issuer = %quoted(&issuer),
                            kid = ?kid.as_deref().map(quoted),
                            "unknown kid, refetching keys"
                        );
                        entry.waiters.push(Waiter::Key {
                            kid,
                            alg,
                            respond_to,
                        });
                        Some(FetchKind::KeysOnly)
                    }
                    Err(err @ Error::KeyNotFound { .. }) => {
                        tracing::debug!(
                            issuer = %quoted(&issuer),
                            kid = ?kid.as_deref().map(quoted),
                            "unknown kid, refetch suppressed"
                        );
                        shared.stats.refetch_suppressed();
                        send(respond_to, Err(err));
                        None
                    }
                    answer => {
                        shared.stats.hit();
                        send(respond_to, answer);
                        None
                    }
                },
            }
        } else if entry.is_backing_off(now) {
            // A recent fetch failed: answer from stale keys while allowed,
            // else with that failure, without a new request.
            if entry.may_serve_stale(now, config.max_stale) {
                serve_stale(entry, waiter, &issuer, &shared);
            } else {
                let err = entry.last_error.clone().unwrap_or(Error::Shutdown);
                fail(waiter, err);
            }
            None
        } else {
            entry.waiters.push(waiter);
            Some(FetchKind::Full)
        };

        if let Some(kind) = fetch {
            shared.stats.miss();
            self.start_fetch(&issuer, kind, now);
        }
    }

    /// Starts a background refresh for a set close to expiry, unless a fetch
    /// is running or failing already.
    fn refresh_ahead(&mut self, issuer: &str, now: Instant) {
        let Some(entry) = self.issuers.peek_mut(issuer) else {
            return;
        };
        if entry.in_flight
            || entry.is_backing_off(now)
            || self.in_flight >= self.shared.config.max_concurrent_fetches
        {
            return;
        }
        tracing::debug!(issuer = %quoted(issuer), "keys close to expiry, refreshing ahead");
        self.start_fetch(issuer, FetchKind::Full, now);
    }

    /// Starts a fetch task for `issuer`, or, with the cap on concurrent
    /// fetches reached, answers its waiters with [`Error::TooManyFetches`].
    fn start_fetch(&mut self, issuer: &str, kind: FetchKind, now: Instant) {
        let at_cap = self.in_flight >= self.shared.config.max_concurrent_fetches;
        let Some(entry) = entry_in(&mut self.issuers, &mut self.probation, issuer) else {
            return;
        };
        if at_cap {
            tracing::warn!(issuer = %quoted(issuer), "fetch refused, too many in flight");
            for waiter in std::mem::take(&mut entry.waiters) {
                fail(waiter, Error::TooManyFetches);
            }
            return;
        }
        entry.in_flight = true;
        entry.last_fetch = Some(now);
        let known_uri = match kind {
            FetchKind::KeysOnly => entry.jwks_uri.clone(),
            FetchKind::Full if entry.is_static => entry.jwks_uri.clone(),
            FetchKind::Full => None,
        };
        self.in_flight += 1;

        let shared = Arc::clone(&self.shared);
        let done_tx = self.done_tx.clone();
        let issuer = issuer.to_owned();
        let span =
            tracing::debug_span!("fetch", issuer = %quoted(&issuer), url = tracing::field::Empty);
        tokio::spawn(
            async move {
                let result = fetch(&shared, &issuer, known_uri).await;
                // Ignoring a send error is right: it means the actor has
                // stopped and nobody is left to tell.
                let _ = done_tx.send(FetchDone { issuer, result });
            }
            .instrument(span),
        );
    }

    fn on_fetch_done(&mut self, done: FetchDone) {
        let now = Instant::now();
        self.in_flight -= 1;
        let FetchDone { issuer, result } = done;
        let max_backoff = self.shared.config.min_refetch_interval;
        let max_stale = self.shared.config.max_stale;
        let jitter = self.rng.next();

        match result {
            Ok(Fetched {
                jwks_uri,
                keys,
                fresh_for,
            }) => {
                self.shared.stats.fetch_ok();
                // A first success moves the issuer out of probation.
                if let Some(entry) = self.probation.pop(&issuer) {
                    self.admit(issuer.clone(), entry);
                }
                let Some(entry) = self.issuers.get_mut(&issuer) else {
                    return;
                };
                log_key_changes(&issuer, entry.keys.as_deref(), &keys);
                entry.record_success(keys, jwks_uri, now, fresh_for);
                entry.in_flight = false;
                let waiters = std::mem::take(&mut entry.waiters);
                let keys = entry.keys.clone();
                self.publish();
                for waiter in waiters {
                    answer_from(keys.as_deref(), waiter, &issuer);
                }
            }
            Err(err) => {
                self.shared.stats.fetch_failed();
                tracing::warn!(issuer = %quoted(&issuer), error = %Chain(&err), "fetching keys failed");
                let Some(entry) = entry_in(&mut self.issuers, &mut self.probation, &issuer) else {
                    return;
                };
                entry.record_failure(err.clone(), now, max_backoff, jitter);
                entry.in_flight = false;
                let waiters = std::mem::take(&mut entry.waiters);
                if entry.may_serve_stale(now, max_stale) {
                    for waiter in waiters {
                        serve_stale(entry, waiter, &issuer, &self.shared);
                    }
                } else {
                    for waiter in waiters {
                        fail(waiter, err.clone());
                    }
                }
            }
        }
    }

    /// Frees a probation slot for a new issuer if the cache is full,
    /// dropping the least recently used entry that has no fetch running.
    /// Returns `false` when every entry is fetching.
    fn make_room_in_probation(&mut self) -> bool {
        if self.probation.len() < self.probation.cap().get() {
            return true;
        }
        let victim = self
            .probation
            .iter()
            .rev()
            .find(|(_, entry)| !entry.in_flight)
            .map(|(name, _)| name.clone());
        match victim {
            Some(victim) => {
                tracing::debug!(issuer = %quoted(&victim), "forgot failed issuer");
                self.probation.pop(&victim);
                true
            }
            None => false,
        }
    }

    /// Moves an issuer into the main cache, evicting the least recently used
    /// one (by the stamps hits leave) when it is full.
    fn admit(&mut self, issuer: String, entry: IssuerEntry) {
        if self.issuers.len() == self.issuers.cap().get() {
            let victim = self
                .issuers
                .iter()
                .filter(|(_, entry)| !entry.in_flight)
                .min_by_key(|(_, entry)| entry.last_used())
                .map(|(name, _)| name.clone());
            if let Some(victim) = victim {
                tracing::debug!(issuer = %quoted(&victim), "evicted least recently used issuer");
                self.issuers.pop(&victim);
                self.shared.stats.eviction();
            }
        }
        // With every cached issuer fetching, `push` evicts by the cache's own
        // order; that entry's waiters then see the actor drop their replies.
        if let Some((evicted, old)) = self.issuers.push(issuer, entry) {
            tracing::debug!(issuer = %quoted(&evicted), "evicted issuer");
            self.shared.stats.eviction();
            for waiter in old.waiters {
                fail(waiter, Error::Shutdown);
            }
        }
    }

    /// Publishes the current keys for the lock-free read path.
    fn publish(&self) {
        let fresh_max = self.shared.config.cache_ttl;
        let issuers = self
            .issuers
            .iter()
            .filter_map(|(name, entry)| Some((name.clone(), entry.view(fresh_max)?)))
            .collect::<HashMap<_, _>>();
        self.shared.snapshot.store(Arc::new(Snapshot { issuers }));
    }

    fn stamp(&self, now: Instant) -> u64 {
        super::handle::stamp(self.shared.started, now)
    }
}

// ===== answering

fn select(
    keys: Option<&KeySet>,
    kid: Option<&str>,
    alg: Option<Algorithm>,
    issuer: &str,
) -> Result<Arc<VerifyingKey>, Error> {
    let Some(keys) = keys else {
        return Err(Error::KeyNotFound {
            issuer: Some(quoted(issuer)),
            kid: kid.map(quoted),
        });
    };
    keys.select(kid, alg).cloned().map_err(|err| match err {
        Error::KeyNotFound { kid, .. } => Error::KeyNotFound {
            issuer: Some(quoted(issuer)),
            kid,
        },
        other => other,
    })
}

fn answer_from(keys: Option<&KeySet>, waiter: Waiter, issuer: &str) {
    match waiter {
        Waiter::Key {
            kid,
            alg,
            respond_to,
        } => send(respond_to, select(keys, kid.as_deref(), alg, issuer)),
        Waiter::Prefetch { respond_to } => send(respond_to, Ok(())),
    }
}

/// Answers from expired keys while the issuer fails. A `kid` missing from
/// those keys gets the fetch failure, not [`Error::KeyNotFound`]: the key may
/// well exist in the set the issuer cannot deliver, so the token is not
/// known to be bad.
fn serve_stale(entry: &IssuerEntry, waiter: Waiter, issuer: &str, shared: &Shared) {
    let failure = entry.last_error.as_ref();
    match waiter {
        Waiter::Key {
            kid,
            alg,
            respond_to,
        } => {
            let answer = match select(entry.keys.as_deref(), kid.as_deref(), alg, issuer) {
                Err(Error::KeyNotFound { .. }) if failure.is_some() => {
                    Err(failure.cloned().expect("checked just above"))
                }
                answer => answer,
            };
            if answer.is_ok() {
                tracing::warn!(
                    issuer = %quoted(issuer),
                    error = ?failure.map(ToString::to_string),
                    "serving stale keys while the issuer fails"
                );
                shared.stats.stale_serve();
            }
            send(respond_to, answer);
        }
        Waiter::Prefetch { respond_to } => send(respond_to, Ok(())),
    }
}

fn fail(waiter: Waiter, err: Error) {
    match waiter {
        Waiter::Key { respond_to, .. } => send(respond_to, Err(err)),
        Waiter::Prefetch { respond_to } => send(respond_to, Err(err)),
    }
}

/// Finds an issuer's entry in the main cache or in probation, marking it
/// used in the main cache's order.
fn entry_in<'a>(
    issuers: &'a mut LruCache<String, IssuerEntry>,
    probation: &'a mut LruCache<String, IssuerEntry>,
    issuer: &str,
) -> Option<&'a mut IssuerEntry> {
    match issuers.get_mut(issuer) {
        Some(entry) => Some(entry),
        None => probation.get_mut(issuer),
    }
}

fn send<T>(respond_to: oneshot::Sender<T>, value: T) {
    // Ignoring a send error is right: the caller dropped its future and no
    // longer wants the answer.
    let _ = respond_to.send(value);
}

fn log_key_changes(issuer: &str, old: Option<&KeySet>, new: &KeySet) {
    let ids = |set: &KeySet| {
        set.keys()
            .iter()
            .map(|key| key.key_id().map(quoted))
            .collect::<Vec<_>>()
    };
    let new_ids = ids(new);
    let old_ids = old.map(ids).unwrap_or_default();
    for kid in new_ids.iter().filter(|kid| !old_ids.contains(kid)) {
        tracing::debug!(issuer = %quoted(issuer), kid = ?kid, "key added");
    }
    for kid in old_ids.iter().filter(|kid| !new_ids.contains(kid)) {
        tracing::debug!(issuer = %quoted(issuer), kid = ?kid, "key removed");
    }
}

// ===== fetching (runs in spawned tasks, never in the actor loop)

async fn fetch(shared: &Shared, issuer: &str, known_uri: Option<String>) -> Result<Fetched, Error> {
    let config = &shared.config;
    // Issuers the operator named are trusted wherever they resolve; any
    // other issuer comes from a token and must live on a public address.
    let public_only = config.valid_issuers.is_empty()
        && !config.allow_private_networks
        && !config.static_issuers.contains_key(issuer);
    let jwks_uri = match known_uri {
        Some(uri) => uri,
        None => {
            let url = discovery::discovery_url(issuer, &config.config_path);
            let body = get(shared, &url, public_only).await?;
            discovery::parse_document(issuer, &body.body, config.allow_http)?
        }
    };
    tracing::Span::current().record("url", tracing::field::display(quoted(&jwks_uri)));
    let response = get(shared, &jwks_uri, public_only).await?;
    let keys = KeySet::from_json(&response.body)?;
    let fresh_for = cache::freshness(
        response.cache_control.as_deref(),
        config.min_refetch_interval,
        config.cache_ttl,
    );
    tracing::debug!(
        keys = keys.keys().len(),
        skipped = keys.skipped().len(),
        ?fresh_for,
        "fetched keys"
    );
    Ok(Fetched {
        jwks_uri,
        keys,
        fresh_for,
    })
}

/// One GET under the registry's rules, whatever the client: URL checked, one
/// deadline for the whole exchange, status 200, a JSON content type, body
/// within the cap.
async fn get(
    shared: &Shared,
    url: &str,
    public_only: bool,
) -> Result<crate::http::HttpResponse, Error> {
    let config = &shared.config;
    let uri = discovery::check_url(url, config.allow_http)?;
    if public_only {
        discovery::check_public_host(&uri).await?;
    }
    tracing::debug!(url = %quoted(url), "requesting");
    let response = tokio::time::timeout(
        config.fetch_timeout,
        config.http_client.get(url, config.max_response_bytes),
    )
    .await
    .map_err(|_| Error::Timeout {
        url: quoted(url),
        after: config.fetch_timeout,
    })??;
    if response.status != 200 {
        return Err(Error::HttpStatus {
            url: quoted(url),
            status: response.status,
        });
    }
    if !response.content_type.as_deref().is_some_and(is_json) {
        let content_type = response.content_type.as_deref().map(quoted);
        return Err(Error::ContentType {
            url: quoted(url),
            content_type,
        });
    }
    if response.body.len() > config.max_response_bytes {
        return Err(Error::ResponseTooLarge {
            url: quoted(url),
            max: config.max_response_bytes,
        });
    }
    Ok(response)
}

/// `application/json`, `application/jwk-set+json` and any other
/// `application/*+json`, parameters such as `charset` allowed.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// A small xorshift generator for backoff jitter, seeded from the system's
/// random source; jitter needs spread, not secrecy.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let mut seed = [0u8; 8];
        // A failed seed only makes the jitter predictable, which is harmless.
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed);
        Jitter(u64::from_le_bytes(seed) | 1)
    }

    /// A number in `[0, 1)`.
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("issuers", &self.issuers.len())
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}
