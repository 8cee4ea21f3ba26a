//! What each fuzz target does with its input, as plain functions over bytes.
//!
//! Every function runs the input through the crate's public API and asserts
//! properties that must hold for any input; a panic is a finding. None of
//! them knows about libFuzzer, so the committed seeds also replay on stable
//! through `tests/fuzz_seeds.rs`.
//!
//! This file is compiled twice: as a module of the `jwks-registry-fuzz`
//! library and, included by path, inside the main crate's test. It may
//! therefore use only `jwks_registry`, `serde_json`, `base64` and `std`.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwks_registry::{
    Algorithm, DEFAULT_MAX_TOKEN_BYTES, Error, ErrorClass, Header, KeySet, MAX_KEY_ID_BYTES,
    MAX_KEYS_PER_SET, UnverifiedToken, Validation, VerifyingKey,
};
use serde_json::{Map, Value};

/// The issuer the discovery, verify and claims targets expect; the seed
/// tokens name it.
const ISSUER: &str = "https://issuer.example";

/// The fixed clock of the verify and claims targets, in seconds since the
/// Unix epoch. The seed tokens were issued at 1,700,000,000 and expire 600
/// seconds later.
const NOW: u64 = 1_700_000_100;

/// The public keys of the verify target: RSA 2048 (no `alg`, so every RSA
/// scheme), P-256 (ES256), P-384 (ES384) and Ed25519 (EdDSA).
const KEYS_JSON: &str = include_str!("../keys/jwks.json");

/// Every token signed with the private halves of [`KEYS_JSON`], one a line.
/// The private keys were discarded after signing them.
const SIGNED_TOKENS: &str = include_str!("../keys/tokens.txt");

/// Members that only a private JWK has.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Headers the claims target puts in front of its input.
const CLAIMS_HEADERS: [&str; 3] = [
    r#"{"alg":"RS256"}"#,
    r#"{"alg":"ES256","typ":"at+jwt"}"#,
    r#"{"alg":"EdDSA","typ":"application/AT+JWT","kid":"k"}"#,
];

// ===== token

/// Parses the input, as lossy UTF-8, as an unverified JWT under the default
/// size limit and under limits at its own length.
///
/// A token that parses must have exactly three canonical base64url segments
/// whose JSON equals what a plain `serde_json` parse reads, a supported
/// `alg`, no `crit`, and a `kid` of at most 256 bytes. The size limit must
/// be applied to the byte.
pub fn token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);

    let default = UnverifiedToken::parse(&text);
    match &default {
        Ok(parsed) => check_unverified(&text, parsed),
        Err(err) => assert_rejected(err),
    }
    check_key_hint(&text, &default);

    // One byte below its length, a token is refused for its size alone.
    if let Some(below) = text.len().checked_sub(1) {
        match UnverifiedToken::parse_with_limit(&text, below) {
            Err(Error::TokenTooLarge { len, max }) => {
                assert_eq!((len, max), (text.len(), below));
            }
            other => panic!("a token over the limit was not refused for its size: {other:?}"),
        }
    }

    // At exactly its length the limit lets it through, and the outcome is
    // the default limit's whenever the token fits under that.
    let exact = UnverifiedToken::parse_with_limit(&text, text.len());
    if let (Ok(parsed), Err(_)) = (&exact, &default) {
        check_unverified(&text, parsed);
    }
    if text.len() <= DEFAULT_MAX_TOKEN_BYTES {
        assert_eq!(
            exact.is_ok(),
            default.is_ok(),
            "the limit changed the outcome"
        );
    } else {
        assert!(
            matches!(default, Err(Error::TokenTooLarge { .. })),
            "a token over the default limit was not refused for its size"
        );
    }
}

/// `get_key`'s cheaper parse agrees with the full one: the same issuer,
/// `kid` and algorithm, or the same error.
fn check_key_hint(text: &str, full: &Result<UnverifiedToken<'_>, Error>) {
    let hint = jwks_registry::fuzzing::key_hint(text).map_err(|err| err.to_string());
    let expected = match full {
        Err(err) => Err(err.to_string()),
        Ok(parsed) => match parsed.claims().get("iss") {
            Some(serde_json::Value::String(issuer)) => Ok((
                issuer.clone(),
                parsed.key_id().map(str::to_owned),
                parsed.header().algorithm(),
            )),
            Some(_) => Err("malformed token claims: \"iss\" is not a string".to_owned()),
            None => Err("required claim \"iss\" is missing".to_owned()),
        },
    };
    assert_eq!(hint, expected, "the key hint disagrees with the full parse");
}

