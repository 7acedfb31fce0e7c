#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS seconds each (default 20).
# Usage: fuzz/run.sh [SECONDS]     (from any directory)
set -euo pipefail

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir/.."

# cargo-fuzz needs nightly-only flags (-Zsanitizer); allow them on the stable toolchain.
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

echo "==> building all fuzz targets"
cargo fuzz build

mapfile -t targets < <(cargo fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets found" >&2
    exit 1
fi

failed=()
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    mkdir -p "$corpus"
    if [ -d "$fuzz_dir/seeds/$target" ]; then
        cp -n "$fuzz_dir/seeds/$target"/* "$corpus"/ 2>/dev/null || true
    fi
    echo "==> fuzzing $target for ${seconds}s"
    if ! cargo fuzz run "$target" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "FAILED: ${failed[*]} (crashing inputs are in $fuzz_dir/artifacts/)" >&2
    exit 1
fi
echo "all ${#targets[@]} fuzz targets passed (${seconds}s each)"
