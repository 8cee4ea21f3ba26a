//! Checks the test issuer itself with a plain HTTPS client, so that the other
//! integration tests can trust what it serves.

#[path = "common/issuer.rs"]
mod issuer;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use hyper::{Response, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;

use issuer::{Fault, TestIssuer, unused_port};

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A client that trusts only the issuer's CA.
fn client(issuer: &TestIssuer) -> HttpsClient {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(issuer.ca_der()))
        .expect("the test CA is a valid root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

async fn get(client: &HttpsClient, url: &str) -> Response<Incoming> {
    client
        .get(url.parse().expect("a valid URL"))
        .await
        .expect("the request succeeds")
}

async fn body_text(response: Response<Incoming>) -> String {
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body arrives")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("a UTF-8 body")
}

/// The generated discovery document names the tenant's issuer and points at
/// its key set, which is served as JSON.
#[tokio::test]
async fn discovery_points_at_the_key_set() {
    let issuer = TestIssuer::start().await;
    let client = client(&issuer);
    issuer.set_jwks("t1", r#"{"keys":[]}"#);

    let url = format!("{}/.well-known/openid-configuration", issuer.issuer("t1"));
    let response = get(&client, &url).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let discovery: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(discovery["issuer"], issuer.issuer("t1"));
    let jwks_uri = discovery["jwks_uri"]
        .as_str()
        .expect("jwks_uri is a string");
    assert_eq!(jwks_uri, format!("{}/t1/jwks", issuer.base_url()));

    let response = get(&client, jwks_uri).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(body_text(response).await, r#"{"keys":[]}"#);
}

/// Requests are counted per exact path, unknown tenants included, and in total.
#[tokio::test]
async fn requests_are_counted_per_path() {
    let issuer = TestIssuer::start().await;
    let client = client(&issuer);
    issuer.set_jwks("t1", r#"{"keys":[]}"#);

    for _ in 0..3 {
        get(&client, &format!("{}/jwks", issuer.issuer("t1"))).await;
    }
    let unknown = get(&client, &format!("{}/jwks", issuer.issuer("t2"))).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let url = format!("{}/.well-known/openid-configuration", issuer.issuer("t2"));
    assert_eq!(get(&client, &url).await.status(), StatusCode::NOT_FOUND);

    assert_eq!(issuer.requests("/t1/jwks"), 3);
    assert_eq!(issuer.requests("/t2/jwks"), 1);
    assert_eq!(issuer.requests("/t2/.well-known/openid-configuration"), 1);
    assert_eq!(issuer.requests("/t3/jwks"), 0);
    assert_eq!(issuer.total_requests(), 5);
}

/// A status fault is served and counted with the path's extra headers, and
/// clearing it restores the key set.
#[tokio::test]
async fn status_fault_is_served_then_cleared() {
    let issuer = TestIssuer::start().await;
    let client = client(&issuer);
    issuer.set_jwks("t1", r#"{"keys":[]}"#);
    issuer.set_header("/t1/jwks", "cache-control", "max-age=600");
    issuer.set_fault("/t1/jwks", Fault::Status(500));
    let url = format!("{}/jwks", issuer.issuer("t1"));

    let response = get(&client, &url).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()[CACHE_CONTROL], "max-age=600");
    assert_eq!(body_text(response).await, "");

    issuer.clear_fault("/t1/jwks");
    let response = get(&client, &url).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "max-age=600");
    assert_eq!(issuer.requests("/t1/jwks"), 2);
}

/// Body and redirect faults are served as set, and a close fault fails the
/// request without a response.
#[tokio::test]
async fn body_redirect_and_close_faults_are_served() {
    let issuer = TestIssuer::start().await;
    let client = client(&issuer);
    let html = Fault::Body {
        content_type: "text/html".into(),
        body: b"<html>".to_vec(),
    };
    issuer.set_fault("/t1/jwks", html);
    issuer.set_fault(
        "/t2/jwks",
        Fault::Redirect("https://example.invalid/jwks".into()),
    );
    issuer.set_fault("/t3/jwks", Fault::Close);

    let response = get(&client, &format!("{}/jwks", issuer.issuer("t1"))).await;
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html");
    assert_eq!(body_text(response).await, "<html>");

    let response = get(&client, &format!("{}/jwks", issuer.issuer("t2"))).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[LOCATION], "https://example.invalid/jwks");

    let url = format!("{}/jwks", issuer.issuer("t3"));
    assert!(client.get(url.parse().unwrap()).await.is_err());
    assert!(issuer.requests("/t3/jwks") >= 1);
}

/// A huge chunked body is generated only as fast as the client reads it: after
/// the client stops, the server has sent a small fraction and sends no more.
#[tokio::test]
async fn huge_body_stops_when_the_client_does() {
    const TOTAL: u64 = 1024 * 1024 * 1024;
    let issuer = TestIssuer::start().await;
    let client = client(&issuer);
    issuer.set_fault("/t1/jwks", Fault::Huge { bytes: TOTAL });

    let mut response = get(&client, &format!("{}/jwks", issuer.issuer("t1"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(CONTENT_LENGTH).is_none());
    let mut read = 0;
    while read < 64 * 1024 {
        let frame = response
            .body_mut()
            .frame()
            .await
            .expect("more body")
            .expect("a frame");
        let data = frame.into_data().expect("a data frame");
        assert!(data.iter().all(|&byte| byte == b' '));
        read += data.len();
    }
    drop(response);

    // Let the server notice the closed connection, then check it went quiet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = issuer.bytes_sent("/t1/jwks");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(issuer.bytes_sent("/t1/jwks"), sent);
    assert!(sent >= read as u64);
    assert!(sent < TOTAL / 16, "sent {sent} of {TOTAL} bytes");
}

/// A declared huge body announces its full length up front.
#[tokio::test]
async fn huge_declared_body_announces_its_length() {
    let issuer = TestIssuer::start().await;
    let client = client(&issuer);
    issuer.set_fault("/t1/jwks", Fault::HugeDeclared { bytes: 50_000_000 });

    let response = get(&client, &format!("{}/jwks", issuer.issuer("t1"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_LENGTH], "50000000");
}

/// Delay answers late but whole, trickle sends one byte at a time, hang never
/// answers, and nothing listens on an unused port.
#[tokio::test]
async fn slow_faults_and_unused_port() {
    let issuer = TestIssuer::start().await;
    let client = client(&issuer);
    issuer.set_jwks("t1", r#"{"keys":[]}"#);
    let delay = Duration::from_millis(200);
    issuer.set_fault("/t1/jwks", Fault::Delay(delay));
    let interval = Duration::from_millis(10);
    issuer.set_fault("/t2/jwks", Fault::Trickle { interval });
    issuer.set_fault("/t3/jwks", Fault::Hang);

    let started = std::time::Instant::now();
    let response = get(&client, &format!("{}/jwks", issuer.issuer("t1"))).await;
    assert!(started.elapsed() >= delay);
    assert_eq!(body_text(response).await, r#"{"keys":[]}"#);

    let mut response = get(&client, &format!("{}/jwks", issuer.issuer("t2"))).await;
    for _ in 0..3 {
        let frame = response
            .body_mut()
            .frame()
            .await
            .expect("more body")
            .expect("a frame");
        assert_eq!(frame.into_data().expect("a data frame"), " ");
    }
    assert!(issuer.bytes_sent("/t2/jwks") >= 3);

    let url = format!("{}/jwks", issuer.issuer("t3"));
    let hung = get(&client, &url);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), hung)
            .await
            .is_err()
    );
    assert_eq!(issuer.requests("/t3/jwks"), 1);

    let url = format!("https://127.0.0.1:{}/t1/jwks", unused_port().await);
    assert!(client.get(url.parse().unwrap()).await.is_err());
}

/// Dropping the issuer stops the server: its address no longer answers.
#[tokio::test]
async fn dropping_the_issuer_stops_it() {
    let issuer = TestIssuer::start().await;
    let first = client(&issuer);
    issuer.set_jwks("t1", r#"{"keys":[]}"#);
    let url = format!("{}/jwks", issuer.issuer("t1"));
    assert_eq!(get(&first, &url).await.status(), StatusCode::OK);

    // A second client, so that no pooled connection is tried first.
    let fresh = client(&issuer);
    drop(issuer);
    assert!(fresh.get(url.parse().unwrap()).await.is_err());
}
