//! Claim rules applied after a signature verifies.
//!
//! A [`Validation`] says which audiences a service accepts, how much clock
//! skew it tolerates, which claims must be present, which algorithms it
//! allows and which `typ` it expects. The registered claims are checked for
//! their JSON type whether or not they are required: a string `exp` is an
//! error, never "no expiry" (RFC 7519 §4.1).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::error::{Error, quoted};
use crate::token::Header;

/// The default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// The claim rules a verified token must meet.
///
/// Built with [`Validation::new`] (audience required) or
/// [`Validation::without_audience`], then refined with the chained setters.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use jwks_registry::{Algorithm, Validation};
///
/// let rules = Validation::new(["https://api.example.com"])
///     .leeway(Duration::from_secs(30))
///     .required_claims(["exp", "sub"])
///     .algorithms([Algorithm::RS256, Algorithm::ES256])
///     .expected_type("at+jwt");
/// # let _ = rules;
/// ```
#[derive(Clone, Debug)]
pub struct Validation {
    /// `None` means the audience is deliberately not checked.
    audiences: Option<Vec<String>>,
    leeway: Duration,
    required_claims: Vec<String>,
    algorithms: Vec<Algorithm>,
    expected_type: Option<String>,
    issuer: Option<String>,
    /// A fixed clock for tests and replays; `None` reads the system clock.
    now: Option<SystemTime>,
}

impl Validation {
    /// Rules for a service known by the given audiences: a token is accepted
    /// only if its `aud` names at least one of them (RFC 7519 §4.1.3),
    /// compared exactly.
    ///
    /// Defaults: leeway of 60 seconds, `exp` required, every supported
    /// algorithm allowed, any `typ`.
    pub fn new<I, S>(audiences: I) -> Validation
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Validation {
            audiences: Some(audiences.into_iter().map(Into::into).collect()),
            ..Validation::without_audience()
        }
    }

    /// Rules that do not check the audience.
    ///
    /// A token issued for another service then verifies here too; use this
    /// only where the issuer mints tokens for this service alone.
    pub fn without_audience() -> Validation {
        Validation {
            audiences: None,
            leeway: DEFAULT_LEEWAY,
            required_claims: vec!["exp".to_owned()],
            algorithms: Algorithm::ALL.to_vec(),
            expected_type: None,
            issuer: None,
            now: None,
        }
    }

    /// Sets the clock-skew allowance applied to `exp` and `nbf` (default 60
    /// seconds).
    pub fn leeway(mut self, leeway: Duration) -> Validation {
        self.leeway = leeway;
        self
    }

    /// Replaces the list of claims that must be present (default: `exp`).
    ///
    /// An empty list accepts tokens that never expire.
    pub fn required_claims<I, S>(mut self, claims: I) -> Validation
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_claims = claims.into_iter().map(Into::into).collect();
        self
    }

    /// Restricts the algorithms a token may use (default: all of
    /// [`Algorithm::ALL`]).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Validation {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Requires the header's `typ`, for example `at+jwt` for OAuth access
    /// tokens (RFC 9068 §4). Compared ignoring ASCII case and an
    /// `application/` prefix (RFC 7515 §4.1.9).
    pub fn expected_type(mut self, typ: impl Into<String>) -> Validation {
        self.expected_type = Some(typ.into());
        self
    }

    /// Requires `iss` to equal `issuer` exactly. The registry already
    /// requires `iss` to equal the issuer the key came from.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Validation {
        self.issuer = Some(issuer.into());
        self
    }

    /// Checks times against `now` instead of the system clock.
    pub fn at_time(mut self, now: SystemTime) -> Validation {
        self.now = Some(now);
        self
    }

    /// Checks a header and claims against these rules. The signature is not
    /// looked at: call this only on a verified token.
    ///
    /// # Errors
    ///
    /// - [`Error::AlgorithmNotAllowed`] for an algorithm outside the list;
    /// - [`Error::InvalidType`] for a `typ` other than the expected one;
    /// - [`Error::InvalidClaim`] for a registered claim of the wrong type:
    ///   `exp`, `nbf`, `iat` not numbers, `iss`, `sub`, `jti` not strings,
    ///   `aud` neither a string nor an array of strings;
    /// - [`Error::MissingClaim`] for a required claim that is absent;
    /// - [`Error::Expired`] and [`Error::NotYetValid`] outside the validity
    ///   window widened by the leeway;
    /// - [`Error::InvalidIssuer`] when an issuer is required and differs;
    /// - [`Error::InvalidAudience`] when no audience matches.
    pub fn validate(&self, header: &Header, claims: &Map<String, Value>) -> Result<(), Error> {
        self.check(header, claims, None)
    }

    pub(crate) fn check_algorithm(&self, alg: Algorithm) -> Result<(), Error> {
        if self.algorithms.contains(&alg) {
            Ok(())
        } else {
            Err(Error::AlgorithmNotAllowed { alg })
        }
    }

    /// As [`Validation::validate`], with the issuer the key came from, which
    /// `iss` must equal in addition to any issuer set here.
    pub(crate) fn check(
        &self,
        header: &Header,
        claims: &Map<String, Value>,
        key_issuer: Option<&str>,
    ) -> Result<(), Error> {
        // Header.
        self.check_algorithm(header.algorithm())?;
        if let Some(expected) = &self.expected_type {
            let found = header.media_type();
            if !found.is_some_and(|found| same_media_type(found, expected)) {
                return Err(Error::InvalidType {
                    expected: expected.clone(),
                    found: found.map(quoted),
                });
            }
        }

        // Types of the registered claims, present or not required.
        let exp = numeric_date(claims, "exp")?;
        let nbf = numeric_date(claims, "nbf")?;
        numeric_date(claims, "iat")?;
        for name in ["iss", "sub", "jti"] {
            if claims.get(name).is_some_and(|value| !value.is_string()) {
                return Err(invalid_claim(name, "not a string"));
            }
        }
        let audience = audience(claims)?;

        // Presence.
        if let Some(missing) = self
            .required_claims
            .iter()
            .find(|name| !claims.contains_key(*name))
        {
            return Err(Error::MissingClaim {
                claim: missing.clone(),
            });
        }

        // Time window.
        let now = self.now.unwrap_or_else(SystemTime::now);
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let leeway = self.leeway.as_secs_f64();
        if let Some(exp) = exp {
            if now.as_secs_f64() >= exp + leeway {
                return Err(Error::Expired {
                    exp,
                    now: now.as_secs(),
                });
            }
        }
        if let Some(nbf) = nbf {
            if now.as_secs_f64() + leeway < nbf {
                return Err(Error::NotYetValid {
                    nbf,
                    now: now.as_secs(),
                });
            }
        }

        // Issuer, exactly.
        let iss = claims.get("iss").and_then(Value::as_str);
        for expected in [key_issuer, self.issuer.as_deref()].into_iter().flatten() {
            if iss != Some(expected) {
                return Err(Error::InvalidIssuer {
                    expected: expected.to_owned(),
                    found: iss.map(quoted),
                });
            }
        }

        // Audience, exactly.
        if let Some(accepted) = &self.audiences {
            let matched = audience
                .iter()
                .any(|aud| accepted.iter().any(|ok| ok == aud));
            if !matched {
                return Err(Error::InvalidAudience);
            }
        }
        Ok(())
    }
}

