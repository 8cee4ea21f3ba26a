//! A small axum service behind the bearer-token layer.
//!
//! Every route under the layer sees only requests with a verified token,
//! whose claims the handler reads from the request extensions.
//!
//! ```sh
//! ISSUER=https://login.example.com AUDIENCE=my-api \
//!     cargo run --example axum_gateway --features tower
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me
//! ```

use axum::routing::get;
use axum::{Extension, Json, Router};
use jwks_registry::{BearerAuthLayer, KeyRegistryHandle, Validation, Verified};
use serde_json::{Value, json};

/// Answers with who the token says the caller is.
async fn me(Extension(token): Extension<Verified>) -> Json<Value> {
    Json(json!({
        "subject": token.subject(),
        "issuer": token.issuer(),
        "scope": token.claims().get("scope"),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("ISSUER").unwrap_or_else(|_| "https://login.example.com".into());
    let audience = std::env::var("AUDIENCE").unwrap_or_else(|_| "my-api".into());

    let registry = KeyRegistryHandle::builder()
        .valid_issuers([issuer])
        .build()?;
    let app = Router::new()
        .route("/me", get(me))
        .layer(BearerAuthLayer::new(registry, Validation::new([audience])))
        .route("/health", get(|| async { "ok" }));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
