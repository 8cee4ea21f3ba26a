//! JSON Web Keys (RFC 7517) and their import into `ring`.
//!
//! A [`VerifyingKey`] is one public key, checked on import so that verifying
//! with it later can only fail because of the signature: RSA moduli of 2048
//! to 8192 bits with an odd public exponent of at least 3, EC points of the
//! exact length that lie on P-256 or P-384, Ed25519 keys of 32 bytes. A key
//! marked for encryption (`use` other than `sig`, `key_ops` without
//! `verify`), a key published with its private half, and symmetric keys are
//! refused.
//!
//! A [`KeySet`] is a JWK Set: keys that cannot be used are skipped with a
//! reason (logged at `debug`), never failing the set, but a set with no
//! usable key at all is an error.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use ring::agreement;
use ring::rand::SystemRandom;
use ring::signature::{RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use crate::algorithm::{Algorithm, KeyFamily};
use crate::error::{Error, quoted};
use crate::json;
use crate::token::{BASE64URL, Jws, MAX_KEY_ID_BYTES, UnverifiedToken};
use crate::validation::Validation;
use crate::verify::{Verified, VerifiedJws};

/// The most keys a set may hold; entries past it are skipped.
pub const MAX_KEYS_PER_SET: usize = 100;

/// Members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// One public key imported from a JWK, ready to verify signatures.
///
/// Cheap to share behind an `Arc`; immutable once built.
pub struct VerifyingKey {
    key_id: Option<String>,
    /// The JWK's own `alg`, if it had one: the only algorithm the key may
    /// verify.
    algorithm: Option<Algorithm>,
    material: Material,
    jwk: Map<String, Value>,
}

/// The key bytes in the form `ring` takes them.
enum Material {
    /// Big-endian `n` and `e` without leading zero bytes.
    Rsa { n: Box<[u8]>, e: Box<[u8]> },
    /// An uncompressed SEC1 point `04‖x‖y`, checked to be on the curve.
    Ec { family: KeyFamily, point: Box<[u8]> },
    /// The 32-byte public key.
    Ed25519 { x: [u8; 32] },
}

/// A JSON Web Key Set: the usable keys of an issuer, and why the others were
/// skipped.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
    skipped: Vec<SkippedKey>,
}

/// A key left out of a [`KeySet`], with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// The key's position in the set's `keys` array.
    pub index: usize,
    /// The key's `kid` (escaped and truncated), if it had a string one.
    pub key_id: Option<String>,
    /// Why it was skipped.
    pub reason: String,
}

impl VerifyingKey {
    /// Imports one JWK given as JSON text.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] when the text is not a strict JSON object or the
    /// key is unusable (see [`VerifyingKey::from_jwk`]).
    ///
    /// # Example
    ///
    /// ```
    /// use jwks_registry::{Algorithm, VerifyingKey};
    ///
    /// let key = VerifyingKey::from_json(br#"{"kty":"OKP","crv":"Ed25519","kid":"ed",
    ///     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)?;
    /// assert_eq!(key.key_id(), Some("ed"));
    /// assert!(key.supports(Algorithm::EdDSA));
    /// # Ok::<(), jwks_registry::Error>(())
    /// ```
    pub fn from_json(json: &[u8]) -> Result<VerifyingKey, Error> {
        let jwk =
            json::parse_object(json).map_err(|reason| Error::InvalidKey { kid: None, reason })?;
        VerifyingKey::from_jwk(jwk)
    }

