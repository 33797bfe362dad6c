#!/usr/bin/env bash
# Runs the example end to end with real Packer on this machine: installs what is missing
# (tests/setup.sh), builds the plugins, starts a sandboxed sshd on 127.0.0.1 (nothing on the host
# changes), runs `packer build` on hcl-examples/scaffold/scaffold.pkr.hcl (then the JSON twin),
# shows what the build changed inside the sandbox, and stops it again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh
cargo build --workspace --examples

work=$(mktemp -d /tmp/amiforge-example.XXXXXX)
. tests/sandbox/lib.sh
sandbox_up "example-$$" "$work"
name=$SBX_NAME port=$SBX_PORT
echo "sandbox $name: sshd on 127.0.0.1:$port"

# Packer 1.6 finds packer-plugin-* in the working directory.
cp hcl-examples/scaffold/scaffold.pkr.hcl hcl-examples/scaffold/scaffold.json hcl-examples/scaffold/payload.txt "$work/"
ln -s "$root/target/debug/examples/packer-plugin-scaffold" "$work/packer-plugin-scaffold"
cd "$work"
export CHECKPOINT_DISABLE=1 PACKER_CONFIG_DIR="$work"
packer validate -var "ssh_port=$port" -var "ssh_private_key_file=$work/id" scaffold.pkr.hcl
packer build -color=false -var "ssh_port=$port" -var "ssh_private_key_file=$work/id" scaffold.pkr.hcl
cmp payload.txt payload.back.txt && echo "payload.txt came back byte-identical"
packer build -color=false -var "ssh_port=$port" -var "ssh_private_key_file=$work/id" scaffold.json

echo "--- files the builds changed inside the sandbox:"
bash "$root/tests/sandbox/sandbox.sh" diff "$name"
echo "example: ok"
