//! The demo's signing keys: private keys that mint tokens, and the public
//! JWKs the demo issuer publishes for them.
//!
//! `ring` cannot generate RSA keys, so the RS256 key is a committed file;
//! the ES256 and Ed25519 keys are generated afresh on every run.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair, RsaPublicKeyComponents,
};
use serde_json::{Value, json};

/// A 2048-bit RSA key in PKCS#8 DER, made for this demo with
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 | openssl
/// pkcs8 -topk8 -nocrypt -outform DER`. It is a demo key and worthless:
/// being public, it protects nothing and must never sign real tokens.
const DEMO_RSA_KEY: &[u8] = include_bytes!("demo-rsa-2048.pk8.der");

/// A private key, with the `kid` and `alg` its public JWK advertises.
#[derive(Debug)]
pub struct SigningKey {
    kid: String,
    alg: &'static str,
    pair: Pair,
    rng: SystemRandom,
}

#[derive(Debug)]
enum Pair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A key could not be made, or could not sign.
pub type KeyError = Box<dyn std::error::Error + Send + Sync>;

impl SigningKey {
    /// The committed demo RSA key, for RS256.
    ///
    /// # Errors
    ///
    /// If `ring` refuses the committed key.
    pub fn rs256(kid: &str) -> Result<SigningKey, KeyError> {
        let pair = RsaKeyPair::from_pkcs8(DEMO_RSA_KEY)
            .map_err(|err| format!("the demo RSA key is unusable: {err}"))?;
        Ok(SigningKey::new(kid, "RS256", Pair::Rsa(pair)))
    }

    /// A fresh P-256 key, for ES256.
    ///
    /// # Errors
    ///
    /// If `ring` fails to generate or read the key.
    pub fn es256(kid: &str) -> Result<SigningKey, KeyError> {
        let rng = SystemRandom::new();
        let algorithm = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(algorithm, &rng)
            .map_err(|_| "could not generate a P-256 key")?;
        let pair = EcdsaKeyPair::from_pkcs8(algorithm, pkcs8.as_ref(), &rng)
            .map_err(|err| format!("could not read the P-256 key: {err}"))?;
        Ok(SigningKey::new(kid, "ES256", Pair::Ecdsa(pair)))
    }

    /// A fresh Ed25519 key, for EdDSA.
    ///
    /// # Errors
    ///
    /// If `ring` fails to generate or read the key.
    pub fn ed25519(kid: &str) -> Result<SigningKey, KeyError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| "could not generate an Ed25519 key")?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|err| format!("could not read the Ed25519 key: {err}"))?;
        Ok(SigningKey::new(kid, "EdDSA", Pair::Ed25519(pair)))
    }

    fn new(kid: &str, alg: &'static str, pair: Pair) -> SigningKey {
        SigningKey {
            kid: kid.to_owned(),
            alg,
            pair,
            rng: SystemRandom::new(),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm the key signs with.
    pub fn alg(&self) -> &'static str {
        self.alg
    }

    /// The public JWK: key material plus `kid`, `alg` and `use: sig`.
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.pair {
            Pair::Rsa(pair) => {
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "n": b64(&public.n), "e": b64(&public.e)})
            }
            Pair::Ecdsa(pair) => {
                // ring's public key is the uncompressed point 04 ‖ x ‖ y.
                let point = &pair.public_key().as_ref()[1..];
                let (x, y) = point.split_at(point.len() / 2);
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
            }
            Pair::Ed25519(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key())})
            }
        };
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg);
        jwk["use"] = json!("sig");
        jwk
    }

    /// A compact JWS of `claims` with the header `{"alg", "kid", "typ": "JWT"}`.
    ///
    /// # Errors
    ///
    /// If `ring` fails to sign.
    pub fn token(&self, claims: &Value) -> Result<String, KeyError> {
        let header = json!({"alg": self.alg, "kid": self.kid, "typ": "JWT"});
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = self.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", b64(signature)))
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let signature = match &self.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, input, &mut signature)
                    .map_err(|_| "RSA signing failed")?;
                signature
            }
            Pair::Ecdsa(pair) => pair
                .sign(&self.rng, input)
                .map_err(|_| "ECDSA signing failed")?
                .as_ref()
                .to_vec(),
            Pair::Ed25519(pair) => pair.sign(input).as_ref().to_vec(),
        };
        Ok(signature)
    }
}

/// A JWK Set of the public keys of `keys`, as JSON text.
pub fn key_set(keys: &[&SigningKey]) -> String {
    let keys: Vec<Value> = keys.iter().map(|key| key.jwk()).collect();
    json!({ "keys": keys }).to_string()
}

/// base64url without padding, as JOSE writes it.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use jwks_registry::{KeySet, Validation};

    use super::*;

    /// Tokens of each demo key verify offline against the published set.
    #[test]
    fn tokens_verify_against_the_key_set() {
        let keys = [
            SigningKey::rs256("r").expect("RSA key"),
            SigningKey::es256("e").expect("P-256 key"),
            SigningKey::ed25519("d").expect("Ed25519 key"),
        ];
        let set = KeySet::from_json(key_set(&keys.iter().collect::<Vec<_>>()).as_bytes())
            .expect("the set parses");
        let claims = json!({"sub": "demo", "exp": 4_000_000_000_u64});
        for key in &keys {
            let token = key.token(&claims).expect("signing");
            let verified = set
                .verify(&token, &Validation::without_audience())
                .expect("the token verifies");
            assert_eq!(verified.header().key_id(), Some(key.kid()));
        }
    }
}
