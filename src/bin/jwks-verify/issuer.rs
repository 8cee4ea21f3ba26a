//! The demo's issuer: a minimal OpenID Connect issuer over HTTPS on
//! loopback.
//!
//! [`DemoIssuer::start`] makes a certificate authority in memory (rcgen),
//! signs a certificate for `127.0.0.1` with it, and serves HTTP/1.1 over
//! tokio-rustls on an ephemeral port. It serves two documents from shared
//! state: the discovery document at `/.well-known/openid-configuration` and
//! the key set at `/jwks`; any other path is 404. The key set can be
//! replaced while it runs, which is how the demo rotates a key, and every
//! request for either document is counted.
//!
//! The registry trusts the CA through `root_certificate`, so nothing here
//! weakens TLS: the demo's client verifies the certificate like any other.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// Path of the discovery document.
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Path of the key set.
const JWKS_PATH: &str = "/jwks";

/// The demo's HTTPS issuer; dropping it stops the server and every
/// connection.
#[derive(Debug)]
pub struct DemoIssuer {
    url: String,
    ca_der: Vec<u8>,
    documents: Arc<Documents>,
    server: JoinHandle<()>,
}

/// What the server serves and counts, shared with the connection tasks.
#[derive(Debug)]
struct Documents {
    discovery: Bytes,
    // A std mutex: it is held only to clone or replace the bytes, never
    // across an await.
    jwks: Mutex<Bytes>,
    discovery_requests: AtomicU64,
    jwks_requests: AtomicU64,
}

/// How many requests the issuer has answered, by document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestCounts {
    /// Requests for the discovery document.
    pub discovery: u64,
    /// Requests for the key set.
    pub jwks: u64,
}

/// The issuer could not start.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

impl DemoIssuer {
    /// Generates the CA and the server certificate, and starts serving
    /// `jwks` on 127.0.0.1.
    ///
    /// # Errors
    ///
    /// If a certificate cannot be made, TLS cannot be set up, or no port can
    /// be bound.
    pub async fn start(jwks: String) -> Result<DemoIssuer, StartError> {
        let (ca_der, acceptor) = tls_acceptor()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("https://127.0.0.1:{}", listener.local_addr()?.port());

        let discovery = serde_json::json!({
            "issuer": url,
            "jwks_uri": format!("{url}{JWKS_PATH}"),
        });
        let documents = Arc::new(Documents {
            discovery: Bytes::from(discovery.to_string()),
            jwks: Mutex::new(Bytes::from(jwks)),
            discovery_requests: AtomicU64::new(0),
            jwks_requests: AtomicU64::new(0),
        });
        let server = tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&documents)));
        Ok(DemoIssuer {
            url,
            ca_der,
            documents,
            server,
        })
    }

    /// The issuer identifier, `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate (DER) that signed the server's certificate.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// Publishes a new key set; later requests for `/jwks` get it.
    pub fn set_jwks(&self, jwks: String) {
        *self
            .documents
            .jwks
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Bytes::from(jwks);
    }

    /// The requests answered so far.
    pub fn requests(&self) -> RequestCounts {
        RequestCounts {
            discovery: self.documents.discovery_requests.load(Ordering::Relaxed),
            jwks: self.documents.jwks_requests.load(Ordering::Relaxed),
        }
    }
}

impl Drop for DemoIssuer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its `JoinSet`, which aborts every
        // connection task.
        self.server.abort();
    }
}

/// Accepts connections and serves each in a task of its own.
async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, documents: Arc<Documents>) {
    let mut connections = JoinSet::new();
    loop {
        // A failed accept loses only that connection.
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // Reap finished connections so that the set does not grow.
        while connections.try_join_next().is_some() {}

        let acceptor = acceptor.clone();
        let documents = Arc::clone(&documents);
        connections.spawn(async move {
            // A client that refuses the certificate just goes away.
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = service_fn(move |request| {
                std::future::ready(Ok::<_, Infallible>(documents.respond(&request)))
            });
            // A connection error concerns that client only; the registry
            // reports its own side.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

impl Documents {
    /// Counts the request and answers it with its document, or 404.
    fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let body = match request.uri().path() {
            DISCOVERY_PATH => {
                self.discovery_requests.fetch_add(1, Ordering::Relaxed);
                self.discovery.clone()
            }
            JWKS_PATH => {
                self.jwks_requests.fetch_add(1, Ordering::Relaxed);
                self.jwks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            }
            _ => {
                let mut response = Response::new(Full::default());
                *response.status_mut() = StatusCode::NOT_FOUND;
                return response;
            }
        };
        let mut response = Response::new(Full::new(body));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// A fresh CA (its certificate in DER) and a TLS acceptor presenting a
/// certificate for `127.0.0.1` that the CA signed.
fn tls_acceptor() -> Result<(Vec<u8>, TlsAcceptor), StartError> {
    // The CA: self-signed, allowed to sign certificates, kept in memory.
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "jwks-verify demo CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key)?;

    // The server certificate, for the address the registry dials.
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca, &ca_key)?;

    // The provider is passed explicitly, as the library does for its client.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((ca.der().to_vec(), TlsAcceptor::from(Arc::new(config))))
}
