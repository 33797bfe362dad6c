#!/usr/bin/env bash
# mkroot.sh - owned by the amiforge e2e test harness (tests/sandbox/).
#
# Ensures the pristine Debian root of one release, used as the read-only lower layer of every
# sandbox of that release (see sandbox.sh), exists, and prints its path as the LAST line of stdout.
#
#   tests/sandbox/mkroot.sh [RELEASE]  # bookworm (Debian 12, default) or trixie (Debian 13);
#                                      # needs root; debootstrap only on a cold cache
#
#   AMIFORGE_CACHE  cache dir (default $HOME/.cache/amiforge); root = $AMIFORGE_CACHE/sbx-root-RELEASE,
#                   tarball cache = $AMIFORGE_CACHE/sbx-root-RELEASE.tar.zst
#   DEBIAN_MIRROR   debootstrap mirror (default http://deb.debian.org/debian)
#
# Order: marker present -> nothing to do; tarball present -> extract it; else debootstrap + prep,
# then write the tarball. The root is built in a temp dir and renamed into place, so a killed run
# never leaves a half root; a flock serialises parallel callers. The host is never modified:
# debootstrap runs in private mount/pid/uts/ipc namespaces, so its /proc,/sys mounts and anything a
# maintainer script might start die with it.
set -euo pipefail

# Bump when the recipe below changes: old roots/tarballs are then rebuilt.
RELEASE=${1:-bookworm}
case $RELEASE in
  bookworm|trixie) ;;
  *) echo "mkroot.sh: unknown release '$RELEASE' (bookworm or trixie)" >&2; exit 2 ;;
esac
RECIPE=amiforge-sbx-root-v4-$RELEASE
CACHE=${AMIFORGE_CACHE:-$HOME/.cache/amiforge}
ROOT=$CACHE/sbx-root-$RELEASE
TARBALL=$CACHE/sbx-root-$RELEASE.tar.zst
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
MARKER=.amiforge-sbx-root # inside the root; written last, before the atomic rename

die() { echo "mkroot.sh: $*" >&2; exit 1; }
log() { echo "mkroot.sh: $*" >&2; }
ready() { [ -d "$1" ] && [ "$(cat "$1/$MARKER" 2>/dev/null)" = "$RECIPE" ]; }

# Fast path: no lock, no root needed.
if ready "$ROOT"; then echo "$ROOT"; exit 0; fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap/tar --numeric-owner/chroot need it); root cache $ROOT is missing"
mkdir -p "$CACHE"

exec 9>"$CACHE/sbx-root-$RELEASE.lock"
if ! flock -n 9; then
  log "another mkroot.sh is building $ROOT; waiting for its lock"
  flock -w 1800 9 || die "timed out waiting for $CACHE/sbx-root-$RELEASE.lock"
fi
if ready "$ROOT"; then echo "$ROOT"; exit 0; fi # built by whoever held the lock

# Under the lock: anything left over is from a killed or outdated run (and the single root of
# recipes before v4, which had no release in its name).
rm -rf "$CACHE/sbx-root" "$CACHE/sbx-root.tar.zst" "$CACHE/sbx-root.lock"
# Under the lock: anything left over is from a killed or outdated run.
rm -rf "$CACHE"/.sbx-root-"$RELEASE".tmp.* "$CACHE"/.sbx-root-"$RELEASE".old.*
if [ -e "$ROOT" ]; then
  log "discarding incomplete/outdated $ROOT"
  OLD=$(mktemp -d "$CACHE/.sbx-root-$RELEASE.old.XXXXXX")
  mv "$ROOT" "$OLD/" && rm -rf "$OLD"
fi

TMP=$(mktemp -d "$CACHE/.sbx-root-$RELEASE.tmp.XXXXXX")
trap 'rm -rf "$TMP" "$TARBALL.tmp.$$"' EXIT
chmod 755 "$TMP" # becomes "/" of the sandbox; mktemp makes it 0700

