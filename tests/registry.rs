//! The key registry against a real local HTTPS issuer: discovery, caching,
//! rotation, eviction, single-flight, the URL rules, cancellation and
//! shutdown. Only the public API is used.

#[path = "common/issuer.rs"]
mod issuer;
#[path = "common/keys.rs"]
mod keys;
#[path = "common/memory_client.rs"]
mod memory_client;
#[path = "common/support.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jwks_registry::{Error, ErrorClass, KeyRegistryBuilder, KeyRegistryHandle};
use serde_json::json;

use issuer::{Fault, TestIssuer};
use keys::{TestKey, jwks};
use memory_client::MemoryClient;
use support::{DISCOVERY, api, builder, builder_for, claims_from, counts, issuer_serving, jump};

/// A token's key is found through discovery, and the same kid twice costs
/// one discovery and one key set request.
#[tokio::test]
async fn fetches_key_by_token_once() {
    let issuer = TestIssuer::start().await;
    let key = TestKey::rsa("k1");
    issuer.set_jwks("t1", jwks(&[&key]));
    let registry = builder(&issuer)
        .valid_issuers([issuer.issuer("t1")])
        .build()
        .unwrap();
    let token = key.token(claims_from(&issuer.issuer("t1")));

    let found = registry.get_key(&token).await.unwrap();
    assert_eq!(found.key_id(), Some("k1"));
    let verified = registry.verify(&token, &api()).await.unwrap();
    assert_eq!(verified.subject(), Some("alice"));
    assert_eq!(verified.key().key_id(), Some("k1"));

    assert_eq!(counts(&issuer, "t1"), (1, 1));
    let stats = registry.stats();
    assert_eq!((stats.fetches_ok, stats.misses), (1, 1));
    assert!(stats.hits >= 1, "{stats:?}");
}

/// Two issuers are cached side by side, each with its own keys.
#[tokio::test]
async fn several_issuers_side_by_side() {
    let issuer = TestIssuer::start().await;
    let (k1, k2) = (TestKey::es256("a"), TestKey::ed25519("b"));
    issuer.set_jwks("t1", jwks(&[&k1]));
    issuer.set_jwks("t2", jwks(&[&k2]));
    let registry = builder(&issuer)
        .valid_issuers([issuer.issuer("t1"), issuer.issuer("t2")])
        .build()
        .unwrap();

    for _ in 0..3 {
        registry
            .verify(&k1.token(claims_from(&issuer.issuer("t1"))), &api())
            .await
            .unwrap();
        registry
            .verify(&k2.token(claims_from(&issuer.issuer("t2"))), &api())
            .await
            .unwrap();
    }
    // t1's key is not among t2's keys.
    let crossed = k1.token(claims_from(&issuer.issuer("t2")));
    assert!(matches!(
        registry.verify(&crossed, &api()).await,
        Err(Error::KeyNotFound { .. })
    ));
    assert_eq!(counts(&issuer, "t1"), (1, 1));
    // One key set request for t2, and no second one: the unknown kid came
    // right after the fetch, inside the refetch interval.
    assert_eq!(counts(&issuer, "t2"), (1, 1));
}

