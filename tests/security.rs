//! The security rules of the design (§5) that concern tokens, keys and
//! claims, each shown through the public API.
//!
//! Every refusal is paired with a positive control: the same token without
//! the defect verifies, so a test cannot pass because something unrelated
//! broke.

#[path = "common/keys.rs"]
mod keys;

use std::io::ErrorKind;
use std::net::TcpListener;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jwks_registry::{
    Error, KeySet, TokenPart, UnverifiedToken, Validation, Verified, VerifyingKey,
};
use ring::{hmac, signature};
use serde_json::{Value, json};

use keys::{ISSUER, TestKey, b64, claims, jwks, now};

/// The public half of the first RSA fixture, as `openssl rsa -pubout` wrote
/// it.
const RSA_PUBLIC_PEM: &str = include_str!("fixtures/rsa-2048-a.pub.pem");
/// The second RSA fixture, the attacker's key in the x5c test.
const RSA_B_PKCS8: &[u8] = include_bytes!("fixtures/rsa-2048-b.pk8.der");
/// A public JWK of an RSA key of 1024 bits.
const RSA_1024_JWK: &str = include_str!("fixtures/rsa-1024.jwk.json");

/// Asserts that `$result` is an error matching `$pattern`.
macro_rules! assert_refused {
    ($result:expr, $pattern:pat $(,)?) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
    ($result:expr, $pattern:pat, $($context:tt)+) => {
        match $result {
            Err($pattern) => {}
            other => panic!(
                "expected {}, got {other:?} ({})",
                stringify!($pattern),
                format_args!($($context)+)
            ),
        }
    };
}

// ===== helpers

fn key_set(keys: &[&TestKey]) -> KeySet {
    KeySet::from_json(jwks(keys).as_bytes()).expect("the kit's keys import")
}

fn key_set_of(jwks: &[Value]) -> Result<KeySet, Error> {
    KeySet::from_json(json!({ "keys": jwks }).to_string().as_bytes())
}

/// The rules the kit's [`claims`] meet: audience `api`, issuer [`ISSUER`].
fn rules() -> Validation {
    Validation::new(["api"]).issuer(ISSUER)
}

fn verify(set: &KeySet, token: &str) -> Result<Verified, Error> {
    set.verify(token, &rules())
}

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "kid": kid, "typ": "JWT"})
}

/// A token with these header and claims texts, MACed with HS256 under
/// `secret`.
fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag))
}

/// The three segments of a compact token.
fn segments(token: &str) -> (&str, &str, &str) {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(c), Some(s), None) => (h, c, s),
        _ => panic!("not a compact JWS: {token}"),
    }
}

fn with_signature(token: &str, signature: &str) -> String {
    let (header, claims, _) = segments(token);
    format!("{header}.{claims}.{signature}")
}

/// Re-encodes a fixed `r‖s` ECDSA signature as an ASN.1 DER
/// `SEQUENCE { INTEGER r, INTEGER s }`.
fn der_signature(fixed: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let start = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        let mut value = bytes[start..].to_vec();
        if value[0] & 0x80 != 0 {
            value.insert(0, 0);
        }
        let mut out = vec![0x02, value.len() as u8];
        out.extend(value);
        out
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let body = [integer(r), integer(s)].concat();
    assert!(body.len() < 128, "P-256 and P-384 fit a one-byte length");
    [vec![0x30, body.len() as u8], body].concat()
}

/// Nested JSON arrays `depth` deep.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

// ===== algorithms

/// `alg: none` in any spelling is refused, whether the signature segment is
/// empty or not.
#[test]
fn alg_none_is_refused_in_every_spelling() {
    let key = TestKey::rsa("rsa");
    let set = key_set(&[&key]);
    assert!(verify(&set, &key.token(claims())).is_ok());

    for spelling in ["none", "None", "NONE", "nOnE"] {
        let signed = key.sign("RS256", header(spelling, "rsa"), claims());
        let (header_b64, claims_b64, _) = segments(&signed);
        let unsigned = format!("{header_b64}.{claims_b64}.");
        for token in [&unsigned, &signed] {
            assert_refused!(
                UnverifiedToken::parse(token),
                Error::UnsupportedAlgorithm { .. },
                "{spelling}"
            );
            assert_refused!(verify(&set, token), Error::UnsupportedAlgorithm { .. });
            assert_refused!(set.verify_jws(token), Error::UnsupportedAlgorithm { .. });
        }
    }
}

