#!/usr/bin/env bash
# Runs every cargo-fuzz target for a fixed number of runs with a fixed seed (deterministic for a
# given build), so a decoder regression fails the test run. Longer searches:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> -- -max_total_time=600
# cargo-fuzz needs nightly-only flags; this machine has one stable toolchain, hence
# RUSTC_BOOTSTRAP=1 (used for fuzzing only, never for the product build).
set -euo pipefail
runs=${1:-50000}
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz >/dev/null
export RUSTC_BOOTSTRAP=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in $(cargo fuzz list); do
  mkdir -p "corpus/$t"
  if ! cargo fuzz run "$t" "corpus/$t" -- -runs="$runs" -seed=1 -rss_limit_mb=1024 -max_len=4096 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz smoke: target $t failed (input saved under fuzz/artifacts/$t)"
    exit 1
  fi
  echo "fuzz smoke: $t: $(grep -E '^Done' "$log" || echo done)"
done
