#!/bin/bash
# Builds the minimal busybox root filesystem tarball used as podpy's default demo/test image.
#
# Usage: make-busybox-image.sh OUT.tar
#
# The image holds Debian's static busybox with one symlink per applet in /bin,
# a small /etc/passwd and /etc/group (root, tester 1000, group extra 1001 with
# member tester, nobody/nogroup 65534), /tmp (1777), /root and /home/tester.
# Owners are recorded numerically and every mtime is fixed, so two builds from
# the same busybox binary give byte-identical tarballs.
#
# Run it as root.  As an ordinary user it re-runs itself inside a user
# namespace (unshare --map-root-user --map-auto, which needs newuidmap and a
# subordinate id range) so that the files can still get their owners.
#
# Environment: BUSYBOX (default /bin/busybox) picks the binary,
# SOURCE_DATE_EPOCH (default 2024-01-01T00:00:00Z) the timestamp.
set -euo pipefail

usage() { echo "usage: $0 OUT.tar" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$1" in -h|--help) usage ;; esac

out=$1
busybox=${BUSYBOX:-/bin/busybox}
epoch=${SOURCE_DATE_EPOCH:-1704067200}

if [ "$(id -u)" -ne 0 ]; then
    if [ -n "${PODPY_IMAGE_IN_USERNS:-}" ]; then
        echo "$0: still not root inside the user namespace" >&2
        exit 1
    fi
    unshare_help=$(unshare --help 2>/dev/null || true)
    if [[ $unshare_help != *--map-auto* ]]; then
        echo "$0: must run as root (or with an unshare that supports --map-auto)" >&2
        exit 1
    fi
    # Resolve the output path now: the namespace keeps the working directory,
    # but a relative path is clearer in messages.
    case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
    exec env PODPY_IMAGE_IN_USERNS=1 unshare --user --map-root-user --map-auto \
        bash "$0" "$out"
fi

if [ ! -x "$busybox" ]; then
    echo "$0: $busybox not found (install Debian's busybox-static)" >&2
    exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
    echo "$0: $busybox is dynamically linked; a static busybox is needed" >&2
    exit 1
fi

umask 022
work=$(mktemp -d "${TMPDIR:-/tmp}/busybox-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

mkdir -p "$root"/{bin,dev,etc,home/tester,proc,root,sys,tmp,usr/bin}
chmod 0755 "$root" "$root"/{bin,dev,etc,home,home/tester,proc,sys,usr,usr/bin}
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"

install -m 0755 "$busybox" "$root/bin/busybox"
# One symlink per applet; names such as "[" and "[[" are fine as file names.
"$busybox" --list | LC_ALL=C sort -u | while IFS= read -r applet; do
    case "$applet" in ""|busybox|*/*) continue ;; esac
    ln -s busybox "$root/bin/$applet"
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
tester:x:1000:
extra:x:1001:tester
nogroup:x:65534:
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group"

chown -R -h 0:0 "$root"
chown 1000:1000 "$root/home/tester"

# Fixed owners, order and times make the archive reproducible.
mkdir -p "$(dirname "$out")"
tmp_out="$out.tmp.$$"
(cd "$root" && LC_ALL=C ls -A) | tr '\n' '\0' |
    tar -C "$root" --null --files-from=- \
        --create --file="$tmp_out" \
        --format=gnu --numeric-owner --sort=name \
        --mtime="@$epoch" --no-acls --no-xattrs --no-selinux
mv -f "$tmp_out" "$out"
chmod 0644 "$out"
echo "wrote $out ($(wc -c <"$out") bytes, $("$busybox" --list | wc -l) applets)"