/// The properties of a token that parsed.
fn check_unverified(text: &str, parsed: &UnverifiedToken<'_>) {
    let segments: Vec<&str> = text.split('.').collect();
    assert_eq!(segments.len(), 3, "parsed without exactly three segments");

    // Canonical base64url: each segment is the one encoding of its bytes.
    let decoded: Vec<Vec<u8>> = segments
        .iter()
        .map(|segment| {
            let bytes = URL_SAFE_NO_PAD
                .decode(segment)
                .expect("a parsed segment is base64url");
            assert_eq!(&URL_SAFE_NO_PAD.encode(&bytes), segment, "non-canonical");
            bytes
        })
        .collect();

    // The strict JSON reading agrees with a plain one.
    let header: Map<String, Value> =
        serde_json::from_slice(&decoded[0]).expect("a parsed header is a JSON object");
    assert_eq!(&header, parsed.header().members());
    let claims: Map<String, Value> =
        serde_json::from_slice(&decoded[1]).expect("parsed claims are a JSON object");
    assert_eq!(&claims, parsed.claims());

    check_header(parsed.header());
    assert_eq!(
        parsed.issuer(),
        claims.get("iss").and_then(Value::as_str),
        "issuer() is not the string iss"
    );
    assert_eq!(parsed.key_id(), parsed.header().key_id());
}

/// The properties of a header that parsed.
fn check_header(header: &Header) {
    let members = header.members();
    let alg = header.algorithm();
    assert!(Algorithm::ALL.contains(&alg));
    let named = members.get("alg").and_then(Value::as_str);
    assert_eq!(
        named.map(Algorithm::from_name).and_then(Result::ok),
        Some(alg),
        "algorithm() is not the header's alg"
    );
    if let Some(kid) = header.key_id() {
        assert!(kid.len() <= MAX_KEY_ID_BYTES, "kid of {} bytes", kid.len());
    }
    assert_eq!(header.key_id(), members.get("kid").and_then(Value::as_str));
    assert_eq!(
        header.media_type(),
        members.get("typ").and_then(Value::as_str)
    );
    assert_eq!(
        header.content_type(),
        members.get("cty").and_then(Value::as_str)
    );
    assert!(!members.contains_key("crit"), "a crit header was accepted");
    assert!(
        matches!(members.get("b64"), None | Some(Value::Bool(true))),
        "an unencoded payload was accepted"
    );
}

/// Errors about a token must say "the token is bad", never "try later".
fn assert_rejected(err: &Error) {
    assert_eq!(err.class(), ErrorClass::Rejected, "{err}");
}

// ===== jwks

/// Imports the input as a JWK Set and as a single JWK.
///
/// A set that imports holds at least one key and accounts for every entry
/// up to [`MAX_KEYS_PER_SET`]; every key re-imports from its own JWK, fits
/// its `alg` and only that, carries no private member, and key selection
/// returns only a unique fitting key.
pub fn jwks(data: &[u8]) {
    if let Ok(set) = KeySet::from_json(data) {
        check_key_set(data, &set);
    }
    if let Ok(key) = VerifyingKey::from_json(data) {
        check_key(&key);
        check_selection(&KeySet::from_keys([key]));
    }
}

/// The properties of a key set that imported.
fn check_key_set(data: &[u8], set: &KeySet) {
    let document: Map<String, Value> =
        serde_json::from_slice(data).expect("an imported set is a JSON object");
    let Some(Value::Array(entries)) = document.get("keys") else {
        panic!("a set without a \"keys\" array imported");
    };
    assert!(!set.keys().is_empty(), "a set without keys imported");

    // Every entry considered is either a key or skipped, in order.
    let considered = entries.len().min(MAX_KEYS_PER_SET);
    let skipped_within = set
        .skipped()
        .iter()
        .filter(|skipped| skipped.index < MAX_KEYS_PER_SET)
        .count();
    assert_eq!(set.keys().len() + skipped_within, considered);
    assert_eq!(
        entries.len() > MAX_KEYS_PER_SET,
        set.skipped()
            .iter()
            .any(|skipped| skipped.index == MAX_KEYS_PER_SET)
    );
    assert!(
        set.skipped()
            .windows(2)
            .all(|pair| pair[0].index < pair[1].index)
    );
    for skipped in set.skipped() {
        assert!(!skipped.reason.is_empty());
    }

    for key in set.keys() {
        check_key(key);
        assert!(
            entries[..considered]
                .iter()
                .any(|entry| entry.as_object() == Some(key.jwk())),
            "a key that is not one of the entries"
        );
    }
    check_selection(set);
}

