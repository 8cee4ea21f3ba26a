//! The bearer-token layer's overhead over calling `verify` directly, on warm
//! keys, in one run.

#[path = "../tests/common/keys.rs"]
mod keys;
#[path = "../tests/common/memory_client.rs"]
mod memory_client;

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use jwks_registry::{BearerAuthLayer, KeyRegistryHandle, Validation};
use serde_json::json;
use tower::{Layer, ServiceExt, service_fn};

use keys::{TestKey, jwks, now};
use memory_client::MemoryClient;

const ISSUER: &str = "https://bench.example";

fn layer_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = TestKey::rsa("k1");
    let token = key.token(json!({"iss": ISSUER, "sub": "a", "aud": "api", "exp": now() + 3600}));
    let authorization = format!("Bearer {token}");
    let registry = runtime.block_on(async {
        let registry = KeyRegistryHandle::builder()
            .valid_issuers([ISSUER])
            .http_client(MemoryClient::default().with_issuer(ISSUER, jwks(&[&key])))
            .build()
            .unwrap();
        registry.prefetch(ISSUER).await.unwrap();
        registry
    });
    let validation = Validation::new(["api"]);
    let service = BearerAuthLayer::new(registry.clone(), validation.clone()).layer(service_fn(
        |_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) },
    ));

    let mut group = c.benchmark_group("tower_rs256");
    group.bench_function("verify_direct", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(
                registry
                    .verify(black_box(&token), &validation)
                    .await
                    .unwrap(),
            );
        });
    });
    // The request is built outside the measurement, as a server has it in
    // hand before the layer runs.
    let request = || {
        let mut request = Request::new(());
        let value = HeaderValue::from_str(&authorization).unwrap();
        request.headers_mut().insert(AUTHORIZATION, value);
        request
    };
    group.bench_function("through_layer", |b| {
        b.to_async(&runtime).iter_batched(
            request,
            |request| async {
                let response = service.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
            },
            criterion::BatchSize::SmallInput,
        );
    });
    // The layer's own cost: a request it answers without verifying.
    group.bench_function("layer_refusal_only", |b| {
        b.to_async(&runtime).iter_batched(
            || Request::new(()),
            |request| async {
                let response = service.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), 401);
            },
            criterion::BatchSize::SmallInput,
        );
    });
    group.finish();
}

// What `criterion_group!` and `criterion_main!` would generate, written out
// because the macro's public group function cannot carry a doc comment.
fn main() {
    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    layer_overhead(&mut criterion);
    criterion.final_summary();
}
