//! The algorithm table: JWS `alg` names, the keys they need, and the `ring`
//! verification algorithm behind each.
//!
//! Only asymmetric signature algorithms are here. `none` and the HMAC family
//! are refused by name: a registry of public keys must never treat a public
//! key as an HMAC secret (RFC 8725 §2.1). `ES512` is refused as unsupported
//! because `ring` has no P-521.

use std::fmt;
use std::str::FromStr;

use ring::signature::{self, RsaParameters, VerificationAlgorithm};

use crate::error::{Error, quoted};

/// A JWS signature algorithm this crate verifies (RFC 7518 §3, RFC 8037,
/// RFC 9864).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384 and MGF1 with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512 and MGF1 with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256, signature as raw `r‖s` (64 bytes).
    ES256,
    /// ECDSA on P-384 with SHA-384, signature as raw `r‖s` (96 bytes).
    ES384,
    /// EdDSA with an Ed25519 key. The header names `EdDSA` (RFC 8037) and
    /// `Ed25519` (RFC 9864) both map here.
    EdDSA,
}

/// The kind of key an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Algorithm {
    /// Every supported algorithm, the default of
    /// [`Validation::algorithms`](crate::Validation::algorithms).
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// Looks up a JWS `alg` name, case-sensitively as RFC 7515 §4.1.1
    /// requires.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedAlgorithm`] for `none`, the `HS*` family, `ES512`
    /// and any name not in the table.
    ///
    /// # Example
    ///
    /// ```
    /// use jwks_registry::Algorithm;
    ///
    /// assert_eq!(Algorithm::from_name("ES256").unwrap(), Algorithm::ES256);
    /// assert_eq!(Algorithm::from_name("Ed25519").unwrap(), Algorithm::EdDSA);
    /// assert!(Algorithm::from_name("none").is_err());
    /// assert!(Algorithm::from_name("HS256").is_err());
    /// ```
    pub fn from_name(name: &str) -> Result<Algorithm, Error> {
        Ok(match name {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" | "Ed25519" => Algorithm::EdDSA,
            other => return Err(Error::UnsupportedAlgorithm { alg: quoted(other) }),
        })
    }

    /// The algorithm's name in the JOSE registry (`EdDSA` for Ed25519).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    pub(crate) fn family(self) -> KeyFamily {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyFamily::Rsa,
            Algorithm::ES256 => KeyFamily::P256,
            Algorithm::ES384 => KeyFamily::P384,
            Algorithm::EdDSA => KeyFamily::Ed25519,
        }
    }

    /// The `ring` parameters of an RSA algorithm; `None` for the others.
    ///
    /// All of them accept moduli of 2048 to 8192 bits, the range this crate
    /// imports.
    pub(crate) fn rsa_parameters(self) -> Option<&'static RsaParameters> {
        Some(match self {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::EdDSA => return None,
        })
    }

    /// The `ring` algorithm for keys given as raw public key bytes (ECDSA in
    /// the fixed `r‖s` encoding, Ed25519); `None` for RSA.
    pub(crate) fn point_algorithm(self) -> Option<&'static dyn VerificationAlgorithm> {
        Some(match self {
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
            _ => return None,
        })
    }
}

impl KeyFamily {
    /// The length of a signature for keys of this family, where it is fixed.
    pub(crate) fn signature_len(self) -> Option<usize> {
        match self {
            KeyFamily::Rsa => None,
            KeyFamily::P256 => Some(64),
            KeyFamily::P384 => Some(96),
            KeyFamily::Ed25519 => Some(64),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(name: &str) -> Result<Algorithm, Error> {
        Algorithm::from_name(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name in the table parses back to itself.
    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()).unwrap(), alg);
            assert_eq!(alg.to_string(), alg.name());
        }
    }

    /// `none`, HMAC, P-521 and near-miss spellings are refused.
    #[test]
    fn refused_names() {
        for name in [
            "none",
            "None",
            "NONE",
            "nOnE",
            "",
            "HS256",
            "HS384",
            "HS512",
            "ES512",
            "rs256",
            "RS256 ",
            "ES256K",
            "EdDSA\0",
            "RSA-OAEP",
            "PS256\u{200b}",
        ] {
            let err = Algorithm::from_name(name).unwrap_err();
            assert!(
                matches!(err, Error::UnsupportedAlgorithm { .. }),
                "{name:?}: {err}"
            );
        }
    }

    /// ES512 is named in its error, so an operator sees why it failed.
    #[test]
    fn es512_is_unsupported() {
        let err = Algorithm::from_name("ES512").unwrap_err();
        assert_eq!(err.to_string(), "unsupported algorithm \"ES512\"");
    }
}
