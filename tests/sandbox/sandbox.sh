#!/usr/bin/env bash
# sandbox.sh - owned by the amiforge e2e test harness (tests/sandbox/).
#
# A disposable SSH target on 127.0.0.1 for end-to-end tests (Packer null builder + SSH), isolated
# from this host. Needs root, util-linux (unshare, setpriv), overlayfs and the pristine root made by
# mkroot.sh.
#
#   sandbox.sh start NAME PORT PUBKEY_FILE  sshd on 127.0.0.1:PORT; PUBKEY_FILE lets root and admin in
#   sandbox.sh stop  NAME                   kill it (idempotent); its mounts vanish with the namespace
#   sandbox.sh diff  NAME                   "mode uid:gid ./path" of what changed in the sandbox
#   sandbox.sh path  NAME                   the sandbox's / as seen from the host (while running)
#   sandbox.sh reset NAME                   stop, then delete all its state
#
#   SBX_HOME       state dir (default ${TMPDIR:-/tmp}/amiforge-sbx); sandbox state in $SBX_HOME/NAME
#   SBX_RELEASE    Debian release of the lower layer: bookworm (default) or trixie
#   SBX_ROOT       lower layer (default ${AMIFORGE_CACHE:-$HOME/.cache/amiforge}/sbx-root-$SBX_RELEASE);
#                  give diff the same SBX_RELEASE/SBX_ROOT as start
#   SBX_KEEP_CAPS  =1 keeps the full capability set inside (default: host-affecting caps dropped)
#
# Isolation: private mount/pid/uts/ipc namespaces; chroot into an overlayfs whose lower layer is the
# pristine root (never written) and whose upper layer is $SBX_HOME/NAME/upper; fresh /proc with
# /proc/sys (and sysrq-trigger, irq, bus, fs) read-only; tmpfs /run and a minimal tmpfs /dev with a
# private devpts; hostname sbx. The network namespace is SHARED (sshd binds 127.0.0.1 only), so
# CAP_NET_ADMIN, CAP_SYS_TIME, CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_SYS_RAWIO, CAP_SYS_ADMIN, ... are
# dropped from the bounding set: iptables, date -s, modprobe, swapoff, mount fail instead of
# changing the host. This guards against accidents in provisioning scripts, not against malice.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
SBX_HOME=${SBX_HOME:-${TMPDIR:-/tmp}/amiforge-sbx}
LOWER=${SBX_ROOT:-${AMIFORGE_CACHE:-$HOME/.cache/amiforge}/sbx-root-${SBX_RELEASE:-bookworm}}
DROP_CAPS=-sys_admin,-net_admin,-sys_time,-sys_module,-sys_boot,-sys_rawio,-syslog,-wake_alarm,-mac_admin,-mac_override,-audit_control,-sys_pacct,-block_suspend,-bpf,-perfmon,-checkpoint_restore

die() { echo "sandbox.sh: $*" >&2; exit 1; }
usage() { sed -n '8,12p' "$SELF" >&2; exit 2; }

name_ok() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad sandbox name '$1'"; }

starttime() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "${20}"; }

# Host pid of the namespace's PID 1 (sshd), if it is still that process.
running_pid() { local p t; read -r p t 2>/dev/null <"$S/pid1" && [ "$(starttime "$p" 2>/dev/null)" = "$t" ] && echo "$p"; }

live_unshare() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; st=${st##*) }
  [ "${st%% *}" != Z ] && grep -qx unshare "/proc/$1/comm" 2>/dev/null; }

port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# --- runs inside the new namespaces (PID 1 of the new pid namespace) -----------------------------
ns_main() {
  local S=$1 PORT=$2 M=$1/merged hp _ n nm ma mi
  # The inherited /proc still belongs to the host pid namespace: record our host pid (sshd keeps
  # it across the execs below) and start time, so stop/path can find us.
  read -r hp _ </proc/self/stat
  echo "$hp $(starttime "$hp")" >"$S/pid1.tmp" && mv "$S/pid1.tmp" "$S/pid1"

  mount --make-rprivate /
  mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$S/upper,workdir=$S/work" "$M"

  mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
  for n in sys sysrq-trigger irq bus fs; do
    [ -e "$M/proc/$n" ] || continue
    mount --bind "$M/proc/$n" "$M/proc/$n"
    mount -o remount,bind,ro "$M/proc/$n"
  done

  mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$M/run"
  mkdir -m 755 "$M/run/sshd" "$M/run/lock"

  mount -t tmpfs -o mode=755,nosuid tmpfs "$M/dev"
  for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r nm ma mi <<<"$n"
    mknod -m 666 "$M/dev/$nm" c "$ma" "$mi"
  done
  mkdir -m 755 "$M/dev/pts"
  mkdir -m 1777 "$M/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$M/dev/pts"
  ln -s pts/ptmx "$M/dev/ptmx"
  ln -s /proc/self/fd "$M/dev/fd"
  ln -s /proc/self/fd/0 "$M/dev/stdin"
  ln -s /proc/self/fd/1 "$M/dev/stdout"
  ln -s /proc/self/fd/2 "$M/dev/stderr"
  hostname sbx

  # The caller's key, written through the overlay (lands in the upper layer, never in the lower).
  install -d -m 700 -o 0 -g 0 "$M/root/.ssh"
  install -m 600 -o 0 -g 0 "$S/authorized_keys" "$M/root/.ssh/authorized_keys"
  install -d -m 700 -o 1000 -g 1000 "$M/home/admin/.ssh"
  install -m 600 -o 1000 -g 1000 "$S/authorized_keys" "$M/home/admin/.ssh/authorized_keys"

  local caps=()
  [ "${SBX_KEEP_CAPS:-}" = 1 ] || caps=(setpriv --bounding-set "$DROP_CAPS" --inh-caps=-all)
  # Command-line -o options win over the (possibly provisioned) sshd_config.
  exec "${caps[@]}" chroot "$M" /usr/sbin/sshd -D -e -p "$PORT" \
    -o ListenAddress=127.0.0.1 -o UsePAM=no -o PasswordAuthentication=no \
    -o KbdInteractiveAuthentication=no -o PubkeyAuthentication=yes -o PermitRootLogin=prohibit-password \
    -o StrictModes=no -o UseDNS=no -o GSSAPIAuthentication=no -o PrintMotd=no -o PrintLastLog=no \
    -o AuthorizedKeysFile=.ssh/authorized_keys -o MaxStartups=100 \
    -o LogLevel=VERBOSE
}

