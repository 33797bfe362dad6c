#!/usr/bin/env bash
# Runs the examples end to end with real Packer on this machine: installs what is missing
# (tests/setup.sh), builds the plugins, starts a sandboxed sshd on 127.0.0.1 (nothing on the host
# changes), runs `packer build` on hcl-examples/scaffold (HCL2 and JSON) and
# hcl-examples/hardened-linux (amiforge-harden: enforce, then an audit re-run) and
# hcl-examples/replicated (amazon-ebs against the AWS emulator on 127.0.0.1, hardened, replicated
# to three regions) and hcl-examples/golden-pipeline (the same, then gated by amiforge-validate:
# test instances, in-guest audit over SSH, JUnit, approved SSM pointer), shows what the
# builds changed inside the sandbox, and stops it again. The sandbox runs Debian 12;
# SBX_RELEASE=trixie runs every example on Debian 13 instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh --no-modern
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

echo "--- golden pipeline: amazon-ebs → amiforge-harden → amiforge-replicate → amiforge-validate"
emulator_kms_alias alias/images us-east-1
# the validator logs in to its test instances (here: the sandbox) with this key pair
"$EMU_PYTHON" - "$EMU_ENDPOINT" "$work/id.pub" us-east-1 eu-west-1 us-west-2 ap-southeast-2 <<'PY'
import sys, boto3
ep, pub = sys.argv[1], open(sys.argv[2], "rb").read()
for r in sys.argv[3:]:
    boto3.client("ec2", region_name=r, endpoint_url=ep, aws_access_key_id="testing",
                 aws_secret_access_key="testing").import_key_pair(KeyName="golden-validator", PublicKeyMaterial=pub)
PY
cp "$root/hcl-examples/golden-pipeline/pipeline.pkr.hcl" "$work/"
rm -rf reports
vars=(-var "endpoint=$EMU_ENDPOINT" -var "ssh_host=127.0.0.1" -var "ssh_port=$port"
      -var "ssh_private_key_file=$work/id" -var "validator_ssh_host=127.0.0.1:$port")
packer validate "${vars[@]}" pipeline.pkr.hcl
packer build -color=false "${vars[@]}" pipeline.pkr.hcl
python3 - <<'PY'
import json, xml.etree.ElementTree as ET
r = json.load(open("reports/validation.json"))
x = ET.parse("reports/validation.xml").getroot()
print(f"validation {r['run_id']}: {r['verdict']} ({r['summary']})")
print(f"JUnit reports/validation.xml: {x.get('tests')} tests, {x.get('failures')} failures, "
      f"{x.get('errors')} errors in {len(x)} suites")
PY
echo "approved pointer /images/web/approved:"
"$EMU_PYTHON" - <<'PY'
import boto3
for r in ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"]:
    v = boto3.client("ssm", region_name=r).get_parameter(Name="/images/web/approved")["Parameter"]["Value"]
    print(f"  {r:16} {v}")
PY
cp -r reports "$root/hcl-examples/golden-pipeline/" && echo "reports copied to hcl-examples/golden-pipeline/reports/"

echo "--- files the builds changed inside the sandbox:"
bash "$root/tests/sandbox/sandbox.sh" diff "$name"
echo "example: ok"
