#!/usr/bin/env bash
# Builds the modern-Packer test peer (tests/go-peer/modern_packer.go) with Debian's Go packages
# in GOPATH mode and runs it against a plugin binary.
#
#   tests/go-peer/run.sh [PLUGIN]      default: target/debug/examples/packer-plugin-scaffold
#                                      (build it first: cargo build -p packer-sdk --examples)
#
# Exits 0 only if the peer printed ALL OK. Needs: golang-go (>= 1.19),
# golang-github-hashicorp-yamux-dev, golang-github-ugorji-go-codec-dev.
set -euo pipefail

case "${BASH_SOURCE[0]}" in */*) here="${BASH_SOURCE[0]%/*}" ;; *) here=. ;; esac
here="$(cd "$here" && pwd)"
root="$(cd "$here/../.." && pwd)"
plugin="${1:-$root/target/debug/examples/packer-plugin-scaffold}"
gopath=/usr/share/gocode
packages="golang-go golang-github-hashicorp-yamux-dev golang-github-ugorji-go-codec-dev"

missing=()
command -v go >/dev/null 2>&1 || missing+=("go (package golang-go)")
[ -d "$gopath/src/github.com/hashicorp/yamux" ] || missing+=("github.com/hashicorp/yamux (package golang-github-hashicorp-yamux-dev)")
[ -d "$gopath/src/github.com/ugorji/go/codec" ] || missing+=("github.com/ugorji/go/codec (package golang-github-ugorji-go-codec-dev)")
if [ ${#missing[@]} -gt 0 ]; then
    echo "go-peer: missing: ${missing[*]}" >&2
    echo "go-peer: install them with:  sudo apt-get install -y $packages" >&2
    exit 2
fi
if [ ! -x "$plugin" ]; then
    echo "go-peer: plugin binary not found or not executable: $plugin" >&2
    echo "go-peer: build the example with: (cd $root && cargo build -p packer-sdk --examples)" >&2
    exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/go-peer.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "go-peer: building with $(go version) against $gopath (GOPATH mode)"
(
    cd "$here"
    GO111MODULE=off GOPATH="$gopath" GOCACHE="$work/cache" GOFLAGS= \
        go build -o "$work/modern_packer" ./modern_packer.go
) || { echo "go-peer: build failed (are $packages installed?)" >&2; exit 2; }

echo "go-peer: running against $plugin"
"$work/modern_packer" "$plugin"
