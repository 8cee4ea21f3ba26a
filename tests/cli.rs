//! The `jwks-verify` command as a process.
