//! `jwks-verify demo`: the registry at work, offline, on loopback.
//!
//! The script, step by step:
//!
//! 1. Start the demo issuer (`issuer.rs`) over HTTPS on 127.0.0.1 with an
//!    RS256, an ES256 and an EdDSA key, and build one registry that trusts
//!    the issuer's in-memory CA and accepts that issuer only.
//! 2. Mint a batch of tokens, spread over the three keys.
//! 3. Verify the batch from many tasks, each holding a clone of the one
//!    registry handle. The registry starts cold: the first tasks share one
//!    discovery request and one key set request, and every later token is a
//!    cache hit.
//! 4. Rotate: the issuer replaces its ES256 key with a new one. Once the
//!    demo's short `min_refetch_interval` has passed, a token with the new
//!    `kid` makes the registry refetch the key set; a token of the retired
//!    key is then refused.
//! 5. Show a tampered and an expired token refused, with their errors.
//! 6. Print a summary: tokens per second, the requests the issuer saw, and
//!    the registry's counters.
//!
//! Any step that does not behave as described ends the demo with a failure
//! (exit status 3).

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwks_registry::{Error, ErrorClass, KeyRegistryHandle, Validation};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::args::DemoOptions;
use crate::issuer::DemoIssuer;
use crate::keys::{self, SigningKey};
use crate::output::{Failure, with_sources};

/// The audience of every demo token.
const AUDIENCE: &str = "jwks-verify-demo";

/// The registry's `min_refetch_interval` for the demo, instead of the
/// default five minutes, so that the rotation can be shown at once.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// Added to the wait for `MIN_REFETCH_INTERVAL`, so that the wait ends
/// safely after the interval whatever the clock's granularity.
const WAIT_MARGIN: Duration = Duration::from_millis(50);

