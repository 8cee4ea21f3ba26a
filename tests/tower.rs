//! The bearer-token layer in front of an axum service, driven over real HTTP
//! on loopback, with keys from the local HTTPS test issuer.

#[path = "common/issuer.rs"]
mod issuer;
#[path = "common/keys.rs"]
mod keys;

use std::net::SocketAddr;

use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jwks_registry::{BearerAuthLayer, KeyRegistryHandle, Validation, Verified};
use serde_json::json;

use issuer::TestIssuer;
use keys::{TestKey, jwks, now};

/// An axum app behind the layer, served on 127.0.0.1; returns its address.
async fn serve(registry: KeyRegistryHandle) -> SocketAddr {
    let app = Router::new()
        .route(
            "/me",
            get(|Extension(token): Extension<Verified>| async move {
                format!("hello {}", token.subject().unwrap_or("?"))
            }),
        )
        .layer(BearerAuthLayer::new(registry, Validation::new(["api"])));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// Status, `WWW-Authenticate`, `Retry-After` and body of one request.
struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    retry_after: Option<String>,
    body: String,
}

async fn call(address: SocketAddr, authorization: &[&str]) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = Request::get(format!("http://{address}/me"));
    for value in authorization {
        request = request.header(AUTHORIZATION, *value);
    }
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        client.request(request.body(Empty::new()).unwrap()),
    )
    .await
    .expect("answered in time")
    .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, challenge, retry_after) = (
        response.status(),
        header(WWW_AUTHENTICATE),
        header(RETRY_AFTER),
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        challenge,
        retry_after,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A gateway with one issuer and one key; returns what the tests need.
async fn gateway() -> (TestIssuer, TestKey, String, SocketAddr) {
    let issuer = TestIssuer::start().await;
    let key = TestKey::es256("k1");
    let iss = issuer.issuer("t1");
    issuer.set_jwks("t1", jwks(&[&key]));
    let registry = KeyRegistryHandle::builder()
        .root_certificate(issuer.ca_der())
        .valid_issuers([iss.clone()])
        .build()
        .unwrap();
    let address = serve(registry).await;
    (issuer, key, iss, address)
}

fn claims(iss: &str) -> serde_json::Value {
    json!({"iss": iss, "sub": "alice", "aud": "api", "exp": now() + 600})
}

/// A valid token reaches the handler, which reads the verified claims.
#[tokio::test]
async fn valid_token_reaches_the_service() {
    let (_issuer, key, iss, address) = gateway().await;
    let token = key.token(claims(&iss));
    let answer = call(address, &[&format!("Bearer {token}")]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "hello alice");
    // The scheme is case-insensitive.
    let answer = call(address, &[&format!("bearer {token}")]).await;
    assert_eq!(answer.status, StatusCode::OK);
}

/// No token: 401 with a bare `Bearer` challenge (RFC 6750 §3.1).
#[tokio::test]
async fn missing_token_is_401_without_error_code() {
    let (_issuer, _key, _iss, address) = gateway().await;
    for authorization in [&[][..], &["Basic dXNlcjpwYXNz"]] {
        let answer = call(address, authorization).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.challenge.as_deref(), Some("Bearer"));
    }
}

/// A malformed `Authorization` header: 400 `invalid_request`.
#[tokio::test]
async fn malformed_header_is_400() {
    let (_issuer, key, iss, address) = gateway().await;
    let token = key.token(claims(&iss));
    let two = format!("Bearer {token}");
    for authorization in [&["Bearer"][..], &["Bearer a b"], &[&two, &two]] {
        let answer = call(address, authorization).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{authorization:?}");
        let challenge = answer.challenge.unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_request\""),
            "{challenge}"
        );
    }
}

/// Expired, foreign-audience, unknown-kid and garbage tokens: 401
/// `invalid_token`, with a description that says nothing about keys.
#[tokio::test]
async fn bad_tokens_are_401_invalid_token() {
    let (_issuer, key, iss, address) = gateway().await;
    let expired = key.token(json!({"iss": iss, "sub": "a", "aud": "api", "exp": now() - 3600}));
    let foreign = key.token(json!({"iss": iss, "sub": "a", "aud": "other", "exp": now() + 600}));
    let unknown = TestKey::es256("k2").token(claims(&iss));
    let cases = [
        (expired, "the token has expired"),
        (foreign, "the token is not meant for this service"),
        (unknown, "the token is invalid"),
        ("a.b.c".to_owned(), "the token is invalid"),
    ];
    for (token, description) in cases {
        let answer = call(address, &[&format!("Bearer {token}")]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        let expected =
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
        assert_eq!(answer.challenge.as_deref(), Some(expected.as_str()));
        assert!(!answer.body.contains("k2") && !answer.body.contains("kid"));
    }
}

/// An unreachable issuer: 503 with `Retry-After`, no challenge.
#[tokio::test]
async fn issuer_down_is_503_with_retry_after() {
    let port = issuer::unused_port().await;
    let iss = format!("https://127.0.0.1:{port}/t1");
    let registry = KeyRegistryHandle::builder()
        .valid_issuers([iss.clone()])
        .build()
        .unwrap();
    let address = serve(registry).await;
    let token = TestKey::es256("k1").token(claims(&iss));

    let answer = call(address, &[&format!("Bearer {token}")]).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.retry_after.as_deref(), Some("5"));
    assert_eq!(answer.challenge, None);
}
