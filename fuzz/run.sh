#!/usr/bin/env bash
# Runs the fuzz targets with cargo-fuzz on the stable toolchain, without a
# sanitizer, one after another.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS is each target's run time (default 60); the targets default to all
# of them. New inputs go to fuzz/corpus/<target>/, crashes to
# fuzz/artifacts/<target>/, and each run's output to fuzz/logs/<target>.log.
# FUZZ_SANITIZER picks another sanitizer than none, for example
# FUZZ_SANITIZER=address with RUSTC_BOOTSTRAP=1 (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(token jwks discovery verify claims)
fi

# The longest input libFuzzer makes for each target: above the 16 KiB token
# limit for the token parsers, room for a key set of many large RSA keys.
max_len() {
    case "$1" in
        token | verify) echo 20000 ;;
        jwks) echo 65536 ;;
        discovery | claims) echo 16384 ;;
        *) echo "unknown target: $1" >&2; return 1 ;;
    esac
}

if ! cargo fuzz --version > /dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Release build with debug assertions, so that arithmetic overflow panics.
flags=(-s "${FUZZ_SANITIZER:-none}" --debug-assertions)

mkdir -p fuzz/logs
for target in "${targets[@]}"; do
    len="$(max_len "$target")"
    mkdir -p "fuzz/corpus/$target"
    # The corpus directory comes first: libFuzzer writes new inputs there and
    # only reads the committed seeds.
    cargo fuzz run "${flags[@]}" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$len" -timeout=10 \
        -print_final_stats=1 2>&1 | tee "fuzz/logs/$target.log"
done
