//! The registry's hit paths and its cold path, each beside what it is
//! compared with in the same group, so that every ratio reads from one run.
//!
//! - `registry_hit`: `get_key_for` and `get_key` answered from the published
//!   snapshot (the target is under 1 µs for `get_key`), and three other
//!   cases of `get_key`: tokens of two keys in turn, as during a key
//!   rotation; tokens of five keys in turn, more headers than each thread
//!   remembers, so that every header is read anew; and a token with about
//!   1 KiB of claims.
//! - `verify_rs256_64_tasks`: warm `verify` of RS256-2048 tokens from 64
//!   tasks on a 2-worker runtime, beside the raw `ring` check of the same
//!   signatures from 64 tasks on the same runtime (the target is at least
//!   0.90 of the raw rate); `paired` runs both in every sample, back to
//!   back, and reports the median of the samples' ratios.
//! - `repeated_token`: one token verified again and again, with the
//!   verified-token cache on and off (the target is at least 20 times the
//!   uncached rate).
//! - `cold_10000`: 10,000 concurrent `get_key` calls for one issuer on a
//!   fresh registry, against the local HTTPS test issuer, until all are
//!   answered; every iteration checks that they cost exactly two requests.
//!
//! The warm cases fetch from an in-memory [`HttpClient`], so no network is
//! involved. After the groups have run, the ratios are computed from the
//! medians criterion wrote in this run and printed.
//!
//! Run with `cargo bench --bench registry -- --noplot`.

#[path = "../tests/common/issuer.rs"]
mod issuer;
#[path = "../tests/common/keys.rs"]
mod keys;
#[path = "../tests/common/memory_client.rs"]
mod memory_client;

use std::future::Future;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, SamplingMode, Throughput};
use jwks_registry::{KeyRegistryHandle, Validation};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use issuer::TestIssuer;
use keys::{TestKey, jwks, now};
use memory_client::MemoryClient;

/// The issuer the in-memory client serves.
const ISSUER: &str = "https://bench.example";

/// How many tasks share the work in the concurrent cases.
const TASKS: u64 = 64;

/// How many callers ask for a cold issuer at once.
const COLD_CALLERS: usize = 10_000;

/// Names of the groups and functions, shared by the benchmarks and the
/// ratio report that reads their results back.
const HIT: &str = "registry_hit";
const CONCURRENT: &str = "verify_rs256_64_tasks";
const REPEATED: &str = "repeated_token";
const COLD: &str = "cold_10000";

/// A registry on `runtime` whose keys for [`ISSUER`] are already fetched, so
/// that every call below is a fresh hit.
fn warm_registry(runtime: &Runtime, keys: &[&TestKey], verified_cache: usize) -> KeyRegistryHandle {
    runtime.block_on(async {
        let registry = KeyRegistryHandle::builder()
            .valid_issuers([ISSUER])
            .http_client(MemoryClient::default().with_issuer(ISSUER, jwks(keys)))
            .verified_cache_capacity(verified_cache)
            .build()
            .expect("the settings are valid");
        registry.prefetch(ISSUER).await.expect("the keys load");
        registry
    })
}

/// Valid claims from `iss` for the audience `api`, good for a day so that no
/// run outlives them.
fn claims_from(iss: &str, subject: u64) -> Value {
    let now = now();
    json!({"iss": iss, "sub": format!("user-{subject}"), "aud": "api", "iat": now, "exp": now + 86_400})
}

fn rules() -> Validation {
    Validation::new(["api"])
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts")
}

fn two_workers() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-thread runtime starts")
}

/// How many of `total` operations task `index` of [`TASKS`] performs, so that
/// the shares add up to `total` exactly.
fn share(total: u64, index: u64) -> u64 {
    total / TASKS + u64::from(index < total % TASKS)
}

/// Spawns [`TASKS`] tasks sharing `iters` operations, task `index` running
/// `work(index, its share)`, and returns the time from the first spawn until
/// the last task ends. The operations and the CPU the process used meanwhile
/// go into `tally`.
async fn run_tasks<W, F>(iters: u64, tally: &Tally, work: W) -> Duration
where
    W: FnOnce(usize, u64) -> F + Clone,
    F: Future<Output = ()> + Send + 'static,
{
    let before = SchedTime::now();
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..TASKS {
        tasks.spawn(work.clone()(index as usize, share(iters, index)));
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("a benchmark task panicked");
    }
    let elapsed = start.elapsed();
    tally.add(iters, before, SchedTime::now());
    elapsed
}

