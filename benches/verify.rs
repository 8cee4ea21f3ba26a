//! Token parsing and verification through the crate, each verification
//! beside the raw `ring` check of the same signature in the same group, so
//! that the crate's overhead reads as a ratio from one run.
//!
//! Run with `cargo bench --bench verify -- --noplot`.

#[path = "../tests/common/keys.rs"]
mod keys;

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::Criterion;
use jwks_registry::{KeySet, UnverifiedToken, Validation};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use keys::{TestKey, claims, jwks};

/// The `ring` verification a token's algorithm comes down to.
enum Raw {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        parameters: &'static signature::RsaParameters,
    },
    Point(UnparsedPublicKey<Vec<u8>>),
}

impl Raw {
    fn for_key(key: &TestKey) -> Raw {
        let rsa = |parameters| {
            let (n, e) = key.rsa_components();
            Raw::Rsa { n, e, parameters }
        };
        let point = |algorithm| Raw::Point(UnparsedPublicKey::new(algorithm, key.public_point()));
        match key.alg {
            "RS256" => rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
            "PS256" => rsa(&signature::RSA_PSS_2048_8192_SHA256),
            "ES256" => point(&signature::ECDSA_P256_SHA256_FIXED),
            "ES384" => point(&signature::ECDSA_P384_SHA384_FIXED),
            "EdDSA" => point(&signature::ED25519),
            other => unreachable!("no benchmark for {other}"),
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) {
        let verified = match self {
            Raw::Rsa { n, e, parameters } => {
                RsaPublicKeyComponents { n, e }.verify(parameters, message, signature)
            }
            Raw::Point(key) => key.verify(message, signature),
        };
        verified.expect("the kit's signature verifies");
    }
}

fn parse(c: &mut Criterion) {
    let key = TestKey::rsa("rsa");
    let token = key.token(claims());
    let mut group = c.benchmark_group("parse");
    group.bench_function("UnverifiedToken::parse", |b| {
        b.iter(|| UnverifiedToken::parse(black_box(&token)).expect("the token parses"))
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    let keys = [
        TestKey::rsa("rsa"),
        TestKey::rsa("rsa").with_alg("PS256"),
        TestKey::es256("p256"),
        TestKey::es384("p384"),
        TestKey::ed25519("ed"),
    ];
    let rules = Validation::without_audience();
    for key in &keys {
        let set = KeySet::from_json(jwks(&[key]).as_bytes()).expect("the kit's key imports");
        let token = key.token(claims());
        let (message, signature) = token.rsplit_once('.').expect("three segments");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        let raw = Raw::for_key(key);

        let mut group = c.benchmark_group(format!("verify/{}", key.alg));
        if key.alg == "ES384" {
            // About a millisecond an iteration: fewer samples keep the run
            // within the measurement time.
            group.sample_size(30);
        }
        group.bench_function("crate", |b| {
            b.iter(|| {
                set.verify(black_box(&token), &rules)
                    .expect("the token verifies")
            })
        });
        group.bench_function("ring", |b| {
            b.iter(|| raw.verify(black_box(message.as_bytes()), black_box(&signature)))
        });
        group.finish();
    }
}

// What `criterion_group!` and `criterion_main!` would generate, written out
// because the macro's public group function cannot carry a doc comment.
fn main() {
    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    parse(&mut criterion);
    verify(&mut criterion);
    criterion.final_summary();
}
