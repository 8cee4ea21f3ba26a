//! Outage tolerance and fetch hardening against a real local HTTPS issuer
//! that misbehaves on demand: each test injects one fault and checks the
//! error the registry answers with, how many requests reached the issuer,
//! and whether keys it already knew keep verifying. Only the public API is
//! used.
//!
//! Time-based cases move Tokio's clock with [`jump`], which pauses, advances
//! and resumes it, so that no real request is ever in flight while the clock
//! is paused. Token expiry is checked against the system clock, so a jump
//! never expires a token, only cached key sets and backoffs.

#[path = "common/issuer.rs"]
mod issuer;
#[path = "common/keys.rs"]
mod keys;
#[path = "common/support.rs"]
mod support;

use std::future::Future;
use std::time::{Duration, Instant};

use jwks_registry::{Error, ErrorClass, KeyRegistryBuilder, KeyRegistryHandle};
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::timeout;

use issuer::{Fault, TestIssuer};
use keys::{TestKey, jwks};
use support::{api, builder, claims_from, counts, discovery_path, jump, jwks_path};

/// The default `cache_ttl`.
const TTL: Duration = Duration::from_secs(3600);
/// The default `min_refetch_interval`.
const MIN_REFETCH: Duration = Duration::from_secs(300);
/// The default `max_response_bytes`.
const MAX_BYTES: usize = 1024 * 1024;
/// Short enough that slow faults end quickly, long enough for any healthy
/// fetch on loopback.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
const SECOND: Duration = Duration::from_secs(1);
const HUNDRED_MB: u64 = 100_000_000;

/// A tenant that is broken before it was ever fetched.
const COLD: &str = "cold";
/// A tenant whose keys were fetched before it broke.
const WARM: &str = "warm";
const T1: &str = "t1";

// ===== helpers

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// Waits in short real sleeps, five seconds at most, until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("still not true after 5 s: {what}");
}

/// Runs `future` with a real-time limit, so that a hang fails the test
/// instead of stalling it.
async fn within<T>(limit: Duration, future: impl Future<Output = T>) -> T {
    timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("no answer within {limit:?}"))
}

/// A test issuer serving one key on some tenants, and a registry over it
/// with a short fetch timeout.
struct Scene {
    issuer: TestIssuer,
    key: TestKey,
    registry: KeyRegistryHandle,
}

/// What a cold issuer's caller saw when its fetch failed.
struct ColdFailure {
    error: Error,
    /// How long the caller waited for the error.
    waited: Duration,
}

impl Scene {
    /// Serves the key on `tenants`, and a registry that allows exactly them.
    async fn start(tenants: &[&str]) -> Scene {
        Scene::start_with(tenants, |builder| builder).await
    }

    /// As [`Scene::start`], with more settings.
    async fn start_with(
        tenants: &[&str],
        settings: impl FnOnce(KeyRegistryBuilder) -> KeyRegistryBuilder,
    ) -> Scene {
        Scene::new(tenants, true, settings).await
    }

    /// Serves the key on `tenants`, and a registry without an allow-list.
    async fn open(
        tenants: &[&str],
        settings: impl FnOnce(KeyRegistryBuilder) -> KeyRegistryBuilder,
    ) -> Scene {
        Scene::new(tenants, false, settings).await
    }

    async fn new(
        tenants: &[&str],
        allow_list: bool,
        settings: impl FnOnce(KeyRegistryBuilder) -> KeyRegistryBuilder,
    ) -> Scene {
        let issuer = TestIssuer::start().await;
        let key = TestKey::es256("k1");
        for tenant in tenants {
            issuer.set_jwks(tenant, jwks(&[&key]));
        }
        let mut builder = builder(&issuer).fetch_timeout(FETCH_TIMEOUT);
        if allow_list {
            builder = builder.valid_issuers(tenants.iter().map(|tenant| issuer.issuer(tenant)));
        }
        let registry = settings(builder).build().expect("valid settings");
        Scene {
            issuer,
            key,
            registry,
        }
    }

    fn iss(&self, tenant: &str) -> String {
        self.issuer.issuer(tenant)
    }

