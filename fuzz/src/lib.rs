//! Fuzz targets for `jwks-registry`. The binaries in `fuzz_targets/` hand
//! libFuzzer's input to the functions of [`targets`].

pub mod targets;
