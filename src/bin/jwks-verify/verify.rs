//! The verify command: one token through a freshly built registry.
//!
//! Everything that touches files or standard input happens first, in
//! [`Request::from_args`], so that the async part only talks to the issuer.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use jwks_registry::{KeyRegistryHandle, Validation};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::args::VerifyOptions;
use crate::output::{self, Failure};

/// The most read from standard input. Far above the registry's own token
/// limit, which reports longer tokens properly; this only bounds memory.
const MAX_STDIN_BYTES: u64 = 1024 * 1024;

/// A verification ready to run: the token and the registry's settings.
#[derive(Debug)]
pub struct Request {
    token: String,
    issuers: Vec<String>,
    audiences: Option<Vec<String>>,
    leeway: Duration,
    config_path: Option<String>,
    root_certificates: Vec<Vec<u8>>,
    allow_http: bool,
    allow_private_networks: bool,
    timeout: Option<Duration>,
    compact: bool,
}

impl Request {
    /// Reads the token (from standard input for `-`) and the CA files.
    ///
    /// # Errors
    ///
    /// A usage failure when the token is missing or standard input holds
    /// none, or when a `--ca-cert` file cannot be read or holds no
    /// certificate.
    pub fn from_args(token: Option<&str>, options: &VerifyOptions) -> Result<Request, Failure> {
        let token = match token {
            // clap requires the token unless a subcommand runs instead.
            None => return Err(Failure::usage("no token given")),
            Some("-") => read_stdin_token()?,
            Some(token) => token.to_owned(),
        };
        let root_certificates = options
            .ca_certs
            .iter()
            .map(|path| read_certificates(path))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        let audiences = if options.audience.no_audience {
            None
        } else {
            Some(options.audience.audiences.clone())
        };
        Ok(Request {
            token,
            issuers: options.issuers.clone(),
            audiences,
            leeway: Duration::from_secs(options.leeway),
            config_path: options.config_path.clone(),
            root_certificates,
            allow_http: options.allow_http,
            allow_private_networks: options.allow_private_networks,
            timeout: options.timeout.map(Duration::from_secs),
            compact: options.compact,
        })
    }

    /// Builds a registry, verifies the token and prints its header and
    /// claims.
    ///
    /// # Errors
    ///
    /// A usage failure when the registry refuses the settings; otherwise
    /// the verification error, classified by [`Failure::from_error`].
    pub async fn run(self) -> Result<(), Failure> {
        // Build the registry; its only failures are refused settings.
        let mut builder = KeyRegistryHandle::builder()
            .valid_issuers(self.issuers)
            .allow_http(self.allow_http)
            .allow_private_networks(self.allow_private_networks);
        if let Some(path) = self.config_path {
            builder = builder.config_path(path);
        }
        if let Some(timeout) = self.timeout {
            builder = builder.fetch_timeout(timeout);
        }
        for der in self.root_certificates {
            builder = builder.root_certificate(der);
        }
        let registry = builder
            .build()
            .map_err(|err| Failure::usage(output::with_sources(&err)))?;

        // Verify and print.
        let validation = match self.audiences {
            Some(audiences) => Validation::new(audiences),
            None => Validation::without_audience(),
        }
        .leeway(self.leeway);
        let verified = registry
            .verify(&self.token, &validation)
            .await
            .map_err(|err| Failure::from_error(&err))?;
        println!("{}", output::verified_json(&verified, self.compact));
        Ok(())
    }
}

/// The token on standard input, without surrounding white space.
fn read_stdin_token() -> Result<String, Failure> {
    let mut input = String::new();
    std::io::stdin()
        .take(MAX_STDIN_BYTES)
        .read_to_string(&mut input)
        .map_err(|err| {
            Failure::usage(format!(
                "could not read the token from standard input: {err}"
            ))
        })?;
    let token = input.trim();
    if token.is_empty() {
        return Err(Failure::usage("no token on standard input"));
    }
    Ok(token.to_owned())
}

/// The certificates in a PEM file (every `CERTIFICATE` block), or the one
/// certificate of a DER file.
fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>, Failure> {
    let unusable =
        |reason: String| Failure::usage(format!("--ca-cert {}: {reason}", path.display()));
    let bytes = std::fs::read(path).map_err(|err| unusable(err.to_string()))?;

    // DER starts with a SEQUENCE tag; anything else is read as PEM.
    if bytes.first() == Some(&0x30) {
        return Ok(vec![bytes]);
    }
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .map(|certificate| certificate.map(|der| der.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| unusable(format!("not a PEM or DER certificate: {err}")))?;
    if certificates.is_empty() {
        return Err(unusable(
            "no certificate found (expected PEM or DER)".to_owned(),
        ));
    }
    Ok(certificates)
}