    /// A valid token from `tenant`, signed with the scene's key.
    fn token(&self, tenant: &str) -> String {
        self.key.token(claims_from(&self.iss(tenant)))
    }

    /// Verifies a valid token from `tenant`.
    async fn verify(&self, tenant: &str) -> Result<(), Error> {
        let token = self.token(tenant);
        within(secs(30), self.registry.verify(&token, &api()))
            .await
            .map(|_| ())
    }

    fn counts(&self, tenant: &str) -> (usize, usize) {
        counts(&self.issuer, tenant)
    }

    /// Breaks the `COLD` and `WARM` tenants with `break_tenant` and checks
    /// what every failed fetch owes its callers: the cold issuer's caller
    /// gets an error of class Unavailable (returned for the test to
    /// inspect); the warm issuer's key, fetched before the fault and then
    /// expired, keeps verifying as a stale serve.
    ///
    /// The scene must have started with `COLD` and `WARM`; request counts
    /// are left to the caller, since they depend on where the fault is.
    async fn outage(&self, break_tenant: impl Fn(&str)) -> ColdFailure {
        self.verify(WARM)
            .await
            .expect("the warm issuer works at first");
        break_tenant(COLD);
        break_tenant(WARM);

        let started = Instant::now();
        let error = self
            .verify(COLD)
            .await
            .expect_err("nothing to fall back on");
        let waited = started.elapsed();
        assert_eq!(error.class(), ErrorClass::Unavailable, "{error}");

        jump(TTL + SECOND).await;
        self.verify(WARM)
            .await
            .expect("known keys outlive the fault");
        assert_eq!(self.registry.stats().stale_serves, 1);
        ColdFailure { error, waited }
    }

    /// [`Scene::outage`] with `fault` served instead of both key sets: each
    /// tenant sees its discovery and key set requested once per fetch.
    async fn key_set_fault(&self, fault: Fault) -> ColdFailure {
        let failure = self
            .outage(|tenant| self.issuer.set_fault(&jwks_path(tenant), fault.clone()))
            .await;
        assert_eq!(self.counts(COLD), (1, 1), "cold");
        assert_eq!(self.counts(WARM), (2, 2), "warm");
        failure
    }
}

/// A scene whose `COLD` and `WARM` tenants serve `fault` instead of their key
/// sets, checked by [`Scene::key_set_fault`].
async fn key_set_fault(fault: Fault) -> (Scene, ColdFailure) {
    let scene = Scene::start(&[COLD, WARM]).await;
    let failure = scene.key_set_fault(fault).await;
    (scene, failure)
}

fn body(content_type: &str, body: impl Into<Vec<u8>>) -> Fault {
    Fault::Body {
        content_type: content_type.to_owned(),
        body: body.into(),
    }
}

// ===== one fault each

/// An issuer nobody listens on fails with `Http` and is not retried during
/// the backoff, while known keys of an issuer that goes away keep verifying.
#[tokio::test]
async fn issuer_down() {
    let port = issuer::unused_port().await;
    let iss = format!("https://127.0.0.1:{port}/{T1}");
    let registry = KeyRegistryHandle::builder()
        .valid_issuers([iss.clone()])
        .build()
        .unwrap();
    for _ in 0..2 {
        let err = registry.get_key_for(&iss, "k1").await.unwrap_err();
        assert!(matches!(err, Error::Http { .. }), "{err}");
        assert_eq!(err.class(), ErrorClass::Unavailable);
    }
    assert_eq!(registry.stats().fetches_failed, 1);

    let scene = Scene::start(&[T1]).await;
    scene.verify(T1).await.unwrap();
    assert_eq!(scene.counts(T1), (1, 1));
    let token = scene.token(T1);
    let Scene {
        issuer, registry, ..
    } = scene;
    drop(issuer);

    jump(TTL + SECOND).await;
    registry.verify(&token, &api()).await.unwrap();
    let stats = registry.stats();
    assert_eq!((stats.fetches_failed, stats.stale_serves), (1, 1));
}