    /// Imports one JWK given as a JSON object.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] when:
    /// - `kty` is missing or not `RSA`, `EC` or `OKP` (`oct` keys are never
    ///   accepted by a public-key registry);
    /// - `use` is present and not `sig`, or `key_ops` is present without
    ///   `verify`;
    /// - `alg` is present and names no supported algorithm, or one that
    ///   does not fit the key type;
    /// - private members (`d`, `p`, ...) are present;
    /// - RSA: `n` or `e` are not strict base64url, the modulus is outside
    ///   2048–8192 bits, the exponent is even, below 3 or above 2³³−1, or the
    ///   modulus shows the ROCA weakness (CVE-2017-15361);
    /// - EC: the curve is not P-256 or P-384, `x`/`y` are not exactly the
    ///   curve's length, or the point is not on the curve;
    /// - OKP: the curve is not Ed25519 or `x` is not 32 bytes;
    /// - `kid` is not a string or longer than 256 bytes.
    pub fn from_jwk(jwk: Map<String, Value>) -> Result<VerifyingKey, Error> {
        let key_id = match jwk.get("kid") {
            None => None,
            Some(Value::String(kid)) if kid.len() <= MAX_KEY_ID_BYTES => Some(kid.clone()),
            Some(Value::String(_)) => {
                return Err(invalid(None, "\"kid\" is longer than 256 bytes"));
            }
            Some(_) => return Err(invalid(None, "\"kid\" is not a string")),
        };
        let kid = key_id.as_deref();

        // Purpose: the key must be meant for signatures.
        match jwk.get("use") {
            None => {}
            Some(Value::String(usage)) if usage == "sig" => {}
            Some(_) => return Err(invalid(kid, "\"use\" is not \"sig\"")),
        }
        match jwk.get("key_ops") {
            None => {}
            Some(Value::Array(ops)) => {
                if !ops.iter().all(Value::is_string) {
                    return Err(invalid(kid, "\"key_ops\" holds a non-string"));
                }
                if !ops.iter().any(|op| op == "verify") {
                    return Err(invalid(kid, "\"key_ops\" does not contain \"verify\""));
                }
            }
            Some(_) => return Err(invalid(kid, "\"key_ops\" is not an array")),
        }
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
            return Err(invalid(
                kid,
                &format!("private member \"{member}\" is published"),
            ));
        }

        // Material, by key type.
        let material = match jwk.get("kty").and_then(Value::as_str) {
            Some("RSA") => import_rsa(&jwk, kid)?,
            Some("EC") => import_ec(&jwk, kid)?,
            Some("OKP") => import_okp(&jwk, kid)?,
            Some("oct") => return Err(invalid(kid, "symmetric (\"oct\") keys are not accepted")),
            Some(other) => {
                return Err(invalid(
                    kid,
                    &format!("unsupported key type \"{}\"", quoted(other)),
                ));
            }
            None => return Err(invalid(kid, "\"kty\" is missing or not a string")),
        };

        // Binding: a JWK `alg` restricts the key to that one algorithm.
        let algorithm = match jwk.get("alg") {
            None => None,
            Some(Value::String(name)) => {
                let alg = Algorithm::from_name(name).map_err(|_| {
                    invalid(kid, &format!("unsupported \"alg\" \"{}\"", quoted(name)))
                })?;
                if alg.family() != material.family() {
                    return Err(invalid(kid, "\"alg\" does not fit the key type or curve"));
                }
                Some(alg)
            }
            Some(_) => return Err(invalid(kid, "\"alg\" is not a string")),
        };

        Ok(VerifyingKey {
            key_id,
            algorithm,
            material,
            jwk,
        })
    }

    /// The key's `kid`, if it has one.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The algorithm the JWK restricts the key to (`alg`), if any.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
    }

    /// The JWK `kty`: `RSA`, `EC` or `OKP`.
    pub fn key_type(&self) -> &'static str {
        match self.material {
            Material::Rsa { .. } => "RSA",
            Material::Ec { .. } => "EC",
            Material::Ed25519 { .. } => "OKP",
        }
    }

    /// The JWK the key was imported from, as received.
    pub fn jwk(&self) -> &Map<String, Value> {
        &self.jwk
    }

    /// Says whether the key may verify signatures made with `alg`.
    pub fn supports(&self, alg: Algorithm) -> bool {
        self.check_fits(alg).is_ok()
    }

    /// Verifies `signature` over `message` with `alg`.
    ///
    /// # Errors
    ///
    /// - [`Error::KeyMismatch`] if the key cannot be used with `alg` (wrong
    ///   key type or curve, or a JWK `alg` that differs);
    /// - [`Error::InvalidSignature`] if the signature does not verify, which
    ///   includes an ECDSA signature that is not raw `r‖s` of the exact
    ///   length (DER is refused).
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        self.check_fits(alg)?;
        let verified = match &self.material {
            Material::Rsa { n, e } => {
                // OK because check_fits accepted an RSA algorithm.
                let parameters = alg
                    .rsa_parameters()
                    .expect("RSA algorithm has RSA parameters");
                RsaPublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                }
                .verify(parameters, message, signature)
            }
            Material::Ec { point, .. } => verify_point(alg, point, message, signature),
            Material::Ed25519 { x } => verify_point(alg, x, message, signature),
        };
        verified.map_err(|_| Error::InvalidSignature)
    }

    fn check_fits(&self, alg: Algorithm) -> Result<(), Error> {
        let mismatch = |reason| Error::KeyMismatch {
            kid: self.key_id.as_deref().map(quoted),
            alg,
            reason,
        };
        if alg.family() != self.material.family() {
            return Err(mismatch(match self.material.family() {
                KeyFamily::Rsa => "key type is RSA",
                KeyFamily::P256 => "key is on curve P-256",
                KeyFamily::P384 => "key is on curve P-384",
                KeyFamily::Ed25519 => "key is Ed25519",
            }));
        }
        match self.algorithm {
            Some(own) if own != alg => Err(mismatch("key is restricted to another \"alg\"")),
            _ => Ok(()),
        }
    }
}