/// Time this process's threads spent on a core and waiting for one, summed
/// from `/proc/self/task/*/schedstat` (Linux; `None` elsewhere).
#[derive(Clone, Copy)]
struct SchedTime {
    on_cpu_ns: u64,
    waiting_ns: u64,
}

impl SchedTime {
    fn now() -> Option<SchedTime> {
        let mut total = SchedTime {
            on_cpu_ns: 0,
            waiting_ns: 0,
        };
        for thread in std::fs::read_dir("/proc/self/task").ok()? {
            let stat = std::fs::read_to_string(thread.ok()?.path().join("schedstat")).ok()?;
            let mut fields = stat.split_whitespace().map(str::parse::<u64>);
            total.on_cpu_ns += fields.next()?.ok()?;
            total.waiting_ns += fields.next()?.ok()?;
        }
        Some(total)
    }
}

/// What one side of the 64-task comparison did over all its samples, warm-up
/// included: operations, CPU time, and time spent waiting for a core.
///
/// Elapsed time on a shared machine also counts the moments other processes
/// held the cores, and the load can change between the two sides; operations
/// per CPU second compare the two sides without that.
struct Tally {
    ops: AtomicU64,
    on_cpu_ns: AtomicU64,
    waiting_ns: AtomicU64,
}

static CRATE_TALLY: Tally = Tally::new();
static RING_TALLY: Tally = Tally::new();
/// The paired benchmark's tally, kept apart from the two above.
static PAIRED_TALLY: Tally = Tally::new();

/// The crate/ring rate ratio of each sample of the paired benchmark (warm-up
/// included), in the order they were taken.
static PAIRED_RATIOS: Mutex<Vec<f64>> = Mutex::new(Vec::new());

impl Tally {
    const fn new() -> Tally {
        Tally {
            ops: AtomicU64::new(0),
            on_cpu_ns: AtomicU64::new(0),
            waiting_ns: AtomicU64::new(0),
        }
    }

    fn add(&self, ops: u64, before: Option<SchedTime>, after: Option<SchedTime>) {
        // A thread that ended in between takes its time with it, so the sums
        // can go down; such a sample is left out.
        let Some((before, after)) = before.zip(after) else {
            return;
        };
        let (Some(on_cpu), Some(waiting)) = (
            after.on_cpu_ns.checked_sub(before.on_cpu_ns),
            after.waiting_ns.checked_sub(before.waiting_ns),
        ) else {
            return;
        };
        self.ops.fetch_add(ops, Ordering::Relaxed);
        self.on_cpu_ns.fetch_add(on_cpu, Ordering::Relaxed);
        self.waiting_ns.fetch_add(waiting, Ordering::Relaxed);
    }

    /// Operations per CPU second, and the share of the time the threads
    /// were runnable that they spent waiting for a core.
    fn rates(&self) -> Option<(f64, f64)> {
        let ops = self.ops.load(Ordering::Relaxed) as f64;
        let on_cpu = self.on_cpu_ns.load(Ordering::Relaxed) as f64;
        let waiting = self.waiting_ns.load(Ordering::Relaxed) as f64;
        (ops > 0.0 && on_cpu > 0.0).then(|| (ops / on_cpu * 1e9, waiting / (on_cpu + waiting)))
    }
}