/// A 500 from the key set URL fails the fetch with `HttpStatus`.
#[tokio::test]
async fn key_set_status_500() {
    let (_scene, failure) = key_set_fault(Fault::Status(500)).await;
    let err = failure.error;
    assert!(
        matches!(err, Error::HttpStatus { status: 500, .. }),
        "{err}"
    );
}

/// A 200 with an HTML page fails the fetch with `ContentType`, naming it.
#[tokio::test]
async fn key_set_html_page() {
    let page = "<html><body>Sign in</body></html>";
    let (_scene, failure) = key_set_fault(body("text/html; charset=utf-8", page)).await;
    let err = failure.error;
    match &err {
        Error::ContentType { content_type, .. } => assert!(
            content_type
                .as_deref()
                .is_some_and(|found| found.starts_with("text/html")),
            "{err}"
        ),
        _ => panic!("expected a content type error, got {err}"),
    }
}

/// Key sets served as any JSON media type, parameters and case aside, verify.
#[tokio::test]
async fn key_set_json_content_types_are_accepted() {
    let types = [
        "application/json",
        "application/jwk-set+json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.example+json",
    ];
    let tenants: Vec<String> = (0..types.len()).map(|i| format!("t{i}")).collect();
    let names: Vec<&str> = tenants.iter().map(String::as_str).collect();
    let scene = Scene::start(&names).await;
    for (tenant, content_type) in names.iter().zip(types) {
        let set = jwks(&[&scene.key]);
        scene
            .issuer
            .set_fault(&jwks_path(tenant), body(content_type, set));
        scene
            .verify(tenant)
            .await
            .unwrap_or_else(|err| panic!("{content_type}: {err}"));
        assert_eq!(scene.counts(tenant), (1, 1), "{content_type}");
    }
}

/// A 200 with JSON that is not a key set fails with `InvalidKeySet`.
#[tokio::test]
async fn key_set_json_without_keys() {
    let document = json!({"issuer": "https://elsewhere.example", "not_keys": []}).to_string();
    let (_scene, failure) = key_set_fault(body("application/json", document)).await;
    let err = failure.error;
    assert!(matches!(err, Error::InvalidKeySet { .. }), "{err}");
}

