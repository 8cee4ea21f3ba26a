//! The public face of the registry: [`KeyRegistryHandle`] and its builder.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::actor::{Actor, Request};
use super::cache::Snapshot;
use super::tokens::TokenCache;
use crate::algorithm::Algorithm;
use crate::discovery;
use crate::error::{Error, TokenPart, quoted};
use crate::http::{HttpClient, HyperClient};
use crate::jwk::VerifyingKey;
use crate::token::{DEFAULT_MAX_TOKEN_BYTES, KeyHint, UnverifiedToken};
use crate::validation::Validation;
use crate::verify::{Verified, verify_token_from};

/// The default discovery path, appended to the issuer.
pub const DEFAULT_CONFIG_PATH: &str = "/.well-known/openid-configuration";

/// How many requests may queue for the actor before senders wait.
const CHANNEL_CAPACITY: usize = 1024;

/// How many never-fetched issuers the actor remembers at once.
const PROBATION_CAPACITY: usize = 64;

/// A cheap, cloneable handle to a key registry.
///
/// The registry is a background task (the actor) that owns every issuer's
/// discovery result and keys. Handles ask it for keys over a channel, but a
/// key that is cached and fresh is read from the actor's published snapshot
/// without touching the channel or any lock. Clone the handle into as many
/// tasks as needed; the actor stops when the last handle is dropped or when
/// [`KeyRegistryHandle::shutdown`] is called.
///
/// # Example
///
/// ```no_run
/// use jwks_registry::{KeyRegistryHandle, Validation};
///
/// # async fn run(token: &str) -> Result<(), jwks_registry::Error> {
/// let registry = KeyRegistryHandle::builder()
///     .valid_issuers(["https://login.example.com"])
///     .build()?;
/// let verified = registry.verify(token, &Validation::new(["my-api"])).await?;
/// println!("hello, {:?}", verified.subject());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KeyRegistryHandle {
    requests_tx: mpsc::Sender<Request>,
    shared: Arc<Shared>,
}

/// State shared by the handles and the actor. Only the actor writes the
/// snapshot; the counters are atomics.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) snapshot: ArcSwap<Snapshot>,
    pub(crate) stats: StatsCounters,
    pub(crate) cancel: CancellationToken,
    /// Mirrors `cancel` for the hit paths: `CancellationToken::is_cancelled`
    /// takes a mutex, a load of this does not. Set before `cancel` fires.
    pub(crate) stopped: AtomicBool,
    /// Tokens verified before; `None` when the cache is off.
    tokens: Option<TokenCache>,
    /// The zero of the `last_used` stamps.
    pub(crate) started: Instant,
}

/// The settings, validated.
pub(crate) struct Config {
    pub(crate) valid_issuers: HashSet<String>,
    pub(crate) cache_max_issuers: NonZeroUsize,
    pub(crate) probation_capacity: NonZeroUsize,
    pub(crate) cache_ttl: Duration,
    pub(crate) min_refetch_interval: Duration,
    pub(crate) config_path: String,
    pub(crate) static_issuers: HashMap<String, String>,
    pub(crate) http_client: Arc<dyn HttpClient>,
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) max_stale: Duration,
    pub(crate) allow_http: bool,
    pub(crate) allow_private_networks: bool,
    pub(crate) max_concurrent_fetches: usize,
    pub(crate) max_token_bytes: usize,
}

/// Builds a [`KeyRegistryHandle`]; see each setting for its default.
pub struct KeyRegistryBuilder {
    valid_issuers: HashSet<String>,
    cache_max_issuers: usize,
    cache_ttl: Duration,
    min_refetch_interval: Duration,
    config_path: String,
    static_issuers: HashMap<String, String>,
    http_client: Option<Arc<dyn HttpClient>>,
    fetch_timeout: Duration,
    max_response_bytes: usize,
    max_stale: Duration,
    allow_http: bool,
    allow_private_networks: bool,
    max_concurrent_fetches: usize,
    root_certificates: Vec<Vec<u8>>,
    max_token_bytes: usize,
    verified_cache_capacity: usize,
}