fn invalid_claim(name: &str, reason: &'static str) -> Error {
    Error::InvalidClaim {
        claim: name.to_owned(),
        reason,
    }
}

/// Reads a NumericDate claim (RFC 7519 §2): absent, or a JSON number.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid_claim(name, "not a finite number")),
        Some(_) => Err(invalid_claim(name, "not a number")),
    }
}

/// Reads `aud`: absent, a string, or an array of strings (RFC 7519 §4.1.3).
fn audience(claims: &Map<String, Value>) -> Result<Vec<&str>, Error> {
    match claims.get("aud") {
        None => Ok(Vec::new()),
        Some(Value::String(aud)) => Ok(vec![aud.as_str()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| invalid_claim("aud", "array holds a non-string"))
            })
            .collect(),
        Some(_) => Err(invalid_claim(
            "aud",
            "neither a string nor an array of strings",
        )),
    }
}

fn same_media_type(found: &str, expected: &str) -> bool {
    fn strip(typ: &str) -> &str {
        match typ.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
            _ => typ,
        }
    }
    strip(found).eq_ignore_ascii_case(strip(expected))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::token::{BASE64URL, UnverifiedToken};
    use base64::Engine as _;

    const NOW: u64 = 1_700_000_000;

    fn check(rules: &Validation, header: Value, claims: Value) -> Result<(), Error> {
        let token = format!(
            "{}.{}.AA",
            BASE64URL.encode(header.to_string()),
            BASE64URL.encode(claims.to_string())
        );
        let parsed = UnverifiedToken::parse(&token).unwrap();
        rules
            .at_time_secs(NOW)
            .validate(parsed.header(), parsed.claims())
    }

    impl Validation {
        fn at_time_secs(&self, secs: u64) -> Validation {
            self.clone().at_time(UNIX_EPOCH + Duration::from_secs(secs))
        }
    }

    fn rs256() -> Value {
        json!({"alg": "RS256"})
    }

    /// A string `exp` is an error, not "absent", even when `exp` is not
    /// required.
    #[test]
    fn numeric_dates_must_be_numbers() {
        let rules = Validation::without_audience().required_claims::<[&str; 0], &str>([]);
        for name in ["exp", "nbf", "iat"] {
            let err = check(&rules, rs256(), json!({ name: "1700000000" })).unwrap_err();
            assert!(
                matches!(err, Error::InvalidClaim { ref claim, .. } if claim == name),
                "{err}"
            );
        }
        assert!(check(&rules, rs256(), json!({"exp": NOW + 10, "iat": 1.5})).is_ok());
    }

    /// `exp` is required by default and honoured with leeway.
    #[test]
    fn expiry_with_leeway() {
        let rules = Validation::without_audience();
        assert!(matches!(
            check(&rules, rs256(), json!({})),
            Err(Error::MissingClaim { .. })
        ));
        assert!(check(&rules, rs256(), json!({"exp": NOW - 59})).is_ok());
        assert!(matches!(
            check(&rules, rs256(), json!({"exp": NOW - 60})),
            Err(Error::Expired { .. })
        ));
        let strict = rules.clone().leeway(Duration::ZERO);
        assert!(matches!(
            check(&strict, rs256(), json!({"exp": NOW})),
            Err(Error::Expired { .. })
        ));
        assert!(check(&strict, rs256(), json!({"exp": NOW + 1})).is_ok());
    }

    /// `nbf` in the future beyond the leeway is refused.
    #[test]
    fn not_before() {
        let rules = Validation::without_audience();
        let exp = NOW + 1000;
        assert!(check(&rules, rs256(), json!({"exp": exp, "nbf": NOW + 60})).is_ok());
        assert!(matches!(
            check(&rules, rs256(), json!({"exp": exp, "nbf": NOW + 61})),
            Err(Error::NotYetValid { .. })
        ));
    }

    /// Audiences compare exactly, as a string or inside an array.
    #[test]
    fn audience_exact() {
        let rules = Validation::new(["https://api.example.com"]);
        let exp = NOW + 100;
        assert!(
            check(
                &rules,
                rs256(),
                json!({"exp": exp, "aud": "https://api.example.com"})
            )
            .is_ok()
        );
        assert!(
            check(
                &rules,
                rs256(),
                json!({"exp": exp, "aud": ["x", "https://api.example.com"]})
            )
            .is_ok()
        );
        for aud in [
            json!("https://api.example.com/"),
            json!("https://api.example.co"),
            json!("HTTPS://API.EXAMPLE.COM"),
            json!("https://api.example.com.evil"),
            json!([]),
        ] {
            assert!(matches!(
                check(&rules, rs256(), json!({"exp": exp, "aud": aud})),
                Err(Error::InvalidAudience)
            ));
        }
        assert!(matches!(
            check(&rules, rs256(), json!({"exp": exp})),
            Err(Error::InvalidAudience)
        ));
        for aud in [json!(1), json!(["a", 1]), json!({"a": 1})] {
            assert!(matches!(
                check(&rules, rs256(), json!({"exp": exp, "aud": aud})),
                Err(Error::InvalidClaim { .. })
            ));
        }
        // Without an audience rule the claim is still type-checked.
        let open = Validation::without_audience();
        assert!(check(&open, rs256(), json!({"exp": exp, "aud": "anything"})).is_ok());
        assert!(check(&open, rs256(), json!({"exp": exp, "aud": 5})).is_err());
    }

    /// Issuers compare exactly: prefix, trailing slash and case all fail.
    #[test]
    fn issuer_exact() {
        let rules = Validation::without_audience().issuer("https://issuer.example");
        let exp = NOW + 100;
        assert!(
            check(
                &rules,
                rs256(),
                json!({"exp": exp, "iss": "https://issuer.example"})
            )
            .is_ok()
        );
        for iss in [
            "https://issuer.example/",
            "https://issuer.exampl",
            "https://ISSUER.example",
            "https://issuer.example.evil",
        ] {
            let err = check(&rules, rs256(), json!({"exp": exp, "iss": iss})).unwrap_err();
            assert!(matches!(err, Error::InvalidIssuer { .. }), "{iss}");
        }
        assert!(matches!(
            check(&rules, rs256(), json!({"exp": exp})),
            Err(Error::InvalidIssuer { found: None, .. })
        ));
        assert!(matches!(
            check(
                &Validation::without_audience(),
                rs256(),
                json!({"exp": exp, "iss": 1})
            ),
            Err(Error::InvalidClaim { .. })
        ));
    }

    /// The allowed algorithms and the expected `typ` are enforced.
    #[test]
    fn algorithm_and_type() {
        let exp = NOW + 100;
        let rules = Validation::without_audience().algorithms([Algorithm::ES256]);
        assert!(matches!(
            check(&rules, rs256(), json!({"exp": exp})),
            Err(Error::AlgorithmNotAllowed { .. })
        ));
        let rules = Validation::without_audience().expected_type("at+jwt");
        assert!(
            check(
                &rules,
                json!({"alg": "RS256", "typ": "at+JWT"}),
                json!({"exp": exp})
            )
            .is_ok()
        );
        assert!(
            check(
                &rules,
                json!({"alg": "RS256", "typ": "application/at+jwt"}),
                json!({"exp": exp})
            )
            .is_ok()
        );
        assert!(matches!(
            check(
                &rules,
                json!({"alg": "RS256", "typ": "JWT"}),
                json!({"exp": exp})
            ),
            Err(Error::InvalidType { .. })
        ));
        assert!(matches!(
            check(&rules, rs256(), json!({"exp": exp})),
            Err(Error::InvalidType { found: None, .. })
        ));
    }
}