/// `get_key_for` and `get_key` answered from the snapshot, one caller on a
/// current-thread runtime.
fn hit(c: &mut Criterion) {
    let runtime = current_thread();
    // Five kids, so five distinct headers; the key material may repeat.
    let keys: Vec<TestKey> = (1..=5)
        .map(|index| TestKey::rsa(&format!("k{index}")))
        .collect();
    let registry = warm_registry(&runtime, &keys.iter().collect::<Vec<_>>(), 0);
    let key = &keys[0];
    let token = key.token(claims_from(ISSUER, 0));
    let tokens: Vec<String> = keys
        .iter()
        .zip(0..)
        .map(|(key, subject)| key.token(claims_from(ISSUER, subject)))
        .collect();
    let large = key.token(large_claims());

    let mut group = c.benchmark_group(HIT);
    group.bench_function("get_key_for", |b| {
        b.to_async(&runtime).iter(|| async {
            registry
                .get_key_for(black_box(ISSUER), black_box("k1"))
                .await
                .expect("a fresh hit")
        })
    });
    for (name, token) in [("get_key", &token), ("get_key_1k_claims", &large)] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                registry
                    .get_key(black_box(token))
                    .await
                    .expect("a fresh hit")
            })
        });
    }
    for (name, count) in [
        ("get_key_two_keys_in_turn", 2),
        ("get_key_five_keys_in_turn", 5),
    ] {
        group.bench_function(name, |b| {
            let mut turn = 0;
            b.to_async(&runtime).iter(|| {
                turn = (turn + 1) % count;
                let token = &tokens[turn];
                let registry = &registry;
                async move {
                    registry
                        .get_key(black_box(token))
                        .await
                        .expect("a fresh hit")
                }
            })
        });
    }
    group.finish();
}

/// Claims of about 1 KiB, shaped like a workforce identity provider's
/// access token: names, groups, roles and scopes.
fn large_claims() -> Value {
    let mut claims = claims_from(ISSUER, 0);
    let extra = json!({
        "name": "Alice Example",
        "preferred_username": "alice@example.com",
        "email": "alice@example.com",
        "email_verified": true,
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "oid": "2b4c6d8e-0f1a-4b3c-9d5e-7f8091a2b3c4",
        "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "scp": "openid profile email offline_access api.read api.write",
        "roles": ["reader", "writer", "billing.viewer", "support.agent"],
        "groups": (0..12)
            .map(|i| format!("0a1b2c3d-4e5f-4061-8273-94a5b6c7d8{i:02}"))
            .collect::<Vec<_>>(),
        "nonce": "n-0S6_WzA2Mj",
        "auth_time": now(),
        "acr": "urn:mace:incommon:iap:silver",
        "amr": ["pwd", "mfa"],
        "sid": "f0e1d2c3-b4a5-4968-8776-655443322110",
    });
    claims
        .as_object_mut()
        .expect("claims are an object")
        .extend(extra.as_object().expect("an object").clone());
    claims
}

/// Warm `verify` from 64 tasks against the raw `ring` check of the same
/// tokens from 64 tasks, on one 2-worker runtime.
///
/// Each iteration is one verification; a sample spawns the 64 tasks, each
/// doing its share of the sample's iterations, and times them until the last
/// one ends.
fn concurrent_verify(c: &mut Criterion) {
    let runtime = two_workers();
    let key = TestKey::rsa("k1");
    let registry = warm_registry(&runtime, &[&key], 0);
    let rules = Arc::new(rules());
    // One token a task, each with its own subject.
    let tokens: Arc<[String]> = (0..TASKS)
        .map(|task| key.token(claims_from(ISSUER, task)))
        .collect();
    // The same tokens as `ring` takes them: signing input and signature.
    let raw: Arc<[(Vec<u8>, Vec<u8>)]> = tokens
        .iter()
        .map(|token| {
            let (input, signature) = token.rsplit_once('.').expect("three segments");
            let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
            (input.as_bytes().to_vec(), signature)
        })
        .collect();
    let (n, e) = key.rsa_components();
    let (n, e): (Arc<[u8]>, Arc<[u8]>) = (n.into(), e.into());

    // Each side as a function of the sample's iterations, so that the
    // separate and the paired benchmarks run the same work.
    let crate_side = |iters: u64, tally: &'static Tally| {
        let (registry, rules, tokens) = (registry.clone(), rules.clone(), tokens.clone());
        run_tasks(iters, tally, move |task, count| async move {
            let token = &tokens[task];
            for _ in 0..count {
                let verified = registry.verify(black_box(token), &rules).await;
                black_box(verified.expect("the token verifies"));
            }
        })
    };
    let ring_side = |iters: u64, tally: &'static Tally| {
        let (raw, n, e) = (raw.clone(), n.clone(), e.clone());
        run_tasks(iters, tally, move |task, count| async move {
            let (input, signature) = &raw[task];
            let public = RsaPublicKeyComponents { n: &*n, e: &*e };
            for _ in 0..count {
                let verified = public.verify(
                    &RSA_PKCS1_2048_8192_SHA256,
                    black_box(input),
                    black_box(signature),
                );
                verified.expect("the signature verifies");
            }
        })
    };

    let mut group = c.benchmark_group(CONCURRENT);
    group
        .throughput(Throughput::Elements(1))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("crate", |b| {
        b.to_async(&runtime)
            .iter_custom(|iters| crate_side(iters, &CRATE_TALLY))
    });
    group.bench_function("ring", |b| {
        b.to_async(&runtime)
            .iter_custom(|iters| ring_side(iters, &RING_TALLY))
    });
    // Both sides in every sample, back to back and in alternating order:
    // a change in the machine's load hits both halves of a pair alike, so
    // the median of the pairs' ratios resists it better than the ratio of
    // two medians taken seconds apart.
    group.bench_function("paired", |b| {
        let mut crate_first = false;
        b.to_async(&runtime).iter_custom(|iters| {
            crate_first = !crate_first;
            let (crate_run, ring_run) = (
                crate_side(iters, &PAIRED_TALLY),
                ring_side(iters, &PAIRED_TALLY),
            );
            let crate_first = crate_first;
            async move {
                let (crate_time, ring_time) = if crate_first {
                    let crate_time = crate_run.await;
                    (crate_time, ring_run.await)
                } else {
                    let ring_time = ring_run.await;
                    (crate_run.await, ring_time)
                };
                PAIRED_RATIOS
                    .lock()
                    .expect("no benchmark panicked holding the lock")
                    .push(ring_time.as_secs_f64() / crate_time.as_secs_f64());
                crate_time + ring_time
            }
        })
    });
    group.finish();
}

