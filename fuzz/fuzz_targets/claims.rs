#![no_main]
use jwks_registry_fuzz::targets;
libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::claims(data));