/// A token from an issuer outside the allow-list fails before any request.
#[tokio::test]
async fn issuer_outside_allow_list_makes_no_request() {
    let issuer = TestIssuer::start().await;
    let key = TestKey::rsa("k1");
    issuer.set_jwks("evil", jwks(&[&key]));
    let registry = builder(&issuer)
        .valid_issuers([issuer.issuer("good")])
        .build()
        .unwrap();

    let token = key.token(claims_from(&issuer.issuer("evil")));
    let err = registry.verify(&token, &api()).await.unwrap_err();
    assert!(matches!(err, Error::IssuerNotAllowed { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Rejected);
    // Near misses of the allowed issuer are refused too.
    for iss in [
        issuer.issuer("good") + "/",
        issuer.issuer("goo"),
        issuer.issuer("GOOD"),
    ] {
        let err = registry
            .get_key(&key.token(claims_from(&iss)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::IssuerNotAllowed { .. }),
            "{iss}: {err}"
        );
    }
    assert_eq!(issuer.total_requests(), 0);
}

/// Rotation: a new kid inside the refetch interval fails without a request;
/// after the interval it refetches once and verifies; the removed key then
/// stops verifying.
#[tokio::test]
async fn key_rotation_follows_the_refetch_interval() {
    let issuer = TestIssuer::start().await;
    let (old, new) = (TestKey::rsa("old"), TestKey::rsa_other("new"));
    issuer.set_jwks("t1", jwks(&[&old]));
    let registry = builder(&issuer)
        .valid_issuers([issuer.issuer("t1")])
        .build()
        .unwrap();
    let iss = issuer.issuer("t1");

    registry
        .verify(&old.token(claims_from(&iss)), &api())
        .await
        .unwrap();
    issuer.set_jwks("t1", jwks(&[&new]));

    // Inside the interval: no request, at once.
    let err = registry
        .verify(&new.token(claims_from(&iss)), &api())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::KeyNotFound { .. }), "{err}");
    assert_eq!(counts(&issuer, "t1"), (1, 1));
    assert_eq!(registry.stats().refetches_suppressed, 1);

    // After the interval: one refetch of the key set, no new discovery.
    jump(Duration::from_secs(301)).await;
    registry
        .verify(&new.token(claims_from(&iss)), &api())
        .await
        .unwrap();
    assert_eq!(counts(&issuer, "t1"), (1, 2));

    // The old key left the set with the refetch.
    let err = registry
        .verify(&old.token(claims_from(&iss)), &api())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::KeyNotFound { .. }), "{err}");
    assert_eq!(counts(&issuer, "t1"), (1, 2));
}

/// Once the TTL has passed, the next request fetches discovery and keys
/// again.
#[tokio::test]
async fn ttl_expiry_refetches() {
    let issuer = TestIssuer::start().await;
    let key = TestKey::es256("k1");
    issuer.set_jwks("t1", jwks(&[&key]));
    let registry = builder(&issuer)
        .valid_issuers([issuer.issuer("t1")])
        .cache_ttl(Duration::from_secs(600))
        .build()
        .unwrap();
    let token = key.token(claims_from(&issuer.issuer("t1")));

    registry.get_key(&token).await.unwrap();
    jump(Duration::from_secs(599)).await;
    registry.get_key(&token).await.unwrap();
    assert_eq!(counts(&issuer, "t1"), (1, 1));

    jump(Duration::from_secs(2)).await;
    registry.get_key(&token).await.unwrap();
    assert_eq!(counts(&issuer, "t1"), (2, 2));
}

/// The 33rd issuer evicts the least recently used one, where use includes
/// hits served from the snapshot without the actor.
#[tokio::test]
async fn thirty_third_issuer_evicts_least_recently_used() {
    let issuer = TestIssuer::start().await;
    let key = TestKey::ed25519("k");
    let tenants: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
    for tenant in &tenants {
        issuer.set_jwks(tenant, jwks(&[&key]));
    }
    let registry = builder(&issuer)
        .valid_issuers(tenants.iter().map(|tenant| issuer.issuer(tenant)))
        .build()
        .unwrap();
    let token = |tenant: &str| key.token(claims_from(&issuer.issuer(tenant)));

    for tenant in &tenants[..32] {
        registry.get_key(&token(tenant)).await.unwrap();
    }
    // t0 is the oldest fetch but is used again now; t1 becomes the oldest.
    jump(Duration::from_secs(1)).await;
    registry.get_key(&token("t0")).await.unwrap();
    assert_eq!(registry.stats().evictions, 0);

    registry.get_key(&token("t32")).await.unwrap();
    assert_eq!(registry.stats().evictions, 1);

    // t0 is still cached; t1 was evicted and is fetched again.
    registry.get_key(&token("t0")).await.unwrap();
    assert_eq!(counts(&issuer, "t0"), (1, 1));
    registry.get_key(&token("t1")).await.unwrap();
    assert_eq!(counts(&issuer, "t1"), (2, 2));
}

