#!/usr/bin/env bash
# Benchmark: amiforge-validator wall time and peak memory for 1 vs N regions (default 8), against
# the AWS emulator with emulated instance timing (every test instance takes LAUNCH_SECONDS to reach
# `running` and STATUS_SECONDS more for both status checks). Each region holds one private,
# KMS-encrypted, deprecated AMI; the run is the full gate: attribute checks, a test launch per
# region, status checks, termination, cleanup of the temporary security groups.
#
#   bench/validate.sh [LAUNCH_SECONDS=20] [STATUS_SECONDS=10] [REGIONS=8]
set -euo pipefail
launch=${1:-20}
status=${2:-10}
n=${3:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/setup.sh >/dev/null
cargo build --release -p amiforge-validator --bins >/dev/null 2>&1
bin=$root/target/release/amiforge-validator
work=$(mktemp -d /tmp/amiforge-bench-validate.XXXXXX)
trap 'rm -rf "$work"' EXIT
. tests/emulator/lib.sh
emulator_up "$work" 0
all="eu-west-1 us-west-2 ap-southeast-2 eu-central-1 us-east-2 us-west-1 eu-west-2 ap-northeast-1 eu-north-1 ca-central-1 sa-east-1 ap-south-1 eu-west-3 ap-northeast-2 ap-southeast-1 eu-south-1"
regions=$(echo $all | tr ' ' '\n' | head -n "$n" | tr '\n' ' ')
# one private, encrypted, deprecated AMI per region; prints region:ami,...
ids=$("$EMU_PYTHON" - "$EMU_ENDPOINT" $regions <<'PY'
import sys, time, datetime, boto3
ep = sys.argv[1]
out = []
for r in sys.argv[2:]:
    kw = dict(region_name=r, endpoint_url=ep, aws_access_key_id="testing", aws_secret_access_key="testing")
    kms, ec2 = boto3.client("kms", **kw), boto3.client("ec2", **kw)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    ami = ec2.copy_image(SourceRegion="us-east-1", SourceImageId="ami-0e1a1a1a1a1a1a1a1", Name=f"bench-{r}",
                         Encrypted=True, KmsKeyId=key)["ImageId"]
    while ec2.describe_images(ImageIds=[ami])["Images"][0]["State"] != "available":
        time.sleep(0.2)
    ec2.enable_image_deprecation(ImageId=ami, DeprecateAt=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=90))
    out.append(f"{r}:{ami}")
print(",".join(out))
PY
)
curl -fsS -X POST -H 'Content-Type: application/json' \
  -d "{\"launch_seconds\": $launch, \"status_seconds\": $status}" "$EMU_ENDPOINT/__emulator/config" >/dev/null
measure() {
  local label=$1 amis=$2
  local before after
  before=$(curl -fsS "$EMU_ENDPOINT/__emulator/log" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" run --ami "$amis" --strategy full --poll-interval 1s \
    --timeout 10m --quiet --json "$work/$label.json" >"$work/$label.out" 2>&1 || {
    echo "$label: validator failed:"; cat "$work/$label.out"; exit 1; }
  after=$(curl -fsS "$EMU_ENDPOINT/__emulator/log" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  read -r secs rss <"$work/time"
  verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$work/$label.json")
  printf '%-10s %2d AMI(s)  wall %6.1f s  peak RSS %6.1f MiB  API calls %4d  verdict %s\n' \
    "$label" "$(echo "$amis" | tr ',' '\n' | wc -l)" "$secs" "$(echo "$rss/1024" | bc -l)" $((after - before)) "$verdict"
}
echo "emulated instance: ${launch}s to running + ${status}s to status checks ok; release build; $(nproc) CPUs"
measure "1-region" "${ids%%,*}"
measure "$n-regions" "$ids"