/// Counters of what the registry did since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Keys answered from fresh cached sets, by the lock-free path or by the
    /// actor. A hit says nothing of whether the token's signature then
    /// verified.
    pub hits: u64,
    /// Requests that waited for a fetch: the one that started it and every
    /// one that joined it.
    pub misses: u64,
    /// Fetches (discovery and key set together) that succeeded.
    pub fetches_ok: u64,
    /// Fetches that failed.
    pub fetches_failed: u64,
    /// Unknown `kid`s answered without a refetch because the last fetch was
    /// too recent.
    pub refetches_suppressed: u64,
    /// Keys answered from an expired set while the issuer failed.
    pub stale_serves: u64,
    /// Issuers evicted from the cache.
    pub evictions: u64,
    /// Tokens answered from the verified-token cache without a signature
    /// check.
    pub verified_cache_hits: u64,
}

#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    fetches_ok: AtomicU64,
    fetches_failed: AtomicU64,
    refetches_suppressed: AtomicU64,
    stale_serves: AtomicU64,
    evictions: AtomicU64,
    verified_cache_hits: AtomicU64,
}

impl KeyRegistryHandle {
    /// Starts building a registry with the default settings.
    pub fn builder() -> KeyRegistryBuilder {
        KeyRegistryBuilder::new()
    }

    /// Finds the key that signed `token`, fetching the issuer's keys if
    /// needed. The token's `iss`, `kid` and `alg` are read without verifying
    /// anything; the signature is not checked (use
    /// [`KeyRegistryHandle::verify`] for that).
    ///
    /// # Errors
    ///
    /// - the parsing errors of [`UnverifiedToken::parse`], and
    ///   [`Error::MissingClaim`] when the token has no string `iss`;
    /// - [`Error::IssuerNotAllowed`] for an issuer outside `valid_issuers`,
    ///   before any request;
    /// - [`Error::KeyNotFound`], [`Error::KeyMismatch`],
    ///   [`Error::AmbiguousKey`] when the issuer has no fitting key;
    /// - the fetch errors ([`Error::Http`], [`Error::HttpStatus`],
    ///   [`Error::Timeout`], [`Error::InvalidDiscovery`],
    ///   [`Error::InvalidKeySet`], ...) when the issuer cannot be reached;
    /// - [`Error::Shutdown`] when the registry has stopped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future abandons only this caller's wait; a
    /// fetch it started goes on and serves the others.
    pub async fn get_key(&self, token: &str) -> Result<Arc<VerifyingKey>, Error> {
        // A fresh hit for a common token is answered while the issuer and
        // `kid` are still borrowed from the token; anything else takes an
        // owned hint to the actor.
        let max_bytes = self.shared.config.max_token_bytes;
        let scanned = KeyHint::scan_with(token, max_bytes, |issuer, kid, alg| {
            self.fresh_hit(issuer, kid, Some(alg))
                .ok_or_else(|| KeyHint::new(issuer, kid, alg))
        });
        let hint = match scanned {
            Some(Ok(key)) => return Ok(key),
            Some(Err(hint)) => hint,
            None => KeyHint::parse(token, max_bytes)?,
        };
        self.lookup(&hint.issuer, hint.key_id.as_deref(), Some(hint.algorithm))
            .await
    }

    /// Finds `issuer`'s key with this `kid`, fetching if needed.
    ///
    /// # Errors
    ///
    /// As [`KeyRegistryHandle::get_key`], without the parsing errors.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`KeyRegistryHandle::get_key`].
    pub async fn get_key_for(&self, issuer: &str, kid: &str) -> Result<Arc<VerifyingKey>, Error> {
        self.lookup(issuer, Some(kid), None).await
    }

    /// Verifies `token`: finds its key, checks the signature, then checks
    /// the claims against `validation` and that `iss` equals the issuer the
    /// key came from.
    ///
    /// # Errors
    ///
    /// The errors of [`KeyRegistryHandle::get_key`], plus
    /// [`Error::AlgorithmNotAllowed`] (checked before any request),
    /// [`Error::InvalidSignature`] and the claim errors of
    /// [`Validation::validate`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`KeyRegistryHandle::get_key`].
    pub async fn verify(&self, token: &str, validation: &Validation) -> Result<Verified, Error> {
        if let Some(cache) = &self.shared.tokens {
            if let Some(verified) = self.verify_cached(cache, token, validation)? {
                return Ok(verified);
            }
        }

        let text = token;
        let token = UnverifiedToken::parse_with_limit(text, self.shared.config.max_token_bytes)?;
        let issuer = token_issuer(&token)?.to_owned();
        let alg = token.header().algorithm();
        validation.check_algorithm(alg)?;
        let key = self.lookup(&issuer, token.key_id(), Some(alg)).await?;
        let verified = verify_token_from(token, &key, validation, Some(&issuer))?;

        if let Some(cache) = &self.shared.tokens {
            self.remember(cache, text, &issuer, &verified);
        }
        Ok(verified)
    }

