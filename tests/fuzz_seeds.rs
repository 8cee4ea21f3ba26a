//! The fuzz targets' seed corpus, replayed on stable.
//!
//! Each file under `fuzz/seeds/<target>/` goes through the target function
//! of `fuzz/src/targets.rs`, the same code the libFuzzer binaries in `fuzz/`
//! run. A seed that panics fails the test, and so does a target without
//! seeds.

use std::panic;
use std::path::{Path, PathBuf};

#[path = "../fuzz/src/targets.rs"]
mod targets;

/// The seed files of one target, sorted by name.
fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every seed of `target` through `run`, then fails listing the seeds
/// that panicked, if any.
fn replay(target: &str, run: fn(&[u8])) {
    let files = seeds(target);
    assert!(!files.is_empty(), "no seeds for the {target} target");

    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data =
                std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            panic::catch_unwind(|| run(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} {target} seeds panicked: {failed:#?}",
        failed.len(),
        files.len()
    );
}

/// Token seeds: valid tokens of every algorithm and malformed shapes.
#[test]
fn token_seeds() {
    replay("token", targets::token);
}

/// Key set seeds: the Wycheproof and RFC 7520 keys and broken JWKs.
#[test]
fn jwks_seeds() {
    replay("jwks", targets::jwks);
}

/// Discovery document seeds: accepted and refused documents.
#[test]
fn discovery_seeds() {
    replay("discovery", targets::discovery);
}

/// Verification seeds: tokens signed for the fixed key set, and mutations.
#[test]
fn verify_seeds() {
    replay("verify", targets::verify);
}

/// Claims seeds: claim sets of every shape the rules look at.
#[test]
fn claims_seeds() {
    replay("claims", targets::claims);
}

/// The signed seeds really verify, so that the verify target starts from
/// inputs that reach the claim checks.
#[test]
fn verify_seeds_include_valid_tokens() {
    let keys = jwks_registry::KeySet::from_json(include_bytes!("../fuzz/keys/jwks.json"))
        .expect("the committed keys import");
    let rules = jwks_registry::Validation::new(["api"])
        .issuer("https://issuer.example")
        .at_time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_100));
    let valid = seeds("verify")
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            keys.verify(text.trim_end(), &rules).is_ok()
        })
        .count();
    assert!(valid >= 10, "only {valid} verify seeds are valid tokens");
}