/// An empty key set is a failed fetch (`InvalidKeySet`), not a rotation.
#[tokio::test]
async fn key_set_empty() {
    let (_scene, failure) = key_set_fault(body("application/json", r#"{"keys":[]}"#)).await;
    let err = failure.error;
    assert!(matches!(err, Error::InvalidKeySet { .. }), "{err}");
}

/// A 100 MB key set without a length is cut off while it streams
/// (`ResponseTooLarge`), a few megabytes in.
#[tokio::test]
async fn key_set_huge_streamed() {
    let (scene, failure) = key_set_fault(Fault::Huge { bytes: HUNDRED_MB }).await;
    let err = failure.error;
    assert!(
        matches!(err, Error::ResponseTooLarge { max: MAX_BYTES, .. }),
        "{err}"
    );
    let sent = scene.issuer.bytes_sent(&jwks_path(COLD));
    assert!(sent < HUNDRED_MB / 10, "{sent} bytes sent");
}

/// A key set announcing 100 MB in `Content-Length` is refused from its
/// headers (`ResponseTooLarge`), before the cap's worth of body is read.
#[tokio::test]
async fn key_set_huge_declared() {
    // A cap above what socket buffers hold on loopback (a few MiB): a
    // refusal from the headers sends less than the cap, one while streaming
    // would have read all of it.
    let cap = 16 * 1024 * 1024;
    let scene = Scene::start_with(&[COLD, WARM], |builder| builder.max_response_bytes(cap)).await;
    let failure = scene
        .key_set_fault(Fault::HugeDeclared { bytes: HUNDRED_MB })
        .await;
    let err = failure.error;
    assert!(
        matches!(err, Error::ResponseTooLarge { max, .. } if max == cap),
        "{err}"
    );
    let sent = scene.issuer.bytes_sent(&jwks_path(COLD));
    assert!(sent < cap as u64, "{sent} bytes sent");
}

/// A key set trickling a byte a second ends in `Timeout` at the one deadline
/// for the whole request.
#[tokio::test]
async fn key_set_trickle() {
    let fault = Fault::Trickle { interval: SECOND };
    let (_scene, failure) = key_set_fault(fault).await;
    assert_timed_out(failure);
}

/// The fetch ended at the fetch timeout, well within the test's own bound.
fn assert_timed_out(failure: ColdFailure) {
    let err = failure.error;
    assert!(
        matches!(err, Error::Timeout { after, .. } if after == FETCH_TIMEOUT),
        "{err}"
    );
    assert!(failure.waited < secs(10), "waited {:?}", failure.waited);
}

/// A server that reads the request and never answers ends in `Timeout`.
#[tokio::test]
async fn key_set_hang() {
    let (_scene, failure) = key_set_fault(Fault::Hang).await;
    assert_timed_out(failure);
}

/// A server that closes the connection without answering fails with `Http`.
#[tokio::test]
async fn key_set_connection_closed() {
    let (_scene, failure) = key_set_fault(Fault::Close).await;
    let err = failure.error;
    assert!(matches!(err, Error::Http { .. }), "{err}");
}

/// A redirect of the key set to another host is not followed (`HttpStatus`
/// 302), and the target is never asked.
#[tokio::test]
async fn key_set_redirect_to_another_host() {
    let scene = Scene::start(&[COLD, WARM]).await;
    // Same server, other host name: `localhost` is in its certificate too,
    // so a followed redirect would succeed and be counted.
    let target = format!(
        "{}/elsewhere/jwks",
        scene.issuer.base_url().replace("127.0.0.1", "localhost")
    );
    scene.issuer.set_jwks("elsewhere", jwks(&[&scene.key]));
    let failure = scene.key_set_fault(Fault::Redirect(target)).await;
    let err = failure.error;
    assert!(
        matches!(err, Error::HttpStatus { status: 302, .. }),
        "{err}"
    );
    assert_eq!(scene.issuer.requests("/elsewhere/jwks"), 0);
}

/// A discovery document whose `jwks_uri` is plain `http://` is
/// `InvalidDiscovery`, refused before any key set request.
#[tokio::test]
async fn discovery_with_plain_http_jwks_uri() {
    let scene = Scene::start(&[COLD, WARM]).await;
    let failure = scene
        .outage(|tenant| {
            let iss = scene.iss(tenant);
            let jwks_uri = format!("{}/jwks", iss.replace("https://", "http://"));
            let document = json!({"issuer": iss, "jwks_uri": jwks_uri});
            scene.issuer.set_discovery(tenant, document.to_string());
        })
        .await;
    let err = failure.error;
    assert!(matches!(err, Error::InvalidDiscovery { .. }), "{err}");
    assert_eq!(scene.counts(COLD), (1, 0));
    assert_eq!(scene.counts(WARM), (2, 1));
}

// ===== time: backoff, staleness, freshness

/// Within the backoff after a failed fetch, callers get the same error
/// without a request; past it one request is made, and the next backoff
/// doubles.
#[tokio::test]
async fn failed_fetch_backs_off() {
    let scene = Scene::start(&[T1]).await;
    scene.issuer.set_fault(&jwks_path(T1), Fault::Status(500));
    let attempt = || async {
        let err = scene.verify(T1).await.unwrap_err();
        assert!(
            matches!(err, Error::HttpStatus { status: 500, .. }),
            "{err}"
        );
        scene.counts(T1)
    };

    // First failure: the backoff is 1 s less up to a quarter.
    assert_eq!(attempt().await, (1, 1));
    assert_eq!(attempt().await, (1, 1));
    jump(SECOND).await;
    assert_eq!(attempt().await, (2, 2));

    // Second failure: the backoff is 2 s less up to a quarter, so at least
    // 1.5 s.
    jump(Duration::from_millis(1400)).await;
    assert_eq!(attempt().await, (2, 2));
    jump(Duration::from_millis(600)).await;
    assert_eq!(attempt().await, (3, 3));
    assert_eq!(scene.registry.stats().fetches_failed, 3);
}

/// Known keys are served stale for `max_stale` past expiry while the issuer
/// fails, then the registry fails closed with the issuer's error.
#[tokio::test]
async fn outage_longer_than_max_stale_fails_closed() {
    let max_stale = secs(600);
    let scene = Scene::start_with(&[T1], |builder| builder.max_stale(max_stale)).await;
    scene.verify(T1).await.unwrap();
    scene.issuer.set_fault(&jwks_path(T1), Fault::Status(503));

    jump(TTL + SECOND).await;
    scene.verify(T1).await.expect("stale within max_stale");
    assert_eq!(scene.counts(T1), (2, 2));

    jump(max_stale).await;
    for _ in 0..2 {
        let err = scene.verify(T1).await.unwrap_err();
        assert!(
            matches!(err, Error::HttpStatus { status: 503, .. }),
            "{err}"
        );
    }
    // One new attempt, then the backoff answers the second caller.
    assert_eq!(scene.counts(T1), (3, 3));
    assert_eq!(scene.registry.stats().stale_serves, 1);
}

/// A token with an unseen kid during an outage gets the issuer's error
/// (Unavailable), not `KeyNotFound` (Rejected), without a request.
#[tokio::test]
async fn unknown_kid_during_outage_is_unavailable() {
    let scene = Scene::start(&[T1]).await;
    scene.verify(T1).await.unwrap();
    scene.issuer.set_fault(&jwks_path(T1), Fault::Status(500));
    jump(TTL + SECOND).await;
    scene.verify(T1).await.expect("stale serve");
    assert_eq!(scene.counts(T1), (2, 2));

    let rotated = TestKey::es256("k2");
    let token = rotated.token(claims_from(&scene.iss(T1)));
    let err = scene.registry.verify(&token, &api()).await.unwrap_err();
    assert!(
        matches!(err, Error::HttpStatus { status: 500, .. }),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Unavailable);
    assert_eq!(scene.counts(T1), (2, 2));
}

/// When the issuer recovers with a rotated key, the first request after the
/// backoff refetches: the new key verifies and the old one is gone.
#[tokio::test]
async fn recovery_after_outage_picks_up_new_keys() {
    let scene = Scene::start(&[T1]).await;
    scene.verify(T1).await.unwrap();
    scene.issuer.set_fault(&jwks_path(T1), Fault::Status(500));
    jump(TTL + SECOND).await;
    scene.verify(T1).await.expect("stale serve");
    assert_eq!(scene.counts(T1), (2, 2));

    let rotated = TestKey::ed25519("k2");
    scene.issuer.set_jwks(T1, jwks(&[&rotated]));
    scene.issuer.clear_fault(&jwks_path(T1));
    scene
        .verify(T1)
        .await
        .expect("stale serve during the backoff");
    assert_eq!(scene.counts(T1), (2, 2));

    jump(SECOND).await;
    let token = rotated.token(claims_from(&scene.iss(T1)));
    scene.registry.verify(&token, &api()).await.unwrap();
    assert_eq!(scene.counts(T1), (3, 3));
    let err = scene.verify(T1).await.unwrap_err();
    assert!(matches!(err, Error::KeyNotFound { .. }), "{err}");
    assert_eq!(scene.counts(T1), (3, 3));
    assert_eq!(scene.registry.stats().stale_serves, 2);
}

/// `Cache-Control: max-age=600` shortens freshness from the one-hour TTL to
/// ten minutes: no request at 530 s, a refetch after 601 s.
#[tokio::test]
async fn max_age_sets_freshness() {
    let scene = Scene::start(&[T1]).await;
    scene
        .issuer
        .set_header(&jwks_path(T1), "cache-control", "public, max-age=600");
    scene.verify(T1).await.unwrap();

    // Before the refresh-ahead window (the last 60 s), hits only.
    jump(secs(530)).await;
    scene.verify(T1).await.unwrap();
    assert_eq!(scene.counts(T1), (1, 1));

    jump(secs(71)).await;
    scene.verify(T1).await.unwrap();
    assert_eq!(scene.counts(T1), (2, 2));
}

/// `Cache-Control: max-age=5` is clamped up to `min_refetch_interval`
/// (300 s): no request after 6 s or 260 s, a refetch after 301 s.
#[tokio::test]
async fn short_max_age_is_clamped_to_min_refetch_interval() {
    let scene = Scene::start(&[T1]).await;
    scene
        .issuer
        .set_header(&jwks_path(T1), "cache-control", "max-age=5");
    scene.verify(T1).await.unwrap();

    // Before the refresh-ahead window (the last 30 s), hits only.
    for step in [6, 254] {
        jump(secs(step)).await;
        scene.verify(T1).await.unwrap();
        assert_eq!(scene.counts(T1), (1, 1), "after {step} s more");
    }

    jump(MIN_REFETCH - secs(260) + SECOND).await;
    scene.verify(T1).await.unwrap();
    assert_eq!(scene.counts(T1), (2, 2));
}

/// Hits in the last tenth of the freshness period answer at once and start
/// exactly one background refresh.
#[tokio::test]
async fn refresh_ahead_in_background() {
    let scene = Scene::start(&[T1]).await;
    scene.verify(T1).await.unwrap();
    // The refresh takes a second; no caller may wait for it.
    scene.issuer.set_fault(&jwks_path(T1), Fault::Delay(SECOND));

    jump(TTL - secs(100)).await;
    for _ in 0..10 {
        within(Duration::from_millis(500), scene.verify(T1))
            .await
            .expect("a hit");
    }
    eventually("the refresh reached the issuer", || {
        scene.counts(T1) == (2, 2)
    })
    .await;
    let registry = &scene.registry;
    eventually("the refresh finished", || registry.stats().fetches_ok == 2).await;
    assert_eq!(scene.counts(T1), (2, 2));

    // The refreshed set outlives the old expiry.
    jump(secs(200)).await;
    scene.verify(T1).await.unwrap();
    assert_eq!(scene.counts(T1), (2, 2));
}

// ===== floods and limits

/// 100,000 lookups of unknown kids cost one key set request, and a valid
/// token keeps verifying during and after them.
#[tokio::test]
async fn kid_flood_costs_one_refetch() {
    let scene = Scene::start(&[T1]).await;
    scene.verify(T1).await.unwrap();
    // Past the refetch interval, so that an unknown kid may refetch once.
    jump(MIN_REFETCH + SECOND).await;
    let iss = scene.iss(T1);

    let flood = async {
        let mut not_found = 0;
        for batch in 0..100 {
            let mut lookups = JoinSet::new();
            for i in 0..1000 {
                let (registry, iss) = (scene.registry.clone(), iss.clone());
                let kid = format!("unknown-{batch}-{i}");
                lookups.spawn(async move { registry.get_key_for(&iss, &kid).await.map(|_| ()) });
            }
            // Runs while the batch's lookups are answered.
            scene.verify(T1).await.expect("verifies during the flood");
            for result in lookups.join_all().await {
                match result {
                    Err(Error::KeyNotFound { .. }) => not_found += 1,
                    other => panic!("an unknown kid gave {other:?}"),
                }
            }
        }
        not_found
    };
    assert_eq!(within(secs(60), flood).await, 100_000);
    scene.verify(T1).await.expect("verifies after the flood");
    assert_eq!(scene.counts(T1), (1, 2));
}

/// A flood of 100 made-up, failing issuers costs one request each and does
/// not push a working issuer out of the cache.
#[tokio::test]
async fn issuer_flood_keeps_working_issuer() {
    const GOOD: &str = "good";
    const BOGUS: usize = 100;
    let scene = Scene::open(&[GOOD], |builder| builder.allow_private_networks(true)).await;
    scene.verify(GOOD).await.unwrap();
    assert_eq!(scene.counts(GOOD), (1, 1));

    // Three times the cache's 32 issuers, none with a key set, so their
    // discovery is a 404. Waves of 10 stay under the fetch cap, so that
    // every one is really fetched; each is asked twice at once.
    let bogus: Vec<String> = (0..BOGUS).map(|i| format!("forged-{i}")).collect();
    for wave in bogus.chunks(10) {
        let mut lookups = JoinSet::new();
        for tenant in wave.iter().chain(wave) {
            let (registry, iss) = (scene.registry.clone(), scene.iss(tenant));
            lookups.spawn(async move { registry.get_key_for(&iss, "k1").await.map(|_| ()) });
        }
        for result in within(secs(10), lookups.join_all()).await {
            assert!(
                matches!(result, Err(Error::HttpStatus { status: 404, .. })),
                "{result:?}"
            );
        }
    }
    for tenant in &bogus {
        assert_eq!(scene.counts(tenant), (1, 0), "{tenant}");
    }
    assert_eq!(scene.issuer.total_requests(), 2 + BOGUS);

    // Still cached: the key verifies, and an unknown kid is answered from
    // the cached entry (refetch suppressed), neither with a request.
    scene
        .verify(GOOD)
        .await
        .expect("the working issuer still verifies");
    let err = scene
        .registry
        .get_key_for(&scene.iss(GOOD), "unknown")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::KeyNotFound { .. }), "{err}");
    assert_eq!(scene.counts(GOOD), (1, 1));
}

