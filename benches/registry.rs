//! Placeholder, replaced by the registry benchmarks.
fn main() {}