/// 10,000 concurrent requests for a cold issuer share one discovery and one
/// key set request, and all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cold_requests_share_one_fetch() {
    let issuer = TestIssuer::start().await;
    let key = TestKey::es256("k1");
    issuer.set_jwks("t1", jwks(&[&key]));
    // Slow discovery, so that every request arrives while the fetch runs.
    issuer.set_fault(
        &format!("/t1{DISCOVERY}"),
        Fault::Delay(Duration::from_millis(300)),
    );
    let registry = builder(&issuer)
        .valid_issuers([issuer.issuer("t1")])
        .build()
        .unwrap();
    let token = Arc::new(key.token(claims_from(&issuer.issuer("t1"))));

    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            let (registry, token) = (registry.clone(), Arc::clone(&token));
            tokio::spawn(async move { registry.get_key(&token).await.map(|_| ()) })
        })
        .collect();
    let all = tokio::time::timeout(Duration::from_secs(60), async {
        let mut ok = 0;
        for task in tasks {
            if task.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        ok
    });
    assert_eq!(all.await.expect("all answered within a minute"), 10_000);
    assert_eq!(counts(&issuer, "t1"), (1, 1));
    assert_eq!(registry.stats().fetches_ok, 1);
}

/// A custom discovery path is used instead of the well-known one.
#[tokio::test]
async fn custom_config_path() {
    let key = TestKey::rsa("k1");
    let (issuer, iss) = issuer_serving(&[&key]).await;
    let document = json!({"issuer": iss, "jwks_uri": format!("{iss}/jwks")}).to_string();
    issuer.set_fault(
        "/t1/custom/config",
        Fault::Body {
            content_type: "application/json".into(),
            body: document.into_bytes(),
        },
    );
    let registry = builder_for(&issuer, &iss)
        .config_path("/custom/config")
        .build()
        .unwrap();

    registry
        .verify(&key.token(claims_from(&iss)), &api())
        .await
        .unwrap();
    assert_eq!(issuer.requests("/t1/custom/config"), 1);
    assert_eq!(counts(&issuer, "t1"), (0, 1));
}

/// A static issuer's keys are fetched from its configured URL without
/// discovery.
#[tokio::test]
async fn static_issuer_skips_discovery() {
    let key = TestKey::es384("k1");
    let (issuer, iss) = issuer_serving(&[&key]).await;
    let registry = builder_for(&issuer, &iss)
        .static_issuer(iss.clone(), format!("{iss}/jwks"))
        .build()
        .unwrap();

    registry
        .verify(&key.token(claims_from(&iss)), &api())
        .await
        .unwrap();
    assert_eq!(counts(&issuer, "t1"), (0, 1));
}

/// A custom HTTP client replaces the network entirely.
#[tokio::test]
async fn custom_http_client_is_used() {
    let key = TestKey::ed25519("k1");
    let iss = "https://memory.example";
    let client = MemoryClient::default().with_issuer(iss, jwks(&[&key]));
    let calls = client.calls();

    let registry = KeyRegistryHandle::builder()
        .valid_issuers([iss])
        .http_client(client)
        .build()
        .unwrap();
    registry
        .verify(&key.token(claims_from(iss)), &api())
        .await
        .unwrap();
    registry
        .verify(&key.token(claims_from(iss)), &api())
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

/// A discovery document naming another issuer (a trailing slash, another
/// host) is refused, and its key set is never fetched.
#[tokio::test]
async fn discovery_issuer_mismatch_is_refused() {
    let key = TestKey::rsa("k1");
    let (issuer, iss) = issuer_serving(&[&key]).await;
    for named in [
        format!("{iss}/"),
        "https://other.example/t1".to_owned(),
        iss.to_uppercase(),
    ] {
        issuer.set_discovery(
            "t1",
            json!({"issuer": named, "jwks_uri": format!("{iss}/jwks")}).to_string(),
        );
        let registry = builder(&issuer)
            .valid_issuers([iss.clone()])
            .build()
            .unwrap();
        let err = registry
            .verify(&key.token(claims_from(&iss)), &api())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidDiscovery { .. }),
            "{named}: {err}"
        );
        assert_eq!(err.class(), ErrorClass::Unavailable);
    }
    assert_eq!(counts(&issuer, "t1"), (3, 0));
}

