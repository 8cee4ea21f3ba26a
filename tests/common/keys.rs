//! A signing kit for tests and benches: fixture keys, their public JWKs, and
//! tokens signed with them.
//!
//! The RSA keys are committed fixtures (`tests/fixtures/rsa-2048-*.pk8.der`)
//! because `ring` cannot generate RSA keys; the EC and Ed25519 keys are
//! generated afresh by `ring` each time they are asked for. Key ids are
//! whatever the caller passes, so tests stay deterministic.

// Every test file and bench includes this module and uses a different part
// of it; without this each of them would warn about the parts it leaves out.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Value, json};

/// The first RSA 2048 fixture key, PKCS#8 DER.
const RSA_A: &[u8] = include_bytes!("../fixtures/rsa-2048-a.pk8.der");
/// A second, unrelated RSA 2048 key, for rotation and forgery tests.
const RSA_B: &[u8] = include_bytes!("../fixtures/rsa-2048-b.pk8.der");

/// The issuer the kit's [`claims`] name.
pub const ISSUER: &str = "https://issuer.example";

/// A private key with the `kid` and `alg` its public JWK advertises.
#[derive(Debug)]
pub struct TestKey {
    pub kid: String,
    /// The algorithm of [`TestKey::token`] and of the JWK's `alg`.
    pub alg: &'static str,
    pair: Pair,
}

#[derive(Debug)]
enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, &'static str),
    Ed25519(Ed25519KeyPair),
}

impl TestKey {
    /// The first RSA 2048 fixture, advertised for RS256.
    pub fn rsa(kid: &str) -> TestKey {
        TestKey::from_rsa(kid, RSA_A)
    }

    /// The second RSA 2048 fixture, advertised for RS256.
    pub fn rsa_other(kid: &str) -> TestKey {
        TestKey::from_rsa(kid, RSA_B)
    }

    /// A fresh P-256 key for ES256.
    pub fn es256(kid: &str) -> TestKey {
        TestKey::from_ec(
            kid,
            "ES256",
            "P-256",
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        )
    }

    /// A fresh P-384 key for ES384.
    pub fn es384(kid: &str) -> TestKey {
        TestKey::from_ec(
            kid,
            "ES384",
            "P-384",
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        )
    }

    /// A fresh Ed25519 key for EdDSA.
    pub fn ed25519(kid: &str) -> TestKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("ring generates");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("ring reads its own key");
        TestKey {
            kid: kid.to_owned(),
            alg: "EdDSA",
            pair: Pair::Ed25519(pair),
        }
    }

    /// The same key advertised for another algorithm of its family (an RSA
    /// key for PS256, say).
    pub fn with_alg(mut self, alg: &'static str) -> TestKey {
        self.alg = alg;
        self
    }

    fn from_rsa(kid: &str, pkcs8: &[u8]) -> TestKey {
        let pair = RsaKeyPair::from_pkcs8(pkcs8).expect("the RSA fixture is valid PKCS#8");
        TestKey {
            kid: kid.to_owned(),
            alg: "RS256",
            pair: Pair::Rsa(pair),
        }
    }

    fn from_ec(
        kid: &str,
        alg: &'static str,
        crv: &'static str,
        signing: &'static signature::EcdsaSigningAlgorithm,
    ) -> TestKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).expect("ring generates");
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).expect("ring reads");
        TestKey {
            kid: kid.to_owned(),
            alg,
            pair: Pair::Ec(pair, crv),
        }
    }

    /// The public JWK: `kty`, `kid`, `alg`, `use: sig` and the key material.
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.pair {
            Pair::Rsa(_) => {
                let (n, e) = self.rsa_components();
                json!({"kty": "RSA", "n": b64(n), "e": b64(e)})
            }
            Pair::Ec(pair, crv) => {
                // ring's EC public key is the uncompressed point 04‖x‖y.
                let point = &pair.public_key().as_ref()[1..];
                let (x, y) = point.split_at(point.len() / 2);
                json!({"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y)})
            }
            Pair::Ed25519(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key())})
            }
        };
        let members = jwk.as_object_mut().expect("built as an object");
        members.insert("kid".into(), json!(self.kid));
        members.insert("alg".into(), json!(self.alg));
        members.insert("use".into(), json!("sig"));
        jwk
    }

    /// The RSA modulus and exponent, big-endian without leading zeros.
    ///
    /// # Panics
    ///
    /// If the key is not RSA.
    pub fn rsa_components(&self) -> (Vec<u8>, Vec<u8>) {
        let Pair::Rsa(pair) = &self.pair else {
            panic!("{} is not an RSA key", self.kid)
        };
        let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        (public.n, public.e)
    }

    /// The raw public key of an EC (`04‖x‖y`) or Ed25519 key.
    ///
    /// # Panics
    ///
    /// If the key is RSA.
    pub fn public_point(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Ec(pair, _) => pair.public_key().as_ref().to_vec(),
            Pair::Ed25519(pair) => pair.public_key().as_ref().to_vec(),
            Pair::Rsa(_) => panic!("{} is an RSA key", self.kid),
        }
    }

    /// A token for `claims` with the header `{"alg", "kid", "typ": "JWT"}`.
    pub fn token(&self, claims: Value) -> String {
        let header = json!({"alg": self.alg, "kid": self.kid, "typ": "JWT"});
        self.sign(self.alg, header, claims)
    }

    /// A token with exactly this header and these claims, signed with the
    /// scheme `alg` names (the header's own `alg` is not consulted).
    pub fn sign(&self, alg: &str, header: Value, claims: Value) -> String {
        self.sign_text(alg, &header.to_string(), &claims.to_string())
    }

    /// As [`TestKey::sign`], from JSON text, for documents a `Value` cannot
    /// hold (duplicate members, odd spacing).
    pub fn sign_text(&self, alg: &str, header: &str, claims: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(claims));
        let signature = self.sign_with(alg, input.as_bytes());
        format!("{input}.{}", b64(signature))
    }

    /// Signs `input` with the key's own algorithm.
    pub fn sign_input(&self, input: &[u8]) -> Vec<u8> {
        self.sign_with(self.alg, input)
    }

    /// Signs `input` with the scheme `alg` names: the RSA padding and hash
    /// for RSA keys; EC and Ed25519 keys have one scheme each, in the fixed
    /// `r‖s` encoding for ECDSA.
    pub fn sign_with(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    other => panic!("an RSA key cannot sign {other}"),
                };
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &rng, input, &mut signature)
                    .expect("RSA signing");
                signature
            }
            Pair::Ec(pair, _) => pair
                .sign(&rng, input)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Pair::Ed25519(pair) => pair.sign(input).as_ref().to_vec(),
        }
    }
}

/// A JWK Set holding the public JWKs of `keys`, as JSON text.
pub fn jwks(keys: &[&TestKey]) -> String {
    let keys: Vec<Value> = keys.iter().map(|key| key.jwk()).collect();
    json!({ "keys": keys }).to_string()
}

/// Valid claims from [`ISSUER`] for the audience `api`, expiring in ten
/// minutes.
pub fn claims() -> Value {
    let now = now();
    json!({"iss": ISSUER, "sub": "alice", "aud": "api", "iat": now, "exp": now + 600})
}

/// base64url without padding, as JOSE writes it.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The current time in seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}
