#!/usr/bin/env bash
# The whole test suite: set-up, lints, unit + property + in-process wire tests, process-level
# protocol tests, the AWS emulator's self-test, the modern-Packer Go peer, real `packer build`/`validate` end to end, and a
# short deterministic fuzz smoke. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh

echo "== fmt + clippy + sizes (files <= 600 lines, functions <= 120)"
cargo fmt --all --check
python3 tests/check-sizes.py
cargo clippy --workspace --all-targets -- -D warnings

echo "== build (binaries and examples the end-to-end tests run)"
cargo build --workspace --all-targets

echo "== AWS emulator self-test (moto + our extensions: copies, KMS, client tokens, faults)"
"${AMIFORGE_PYTHON:-${AMIFORGE_CACHE:-$HOME/.cache/amiforge}/venv/bin/python3}" tests/emulator/selftest.py

echo "== tests"
cargo nextest run --workspace --no-fail-fast
cargo test --workspace --doc

if [ "${AMIFORGE_FUZZ_RUNS:-500000}" != 0 ]; then
  echo "== fuzz smoke (${AMIFORGE_FUZZ_RUNS:-500000} runs per target, fixed seed)"
  bash fuzz/smoke.sh "${AMIFORGE_FUZZ_RUNS:-500000}"
fi
echo "== all tests passed"
