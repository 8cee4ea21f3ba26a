//! What the registry logs: every event and span field at every level is
//! captured while tokens are verified, refused and fetched, and none may
//! carry a token, a signature, or a `kid` longer than the logged limit.

#[path = "common/issuer.rs"]
mod issuer;
#[path = "common/keys.rs"]
mod keys;
#[path = "common/support.rs"]
mod support;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use issuer::Fault;
use keys::{TestKey, now};
use support::{api, builder_for, claims_from, issuer_serving};

/// Records the text of every field of every event and span.
#[derive(Clone, Default)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    next_id: Arc<AtomicU64>,
}

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl Recorder {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Line(&mut line));
        self.push(line);
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("record");
        values.record(&mut Line(&mut line));
        self.push(line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = format!("{} {}", event.metadata().level(), event.metadata().target());
        event.record(&mut Line(&mut line));
        self.push(line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Tokens, signatures and over-long kids never reach the logs, whatever
/// happens to them, while the logs do record the registry's decisions.
#[tokio::test]
async fn tokens_and_signatures_are_never_logged() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let key = TestKey::rsa("k1");
    let (issuer, iss) = issuer_serving(&[&key]).await;
    let registry = builder_for(&issuer, &iss).build().unwrap();

    let good = key.token(claims_from(&iss));
    let long_kid = format!("kid-{}", "x".repeat(200));
    let unknown = TestKey::rsa_other(&long_kid).token(claims_from(&iss));
    let expired = key.token(json!({"iss": iss, "aud": "api", "exp": now() - 3600}));
    let forged = format!("{}.{}", &good[..good.rfind('.').unwrap()], "A".repeat(342));
    let mut tokens = vec![
        good.clone(),
        unknown.clone(),
        expired.clone(),
        forged.clone(),
    ];

    registry.verify(&good, &api()).await.unwrap();
    for token in &tokens[1..] {
        assert!(registry.verify(token, &api()).await.is_err());
    }
    // A failing issuer, so that warnings are logged too.
    let other = TestKey::es256("k2");
    issuer.set_jwks("t2", keys::jwks(&[&other]));
    issuer.set_fault("/t2/jwks", Fault::Status(500));
    let failing = other.token(claims_from(&issuer.issuer("t2")));
    let registry_open = support::builder(&issuer)
        .allow_private_networks(true)
        .build()
        .unwrap();
    assert!(registry_open.verify(&failing, &api()).await.is_err());
    tokens.push(failing);

    let logged = recorder.text();
    assert!(logged.contains("fetching keys failed"), "{logged}");
    assert!(
        logged.contains("refetch suppressed") || logged.contains("refetching keys"),
        "{logged}"
    );
    for token in &tokens {
        let signature = &token[token.rfind('.').unwrap() + 1..];
        let payload = token.split('.').nth(1).unwrap();
        assert!(!logged.contains(token.as_str()), "a token was logged");
        assert!(!logged.contains(signature), "a signature was logged");
        assert!(!logged.contains(payload), "a token's claims were logged");
    }
    assert!(
        !logged.contains(&long_kid),
        "an over-long kid was logged whole"
    );
}
