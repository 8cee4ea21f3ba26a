//! `jwks-verify`: verify a JWT from the command line, or watch the registry
//! work in an offline demo.
//!
//! `jwks-verify TOKEN` reads the token's `iss` and `kid`, lets a
//! [`KeyRegistryHandle`](jwks_registry::KeyRegistryHandle) discover the
//! issuer and fetch its keys, verifies the signature and the claims, and
//! prints the header and claims as JSON. `jwks-verify demo` starts an HTTPS
//! issuer on loopback and runs the registry against it (see `demo.rs`).
//!
//! Layout: `args` (the command line), `verify` (the verify command),
//! `output` (what is printed and the exit status), `demo` (the demo script),
//! `issuer` (the demo's issuer) and `keys` (the demo's signing keys).
//!
//! Logs go to standard error through `tracing-subscriber`, filtered by
//! `RUST_LOG` and off by default, so that a failure is one line.

mod args;
mod demo;
mod issuer;
mod keys;
mod output;
mod verify;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::args::{Cli, Command};
use crate::output::Failure;

fn main() -> ExitCode {
    // Bad arguments end here, with clap's message and exit status 2.
    let cli = Cli::parse();
    init_logging();

    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| Failure::unchecked(format!("could not start the runtime: {err}")))
        .and_then(|runtime| match cli.command {
            Some(Command::Demo(options)) => runtime.block_on(demo::run(&options)),
            None => verify::Request::from_args(cli.token.as_deref(), &cli.verify)
                .and_then(|request| runtime.block_on(request.run())),
        });

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}

/// Sends `tracing` events to standard error, filtered by `RUST_LOG`; with
/// `RUST_LOG` unset (or unreadable) nothing is logged.
fn init_logging() {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::OFF.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
