//! The bearer-token layer's overhead.

fn main() {}