/// Runs the demo and prints what it does.
///
/// # Errors
///
/// A failure (exit status 3) when the issuer cannot start, a key cannot be
/// made, or the registry does not behave as the demo expects.
pub async fn run(options: &DemoOptions) -> Result<(), Failure> {
    let started = Instant::now();
    let tokens = options.tokens as usize;
    let tasks = options.tasks as usize;
    println!("jwks-verify demo: an HTTPS issuer on 127.0.0.1, one key registry, {tokens} tokens");
    println!();

    // The issuer and its keys.
    let rs256 = SigningKey::rs256("rs256-1").map_err(demo_failure("RS256 key"))?;
    let es256 = SigningKey::es256("es256-1").map_err(demo_failure("ES256 key"))?;
    let ed25519 = SigningKey::ed25519("ed25519-1").map_err(demo_failure("EdDSA key"))?;
    let issuer = DemoIssuer::start(keys::key_set(&[&rs256, &es256, &ed25519]))
        .await
        .map_err(demo_failure("starting the issuer"))?;
    println!(
        "issuer   {} (certificate from an in-memory CA)",
        issuer.url()
    );
    let listed: Vec<String> = [&rs256, &es256, &ed25519]
        .iter()
        .map(|key| format!("{} ({})", key.kid(), key.alg()))
        .collect();
    println!("keys     {}", listed.join(", "));

    // One registry for the whole demo: the issuer's CA, that issuer only.
    let registry = KeyRegistryHandle::builder()
        .valid_issuers([issuer.url()])
        .root_certificate(issuer.ca_der())
        .min_refetch_interval(MIN_REFETCH_INTERVAL)
        .build()
        .map_err(|err| Failure::unchecked(format!("demo: building the registry: {err}")))?;
    let validation = Validation::new([AUDIENCE]);
    println!(
        "registry valid_issuers=[{}], min_refetch_interval={}s",
        issuer.url(),
        MIN_REFETCH_INTERVAL.as_secs()
    );
    println!();

    // Mint the batch, round robin over the three keys.
    progress(&format!("minting {tokens} tokens (RS256, ES256, EdDSA)"));
    let minting = Instant::now();
    let signers = [&rs256, &es256, &ed25519];
    let batch = (0..tokens)
        .map(|i| signers[i % signers.len()].token(&claims(issuer.url(), i, 600)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(demo_failure("minting"))?;
    println!("done in {}", seconds(minting.elapsed()));

    // Verify it from many tasks through one registry.
    progress(&format!("verifying {tokens} tokens from {tasks} tasks"));
    let verifying = Instant::now();
    let verified = verify_batch(&registry, &validation, batch, tasks).await?;
    let batch_done = Instant::now();
    let batch_time = batch_done - verifying;
    println!(
        "done in {} ({} tokens per second)",
        seconds(batch_time),
        per_second(verified, batch_time)
    );
    let cold = issuer.requests();
    println!(
        "  requests while {tasks} tasks started on a cold registry: discovery={} jwks={}",
        cold.discovery, cold.jwks
    );
    println!();

    // Rotate the ES256 key; the next unknown kid may refetch once the
    // interval since the last fetch, which ended during the batch, is over.
    let es256_next = SigningKey::es256("es256-2").map_err(demo_failure("ES256 key"))?;
    let retired = es256
        .token(&claims(issuer.url(), tokens, 600))
        .map_err(demo_failure("minting"))?;
    let rotated = es256_next
        .token(&claims(issuer.url(), tokens + 1, 600))
        .map_err(demo_failure("minting"))?;
    issuer.set_jwks(keys::key_set(&[&rs256, &es256_next, &ed25519]));
    println!("rotation: the issuer now publishes es256-2 instead of es256-1");
    progress(&format!(
        "  waiting out min_refetch_interval ({}s)",
        MIN_REFETCH_INTERVAL.as_secs()
    ));
    let ready_at = batch_done + MIN_REFETCH_INTERVAL + WAIT_MARGIN;
    tokio::time::sleep_until(ready_at.into()).await;
    println!("done");

    let before = issuer.requests().jwks;
    registry
        .verify(&rotated, &validation)
        .await
        .map_err(|err| demo_error("the token of the new key", &err))?;
    let after = issuer.requests().jwks;
    println!(
        "  token of es256-2 verified; the key set was refetched (jwks requests {before} -> {after})"
    );
    let err = expect_rejected(
        &registry,
        &validation,
        &retired,
        "the token of the retired key",
    )
    .await?;
    println!("  token of es256-1 refused: {err}");
    println!();

    // Refusals.
    println!("refusals");
    let tampered = tamper(
        &rs256
            .token(&claims(issuer.url(), tokens + 2, 600))
            .map_err(demo_failure("minting"))?,
    )?;
    let err = expect_rejected(&registry, &validation, &tampered, "a tampered token").await?;
    println!("  tampered token (claims changed after signing) refused: {err}");
    let expired = ed25519
        .token(&claims(issuer.url(), tokens + 3, -3600))
        .map_err(demo_failure("minting"))?;
    let err = expect_rejected(&registry, &validation, &expired, "an expired token").await?;
    println!("  expired token (exp an hour ago, leeway 60s) refused: {err}");
    println!();

    // Summary, in `name: key=value` lines that scripts can read.
    let requests = issuer.requests();
    let stats = registry.stats();
    println!("summary");
    println!(
        "  tokens verified: {verified} in {} ({} per second, {tasks} tasks, one registry)",
        seconds(batch_time),
        per_second(verified, batch_time)
    );
    println!(
        "  issuer requests: discovery={} jwks={}",
        requests.discovery, requests.jwks
    );
    println!(
        "  registry stats: hits={} misses={} fetches_ok={} fetches_failed={} \
         refetches_suppressed={} stale_serves={} evictions={}",
        stats.hits,
        stats.misses,
        stats.fetches_ok,
        stats.fetches_failed,
        stats.refetches_suppressed,
        stats.stale_serves,
        stats.evictions
    );
    println!("  demo finished in {}", seconds(started.elapsed()));
    Ok(())
}

/// Verifies `batch` from `tasks` tasks, each with its own clone of
/// `registry`, and returns how many verified.
async fn verify_batch(
    registry: &KeyRegistryHandle,
    validation: &Validation,
    batch: Vec<String>,
    tasks: usize,
) -> Result<usize, Failure> {
    let batch = Arc::new(batch);
    let mut running = JoinSet::new();
    for task in 0..tasks {
        let registry = registry.clone();
        let validation = validation.clone();
        let batch = Arc::clone(&batch);
        running.spawn(async move {
            // Task `task` takes every `tasks`-th token, so each task sees
            // all three algorithms.
            let mut verified = 0;
            for token in batch.iter().skip(task).step_by(tasks) {
                registry.verify(token, &validation).await?;
                verified += 1;
            }
            Ok::<usize, Error>(verified)
        });
    }

    let mut verified = 0;
    while let Some(joined) = running.join_next().await {
        let count = joined
            .map_err(|err| Failure::unchecked(format!("demo: a verifying task failed: {err}")))?
            .map_err(|err| demo_error("the batch", &err))?;
        verified += count;
    }
    Ok(verified)
}

/// Verifies a token the registry must refuse as bad, and returns the error.
async fn expect_rejected(
    registry: &KeyRegistryHandle,
    validation: &Validation,
    token: &str,
    what: &str,
) -> Result<Error, Failure> {
    match registry.verify(token, validation).await {
        Ok(_) => Err(Failure::unchecked(format!("demo: {what} verified"))),
        Err(err) if err.class() == ErrorClass::Rejected => Ok(err),
        Err(err) => Err(demo_error(what, &err)),
    }
}

/// Demo claims from `issuer`, numbered `n`, expiring `expires_in` seconds
/// from now (negative: already expired).
fn claims(issuer: &str, n: usize, expires_in: i64) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    json!({
        "iss": issuer,
        "sub": format!("user-{n}"),
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + expires_in,
        "jti": format!("demo-{n}"),
    })
}

/// The token with its claims changed (the subject becomes `admin`) and its
/// original header and signature kept.
fn tamper(token: &str) -> Result<String, Failure> {
    let broken = || Failure::unchecked("demo: a minted token is not a compact JWS");
    let mut segments = token.split('.');
    let (Some(header), Some(claims), Some(signature)) =
        (segments.next(), segments.next(), segments.next())
    else {
        return Err(broken());
    };
    let decoded = URL_SAFE_NO_PAD.decode(claims).map_err(|_| broken())?;
    let mut claims: Value = serde_json::from_slice(&decoded).map_err(|_| broken())?;
    claims["sub"] = json!("admin");
    Ok(format!(
        "{header}.{}.{signature}",
        keys::b64(claims.to_string())
    ))
}

/// Prints the start of a progress line, to be completed by `done`.
fn progress(what: &str) {
    print!("{what} ... ");
    // The progress text is cosmetic; a failed flush shows it later.
    let _ = std::io::stdout().flush();
}

fn seconds(duration: Duration) -> String {
    format!("{:.2}s", duration.as_secs_f64())
}

fn per_second(count: usize, duration: Duration) -> u64 {
    // A float is exact enough for a rate; the cast saturates.
    (count as f64 / duration.as_secs_f64().max(1e-9)) as u64
}

/// Wraps a setup error as a demo failure.
fn demo_failure<E: std::fmt::Display>(step: &'static str) -> impl Fn(E) -> Failure {
    move |err| Failure::unchecked(format!("demo: {step}: {err}"))
}

/// A registry error where the demo expected success.
fn demo_error(what: &str, err: &Error) -> Failure {
    Failure::unchecked(format!("demo: {what}: {}", with_sources(err)))
}
