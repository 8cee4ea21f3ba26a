//! A small axum service behind the bearer-token layer.

fn main() {}
