//! OpenID Connect discovery: from an issuer to its `jwks_uri`, and the URL
//! rules every fetch obeys.
//!
//! The discovery document lives at `{issuer}{config_path}` with the
//! issuer's trailing `/` removed (OpenID Connect Discovery 1.0 §4). Its
//! `issuer` must equal the issuer asked for byte for byte (§4.3): otherwise
//! one issuer could publish keys in another's name. Its `jwks_uri` must be
//! an absolute `https` URL.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, quoted};
use crate::json;

/// Checks that `url` is an absolute URL the registry may fetch: `https`
/// (or `http` when `allow_http`), with a host, and without credentials or a
/// fragment.
pub(crate) fn check_url(url: &str, allow_http: bool) -> Result<http::Uri, Error> {
    let refuse = |reason| Error::InvalidUrl {
        url: quoted(url),
        reason,
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|_| refuse("not a valid absolute URL"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_http => {}
        Some("http") => return Err(refuse("plain http is not allowed")),
        _ => return Err(refuse("scheme is not https")),
    }
    let authority = uri.authority().ok_or_else(|| refuse("no host"))?;
    if authority.as_str().contains('@') {
        return Err(refuse("credentials in the URL"));
    }
    if authority.host().is_empty() {
        return Err(refuse("no host"));
    }
    if url.contains('#') {
        return Err(refuse("fragment in the URL"));
    }
    Ok(uri)
}

/// Checks that `issuer` is an issuer identifier the registry may discover:
/// a URL as [`check_url`] wants it, without a query (Discovery §3).
pub(crate) fn check_issuer(issuer: &str, allow_http: bool) -> Result<http::Uri, Error> {
    let uri = check_url(issuer, allow_http)?;
    if uri.query().is_some() {
        return Err(Error::InvalidUrl {
            url: quoted(issuer),
            reason: "query in an issuer",
        });
    }
    Ok(uri)
}

/// Refuses a URL whose host is, or resolves to, an address that is not
/// public (loopback, private, link-local, unique local, shared, multicast,
/// unspecified or reserved).
///
/// This looks the name up once before the request; the HTTP client looks it
/// up again to connect, so a name whose answers change between the two
/// (DNS rebinding) is not fully covered.
pub(crate) async fn check_public_host(uri: &http::Uri) -> Result<(), Error> {
    let host = uri.host().unwrap_or_default();
    let refuse = || Error::PrivateAddress { host: quoted(host) };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return if is_public(ip) { Ok(()) } else { Err(refuse()) };
    }
    if bare.eq_ignore_ascii_case("localhost") || bare.to_ascii_lowercase().ends_with(".localhost") {
        return Err(refuse());
    }
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let addresses = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|err| Error::Http {
            url: quoted(&uri.to_string()),
            source: std::sync::Arc::new(err),
        })?;
    let mut any = false;
    for address in addresses {
        any = true;
        if !is_public(address.ip()) {
            return Err(refuse());
        }
    }
    if any { Ok(()) } else { Err(refuse()) }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80)
}

/// The URL of `issuer`'s discovery document.
pub(crate) fn discovery_url(issuer: &str, config_path: &str) -> String {
    format!("{}{config_path}", issuer.trim_end_matches('/'))
}

/// Reads a discovery document and returns its `jwks_uri`.
pub(crate) fn parse_document(issuer: &str, body: &[u8], allow_http: bool) -> Result<String, Error> {
    let invalid = |reason: String| Error::InvalidDiscovery {
        issuer: quoted(issuer),
        reason,
    };
    let document = json::parse_object(body).map_err(invalid)?;

    match document.get("issuer").and_then(|value| value.as_str()) {
        Some(found) if found == issuer => {}
        Some(found) => {
            return Err(invalid(format!(
                "document names issuer \"{}\"",
                quoted(found)
            )));
        }
        None => return Err(invalid("\"issuer\" is missing or not a string".to_owned())),
    }
    let jwks_uri = document
        .get("jwks_uri")
        .and_then(|value| value.as_str())
        .ok_or_else(|| invalid("\"jwks_uri\" is missing or not a string".to_owned()))?;
    check_url(jwks_uri, allow_http).map_err(|err| invalid(format!("\"jwks_uri\": {err}")))?;
    Ok(jwks_uri.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loopback, private, link-local and the like are not public.
    #[test]
    fn public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    /// Literal and named local hosts are refused without a lookup.
    #[tokio::test]
    async fn local_hosts_refused() {
        for url in [
            "https://127.0.0.1/x",
            "https://[::1]:8443/x",
            "https://localhost/x",
            "https://a.localhost/x",
        ] {
            let uri: http::Uri = url.parse().unwrap();
            assert!(
                matches!(
                    check_public_host(&uri).await,
                    Err(Error::PrivateAddress { .. })
                ),
                "{url}"
            );
        }
        let public: http::Uri = "https://8.8.8.8/x".parse().unwrap();
        assert!(check_public_host(&public).await.is_ok());
    }

    /// The discovery URL drops the issuer's trailing slash.
    #[test]
    fn discovery_urls() {
        let path = "/.well-known/openid-configuration";
        assert_eq!(
            discovery_url("https://a.example", path),
            "https://a.example/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://a.example/t/", path),
            "https://a.example/t/.well-known/openid-configuration"
        );
    }

    /// Only https (or http when allowed) absolute URLs without credentials
    /// pass.
    #[test]
    fn url_rules() {
        assert!(check_url("https://a.example/jwks", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks", true).is_ok());
        for url in [
            "http://a.example/jwks",
            "ftp://a.example/jwks",
            "/jwks",
            "https://user:pw@a.example/jwks",
            "https://a.example/jwks#x",
            "a.example",
            "",
        ] {
            assert!(
                matches!(check_url(url, false), Err(Error::InvalidUrl { .. })),
                "{url}"
            );
        }
        assert!(check_issuer("https://a.example?x=1", false).is_err());
    }

    /// The document's issuer must match byte for byte and its jwks_uri must
    /// be https.
    #[test]
    fn document_rules() {
        let doc = br#"{"issuer":"https://a.example","jwks_uri":"https://a.example/jwks"}"#;
        assert_eq!(
            parse_document("https://a.example", doc, false).unwrap(),
            "https://a.example/jwks"
        );
        for issuer in [
            "https://a.example/",
            "https://A.example",
            "https://b.example",
        ] {
            assert!(matches!(
                parse_document(issuer, doc, false),
                Err(Error::InvalidDiscovery { .. })
            ));
        }
        let http = br#"{"issuer":"https://a.example","jwks_uri":"http://a.example/jwks"}"#;
        let err = parse_document("https://a.example", http, false).unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        for bad in [
            &br#"{"issuer":"https://a.example"}"#[..],
            br#"{"issuer":"https://a.example","jwks_uri":5}"#,
            br#"{"issuer":"https://a.example","issuer":"https://a.example","jwks_uri":"https://a.example/j"}"#,
            b"<html>",
        ] {
            assert!(parse_document("https://a.example", bad, false).is_err());
        }
    }
}