/// HS256/384/512 are refused even when keyed with the RSA public key's
/// modulus, its PEM or DER text, its JWK, or the whole JWKS text.
#[test]
fn hmac_keyed_with_public_key_material_is_refused() {
    let key = TestKey::rsa("rsa");
    // Without a JWK `alg` nothing but the crate's own rules stands in the
    // way of a key confusion.
    let mut jwk = key.jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    let set = key_set_of(std::slice::from_ref(&jwk)).unwrap();
    assert!(verify(&set, &key.token(claims())).is_ok());

    let (modulus, _) = key.rsa_components();
    let pem_body: String = RSA_PUBLIC_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let spki = STANDARD.decode(pem_body).unwrap();
    assert!(
        spki.windows(modulus.len()).any(|w| w == modulus),
        "the PEM fixture is the public half of the RSA fixture"
    );
    let jwk_text = jwk.to_string();
    let jwks_text = json!({ "keys": [jwk] }).to_string();
    let secrets: [&[u8]; 5] = [
        &modulus,
        RSA_PUBLIC_PEM.as_bytes(),
        &spki,
        jwk_text.as_bytes(),
        jwks_text.as_bytes(),
    ];
    for (index, secret) in secrets.iter().enumerate() {
        for alg in ["HS256", "HS384", "HS512"] {
            let token = hs256(secret, &header(alg, "rsa"), &claims());
            assert_refused!(
                verify(&set, &token),
                Error::UnsupportedAlgorithm { .. },
                "{alg} with secret {index}"
            );
            assert_refused!(set.verify_jws(&token), Error::UnsupportedAlgorithm { .. });
        }
    }

    // A symmetric key published in the set changes nothing: it is skipped,
    // and HS256 stays refused.
    let shared = b"a shared secret of thirty-two by";
    let oct = json!({"kty": "oct", "kid": "hmac", "k": b64(shared), "alg": "HS256"});
    let set = key_set_of(&[key.jwk(), oct]).unwrap();
    assert_eq!(set.skipped().len(), 1);
    let token = hs256(shared, &header("HS256", "hmac"), &claims());
    assert_refused!(verify(&set, &token), Error::UnsupportedAlgorithm { .. });
}

/// ES512, near-miss spellings and unknown names are refused as unsupported.
#[test]
fn unknown_algorithms_are_refused() {
    let key = TestKey::rsa("rsa");
    let set = key_set(&[&key]);
    for alg in [
        "ES512", "rs256", "RS256 ", "RSA-OAEP", "ES256K", "", "Ed448",
    ] {
        let token = key.sign("RS256", header(alg, "rsa"), claims());
        assert_refused!(
            verify(&set, &token),
            Error::UnsupportedAlgorithm { .. },
            "{alg:?}"
        );
    }
    let token = key.sign("RS256", json!({"alg": 256, "kid": "rsa"}), claims());
    assert_refused!(
        verify(&set, &token),
        Error::MalformedToken {
            part: TokenPart::Header,
            ..
        }
    );
    let token = key.sign("RS256", json!({"kid": "rsa"}), claims());
    assert_refused!(
        verify(&set, &token),
        Error::MalformedToken {
            part: TokenPart::Header,
            ..
        }
    );
}

/// Every supported algorithm verifies, including EdDSA under its RFC 9864
/// name `Ed25519`, through both `verify` and `verify_jws`.
#[test]
fn every_supported_algorithm_verifies() {
    let mut keys: Vec<TestKey> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        .into_iter()
        .map(|alg| TestKey::rsa(alg).with_alg(alg))
        .collect();
    keys.push(TestKey::es256("ES256"));
    keys.push(TestKey::es384("ES384"));
    keys.push(TestKey::ed25519("EdDSA"));
    let refs: Vec<&TestKey> = keys.iter().collect();
    let set = key_set(&refs);

    for key in &keys {
        let verified =
            verify(&set, &key.token(claims())).unwrap_or_else(|e| panic!("{}: {e}", key.alg));
        assert_eq!(verified.header().algorithm().name(), key.alg);
        assert_eq!(verified.key().key_id(), Some(key.kid.as_str()));
        assert_eq!(verified.subject(), Some("alice"));
        let jws = set.verify_jws(&key.token(claims())).unwrap();
        assert_eq!(jws.key().key_id(), Some(key.kid.as_str()));
    }

    // The header may name Ed25519 while the JWK says EdDSA, and the reverse.
    let ed = &keys[8];
    let token = ed.sign("EdDSA", header("Ed25519", "EdDSA"), claims());
    assert_eq!(
        verify(&set, &token).unwrap().header().algorithm().name(),
        "EdDSA"
    );
    let renamed = TestKey::ed25519("ed").with_alg("Ed25519");
    let set = key_set(&[&renamed]);
    assert!(
        verify(
            &set,
            &renamed.sign("EdDSA", header("EdDSA", "ed"), claims())
        )
        .is_ok()
    );
}

// ===== key binding

