# Sourced by scripts that need one throw-away sandbox (hcl-examples/run.sh, bench/upload.sh):
#   . tests/sandbox/lib.sh; sandbox_up NAME WORKDIR
# generates a key in WORKDIR, starts sandbox NAME on a free 127.0.0.1 port, sets SBX_PORT,
# SBX_KEY and SBX_NAME, and removes the sandbox and WORKDIR on exit.
SBX_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

sandbox_up() {
  SBX_NAME=$1
  local work=$2
  trap 'bash "$SBX_SCRIPTS/sandbox.sh" reset "$SBX_NAME" >/dev/null 2>&1 || true; rm -rf "'"$work"'"' EXIT
  ssh-keygen -q -t ed25519 -N '' -f "$work/id"
  SBX_KEY=$work/id
  SBX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  bash "$SBX_SCRIPTS/sandbox.sh" start "$SBX_NAME" "$SBX_PORT" "$SBX_KEY.pub"
}
