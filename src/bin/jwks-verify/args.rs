//! The command line: options, the `demo` subcommand, and the exit statuses
//! shown by `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The exit statuses, printed at the end of `--help`.
const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  the token verified; its header and claims are on standard output
  1  the token was rejected: malformed, bad signature, expired, wrong
     audience, issuer not allowed, no key with its kid, ...
  2  usage error: bad arguments, an unreadable --ca-cert file, a setting
     the registry refuses (such as an http:// --issuer without --allow-http)
  3  the token could not be checked: the issuer could not be reached or
     published something unusable

`jwks-verify demo` exits 0 when every step behaves as described, 3
otherwise.

A failure is reported as one line on standard error. Set RUST_LOG (for
example RUST_LOG=jwks_registry=debug) to see the registry's logs there.";

/// Verify a JWT with keys fetched from its issuer.
///
/// From the token's `iss`, discover the issuer (OpenID Connect), fetch its
/// key set (JWKS) over HTTPS, check the signature and the claims, and print
/// the token's header and claims as JSON on standard output.
#[derive(Debug, Parser)]
#[command(
    name = "jwks-verify",
    version,
    after_help = EXIT_STATUS_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// The token (compact JWS), or `-` to read it from standard input.
    #[arg(value_name = "TOKEN", required = true)]
    pub token: Option<String>,

    #[command(flatten)]
    pub verify: VerifyOptions,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What else the tool does besides verifying a token.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an offline demo on loopback.
    ///
    /// Starts an HTTPS issuer on 127.0.0.1, verifies thousands of tokens from
    /// many tasks through one registry, rotates a key, shows refused tokens,
    /// and prints what the issuer and the registry saw.
    Demo(DemoOptions),
}

/// The settings of one verification.
#[derive(Debug, Args)]
pub struct VerifyOptions {
    /// Accept tokens from this issuer only (exact string; repeatable).
    /// Without it any issuer is accepted, but loopback and private addresses
    /// only with --allow-private-networks.
    #[arg(long = "issuer", value_name = "ISS")]
    pub issuers: Vec<String>,

    #[command(flatten)]
    pub audience: AudienceRule,

    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub leeway: u64,

    /// The discovery path appended to the issuer [default:
    /// /.well-known/openid-configuration].
    #[arg(long, value_name = "PATH")]
    pub config_path: Option<String>,

    /// Trust this CA certificate (PEM or DER) in addition to the Mozilla
    /// roots; repeatable. A PEM file may hold several certificates.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<PathBuf>,

    /// Allow plain http:// issuers and key set URLs (for tests on loopback:
    /// anyone on the path can replace the keys).
    #[arg(long)]
    pub allow_http: bool,

    /// With no --issuer, allow issuers on loopback, private or link-local
    /// addresses.
    #[arg(long)]
    pub allow_private_networks: bool,

    /// Deadline of each request to the issuer, in seconds [default: 10].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: Option<u64>,

    /// Print the JSON on one line.
    #[arg(long)]
    pub compact: bool,
}

/// Which audiences the token must name: some, or explicitly none.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct AudienceRule {
    /// Require the token's `aud` to name this audience (repeatable: any one
    /// of them will do). This or --no-audience is required.
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,

    /// Do not check the audience (a token minted for another service then
    /// verifies too).
    #[arg(long)]
    pub no_audience: bool,
}

/// The settings of the demo.
#[derive(Debug, Args)]
pub struct DemoOptions {
    /// How many tokens to mint and verify, spread over RS256, ES256 and
    /// EdDSA.
    #[arg(long, value_name = "N", default_value_t = 3000,
          value_parser = clap::value_parser!(u32).range(3..=1_000_000))]
    pub tokens: u32,

    /// How many tasks verify them at once, each with its own clone of one
    /// registry handle.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub tasks: u32,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    /// The derived command line is consistent (clap's own checks).
    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `demo` needs neither a token nor an audience rule; verifying needs
    /// both.
    #[test]
    fn requirements() {
        let demo = Cli::try_parse_from(["jwks-verify", "demo"]).expect("demo parses");
        assert!(matches!(demo.command, Some(Command::Demo(_))));

        let verify = Cli::try_parse_from(["jwks-verify", "a.b.c", "--no-audience"])
            .expect("a token with --no-audience parses");
        assert_eq!(verify.token.as_deref(), Some("a.b.c"));
        assert!(verify.command.is_none());

        for args in [
            &["jwks-verify", "a.b.c"][..],
            &["jwks-verify", "--no-audience"],
            &["jwks-verify", "a.b.c", "--no-audience", "--audience", "x"],
        ] {
            let err = Cli::try_parse_from(args).expect_err("a usage error");
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }
}