/// A token whose algorithm does not fit the key named by its `kid` is
/// refused: wrong key type, wrong curve.
#[test]
fn algorithm_must_fit_key_type() {
    let rsa = TestKey::rsa("shared");
    let p256 = TestKey::es256("p256");
    let set = key_set(&[&rsa, &p256]);

    // ES256 signed by a P-256 key but naming the RSA key's kid.
    let token = p256.sign("ES256", header("ES256", "shared"), claims());
    assert_refused!(verify(&set, &token), Error::KeyMismatch { .. });
    assert_refused!(set.verify_jws(&token), Error::KeyMismatch { .. });
    // The same token naming its own key verifies.
    assert!(verify(&set, &p256.sign("ES256", header("ES256", "p256"), claims())).is_ok());

    // ES384 and EdDSA against a P-256 key.
    for alg in ["ES384", "EdDSA"] {
        let token = p256.sign("ES256", header(alg, "p256"), claims());
        assert_refused!(verify(&set, &token), Error::KeyMismatch { .. }, "{alg}");
    }
    // RS256 against a P-256 key.
    let token = rsa.sign("RS256", header("RS256", "p256"), claims());
    assert_refused!(verify(&set, &token), Error::KeyMismatch { .. });
}

/// A JWK `alg` binds the key: an RS256 key does not verify a PS256
/// signature made with the same key, which verifies once `alg` is gone.
#[test]
fn jwk_alg_restricts_the_key() {
    let key = TestKey::rsa("rsa");
    let token = key.sign("PS256", header("PS256", "rsa"), claims());

    let bound = key_set(&[&key]);
    assert_eq!(key.jwk()["alg"], "RS256");
    assert_refused!(verify(&bound, &token), Error::KeyMismatch { .. });
    assert_refused!(bound.verify_jws(&token), Error::KeyMismatch { .. });

    let mut unbound = key.jwk();
    unbound.as_object_mut().unwrap().remove("alg");
    let unbound = key_set_of(&[unbound]).unwrap();
    assert!(verify(&unbound, &token).is_ok());
}

/// Keys marked for encryption (`use: enc`, `key_ops` without `verify`) are
/// skipped, though the same key material would verify the token.
#[test]
fn encryption_keys_are_not_used() {
    let key = TestKey::rsa("rsa");
    let token = key.token(claims());
    let marked = |member: &str, value: Value| {
        let mut jwk = key.jwk();
        jwk[member] = value;
        jwk
    };
    let enc = marked("use", json!("enc"));
    let encrypt = marked("key_ops", json!(["encrypt", "wrapKey"]));
    let verify_op = marked("key_ops", json!(["verify"]));

    // Alone, an encryption key leaves the set with no usable key.
    for jwk in [&enc, &encrypt] {
        assert_refused!(
            key_set_of(std::slice::from_ref(jwk)),
            Error::InvalidKeySet { .. },
            "{jwk}"
        );
        assert_refused!(
            VerifyingKey::from_json(jwk.to_string().as_bytes()),
            Error::InvalidKey { .. }
        );
    }
    // Beside a usable key, it is skipped and its kid is not found.
    let other = TestKey::es256("ec");
    for jwk in [&enc, &encrypt] {
        let set = key_set_of(&[jwk.clone(), other.jwk()]).unwrap();
        assert_eq!(set.skipped().len(), 1);
        assert_refused!(verify(&set, &token), Error::KeyNotFound { .. }, "{jwk}");
        assert!(verify(&set, &other.token(claims())).is_ok());
    }
    // `key_ops: ["verify"]` is a signature key.
    assert!(verify(&key_set_of(&[verify_op]).unwrap(), &token).is_ok());
}

/// An RSA key under 2048 bits is refused at import and never enters a set.
#[test]
fn small_rsa_keys_are_refused_at_import() {
    let err = VerifyingKey::from_json(RSA_1024_JWK.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidKey { reason, .. } if reason.contains("1024 bits")),
        "{err}"
    );
    let small: Value = serde_json::from_str(RSA_1024_JWK).unwrap();
    assert_refused!(
        key_set_of(std::slice::from_ref(&small)),
        Error::InvalidKeySet { .. }
    );

    let key = TestKey::rsa("rsa");
    let set = key_set_of(&[small, key.jwk()]).unwrap();
    assert_eq!(set.keys().len(), 1);
    assert_eq!(set.skipped()[0].key_id.as_deref(), Some("rsa-1024"));
    assert!(VerifyingKey::from_json(key.jwk().to_string().as_bytes()).is_ok());
}

/// Leading zero bytes in `n` and `e`, which `ring` refuses, are stripped:
/// the key still verifies its tokens.
#[test]
fn rsa_leading_zero_bytes_are_accepted() {
    let key = TestKey::rsa("rsa");
    let (n, e) = key.rsa_components();
    let mut jwk = key.jwk();
    jwk["n"] = json!(b64([&[0u8][..], &n].concat()));
    jwk["e"] = json!(b64([&[0u8, 0][..], &e].concat()));
    let set = key_set_of(&[jwk]).unwrap();
    assert!(verify(&set, &key.token(claims())).is_ok());
    let ps = key.with_alg("PS512");
    let mut jwk = ps.jwk();
    jwk["n"] = json!(b64([&[0u8][..], &n].concat()));
    let set = key_set_of(&[jwk]).unwrap();
    assert!(verify(&set, &ps.token(claims())).is_ok());
}