    /// Answers from the verified-token cache if the token is there, its key
    /// is still published and fresh, and its claims pass `validation` now.
    fn verify_cached(
        &self,
        cache: &TokenCache,
        token: &str,
        validation: &Validation,
    ) -> Result<Option<Verified>, Error> {
        if self.is_shut_down() {
            return Err(Error::Shutdown);
        }
        let now = Instant::now();
        let Some(hit) = cache.get(token, now) else {
            return Ok(None);
        };
        let snapshot = self.shared.snapshot.load();
        let published = snapshot.issuers.get(&*hit.issuer).is_some_and(|view| {
            now < view.fresh_until
                && view
                    .keys
                    .keys()
                    .iter()
                    .any(|key| Arc::ptr_eq(key, hit.verified.key()))
        });
        if !published {
            cache.remove(token);
            return Ok(None);
        }
        validation.check(
            hit.verified.header(),
            hit.verified.claims(),
            Some(&hit.issuer),
        )?;
        self.shared
            .stats
            .verified_cache_hits
            .fetch_add(1, Ordering::Relaxed);
        Ok(Some(hit.verified))
    }

    /// Remembers a verified token until its `exp` or its key set's expiry,
    /// whichever comes first.
    fn remember(&self, cache: &TokenCache, token: &str, issuer: &str, verified: &Verified) {
        let snapshot = self.shared.snapshot.load();
        // Keys served stale, or already replaced, are not worth remembering.
        let Some(view) = snapshot.issuers.get(issuer) else {
            return;
        };
        if !view
            .keys
            .keys()
            .iter()
            .any(|key| Arc::ptr_eq(key, verified.key()))
        {
            return;
        }
        let now = Instant::now();
        let mut valid_until = view.fresh_until;
        if let Some(exp) = verified
            .claims()
            .get("exp")
            .and_then(serde_json::Value::as_f64)
        {
            let unix_now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            let left = exp - unix_now;
            if left <= 0.0 {
                return;
            }
            valid_until = valid_until.min(now + Duration::from_secs_f64(left.min(1e9)));
        }
        if now < valid_until {
            cache.insert(token, issuer, verified.clone(), valid_until);
        }
    }

    /// Fetches `issuer`'s keys now unless they are cached and fresh, for
    /// example at start-up so that the first requests do not wait.
    ///
    /// # Errors
    ///
    /// [`Error::IssuerNotAllowed`], the fetch errors, and [`Error::Shutdown`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the fetch goes on if the future is dropped.
    pub async fn prefetch(&self, issuer: &str) -> Result<(), Error> {
        self.check_open_and_allowed(issuer)?;
        let (respond_to, response) = oneshot::channel();
        self.send(Request::Prefetch {
            issuer: issuer.to_owned(),
            respond_to,
        })
        .await?;
        response.await.map_err(|_| Error::Shutdown)?
    }

