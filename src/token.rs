//! Strict parsing of compact JWS (RFC 7515 §7.1) and of JWT claims.
//!
//! Nothing here verifies anything: this module turns untrusted text into a
//! header, a payload and a signature, refusing every form that a lenient
//! parser would let through. The rules, in the order they are applied:
//!
//! 1. The token is at most the size limit (default 16 KiB), checked before
//!    anything is decoded.
//! 2. Exactly three segments separated by `.`.
//! 3. Each segment is base64url without padding, without `+`, `/` or `=`,
//!    and without non-zero trailing bits (one encoding per byte string).
//! 4. The header is a JSON object without duplicate member names, with a
//!    string `alg` naming a supported algorithm, a string `kid` of at most
//!    [`MAX_KEY_ID_BYTES`] bytes if any, and no `crit` (this crate
//!    implements no critical extension) and no `b64` other than `true`.
//! 5. For a JWT, the payload is a JSON object without duplicate member names.
//!
//! Header members that carry keys or key locations (`jwk`, `jku`, `x5u`,
//! `x5c`) are kept in [`Header::members`] for inspection but never used:
//! keys come only from the issuer's discovered key set.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::error::{Error, TokenPart, quoted};
use crate::json;
use crate::scan::{self, Member};

/// The default limit on a token's length, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The longest `kid` accepted in a token header, in bytes.
pub const MAX_KEY_ID_BYTES: usize = 256;

/// base64url as JOSE requires it: URL-safe alphabet, no padding, and no
/// non-canonical trailing bits.
pub(crate) const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// A token's protected header, parsed strictly.
///
/// Cheap to clone: the parts are shared.
#[derive(Clone)]
pub struct Header {
    inner: Arc<HeaderInner>,
}

struct HeaderInner {
    algorithm: Algorithm,
    key_id: Option<String>,
    media_type: Option<String>,
    content_type: Option<String>,
    members: Map<String, Value>,
}

/// A compact JWS split and decoded, nothing verified.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    pub(crate) header: Header,
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, the bytes the
    /// signature covers (RFC 7515 §5.2 step 8).
    pub(crate) signing_input: &'a [u8],
}

/// A JWT whose header and claims have been parsed but **not verified**.
///
/// Use it to look at a token's `iss` and `kid` before fetching keys; never
/// trust anything it says until a [`KeySet`](crate::KeySet) or a
/// [`KeyRegistryHandle`](crate::KeyRegistryHandle) has verified it.
#[derive(Debug)]
pub struct UnverifiedToken<'a> {
    pub(crate) jws: Jws<'a>,
    pub(crate) claims: Map<String, Value>,
}

impl Header {
    /// The signature algorithm (`alg`).
    pub fn algorithm(&self) -> Algorithm {
        self.inner.algorithm
    }

    /// The key identifier (`kid`), if any.
    pub fn key_id(&self) -> Option<&str> {
        self.inner.key_id.as_deref()
    }

    /// The media type of the whole token (`typ`), if any.
    pub fn media_type(&self) -> Option<&str> {
        self.inner.media_type.as_deref()
    }

    /// The media type of the payload (`cty`), if any.
    pub fn content_type(&self) -> Option<&str> {
        self.inner.content_type.as_deref()
    }

    /// Every header member as received, including those this crate ignores.
    pub fn members(&self) -> &Map<String, Value> {
        &self.inner.members
    }

    fn from_json(bytes: &[u8]) -> Result<Header, Error> {
        let members = json::parse_object(bytes).map_err(|reason| Error::MalformedToken {
            part: TokenPart::Header,
            reason,
        })?;
        Header::from_members(members)
    }