impl Material {
    fn family(&self) -> KeyFamily {
        match self {
            Material::Rsa { .. } => KeyFamily::Rsa,
            Material::Ec { family, .. } => *family,
            Material::Ed25519 { .. } => KeyFamily::Ed25519,
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("key_id", &self.key_id)
            .field("key_type", &self.key_type())
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// Parses a JWK Set (`{"keys": [...]}`) and imports every usable key.
    ///
    /// Unusable keys are skipped and listed in [`KeySet::skipped`]; at most
    /// [`MAX_KEYS_PER_SET`] entries are considered.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKeySet`] if the text is not a strict JSON object
    /// (duplicate member names anywhere are refused), has no `keys` array, or
    /// yields no usable key.
    ///
    /// # Example
    ///
    /// ```
    /// use jwks_registry::KeySet;
    ///
    /// let set = KeySet::from_json(br#"{"keys":[
    ///     {"kty":"OKP","crv":"Ed25519","kid":"ed",
    ///      "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
    ///     {"kty":"oct","kid":"secret","k":"c2VjcmV0"}
    /// ]}"#)?;
    /// assert_eq!(set.keys().len(), 1);
    /// assert_eq!(set.skipped()[0].key_id.as_deref(), Some("secret"));
    /// # Ok::<(), jwks_registry::Error>(())
    /// ```
    pub fn from_json(json: &[u8]) -> Result<KeySet, Error> {
        let invalid_set = |reason: String| Error::InvalidKeySet { reason };
        let mut document = json::parse_object(json).map_err(invalid_set)?;
        let Some(Value::Array(entries)) = document.remove("keys") else {
            return Err(invalid_set(
                "\"keys\" is missing or not an array".to_owned(),
            ));
        };

        let mut set = KeySet::default();
        let total = entries.len();
        for (index, entry) in entries.into_iter().take(MAX_KEYS_PER_SET).enumerate() {
            let key_id = entry.get("kid").and_then(Value::as_str).map(quoted);
            let imported = match entry {
                Value::Object(jwk) => VerifyingKey::from_jwk(jwk).map_err(|err| match err {
                    Error::InvalidKey { reason, .. } => reason,
                    other => other.to_string(),
                }),
                _ => Err("not a JSON object".to_owned()),
            };
            match imported {
                Ok(key) => set.keys.push(Arc::new(key)),
                Err(reason) => {
                    tracing::debug!(index, kid = ?key_id, %reason, "skipped unusable key");
                    set.skipped.push(SkippedKey {
                        index,
                        key_id,
                        reason,
                    });
                }
            }
        }

        if total > MAX_KEYS_PER_SET {
            let reason = format!("the set holds {total} entries, more than {MAX_KEYS_PER_SET}");
            tracing::debug!(ignored = total - MAX_KEYS_PER_SET, %reason, "skipped keys past the limit");
            set.skipped.push(SkippedKey {
                index: MAX_KEYS_PER_SET,
                key_id: None,
                reason,
            });
        }

        if set.keys.is_empty() {
            let reason = match set.skipped.first() {
                None => "the set holds no keys".to_owned(),
                Some(first) => format!(
                    "no usable key ({} skipped, the first because {})",
                    set.skipped.len(),
                    first.reason
                ),
            };
            return Err(invalid_set(reason));
        }
        Ok(set)
    }

    /// Builds a set from keys already imported.
    pub fn from_keys(keys: impl IntoIterator<Item = VerifyingKey>) -> KeySet {
        KeySet {
            keys: keys.into_iter().map(Arc::new).collect(),
            skipped: Vec::new(),
        }
    }

    /// The usable keys, in the order of the set.
    pub fn keys(&self) -> &[Arc<VerifyingKey>] {
        &self.keys
    }

    /// The keys left out, with the reasons.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Finds the one key that may verify a token with this `kid` and `alg`.
    ///
    /// With a `kid`, the candidates are the keys with that `kid`; without
    /// one, all keys. Among them, the key must be the only one that fits
    /// `alg`.
    ///
    /// # Errors
    ///
    /// - [`Error::KeyNotFound`] when no candidate exists;
    /// - [`Error::KeyMismatch`] when the one key with this `kid` cannot
    ///   verify `alg`;
    /// - [`Error::AmbiguousKey`] when several candidates fit.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Arc<VerifyingKey>, Error> {
        self.select(kid, Some(alg))
    }

    /// As [`KeySet::find`]; without an algorithm, any key with the `kid`
    /// fits.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: Option<Algorithm>,
    ) -> Result<&Arc<VerifyingKey>, Error> {
        let fits = |key: &&Arc<VerifyingKey>| alg.is_none_or(|alg| key.supports(alg));
        let mut named = self
            .keys
            .iter()
            .filter(|key| kid.is_none() || key.key_id() == kid)
            .peekable();
        let Some(first_named) = named.peek().copied() else {
            return Err(Error::KeyNotFound {
                issuer: None,
                kid: kid.map(quoted),
            });
        };
        let mut fitting = named.filter(fits);
        match (fitting.next(), fitting.next(), alg) {
            (Some(key), None, _) => Ok(key),
            (Some(_), Some(_), _) => Err(Error::AmbiguousKey {
                kid: kid.map(quoted),
            }),
            // A named key that exists but does not fit says why; without a
            // kid there is simply no key for this algorithm.
            (None, _, Some(alg)) if kid.is_some() => Err(first_named
                .check_fits(alg)
                .expect_err("no key fits, so the first named one does not")),
            (None, _, _) => Err(Error::KeyNotFound {
                issuer: None,
                kid: kid.map(quoted),
            }),
        }
    }