    /// The registry's counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats.read()
    }

    /// Stops the registry at once. Callers waiting on a fetch get
    /// [`Error::Shutdown`], and so does every later call on any handle.
    pub fn shutdown(&self) {
        self.shared.stop();
    }

    /// Says whether the registry has stopped.
    pub fn is_shut_down(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }

    async fn lookup(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<Arc<VerifyingKey>, Error> {
        if let Some(key) = self.fresh_hit(issuer, kid, alg) {
            return Ok(key);
        }

        // A registry that has shut down, or an issuer outside the
        // allow-list, is answered here; everything else is the actor's
        // decision.
        self.check_open_and_allowed(issuer)?;
        let (respond_to, response) = oneshot::channel();
        let request = Request::Key {
            issuer: issuer.to_owned(),
            kid: kid.map(str::to_owned),
            alg,
            respond_to,
        };
        self.send(request).await?;
        response.await.map_err(|_| Error::Shutdown)?
    }

    /// The hot path: a fresh cached key, read from the snapshot without a
    /// lock or a message. `None` when there is none, and for a registry that
    /// has shut down, which the slow path then answers with
    /// [`Error::Shutdown`].
    ///
    /// An issuer is published only after it passed the allow-list, so a hit
    /// needs no second check.
    fn fresh_hit(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Option<Arc<VerifyingKey>> {
        if self.is_shut_down() {
            return None;
        }
        let snapshot = self.shared.snapshot.load();
        let view = snapshot.issuers.get(issuer)?;
        let now = Instant::now();
        if now >= view.fresh_until {
            return None;
        }
        let key = view.keys.select(kid, alg).ok()?;
        view.last_used
            .fetch_max(stamp(self.shared.started, now), Ordering::Relaxed);
        self.shared.stats.hit();
        if now >= view.refresh_at && !view.refresh_requested.swap(true, Ordering::Relaxed) {
            // Ignoring a full channel is right: the refresh is an
            // optimisation and the next hit in the window is not asked to
            // retry, the expiry itself will fetch.
            let _ = self.requests_tx.try_send(Request::Refresh {
                issuer: issuer.to_owned(),
            });
        }
        Some(Arc::clone(key))
    }

    fn check_open_and_allowed(&self, issuer: &str) -> Result<(), Error> {
        if self.is_shut_down() {
            return Err(Error::Shutdown);
        }
        let allowed = &self.shared.config.valid_issuers;
        if !allowed.is_empty() && !allowed.contains(issuer) {
            return Err(Error::IssuerNotAllowed {
                issuer: quoted(issuer),
            });
        }
        Ok(())
    }

    async fn send(&self, request: Request) -> Result<(), Error> {
        tokio::select! {
            sent = self.requests_tx.send(request) => sent.map_err(|_| Error::Shutdown),
            () = self.shared.cancel.cancelled() => Err(Error::Shutdown),
        }
    }
}

impl fmt::Debug for KeyRegistryHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRegistryHandle")
            .field("issuers", &self.shared.snapshot.load().issuers.len())
            .field("shut_down", &self.is_shut_down())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Stops the hit paths, then the actor and every wait.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.cancel.cancel();
    }
}

impl KeyRegistryBuilder {
    fn new() -> KeyRegistryBuilder {
        KeyRegistryBuilder {
            valid_issuers: HashSet::new(),
            cache_max_issuers: 32,
            cache_ttl: Duration::from_secs(3600),
            min_refetch_interval: Duration::from_secs(300),
            config_path: DEFAULT_CONFIG_PATH.to_owned(),
            static_issuers: HashMap::new(),
            http_client: None,
            fetch_timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
            max_stale: Duration::from_secs(3600),
            allow_http: false,
            allow_private_networks: false,
            max_concurrent_fetches: 16,
            root_certificates: Vec::new(),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            verified_cache_capacity: 0,
        }
    }

