#!/usr/bin/env bash
# Runs the examples end to end with real Packer on this machine: installs what is missing
# (tests/setup.sh), builds the plugins, starts a sandboxed sshd on 127.0.0.1 (nothing on the host
# changes), runs `packer build` on hcl-examples/scaffold (HCL2 and JSON) and
# hcl-examples/hardened-linux (amiforge-harden: enforce, then an audit re-run) and
# hcl-examples/replicated (amazon-ebs against the AWS emulator on 127.0.0.1, hardened, replicated
# to three regions), shows what the
# builds changed inside the sandbox, and stops it again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh
cargo build --workspace --bins --examples

work=$(mktemp -d /tmp/amiforge-example.XXXXXX)
. tests/sandbox/lib.sh
sandbox_up "example-$$" "$work"
name=$SBX_NAME port=$SBX_PORT
echo "sandbox $name: sshd on 127.0.0.1:$port"

# Packer 1.6 finds packer-plugin-* in the working directory.
cp hcl-examples/scaffold/scaffold.pkr.hcl hcl-examples/scaffold/scaffold.json hcl-examples/scaffold/payload.txt "$work/"
cp hcl-examples/hardened-linux/hardened-linux.pkr.hcl "$work/"
ln -s "$root/target/debug/examples/packer-plugin-scaffold" "$work/packer-plugin-scaffold"
ln -s "$root/target/debug/packer-plugin-amiforge" "$work/packer-plugin-amiforge"
cd "$work"
export CHECKPOINT_DISABLE=1 PACKER_CONFIG_DIR="$work"
packer validate -var "ssh_port=$port" -var "ssh_private_key_file=$work/id" scaffold.pkr.hcl
packer build -color=false -var "ssh_port=$port" -var "ssh_private_key_file=$work/id" scaffold.pkr.hcl
cmp payload.txt payload.back.txt && echo "payload.txt came back byte-identical"
packer build -color=false -var "ssh_port=$port" -var "ssh_private_key_file=$work/id" scaffold.json

echo "--- hardened-linux: amiforge-harden on the same machine"
packer build -color=false -var "ssh_port=$port" -var "ssh_private_key_file=$work/id" hardened-linux.pkr.hcl
(cd reports && sha256sum -c hardening.json.sha256 hardening.sbom.cdx.json.sha256)
cp -r reports "$root/hcl-examples/hardened-linux/" && echo "reports copied to hcl-examples/hardened-linux/reports/"

echo "--- replicated: amazon-ebs (AWS emulator) + amiforge-harden + amiforge-replicate to 3 regions"
. "$root/tests/emulator/lib.sh"
emulator_up "$work"
echo "AWS emulator on $EMU_ENDPOINT"
emulator_kms_alias alias/images eu-west-1 us-west-2 ap-southeast-2
cp "$root/hcl-examples/replicated/replicated.pkr.hcl" "$work/"
rm -rf reports
packer validate -var "endpoint=$EMU_ENDPOINT" -var "ssh_host=127.0.0.1" -var "ssh_port=$port" \
  -var "ssh_private_key_file=$work/id" replicated.pkr.hcl
packer build -color=false -var "endpoint=$EMU_ENDPOINT" -var "ssh_host=127.0.0.1" -var "ssh_port=$port" \
  -var "ssh_private_key_file=$work/id" replicated.pkr.hcl
(cd reports && sha256sum -c manifest.json.sha256)
echo "AMIs per region (reports/manifest.json):"
python3 - <<'PY'
import json
m = json.load(open("reports/manifest.json"))
for r, e in sorted(m["regions"].items()):
    print(f"  {r:16} {e['ami']}  encrypted={e['encrypted']}  kms={e['kms_key']}")
PY
aws_ssm() { "$EMU_PYTHON" -c 'import boto3,sys; print(boto3.client("ssm").get_parameter(Name=sys.argv[1])["Parameter"]["Value"])' "$1"; }
echo "SSM /images/web/latest = $(aws_ssm /images/web/latest)"
cp -r reports "$root/hcl-examples/replicated/" && echo "reports copied to hcl-examples/replicated/reports/"

echo "--- files the builds changed inside the sandbox:"
bash "$root/tests/sandbox/sandbox.sh" diff "$name"
echo "example: ok"
