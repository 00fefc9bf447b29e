#!/bin/bash
# Builds a Debian minbase root file system tarball (debootstrap --variant=minbase), the
# large image of the pull benchmark: bench/pull.py --base-tar OUT.tar.
#
# Usage (as root): make-minbase-image.sh OUT.tar [SUITE]
#
# INCLUDE=pkg1,pkg2 adds packages (debootstrap --include): INCLUDE=systemd makes the image
# the system tests boot systemd in (tests/system/test_395_systemd_container.py).
#
# SUITE defaults to this machine's Debian release; the mirror is the first deb line of
# /etc/apt/sources.list (or sources.list.d), else deb.debian.org. debootstrap is
# installed when missing (apt-get update first). Owners are numeric in the tarball.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 OUT.tar [SUITE]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "$0: run it as root (debootstrap needs it)" >&2; exit 2; }
out=$1
suite=${2:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
mirror=$(grep -hE '^deb (\[[^]]*\] )?https?://' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
         | grep -v security | head -n1 | sed -E 's/^deb (\[[^]]*\] )?//' | awk '{print $1}' || true)
if [ -z "$mirror" ] && [ -e /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase ${INCLUDE:+--include="$INCLUDE"} "$suite" "$work/root" "$mirror" >"$work/log" 2>&1 \
    || { tail -n 20 "$work/log" >&2; exit 1; }
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* 2>/dev/null || true
tar --numeric-owner -C "$work/root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
chmod 0644 "$out"
echo "$out: $(du -h "$out" | cut -f1) ($suite from $mirror)"
