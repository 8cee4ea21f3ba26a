//! Project Wycheproof vectors, run through the public API only.
//!
//! The JWS and JWK files go through [`KeySet`], as a verifier receives them.
//! The primitive files (RSA PKCS#1 v1.5, RSA-PSS, ECDSA, Ed25519) go through
//! [`VerifyingKey::from_jwk`] and [`VerifyingKey::verify`]: a JWS signs the
//! base64url text of its header and payload, not the raw message that the
//! primitive vectors sign, so those cannot be wrapped into tokens that verify.
//!
//! Nothing is skipped. Each test counts its cases against the totals the
//! files declare, and every case where the crate disagrees with Wycheproof,
//! or where Wycheproof leaves the choice open (`acceptable`), is listed in a
//! table with the reason and asserted to get the crate's outcome.
//!
//! The crate never verifies HMAC (`HS*`) and refuses `oct` keys: a registry
//! of public keys must not treat a key as a shared secret (RFC 8725 §2.1).
//! Every HMAC case is therefore asserted to be refused, whatever Wycheproof
//! expects of an HMAC verifier.

#[path = "common/vectors.rs"]
mod vectors;

use jwks_registry::{Algorithm, KeySet, VerifyingKey};
use serde_json::{Map, Value};

use vectors::{Kind, b64, ec_jwk, hex, kind, load, outcome, public_jwk};

// ===== json_web_signature_test.json

/// The result of one step (key import, set import, token verification):
/// success, or the kind of error.
type Step = Result<(), Kind>;

/// What the crate did with one JWS case: the import of the group's key, then
/// the token. When the key is refused, the token still goes through
/// `verify_jws`, against an empty set, so that its own defects show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outcome {
    key: Step,
    token: Step,
}

impl Outcome {
    fn verified(self) -> bool {
        self.key.is_ok() && self.token.is_ok()
    }
}

/// The key import failed.
const KEY_REFUSED: Step = Err(Kind::InvalidKey);

/// The eight expectations of `json_web_signature_test.json` that a strict
/// verifier does not share, each checked byte by byte: tcId, Wycheproof's
/// result, the crate's outcome, and why.
const KNOWN_WRONG: [(u64, &str, Outcome, &str); 8] = [
    (
        346,
        "valid",
        Outcome {
            key: Ok(()),
            token: Err(Kind::KeyMismatch),
        },
        "a PS384 token (RFC 7520 figure 20) checked with a key whose JWK `alg` is PS256; \
         a JWK `alg` restricts the key to that one algorithm (RFC 7517 §4.4)",
    ),
    (
        347,
        "valid",
        Outcome {
            key: KEY_REFUSED,
            token: Err(Kind::UnsupportedAlgorithm),
        },
        "an ES512 token (RFC 7520 figure 27) with a P-521 key whose `alg` is `ES521`, a name \
         no registry defines; ring has no P-521, so the key is refused and ES512 is unsupported",
    ),
    (
        350,
        "valid",
        Outcome {
            key: Ok(()),
            token: Err(Kind::KeyMismatch),
        },
        "as 346, with `key_ops` in the key: a PS384 token and a key whose `alg` is PS256",
    ),
    (
        351,
        "valid",
        Outcome {
            key: KEY_REFUSED,
            token: Err(Kind::UnsupportedAlgorithm),
        },
        "as 347, with `key_ops` in the key: P-521, `alg` `ES521`, token ES512",
    ),
    (
        367,
        "invalid",
        Outcome {
            key: KEY_REFUSED,
            token: Err(Kind::UnsupportedAlgorithm),
        },
        "byte-identical to the valid tcId 357: its encoding is correct, so the token is \
         refused only for its HS256",
    ),
    (
        370,
        "invalid",
        Outcome {
            key: KEY_REFUSED,
            token: Err(Kind::UnsupportedAlgorithm),
        },
        "byte-identical to the valid tcId 357, as 367",
    ),
    (
        372,
        "valid",
        Outcome {
            key: KEY_REFUSED,
            token: Err(Kind::MalformedToken),
        },
        "the header segment contains `?`, which is not in the base64url alphabet",
    ),
    (
        373,
        "valid",
        Outcome {
            key: KEY_REFUSED,
            token: Err(Kind::MalformedToken),
        },
        "the payload segment contains `?`, which is not in the base64url alphabet",
    ),
];