    fn from_members(members: Map<String, Value>) -> Result<Header, Error> {
        let malformed = |reason: &str| Error::MalformedToken {
            part: TokenPart::Header,
            reason: reason.to_owned(),
        };

        let algorithm = match members.get("alg") {
            Some(Value::String(name)) => Algorithm::from_name(name)?,
            Some(_) => return Err(malformed("\"alg\" is not a string")),
            None => return Err(malformed("\"alg\" is missing")),
        };
        let key_id = optional_string(&members, "kid").map_err(malformed)?;
        if key_id
            .as_ref()
            .is_some_and(|kid| kid.len() > MAX_KEY_ID_BYTES)
        {
            return Err(malformed("\"kid\" is longer than 256 bytes"));
        }
        let media_type = optional_string(&members, "typ").map_err(malformed)?;
        let content_type = optional_string(&members, "cty").map_err(malformed)?;

        // This crate implements no critical extension, so any name listed in
        // `crit` must be refused (RFC 7515 §4.1.11).
        match members.get("crit") {
            None => {}
            Some(Value::Array(names)) => {
                let first = names
                    .first()
                    .ok_or_else(|| malformed("\"crit\" is empty"))?;
                let name = first
                    .as_str()
                    .ok_or_else(|| malformed("\"crit\" holds a non-string"))?;
                return Err(Error::UnsupportedCritical { name: quoted(name) });
            }
            Some(_) => return Err(malformed("\"crit\" is not an array")),
        }
        // An unencoded payload (RFC 7797) changes what the signature covers;
        // only the default, `true`, is accepted.
        match members.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(_) => {
                return Err(Error::UnsupportedCritical {
                    name: "b64".to_owned(),
                });
            }
        }

        Ok(Header {
            inner: Arc::new(HeaderInner {
                algorithm,
                key_id,
                media_type,
                content_type,
                members,
            }),
        })
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("algorithm", &self.inner.algorithm)
            .field("key_id", &self.inner.key_id)
            .field("media_type", &self.inner.media_type)
            .field("content_type", &self.inner.content_type)
            .field("members", &self.inner.members)
            .finish()
    }
}

impl<'a> Jws<'a> {
    /// Splits and decodes a compact JWS, applying rules 1 to 4 of the module
    /// docs.
    pub(crate) fn parse(token: &'a str, max_bytes: usize) -> Result<Jws<'a>, Error> {
        let (header_b64, payload_b64, signature_b64) = segments(token, max_bytes)?;

        // A remembered header was accepted before, so skipping its checks
        // leaves the order of the others' errors as it is.
        let remembered = remembered_header(header_b64);
        let header_bytes = match remembered {
            Some(_) => Vec::new(),
            None => decode_segment(header_b64, TokenPart::Header)?,
        };
        let payload = decode_segment(payload_b64, TokenPart::Claims)?;
        let signature = decode_segment(signature_b64, TokenPart::Signature)?;

        let header = match remembered {
            Some(header) => header,
            None => parse_and_remember(header_b64, &header_bytes)?,
        };

        let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        Ok(Jws {
            header,
            payload,
            signature,
            signing_input,
        })
    }
}

/// What finding a token's key needs: its issuer, `kid` and algorithm.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct KeyHint {
    pub(crate) issuer: String,
    pub(crate) key_id: Option<String>,
    pub(crate) algorithm: Algorithm,
}

impl KeyHint {
    /// A hint owning copies of `issuer` and `key_id`.
    pub(crate) fn new(issuer: &str, key_id: Option<&str>, algorithm: Algorithm) -> KeyHint {
        KeyHint {
            issuer: issuer.to_owned(),
            key_id: key_id.map(str::to_owned),
            algorithm,
        }
    }

    /// Reads a token's key hint under exactly the rules of
    /// [`UnverifiedToken::parse_with_limit`], plus a string `iss`, but
    /// cheaper: the signature is checked for strict base64url without being
    /// decoded, a remembered header is not parsed again, and the claims are
    /// read for `iss` without being kept.
    pub(crate) fn parse(token: &str, max_bytes: usize) -> Result<KeyHint, Error> {
        match KeyHint::scan_with(token, max_bytes, KeyHint::new) {
            Some(hint) => Ok(hint),
            // Refused, or beyond what the scanner judges: the full parse
            // decides, and names the error.
            None => KeyHint::parse_in_full(token, max_bytes),
        }
    }