/// A token signed by another key under the real key's `kid` fails its
/// signature check.
#[test]
fn signature_by_another_key_is_refused() {
    let real = TestKey::rsa("rsa");
    let forger = TestKey::rsa_other("rsa");
    let set = key_set(&[&real]);
    assert_refused!(
        verify(&set, &forger.token(claims())),
        Error::InvalidSignature
    );
    assert_refused!(
        set.verify_jws(&forger.token(claims())),
        Error::InvalidSignature
    );
    assert!(verify(&set, &real.token(claims())).is_ok());
}

// ===== keys come only from the key set

/// A key embedded in the header (`jwk`) is never used, whether it claims the
/// real key's `kid`, another one, or none.
#[test]
fn header_jwk_is_never_used() {
    let real = TestKey::rsa("rsa");
    let set = key_set(&[&real]);
    for kid in ["rsa", "attacker"] {
        let attacker = TestKey::rsa_other(kid);
        let header = json!({"alg": "RS256", "kid": kid, "jwk": attacker.jwk()});
        let forged = attacker.sign("RS256", header.clone(), claims());
        let expected_kind = |result: Result<Verified, Error>| match (kid, result) {
            ("rsa", Err(Error::InvalidSignature)) => {}
            ("attacker", Err(Error::KeyNotFound { .. })) => {}
            (_, other) => panic!("kid {kid}: {other:?}"),
        };
        expected_kind(verify(&set, &forged));
        // The same header signed by the real key verifies: the member itself
        // is inert.
        if kid == "rsa" {
            assert!(verify(&set, &real.sign("RS256", header, claims())).is_ok());
        }
    }
    // Without a kid the set's only RSA key is tried, never the header's.
    let attacker = TestKey::rsa_other("attacker");
    let header = json!({"alg": "RS256", "jwk": attacker.jwk()});
    assert_refused!(
        verify(&set, &attacker.sign("RS256", header.clone(), claims())),
        Error::InvalidSignature
    );
    assert!(verify(&set, &real.sign("RS256", header, claims())).is_ok());
}

/// Key locations and certificates in the header (`jku`, `x5u`, `x5c`) are
/// never fetched nor used to verify.
#[test]
fn header_key_urls_and_certificates_are_never_used() {
    // A listener the header points at, to see that nothing connects.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());

    // A real certificate for the attacker's key.
    let attacker_pair = rcgen::KeyPair::try_from(RSA_B_PKCS8).unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["attacker.example".to_owned()])
        .unwrap()
        .self_signed(&attacker_pair)
        .unwrap();
    let x5c = json!([STANDARD.encode(certificate.der())]);

    let real = TestKey::rsa("rsa");
    let set = key_set(&[&real]);
    for (member, value) in [("jku", json!(url)), ("x5u", json!(url)), ("x5c", x5c)] {
        for kid in ["rsa", "attacker"] {
            let attacker = TestKey::rsa_other(kid);
            let header = json!({"alg": "RS256", "kid": kid, member: value});
            let forged = attacker.sign("RS256", header.clone(), claims());
            match (kid, verify(&set, &forged)) {
                ("rsa", Err(Error::InvalidSignature)) => {}
                ("attacker", Err(Error::KeyNotFound { .. })) => {}
                (_, other) => panic!("{member} with kid {kid}: {other:?}"),
            }
            if kid == "rsa" {
                assert!(verify(&set, &real.sign("RS256", header, claims())).is_ok());
            }
        }
    }
    match listener.accept() {
        Err(err) if err.kind() == ErrorKind::WouldBlock => {}
        other => panic!("something connected to the header's URL: {other:?}"),
    }
}

// ===== header rules

/// A `crit` header naming an extension, or an unencoded payload
/// (`b64: false`), is refused.
#[test]
fn critical_extensions_are_refused() {
    let key = TestKey::rsa("rsa");
    let set = key_set(&[&key]);
    let cases = [
        json!({"alg": "RS256", "kid": "rsa", "crit": ["exp"], "exp": now() + 60}),
        json!({"alg": "RS256", "kid": "rsa", "crit": ["http://example.com/x"], "http://example.com/x": 1}),
        json!({"alg": "RS256", "kid": "rsa", "crit": ["b64"], "b64": false}),
        json!({"alg": "RS256", "kid": "rsa", "b64": false}),
        json!({"alg": "RS256", "kid": "rsa", "b64": "false"}),
    ];
    for header in cases {
        let token = key.sign("RS256", header.clone(), claims());
        assert_refused!(
            verify(&set, &token),
            Error::UnsupportedCritical { .. },
            "{header}"
        );
        assert_refused!(set.verify_jws(&token), Error::UnsupportedCritical { .. });
    }
    // An empty or mistyped `crit` is malformed (RFC 7515 §4.1.11).
    for crit in [json!([]), json!("exp"), json!([1])] {
        let token = key.sign(
            "RS256",
            json!({"alg": "RS256", "kid": "rsa", "crit": crit}),
            claims(),
        );
        assert_refused!(verify(&set, &token), Error::MalformedToken { .. }, "{crit}");
    }
    // `b64: true` is the default and harmless.
    let token = key.sign(
        "RS256",
        json!({"alg": "RS256", "kid": "rsa", "b64": true}),
        claims(),
    );
    assert!(verify(&set, &token).is_ok());
}