if [ -f "$TARBALL" ]; then
  log "extracting $TARBALL"
  if tar -C "$TMP" --numeric-owner --xattrs --xattrs-include='*' -I zstd -xpf "$TARBALL" &&
     ready "$TMP"; then
    chmod 755 "$TMP"
  else
    log "tarball is corrupt or from another recipe; rebuilding"
    rm -f "$TARBALL"
    find "$TMP" -mindepth 1 -delete
  fi
fi

if ! ready "$TMP"; then
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap) and there is no $TARBALL"
  command -v zstd >/dev/null || die "zstd is missing (apt-get install zstd)"
  log "debootstrap $RELEASE from $MIRROR (takes ~1 min)"
  unshare --mount --pid --fork --uts --ipc --propagation private \
    debootstrap --variant=minbase "$RELEASE" "$TMP" "$MIRROR" >&2 ||
    die "debootstrap failed (see output above)"
  # The rest through apt in the new root (debootstrap 1.0.128's --include cannot order systemd
  # 257's pre-dependencies on trixie); no Recommends, like --include. pamtester drives PAM stacks
  # in the hardening tests (lockout, password changes).
  log "installing the sandbox's packages"
  unshare --mount --pid --fork --uts --ipc --propagation private sh -c '
    mount -t proc proc "$1/proc" &&
    DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -q --no-install-recommends \
      openssh-server sudo procps iproute2 systemd cron kmod auditd libpam-pwquality pamtester &&
    DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -q --no-install-recommends --download-only \
      cracklib-runtime' sh "$TMP" >&2 ||
    die "apt-get install in the new root failed (see output above)"

  log "preparing root"
  ch() { unshare --mount --pid --fork --uts --ipc --propagation private chroot "$TMP" "$@"; }
  # apt's lists and the downloaded .debs of what hardening installs (cracklib-runtime, the
  # dictionary pam_pwquality needs) stay: its install then works offline, as from a local mirror.
  rm -rf "$TMP"/var/cache/apt/*.bin
  ch useradd -m -u 1000 -U -s /bin/bash admin
  ch usermod -p '*' admin # no password, but not "locked" ('!') so key logins work with UsePAM=no
  echo 'admin ALL=(ALL) NOPASSWD:ALL' >"$TMP/etc/sudoers.d/90-admin"
  chmod 440 "$TMP/etc/sudoers.d/90-admin"
  ch visudo -cq >/dev/null || die "sudoers check failed"
  # Debian's sudo creates this on first use by a member of group admin/sudo: pre-create it so it
  # does not show up in every sandbox's diff.
  install -m 644 -o 1000 -g 1000 /dev/null "$TMP/home/admin/.sudo_as_admin_successful"
  # debootstrap copies the host's hosts/hostname; replace them (sudo must resolve 'sbx').
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tsbx\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$TMP/etc/hosts"
  echo sbx >"$TMP/etc/hostname"
  # Host keys: generated once here and shared by all sandboxes (fine for tests).
  rm -f "$TMP"/etc/ssh/ssh_host_*
  ch ssh-keygen -A >/dev/null
  # No authorized_keys are baked in: sandbox.sh installs the caller's key per sandbox.
  rm -rf "$TMP"/root/.ssh "$TMP"/home/admin/.ssh
  [ -x "$TMP/usr/bin/scp" ] || die "scp missing from root (Packer's file provisioner needs it)"
  echo "$RECIPE" >"$TMP/$MARKER"

  log "writing $TARBALL"
  tar -C "$TMP" --numeric-owner --xattrs --xattrs-include='*' -I 'zstd -T0 -3' -cpf "$TARBALL.tmp.$$" .
  mv -f "$TARBALL.tmp.$$" "$TARBALL"
fi

mv -T "$TMP" "$ROOT"
trap - EXIT
echo "$ROOT"
