//! `jwks-verify`: verify a JWT from the command line.

fn main() {}
