//! A real OpenID Connect issuer for integration tests.
//!
//! [`TestIssuer::start`] generates a CA and a server certificate for
//! `localhost` and `127.0.0.1`, then serves HTTPS (HTTP/1.1 over tokio-rustls)
//! on an ephemeral port of 127.0.0.1. Many tenants share the server, told apart
//! by path prefix: tenant `t1` is the issuer `https://127.0.0.1:PORT/t1`, with
//! its discovery document at `/t1/.well-known/openid-configuration` and its key
//! set at `/t1/jwks`. Every request is counted by path, and any path can be made
//! to misbehave with a [`Fault`].
//!
//! Include it with `#[path = "common/issuer.rs"] mod issuer;`.

// Each test crate that includes this file uses a different part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_util::sync::{CancellationToken, DropGuard};

/// Content type of discovery documents, key sets and huge bodies.
const JSON: &str = "application/json";
/// Path suffix of a tenant's discovery document.
const DISCOVERY: &str = "/.well-known/openid-configuration";
/// Path suffix of a tenant's key set.
const JWKS: &str = "/jwks";
/// Size of one chunk of a huge body.
const CHUNK: usize = 16 * 1024;
/// The filler every huge body is cut from, so that none is ever buffered whole.
static FILLER: [u8; CHUNK] = [b' '; CHUNK];

/// A misbehaviour served on one path instead of its normal response.
#[derive(Clone, Debug)]
pub enum Fault {
    /// That status with an empty body.
    Status(u16),
    /// 200 with this content type and body.
    Body { content_type: String, body: Vec<u8> },
    /// 302 with this `Location`.
    Redirect(String),
    /// Sleep, then serve the normal response.
    Delay(Duration),
    /// 200, `application/json`, `bytes` spaces sent chunked, without a length.
    Huge { bytes: u64 },
    /// Like `Huge`, with a `Content-Length` announcing `bytes`.
    HugeDeclared { bytes: u64 },
    /// 200, `application/json`, one space every `interval` until the client
    /// goes away.
    Trickle { interval: Duration },
    /// Read the request and never answer.
    Hang,
    /// Close the connection without answering.
    Close,
}

/// A local HTTPS OpenID Connect issuer; dropping it stops the server and
/// closes every connection it holds.
#[derive(Debug)]
pub struct TestIssuer {
    shared: Arc<Shared>,
    ca_der: Vec<u8>,
    // Cancels the accept loop and every connection task, so that a test that
    // drops its issuer leaves no task behind (hung and trickling ones included).
    _shutdown: DropGuard,
}

/// What the handle and the connection tasks share.
#[derive(Debug)]
struct Shared {
    base_url: String,
    // A std mutex: it is never held across an await.
    state: Mutex<State>,
}

/// The issuer's configuration and counters, all keyed by tenant or exact path.
#[derive(Debug, Default)]
struct State {
    jwks: HashMap<String, String>,
    discovery: HashMap<String, String>,
    faults: HashMap<String, Fault>,
    headers: HashMap<String, HeaderMap>,
    requests: HashMap<String, usize>,
    total: usize,
    // Shared with the bodies being streamed, which add to them as they go.
    bytes_sent: HashMap<String, Arc<AtomicU64>>,
}

impl TestIssuer {
    /// Generates the certificates and starts serving on 127.0.0.1.
    pub async fn start() -> TestIssuer {
        let (ca_der, tls) = tls_config();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let shared = Arc::new(Shared {
            base_url: format!("https://127.0.0.1:{port}"),
            state: Mutex::default(),
        });
        let token = CancellationToken::new();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        tokio::spawn(accept_loop(
            listener,
            acceptor,
            shared.clone(),
            token.clone(),
        ));
        TestIssuer {
            shared,
            ca_der,
            _shutdown: token.drop_guard(),
        }
    }

    /// `https://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The issuer identifier of `tenant`: `https://127.0.0.1:PORT/{tenant}`.
    pub fn issuer(&self, tenant: &str) -> String {
        self.shared.issuer(tenant)
    }

    /// The CA certificate in DER, to add as an extra trusted root.
    pub fn ca_der(&self) -> Vec<u8> {
        self.ca_der.clone()
    }

    /// Serves `json` at `{issuer}/jwks`, replacing any previous key set.
    pub fn set_jwks(&self, tenant: &str, json: impl Into<String>) {
        self.shared
            .state()
            .jwks
            .insert(tenant.to_owned(), json.into());
    }

    /// Serves `json` as the discovery document of `tenant` instead of the
    /// generated one, even if the tenant has no key set.
    pub fn set_discovery(&self, tenant: &str, json: impl Into<String>) {
        self.shared
            .state()
            .discovery
            .insert(tenant.to_owned(), json.into());
    }