    /// Verifies a JWT against this set and checks its claims.
    ///
    /// This is the offline entry point for users who hold their keys
    /// already; the registry runs the same code after fetching keys.
    ///
    /// # Errors
    ///
    /// Any parsing error of [`UnverifiedToken::parse`], any error of
    /// [`KeySet::find`], [`Error::InvalidSignature`], and the claim errors
    /// of [`Validation`].
    ///
    /// # Example
    ///
    /// ```
    /// use jwks_registry::{KeySet, Validation};
    ///
    /// # fn check(jwks_json: &[u8], token: &str) -> Result<(), jwks_registry::Error> {
    /// let keys = KeySet::from_json(jwks_json)?;
    /// let verified = keys.verify(token, &Validation::new(["my-api"]))?;
    /// println!("subject: {:?}", verified.claims().get("sub"));
    /// # Ok(()) }
    /// ```
    pub fn verify(&self, token: &str, validation: &Validation) -> Result<Verified, Error> {
        let token = UnverifiedToken::parse(token)?;
        self.verify_parsed(token, validation)
    }

    /// Verifies a token parsed already (to apply another size limit, or
    /// after looking at its unverified `iss`).
    ///
    /// # Errors
    ///
    /// As [`KeySet::verify`], without the parsing errors.
    pub fn verify_parsed(
        &self,
        token: UnverifiedToken<'_>,
        validation: &Validation,
    ) -> Result<Verified, Error> {
        validation.check_algorithm(token.jws.header.algorithm())?;
        let key = self.find(token.jws.header.key_id(), token.jws.header.algorithm())?;
        crate::verify::verify_token(token, key, validation)
    }

