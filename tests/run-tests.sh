#!/usr/bin/env bash
# The whole test suite: set-up, lints, unit + property + in-process wire tests, process-level
# protocol tests, the AWS emulator's self-test, the SDK peer (HashiCorp's Packer 1.16 plugin
# client and packer-plugin-sdk rpc client against the plugins), real `packer build`/`validate`
# end to end with Debian's Packer 1.6.6 and with Packer 1.16.0 built from its Go module, and a
# short deterministic fuzz smoke. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh

echo "== fmt + clippy + sizes (files <= 600 lines, functions <= 120); gofmt + go vet (SDK peer, release getter)"
cargo fmt --all --check
python3 tests/check-sizes.py
cargo clippy --workspace --all-targets -- -D warnings
bash tests/modern/build.sh lint

echo "== build (binaries and examples the end-to-end tests run; the SDK peer, the release getter)"
cargo build --workspace --all-targets
bash tests/modern/build.sh peer target/debug/modern/sdk-peer
bash tests/modern/build.sh getter target/debug/modern/release-getter

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
