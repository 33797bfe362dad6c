#!/usr/bin/env bash
# Builds modern Packer for the tests from tests/modern/go.mod: Packer 1.16.0 (github.com/hashicorp/packer,
# its main package), the amazon plugin 1.8.2 (github.com/hashicorp/packer-plugin-amazon, amazon-ebs
# for the templates; Packer >= 1.10 bundles no builders) and the SDK peer (tests/modern/peer).
# Nothing of upstream is copied here: the Go module proxy serves the modules, go.sum pins them.
#
#   tests/modern/build.sh packer     build packer + packer-plugin-amazon once per go.sum into
#                                    $AMIFORGE_CACHE/packer-modern-<sha256(go.sum):16>/ (prints it)
#   tests/modern/build.sh peer OUT   build the SDK peer to OUT (seconds with a warm build cache)
#   tests/modern/build.sh getter OUT build the release getter (Packer's plugin getter over a dist/)
#   tests/modern/build.sh lint       gofmt + go vet of the SDK peer and the release getter
#   tests/modern/build.sh dir        print that directory, build nothing
#
# Go: 1.26 or newer (Packer 1.16.0's go.mod says go 1.26.3), taken from /usr/local/go/bin if the
# go on PATH is older. GOTOOLCHAIN=local: nothing but modules is downloaded. The module and build
# caches live under the cache too ($cache/go/mod, $cache/go/build), so a second build is fast.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${AMIFORGE_CACHE:-$HOME/.cache/amiforge}

if ! go version 2>/dev/null | grep -Eq 'go1\.(2[6-9]|[3-9][0-9])'; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH=/usr/local/go/bin:$PATH
  fi
fi
if ! go version 2>/dev/null | grep -Eq 'go1\.(2[6-9]|[3-9][0-9])'; then
  echo "modern: Go >= 1.26 is needed (found: $(go version 2>/dev/null || echo none))" >&2
  exit 2
fi
export GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false -trimpath" \
  GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" CGO_ENABLED=0

sum=$(sha256sum "$here/go.sum" | cut -c1-16)
dir="$cache/packer-modern-$sum"

case "${1:-}" in
  dir)
    echo "$dir"
    ;;
  packer)
    if [ -x "$dir/packer" ] && [ -x "$dir/packer-plugin-amazon" ]; then
      echo "$dir"
      exit 0
    fi
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/packer-modern-build.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    start=$(date +%s)
    echo "modern: building Packer 1.16.0 and packer-plugin-amazon 1.8.2 with $(go version | cut -d' ' -f3) (minutes on a cold cache)" >&2
    (cd "$here" && go build -o "$tmp/" github.com/hashicorp/packer github.com/hashicorp/packer-plugin-amazon)
    "$tmp/packer" version | head -1 | grep -q 'Packer v1.16' || { echo "modern: unexpected $("$tmp/packer" version | head -1)" >&2; exit 1; }
    mkdir -p "$dir"
    mv "$tmp/packer" "$tmp/packer-plugin-amazon" "$dir/"
    echo "modern: built in $(( $(date +%s) - start )) s" >&2
    echo "$dir"
    ;;
  peer|getter)
    out=${2:?usage: build.sh $1 OUT}
    mkdir -p "$(dirname "$out")"
    out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out") # go build runs in $here
    (cd "$here" && go build -o "$out.tmp.$$" "./$1")
    mv -f "$out.tmp.$$" "$out"
    ;;
  lint)
    cd "$here"
    bad=$(gofmt -l peer getter)
    [ -z "$bad" ] || { echo "modern: not gofmt-clean: $bad" >&2; exit 1; }
    go vet ./peer ./getter
    ;;
  *)
    sed -n '2,18p' "$0" >&2
    exit 2
    ;;
esac
