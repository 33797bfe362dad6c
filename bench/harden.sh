#!/usr/bin/env bash
# Benchmark: the full linux-baseline through amiforge-harden (one upload + one command) against
# what people do today, one Packer `shell` provisioner per control running the same check, in
# `packer build` (Packer 1.6.6) against the sandboxed sshd. Both in audit mode, so every run
# does the same work on an unchanged machine; amiforge-harden enforce is timed as well.
#
#   bench/harden.sh [ROUNDS=3]
#
# Round trips are Communicator RPCs: amiforge-harden = 1 Upload + 1 Start (enforce: + the
# evidence on that command's stdin); Packer's shell provisioner = 1 Upload + 4 Starts per block
# (chmod, run, and two cleanup rm's, as recorded from Packer 1.6.6).
set -euo pipefail
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh >/dev/null
cargo build --release -p amiforge-plugin -p amiforge-profile --examples --bins >/dev/null 2>&1
work=$(mktemp -d /tmp/amiforge-bench-harden.XXXXXX)
. tests/sandbox/lib.sh
sandbox_up "bench-harden-$$" "$work" >/dev/null
ln -s "$root/target/release/packer-plugin-amiforge" "$work/packer-plugin-amiforge"
render="$root/target/release/examples/render"
mkdir -p "$work/controls"
ids=$("$render" linux-baseline audit | sed -n "s/^  # \([a-z0-9.-]*\): .*/\1/p")
n=0
for id in $ids; do "$render" linux-baseline audit "only=$id" > "$work/controls/$id.sh"; n=$((n + 1)); done
src="source \"null\" \"b\" {
  ssh_host = \"127.0.0.1\"
  ssh_port = $SBX_PORT
  ssh_username = \"admin\"
  ssh_private_key_file = \"$SBX_KEY\"
}"
{ echo "$src"; echo 'build {'; echo '  sources = ["source.null.b"]'
  for id in $ids; do
    printf '  provisioner "shell" {\n    script = "%s"\n    execute_command = "chmod +x {{ .Path }}; sudo -n sh {{ .Path }}"\n  }\n' "$work/controls/$id.sh"
  done
  echo '}'; } > "$work/per-control.pkr.hcl"
for mode in audit enforce; do
  { echo "$src"; echo 'build {'; echo '  sources = ["source.null.b"]'
    printf '  provisioner "amiforge-harden" {\n    mode = "%s"\n    fail_on = "never"\n    report_path = "%s/r-%s.json"\n  }\n}\n' "$mode" "$work" "$mode"
  } > "$work/harden-$mode.pkr.hcl"
done
time_build() { # template -> seconds
  local t0 t1
  t0=$(date +%s.%N)
  (cd "$work" && CHECKPOINT_DISABLE=1 PACKER_CONFIG_DIR="$work" packer build -color=false "$1" >"$work/log" 2>&1) \
    || { tail -30 "$work/log"; exit 1; }
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1-$t0:.2f}')"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
a=(); p=(); e=()
for r in $(seq "$rounds"); do
  a+=("$(time_build harden-audit.pkr.hcl)")
  p+=("$(time_build per-control.pkr.hcl)")
  e+=("$(time_build harden-enforce.pkr.hcl)")
  echo "round $r: amiforge-harden audit ${a[-1]} s, $n shell provisioners ${p[-1]} s, amiforge-harden enforce ${e[-1]} s"
done
echo "controls: $n"
echo "amiforge-harden (audit):   median $(median "${a[@]}") s, 2 round trips"
echo "per-control shell (audit): median $(median "${p[@]}") s, $((n * 5)) round trips"
echo "amiforge-harden (enforce): median $(median "${e[@]}") s, 2 round trips (evidence on stdin)"
