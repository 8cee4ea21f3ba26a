//! OpenID Connect discovery: from an issuer to its `jwks_uri`, and the URL
//! rules every fetch obeys.
//!
//! The discovery document lives at `{issuer}{config_path}` with the
//! issuer's trailing `/` removed (OpenID Connect Discovery 1.0 §4). Its
//! `issuer` must equal the issuer asked for byte for byte (§4.3): otherwise
//! one issuer could publish keys in another's name. Its `jwks_uri` must be
//! an absolute `https` URL.

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