/// `kid` is an opaque string capped at 256 bytes, matched exactly, and
/// quoted safely in errors.
#[test]
fn kid_is_an_opaque_capped_string() {
    let long = "k".repeat(256);
    let key = TestKey::es256(&long);
    let short = TestKey::es256("k");
    let set = key_set(&[&key, &short]);
    assert!(verify(&set, &key.token(claims())).is_ok());
    assert!(verify(&set, &short.token(claims())).is_ok());

    let too_long = "k".repeat(257);
    let token = key.sign("ES256", header("ES256", &too_long), claims());
    assert_refused!(
        verify(&set, &token),
        Error::MalformedToken {
            part: TokenPart::Header,
            ..
        }
    );
    let token = key.sign("ES256", json!({"alg": "ES256", "kid": 7}), claims());
    assert_refused!(
        verify(&set, &token),
        Error::MalformedToken {
            part: TokenPart::Header,
            ..
        }
    );

    // No path or pattern semantics: only the exact string matches.
    for kid in [
        "../k", "./k", "k/", "k*", "k?x=1", "K", "k\0", " k", "%6b", "",
    ] {
        let token = short.sign("ES256", header("ES256", kid), claims());
        assert_refused!(verify(&set, &token), Error::KeyNotFound { .. }, "{kid:?}");
    }

    // A hostile kid is escaped and cut in the error message.
    let hostile = format!("\n\u{1b}[31m{}", "x".repeat(200));
    let err = verify(
        &set,
        &key.sign("ES256", header("ES256", &hostile), claims()),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        !message.contains('\n') && !message.contains('\u{1b}'),
        "{message}"
    );
    assert!(message.len() < 160, "{message}");
}

// ===== JSON rules

