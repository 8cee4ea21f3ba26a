//! The HTTP client the registry fetches discovery documents and key sets
//! with.
//!
//! [`HttpClient`] is the pluggable part: one method that GETs a URL and hands
//! back the status, the headers the registry looks at, and the body. The
//! registry itself applies the fetch timeout around every call, requires
//! status 200 and re-checks the body size, so a custom client cannot weaken
//! those rules; it is still expected to stop reading past `max_bytes`.
//!
//! [`HyperClient`] is the default: hyper 1 over hyper-util's pooled client,
//! TLS by rustls with the `ring` provider passed explicitly (the process-wide
//! default provider is never consulted), HTTP/1.1 only, redirects never
//! followed, the body read through a length limit while it streams.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::error::{Error, quoted};

/// The future an [`HttpClient`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, Error>> + Send + 'a>>;

/// The value of the `User-Agent` header the default client sends.
pub const USER_AGENT_VALUE: &str = concat!("jwks-registry/", env!("CARGO_PKG_VERSION"));

/// What the registry needs from an HTTP response.
#[derive(Clone, Debug, Default)]
pub struct HttpResponse {
    /// The status code. The registry accepts only 200.
    pub status: u16,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body, at most the `max_bytes` the call was given.
    pub body: Bytes,
}

/// Fetches a URL with GET. Implement it to route the registry's requests
/// through a proxy, a test double, or a client of your own.
///
/// An implementation must not follow redirects (the registry refuses any
/// status but 200, and a redirect could move a fetch to a host the issuer
/// does not control) and should stop reading once the body exceeds
/// `max_bytes`, returning [`Error::ResponseTooLarge`].
///
/// # Example
///
/// ```
/// use jwks_registry::{Error, FetchFuture, HttpClient, HttpResponse};
///
/// /// Serves one fixed key set, whatever the URL.
/// #[derive(Debug)]
/// struct Fixed(&'static str);
///
/// impl HttpClient for Fixed {
///     fn get<'a>(&'a self, _url: &'a str, _max_bytes: usize) -> FetchFuture<'a> {
///         Box::pin(async move {
///             Ok(HttpResponse {
///                 status: 200,
///                 content_type: Some("application/json".into()),
///                 body: self.0.as_bytes().to_vec().into(),
///                 ..HttpResponse::default()
///             })
///         })
///     }
/// }
/// ```
pub trait HttpClient: fmt::Debug + Send + Sync + 'static {
    /// GETs `url`, reading at most `max_bytes` of body.
    ///
    /// # Errors
    ///
    /// [`Error::Http`] when no response arrives, [`Error::ResponseTooLarge`]
    /// when the body exceeds `max_bytes`. A non-200 status is not an error
    /// here; the registry judges it.
    fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> FetchFuture<'a>;
}

/// The default client: hyper 1 + hyper-rustls with the `ring` provider.
#[derive(Clone)]
pub struct HyperClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl HyperClient {
    /// A client trusting the Mozilla roots of `webpki-roots` plus
    /// `extra_roots` (DER certificates, for issuers behind a private CA).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if an extra root is not a usable certificate.
    pub fn new(extra_roots: &[Vec<u8>]) -> Result<HyperClient, Error> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for der in extra_roots {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|err| Error::Config {
                    reason: format!("unusable root certificate: {err}"),
                })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::Config {
                reason: format!("TLS setup failed: {err}"),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();

        // Plain http is allowed through the connector; the registry refuses
        // http URLs before they get here unless `allow_http` is set.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(HyperClient { client })
    }

    async fn fetch(&self, url: &str, max_bytes: usize) -> Result<HttpResponse, Error> {
        let http_error = |err: Box<dyn std::error::Error + Send + Sync>| Error::Http {
            url: quoted(url),
            source: Arc::from(err),
        };
        let request = http::Request::get(url)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|err| http_error(err.into()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|err| http_error(err.into()))?;

        let (parts, body) = response.into_parts();
        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|value: &http::HeaderValue| value.to_str().ok())
                .map(str::to_owned)
        };
        let status = parts.status.as_u16();
        let cache_control = header(CACHE_CONTROL);
        let content_type = header(CONTENT_TYPE);
        if status != 200 {
            // The body of an error or a redirect is of no use; dropping it
            // closes the connection rather than draining an unknown amount.
            return Ok(HttpResponse {
                status,
                cache_control,
                content_type,
                body: Bytes::new(),
            });
        }

        // Refuse early when the server announces too much, and enforce the
        // limit while streaming for the servers that do not announce.
        let declared = header(CONTENT_LENGTH).and_then(|len| len.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max_bytes as u64) {
            return Err(Error::ResponseTooLarge {
                url: quoted(url),
                max: max_bytes,
            });
        }
        let body = Limited::new(body, max_bytes)
            .collect()
            .await
            .map_err(|err| {
                if err.is::<LengthLimitError>() {
                    Error::ResponseTooLarge {
                        url: quoted(url),
                        max: max_bytes,
                    }
                } else {
                    http_error(err)
                }
            })?;
        Ok(HttpResponse {
            status,
            cache_control,
            content_type,
            body: body.to_bytes(),
        })
    }
}

impl HttpClient for HyperClient {
    fn get<'a>(&'a self, url: &'a str, max_bytes: usize) -> FetchFuture<'a> {
        Box::pin(self.fetch(url, max_bytes))
    }
}

impl fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperClient").finish_non_exhaustive()
    }
}
