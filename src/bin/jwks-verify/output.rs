//! What the tool prints: a verified token as JSON on standard output, or a
//! failure as one line on standard error with its exit status.

use std::fmt;
use std::process::ExitCode;

use jwks_registry::{Error, ErrorClass, Verified};
use serde_json::json;

/// Exit status when the token was rejected.
const EXIT_REJECTED: u8 = 1;
/// Exit status of a usage error; clap uses the same for bad arguments.
const EXIT_USAGE: u8 = 2;
/// Exit status when the token could not be checked.
const EXIT_UNCHECKED: u8 = 3;

/// The header and claims of a verified token as a JSON document:
/// `{"header": {...}, "claims": {...}}`, pretty or on one line.
pub fn verified_json(verified: &Verified, compact: bool) -> String {
    let document = json!({
        "header": verified.header().members(),
        "claims": verified.claims(),
    });
    if compact {
        document.to_string()
    } else {
        // Serializing a `Value` to a `String` has no way to fail.
        serde_json::to_string_pretty(&document).expect("a JSON value serializes")
    }
}

/// Why the tool stops with a non-zero status: the message (one line,
/// printed after `error: `) and the status.
#[derive(Debug)]
pub struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    /// The arguments or settings are unusable (status 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: EXIT_USAGE,
        }
    }

    /// Something outside the token failed (status 3).
    pub fn unchecked(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: EXIT_UNCHECKED,
        }
    }

    /// A verification error, classified: a rejected token (status 1), or a
    /// token that could not be checked (status 3).
    pub fn from_error(err: &Error) -> Failure {
        let chain = with_sources(err);
        match err.class() {
            ErrorClass::Rejected => Failure {
                message: format!("token rejected: {chain}"),
                status: EXIT_REJECTED,
            },
            // `ErrorClass` is non-exhaustive: anything new is at least "not
            // checked", never "verified".
            _ => Failure::unchecked(format!("could not check the token: {chain}")),
        }
    }

    /// The process exit status.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.status)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error and its causes on one line, joined with `": "`; line breaks in
/// a cause become spaces.
pub fn with_sources(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A network error prints with its whole cause chain on one line.
    #[test]
    fn causes_are_joined() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused\nhard");
        let err = Error::Http {
            url: "https://a/x".into(),
            source: Arc::new(io),
        };
        let failure = Failure::from_error(&err);
        assert_eq!(
            failure.to_string(),
            "could not check the token: request to https://a/x failed: refused hard"
        );
        assert_eq!(failure.status, EXIT_UNCHECKED);
    }

    /// A bad token is "rejected", with status 1.
    #[test]
    fn rejections() {
        let failure = Failure::from_error(&Error::InvalidSignature);
        assert_eq!(failure.to_string(), "token rejected: invalid signature");
        assert_eq!(failure.status, EXIT_REJECTED);
    }
}