    /// The common case of [`KeyHint::parse`], lending the issuer and `kid`
    /// to `use_hint` instead of copying them.
    ///
    /// `None` whenever anything is refused or unusual, and then `use_hint`
    /// is not called; otherwise `use_hint` sees exactly the hint that the
    /// full parse gives. The claims are read by [`scan::object_members`];
    /// the header is parsed in full, once for each of the last few headers
    /// seen on this thread (see [`remembered_header`]).
    pub(crate) fn scan_with<R>(
        token: &str,
        max_bytes: usize,
        use_hint: impl FnOnce(&str, Option<&str>, Algorithm) -> R,
    ) -> Option<R> {
        if token.len() > max_bytes {
            return None;
        }
        // The signature is checked for the base64url alphabet, which has no
        // `.`, so two dots found here mean exactly three segments.
        let (header_b64, rest) = token.split_once('.')?;
        let (payload_b64, signature_b64) = rest.split_once('.')?;
        if !is_strict_base64url(signature_b64) {
            return None;
        }
        let header = match remembered_header(header_b64) {
            Some(header) => header,
            None => parse_and_remember(header_b64, &BASE64URL.decode(header_b64).ok()?).ok()?,
        };

        let mut payload = Vec::with_capacity(payload_b64.len() / 4 * 3 + 3);
        BASE64URL.decode_vec(payload_b64, &mut payload).ok()?;
        let [issuer] = scan::object_members(&payload, ["iss"])?;
        let Some(Member::String(issuer)) = issuer else {
            return None;
        };
        Some(use_hint(&issuer, header.key_id(), header.algorithm()))
    }

    /// The hint through the full parse of header and claims.
    fn parse_in_full(token: &str, max_bytes: usize) -> Result<KeyHint, Error> {
        let (header_b64, payload_b64, signature_b64) = segments(token, max_bytes)?;

        // The same order of checks as `Jws::parse`, so that both report the
        // same error for the same token.
        let header_bytes = decode_segment(header_b64, TokenPart::Header)?;
        let payload = decode_segment(payload_b64, TokenPart::Claims)?;
        if !is_strict_base64url(signature_b64) {
            // Decoding says precisely what is wrong.
            decode_segment(signature_b64, TokenPart::Signature)?;
        }
        let header = Header::from_json(&header_bytes)?;

        let issuer =
            json::string_member(&payload, "iss").map_err(|reason| Error::MalformedToken {
                part: TokenPart::Claims,
                reason,
            })?;
        let Some(issuer) = issuer else {
            return Err(Error::MissingClaim {
                claim: "iss".to_owned(),
            });
        };
        Ok(KeyHint {
            issuer,
            key_id: header.key_id().map(str::to_owned),
            algorithm: header.algorithm(),
        })
    }
}

/// Header segments longer than this are parsed each time, not remembered.
const MAX_REMEMBERED_HEADER: usize = 512;

/// How many header segments each thread remembers.
const REMEMBERED_HEADERS: usize = 4;

/// The last few header segments parsed on one thread, with their headers.
///
/// Every token signed with one key carries the same header byte for byte,
/// so a gateway mostly parses each header once per thread instead of once
/// per token; a few entries cover a key rotation's overlap, when tokens of
/// the old and the new key arrive in turn. Only accepted headers are
/// remembered, and a header is a pure function of its segment, so a
/// remembered one is exactly what parsing it again would give.
struct RememberedHeaders {
    entries: [Option<(Box<str>, Header)>; REMEMBERED_HEADERS],
    /// The entry the next new segment replaces, in turn.
    next: usize,
}

thread_local! {
    static REMEMBERED: RefCell<RememberedHeaders> = const {
        RefCell::new(RememberedHeaders {
            entries: [const { None }; REMEMBERED_HEADERS],
            next: 0,
        })
    };
}

/// The header this thread parsed from `segment` lately, if it did.
fn remembered_header(segment: &str) -> Option<Header> {
    REMEMBERED.with_borrow(|remembered| {
        remembered
            .entries
            .iter()
            .flatten()
            .find(|(known, _)| **known == *segment)
            .map(|(_, header)| header.clone())
    })
}