    /// Makes every later request for exactly `path` (such as `/t1/jwks`)
    /// misbehave.
    pub fn set_fault(&self, path: &str, fault: Fault) {
        self.shared.state().faults.insert(path.to_owned(), fault);
    }

    /// Serves `path` normally again.
    pub fn clear_fault(&self, path: &str) {
        self.shared.state().faults.remove(path);
    }

    /// Adds a header to every response for `path`, faulted or not, replacing
    /// any earlier value of that header.
    pub fn set_header(&self, path: &str, name: &str, value: &str) {
        let name = HeaderName::try_from(name).expect("a valid header name");
        let value = HeaderValue::try_from(value).expect("a valid header value");
        self.shared
            .state()
            .headers
            .entry(path.to_owned())
            .or_default()
            .insert(name, value);
    }

    /// How many requests arrived for exactly `path`, faulted ones included.
    pub fn requests(&self, path: &str) -> usize {
        self.shared.state().requests.get(path).copied().unwrap_or(0)
    }

    /// How many requests arrived in all.
    pub fn total_requests(&self) -> usize {
        self.shared.state().total
    }

    /// How many body bytes the `Huge`, `HugeDeclared` and `Trickle` faults on
    /// `path` have handed to the connection, over all requests. TLS and socket
    /// buffers sit between this count and what the client has read.
    pub fn bytes_sent(&self, path: &str) -> u64 {
        self.shared
            .state()
            .bytes_sent
            .get(path)
            .map_or(0, |sent| sent.load(Ordering::Relaxed))
    }
}

/// A port on 127.0.0.1 that nothing listens on, for "issuer down" tests.
///
/// The port was free a moment ago; another process could take it, which is
/// unlikely enough for tests.
pub async fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock left the state whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.base_url)
    }

    /// The response for `path` when no fault is set: the discovery document
    /// or key set of a known tenant, else 404.
    fn normal(&self, path: &str) -> Response<Payload> {
        let state = self.state();
        let json = if let Some(tenant) = tenant_of(path, DISCOVERY) {
            let generated = || {
                let issuer = self.issuer(tenant);
                let jwks_uri = format!("{issuer}{JWKS}");
                serde_json::json!({ "issuer": issuer, "jwks_uri": jwks_uri }).to_string()
            };
            let known = state.jwks.contains_key(tenant);
            state
                .discovery
                .get(tenant)
                .cloned()
                .or_else(|| known.then(generated))
        } else if let Some(tenant) = tenant_of(path, JWKS) {
            state.jwks.get(tenant).cloned()
        } else {
            None
        };
        match json {
            Some(json) => ok(JSON, Payload::Full(Some(json.into()))),
            None => status(StatusCode::NOT_FOUND),
        }
    }

    /// A counter of body bytes sent on `path`, created on first use.
    fn bytes_counter(&self, path: &str) -> Arc<AtomicU64> {
        self.state()
            .bytes_sent
            .entry(path.to_owned())
            .or_default()
            .clone()
    }
}

/// The tenant a path belongs to, if the path ends with `suffix`.
fn tenant_of<'a>(path: &'a str, suffix: &str) -> Option<&'a str> {
    let prefix = path.strip_suffix(suffix)?;
    Some(prefix.strip_prefix('/').unwrap_or(prefix))
}

/// Accepts connections until the issuer is dropped.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    token: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        // A failed accept loses only that connection.
        let Ok((stream, _)) = accepted else { continue };
        let connection = serve(stream, acceptor.clone(), shared.clone());
        let token = token.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = connection => {}
            }
        });
    }
}

