#!/usr/bin/env bash
# Mounts (or unmounts) what xrdp 0.10 needs to run inside the trixie root built by
# .ci/build-trixie-root.sh. Measured by logging in with xfreerdp with one mount left out at a time:
#
#   dev/shm   fresh tmpfs, 1777   REQUIRED: without a writable /dev/shm Xorg (xorgxrdp) dies of
#                                 SIGSEGV as soon as the client connects, right after the session's
#                                 ~/.xsession has started (so a proof file alone proves nothing)
#   run       fresh tmpfs + run/xrdp/sockdir   REQUIRED in practice: sesman.socket and the per-user session
#                                 sockets live in /run/xrdp/sockdir (Debian's socketdir); a fresh
#                                 tmpfs keeps them apart from the host's and leaves nothing behind
#   tmp       bind of host /tmp   REQUIRED in practice: X lock files /tmp/.X<n>-lock and
#                                 /tmp/.X11-unix/X<n> shared with the host, so sesman never picks
#                                 a display the host already uses (Xorg's abstract sockets are
#                                 per network namespace, i.e. shared with the host anyway)
#   proc      fresh procfs        for ps/pgrep inside the root; a login works without it
#   dev       bind of host /dev   debootstrap's own /dev nodes would do; the bind is the safe choice
#   dev/pts   bind of /dev/pts    terminals; a login works without it
#   sys       fresh sysfs         a login works without it
#   (root)    bind onto itself    REQUIRED for a sesman per instance: see do_mount
#
# Every mount is made private, so nothing propagates back to the host.
# Usage: trixie-chroot-mounts.sh mount|umount|status [ROOT]   (ROOT defaults to .tools/trixie)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${2:-$root/.tools/trixie}

mounts_inside() {
  # Mount points at or under $dir, deepest first.
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
    awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-
}

is_mounted() {
  awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

do_mount() {
  [ -x "$dir/usr/sbin/xrdp" ] || { echo "no trixie root at $dir" >&2; exit 1; }
  # The root itself a mount point (private), as a container's is: inside the chroot,
  # `unshare --mount --propagation private` (xrdp 0.10's socket directory per instance) changes
  # the propagation of "/", which fails with EINVAL when "/" is not a mount point.
  if ! is_mounted "$dir"; then
    mount --bind "$dir" "$dir"
    mount --make-private "$dir"
  fi
  is_mounted "$dir/proc" || mount -t proc proc "$dir/proc"
  is_mounted "$dir/sys" || mount -t sysfs sysfs "$dir/sys"
  if ! is_mounted "$dir/dev"; then
    mount --bind /dev "$dir/dev"
    mount --make-private "$dir/dev"
  fi
  if ! is_mounted "$dir/dev/pts"; then
    mount --bind /dev/pts "$dir/dev/pts"
    mount --make-private "$dir/dev/pts"
  fi
  is_mounted "$dir/dev/shm" || mount -t tmpfs -o mode=1777,nosuid,nodev shm "$dir/dev/shm"
  if ! is_mounted "$dir/run"; then
    mount -t tmpfs -o mode=0755,nosuid,nodev run "$dir/run"
    mkdir -p -m 0755 "$dir/run/xrdp/sockdir" "$dir/run/lock"
  fi
  if ! is_mounted "$dir/tmp"; then
    mount --bind /tmp "$dir/tmp"
    mount --make-private "$dir/tmp"
  fi
}

do_umount() {
  local m
  for m in $(mounts_inside); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  if [ -n "$(mounts_inside)" ]; then
    echo "still mounted:" >&2
    mounts_inside >&2
    exit 1
  fi
}

case ${1:-} in
  mount) do_mount ;;
  umount) do_umount ;;
  status) mounts_inside ;;
  *) echo "usage: $0 mount|umount|status [ROOT]" >&2; exit 2 ;;
esac
