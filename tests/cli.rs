//! The `jwks-verify` command as a process, against the local HTTPS test
//! issuer: what it prints, and the exit status of each outcome (0 verified,
//! 1 rejected, 2 usage error, 3 could not check). The issuer's CA is handed
//! over in a temporary file, as an operator would.

#[path = "common/issuer.rs"]
mod issuer;
#[path = "common/keys.rs"]
mod keys;

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use issuer::TestIssuer;
use keys::{TestKey, jwks, now};

/// The binary under test, built by cargo for this test crate.
const BIN: &str = env!("CARGO_BIN_EXE_jwks-verify");

/// The longest any one run may take before it is killed; far above what a
/// run needs, even for the demo in a debug build on a loaded machine.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The tenant every test issues from.
const TENANT: &str = "t1";

/// What a finished process left behind.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` and, if given, `stdin` as its standard
/// input; kills it after [`RUN_TIMEOUT`].
async fn jwks_verify(args: Vec<String>, stdin: Option<String>) -> Run {
    // The wait blocks, so it runs off the runtime that serves the issuer.
    tokio::task::spawn_blocking(move || run_blocking(&args, stdin.as_deref()))
        .await
        .expect("the runner thread does not panic")
}

fn run_blocking(args: &[String], stdin: Option<&str>) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jwks-verify");

    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes())
            .expect("write the token to stdin");
        // Dropping the pipe closes it: the child sees the end of input.
    }
    // Read both pipes while the child runs, so that it never blocks on a
    // full pipe.
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));

    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            // Killing an exited child fails harmlessly; the wait reaps it.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.and_then(|status| status.code()),
        stdout: stdout.join().expect("the stdout reader does not panic"),
        stderr: stderr.join().expect("the stderr reader does not panic"),
    };
    assert!(status.is_some(), "jwks-verify {args:?} timed out: {run:?}");
    run
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        // A read error leaves what was read; the assertions show it.
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// A file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(suffix: &str, contents: &[u8]) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "jwks-verify-cli-{}-{}-{suffix}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).expect("write a temporary file");
        TempFile(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // A file already gone is what we want anyway.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A running issuer with one RSA key `k1` for [`TENANT`], and its CA in a
/// DER file.
struct Setup {
    issuer: TestIssuer,
    key: TestKey,
    ca: TempFile,
}

impl Setup {
    async fn start() -> Setup {
        let issuer = TestIssuer::start().await;
        let key = TestKey::rsa("k1");
        issuer.set_jwks(TENANT, jwks(&[&key]));
        let ca = TempFile::new("ca.der", &issuer.ca_der());
        Setup { issuer, key, ca }
    }

    fn iss(&self) -> String {
        self.issuer.issuer(TENANT)
    }

    /// Valid claims for the audience `api`, expiring in ten minutes.
    fn claims(&self) -> Value {
        json!({"iss": self.iss(), "sub": "alice", "aud": "api", "iat": now(), "exp": now() + 600})
    }

    /// The arguments of a normal run: trust the CA, allow this issuer,
    /// require the audience `api`, then `token`.
    fn args(&self, token: &str) -> Vec<String> {
        vec![
            "--ca-cert".to_owned(),
            self.ca.path().display().to_string(),
            "--issuer".to_owned(),
            self.iss(),
            "--audience".to_owned(),
            "api".to_owned(),
            token.to_owned(),
        ]
    }
}

/// The run failed with `code` and exactly one stderr line that starts with
/// `prefix` and contains `fragment`; nothing went to stdout.
fn assert_failed(run: &Run, code: i32, prefix: &str, fragment: &str) {
    assert_eq!(run.code, Some(code), "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
    assert!(run.stderr.starts_with(prefix), "{run:?}");
    assert!(run.stderr.contains(fragment), "{run:?}");
}

fn assert_rejected(run: &Run, fragment: &str) {
    assert_failed(run, 1, "error: token rejected: ", fragment);
}

/// A valid token prints its header and claims as pretty JSON and exits 0.
#[tokio::test]
async fn valid_token_prints_header_and_claims() {
    let setup = Setup::start().await;
    let token = setup.key.token(setup.claims());

    let run = jwks_verify(setup.args(&token), None).await;

    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    assert!(run.stdout.lines().count() > 1, "pretty by default: {run:?}");
    let printed: Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    assert_eq!(printed["claims"]["sub"], "alice");
    assert_eq!(printed["claims"]["iss"], setup.iss());
    assert_eq!(printed["header"]["kid"], "k1");
    assert_eq!(printed["header"]["alg"], "RS256");
}

/// `-` reads the token from standard input, trimmed; `--compact` prints one
/// line; a PEM CA file works, and with no `--issuer` the loopback issuer
/// needs `--allow-private-networks`.
#[tokio::test]
async fn token_from_stdin_with_pem_ca() {
    let setup = Setup::start().await;
    let token = setup.key.token(setup.claims());
    let pem = pem_certificate(&setup.issuer.ca_der());
    let ca = TempFile::new("ca.pem", pem.as_bytes());
    let args = |extra: &[&str]| {
        let mut args = vec![
            "--ca-cert".to_owned(),
            ca.path().display().to_string(),
            "--no-audience".to_owned(),
            "--compact".to_owned(),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args.push("-".to_owned());
        args
    };

    let run = jwks_verify(
        args(&["--allow-private-networks"]),
        Some(format!("  {token}\n")),
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout.lines().count(), 1, "compact: {run:?}");
    let printed: Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    assert_eq!(printed["claims"]["sub"], "alice");

    // Without the flag, an open registry refuses a loopback issuer.
    let run = jwks_verify(args(&[]), Some(token)).await;
    assert_rejected(&run, "non-public address");
    assert_eq!(setup.issuer.total_requests(), 2, "one run, two requests");
}

/// Garbage is rejected (1) before any request.
#[tokio::test]
async fn malformed_token_is_rejected() {
    let setup = Setup::start().await;

    let run = jwks_verify(setup.args("not-a.token"), None).await;

    assert_rejected(&run, "malformed token");
    assert_eq!(setup.issuer.total_requests(), 0);
}

/// A token from an issuer outside `--issuer` is rejected (1) before any
/// request.
#[tokio::test]
async fn issuer_not_allowed_is_rejected() {
    let setup = Setup::start().await;
    let token = setup.key.token(setup.claims());
    let mut args = setup.args(&token);
    let other = setup.issuer.issuer("t2");
    args.splice(2..4, ["--issuer".to_owned(), other]);

    let run = jwks_verify(args, None).await;

    assert_rejected(&run, &format!("issuer \"{}\" is not allowed", setup.iss()));
    assert_eq!(setup.issuer.total_requests(), 0);
}

/// A `kid` the issuer does not publish is rejected (1).
#[tokio::test]
async fn unknown_kid_is_rejected() {
    let setup = Setup::start().await;
    let token = TestKey::rsa_other("k2").token(setup.claims());

    let run = jwks_verify(setup.args(&token), None).await;

    assert_rejected(&run, "no usable key with kid \"k2\"");
}

/// A token signed by another key under the published `kid` is rejected (1).
#[tokio::test]
async fn bad_signature_is_rejected() {
    let setup = Setup::start().await;
    let token = TestKey::rsa_other("k1").token(setup.claims());

    let run = jwks_verify(setup.args(&token), None).await;

    assert_rejected(&run, "invalid signature");
}

/// An expired token is rejected (1), with the times in the message.
#[tokio::test]
async fn expired_token_is_rejected() {
    let setup = Setup::start().await;
    let mut claims = setup.claims();
    claims["exp"] = json!(now() - 3600);
    let token = setup.key.token(claims);

    let run = jwks_verify(setup.args(&token), None).await;

    assert_rejected(&run, "token expired at ");
}

/// A token for another audience is rejected (1).
#[tokio::test]
async fn wrong_audience_is_rejected() {
    let setup = Setup::start().await;
    let mut claims = setup.claims();
    claims["aud"] = json!("someone-else");
    let token = setup.key.token(claims);

    let run = jwks_verify(setup.args(&token), None).await;

    assert_rejected(&run, "token audience does not match");
}

/// An issuer nobody listens for cannot be checked (3); the line names the
/// URL and the cause.
#[tokio::test]
async fn unreachable_issuer_cannot_be_checked() {
    let setup = Setup::start().await;
    let port = issuer::unused_port().await;
    let iss = format!("https://127.0.0.1:{port}/{TENANT}");
    let mut claims = setup.claims();
    claims["iss"] = json!(iss);
    let token = setup.key.token(claims);
    let mut args = setup.args(&token);
    args.splice(2..4, ["--issuer".to_owned(), iss.clone()]);
    args.splice(0..0, ["--timeout".to_owned(), "5".to_owned()]);

    let run = jwks_verify(args, None).await;

    let url = format!("{iss}/.well-known/openid-configuration");
    assert_failed(
        &run,
        3,
        &format!("error: could not check the token: request to {url} failed: "),
        "",
    );
}

/// Neither `--audience` nor `--no-audience` is a usage error (2), reported
/// by clap.
#[tokio::test]
async fn audience_rule_is_required() {
    let setup = Setup::start().await;
    let token = setup.key.token(setup.claims());
    let mut args = setup.args(&token);
    args.retain(|arg| arg != "--audience" && arg != "api");

    let run = jwks_verify(args, None).await;

    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(run.stderr.contains("--audience"), "{run:?}");
    assert!(run.stderr.contains("--no-audience"), "{run:?}");
    assert_eq!(setup.issuer.total_requests(), 0);
}

/// An unreadable `--ca-cert` is a usage error (2).
#[tokio::test]
async fn missing_ca_file_is_a_usage_error() {
    let missing = std::env::temp_dir().join(format!("jwks-verify-cli-{}-none", std::process::id()));
    let args = vec![
        "--ca-cert".to_owned(),
        missing.display().to_string(),
        "--no-audience".to_owned(),
        "a.b.c".to_owned(),
    ];

    let run = jwks_verify(args, None).await;

    assert_failed(&run, 2, "error: --ca-cert ", "");
}

/// `--help` documents the exit statuses.
#[tokio::test]
async fn help_documents_exit_statuses() {
    let run = jwks_verify(vec!["--help".to_owned()], None).await;

    assert_eq!(run.code, Some(0), "{run:?}");
    for line in [
        "Exit status:",
        "0  the token verified",
        "1  the token was rejected",
        "2  usage error",
        "3  the token could not be checked",
    ] {
        assert!(run.stdout.contains(line), "{line}: {run:?}");
    }
}

/// The demo runs to completion and reports the requests its issuer saw:
/// one discovery and one key set fetch for the cold batch, one key set
/// refetch after the rotation.
#[tokio::test]
async fn demo_reports_its_requests() {
    let args = ["demo", "--tokens", "300", "--tasks", "16"];

    let run = jwks_verify(args.iter().map(|arg| (*arg).to_owned()).collect(), None).await;

    assert_eq!(run.code, Some(0), "{run:?}");
    let summary = |name: &str| {
        run.stdout
            .lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("no \"{name}\" line: {run:?}"))
            .to_owned()
    };
    assert_eq!(summary("issuer requests: "), "discovery=1 jwks=2");
    assert!(
        summary("tokens verified: ").starts_with("300 in "),
        "{run:?}"
    );
    let stats = summary("registry stats: ");
    // Misses vary with how many tasks join the first fetch; fetches do not.
    for counter in ["fetches_ok=2", "fetches_failed=0", "refetches_suppressed=1"] {
        assert!(
            stats.split(' ').any(|field| field == counter),
            "{counter}: {run:?}"
        );
    }
    assert!(run.stdout.contains("tampered token"), "{run:?}");
    assert!(run.stdout.contains("refused: token expired at "), "{run:?}");
}

/// `der` as a PEM `CERTIFICATE` block.
fn pem_certificate(der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}
