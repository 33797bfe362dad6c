# Sourced by scripts that need one throw-away AWS emulator (hcl-examples/run.sh, bench/replicate.sh):
#   . tests/emulator/lib.sh; emulator_up WORKDIR [COPY_SECONDS]
# starts tests/emulator/emulator.py on a free 127.0.0.1 port with one seeded public AMI
# (ami-0e1a1a1a1a1a1a1a1), sets EMU_ENDPOINT and EMU_PID, exports the AWS_* variables that point
# the AWS SDKs (and Packer's amazon plugin) at it, and stops it on exit (added to any EXIT trap).
#   emulator_kms_alias ALIAS REGION...   creates one KMS key per region with that alias.
EMU_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EMU_PYTHON=${AMIFORGE_PYTHON:-${AMIFORGE_CACHE:-$HOME/.cache/amiforge}/venv/bin/python3}
EMU_SEED_AMI=ami-0e1a1a1a1a1a1a1a1

emulator_up() {
  local work=$1 copy=${2:-0} port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf '[{"ami_id": "%s", "name": "base", "owner_id": "136693071363", "public": true, "architecture": "x86_64", "root_device_type": "ebs", "ena_support": true, "imds_support": "v2.0", "boot_mode": "uefi"}]\n' \
    "$EMU_SEED_AMI" > "$work/seed-amis.json"
  "$EMU_PYTHON" "$EMU_DIR/emulator.py" --port "$port" --copy-seconds "$copy" \
    --seed-amis "$work/seed-amis.json" > "$work/emulator.log" 2>&1 &
  EMU_PID=$!
  # keep whatever EXIT trap the caller (or tests/sandbox/lib.sh) already set
  local prev
  prev=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
  trap "kill $EMU_PID 2>/dev/null; wait $EMU_PID 2>/dev/null; $prev" EXIT
  local i
  for i in $(seq 300); do
    grep -q "EMULATOR READY" "$work/emulator.log" && break
    kill -0 "$EMU_PID" 2>/dev/null || { cat "$work/emulator.log" >&2; return 1; }
    sleep 0.1
  done
  grep -q "EMULATOR READY" "$work/emulator.log" || { echo "emulator did not start" >&2; return 1; }
  EMU_ENDPOINT=http://127.0.0.1:$port
  export AWS_ENDPOINT_URL=$EMU_ENDPOINT AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
}

emulator_kms_alias() {
  local alias=$1
  shift
  "$EMU_PYTHON" - "$EMU_ENDPOINT" "$alias" "$@" <<'PY'
import sys, boto3
ep, alias = sys.argv[1], sys.argv[2]
for r in sys.argv[3:]:
    k = boto3.client("kms", region_name=r, endpoint_url=ep,
                     aws_access_key_id="testing", aws_secret_access_key="testing")
    key = k.create_key(Description=f"{alias} in {r}")["KeyMetadata"]["KeyId"]
    k.create_alias(AliasName=alias, TargetKeyId=key)
PY
}