/// With the fetch cap reached, a new issuer is refused at once with
/// `TooManyFetches` and no request, and is fetched once a slot frees.
#[tokio::test]
async fn fetches_in_flight_are_capped() {
    let scene = Scene::open(&["slow1", "slow2", T1], |builder| {
        builder
            .allow_private_networks(true)
            .max_concurrent_fetches(2)
    })
    .await;
    let mut slow = JoinSet::new();
    for tenant in ["slow1", "slow2"] {
        let delay = Fault::Delay(SECOND);
        scene.issuer.set_fault(&discovery_path(tenant), delay);
        let (registry, token) = (scene.registry.clone(), scene.token(tenant));
        slow.spawn(async move { registry.verify(&token, &api()).await.map(|_| ()) });
    }
    let issuer = &scene.issuer;
    eventually("both slow fetches started", || {
        counts(issuer, "slow1").0 == 1 && counts(issuer, "slow2").0 == 1
    })
    .await;

    let err = scene.verify(T1).await.unwrap_err();
    assert!(matches!(err, Error::TooManyFetches), "{err}");
    assert_eq!(err.class(), ErrorClass::Unavailable);
    assert_eq!(scene.counts(T1), (0, 0));

    for result in within(secs(10), slow.join_all()).await {
        result.expect("a slow fetch succeeds");
    }
    // Past any backoff the refusal might have started.
    jump(SECOND).await;
    scene.verify(T1).await.expect("fetched once a slot is free");
    assert_eq!(scene.counts(T1), (1, 1));
}