/// Parses `bytes`, decoded from `segment`, as a header and, if it is
/// accepted, remembers it in place of the oldest entry.
fn parse_and_remember(segment: &str, bytes: &[u8]) -> Result<Header, Error> {
    let header = Header::from_json(bytes)?;
    if segment.len() <= MAX_REMEMBERED_HEADER {
        REMEMBERED.with_borrow_mut(|remembered| {
            let next = remembered.next;
            remembered.entries[next] = Some((segment.into(), header.clone()));
            remembered.next = (next + 1) % REMEMBERED_HEADERS;
        });
    }
    Ok(header)
}

impl<'a> UnverifiedToken<'a> {
    /// Parses a JWT in compact form with the default size limit of
    /// [`DEFAULT_MAX_TOKEN_BYTES`], verifying nothing.
    ///
    /// # Errors
    ///
    /// - [`Error::TokenTooLarge`] beyond the size limit;
    /// - [`Error::MalformedToken`] for a wrong segment count, bad base64url,
    ///   a header or claims that are not strict JSON objects, or header
    ///   members of the wrong type;
    /// - [`Error::UnsupportedAlgorithm`] for `none`, `HS*`, `ES512` or an
    ///   unknown `alg`;
    /// - [`Error::UnsupportedCritical`] for any `crit` or `b64: false`.
    ///
    /// # Example
    ///
    /// ```
    /// use jwks_registry::UnverifiedToken;
    ///
    /// // {"alg":"ES256","kid":"k1"} . {"iss":"https://issuer.example"} . (signature)
    /// let token = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.\
    ///              eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIn0.AAAA";
    /// let unverified = UnverifiedToken::parse(token)?;
    /// assert_eq!(unverified.issuer(), Some("https://issuer.example"));
    /// assert_eq!(unverified.key_id(), Some("k1"));
    /// # Ok::<(), jwks_registry::Error>(())
    /// ```
    pub fn parse(token: &'a str) -> Result<UnverifiedToken<'a>, Error> {
        UnverifiedToken::parse_with_limit(token, DEFAULT_MAX_TOKEN_BYTES)
    }

    /// Parses like [`UnverifiedToken::parse`] with a size limit of
    /// `max_bytes`.
    ///
    /// # Errors
    ///
    /// As [`UnverifiedToken::parse`].
    pub fn parse_with_limit(
        token: &'a str,
        max_bytes: usize,
    ) -> Result<UnverifiedToken<'a>, Error> {
        let jws = Jws::parse(token, max_bytes)?;
        let claims = json::parse_object(&jws.payload).map_err(|reason| Error::MalformedToken {
            part: TokenPart::Claims,
            reason,
        })?;
        Ok(UnverifiedToken { jws, claims })
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.jws.header
    }

    /// The claims, unverified.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The `iss` claim if it is a string, unverified.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// The header's `kid`, unverified.
    pub fn key_id(&self) -> Option<&str> {
        self.jws.header.key_id()
    }
}

/// Splits a compact JWS into its three segments, after checking its size:
/// nothing is decoded or even scanned beyond this point for an oversized
/// token.
fn segments(token: &str, max_bytes: usize) -> Result<(&str, &str, &str), Error> {
    if token.len() > max_bytes {
        return Err(Error::TokenTooLarge {
            len: token.len(),
            max: max_bytes,
        });
    }
    let mut segments = token.split('.');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some(header), Some(payload), Some(signature), None) => Ok((header, payload, signature)),
        _ => Err(Error::MalformedToken {
            part: TokenPart::Token,
            reason: "a compact JWS has exactly three segments".to_owned(),
        }),
    }
}