/// One token verified again and again by one caller, with the verified-token
/// cache off and on.
fn repeated_token(c: &mut Criterion) {
    let runtime = current_thread();
    let key = TestKey::rsa("k1");
    let uncached = warm_registry(&runtime, &[&key], 0);
    let cached = warm_registry(&runtime, &[&key], 1024);
    let token = key.token(claims_from(ISSUER, 0));
    let rules = rules();

    let mut group = c.benchmark_group(REPEATED);
    group.throughput(Throughput::Elements(1));
    for (name, registry) in [("uncached", &uncached), ("cached", &cached)] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                registry
                    .verify(black_box(&token), &rules)
                    .await
                    .expect("the token verifies")
            })
        });
    }
    group.finish();

    // Only the first call to the cached registry looked its key up and
    // checked the signature; the rest were answered by the cache, so the
    // cached figure is the cache's.
    let stats = cached.stats();
    assert!(stats.hits <= 1, "the token cache was bypassed: {stats:?}");
}

/// 10,000 concurrent `get_key` calls for one cold issuer, against the local
/// HTTPS issuer, on a fresh registry each iteration.
fn cold(c: &mut Criterion) {
    let runtime = two_workers();
    let issuer = runtime.block_on(TestIssuer::start());
    let key = TestKey::rsa("k1");
    issuer.set_jwks("cold", jwks(&[&key]));
    let iss = issuer.issuer("cold");
    let token: Arc<str> = key.token(claims_from(&iss, 0)).into();

    let mut group = c.benchmark_group(COLD);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("get_key", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (issuer, iss, token) = (&issuer, iss.clone(), token.clone());
            async move {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    // Building (and loading the trusted roots) is not timed.
                    let registry = KeyRegistryHandle::builder()
                        .root_certificate(issuer.ca_der())
                        .valid_issuers([iss.clone()])
                        .build()
                        .expect("the settings are valid");
                    let requests_before = issuer.total_requests();

                    let start = Instant::now();
                    let mut callers = JoinSet::new();
                    for _ in 0..COLD_CALLERS {
                        let (registry, token) = (registry.clone(), token.clone());
                        callers.spawn(async move { registry.get_key(&token).await });
                    }
                    while let Some(joined) = callers.join_next().await {
                        joined
                            .expect("a caller panicked")
                            .expect("the key is found");
                    }
                    elapsed += start.elapsed();

                    // Single flight: one discovery and one key set request.
                    let requests = issuer.total_requests() - requests_before;
                    assert_eq!(
                        requests, 2,
                        "{COLD_CALLERS} cold callers made {requests} requests"
                    );
                }
                elapsed
            }
        })
    });
    group.finish();
}