    /// Accepts tokens only from these issuers, compared as exact strings
    /// (default: empty, any issuer). A token from another issuer is refused
    /// before any network use.
    ///
    /// With an empty list, anyone can make the registry fetch from a URL of
    /// their choosing by minting a token with that `iss`: set this in
    /// production.
    pub fn valid_issuers<I, S>(mut self, issuers: I) -> KeyRegistryBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.valid_issuers = issuers.into_iter().map(Into::into).collect();
        self
    }

    /// How many issuers are cached, least recently used evicted first
    /// (default 32).
    pub fn cache_max_issuers(mut self, count: usize) -> KeyRegistryBuilder {
        self.cache_max_issuers = count;
        self
    }

    /// How long a fetched key set is fresh (default 3600 s). A `max-age` on
    /// the response can shorten it down to `min_refetch_interval`.
    pub fn cache_ttl(mut self, ttl: Duration) -> KeyRegistryBuilder {
        self.cache_ttl = ttl;
        self
    }

    /// The least time between two fetches of one issuer's key set caused by
    /// unknown `kid`s (default 300 s); it also caps the retry backoff. A
    /// token with an unknown `kid` inside this interval fails at once with
    /// [`Error::KeyNotFound`], without a request.
    pub fn min_refetch_interval(mut self, interval: Duration) -> KeyRegistryBuilder {
        self.min_refetch_interval = interval;
        self
    }

    /// The path appended to the issuer (without its trailing `/`) to find
    /// the discovery document (default `/.well-known/openid-configuration`,
    /// OpenID Connect Discovery 1.0 §4). Must start with `/`.
    pub fn config_path(mut self, path: impl Into<String>) -> KeyRegistryBuilder {
        self.config_path = path.into();
        self
    }

    /// Skips discovery for `issuer` and fetches its keys from `jwks_uri`.
    pub fn static_issuer(
        mut self,
        issuer: impl Into<String>,
        jwks_uri: impl Into<String>,
    ) -> KeyRegistryBuilder {
        self.static_issuers.insert(issuer.into(), jwks_uri.into());
        self
    }

    /// Replaces the default hyper + rustls client.
    pub fn http_client(mut self, client: impl HttpClient) -> KeyRegistryBuilder {
        self.http_client = Some(Arc::new(client));
        self
    }

    /// The deadline of one request, from connecting to the last body byte
    /// (default 10 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> KeyRegistryBuilder {
        self.fetch_timeout = timeout;
        self
    }

    /// The largest discovery document or key set accepted, enforced while
    /// the body streams (default 1 MiB).
    pub fn max_response_bytes(mut self, bytes: usize) -> KeyRegistryBuilder {
        self.max_response_bytes = bytes;
        self
    }

    /// How long past expiry known keys keep verifying while the issuer
    /// fails (default 3600 s). Each such use is logged at `warn`.
    pub fn max_stale(mut self, max_stale: Duration) -> KeyRegistryBuilder {
        self.max_stale = max_stale;
        self
    }

    /// Allows plain `http://` issuers and key set URLs (default off). Meant
    /// for tests on loopback: over plain http anyone on the path can
    /// replace the keys.
    pub fn allow_http(mut self, allow: bool) -> KeyRegistryBuilder {
        self.allow_http = allow;
        self
    }

    /// With no `valid_issuers`, allows issuers and key set URLs whose host
    /// resolves to a loopback, private, link-local or other non-public
    /// address (default off).
    ///
    /// Off, a token naming `https://10.0.0.5` or `https://localhost` as its
    /// issuer is refused before any request, so that anyone able to send a
    /// token cannot make the registry probe internal services. Issuers named
    /// in `valid_issuers` are trusted wherever they resolve.
    pub fn allow_private_networks(mut self, allow: bool) -> KeyRegistryBuilder {
        self.allow_private_networks = allow;
        self
    }

    /// How many fetches may run at once across all issuers (default 16). A
    /// request that would start one more fails at once with
    /// [`Error::TooManyFetches`].
    pub fn max_concurrent_fetches(mut self, count: usize) -> KeyRegistryBuilder {
        self.max_concurrent_fetches = count;
        self
    }

    /// Trusts an additional root certificate (DER), for issuers behind a
    /// private CA. The Mozilla roots of `webpki-roots` stay trusted.
    /// Ignored when a custom [`HttpClient`] is set.
    pub fn root_certificate(mut self, der: impl Into<Vec<u8>>) -> KeyRegistryBuilder {
        self.root_certificates.push(der.into());
        self
    }

    /// The longest token accepted, checked before any decoding (default
    /// 16 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> KeyRegistryBuilder {
        self.max_token_bytes = bytes;
        self
    }

    /// Remembers up to `capacity` tokens after their signature verified, so
    /// that a token presented again is answered without a signature check
    /// (default 0: off).
    ///
    /// A remembered token is used no longer than its `exp` and the freshness
    /// of its key set, and only while the key that verified it is still in
    /// the issuer's published set; its claims are checked against the
    /// caller's [`Validation`] on every call. Memory grows with the tokens
    /// remembered: about the token's length twice, plus its claims.
    pub fn verified_cache_capacity(mut self, capacity: usize) -> KeyRegistryBuilder {
        self.verified_cache_capacity = capacity;
        self
    }

    /// Validates the settings and starts the actor on the current Tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when there is no Tokio runtime, a capacity or
    /// duration is zero, `config_path` does not start with `/`, a static or
    /// allowed issuer is not an `https` URL (or `http` with `allow_http`),
    /// or a root certificate is unusable.
    pub fn build(self) -> Result<KeyRegistryHandle, Error> {
        let config_error = |reason: String| Error::Config { reason };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| config_error("build() must run inside a Tokio runtime".to_owned()))?;

        // Validate.
        let cache_max_issuers = NonZeroUsize::new(self.cache_max_issuers)
            .ok_or_else(|| config_error("cache_max_issuers must be at least 1".to_owned()))?;
        for (name, value) in [
            ("cache_ttl", self.cache_ttl),
            ("min_refetch_interval", self.min_refetch_interval),
            ("fetch_timeout", self.fetch_timeout),
        ] {
            if value.is_zero() {
                return Err(config_error(format!("{name} must not be zero")));
            }
        }
        if self.max_response_bytes == 0 || self.max_token_bytes == 0 {
            return Err(config_error("byte limits must not be zero".to_owned()));
        }
        if self.max_concurrent_fetches == 0 {
            return Err(config_error(
                "max_concurrent_fetches must be at least 1".to_owned(),
            ));
        }
        if !self.config_path.starts_with('/') {
            return Err(config_error(format!(
                "config_path \"{}\" must start with '/'",
                quoted(&self.config_path)
            )));
        }
        for issuer in &self.valid_issuers {
            discovery::check_issuer(issuer, self.allow_http)
                .map_err(|err| config_error(format!("valid issuer: {err}")))?;
        }
        for (issuer, jwks_uri) in &self.static_issuers {
            discovery::check_issuer(issuer, self.allow_http)
                .map_err(|err| config_error(format!("static issuer: {err}")))?;
            discovery::check_url(jwks_uri, self.allow_http)
                .map_err(|err| config_error(format!("static jwks_uri: {err}")))?;
        }
        let http_client = match self.http_client {
            Some(client) => client,
            None => Arc::new(HyperClient::new(&self.root_certificates)?),
        };

        // Start.
        let config = Config {
            valid_issuers: self.valid_issuers,
            cache_max_issuers,
            probation_capacity: NonZeroUsize::new(PROBATION_CAPACITY).expect("non-zero constant"),
            cache_ttl: self.cache_ttl,
            min_refetch_interval: self.min_refetch_interval,
            config_path: self.config_path,
            static_issuers: self.static_issuers,
            http_client,
            fetch_timeout: self.fetch_timeout,
            max_response_bytes: self.max_response_bytes,
            max_stale: self.max_stale,
            allow_http: self.allow_http,
            allow_private_networks: self.allow_private_networks,
            max_concurrent_fetches: self.max_concurrent_fetches,
            max_token_bytes: self.max_token_bytes,
        };
        let shared = Arc::new(Shared {
            config,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            stats: StatsCounters::default(),
            cancel: CancellationToken::new(),
            stopped: AtomicBool::new(false),
            tokens: TokenCache::new(self.verified_cache_capacity),
            started: Instant::now(),
        });
        let (requests_tx, requests_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let actor = Actor::new(Arc::clone(&shared), requests_rx);
        runtime.spawn(actor.run());
        Ok(KeyRegistryHandle {
            requests_tx,
            shared,
        })
    }
}

