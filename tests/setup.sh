#!/usr/bin/env bash
# Installs everything the example and the test suite need on a fresh Debian machine (idempotent,
# fast when done before): Debian's packer 1.6.6 and tools (systemd-analyze checks the unit
# examples), cargo-nextest, a Python venv with moto for the AWS emulator, the cached Debian 12
# and 13 roots of the SSH sandboxes, and modern Packer (1.16.0 and the amazon plugin, built from their Go
# modules by tests/modern/build.sh: minutes once, then cached per tests/modern/go.sum; needs
# Go >= 1.26, /usr/local/go on this kind of machine).
#
#   tests/setup.sh [--no-modern]      --no-modern: skip modern Packer (hcl-examples/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
modern=1
[ "${1:-}" = "--no-modern" ] && modern=0

need_apt=()
for pkg in packer debootstrap openssh-client zstd ca-certificates systemd; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
packer version | grep -q 'Packer v1.6' || echo "setup: warning: expected Debian's Packer 1.6.x, got $(packer version | head -1)"

if ! cargo nextest --version >/dev/null 2>&1; then
  # a debug build: it only starts and watches test processes, and a debug build compiles much
  # faster than a release one on a 2-core machine (prebuilt binaries come from GitHub, which
  # these machines do not reach)
  echo "setup: cargo install --debug cargo-nextest"
  cargo install --locked --debug cargo-nextest >/dev/null
fi

# The AWS emulator's Python (moto as a library), in a venv of its own.
venv=${AMIFORGE_CACHE:-$HOME/.cache/amiforge}/venv
if ! "$venv/bin/python3" -c 'import moto, werkzeug' >/dev/null 2>&1; then
  echo "setup: python venv with moto[server] at $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.2.1'
fi

# The sandboxes' Debian roots (12 and 13): each built once with debootstrap (~1 min), then cached.
bash "$here/sandbox/mkroot.sh" bookworm >/dev/null
bash "$here/sandbox/mkroot.sh" trixie >/dev/null

# Modern Packer for the tests: Packer 1.16.0 + packer-plugin-amazon 1.8.2 from the Go module proxy.
if [ "$modern" = 1 ]; then
  bash "$here/modern/build.sh" packer >/dev/null
fi
echo "setup: ok"