/// Whether `text` is base64url as [`BASE64URL`] decodes it: the URL-safe
/// alphabet only, no padding, a possible length, and zero trailing bits.
fn is_strict_base64url(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Without an early exit the loop vectorises, which matters for the
    // 342-character signature of an RS256 token on every `get_key`.
    let alphabet_only = bytes.iter().fold(true, |ok, &byte| {
        ok & (byte.is_ascii_alphanumeric() | (byte == b'-') | (byte == b'_'))
    });
    if !alphabet_only {
        return false;
    }
    // The last character of a partial group carries 4 (2 characters) or 2
    // (3 characters) bits that encode nothing and must be zero.
    let last = bytes
        .last()
        .map_or(0, |&byte| BASE64URL_VALUES[usize::from(byte)]);
    match bytes.len() % 4 {
        0 => true,
        1 => false,
        2 => last & 0x0f == 0,
        _ => last & 0x03 == 0,
    }
}

const INVALID: u8 = 0xff;

/// The 6-bit value of each byte in the base64url alphabet, [`INVALID`] for
/// every other byte.
static BASE64URL_VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut value = 0;
    while value < alphabet.len() {
        table[alphabet[value] as usize] = value as u8;
        value += 1;
    }
    table
};

fn decode_segment(segment: &str, part: TokenPart) -> Result<Vec<u8>, Error> {
    BASE64URL
        .decode(segment)
        .map_err(|err| Error::MalformedToken {
            part,
            reason: format!("invalid base64url: {err}"),
        })
}

