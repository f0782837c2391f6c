#!/usr/bin/env bash
# The local accounts the desktop tests log in with (packages/testing/src/
# rdp-client.ts): lucidalice and lucidbob, with fixed passwords, each with a ~/.xsession that leaves
# proof of the desktop (its uid, in ~/desktop-proof.$DISPLAY) and runs openbox. Idempotent.
# Usage: test-accounts.sh [ROOT]   (ROOT: a Debian root to create them in, via chroot)
set -euo pipefail
root="${1:-}"
run() { if [ -n "$root" ]; then chroot "$root" "$@"; else "$@"; fi; }
for u in lucidalice lucidbob; do
  run id "$u" >/dev/null 2>&1 || run useradd -m -s /bin/bash "$u"
  echo "$u:Pw-$u-1" | run chpasswd
  home="$root/home/$u"
  cat > "$home/.xsession" <<'XS'
#!/bin/sh
id -u > "$HOME/desktop-proof.$DISPLAY"
exec openbox
XS
  chmod 755 "$home/.xsession"
  run chown "$u:$u" "/home/$u/.xsession"
done