/// Criterion's median, in nanoseconds per iteration, of `group/function`, if
/// it was measured by this process (a filtered-out benchmark leaves only an
/// older result behind, which must not be mixed with this run's).
fn median_ns(results: &Path, group: &str, function: &str, since: SystemTime) -> Option<f64> {
    let path = results
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let estimates: Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

/// Where criterion writes its results, found as criterion finds it.
fn criterion_directory() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target),
        None => {
            let output = std::process::Command::new(std::env::var_os("CARGO")?)
                .args(["metadata", "--format-version", "1", "--no-deps"])
                .output()
                .ok()?;
            let metadata: Value = serde_json::from_slice(&output.stdout).ok()?;
            PathBuf::from(metadata["target_directory"].as_str()?)
        }
    };
    Some(target.join("criterion"))
}

/// The median, lowest and highest crate/ring ratio of the paired samples,
/// with their count.
fn paired_summary() -> Option<String> {
    let mut ratios = PAIRED_RATIOS
        .lock()
        .expect("no benchmark panicked holding the lock")
        .clone();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let middle = ratios.len() / 2;
    let median = if ratios.len() % 2 == 1 {
        ratios[middle]
    } else {
        (ratios[middle - 1] + ratios[middle]) / 2.0
    };
    Some(format!(
        "{median:.3} (range {:.3} to {:.3} over {} pairs)",
        ratios[0],
        ratios[ratios.len() - 1],
        ratios.len()
    ))
}

/// Prints the figures the targets are stated in, from this run's medians.
fn report_ratios(since: SystemTime) {
    let Some(results) = criterion_directory() else {
        println!("ratios: criterion's result directory not found");
        return;
    };
    let median = |group, function| median_ns(&results, group, function, since);
    let show = |what: &str, figure: Option<String>| {
        let figure = figure.unwrap_or_else(|| "not measured in this run".to_owned());
        println!("  {what:<54} {figure}");
    };

    println!("\nfigures from this run's medians:");
    for (what, function) in [
        ("get_key_for, fresh hit", "get_key_for"),
        ("get_key(token), fresh hit (target < 1 µs)", "get_key"),
        (
            "get_key(token), two keys in turn",
            "get_key_two_keys_in_turn",
        ),
        (
            "get_key(token), five keys in turn (header parsed anew)",
            "get_key_five_keys_in_turn",
        ),
        ("get_key(token), 1 KiB of claims", "get_key_1k_claims"),
    ] {
        show(what, median(HIT, function).map(|ns| format!("{ns:.0} ns")));
    }
    show(
        "verify 64 tasks, crate/ring rate (target ≥ 0.90)",
        median(CONCURRENT, "crate")
            .zip(median(CONCURRENT, "ring"))
            .map(|(krate, raw)| {
                format!(
                    "{:.3} ({:.0}/s vs {:.0}/s)",
                    raw / krate,
                    1e9 / krate,
                    1e9 / raw
                )
            }),
    );
    show(
        "verify 64 tasks, crate/ring per CPU second",
        CRATE_TALLY.rates().zip(RING_TALLY.rates()).map(
            |((krate, krate_wait), (raw, raw_wait))| {
                format!(
                    "{:.3} ({krate:.0}/s vs {raw:.0}/s; waited for a core {:.0}% vs {:.0}%)",
                    krate / raw,
                    krate_wait * 100.0,
                    raw_wait * 100.0
                )
            },
        ),
    );
    show(
        "verify 64 tasks, crate/ring, median of paired samples",
        paired_summary(),
    );
    show(
        "repeated token, cached/uncached rate (≥ 20×)",
        median(REPEATED, "cached")
            .zip(median(REPEATED, "uncached"))
            .map(|(cached, uncached)| {
                format!(
                    "{:.1}× ({cached:.0} ns vs {uncached:.0} ns)",
                    uncached / cached
                )
            }),
    );
    show(
        "10,000 cold get_key, all answered",
        median(COLD, "get_key").map(|ns| format!("{:.1} ms", ns / 1e6)),
    );
}

// What `criterion_group!` and `criterion_main!` would generate, written out
// because the macro's public group function cannot carry a doc comment.
fn main() {
    let started = SystemTime::now();
    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    hit(&mut criterion);
    concurrent_verify(&mut criterion);
    repeated_token(&mut criterion);
    cold(&mut criterion);
    criterion.final_summary();
    report_ratios(started);
}