fn optional_string(
    members: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, &'static str> {
    match members.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(match name {
            "kid" => "\"kid\" is not a string",
            "typ" => "\"typ\" is not a string",
            "cty" => "\"cty\" is not a string",
            _ => unreachable!("optional_string is only called for kid, typ and cty"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        BASE64URL.encode(bytes)
    }

    fn token(header: &str, claims: &str) -> String {
        format!(
            "{}.{}.{}",
            b64(header.as_bytes()),
            b64(claims.as_bytes()),
            b64(b"sig")
        )
    }

    fn parse(token: &str) -> Result<UnverifiedToken<'_>, Error> {
        UnverifiedToken::parse(token)
    }

    /// A well-formed token yields its header, claims and signing input.
    #[test]
    fn parses_a_valid_token() {
        let text = token(
            r#"{"alg":"RS256","kid":"k","typ":"JWT"}"#,
            r#"{"iss":"https://a"}"#,
        );
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.header().algorithm(), Algorithm::RS256);
        assert_eq!(parsed.key_id(), Some("k"));
        assert_eq!(parsed.header().media_type(), Some("JWT"));
        assert_eq!(parsed.issuer(), Some("https://a"));
        assert_eq!(parsed.jws.signature, b"sig");
        let dot = text.rfind('.').unwrap();
        assert_eq!(parsed.jws.signing_input, &text.as_bytes()[..dot]);
    }

    /// Anything but three segments is refused, including JWE's five.
    #[test]
    fn segment_count() {
        let good = token(r#"{"alg":"RS256"}"#, "{}");
        for text in [
            String::new(),
            ".".into(),
            "..".replace("..", "a.b"),
            format!("{good}."),
            format!("{good}.x.y"),
            good.replacen('.', "", 1),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::MalformedToken {
                        part: TokenPart::Token,
                        ..
                    }
                ) || matches!(err, Error::MalformedToken { .. }),
                "{text:?}: {err}"
            );
        }
        let err = parse("a.b.c.d.e").unwrap_err();
        assert!(matches!(
            err,
            Error::MalformedToken {
                part: TokenPart::Token,
                ..
            }
        ));
    }

    /// Padding, the standard alphabet, whitespace and non-canonical trailing
    /// bits are all refused.
    #[test]
    fn strict_base64url() {
        let header = b64(br#"{"alg":"RS256"}"#);
        let claims = b64(b"{}");
        // "e30" is "{}"; "e31" decodes to the same bytes with non-zero
        // trailing bits.
        assert_eq!(claims, "e30");
        for bad_claims in ["e30=", "e31", "e3+", "e3/", " e30", "e30\n", "e3%"] {
            let text = format!("{header}.{bad_claims}.c2ln");
            let err = parse(&text).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::MalformedToken {
                        part: TokenPart::Claims,
                        ..
                    }
                ),
                "{bad_claims:?}: {err}"
            );
        }
        // "c2k" is "si"; "c2l" decodes to the same bytes with trailing bits
        // set.
        assert!(parse(&format!("{header}.{claims}.c2k")).is_ok());
        let err = parse(&format!("{header}.{claims}.c2l")).unwrap_err();
        assert!(matches!(
            err,
            Error::MalformedToken {
                part: TokenPart::Signature,
                ..
            }
        ));
    }

    /// The size cap applies before any decoding, so a megabyte of dots is
    /// refused for its size, not its shape.
    #[test]
    fn size_cap_first() {
        let dots = ".".repeat(1 << 20);
        assert!(
            matches!(parse(&dots).unwrap_err(), Error::TokenTooLarge { len, .. } if len == 1 << 20)
        );
        let text = token(
            r#"{"alg":"RS256"}"#,
            &format!(r#"{{"x":"{}"}}"#, "a".repeat(20_000)),
        );
        assert!(matches!(
            parse(&text).unwrap_err(),
            Error::TokenTooLarge { .. }
        ));
        assert!(UnverifiedToken::parse_with_limit(&text, 64 * 1024).is_ok());
    }

    /// A duplicate `alg` cannot smuggle a second algorithm.
    #[test]
    fn duplicate_alg() {
        let text = token(r#"{"alg":"RS256","alg":"none"}"#, "{}");
        let err = parse(&text).unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedToken {
                    part: TokenPart::Header,
                    ..
                }
            ),
            "{err}"
        );
        let text = token(r#"{"alg":"RS256"}"#, r#"{"iss":"a","iss":"b"}"#);
        assert!(matches!(
            parse(&text).unwrap_err(),
            Error::MalformedToken {
                part: TokenPart::Claims,
                ..
            }
        ));
    }

    /// Header and claims must be JSON objects.
    #[test]
    fn objects_only() {
        for (header, claims) in [
            ("[]", "{}"),
            ("\"x\"", "{}"),
            (r#"{"alg":"RS256"}"#, "[]"),
            (r#"{"alg":"RS256"}"#, "foo"),
        ] {
            assert!(matches!(
                parse(&token(header, claims)).unwrap_err(),
                Error::MalformedToken { .. }
            ));
        }
    }

    /// `none` in every spelling and `HS*` are refused before anything else
    /// happens.
    #[test]
    fn refused_algorithms() {
        for alg in [
            "none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "ES512", "XYZ",
        ] {
            let text = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert!(
                matches!(
                    parse(&text).unwrap_err(),
                    Error::UnsupportedAlgorithm { .. }
                ),
                "{alg}"
            );
        }
        for header in [r#"{}"#, r#"{"alg":null}"#, r#"{"alg":["RS256"]}"#] {
            assert!(matches!(
                parse(&token(header, "{}")).unwrap_err(),
                Error::MalformedToken { .. }
            ));
        }
    }

    /// Any `crit` is refused, as is `b64` other than `true`.
    #[test]
    fn critical_extensions() {
        for header in [
            r#"{"alg":"RS256","crit":["exp"]}"#,
            r#"{"alg":"RS256","crit":["b64"],"b64":false}"#,
            r#"{"alg":"RS256","b64":false}"#,
            r#"{"alg":"RS256","b64":"false"}"#,
        ] {
            let err = parse(&token(header, "{}")).unwrap_err();
            assert!(
                matches!(err, Error::UnsupportedCritical { .. }),
                "{header}: {err}"
            );
        }
        for header in [
            r#"{"alg":"RS256","crit":[]}"#,
            r#"{"alg":"RS256","crit":"exp"}"#,
        ] {
            assert!(matches!(
                parse(&token(header, "{}")).unwrap_err(),
                Error::MalformedToken { .. }
            ));
        }
        assert!(parse(&token(r#"{"alg":"RS256","b64":true}"#, "{}")).is_ok());
    }

    /// `kid` is a bounded string.
    #[test]
    fn key_id_rules() {
        let long = "k".repeat(MAX_KEY_ID_BYTES + 1);
        let text = token(&format!(r#"{{"alg":"RS256","kid":"{long}"}}"#), "{}");
        assert!(matches!(
            parse(&text).unwrap_err(),
            Error::MalformedToken { .. }
        ));
        let text = token(r#"{"alg":"RS256","kid":7}"#, "{}");
        assert!(matches!(
            parse(&text).unwrap_err(),
            Error::MalformedToken { .. }
        ));
        let fits = "k".repeat(MAX_KEY_ID_BYTES);
        assert!(
            parse(&token(
                &format!(r#"{{"alg":"RS256","kid":"{fits}"}}"#),
                "{}"
            ))
            .is_ok()
        );
    }

    /// Deeply nested claims are an error, not a stack overflow.
    #[test]
    fn deep_nesting() {
        let claims = format!("{{\"a\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        let text = token(r#"{"alg":"RS256"}"#, &claims);
        let err = UnverifiedToken::parse_with_limit(&text, 1 << 20).unwrap_err();
        assert!(matches!(
            err,
            Error::MalformedToken {
                part: TokenPart::Claims,
                ..
            }
        ));
    }

    /// The cheap key hint agrees with the full parse on every token: same
    /// issuer, kid and algorithm, or the same error.
    #[test]
    fn key_hint_agrees_with_full_parse() {
        let full = |token: &str| -> Result<KeyHint, String> {
            let parsed = UnverifiedToken::parse(token).map_err(|err| err.to_string())?;
            let issuer = match parsed.claims().get("iss") {
                Some(Value::String(issuer)) => issuer.clone(),
                Some(_) => return Err("malformed token claims: \"iss\" is not a string".into()),
                None => return Err("required claim \"iss\" is missing".into()),
            };
            Ok(KeyHint {
                issuer,
                key_id: parsed.key_id().map(str::to_owned),
                algorithm: parsed.header().algorithm(),
            })
        };
        // The scanner's answers are compared on their own too, and counted,
        // so that the comparison covers the fast path and not only the
        // fallback.
        let scanned = std::cell::Cell::new(0);
        let hint = |token: &str| {
            if let Some(fast) = KeyHint::scan_with(token, DEFAULT_MAX_TOKEN_BYTES, KeyHint::new) {
                assert_eq!(Ok(&fast), full(token).as_ref(), "{token}");
                scanned.set(scanned.get() + 1);
            }
            KeyHint::parse(token, DEFAULT_MAX_TOKEN_BYTES).map_err(|err| err.to_string())
        };
        let bases = [
            token(
                r#"{"alg":"RS256","kid":"k"}"#,
                r#"{"iss":"https://a","aud":["x"],"n":{"m":[1,{"p":null}]}}"#,
            ),
            token(
                r#"{"alg":"ES256"}"#,
                r#"{"iss":"https://b","\u0069at":1.5}"#,
            ),
            token(r#"{"alg":"EdDSA","kid":"e"}"#, r#"{"iss":7}"#),
            token(r#"{"alg":"PS256"}"#, r#"{"sub":"x","d":{"a":1,"a":2}}"#),
            token(r#"{"alg":"RS256"}"#, r#"{"iss":"a","iss":"b"}"#),
            token(r#"{"alg":"RS256"}"#, r#"{"iss":"a","\u0069ss":"b"}"#),
            token(r#"{"alg":"RS256"}"#, r#"[{"iss":"a"}]"#),
            token(r#"{"alg":"RS256"}"#, r#"{"iss":"a"} x"#),
            token(
                r#"{"alg":"RS256"}"#,
                &format!(
                    r#"{{"iss":"a","d":{}{}}}"#,
                    "[".repeat(200),
                    "]".repeat(200)
                ),
            ),
            token(
                r#"{"alg":"RS256"}"#,
                &format!(
                    "{{{}\"iss\":\"a\"}}",
                    (0..40)
                        .map(|i| format!("\"m{i}\":{i},"))
                        .collect::<String>()
                ),
            ),
            token(
                r#"{"alg":"RS256"}"#,
                &format!(
                    "{{{}\"m3\":0}}",
                    (0..40)
                        .map(|i| format!("\"m{i}\":{i},"))
                        .collect::<String>()
                ),
            ),
        ];
        let mut checked = 0;
        for base in &bases {
            assert_eq!(hint(base), full(base), "{base}");
            // Every single-character change and every truncation.
            for at in 0..base.len() {
                for replacement in ["A", "B", "_", "-", ".", "=", "+", "/", "0", "\0"] {
                    let mut mutated = base.clone();
                    mutated.replace_range(at..at + 1, replacement);
                    assert_eq!(hint(&mutated), full(&mutated), "{mutated}");
                    checked += 1;
                }
                assert_eq!(hint(&base[..at]), full(&base[..at]), "{}", &base[..at]);
            }
        }
        assert!(checked > 10_000, "{checked}");
        assert!(scanned.get() > 300, "{}", scanned.get());
    }

    /// A header remembered from one token never answers for another: tokens
    /// of more headers than are remembered, in turn, each get their own
    /// `kid` and `alg` from both parses, and a refused header is refused
    /// after accepted ones.
    #[test]
    fn remembered_headers_follow_the_token() {
        let claims = r#"{"iss":"https://a"}"#;
        let algorithms = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
        let headers: Vec<(String, Option<String>, Algorithm)> = (0..REMEMBERED_HEADERS + 2)
            .map(|index| {
                let algorithm = algorithms[index % algorithms.len()];
                let kid = format!("k{index}");
                let header = format!(r#"{{"alg":"{}","kid":"{kid}"}}"#, algorithm.name());
                (token(&header, claims), Some(kid), algorithm)
            })
            .chain([(token(r#"{"alg":"ES384"}"#, claims), None, Algorithm::ES384)])
            .collect();
        for round in 0..3 {
            for (text, kid, algorithm) in headers.iter().skip(round) {
                let hint = KeyHint::scan_with(text, DEFAULT_MAX_TOKEN_BYTES, KeyHint::new)
                    .expect("the scanner reads a plain token");
                assert_eq!(&hint.key_id, kid);
                assert_eq!(hint.algorithm, *algorithm);
                let parsed = parse(text).expect("a plain token parses");
                assert_eq!(parsed.key_id(), kid.as_deref());
                assert_eq!(parsed.header().algorithm(), *algorithm);
            }
        }
        let refused = token(r#"{"alg":"none","kid":"k0"}"#, claims);
        assert!(KeyHint::scan_with(&refused, DEFAULT_MAX_TOKEN_BYTES, KeyHint::new).is_none());
        assert!(matches!(
            KeyHint::parse(&refused, DEFAULT_MAX_TOKEN_BYTES),
            Err(Error::UnsupportedAlgorithm { .. })
        ));
    }

    /// The signature check without decoding accepts exactly what decoding
    /// accepts.
    #[test]
    fn strict_base64url_check_matches_decoder() {
        let alphabet = b"AZaz09-_+/= \n.";
        let mut text = Vec::new();
        for len in 0..6 {
            let count = alphabet.len().pow(len as u32);
            for mut index in 0..count {
                text.clear();
                for _ in 0..len {
                    text.push(alphabet[index % alphabet.len()]);
                    index /= alphabet.len();
                }
                let text = std::str::from_utf8(&text).unwrap();
                assert_eq!(
                    is_strict_base64url(text),
                    BASE64URL.decode(text).is_ok(),
                    "{text:?}"
                );
            }
        }
    }

    /// Non-UTF-8 JSON is refused.
    #[test]
    fn invalid_utf8() {
        let text = format!(
            "{}.{}.c2ln",
            b64(br#"{"alg":"RS256"}"#),
            b64(b"{\"a\":\"\xff\"}")
        );
        assert!(matches!(
            parse(&text).unwrap_err(),
            Error::MalformedToken { .. }
        ));
    }
}