/// An `http://` issuer is refused without `allow_http`, before any request.
#[tokio::test]
async fn plain_http_issuer_is_refused() {
    let issuer = TestIssuer::start().await;
    let key = TestKey::rsa("k1");
    let iss = issuer.issuer("t1").replace("https://", "http://");
    let registry = builder(&issuer).build().unwrap();

    let err = registry
        .verify(&key.token(claims_from(&iss)), &api())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
    assert_eq!(issuer.total_requests(), 0);

    // The allow-list cannot name one either unless plain http is allowed.
    let err = builder(&issuer).valid_issuers([iss]).build().unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
}

/// A redirect is not followed: the fetch fails and the target is never
/// asked.
#[tokio::test]
async fn redirect_is_refused() {
    let issuer = TestIssuer::start().await;
    let key = TestKey::rsa("k1");
    let iss = issuer.issuer("t1");
    issuer.set_jwks("t2", jwks(&[&key]));
    issuer.set_fault(
        &format!("/t1{DISCOVERY}"),
        Fault::Redirect(format!("{}/t2{DISCOVERY}", issuer.base_url())),
    );
    let registry = builder_for(&issuer, &iss).build().unwrap();

    let err = registry
        .verify(&key.token(claims_from(&iss)), &api())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::HttpStatus { status: 302, .. }),
        "{err}"
    );
    assert_eq!(counts(&issuer, "t2"), (0, 0));
    assert_eq!(issuer.total_requests(), 1);
}