/// Runs the TLS handshake, then HTTP/1.1 until the connection ends.
async fn serve(stream: TcpStream, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    // A client that rejects the certificate just goes away.
    let Ok(tls) = acceptor.accept(stream).await else {
        return;
    };
    let service = service_fn(move |request| respond(shared.clone(), request));
    // Errors are expected: clients drop bodies midway, and `Fault::Close`
    // aborts on purpose.
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// Counts the request, then answers it normally or with the fault on its path.
async fn respond(shared: Arc<Shared>, request: Request<Incoming>) -> io::Result<Response<Payload>> {
    let path = request.uri().path().to_owned();
    let (fault, headers) = {
        let mut state = shared.state();
        *state.requests.entry(path.clone()).or_default() += 1;
        state.total += 1;
        (
            state.faults.get(&path).cloned(),
            state.headers.get(&path).cloned(),
        )
    };

    let mut response = match fault {
        None => shared.normal(&path),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            shared.normal(&path)
        }
        Some(Fault::Status(code)) => {
            status(StatusCode::from_u16(code).expect("Fault::Status holds a valid status code"))
        }
        Some(Fault::Body { content_type, body }) => {
            ok(&content_type, Payload::Full(Some(body.into())))
        }
        Some(Fault::Redirect(location)) => {
            let mut response = status(StatusCode::FOUND);
            let location = HeaderValue::try_from(location).expect("a valid Location");
            response.headers_mut().insert(LOCATION, location);
            response
        }
        Some(Fault::Huge { bytes }) => filler(shared.bytes_counter(&path), bytes, false),
        Some(Fault::HugeDeclared { bytes }) => filler(shared.bytes_counter(&path), bytes, true),
        Some(Fault::Trickle { interval }) => {
            let sent = shared.bytes_counter(&path);
            let sleep = Box::pin(tokio::time::sleep(interval));
            ok(
                JSON,
                Payload::Trickle {
                    interval,
                    sleep,
                    sent,
                },
            )
        }
        // Never resolves; the connection task ends when the client goes away
        // or the issuer drops.
        Some(Fault::Hang) => return std::future::pending().await,
        // A service error makes hyper drop the connection without writing.
        Some(Fault::Close) => return Err(io::Error::other("fault: close without answering")),
    };

    response.headers_mut().extend(headers.unwrap_or_default());
    Ok(response)
}

fn ok(content_type: &str, body: Payload) -> Response<Payload> {
    let mut response = Response::new(body);
    let content_type = HeaderValue::try_from(content_type).expect("a valid Content-Type");
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

fn filler(sent: Arc<AtomicU64>, bytes: u64, declared: bool) -> Response<Payload> {
    ok(
        JSON,
        Payload::Filler {
            remaining: bytes,
            declared,
            sent,
        },
    )
}

fn status(code: StatusCode) -> Response<Payload> {
    let mut response = Response::new(Payload::Full(None));
    *response.status_mut() = code;
    response
}

/// A response body, generated as hyper asks for it.
enum Payload {
    /// The whole body, taken by the first poll.
    Full(Option<Bytes>),
    /// `remaining` more spaces, in chunks; `declared` sets a `Content-Length`.
    Filler {
        remaining: u64,
        declared: bool,
        sent: Arc<AtomicU64>,
    },
    /// One space each time `sleep` fires, without end.
    Trickle {
        interval: Duration,
        sleep: Pin<Box<Sleep>>,
        sent: Arc<AtomicU64>,
    },
}

impl Body for Payload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = match self.get_mut() {
            Payload::Full(body) => body.take(),
            Payload::Filler {
                remaining, sent, ..
            } => {
                let len = (*remaining).min(CHUNK as u64);
                *remaining -= len;
                sent.fetch_add(len, Ordering::Relaxed);
                (len > 0).then(|| Bytes::from_static(&FILLER[..len as usize]))
            }
            Payload::Trickle {
                interval,
                sleep,
                sent,
            } => {
                ready!(sleep.as_mut().poll(cx));
                sleep.as_mut().reset(Instant::now() + *interval);
                sent.fetch_add(1, Ordering::Relaxed);
                Some(Bytes::from_static(b" "))
            }
        };
        Poll::Ready(chunk.map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Payload::Full(body) => body.is_none(),
            Payload::Filler { remaining, .. } => *remaining == 0,
            Payload::Trickle { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Payload::Full(body) => {
                SizeHint::with_exact(body.as_ref().map_or(0, |b| b.len() as u64))
            }
            Payload::Filler {
                remaining,
                declared: true,
                ..
            } => SizeHint::with_exact(*remaining),
            Payload::Filler { .. } | Payload::Trickle { .. } => SizeHint::default(),
        }
    }
}

/// A fresh CA, and a server configuration whose certificate it signed.
fn tls_config() -> (Vec<u8>, rustls::ServerConfig) {
    // The CA: self-signed and allowed to sign certificates.
    let ca_key = KeyPair::generate().expect("generate the CA key");
    let mut ca_params = CertificateParams::new(Vec::new()).expect("no names is valid");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "jwks-registry test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).expect("self-sign the CA");

    // The server certificate, for both names a test may dial.
    let key = KeyPair::generate().expect("generate the server key");
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let mut params = CertificateParams::new(names).expect("valid subject names");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &ca, &ca_key)
        .expect("sign the server certificate");

    // Explicit provider: `ServerConfig::builder()` panics when more than one
    // crypto provider is compiled in.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone(), ca.der().clone()], key_der)
        .expect("the server key matches its certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca.der().to_vec(), config)
}
