//! The hit paths that bypass the actor: the published key snapshot and the
//! verified-token cache, and how both follow key rotation and expiry.

#[path = "common/issuer.rs"]
mod issuer;
#[path = "common/keys.rs"]
mod keys;
#[path = "common/support.rs"]
mod support;

use std::time::Duration;

use jwks_registry::{Error, KeyRegistryHandle, TokenPart, Validation};

use keys::{TestKey, jwks};
use support::{builder_for, claims_lasting, issuer_serving, jump};

/// A repeated token is answered from the verified-token cache, with its
/// claims still checked against each caller's rules.
#[tokio::test]
async fn repeated_token_skips_the_signature_check() {
    let key = TestKey::rsa("k1");
    let (issuer, iss) = issuer_serving(&[&key]).await;
    let registry = builder_for(&issuer, &iss)
        .verified_cache_capacity(100)
        .build()
        .unwrap();
    let token = key.token(claims_lasting(&iss, 600));

    registry
        .verify(&token, &Validation::new(["api"]))
        .await
        .unwrap();
    assert_eq!(registry.stats().verified_cache_hits, 0);
    let again = registry
        .verify(&token, &Validation::new(["api"]))
        .await
        .unwrap();
    assert_eq!(again.subject(), Some("alice"));
    assert_eq!(registry.stats().verified_cache_hits, 1);

    // Another service's rules still refuse it, cached or not.
    let err = registry
        .verify(&token, &Validation::new(["other"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidAudience), "{err}");
    // A forged copy is not the same string and is checked in full.
    let forged = format!("{}AA", &token[..token.len() - 2]);
    assert!(
        registry
            .verify(&forged, &Validation::new(["api"]))
            .await
            .is_err()
    );
}

/// `get_key` answers a cached key without parsing the token into JSON
/// values, yet refuses on that path everything the full strict parse
/// refuses: duplicate names in the claims (first or last the cached issuer,
/// or deep inside), duplicate or refused header members, and the same again
/// after the good header has been remembered.
#[tokio::test]
async fn hit_path_keeps_the_strict_token_rules() {
    let key = TestKey::rsa("k1");
    let (issuer, iss) = issuer_serving(&[&key]).await;
    let registry = builder_for(&issuer, &iss).build().unwrap();
    let header = r#"{"alg":"RS256","kid":"k1"}"#;
    let good = key.sign_text("RS256", header, &format!(r#"{{"iss":"{iss}"}}"#));
    registry.get_key(&good).await.unwrap();
    let hits = registry.stats().hits;

    let claims_refused = [
        format!(r#"{{"iss":"https://evil.example","iss":"{iss}"}}"#),
        format!(r#"{{"iss":"{iss}","iss":"https://evil.example"}}"#),
        format!(r#"{{"iss":"{iss}","\u0069ss":"{iss}"}}"#),
        format!(r#"{{"iss":"{iss}","x":[{{"r":1,"r":2}}]}}"#),
        format!(r#"{{"iss":"{iss}","exp":1e400}}"#),
        format!(r#"{{"iss":"{iss}"}} {{}}"#),
    ];
    for claims in &claims_refused {
        let token = key.sign_text("RS256", header, claims);
        let err = registry.get_key(&token).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedToken {
                    part: TokenPart::Claims,
                    ..
                }
            ),
            "{claims}: {err}"
        );
    }
    let claims = format!(r#"{{"iss":"{iss}"}}"#);
    for header in [
        r#"{"alg":"RS256","kid":"k1","alg":"RS256"}"#,
        r#"{"alg":"none","kid":"k1"}"#,
        r#"{"alg":"RS256","kid":"k1","crit":["exp"]}"#,
        r#"{"alg":"RS256","kid":"k1","b64":false}"#,
    ] {
        let token = key.sign_text("RS256", header, &claims);
        assert!(registry.get_key(&token).await.is_err(), "{header}");
    }

    // None of them was answered from the cache; the good token still is.
    assert_eq!(registry.stats().hits, hits);
    registry.get_key(&good).await.unwrap();
    assert_eq!(registry.stats().hits, hits + 1);
}

/// A key removed by rotation stops verifying through the snapshot hit path
/// and through the token cache at the same moment.
#[tokio::test]
async fn removed_key_stops_verifying_on_both_hit_paths() {
    let (old, new) = (TestKey::es256("old"), TestKey::es256("new"));
    let (issuer, iss) = issuer_serving(&[&old]).await;
    let registry = builder_for(&issuer, &iss)
        .verified_cache_capacity(100)
        .build()
        .unwrap();
    let rules = Validation::new(["api"]);
    let old_token = old.token(claims_lasting(&iss, 3000));

    registry.verify(&old_token, &rules).await.unwrap();
    registry.verify(&old_token, &rules).await.unwrap();
    assert_eq!(registry.stats().verified_cache_hits, 1);
    registry.get_key_for(&iss, "old").await.unwrap();

    // Rotate, and let a token with the new kid trigger the refetch.
    issuer.set_jwks("t1", jwks(&[&new]));
    jump(Duration::from_secs(301)).await;
    registry
        .verify(&new.token(claims_lasting(&iss, 3000)), &rules)
        .await
        .unwrap();

    let err = registry.verify(&old_token, &rules).await.unwrap_err();
    assert!(matches!(err, Error::KeyNotFound { .. }), "{err}");
    assert_eq!(registry.stats().verified_cache_hits, 1);
    let err = registry.get_key_for(&iss, "old").await.unwrap_err();
    assert!(matches!(err, Error::KeyNotFound { .. }), "{err}");
}

/// A remembered token is forgotten once its `exp` has passed.
#[tokio::test]
async fn cached_token_lives_no_longer_than_its_exp() {
    let key = TestKey::ed25519("k1");
    let (issuer, iss) = issuer_serving(&[&key]).await;
    let registry = builder_for(&issuer, &iss)
        .verified_cache_capacity(100)
        .build()
        .unwrap();
    // A short-lived token, checked with leeway so that the slow path still
    // accepts it after the cache has dropped it.
    let token = key.token(claims_lasting(&iss, 5));
    let rules = Validation::new(["api"]);

    registry.verify(&token, &rules).await.unwrap();
    registry.verify(&token, &rules).await.unwrap();
    assert_eq!(registry.stats().verified_cache_hits, 1);

    jump(Duration::from_secs(6)).await;
    registry.verify(&token, &rules).await.unwrap();
    assert_eq!(
        registry.stats().verified_cache_hits,
        1,
        "served from the cache after exp"
    );
}

/// The actor stops once the last handle is dropped: the state it shared
/// with the handles (here, the HTTP client) is released.
#[tokio::test]
async fn actor_stops_when_the_last_handle_drops() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// An HTTP client that records when it is dropped.
    #[derive(Debug)]
    struct Watched(Arc<AtomicBool>);
    impl Drop for Watched {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    impl jwks_registry::HttpClient for Watched {
        fn get<'a>(&'a self, _: &'a str, _: usize) -> jwks_registry::FetchFuture<'a> {
            Box::pin(async {
                Ok(jwks_registry::HttpResponse {
                    status: 404,
                    ..Default::default()
                })
            })
        }
    }

    let dropped = Arc::new(AtomicBool::new(false));
    let registry = KeyRegistryHandle::builder()
        .http_client(Watched(Arc::clone(&dropped)))
        .build()
        .unwrap();
    let clone = registry.clone();
    drop(registry);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!dropped.load(Ordering::SeqCst), "a handle is still alive");

    drop(clone);
    for _ in 0..100 {
        if dropped.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the actor kept running after the last handle was dropped");
}