impl fmt::Debug for KeyRegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRegistryBuilder")
            .field("valid_issuers", &self.valid_issuers)
            .field("cache_max_issuers", &self.cache_max_issuers)
            .field("cache_ttl", &self.cache_ttl)
            .field("min_refetch_interval", &self.min_refetch_interval)
            .field("config_path", &self.config_path)
            .field("static_issuers", &self.static_issuers)
            .field("http_client", &self.http_client)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_stale", &self.max_stale)
            .field("allow_http", &self.allow_http)
            .field("allow_private_networks", &self.allow_private_networks)
            .field("max_concurrent_fetches", &self.max_concurrent_fetches)
            .field("root_certificates", &self.root_certificates.len())
            .field("max_token_bytes", &self.max_token_bytes)
            .field("verified_cache_capacity", &self.verified_cache_capacity)
            .finish()
    }
}

impl StatsCounters {
    pub(crate) fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn fetch_ok(&self) {
        self.fetches_ok.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn fetch_failed(&self) {
        self.fetches_failed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn refetch_suppressed(&self) {
        self.refetches_suppressed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn stale_serve(&self) {
        self.stale_serves.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn eviction(&self) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> Stats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            hits: load(&self.hits),
            misses: load(&self.misses),
            fetches_ok: load(&self.fetches_ok),
            fetches_failed: load(&self.fetches_failed),
            refetches_suppressed: load(&self.refetches_suppressed),
            stale_serves: load(&self.stale_serves),
            evictions: load(&self.evictions),
            verified_cache_hits: load(&self.verified_cache_hits),
        }
    }
}

/// A use stamp: milliseconds since `started`.
pub(crate) fn stamp(started: Instant, now: Instant) -> u64 {
    u64::try_from(now.duration_since(started).as_millis()).unwrap_or(u64::MAX)
}

fn token_issuer<'t>(token: &'t UnverifiedToken<'_>) -> Result<&'t str, Error> {
    match token.claims().get("iss") {
        Some(serde_json::Value::String(issuer)) => Ok(issuer),
        Some(_) => Err(Error::MalformedToken {
            part: TokenPart::Claims,
            reason: "\"iss\" is not a string".to_owned(),
        }),
        None => Err(Error::MissingClaim {
            claim: "iss".to_owned(),
        }),
    }
}
