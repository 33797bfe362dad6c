#!/usr/bin/env bash
# Benchmark: replicating one AMI to 8 regions with amiforge-replicate vs Packer amazon-ebs's own
# `ami_regions`, in `packer build` (Packer 1.6.6) against the AWS emulator with the same settings
# (every copy takes COPY_SECONDS to become available; encrypted with a per-region KMS key).
# Reports wall time and the number of AWS API calls (from the emulator's request log).
#
#   bench/replicate.sh [COPY_SECONDS=60] [REGIONS=8]
set -euo pipefail
copy=${1:-60}
n=${2:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh >/dev/null
cargo build --release -p amiforge-plugin --bins >/dev/null 2>&1
work=$(mktemp -d /tmp/amiforge-bench-replicate.XXXXXX)
trap 'rm -rf "$work"' EXIT
. tests/emulator/lib.sh
emulator_up "$work" "$copy"
endpoint=$EMU_ENDPOINT
all="eu-west-1 us-west-2 ap-southeast-2 eu-central-1 us-east-2 us-west-1 eu-west-2 ap-northeast-1 eu-north-1 ca-central-1 sa-east-1 ap-south-1 eu-west-3 ap-northeast-2 ap-southeast-1 eu-south-1"
regions=$(echo $all | tr ' ' '\n' | head -n "$n" | tr '\n' ' ')
# one KMS key per region (and one in the build region), alias/images
emulator_kms_alias alias/images us-east-1 $regions
hcl_list() { printf '"%s", ' "$@" | sed 's/, $//'; }
hcl_kms() { for r in "$@"; do printf '"%s" = "alias/images", ' "$r"; done | sed 's/, $//'; }
src="  region = \"us-east-1\"
  custom_endpoint_ec2 = \"$endpoint\"
  skip_credential_validation = true
  skip_metadata_api_check = true
  skip_region_validation = true
  access_key = \"testing\"
  secret_key = \"testing\"
  source_ami = \"ami-0e1a1a1a1a1a1a1a1\"
  instance_type = \"t3.micro\"
  communicator = \"none\"
  aws_polling {
    delay_seconds = 5
    max_attempts = 1000
  }"
cat > "$work/ami-regions.pkr.hcl" <<HCL
source "amazon-ebs" "a" {
$src
  ami_name = "bench-ami-regions-{{timestamp}}"
  encrypt_boot = true
  kms_key_id = "alias/images"
  ami_regions = [$(hcl_list $regions)]
  region_kms_key_ids = { $(hcl_kms $regions) }
}
build { sources = ["source.amazon-ebs.a"] }
HCL
cat > "$work/amiforge.pkr.hcl" <<HCL
source "amazon-ebs" "a" {
$src
  ami_name = "bench-amiforge-{{timestamp}}"
}
build {
  sources = ["source.amazon-ebs.a"]
  post-processor "amiforge-replicate" {
    regions = [$(hcl_list $regions)]
    region_kms_key_ids = { $(hcl_kms $regions) }
    manifest_path = "$work/manifest.json"
    deprecate_after = "never"
  }
}
HCL
ln -s "$root/target/release/packer-plugin-amiforge" "$work/packer-plugin-amiforge"
measure() { # template label
  curl -s -X POST "$endpoint/__emulator/reset-log" >/dev/null
  local t0 t1
  t0=$(date +%s.%N)
  (cd "$work" && CHECKPOINT_DISABLE=1 PACKER_CONFIG_DIR="$work" packer build -color=false "$1" > "$work/$2.log" 2>&1) \
    || { tail -30 "$work/$2.log"; exit 1; }
  t1=$(date +%s.%N)
  calls=$(curl -s "$endpoint/__emulator/log" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  copies=$(curl -s "$endpoint/__emulator/log" | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["action"]=="CopyImage"))')
  printf '%-34s %7.1f s  %5d API calls  (%d CopyImage)\n' "$2" "$(python3 -c "print($t1-$t0)")" "$calls" "$copies"
  curl -s "$endpoint/__emulator/log" | python3 -c 'import json,sys,collections; c=collections.Counter(e["action"] for e in json.load(sys.stdin)); print("   ", ", ".join(f"{k} {v}" for k,v in c.most_common()))' 
}
echo "replicating to $n regions, ${copy} s per copy:"
measure ami-regions.pkr.hcl "amazon-ebs ami_regions"
measure amiforge.pkr.hcl "amazon-ebs + amiforge-replicate"