/// The "base64" group (tcIds 357 to 377) tests the base64url decoding of an
/// HS256 token. The crate refuses HS256, but it decodes all three segments
/// before it reads `alg`, so the error still tells whether the encoding was
/// accepted: `UnsupportedAlgorithm` means it was, `MalformedToken` means it
/// was not. tcId, the crate's error, and what the case contains.
const BASE64_GROUP: [(u64, Kind, &str); 21] = [
    (357, Kind::UnsupportedAlgorithm, "canonical encoding"),
    (358, Kind::UnsupportedAlgorithm, "MAC starting with `AAAA`"),
    (359, Kind::UnsupportedAlgorithm, "MAC starting with `____`"),
    (360, Kind::MalformedToken, "spaces before the MAC"),
    (361, Kind::MalformedToken, "`?` before the MAC"),
    (362, Kind::MalformedToken, "`?` after the MAC"),
    (
        363,
        Kind::MalformedToken,
        "`?` for the first character of the MAC",
    ),
    (
        364,
        Kind::MalformedToken,
        "`????` for the first four characters of the MAC",
    ),
    (365, Kind::MalformedToken, "spaces after the header"),
    (366, Kind::MalformedToken, "`####` after the header"),
    (
        367,
        Kind::UnsupportedAlgorithm,
        "same bytes as 357 (see KNOWN_WRONG)",
    ),
    (368, Kind::MalformedToken, "spaces before the payload"),
    (369, Kind::MalformedToken, "`####` before the payload"),
    (
        370,
        Kind::UnsupportedAlgorithm,
        "same bytes as 357 (see KNOWN_WRONG)",
    ),
    (371, Kind::MalformedToken, "`?` before the payload"),
    (
        372,
        Kind::MalformedToken,
        "`?` inside the header (see KNOWN_WRONG)",
    ),
    (
        373,
        Kind::MalformedToken,
        "`?` after the payload (see KNOWN_WRONG)",
    ),
    (
        374,
        Kind::MalformedToken,
        "payload `AB`: non-zero trailing bits",
    ),
    (
        375,
        Kind::MalformedToken,
        "payload `AB` again, MAC over that text",
    ),
    (
        376,
        Kind::UnsupportedAlgorithm,
        "spaces inside the header JSON, valid JSON",
    ),
    (
        377,
        Kind::UnsupportedAlgorithm,
        "newline and tab inside the header JSON, valid JSON",
    ),
];