/// A duplicate `alg` in the header cannot smuggle a second algorithm, even
/// when the last one would verify.
#[test]
fn duplicate_header_members_are_refused() {
    let key = TestKey::rsa("rsa");
    let set = key_set(&[&key]);
    let claims_text = claims().to_string();
    for header in [
        r#"{"alg":"HS256","kid":"rsa","alg":"RS256"}"#,
        r#"{"alg":"RS256","kid":"rsa","alg":"RS256"}"#,
        r#"{"alg":"none","kid":"rsa","\u0061lg":"RS256"}"#,
        r#"{"alg":"RS256","kid":"other","kid":"rsa"}"#,
    ] {
        let token = key.sign_text("RS256", header, &claims_text);
        assert_refused!(
            verify(&set, &token),
            Error::MalformedToken {
                part: TokenPart::Header,
                ..
            },
            "{header}"
        );
        assert_refused!(set.verify_jws(&token), Error::MalformedToken { .. });
    }
    let token = key.sign_text("RS256", r#"{"alg":"RS256","kid":"rsa"}"#, &claims_text);
    assert!(verify(&set, &token).is_ok());
}

/// A duplicate `iss` (or any claim, at any depth) is refused, even when the
/// last value is the expected one.
#[test]
fn duplicate_claims_are_refused() {
    let key = TestKey::rsa("rsa");
    let set = key_set(&[&key]);
    let exp = now() + 600;
    let header = r#"{"alg":"RS256","kid":"rsa"}"#;
    for claims in [
        format!(r#"{{"iss":"https://evil.example","iss":"{ISSUER}","aud":"api","exp":{exp}}}"#),
        format!(r#"{{"iss":"{ISSUER}","aud":"other","aud":"api","exp":{exp}}}"#),
        format!(r#"{{"iss":"{ISSUER}","aud":"api","exp":1,"exp":{exp}}}"#),
        format!(r#"{{"iss":"{ISSUER}","aud":"api","exp":{exp},"x":{{"r":1,"r":2}}}}"#),
    ] {
        let token = key.sign_text("RS256", header, &claims);
        assert_refused!(
            verify(&set, &token),
            Error::MalformedToken {
                part: TokenPart::Claims,
                ..
            },
            "{claims}"
        );
    }
    let claims = format!(r#"{{"iss":"{ISSUER}","aud":"api","exp":{exp},"x":{{"r":1}}}}"#);
    assert!(verify(&set, &key.sign_text("RS256", header, &claims)).is_ok());
}

/// The header and the claims of a JWT must be JSON objects.
#[test]
fn header_and_claims_must_be_objects() {
    let key = TestKey::ed25519("ed");
    let set = key_set(&[&key]);
    let good_header = r#"{"alg":"EdDSA","kid":"ed"}"#;
    for header in ["[]", "null", "\"EdDSA\"", "", "{"] {
        let token = key.sign_text("EdDSA", header, &claims().to_string());
        assert_refused!(
            verify(&set, &token),
            Error::MalformedToken {
                part: TokenPart::Header,
                ..
            },
            "{header:?}"
        );
    }
    for payload in ["[]", "null", "\"claims\"", "not json", "{} {}"] {
        let token = key.sign_text("EdDSA", good_header, payload);
        assert_refused!(
            verify(&set, &token),
            Error::MalformedToken {
                part: TokenPart::Claims,
                ..
            },
            "{payload:?}"
        );
        // A bare JWS carries any payload.
        assert_eq!(
            set.verify_jws(&token).unwrap().payload(),
            payload.as_bytes()
        );
    }
}

/// Deeply nested JSON in the header or the claims is refused without
/// overflowing the stack, even under a very large size limit.
#[test]
fn deeply_nested_json_is_refused() {
    let key = TestKey::rsa("rsa");
    let set = key_set(&[&key]);
    let mut shallow = claims();
    shallow["x"] = serde_json::from_str(&nested(50)).unwrap();
    assert!(verify(&set, &key.token(shallow)).is_ok());

    for depth in [5_000, 100_000] {
        let deep_header = format!(r#"{{"alg":"RS256","kid":"rsa","x":{}}}"#, nested(depth));
        let deep_object = format!(
            r#"{{"alg":"RS256","kid":"rsa","x":{}"#,
            "{\"a\":".repeat(depth)
        ) + "1"
            + &"}".repeat(depth + 1);
        let deep_claims = format!(
            r#"{{"iss":"{ISSUER}","aud":"api","exp":{},"x":{}}}"#,
            now() + 600,
            nested(depth)
        );
        let plain_header = r#"{"alg":"RS256","kid":"rsa"}"#;
        let claims_text = claims().to_string();
        let cases = [
            (
                key.sign_text("RS256", &deep_header, &claims_text),
                TokenPart::Header,
            ),
            (
                key.sign_text("RS256", &deep_object, &claims_text),
                TokenPart::Header,
            ),
            (
                key.sign_text("RS256", plain_header, &deep_claims),
                TokenPart::Claims,
            ),
        ];
        for (token, part) in cases {
            let parsed = UnverifiedToken::parse_with_limit(&token, 4 << 20);
            match parsed {
                Err(Error::MalformedToken { part: found, .. }) if found == part => {}
                other => panic!("depth {depth}, {part}: {other:?}"),
            }
            if token.len() <= 16 * 1024 {
                assert_refused!(verify(&set, &token), Error::MalformedToken { .. });
            } else {
                assert_refused!(verify(&set, &token), Error::TokenTooLarge { .. });
            }
        }
    }
}

// ===== claim rules

/// A string `exp`, `nbf` or `iat` is an invalid claim, not an absent one,
/// whether or not `exp` is required.
#[test]
fn numeric_dates_must_be_numbers() {
    let key = TestKey::es256("ec");
    let set = key_set(&[&key]);
    let optional = rules().required_claims::<[&str; 0], &str>([]);
    for name in ["exp", "nbf", "iat"] {
        for value in [
            json!("9999999999"),
            json!("1"),
            json!(null),
            json!([1]),
            json!(true),
        ] {
            let mut claims = claims();
            claims[name] = value.clone();
            let token = key.token(claims);
            for rule_set in [&rules(), &optional] {
                match set.verify(&token, rule_set) {
                    Err(Error::InvalidClaim { claim, .. }) if claim == name => {}
                    other => panic!("{name}: {value}: {other:?}"),
                }
            }
        }
    }
    // Numbers, integral or not, are fine, and a token without exp passes
    // only when exp is not required.
    let mut fractional = claims();
    fractional["iat"] = json!(1.5);
    fractional["exp"] = json!(now() as f64 + 600.5);
    assert!(verify(&set, &key.token(fractional)).is_ok());
    let mut forever = claims();
    forever.as_object_mut().unwrap().remove("exp");
    assert_refused!(
        verify(&set, &key.token(forever.clone())),
        Error::MissingClaim { .. }
    );
    assert!(set.verify(&key.token(forever), &optional).is_ok());
}

/// `iss` must equal the expected issuer byte for byte: prefixes, a trailing
/// slash, other case, extra path all fail.
#[test]
fn issuer_is_compared_exactly() {
    let key = TestKey::es256("ec");
    let set = key_set(&[&key]);
    let rules = Validation::without_audience().issuer(ISSUER);
    assert!(set.verify(&key.token(claims()), &rules).is_ok());
    for iss in [
        "https://issuer.example/",
        "https://issuer.exampl",
        "https://issuer.example.evil",
        "https://ISSUER.example",
        "HTTPS://issuer.example",
        "https://issuer.example/evil",
        "https://issuer.example ",
        " https://issuer.example",
        "https://issuer.example\0",
        "",
    ] {
        let mut claims = claims();
        claims["iss"] = json!(iss);
        assert_refused!(
            set.verify(&key.token(claims), &rules),
            Error::InvalidIssuer { .. },
            "{iss:?}"
        );
    }
    let mut claims = claims();
    claims.as_object_mut().unwrap().remove("iss");
    assert_refused!(
        set.verify(&key.token(claims.clone()), &rules),
        Error::InvalidIssuer { found: None, .. }
    );
    claims["iss"] = json!([ISSUER]);
    assert_refused!(
        set.verify(&key.token(claims), &rules),
        Error::InvalidClaim { .. }
    );
}

/// `aud` must name an accepted audience exactly, as a string or within an
/// array of strings; other types are invalid.
#[test]
fn audience_is_compared_exactly() {
    const API: &str = "https://api.example.com";
    let key = TestKey::es256("ec");
    let set = key_set(&[&key]);
    let rules = Validation::new([API]);
    let with_aud = |aud: Value| {
        let mut claims = claims();
        claims["aud"] = aud;
        key.token(claims)
    };
    assert!(set.verify(&with_aud(json!(API)), &rules).is_ok());
    assert!(set.verify(&with_aud(json!(["other", API])), &rules).is_ok());
    for aud in [
        json!("https://api.example.com/"),
        json!("https://api.example.co"),
        json!("https://api.example.com.evil"),
        json!("HTTPS://API.EXAMPLE.COM"),
        json!("https://api.example.com "),
        json!(["https://api.example.com/", "other"]),
        json!([]),
        json!(""),
    ] {
        assert_refused!(
            set.verify(&with_aud(aud.clone()), &rules),
            Error::InvalidAudience,
            "{aud}"
        );
    }
    let mut missing = claims();
    missing.as_object_mut().unwrap().remove("aud");
    assert_refused!(
        set.verify(&key.token(missing), &rules),
        Error::InvalidAudience
    );
    for aud in [
        json!(1),
        json!([API, 1]),
        json!({ "aud": API }),
        json!(null),
    ] {
        assert_refused!(
            set.verify(&with_aud(aud.clone()), &rules),
            Error::InvalidClaim { .. },
            "{aud}"
        );
    }
}

// ===== encoding and size

/// Anything but three segments is refused.
#[test]
fn exactly_three_segments() {
    let key = TestKey::ed25519("ed");
    let set = key_set(&[&key]);
    let token = key.token(claims());
    assert!(verify(&set, &token).is_ok());
    let (header, claims, signature) = segments(&token);
    for bad in [
        String::new(),
        format!("{header}.{claims}"),
        format!("{header}.{claims}.{signature}."),
        format!("{header}.{claims}.{signature}.{signature}"),
        format!("{header}..{claims}.{signature}.{signature}"),
        format!("{header}{claims}{signature}"),
    ] {
        assert_refused!(verify(&set, &bad), Error::MalformedToken { .. }, "{bad}");
        assert_refused!(set.verify_jws(&bad), Error::MalformedToken { .. });
    }
}

/// The signature segment of an otherwise valid token must be strict
/// base64url: no padding, no `+` or `/`, no whitespace, no non-canonical
/// trailing bits, although each of these decodes to the valid signature.
#[test]
fn signature_segment_is_strict_base64url() {
    let key = TestKey::rsa("rsa");
    let set = key_set(&[&key]);
    // A fixed `exp` keeps the (deterministic) RS256 signature fixed.
    let token = key.token(json!({"iss": ISSUER, "aud": "api", "exp": 4_000_000_000u64}));
    assert!(verify(&set, &token).is_ok());
    let (_, _, signature) = segments(&token);
    // 256 bytes make 342 characters, the last carrying 4 unused bits.
    assert_eq!(signature.len(), 342);

    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = signature.chars().last().unwrap();
    let index = alphabet.find(last).unwrap();
    assert_eq!(index & 0b1111, 0, "a canonical last character");
    let trailing_bits = format!(
        "{}{}",
        &signature[..signature.len() - 1],
        &alphabet[index + 1..index + 2]
    );
    let standard = STANDARD.encode(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap(),
    );
    let unpadded_standard = standard.trim_end_matches('=').to_owned();
    assert!(
        unpadded_standard.contains(['+', '/']),
        "the fixed signature uses the characters that differ"
    );
    let cases = [
        format!("{signature}=="),
        format!("{signature}="),
        unpadded_standard,
        standard,
        trailing_bits,
        format!("{signature}\n"),
        format!(" {signature}"),
        format!("{}\r\n{}", &signature[..76], &signature[76..]),
    ];
    for bad in cases {
        let token = with_signature(&token, &bad);
        assert_refused!(
            verify(&set, &token),
            Error::MalformedToken {
                part: TokenPart::Signature,
                ..
            },
            "{bad:?}"
        );
        assert_refused!(
            set.verify_jws(&token),
            Error::MalformedToken {
                part: TokenPart::Signature,
                ..
            }
        );
    }
}

/// An ECDSA signature must be raw `r‖s`: the same signature in DER, which
/// `ring`'s ASN.1 verifier accepts, is refused.
#[test]
fn ecdsa_der_signatures_are_refused() {
    let cases = [
        (TestKey::es256("ec"), &signature::ECDSA_P256_SHA256_ASN1),
        (TestKey::es384("ec"), &signature::ECDSA_P384_SHA384_ASN1),
    ];
    for (key, asn1) in cases {
        let set = key_set(&[&key]);
        let token = key.token(claims());
        assert!(verify(&set, &token).is_ok());

        let (header, claims, fixed) = segments(&token);
        let fixed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(fixed)
            .unwrap();
        let der = der_signature(&fixed);
        let input = format!("{header}.{claims}");
        signature::UnparsedPublicKey::new(asn1, key.public_point())
            .verify(input.as_bytes(), &der)
            .expect("the DER form is the same, valid signature");

        let token = with_signature(&token, &b64(&der));
        assert_refused!(verify(&set, &token), Error::InvalidSignature, "{}", key.alg);
        assert_refused!(set.verify_jws(&token), Error::InvalidSignature);
        // Truncated or padded fixed signatures fail too.
        for wrong in [
            fixed[..fixed.len() - 1].to_vec(),
            [&fixed[..], &[0]].concat(),
        ] {
            let token = with_signature(&token, &b64(wrong));
            assert_refused!(verify(&set, &token), Error::InvalidSignature);
        }
    }
}

/// A token over the 16 KiB limit is refused for its size before any
/// decoding, even one made of a megabyte of dots; a larger limit admits it.
#[test]
fn oversized_tokens_are_refused_first() {
    let key = TestKey::es256("ec");
    let set = key_set(&[&key]);
    let padded = |pad: usize| {
        let mut claims = claims();
        claims["pad"] = json!("p".repeat(pad));
        key.token(claims)
    };

    // The largest token within the limit verifies; the next one does not.
    // Token length grows with the padding, so a binary search finds it.
    let (mut pad, mut over) = (0, 16 * 1024);
    while over - pad > 1 {
        let middle = (pad + over) / 2;
        if padded(middle).len() <= 16 * 1024 {
            pad = middle;
        } else {
            over = middle;
        }
    }
    let within = padded(pad);
    let beyond = padded(pad + 1);
    assert!(within.len() <= 16 * 1024 && beyond.len() > 16 * 1024);
    assert!(verify(&set, &within).is_ok());
    assert_refused!(verify(&set, &beyond), Error::TokenTooLarge { .. });
    assert_refused!(set.verify_jws(&beyond), Error::TokenTooLarge { .. });
    assert_refused!(UnverifiedToken::parse(&beyond), Error::TokenTooLarge { .. });
    let parsed = UnverifiedToken::parse_with_limit(&beyond, 64 * 1024).unwrap();
    assert!(set.verify_parsed(parsed, &rules()).is_ok());

    let dots = ".".repeat(1 << 20);
    match verify(&set, &dots) {
        Err(Error::TokenTooLarge { len, max }) => assert_eq!((len, max), (1 << 20, 16 * 1024)),
        other => panic!("{other:?}"),
    }
    assert_refused!(set.verify_jws(&dots), Error::TokenTooLarge { .. });
    let garbage = "A".repeat(1 << 20);
    assert_refused!(
        UnverifiedToken::parse(&garbage),
        Error::TokenTooLarge { .. }
    );
}

/// Truncated and mutated tokens produce errors, never panics, and never
/// verify.
#[test]
fn mutated_tokens_never_panic() {
    let key = TestKey::ed25519("ed");
    let set = key_set(&[&key]);
    let token = key.token(claims());
    assert!(verify(&set, &token).is_ok());

    for end in 0..token.len() {
        assert!(verify(&set, &token[..end]).is_err());
        let _ = set.verify_jws(&token[..end]);
    }
    let bytes = token.as_bytes();
    for position in 0..bytes.len() {
        for replacement in [b'.', b'A', b'_', b'=', b'\0', 0xff] {
            if bytes[position] == replacement {
                continue;
            }
            let mut mutated = bytes.to_vec();
            mutated[position] = replacement;
            let mutated = String::from_utf8_lossy(&mutated);
            assert!(verify(&set, &mutated).is_err(), "{mutated}");
            let _ = UnverifiedToken::parse(&mutated);
        }
    }
}