/// The properties of a key that imported.
fn check_key(key: &VerifyingKey) {
    let jwk = key.jwk();
    assert!(["RSA", "EC", "OKP"].contains(&key.key_type()));
    assert_eq!(jwk.get("kty").and_then(Value::as_str), Some(key.key_type()));
    assert_eq!(key.key_id(), jwk.get("kid").and_then(Value::as_str));
    assert!(key.key_id().is_none_or(|kid| kid.len() <= MAX_KEY_ID_BYTES));
    for member in PRIVATE_MEMBERS {
        assert!(!jwk.contains_key(member), "private member {member} kept");
    }
    assert!(matches!(jwk.get("use"), None | Some(Value::String(_))));
    if let Some(usage) = jwk.get("use") {
        assert_eq!(usage, "sig");
    }

    // A key fits its own `alg` and only that; without one, a whole family.
    let supported: Vec<Algorithm> = Algorithm::ALL
        .into_iter()
        .filter(|alg| key.supports(*alg))
        .collect();
    assert!(!supported.is_empty(), "a key that verifies nothing");
    if let Some(own) = key.algorithm() {
        assert_eq!(supported, [own]);
    }

    // An algorithm that does not fit is refused before any cryptography; one
    // that fits runs through ring, whatever the result.
    for alg in Algorithm::ALL {
        let result = key.verify(alg, b"message", &[0; 64]);
        if !supported.contains(&alg) {
            assert!(matches!(result, Err(Error::KeyMismatch { .. })));
        }
    }

    // Importing the JWK as received gives the same key.
    let again = VerifyingKey::from_jwk(jwk.clone()).expect("a key re-imports from its own JWK");
    assert_eq!(again.key_id(), key.key_id());
    assert_eq!(again.algorithm(), key.algorithm());
    assert_eq!(again.key_type(), key.key_type());
}

/// [`KeySet::find`] returns a key only if it is the one key with that `kid`
/// (or any, without a `kid`) that fits the algorithm.
fn check_selection(set: &KeySet) {
    let mut key_ids: Vec<Option<&str>> = vec![None, Some("")];
    key_ids.extend(set.keys().iter().take(4).map(|key| key.key_id()));
    for kid in key_ids {
        for alg in Algorithm::ALL {
            let fitting = set
                .keys()
                .iter()
                .filter(|key| kid.is_none() || key.key_id() == kid)
                .filter(|key| key.supports(alg))
                .count();
            match set.find(kid, alg) {
                Ok(key) => {
                    assert_eq!(fitting, 1);
                    assert!(key.supports(alg));
                    assert!(kid.is_none() || key.key_id() == kid);
                }
                Err(Error::AmbiguousKey { .. }) => assert!(fitting >= 2),
                Err(Error::KeyNotFound { .. } | Error::KeyMismatch { .. }) => {
                    assert_eq!(fitting, 0);
                }
                Err(other) => panic!("find failed with {other}"),
            }
        }
    }
}

// ===== discovery

/// Reads the input as the discovery document of `https://issuer.example`.
///
/// A document that reads names that issuer exactly and a `jwks_uri` that
/// is https without a fragment; allowing http never refuses a document
/// that https-only accepts.
pub fn discovery(data: &[u8]) {
    let https_only = jwks_registry::fuzzing::parse_discovery_document(ISSUER, data, false);
    let with_http = jwks_registry::fuzzing::parse_discovery_document(ISSUER, data, true);

    if let Ok(uri) = &https_only {
        assert_eq!(
            with_http.as_ref().ok(),
            Some(uri),
            "allowing http refused it"
        );
        assert!(has_scheme(uri, "https://"), "jwks_uri {uri:?} is not https");
    }
    if let Ok(uri) = &with_http {
        let document: Map<String, Value> =
            serde_json::from_slice(data).expect("an accepted document is a JSON object");
        assert_eq!(document.get("issuer").and_then(Value::as_str), Some(ISSUER));
        assert_eq!(
            document.get("jwks_uri").and_then(Value::as_str),
            Some(uri.as_str())
        );
        assert!(has_scheme(uri, "https://") || has_scheme(uri, "http://"));
        assert!(!uri.contains('#'), "jwks_uri {uri:?} has a fragment");
    }
}

