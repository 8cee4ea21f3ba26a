//! Verifies the RS256 example of RFC 7520 §4.1 against its public key,
//! offline, and prints what it verified.
//!
//! Run with `cargo run --example verify_offline`.

use jwks_registry::{KeySet, VerifyingKey};

/// The RFC 7520 test material, as published in the JOSE cookbook.
const KEY: &str = include_str!("../tests/vectors/jose-cookbook/jwk/3_3.rsa_public_key.json");
const EXAMPLE: &str = include_str!("../tests/vectors/jose-cookbook/jws/4_1.rsa_v15_signature.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let example: serde_json::Value = serde_json::from_str(EXAMPLE)?;
    let token = example["output"]["compact"]
        .as_str()
        .ok_or("the example has a compact form")?;

    let keys = KeySet::from_keys([VerifyingKey::from_json(KEY.as_bytes())?]);
    let verified = keys.verify_jws(token)?;

    let header = verified.header();
    println!("verified RFC 7520 §4.1 offline");
    println!("  alg: {}", header.algorithm());
    println!("  kid: {}", header.key_id().unwrap_or("-"));
    println!(
        "  key: {} {}",
        verified.key().key_type(),
        verified.key().key_id().unwrap_or("-")
    );
    println!("  payload: {}", String::from_utf8_lossy(verified.payload()));

    // The same token with one payload character changed must fail.
    let mut tampered = token.to_owned();
    let dot = tampered.find('.').ok_or("a compact JWS has dots")? + 1;
    let replacement = if tampered.as_bytes()[dot] == b'A' {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(dot..=dot, replacement);
    match keys.verify_jws(&tampered) {
        Ok(_) => return Err("a tampered token verified".into()),
        Err(err) => println!("tampered copy refused: {err}"),
    }
    Ok(())
}