    /// Verifies a compact JWS whose payload need not be JSON, with any
    /// supported algorithm the key allows. No claim is checked.
    ///
    /// # Errors
    ///
    /// The parsing errors of [`UnverifiedToken::parse`] that concern the
    /// header and the encoding, the errors of [`KeySet::find`], and
    /// [`Error::InvalidSignature`].
    pub fn verify_jws(&self, token: &str) -> Result<VerifiedJws, Error> {
        let jws = Jws::parse(token, crate::token::DEFAULT_MAX_TOKEN_BYTES)?;
        let key = self.find(jws.header.key_id(), jws.header.algorithm())?;
        crate::verify::verify_jws(jws, key)
    }
}

// ===== import helpers

fn invalid(kid: Option<&str>, reason: &str) -> Error {
    Error::InvalidKey {
        kid: kid.map(quoted),
        reason: reason.to_owned(),
    }
}

/// Decodes a base64url member that must be present.
fn member_bytes(jwk: &Map<String, Value>, name: &str, kid: Option<&str>) -> Result<Vec<u8>, Error> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(kid, &format!("\"{name}\" is missing or not a string")))?;
    BASE64URL
        .decode(text)
        .map_err(|_| invalid(kid, &format!("\"{name}\" is not strict base64url")))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn import_rsa(jwk: &Map<String, Value>, kid: Option<&str>) -> Result<Material, Error> {
    let n = member_bytes(jwk, "n", kid)?;
    let e = member_bytes(jwk, "e", kid)?;
    // ring refuses leading zero bytes, which JWKs (and Wycheproof) carry.
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);

    let bits = match n.first() {
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    if !(2048..=8192).contains(&bits) {
        return Err(invalid(
            kid,
            &format!("RSA modulus of {bits} bits is outside 2048–8192"),
        ));
    }
    if n.last().is_some_and(|low| low & 1 == 0) {
        return Err(invalid(kid, "RSA modulus is even"));
    }
    let exponent = if e.len() <= 8 {
        e.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b))
    } else {
        u64::MAX
    };
    if exponent < 3 || exponent & 1 == 0 || exponent > (1 << 33) - 1 {
        return Err(invalid(
            kid,
            "RSA exponent must be odd, at least 3 and below 2^33",
        ));
    }
    if roca::is_weak(n) {
        return Err(invalid(
            kid,
            "RSA modulus has the ROCA weakness (CVE-2017-15361)",
        ));
    }
    Ok(Material::Rsa {
        n: n.into(),
        e: e.into(),
    })
}

fn import_ec(jwk: &Map<String, Value>, kid: Option<&str>) -> Result<Material, Error> {
    let (family, len, ecdh) = match jwk.get("crv").and_then(Value::as_str) {
        Some("P-256") => (KeyFamily::P256, 32, &agreement::ECDH_P256),
        Some("P-384") => (KeyFamily::P384, 48, &agreement::ECDH_P384),
        Some("P-521") => return Err(invalid(kid, "curve P-521 is not supported")),
        Some(other) => {
            return Err(invalid(
                kid,
                &format!("unsupported curve \"{}\"", quoted(other)),
            ));
        }
        None => return Err(invalid(kid, "\"crv\" is missing or not a string")),
    };
    let x = member_bytes(jwk, "x", kid)?;
    let y = member_bytes(jwk, "y", kid)?;
    if x.len() != len || y.len() != len {
        return Err(invalid(
            kid,
            "\"x\" and \"y\" must each be exactly the curve's size",
        ));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);

    // ring has no public point check, but its ECDH refuses a peer point that
    // is not on the curve: an agreement with a throwaway key checks it.
    let rng = SystemRandom::new();
    let on_curve = agreement::EphemeralPrivateKey::generate(ecdh, &rng)
        .and_then(|private| {
            agreement::agree_ephemeral(
                private,
                &agreement::UnparsedPublicKey::new(ecdh, &point),
                |_| (),
            )
        })
        .is_ok();
    if !on_curve {
        return Err(invalid(kid, "EC point is not on the curve"));
    }
    Ok(Material::Ec {
        family,
        point: point.into(),
    })
}

fn import_okp(jwk: &Map<String, Value>, kid: Option<&str>) -> Result<Material, Error> {
    match jwk.get("crv").and_then(Value::as_str) {
        Some("Ed25519") => {}
        Some(other) => {
            return Err(invalid(
                kid,
                &format!("unsupported curve \"{}\"", quoted(other)),
            ));
        }
        None => return Err(invalid(kid, "\"crv\" is missing or not a string")),
    }
    let x = member_bytes(jwk, "x", kid)?;
    let x: [u8; 32] = x
        .try_into()
        .map_err(|_| invalid(kid, "Ed25519 \"x\" must be 32 bytes"))?;
    Ok(Material::Ed25519 { x })
}