/// Without an allow-list, non-public issuer hosts are refused with
/// `PrivateAddress` before any request, unless named in `valid_issuers`.
#[tokio::test]
async fn private_network_issuers_are_refused() {
    let scene = Scene::open(&[T1], |builder| builder).await;
    let base_url = scene.issuer.base_url();
    let port = base_url
        .rsplit(':')
        .next()
        .expect("the base URL has a port");
    let hosts = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!("0.0.0.0:{port}"),
        "10.1.2.3".to_owned(),
        "172.16.0.1".to_owned(),
        "192.168.1.1".to_owned(),
        "169.254.169.254".to_owned(),
        "[fe80::1]".to_owned(),
    ];
    for host in &hosts {
        let iss = format!("https://{host}/{T1}");
        let err = scene.registry.get_key_for(&iss, "k1").await.unwrap_err();
        assert!(matches!(err, Error::PrivateAddress { .. }), "{host}: {err}");
        assert_eq!(err.class(), ErrorClass::Rejected, "{host}");
    }
    assert_eq!(scene.issuer.total_requests(), 0);

    let trusting = builder(&scene.issuer)
        .valid_issuers([scene.iss(T1)])
        .build()
        .unwrap();
    trusting.verify(&scene.token(T1), &api()).await.unwrap();
    assert_eq!(scene.counts(T1), (1, 1));
}
