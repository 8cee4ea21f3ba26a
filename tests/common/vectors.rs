//! Helpers for reading the external test vectors under `tests/vectors/`.
//!
//! Included by `tests/wycheproof.rs` and `tests/rfc7520.rs` with
//! `#[path = "common/vectors.rs"] mod vectors;`; each test crate uses a part
//! of it.

#![allow(
    dead_code,
    reason = "each test crate uses a different part of this module"
)]

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwks_registry::Error;
use serde_json::{Map, Value};

/// Members that only a private JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4.1,
/// RFC 8037 §2). `k` of an `oct` key stays: the crate refuses such keys
/// anyway, and the tests check that it does.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// The path of a file under `tests/vectors/`.
pub fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(relative)
}

/// Reads a file under `tests/vectors/` as text.
pub fn read_text(relative: &str) -> String {
    let path = path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Reads and parses a JSON file under `tests/vectors/`.
pub fn load(relative: &str) -> Value {
    serde_json::from_str(&read_text(relative))
        .unwrap_or_else(|err| panic!("{relative} is not JSON: {err}"))
}

/// Decodes lowercase or uppercase hex; the vectors are trusted test data,
/// so bad input panics.
pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex: {text:?}");
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).expect("hex is ASCII");
            u8::from_str_radix(digits, 16).unwrap_or_else(|_| panic!("not hex: {digits:?}"))
        })
        .collect()
}

/// Encodes bytes as base64url without padding, the JOSE encoding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWK as a map with every private member removed.
pub fn public_jwk(jwk: &Value) -> Map<String, Value> {
    let mut map = jwk.as_object().expect("a JWK is a JSON object").clone();
    for member in PRIVATE_MEMBERS {
        map.remove(member);
    }
    map
}

/// An EC public key given as an uncompressed SEC1 point (`04‖x‖y`, hex),
/// as a JWK.
pub fn ec_jwk(curve: &str, uncompressed_hex: &str) -> Map<String, Value> {
    let point = hex(uncompressed_hex);
    assert_eq!(point.first(), Some(&0x04), "not an uncompressed point");
    let half = (point.len() - 1) / 2;
    let mut map = Map::new();
    map.insert("kty".into(), "EC".into());
    map.insert("crv".into(), curve.into());
    map.insert("x".into(), b64(&point[1..1 + half]).into());
    map.insert("y".into(), b64(&point[1 + half..]).into());
    map
}

/// The variant of an [`Error`], so that tables can name the expected
/// refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    MalformedToken,
    UnsupportedAlgorithm,
    UnsupportedCritical,
    KeyNotFound,
    AmbiguousKey,
    KeyMismatch,
    InvalidKey,
    InvalidKeySet,
    InvalidSignature,
    /// A variant no test here expects.
    Other,
}

/// Names the variant of `err`.
pub fn kind(err: &Error) -> Kind {
    match err {
        Error::MalformedToken { .. } => Kind::MalformedToken,
        Error::UnsupportedAlgorithm { .. } => Kind::UnsupportedAlgorithm,
        Error::UnsupportedCritical { .. } => Kind::UnsupportedCritical,
        Error::KeyNotFound { .. } => Kind::KeyNotFound,
        Error::AmbiguousKey { .. } => Kind::AmbiguousKey,
        Error::KeyMismatch { .. } => Kind::KeyMismatch,
        Error::InvalidKey { .. } => Kind::InvalidKey,
        Error::InvalidKeySet { .. } => Kind::InvalidKeySet,
        Error::InvalidSignature => Kind::InvalidSignature,
        _ => Kind::Other,
    }
}

/// Reduces a result to success or the kind of its error.
pub fn outcome<T>(result: &Result<T, Error>) -> Result<(), Kind> {
    match result {
        Ok(_) => Ok(()),
        Err(err) => Err(kind(err)),
    }
}
