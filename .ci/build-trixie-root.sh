#!/usr/bin/env bash
# Builds a Debian trixie root at .tools/trixie with xrdp 0.10.x, xorgxrdp, openbox and trixie's
# nodejs, for tests that run xrdp 0.10 in a chroot (the host is bookworm: xrdp 0.9.21).
# Idempotent: does nothing when the marker .tools/trixie/.lucid-root-complete exists. A partial
# root (no marker) is removed and built again, but never while anything is mounted inside it.
#
# Also creates the test accounts lucidalice and lucidbob inside the root (passwords
# Pw-lucidalice-1, Pw-lucidbob-1), each with an executable ~/.xsession that writes `id -u` to
# $HOME/desktop-proof.$DISPLAY and then runs openbox.
#
# Mounts needed to run xrdp in the root: .ci/trixie-chroot-mounts.sh.
# Takes 1.5-3 minutes from deb.debian.org on 2 cores (95 s and 189 s measured); the root is
# about 900 MB (281 packages: xrdp 0.10.1, xorgxrdp 0.10.2, Xorg 21.1.16, nodejs 20.19.2).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.tools/trixie"
marker="$dir/.lucid-root-complete"
# The mirror apt uses on this machine (/etc/apt/sources.list.d/debian.sources).
mirror=${TRIXIE_MIRROR:-http://deb.debian.org/debian}
# The root also gets mount(8) and unshare(1) (util-linux, pulled in by these), so mount
# namespaces can be made inside it as well as from the host.
packages=xrdp,xorgxrdp,nodejs,openbox,dbus-x11,xauth,procps,iproute2

if [ -f "$marker" ]; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "build-trixie-root: must run as root (debootstrap, chroot)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  echo "build-trixie-root: debootstrap missing (apt-get install -y debootstrap)" >&2
  exit 1
}

mounted_inside() {
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' \
    /proc/self/mountinfo
}

start=$SECONDS

# debootstrap removes $dir/debootstrap when it finishes, so its presence means an interrupted run.
if [ -d "$dir" ] && { [ -d "$dir/debootstrap" ] || [ ! -x "$dir/usr/sbin/xrdp" ]; }; then
  if mounted_inside; then
    echo "build-trixie-root: $dir is incomplete but has mounts inside; unmount them first" \
      "(.ci/trixie-chroot-mounts.sh umount)" >&2
    exit 1
  fi
  rm -rf --one-file-system "$dir"
fi

if [ ! -d "$dir" ]; then
  mkdir -p "$(dirname "$dir")"
  debootstrap --variant=minbase --include="$packages" trixie "$dir" "$mirror"
fi

in_root() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root chroot "$dir" "$@"
}

for user in lucidalice lucidbob; do
  if ! in_root id -u "$user" >/dev/null 2>&1; then
    in_root useradd --create-home --shell /bin/bash "$user"
  fi
  printf '%s:Pw-%s-1\n' "$user" "$user" | in_root chpasswd
  # Written from the host; the home directory belongs to the user inside the root.
  cat > "$dir/home/$user/.xsession" <<'EOF'
#!/bin/sh
id -u > "$HOME/desktop-proof.$DISPLAY"
exec openbox
EOF
  chmod 0755 "$dir/home/$user/.xsession"
  in_root chown "$user:$user" "/home/$user/.xsession"
done

in_root xrdp --version | head -1
in_root node --version
touch "$marker"
echo "build-trixie-root: $dir ready in $((SECONDS - start)) s"