fn has_scheme(uri: &str, scheme: &str) -> bool {
    uri.get(..scheme.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
}

// ===== verify

/// The fixed key set, the signing inputs of the tokens signed for it, and
/// the rules the verify target applies.
struct VerifyFixture {
    keys: KeySet,
    signed: HashSet<&'static str>,
    /// Audience `api`, issuer, `typ` JWT, `exp` required, default leeway.
    strict: Validation,
    /// No audience, nothing required, no leeway, EdDSA and ES256 only.
    lax: Validation,
}

fn verify_fixture() -> &'static VerifyFixture {
    static FIXTURE: OnceLock<VerifyFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = KeySet::from_json(KEYS_JSON.as_bytes()).expect("the committed keys import");
        assert_eq!(keys.keys().len(), 4, "every committed key imports");
        VerifyFixture {
            keys,
            signed: SIGNED_TOKENS.lines().map(signing_input).collect(),
            strict: Validation::new(["api"])
                .issuer(ISSUER)
                .expected_type("JWT")
                .at_time(at(NOW)),
            lax: Validation::without_audience()
                .required_claims::<[&str; 0], &str>([])
                .leeway(Duration::ZERO)
                .algorithms([Algorithm::EdDSA, Algorithm::ES256])
                .at_time(at(NOW)),
        }
    })
}

/// Verifies the input, as lossy UTF-8, against the fixed key set: as a JWT
/// under two sets of rules, and as a JWS.
///
/// Nothing verifies unless its signing input is one that was signed, the
/// key chosen has the token's `kid` and fits its `alg`, and the verified
/// claims meet the rules.
pub fn verify(data: &[u8]) {
    let fixture = verify_fixture();
    let text = String::from_utf8_lossy(data);

    let jws = fixture.keys.verify_jws(&text);
    match &jws {
        Ok(verified) => {
            assert_signed(fixture, &text);
            check_header(verified.header());
            check_chosen_key(verified.header(), verified.key());
            let payload = text
                .split('.')
                .nth(1)
                .expect("a verified JWS has a payload");
            assert_eq!(
                URL_SAFE_NO_PAD.decode(payload).ok().as_deref(),
                Some(verified.payload())
            );
        }
        Err(err) => assert_rejected(err),
    }

    for (rules, strict) in [(&fixture.strict, true), (&fixture.lax, false)] {
        let verified = match fixture.keys.verify(&text, rules) {
            Ok(verified) => verified,
            Err(err) => {
                assert_rejected(&err);
                continue;
            }
        };
        assert_signed(fixture, &text);
        let jws = jws.as_ref().expect("a verified JWT is a verified JWS");
        assert!(std::sync::Arc::ptr_eq(verified.key(), jws.key()));
        check_chosen_key(verified.header(), verified.key());
        let unverified = UnverifiedToken::parse(&text).expect("a verified JWT parses");
        assert_eq!(verified.claims(), unverified.claims());
        assert!(
            rules.validate(verified.header(), verified.claims()).is_ok(),
            "verified claims fail their own rules"
        );

        let claims = verified.claims();
        if strict {
            assert_eq!(verified.issuer(), Some(ISSUER));
            assert!(audience_contains(claims, "api"));
            assert!(verified.header().media_type().is_some());
            let exp = claims.get("exp").and_then(Value::as_f64);
            assert!(exp.is_some_and(|exp| (NOW as f64) < exp + 60.0));
        } else {
            let alg = verified.header().algorithm();
            assert!(alg == Algorithm::EdDSA || alg == Algorithm::ES256);
        }
    }
}

/// The text up to the signature: what the signature covers.
fn signing_input(token: &str) -> &str {
    token.rfind('.').map_or(token, |dot| &token[..dot])
}

fn assert_signed(fixture: &VerifyFixture, text: &str) {
    assert!(
        fixture.signed.contains(signing_input(text)),
        "a signing input that was never signed verified"
    );
}

fn check_chosen_key(header: &Header, key: &VerifyingKey) {
    assert!(key.supports(header.algorithm()));
    if let Some(kid) = header.key_id() {
        assert_eq!(key.key_id(), Some(kid));
    }
}

fn audience_contains(claims: &Map<String, Value>, audience: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(items)) => items.iter().any(|item| item == audience),
        _ => false,
    }
}

// ===== claims

/// The rules the claims target applies, all at [`NOW`].
struct ClaimsFixture {
    /// No audience, nothing required, the default leeway of 60 seconds.
    lax: Validation,
    /// As `lax`, with no leeway.
    no_leeway: Validation,
    /// As `lax`, with a leeway of `Duration::MAX`.
    forever: Validation,
    /// Audience `api`, issuer, `exp` required.
    audience: Validation,
    /// Audience `api` or `other`, `exp`, `nbf`, `iat` and `sub` required,
    /// `typ` at+jwt, ES256 or EdDSA, no leeway.
    typed: Validation,
}

