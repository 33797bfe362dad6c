#!/usr/bin/env bash
# Benchmark: upload throughput through packer-sdk's Communicator client (provisioner
# `scaffold-run`) against Packer's own built-in `file` provisioner, in the same `packer build`,
# to the same sandboxed sshd on 127.0.0.1. Both sides go through Packer's SSH communicator; the
# difference is the plugin-side path (our yamux/broker streaming vs Packer's in-process upload).
#
#   bench/upload.sh [SIZE_MIB=256] [ROUNDS=3]
#
# Each interval is bracketed by a `date +%s.%N` run on the machine before and after the upload
# step, so both include one SSH command round trip; reported: MiB/s per round and the median.
set -euo pipefail
size_mib=${1:-256}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh >/dev/null
cargo build --release -p packer-sdk --example packer-plugin-scaffold >/dev/null 2>&1
work=$(mktemp -d /tmp/amiforge-bench.XXXXXX)
. tests/sandbox/lib.sh
sandbox_up "bench-$$" "$work" >/dev/null
name=$SBX_NAME port=$SBX_PORT
ln -s "$root/target/release/examples/packer-plugin-scaffold" "$work/packer-plugin-scaffold"
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$work/payload.bin"
cat > "$work/bench.pkr.hcl" <<HCL
source "null" "b" {
  ssh_host = "127.0.0.1"
  ssh_port = $port
  ssh_username = "admin"
  ssh_private_key_file = "$work/id"
}
build {
  sources = ["source.null.b"]
  provisioner "scaffold-run" { inline = ["date +%s.%N > /tmp/t0"] }
  provisioner "file" {
    source      = "$work/payload.bin"
    destination = "/home/admin/via-file-provisioner.bin"
  }
  provisioner "scaffold-run" { inline = ["date +%s.%N > /tmp/t1"] }
  provisioner "scaffold-run" {
    upload_source      = "$work/payload.bin"
    upload_destination = "/home/admin/via-packer-sdk.bin"
    inline             = ["date +%s.%N > /tmp/t2"]
  }
}
HCL
sbx=$(bash tests/sandbox/sandbox.sh path "$name")
file_rates=(); sdk_rates=()
for r in $(seq "$rounds"); do
  (cd "$work" && CHECKPOINT_DISABLE=1 PACKER_CONFIG_DIR="$work" packer build -color=false bench.pkr.hcl >"$work/build.log" 2>&1) \
    || { cat "$work/build.log"; exit 1; }
  cmp -s "$work/payload.bin" "$sbx/home/admin/via-packer-sdk.bin" || { echo "payload differs (packer-sdk)"; exit 1; }
  cmp -s "$work/payload.bin" "$sbx/home/admin/via-file-provisioner.bin" || { echo "payload differs (file)"; exit 1; }
  t0=$(cat "$sbx/tmp/t0"); t1=$(cat "$sbx/tmp/t1"); t2=$(cat "$sbx/tmp/t2")
  f=$(python3 -c "print(f'{$size_mib/($t1-$t0):.1f}')"); s=$(python3 -c "print(f'{$size_mib/($t2-$t1):.1f}')")
  inner=$(grep -o 'uploaded [0-9]* bytes in [0-9.]* s ([0-9.]* MiB/s)' "$work/build.log" | tail -1)
  echo "round $r: file provisioner ${f} MiB/s, packer-sdk ${s} MiB/s   (plugin's own timing: $inner)"
  file_rates+=("$f"); sdk_rates+=("$s")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median over $rounds rounds, ${size_mib} MiB: file provisioner $(median "${file_rates[@]}") MiB/s, packer-sdk $(median "${sdk_rates[@]}") MiB/s"
