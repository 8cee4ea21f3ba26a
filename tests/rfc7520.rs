//! The JWS examples of RFC 7520 (the JOSE cookbook), RFC 8037 §A.4 and
//! RFC 7797, run through the public API only.
//!
//! The examples the crate supports verify and yield the cookbook's payload;
//! the others (P-521, HMAC, the JSON serialization, unencoded payloads) are
//! refused with the error that names why.

#[path = "common/vectors.rs"]
mod vectors;

use jwks_registry::{Algorithm, Error, KeySet, UnverifiedToken, VerifyingKey};
use serde_json::Value;

use vectors::{Kind, b64, kind, load, public_jwk, read_text};

/// The RFC 7520 §3.3 RSA public key, the only key of the set.
fn cookbook_rsa_keys() -> KeySet {
    let key =
        VerifyingKey::from_json(read_text("jose-cookbook/jwk/3_3.rsa_public_key.json").as_bytes())
            .expect("the RFC 7520 §3.3 key imports");
    KeySet::from_keys([key])
}

fn compact(example: &Value) -> &str {
    example["output"]["compact"]
        .as_str()
        .expect("the example has a compact serialization")
}

fn payload(example: &Value) -> &str {
    example["input"]["payload"]
        .as_str()
        .expect("the example has a payload")
}

/// RFC 7520 §4.1: the RS256 example verifies with the §3.3 key and yields
/// the payload.
#[test]
fn rs256_example_verifies() {
    let example = load("jose-cookbook/jws/4_1.rsa_v15_signature.json");
    let verified = cookbook_rsa_keys().verify_jws(compact(&example)).unwrap();
    assert_eq!(verified.header().algorithm(), Algorithm::RS256);
    assert_eq!(
        verified.header().key_id(),
        Some("bilbo.baggins@hobbiton.example")
    );
    assert_eq!(verified.payload(), payload(&example).as_bytes());
}

/// RFC 7520 §4.2: the PS384 example verifies with the §3.3 key and yields
/// the payload.
#[test]
fn ps384_example_verifies() {
    let example = load("jose-cookbook/jws/4_2.rsa-pss_signature.json");
    let verified = cookbook_rsa_keys().verify_jws(compact(&example)).unwrap();
    assert_eq!(verified.header().algorithm(), Algorithm::PS384);
    assert_eq!(verified.payload(), payload(&example).as_bytes());
}

/// A changed byte of the RS256 example's payload makes it fail: the
/// examples above verify because of their signatures.
#[test]
fn rs256_example_with_another_payload_fails() {
    let example = load("jose-cookbook/jws/4_1.rsa_v15_signature.json");
    let mut segments: Vec<String> = compact(&example).split('.').map(str::to_owned).collect();
    segments[1] = b64(payload(&example).replace("Frodo", "Sam").as_bytes());
    let err = cookbook_rsa_keys()
        .verify_jws(&segments.join("."))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSignature), "{err}");
}

/// RFC 7520 §4.3: the ES512 example is refused as an unsupported algorithm
/// that names ES512, and its P-521 key is refused at import.
#[test]
fn es512_example_is_unsupported() {
    let example = load("jose-cookbook/jws/4_3.ecdsa_signature.json");

    let err = VerifyingKey::from_jwk(public_jwk(&example["input"]["key"])).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidKey { reason, .. } if reason.contains("P-521")),
        "{err}"
    );

    let err = UnverifiedToken::parse(compact(&example)).unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedAlgorithm { alg } if alg.contains("ES512")),
        "{err}"
    );
    let err = cookbook_rsa_keys()
        .verify_jws(compact(&example))
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedAlgorithm { alg } if alg.contains("ES512")),
        "{err}"
    );
}

/// RFC 7520 §4.4: the HS256 example is refused, and so is its `oct` key.
#[test]
fn hs256_example_is_refused() {
    let example = load("jose-cookbook/jws/4_4.hmac-sha2_integrity_protection.json");

    let err = VerifyingKey::from_jwk(public_jwk(&example["input"]["key"])).unwrap_err();
    assert_eq!(kind(&err), Kind::InvalidKey, "{err}");

    let err = cookbook_rsa_keys()
        .verify_jws(compact(&example))
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedAlgorithm { alg } if alg.contains("HS256")),
        "{err}"
    );
}

/// RFC 7520 §4.6 to §4.8 exist only in the JSON serialization, which a
/// compact-only parser refuses as malformed, general or flattened; so are the
/// JSON forms of §4.1 and §4.2, whose compact forms verify.
#[test]
fn json_serialization_is_refused() {
    let keys = cookbook_rsa_keys();
    let mut forms = 0;
    for (file, json_only) in [
        ("jws/4_1.rsa_v15_signature.json", false),
        ("jws/4_2.rsa-pss_signature.json", false),
        ("jws/4_6.protecting_specific_header_fields.json", true),
        ("jws/4_7.protecting_content_only.json", true),
        ("jws/4_8.multiple_signatures.json", true),
    ] {
        let example = load(&format!("jose-cookbook/{file}"));
        let output = &example["output"];
        assert_eq!(output.get("compact").is_none(), json_only, "{file}");

        for name in ["json", "json_flat"] {
            let Some(serialized) = output.get(name) else {
                continue;
            };
            for text in [
                serialized.to_string(),
                serde_json::to_string_pretty(serialized).unwrap(),
            ] {
                forms += 1;
                let err = keys.verify_jws(&text).unwrap_err();
                assert_eq!(kind(&err), Kind::MalformedToken, "{file} {name}: {err}");
            }
        }
    }
    // Two forms each of 4.1, 4.2, 4.6 and 4.7, one of 4.8 (general only),
    // each compact and pretty-printed.
    assert_eq!(forms, 18);
}

/// RFC 8037 §A.4: the Ed25519 example verifies and yields the payload.
#[test]
fn ed25519_example_verifies() {
    let example = load("jose-cookbook/curve25519/jws.json");
    let key = VerifyingKey::from_jwk(public_jwk(&example["input"]["key"])).unwrap();
    let verified = KeySet::from_keys([key])
        .verify_jws(compact(&example))
        .unwrap();
    assert_eq!(verified.header().algorithm(), Algorithm::EdDSA);
    assert_eq!(verified.payload(), payload(&example).as_bytes());
    assert_eq!(payload(&example), "Example of Ed25519 signing");
}

/// RFC 7797: unencoded payloads (`"b64": false`) are refused in every form
/// the examples give.
#[test]
fn unencoded_payload_is_refused() {
    let keys = cookbook_rsa_keys();

    // The compact form carries the payload as raw text, spaces and `!`
    // included. Every segment is decoded before the header is read, so the
    // token fails as malformed, before `b64` (or its HS256) is looked at.
    let example = load("jose-cookbook/rfc7797/hmac-sha2_b64_false.json");
    let token = compact(&example);
    assert_eq!(token.split('.').nth(1), Some(payload(&example)));
    let err = keys.verify_jws(token).unwrap_err();
    assert_eq!(kind(&err), Kind::MalformedToken, "{err}");

    // The JSON forms of both examples are refused as any JSON serialization.
    for file in [
        "rfc7797/hmac-sha2_b64_false.json",
        "rfc7797/4.2.hmac-sha2_b64_false.json",
    ] {
        let example = load(&format!("jose-cookbook/{file}"));
        for name in ["json", "json_flat"] {
            let text = example["output"][name].to_string();
            let err = keys.verify_jws(&text).unwrap_err();
            assert_eq!(kind(&err), Kind::MalformedToken, "{file} {name}: {err}");
        }
    }
}