fn claims_fixture() -> &'static ClaimsFixture {
    static FIXTURE: OnceLock<ClaimsFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let lax = Validation::without_audience()
            .required_claims::<[&str; 0], &str>([])
            .at_time(at(NOW));
        ClaimsFixture {
            no_leeway: lax.clone().leeway(Duration::ZERO),
            forever: lax.clone().leeway(Duration::MAX),
            lax,
            audience: Validation::new(["api"]).issuer(ISSUER).at_time(at(NOW)),
            typed: Validation::new(["api", "other"])
                .required_claims(["exp", "nbf", "iat", "sub"])
                .expected_type("at+jwt")
                .algorithms([Algorithm::ES256, Algorithm::EdDSA])
                .leeway(Duration::ZERO)
                .at_time(at(NOW)),
        }
    })
}

/// Takes the input as the claims of a token with each of a few fixed
/// headers and validates them under several rules.
///
/// The strict parse agrees with a plain `serde_json` parse except on
/// duplicate names; stricter rules never accept what laxer ones refuse;
/// accepted claims meet the rules they passed; and `get_key`'s own reading
/// of `iss`, `kid` and `alg` agrees with the full parse, with the input as
/// the claims and as the header.
pub fn claims(data: &[u8]) {
    let fixture = claims_fixture();
    let payload = URL_SAFE_NO_PAD.encode(data);
    let plain: Option<Map<String, Value>> = serde_json::from_slice(data).ok();

    let fixed_header = URL_SAFE_NO_PAD.encode(CLAIMS_HEADERS[2]);
    let fixed_claims = URL_SAFE_NO_PAD.encode(format!(r#"{{"iss":"{ISSUER}"}}"#));
    for token in [
        format!("{fixed_header}.{payload}.AA"),
        format!("{payload}.{fixed_claims}.AA"),
    ] {
        if token.len() <= DEFAULT_MAX_TOKEN_BYTES {
            check_key_hint(&token, &UnverifiedToken::parse(&token));
        }
    }

    for header in CLAIMS_HEADERS {
        let token = format!("{}.{payload}.AA", URL_SAFE_NO_PAD.encode(header));
        let parsed = match UnverifiedToken::parse_with_limit(&token, token.len()) {
            Ok(parsed) => parsed,
            Err(err) => {
                assert_rejected(&err);
                if plain.is_some() {
                    assert!(
                        err.to_string().contains("duplicate member"),
                        "a JSON object serde_json reads was refused: {err}"
                    );
                }
                continue;
            }
        };
        let (header, claims) = (parsed.header(), parsed.claims());
        assert_eq!(Some(claims), plain.as_ref());

        let outcome = |rules: &Validation| {
            let result = rules.validate(header, claims);
            if let Err(err) = &result {
                assert_rejected(err);
            }
            result.is_ok()
        };
        let lax = outcome(&fixture.lax);
        let no_leeway = outcome(&fixture.no_leeway);
        let forever = outcome(&fixture.forever);
        let audience = outcome(&fixture.audience);
        let typed = outcome(&fixture.typed);

        // Stricter rules accept only what laxer ones accept.
        assert!(!lax || forever, "a longer leeway refused");
        assert!(!no_leeway || lax, "a leeway refused what none accepted");
        assert!(!audience || lax, "the audience rules accepted more");
        assert!(!typed || no_leeway, "the typed rules accepted more");

        // Rules that ask nothing refuse only a claim of the wrong type or a
        // time outside the window.
        if let Err(err) = fixture.lax.validate(header, claims) {
            assert!(
                matches!(
                    err,
                    Error::InvalidClaim { .. } | Error::Expired { .. } | Error::NotYetValid { .. }
                ),
                "lax rules refused with {err}"
            );
        }

        let now = NOW as f64;
        let number = |name: &str| claims.get(name).and_then(Value::as_f64);
        if audience {
            assert_eq!(parsed.issuer(), Some(ISSUER));
            assert!(audience_contains(claims, "api"));
            assert!(number("exp").is_some_and(|exp| now < exp + 60.0));
        }
        if typed {
            assert!(audience_contains(claims, "api") || audience_contains(claims, "other"));
            assert!(number("exp").is_some_and(|exp| now < exp));
            assert!(number("nbf").is_some_and(|nbf| nbf <= now));
            assert!(number("iat").is_some());
            assert!(claims.get("sub").is_some_and(Value::is_string));
            assert!(header.media_type().is_some());
        }
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}