/// All 401 compact JWS verify or fail as Wycheproof expects, except HMAC
/// (always refused) and the eight listed known-wrong expectations.
#[test]
fn json_web_signature() {
    let file = load("wycheproof/json_web_signature_test.json");
    let mut failures = Vec::new();
    let (mut total, mut valid, mut invalid, mut acceptable) = (0, 0, 0, 0);
    let (mut verified, mut hmac, mut known_wrong, mut json_serialization) = (0, 0, 0, 0);

    for group in array(&file, "testGroups") {
        // The public key when the group gives one, else the private key
        // without its private members.
        let jwk = match group.get("public") {
            Some(public) => public_jwk(public),
            None => public_jwk(&group["private"]),
        };
        let oct_key = jwk.get("kty").and_then(Value::as_str) == Some("oct");

        for case in array(group, "tests") {
            let id = tc_id(case);
            let result = text(case, "result");
            total += 1;
            match result {
                "valid" => valid += 1,
                "invalid" => invalid += 1,
                "acceptable" => acceptable += 1,
                other => panic!("tcId {id}: unknown result {other:?}"),
            }

            let token = case["jws"]
                .as_str()
                .unwrap_or_else(|| panic!("tcId {id}: jws is not a string"));
            let got = run_jws(&jwk, token);
            if got.verified() {
                verified += 1;
            }
            let mut check = |ok: bool, rule: &str| {
                if !ok {
                    failures.push(format!(
                        "tcId {id} ({}, Wycheproof: {result}): {rule}; got {got:?}",
                        text(case, "comment")
                    ));
                }
            };

            // A JSON serialization arrives as its JSON text: the compact-only
            // parser must refuse it as malformed.
            if has_flag(case, "JsonSerialization") {
                json_serialization += 1;
                check(
                    got.token == Err(Kind::MalformedToken),
                    "JSON serialization must be refused as malformed",
                );
            }

            let hmac_case = oct_key || header_alg(token).is_some_and(|alg| alg.starts_with("HS"));
            if hmac_case {
                hmac += 1;
            }

            if let Some((_, wycheproof, expected, _)) =
                KNOWN_WRONG.iter().find(|(known, ..)| *known == id)
            {
                known_wrong += 1;
                assert_eq!(result, *wycheproof, "tcId {id}: KNOWN_WRONG is stale");
                check(
                    got == *expected,
                    &format!("known-wrong case, expected {expected:?}"),
                );
            } else if hmac_case {
                if oct_key {
                    check(got.key == KEY_REFUSED, "an oct key must be refused");
                }
                if let Some((_, expected, _)) = BASE64_GROUP.iter().find(|(case, ..)| *case == id) {
                    check(
                        got.token == Err(*expected),
                        &format!("base64 group, expected the token to fail with {expected:?}"),
                    );
                } else if result == "valid" {
                    // A well-formed HMAC token is refused for its algorithm.
                    check(
                        got.token == Err(Kind::UnsupportedAlgorithm),
                        "a valid HMAC token must be refused as an unsupported algorithm",
                    );
                } else {
                    // Malformed ones may not get as far as `alg`.
                    check(
                        matches!(
                            got.token,
                            Err(Kind::UnsupportedAlgorithm | Kind::MalformedToken)
                        ),
                        "an HMAC token must be refused as unsupported or malformed",
                    );
                }
            } else if result == "valid" {
                check(got.verified(), "must verify");
            } else {
                check(!got.verified(), "must be refused");
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} case(s) disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(total, 401);
    assert_eq!(total, declared_tests(&file));
    // The file has no `acceptable` case, so there is no choice to state.
    assert_eq!((valid, invalid, acceptable), (46, 355, 0));
    assert_eq!(known_wrong, KNOWN_WRONG.len());
    // 40 cases with an oct key, and tcId 31: HS256 with the EC key's bytes.
    assert_eq!(hmac, 41);
    assert_eq!(json_serialization, 1);
    // 46 valid, less the 10 valid HMAC ones (372 and 373 among them) and the
    // other known-wrong valid ones (346, 347, 350, 351).
    assert_eq!(verified, 32);
}

fn run_jws(jwk: &Map<String, Value>, token: &str) -> Outcome {
    match VerifyingKey::from_jwk(jwk.clone()) {
        Ok(key) => Outcome {
            key: Ok(()),
            token: outcome(&KeySet::from_keys([key]).verify_jws(token)),
        },
        Err(err) => Outcome {
            key: Err(kind(&err)),
            token: outcome(&KeySet::default().verify_jws(token)),
        },
    }
}

/// The `alg` of a token's header, read leniently; `None` when the header
/// cannot be read.
fn header_alg(token: &str) -> Option<String> {
    use base64::Engine as _;

    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: Value = serde_json::from_slice(&bytes).ok()?;
    Some(header.get("alg")?.as_str()?.to_owned())
}

// ===== json_web_key_test.json

/// The expected handling of one case of `json_web_key_test.json`.
struct KeySetCase {
    id: u64,
    /// `KeySet::from_json` on the group's set, private members removed.
    set: Step,
    /// Text the set's error must contain, naming the rule that refused it.
    because: &'static str,
    /// `verify_jws` on the token, against an empty set when the set was
    /// refused.
    token: Step,
    /// Whether the crate's verdict differs from Wycheproof's.
    deviates: bool,
    why: &'static str,
}

/// Every case of `json_web_key_test.json`.
const KEY_SET_CASES: [KeySetCase; 26] = [
    KeySetCase {
        id: 1,
        set: Ok(()),
        because: "",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "oct and EC keys in one set: Wycheproof wants the set refused; the crate skips \
              the oct key, keeps the EC key (DESIGN §4), and refuses the HS256 token",
    },
    KeySetCase {
        id: 2,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: true,
        why: "valid HS256: a set of oct keys has no usable key, and HMAC is never verified",
    },
    KeySetCase {
        id: 3,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "HS256 with a modified MAC",
    },
    KeySetCase {
        id: 4,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "two oct keys with one kid: Wycheproof wants the set refused for the duplicate \
              kid; the crate refuses it because oct keys are unusable (two usable keys with one \
              kid would be kept, and a lookup of that kid refused as ambiguous)",
    },
    KeySetCase {
        id: 5,
        set: Ok(()),
        because: "",
        token: Ok(()),
        deviates: false,
        why: "RS256 with a 2048-bit key",
    },
    KeySetCase {
        id: 6,
        set: Err(Kind::InvalidKeySet),
        because: "\"use\"",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "`use` is `enc`",
    },
    KeySetCase {
        id: 7,
        set: Err(Kind::InvalidKeySet),
        because: "ROCA",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "modulus with the ROCA weakness (CVE-2017-15361)",
    },
    KeySetCase {
        id: 8,
        set: Err(Kind::InvalidKeySet),
        because: "1024 bits",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "1024-bit RSA modulus",
    },
    KeySetCase {
        id: 9,
        set: Err(Kind::InvalidKeySet),
        because: "exponent",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "public exponent 1",
    },
    KeySetCase {
        id: 10,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "HS256 with a short key",
    },
    KeySetCase {
        id: 11,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "HS384 with a short key",
    },
    KeySetCase {
        id: 12,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "HS512 with a short key",
    },
    KeySetCase {
        id: 13,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: true,
        why: "valid HS256 with a long key: HMAC is never verified",
    },
    KeySetCase {
        id: 14,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: true,
        why: "valid HS384 with a long key: HMAC is never verified",
    },
    KeySetCase {
        id: 15,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: true,
        why: "valid HS512 with a long key: HMAC is never verified",
    },
    KeySetCase {
        id: 16,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "HS256 with an empty key",
    },
    KeySetCase {
        id: 17,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "HS384 with an empty key",
    },
    KeySetCase {
        id: 18,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "HS512 with an empty key",
    },
    KeySetCase {
        id: 19,
        set: Err(Kind::InvalidKeySet),
        because: "ES521",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "P-256 key whose `alg` is `ES521`",
    },
    KeySetCase {
        id: 20,
        set: Err(Kind::InvalidKeySet),
        because: "ES224",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "P-256 key whose `alg` is `ES224`",
    },
    KeySetCase {
        id: 21,
        set: Err(Kind::InvalidKeySet),
        because: "\"use\"",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "EC key whose `use` is `enc`",
    },
    KeySetCase {
        id: 22,
        set: Err(Kind::InvalidKeySet),
        because: "not on the curve",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "EC point not on P-256",
    },
    KeySetCase {
        id: 23,
        set: Err(Kind::InvalidKeySet),
        because: "curve's size",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "P-256 coordinates labelled P-384",
    },
    KeySetCase {
        id: 24,
        set: Err(Kind::InvalidKeySet),
        because: "\"n\"",
        token: Err(Kind::KeyNotFound),
        deviates: false,
        why: "EC members labelled `kty` RSA",
    },
    KeySetCase {
        id: 25,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "AES-GCM key used for HS256",
    },
    KeySetCase {
        id: 26,
        set: Err(Kind::InvalidKeySet),
        because: "symmetric",
        token: Err(Kind::UnsupportedAlgorithm),
        deviates: false,
        why: "AES key-wrap key used for HS256",
    },
];

/// All 26 JWK sets are imported with `KeySet::from_json` and their tokens
/// verified, each with the outcome listed in `KEY_SET_CASES`.
#[test]
fn json_web_key_sets() {
    let file = load("wycheproof/json_web_key_test.json");
    let mut failures = Vec::new();
    let (mut total, mut valid, mut invalid, mut verified) = (0, 0, 0, 0);

    for group in array(&file, "testGroups") {
        // The set in "private", each key without its private members.
        let keys: Vec<Value> = array(&group["private"], "keys")
            .iter()
            .map(|key| Value::Object(public_jwk(key)))
            .collect();
        let json = serde_json::json!({ "keys": keys }).to_string();

        for case in array(group, "tests") {
            let id = tc_id(case);
            let result = text(case, "result");
            total += 1;
            match result {
                "valid" => valid += 1,
                "invalid" => invalid += 1,
                other => panic!("tcId {id}: unexpected result {other:?}"),
            }
            let token = text(case, "jws");
            let set = KeySet::from_json(json.as_bytes());
            let got_token = match &set {
                Ok(set) => outcome(&set.verify_jws(token)),
                Err(_) => outcome(&KeySet::default().verify_jws(token)),
            };
            let got = (outcome(&set), got_token);
            if got == (Ok(()), Ok(())) {
                verified += 1;
            }

            let Some(expected) = KEY_SET_CASES.iter().find(|listed| listed.id == id) else {
                failures.push(format!("tcId {id}: not in KEY_SET_CASES"));
                continue;
            };
            let why = expected.why;
            if got != (expected.set, expected.token) {
                failures.push(format!(
                    "tcId {id} ({why}): expected set {:?}, token {:?}; got {got:?}",
                    expected.set, expected.token
                ));
            }
            if let Err(err) = &set {
                if !err.to_string().contains(expected.because) {
                    failures.push(format!(
                        "tcId {id} ({why}): set refused for another reason: {err}"
                    ));
                }
            }
            // The `deviates` column must say whether the crate's verdict
            // differs from Wycheproof's.
            let crate_verifies = expected.set.is_ok() && expected.token.is_ok();
            if (result == "valid") != crate_verifies && !expected.deviates {
                failures.push(format!(
                    "tcId {id}: deviates from Wycheproof but not marked"
                ));
            }
            if (result == "valid") == crate_verifies && expected.deviates {
                failures.push(format!("tcId {id}: marked as deviating but agrees"));
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} case(s) disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(total, 26);
    assert_eq!(total, declared_tests(&file));
    assert_eq!(total, KEY_SET_CASES.len());
    assert_eq!((valid, invalid), (5, 21));
    // Of the 5 valid sets, 4 are HMAC.
    assert_eq!(verified, 1);
}

// ===== primitive vectors

/// One file of primitive vectors and what is expected of it.
struct PrimitiveFile {
    name: &'static str,
    alg: Algorithm,
    /// Cases by Wycheproof result: valid, invalid, acceptable.
    results: (usize, usize, usize),
    /// Cases whose group key the crate refuses at import; all of them must
    /// be refusals.
    refused_at_import: usize,
}

/// `acceptable` cases and the crate's choice: file, tcId, whether the
/// signature verifies, and why.
const ACCEPTABLE: [(&str, u64, bool, &str); 5] = [
    (
        "rsa_signature_2048_sha256_test.json",
        8,
        false,
        MISSING_NULL,
    ),
    (
        "rsa_signature_2048_sha384_test.json",
        8,
        false,
        MISSING_NULL,
    ),
    (
        "rsa_signature_2048_sha512_test.json",
        8,
        false,
        MISSING_NULL,
    ),
    (
        "rsa_signature_3072_sha256_test.json",
        8,
        false,
        MISSING_NULL,
    ),
    (
        "rsa_signature_4096_sha512_test.json",
        8,
        false,
        MISSING_NULL,
    ),
];

const MISSING_NULL: &str = "DigestInfo without the NULL parameters of the hash algorithm: \
     RFC 8017 §9.2 note 1 lets a verifier accept it; ring, and so the crate, accepts only the \
     encoding with NULL";

/// RSASSA-PKCS1-v1_5 vectors (RS256, RS384, RS512) verify through the
/// crate's key import, with `acceptable` missing-NULL encodings refused.
#[test]
fn rsa_pkcs1_v1_5() {
    for file in [
        PrimitiveFile {
            name: "rsa_signature_2048_sha256_test.json",
            alg: Algorithm::RS256,
            results: (9, 249, 1),
            refused_at_import: 0,
        },
        PrimitiveFile {
            name: "rsa_signature_2048_sha384_test.json",
            alg: Algorithm::RS384,
            results: (7, 250, 1),
            refused_at_import: 0,
        },
        PrimitiveFile {
            name: "rsa_signature_2048_sha512_test.json",
            alg: Algorithm::RS512,
            results: (8, 250, 1),
            refused_at_import: 0,
        },
        PrimitiveFile {
            name: "rsa_signature_3072_sha256_test.json",
            alg: Algorithm::RS256,
            results: (8, 250, 1),
            refused_at_import: 0,
        },
        PrimitiveFile {
            name: "rsa_signature_4096_sha512_test.json",
            alg: Algorithm::RS512,
            results: (7, 251, 1),
            refused_at_import: 0,
        },
    ] {
        run_primitive_file(&file);
    }
}

/// RSASSA-PSS vectors (PS256, PS384, PS512, salt as long as the hash)
/// verify through the crate's key import.
#[test]
fn rsa_pss() {
    for file in [
        PrimitiveFile {
            name: "rsa_pss_2048_sha256_mgf1_32_test.json",
            alg: Algorithm::PS256,
            results: (63, 45, 0),
            refused_at_import: 0,
        },
        PrimitiveFile {
            name: "rsa_pss_2048_sha384_mgf1_48_test.json",
            alg: Algorithm::PS384,
            results: (95, 46, 0),
            refused_at_import: 0,
        },
        PrimitiveFile {
            name: "rsa_pss_4096_sha512_mgf1_64_test.json",
            alg: Algorithm::PS512,
            results: (132, 47, 0),
            refused_at_import: 0,
        },
    ] {
        run_primitive_file(&file);
    }
}

/// ECDSA P-256 and P-384 vectors with raw `r‖s` signatures (the JWS
/// encoding) verify through the crate's key import.
#[test]
fn ecdsa_p1363() {
    for file in [
        PrimitiveFile {
            name: "ecdsa_secp256r1_sha256_p1363_test.json",
            alg: Algorithm::ES256,
            results: (173, 89, 0),
            refused_at_import: 0,
        },
        PrimitiveFile {
            name: "ecdsa_secp384r1_sha384_p1363_test.json",
            alg: Algorithm::ES384,
            results: (193, 87, 0),
            refused_at_import: 0,
        },
    ] {
        run_primitive_file(&file);
    }
}

/// Ed25519 vectors verify through the crate's key import as `EdDSA`.
#[test]
fn ed25519() {
    run_primitive_file(&PrimitiveFile {
        name: "ed25519_test.json",
        alg: Algorithm::EdDSA,
        results: (88, 63, 0),
        refused_at_import: 0,
    });
}

/// The acceptable-case table names only cases that exist, once each.
#[test]
fn acceptable_table_is_exact() {
    for (index, (file, id, ..)) in ACCEPTABLE.iter().enumerate() {
        assert!(
            !ACCEPTABLE[..index]
                .iter()
                .any(|(other_file, other_id, ..)| other_file == file && other_id == id),
            "{file} tcId {id} is listed twice"
        );
        let vectors = load(&format!("wycheproof/{file}"));
        let case = array(&vectors, "testGroups")
            .iter()
            .flat_map(|group| array(group, "tests"))
            .find(|case| tc_id(case) == *id)
            .unwrap_or_else(|| panic!("{file} has no tcId {id}"));
        assert_eq!(text(case, "result"), "acceptable", "{file} tcId {id}");
    }
}

/// Runs every case of one primitive file, then checks the counts.
fn run_primitive_file(file: &PrimitiveFile) {
    let vectors = load(&format!("wycheproof/{}", file.name));
    let mut failures = Vec::new();
    let (mut valid, mut invalid, mut acceptable) = (0, 0, 0);
    let mut refused_at_import = 0;

    for group in array(&vectors, "testGroups") {
        let jwk = group_jwk(group, file.alg);
        let key = VerifyingKey::from_jwk(jwk);

        for case in array(group, "tests") {
            let id = tc_id(case);
            let result = text(case, "result");
            let message = hex(text(case, "msg"));
            let signature = hex(text(case, "sig"));
            let got = match &key {
                Ok(key) => outcome(&key.verify(file.alg, &message, &signature)),
                Err(err) => {
                    refused_at_import += 1;
                    Err(kind(err))
                }
            };

            let expected_ok = match result {
                "valid" => {
                    valid += 1;
                    true
                }
                "invalid" => {
                    invalid += 1;
                    false
                }
                "acceptable" => {
                    acceptable += 1;
                    match ACCEPTABLE
                        .iter()
                        .find(|(name, listed, ..)| *name == file.name && *listed == id)
                    {
                        Some((.., verifies, _)) => *verifies,
                        None => {
                            failures.push(format!("tcId {id}: acceptable but not in ACCEPTABLE"));
                            continue;
                        }
                    }
                }
                other => panic!("{} tcId {id}: unknown result {other:?}", file.name),
            };
            let ok = match got {
                Ok(()) => expected_ok,
                // A key that imported must fail only on the signature.
                Err(Kind::InvalidSignature) => !expected_ok,
                Err(Kind::InvalidKey) if key.is_err() => !expected_ok,
                Err(_) => false,
            };
            if !ok {
                failures.push(format!(
                    "tcId {id} ({}, {:?}, Wycheproof: {result}): got {got:?}",
                    text(case, "comment"),
                    flags(case),
                ));
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{}: {} case(s) disagree:\n{}",
        file.name,
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        (valid, invalid, acceptable),
        file.results,
        "{}: valid, invalid, acceptable",
        file.name
    );
    assert_eq!(
        valid + invalid + acceptable,
        declared_tests(&vectors),
        "{}",
        file.name
    );
    assert_eq!(
        refused_at_import, file.refused_at_import,
        "{}: cases refused at key import",
        file.name
    );
}

/// The group's key as a JWK: the one the group carries, or, for the EC
/// groups that carry none, one built from the uncompressed point.
fn group_jwk(group: &Value, alg: Algorithm) -> Map<String, Value> {
    if let Some(jwk) = group.get("publicKeyJwk").or_else(|| group.get("keyJwk")) {
        return public_jwk(jwk);
    }
    let curve = match alg {
        Algorithm::ES256 => "P-256",
        Algorithm::ES384 => "P-384",
        other => panic!("a {other} group without a JWK"),
    };
    ec_jwk(curve, text(&group["publicKey"], "uncompressed"))
}

// ===== DER-encoded ECDSA

/// Every signature of the DER ECDSA files, wrapped as the signature of a
/// compact JWS, is refused; a JWS carries ECDSA signatures as `r‖s` only.
#[test]
fn ecdsa_der_signatures_are_refused_in_jws() {
    for (name, alg, header, total) in [
        (
            "ecdsa_secp256r1_sha256_test.json",
            Algorithm::ES256,
            r#"{"alg":"ES256"}"#,
            484,
        ),
        (
            "ecdsa_secp384r1_sha384_test.json",
            Algorithm::ES384,
            r#"{"alg":"ES384"}"#,
            504,
        ),
    ] {
        let vectors = load(&format!("wycheproof/{name}"));
        let mut accepted = Vec::new();
        let (mut cases, mut refused_at_import) = (0, 0);

        for group in array(&vectors, "testGroups") {
            let set =
                VerifyingKey::from_jwk(group_jwk(group, alg)).map(|key| KeySet::from_keys([key]));
            for case in array(group, "tests") {
                cases += 1;
                let message = hex(text(case, "msg"));
                let der = hex(text(case, "sig"));
                let token = format!("{}.{}.{}", b64(header.as_bytes()), b64(&message), b64(&der));
                match &set {
                    Ok(set) => {
                        if set.verify_jws(&token).is_ok() {
                            accepted.push(tc_id(case));
                        }
                    }
                    Err(_) => refused_at_import += 1,
                }
            }
        }

        assert!(
            accepted.is_empty(),
            "{name}: DER accepted in tcIds {accepted:?}"
        );
        assert_eq!(cases, total, "{name}");
        assert_eq!(cases, declared_tests(&vectors), "{name}");
        assert_eq!(refused_at_import, 0, "{name}: cases refused at key import");
    }
}

/// The valid DER signatures, given straight to `VerifyingKey::verify` with
/// the right message, are refused as DER and verify once re-encoded as
/// `r‖s`: the JWS test above fails for the encoding, not for the key.
#[test]
fn ecdsa_der_refused_but_same_signature_as_r_s_verifies() {
    for (name, alg, scalar_len, valid_cases) in [
        (
            "ecdsa_secp256r1_sha256_test.json",
            Algorithm::ES256,
            32,
            174,
        ),
        (
            "ecdsa_secp384r1_sha384_test.json",
            Algorithm::ES384,
            48,
            194,
        ),
    ] {
        let vectors = load(&format!("wycheproof/{name}"));
        let mut failures = Vec::new();
        let mut checked = 0;

        for group in array(&vectors, "testGroups") {
            let key = VerifyingKey::from_jwk(group_jwk(group, alg))
                .unwrap_or_else(|err| panic!("{name}: key refused: {err}"));
            for case in array(group, "tests") {
                if text(case, "result") != "valid" {
                    continue;
                }
                checked += 1;
                let id = tc_id(case);
                let message = hex(text(case, "msg"));
                let der = hex(text(case, "sig"));
                if key.verify(alg, &message, &der).is_ok() {
                    failures.push(format!("tcId {id}: DER accepted"));
                }
                let fixed = der_to_fixed(&der, scalar_len)
                    .unwrap_or_else(|| panic!("{name} tcId {id}: not strict DER"));
                if let Err(err) = key.verify(alg, &message, &fixed) {
                    failures.push(format!("tcId {id}: r‖s refused: {err}"));
                }
            }
        }

        assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
        assert_eq!(checked, valid_cases, "{name}");
    }
}

/// Converts a DER `SEQUENCE { INTEGER r, INTEGER s }` to `r‖s`, each padded
/// to `scalar_len` bytes; `None` if it is not of that shape.
fn der_to_fixed(der: &[u8], scalar_len: usize) -> Option<Vec<u8>> {
    fn length(bytes: &[u8]) -> Option<(usize, &[u8])> {
        match *bytes.first()? {
            short @ 0..=0x7f => Some((usize::from(short), &bytes[1..])),
            0x81 => Some((usize::from(*bytes.get(1)?), &bytes[2..])),
            _ => None,
        }
    }
    fn integer(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        if tag != 0x02 {
            return None;
        }
        let (len, rest) = length(rest)?;
        (rest.len() >= len).then(|| rest.split_at(len))
    }

    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (len, body) = length(rest)?;
    if body.len() != len {
        return None;
    }
    let (r, rest) = integer(body)?;
    let (s, rest) = integer(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut fixed = Vec::with_capacity(2 * scalar_len);
    for scalar in [r, s] {
        let start = scalar.iter().position(|&b| b != 0).unwrap_or(scalar.len());
        let digits = &scalar[start..];
        if digits.len() > scalar_len {
            return None;
        }
        fixed.resize(fixed.len() + scalar_len - digits.len(), 0);
        fixed.extend_from_slice(digits);
    }
    Some(fixed)
}

// ===== reading the files

fn array<'a>(value: &'a Value, name: &str) -> &'a [Value] {
    value
        .get(name)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{name:?} is missing or not an array"))
}

fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{name:?} is missing or not a string"))
}

fn tc_id(case: &Value) -> u64 {
    case.get("tcId")
        .and_then(Value::as_u64)
        .expect("every case has a numeric tcId")
}

fn flags(case: &Value) -> Vec<&str> {
    case.get("flags")
        .and_then(Value::as_array)
        .map(|flags| flags.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn has_flag(case: &Value, flag: &str) -> bool {
    flags(case).contains(&flag)
}

fn declared_tests(file: &Value) -> usize {
    file.get("numberOfTests")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .expect("numberOfTests")
}