/// A caller that gives up while a fetch runs does not disturb the others.
#[tokio::test]
async fn dropped_caller_does_not_disturb_others() {
    let key = TestKey::es256("k1");
    let (issuer, iss) = issuer_serving(&[&key]).await;
    issuer.set_fault("/t1/jwks", Fault::Delay(Duration::from_millis(300)));
    let registry = builder_for(&issuer, &iss).build().unwrap();
    let token = key.token(claims_from(&iss));

    let impatient = {
        let (registry, token) = (registry.clone(), token.clone());
        tokio::spawn(async move { registry.get_key(&token).await })
    };
    let patient = {
        let (registry, token) = (registry.clone(), token.clone());
        tokio::spawn(async move { registry.get_key(&token).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    impatient.abort();
    // A caller that times out its own wait is the same case.
    assert!(
        tokio::time::timeout(Duration::from_millis(10), registry.get_key(&token))
            .await
            .is_err()
    );

    let key_found = tokio::time::timeout(Duration::from_secs(10), patient)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(key_found.key_id(), Some("k1"));
    assert_eq!(counts(&issuer, "t1"), (1, 1));
    registry.verify(&token, &api()).await.unwrap();
}

/// After `shutdown()`, waiting callers and every later call get an error at
/// once, cached keys included.
#[tokio::test]
async fn shutdown_answers_everyone_at_once() {
    let issuer = TestIssuer::start().await;
    let key = TestKey::es256("k1");
    issuer.set_jwks("t1", jwks(&[&key]));
    issuer.set_jwks("t2", jwks(&[&key]));
    issuer.set_fault("/t2/jwks", Fault::Hang);
    let registry = builder(&issuer)
        .valid_issuers([issuer.issuer("t1"), issuer.issuer("t2")])
        .build()
        .unwrap();
    let cached = key.token(claims_from(&issuer.issuer("t1")));
    registry.verify(&cached, &api()).await.unwrap();

    let waiting = {
        let (registry, token) = (
            registry.clone(),
            key.token(claims_from(&issuer.issuer("t2"))),
        );
        tokio::spawn(async move { registry.get_key(&token).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    registry.shutdown();
    assert!(registry.is_shut_down());

    let within = Duration::from_secs(2);
    let waited = tokio::time::timeout(within, waiting)
        .await
        .expect("answered")
        .unwrap();
    assert!(matches!(waited, Err(Error::Shutdown)), "{waited:?}");
    let later = tokio::time::timeout(within, registry.verify(&cached, &api()))
        .await
        .expect("answered");
    assert!(matches!(later, Err(Error::Shutdown)), "{later:?}");
    let prefetch = tokio::time::timeout(within, registry.prefetch(&issuer.issuer("t1")))
        .await
        .expect("answered");
    assert!(matches!(prefetch, Err(Error::Shutdown)), "{prefetch:?}");
    assert_eq!(Error::Shutdown.class(), ErrorClass::Internal);
}

/// `prefetch` loads an issuer's keys so that the first token is a hit.
#[tokio::test]
async fn prefetch_warms_the_cache() {
    let key = TestKey::rsa("k1");
    let (issuer, iss) = issuer_serving(&[&key]).await;
    let registry = builder_for(&issuer, &iss).build().unwrap();

    registry.prefetch(&iss).await.unwrap();
    registry.prefetch(&iss).await.unwrap();
    assert_eq!(counts(&issuer, "t1"), (1, 1));
    let before = registry.stats().hits;
    registry.get_key_for(&iss, "k1").await.unwrap();
    assert_eq!(registry.stats().hits, before + 1);
    assert!(matches!(
        registry.get_key_for(&iss, "nope").await,
        Err(Error::KeyNotFound { .. })
    ));
}

/// An issuer that cannot be reached is told apart from a bad token.
#[tokio::test]
async fn unreachable_issuer_is_unavailable() {
    let port = issuer::unused_port().await;
    let key = TestKey::rsa("k1");
    let iss = format!("https://127.0.0.1:{port}/t1");
    let registry = KeyRegistryHandle::builder()
        .valid_issuers([iss.clone()])
        .build()
        .unwrap();

    let err = registry
        .verify(&key.token(claims_from(&iss)), &api())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Unavailable);
    assert!(std::error::Error::source(&err).is_some());
}

/// Invalid settings are refused by `build()`.
#[tokio::test]
async fn invalid_settings_are_refused() {
    let cases: Vec<(&str, KeyRegistryBuilder)> = vec![
        (
            "zero capacity",
            KeyRegistryHandle::builder().cache_max_issuers(0),
        ),
        (
            "config path",
            KeyRegistryHandle::builder().config_path(".well-known/x"),
        ),
        (
            "http static uri",
            KeyRegistryHandle::builder()
                .static_issuer("https://a.example", "http://a.example/jwks"),
        ),
        (
            "zero ttl",
            KeyRegistryHandle::builder().cache_ttl(Duration::ZERO),
        ),
        (
            "bad root",
            KeyRegistryHandle::builder().root_certificate(b"not a certificate".to_vec()),
        ),
    ];
    for (name, builder) in cases {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{name}: {err}");
    }
    // With allow_http the same static issuer is accepted.
    KeyRegistryHandle::builder()
        .allow_http(true)
        .static_issuer("https://a.example", "http://a.example/jwks")
        .build()
        .unwrap();
}

/// Outside a Tokio runtime, `build()` says so instead of panicking.
#[test]
fn build_needs_a_runtime() {
    let err = KeyRegistryHandle::builder().build().unwrap_err();
    assert!(err.to_string().contains("Tokio runtime"), "{err}");
}