fn verify_point(
    alg: Algorithm,
    key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), ring::error::Unspecified> {
    // Raw r‖s only: a DER signature has another length and fails here.
    if alg.family().signature_len() != Some(signature.len()) {
        return Err(ring::error::Unspecified);
    }
    // OK because the caller checked that alg is an ECDSA or EdDSA algorithm.
    let algorithm = alg
        .point_algorithm()
        .expect("point algorithm for a non-RSA key");
    UnparsedPublicKey::new(algorithm, key).verify(message, signature)
}

/// Detection of RSA moduli made by the Infineon library affected by ROCA
/// (CVE-2017-15361), after Nemec et al., "The Return of Coppersmith's
/// Attack", CCS 2017: such a modulus, reduced modulo each small prime `p`
/// below, always lies in the subgroup generated by 65537. A random modulus
/// passes all of these tests with negligible probability.
mod roca {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];

    pub(super) fn is_weak(modulus: &[u8]) -> bool {
        PRIMES.iter().all(|&p| {
            let residue = modulus
                .iter()
                .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % p);
            in_subgroup_of_65537(residue, p)
        })
    }

    fn in_subgroup_of_65537(residue: u32, p: u32) -> bool {
        let generator = 65537 % p;
        let mut power = 1;
        // The subgroup has at most p - 1 elements.
        for _ in 0..p {
            if power == residue {
                return true;
            }
            power = power * generator % p;
            if power == 1 {
                break;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    fn with(base: &str, extra: &str) -> Vec<u8> {
        format!("{},{}", &base[..base.len() - 1], &extra[1..]).into_bytes()
    }

    fn reason(json: &[u8]) -> String {
        match VerifyingKey::from_json(json) {
            Err(Error::InvalidKey { reason, .. }) => reason,
            other => panic!("expected InvalidKey, got {other:?}"),
        }
    }

    /// `use` other than `sig` and `key_ops` without `verify` make a key
    /// unusable.
    #[test]
    fn purpose_rules() {
        assert!(VerifyingKey::from_json(&with(ED25519, r#"{"use":"sig"}"#)).is_ok());
        assert!(reason(&with(ED25519, r#"{"use":"enc"}"#)).contains("use"));
        assert!(
            VerifyingKey::from_json(&with(ED25519, r#"{"key_ops":["verify","sign"]}"#)).is_ok()
        );
        assert!(reason(&with(ED25519, r#"{"key_ops":["sign"]}"#)).contains("verify"));
        assert!(reason(&with(ED25519, r#"{"key_ops":"verify"}"#)).contains("array"));
    }

    /// A published private key is refused.
    #[test]
    fn private_members_refused() {
        let jwk = with(
            ED25519,
            r#"{"d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#,
        );
        assert!(reason(&jwk).contains("private"));
    }

    /// A JWK `alg` must fit the key and restricts it to that algorithm.
    #[test]
    fn jwk_alg_binding() {
        assert!(reason(&with(ED25519, r#"{"alg":"ES256"}"#)).contains("fit"));
        assert!(reason(&with(ED25519, r#"{"alg":"HS256"}"#)).contains("unsupported"));
        let key = VerifyingKey::from_json(&with(ED25519, r#"{"alg":"Ed25519"}"#)).unwrap();
        assert!(key.supports(Algorithm::EdDSA));
        assert!(!key.supports(Algorithm::ES256));
    }

    /// Wrong key types and curves are refused with a reason.
    #[test]
    fn key_types() {
        assert!(reason(br#"{"kty":"oct","k":"c2VjcmV0"}"#).contains("symmetric"));
        assert!(reason(br#"{"kty":"XYZ"}"#).contains("unsupported key type"));
        assert!(reason(br#"{"n":"AQAB"}"#).contains("kty"));
        assert!(reason(br#"{"kty":"OKP","crv":"Ed448","x":"AA"}"#).contains("Ed448"));
        assert!(reason(br#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#).contains("32 bytes"));
        assert!(reason(br#"{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}"#).contains("P-521"));
        assert!(reason(br#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#).contains("exactly"));
    }

    /// An EC point off the curve is refused at import.
    #[test]
    fn ec_point_on_curve() {
        // The RFC 7520 §3.1 key is on P-521; this is the P-256 key of
        // RFC 7515 A.3, then the same with y changed in its last character.
        let good = br#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        assert!(VerifyingKey::from_json(good).is_ok());
        let bad = br#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"}"#;
        assert!(reason(bad).contains("not on the curve"));
    }

    /// RSA size and exponent limits apply after leading zeros are stripped.
    #[test]
    fn rsa_limits() {
        let modulus = |bits: usize| {
            let mut n = vec![0xffu8; bits / 8];
            n.insert(0, 0); // a leading zero byte, as some JWKs carry
            BASE64URL.encode(n)
        };
        let key = |n: &str, e: &str| format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}"}}"#).into_bytes();
        assert!(reason(&key(&modulus(1024), "AQAB")).contains("1024 bits"));
        assert!(reason(&key(&modulus(8200), "AQAB")).contains("outside"));
        assert!(reason(&key(&modulus(2048), "AQ")).contains("exponent"));
        assert!(reason(&key(&modulus(2048), "AAE")).contains("exponent"));
        assert!(reason(&key(&modulus(2048), "AQAA")).contains("exponent"));
        assert!(VerifyingKey::from_json(&key(&modulus(2048), "AAEAAQ")).is_ok());
    }

    /// A set skips unusable keys, keeps the others, and fails when none is
    /// left.
    #[test]
    fn set_skips_and_fails_when_empty() {
        let set =
            KeySet::from_json(format!(r#"{{"keys":[{ED25519},{{"kty":"oct"}},7]}}"#).as_bytes())
                .unwrap();
        assert_eq!(set.keys().len(), 1);
        assert_eq!(set.skipped().len(), 2);
        assert_eq!(set.skipped()[1].reason, "not a JSON object");
        for doc in [
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"oct"}]}"#,
            r#"{"keys":{}}"#,
            r#"{}"#,
            "[]",
            "<html>",
        ] {
            assert!(
                matches!(
                    KeySet::from_json(doc.as_bytes()),
                    Err(Error::InvalidKeySet { .. })
                ),
                "{doc}"
            );
        }
    }

    /// Selection: by kid, then by fit; ambiguity is an error.
    #[test]
    fn find_rules() {
        let a = with(ED25519, r#"{"kid":"a"}"#);
        let b = with(ED25519, r#"{"kid":"b"}"#);
        let doc = format!(
            r#"{{"keys":[{},{},{}]}}"#,
            String::from_utf8(a.clone()).unwrap(),
            String::from_utf8(b).unwrap(),
            String::from_utf8(a).unwrap()
        );
        let set = KeySet::from_json(doc.as_bytes()).unwrap();
        assert!(matches!(
            set.find(Some("a"), Algorithm::EdDSA),
            Err(Error::AmbiguousKey { .. })
        ));
        assert_eq!(
            set.find(Some("b"), Algorithm::EdDSA).unwrap().key_id(),
            Some("b")
        );
        assert!(matches!(
            set.find(Some("b"), Algorithm::RS256),
            Err(Error::KeyMismatch { .. })
        ));
        assert!(matches!(
            set.find(Some("c"), Algorithm::EdDSA),
            Err(Error::KeyNotFound { .. })
        ));
        assert!(matches!(
            set.find(None, Algorithm::EdDSA),
            Err(Error::AmbiguousKey { kid: None })
        ));
        assert!(matches!(
            set.find(None, Algorithm::ES256),
            Err(Error::KeyNotFound { .. })
        ));
    }

    /// The ROCA test flags a modulus built from the weak structure and
    /// passes ordinary ones.
    #[test]
    fn roca_detection() {
        // 65537^k mod p for every p is what a weak modulus looks like; the
        // product of the first 38 primes is one such residue pattern
        // (residue 0 is never in the subgroup, so it must be rejected).
        assert!(!roca::is_weak(&[0xff; 256]));
        // 65537 itself reduces to a power of 65537 modulo every prime.
        assert!(roca::is_weak(&[0x01, 0x00, 0x01]));
    }
}