# --- host side -----------------------------------------------------------------------------------
stop_sbx() {
  local p ppid i
  p=$(running_pid) || { rm -f "$S/pid1"; return 0; }
  # unshare --fork ignores SIGTERM itself: kill the namespace's PID 1; the kernel then kills the
  # rest of the namespace, unshare exits and the overlay/proc/dev mounts disappear with it.
  ppid=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || true)
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 100); do running_pid >/dev/null || break; sleep 0.05; done
  if running_pid >/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  # Then wait for unshare itself (a zombie counts as gone: its namespaces are already released).
  for i in $(seq 100); do
    running_pid >/dev/null || { [ -n "$ppid" ] && live_unshare "$ppid"; } || break
    sleep 0.05
  done
  running_pid >/dev/null && die "could not stop sandbox $NAME (pid $p)"
  rm -f "$S/pid1"
}

[ $# -ge 2 ] || usage
cmd=$1 NAME=$2
name_ok "$NAME"
S=$SBX_HOME/$NAME

case $cmd in
  __ns) ns_main "$S" "$3" ;;

  start)
    [ $# -eq 4 ] || usage
    PORT=$3 KEY=$4
    [[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "bad port '$PORT'"
    [ "$(id -u)" = 0 ] || die "must run as root (namespaces, overlayfs, chroot)"
    [ -f "$LOWER/.amiforge-sbx-root" ] || die "no pristine root at $LOWER (run tests/sandbox/mkroot.sh ${SBX_RELEASE:-bookworm})"
    [ -s "$KEY" ] || die "public key file '$KEY' is missing or empty"
    grep -q overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "overlayfs not available"
    for c in unshare setpriv ss; do command -v $c >/dev/null || die "$c is missing (util-linux/iproute2)"; done
    running_pid >/dev/null && die "sandbox $NAME is already running (pid $(running_pid))"
    port_busy "$PORT" && die "port $PORT is already in use"
    mkdir -p "$S/upper" "$S/work" "$S/merged"
    install -m 600 "$KEY" "$S/authorized_keys"
    rm -f "$S/pid1"
    : >"$S/sshd.log"
    setsid unshare --mount --pid --fork --uts --ipc --propagation private \
      bash "$SELF" __ns "$NAME" "$PORT" </dev/null >>"$S/sshd.log" 2>&1 &
    UNSHARE=$!
    # Up when sshd says so AND the port listens (and it's ours: the port was free before).
    for i in $(seq 300); do
      if grep -q "Server listening on 127.0.0.1 port $PORT" "$S/sshd.log" && port_busy "$PORT"; then
        exit 0
      fi
      kill -0 "$UNSHARE" 2>/dev/null || break
      sleep 0.05
    done
    echo "sandbox.sh: sshd for $NAME did not come up on 127.0.0.1:$PORT; log:" >&2
    cat "$S/sshd.log" >&2
    stop_sbx || true
    exit 1
    ;;

  stop) stop_sbx ;;

  reset)
    [ -d "$S" ] || exit 0
    stop_sbx
    rm -rf "$S"
    ;;

  path)
    p=$(running_pid) || die "sandbox $NAME is not running"
    echo "/proc/$p/root"
    ;;

  diff)
    [ -d "$S/upper" ] || die "no sandbox $NAME under $SBX_HOME"
    # Non-directories in the upper layer (files, symlinks, whiteouts = c--------- for deletions),
    # plus directories that are new or whose mode/owner differ from the lower layer.
    cd "$S/upper"
    find . -mindepth 1 \( -path ./var/log -o -path ./tmp -o -path ./dev -o -path ./run \
      -o -path ./root/.ssh -o -path ./home/admin/.ssh \) -prune -o -printf '%M %U:%G %p\n' |
      while read -r mode owner path; do
        if [ "${mode:0:1}" = d ] && [ -d "$LOWER/$path" ] && [ ! -L "$LOWER/$path" ] &&
           [ "$(find "$LOWER/$path" -maxdepth 0 -printf '%M %U:%G')" = "$mode $owner" ]; then
          continue
        fi
        echo "$mode $owner $path"
      done | LC_ALL=C sort -k3
    ;;

  *) usage ;;
esac
