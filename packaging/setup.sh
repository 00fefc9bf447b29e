#!/bin/bash
# Installs podpy on Debian 12 and runs its demo or its test suite as an unprivileged user.
#
# Usage (as root):
#   bash packaging/setup.sh demo
#   bash packaging/setup.sh test [extra pytest args...]
#
# Both modes install the Debian packages podpy needs, copy this source tree to
# /opt/podpy/src, (re)install it into the virtual environment /opt/podpy/venv
# (made from Debian's /usr/bin/python3), build the zipapp /opt/podpy/podpy.pyz
# and the busybox image /opt/podpy/images/busybox.tar, and prepare an
# unprivileged user the way a login session on a systemd machine would be
# prepared: subordinate id ranges, /run/user/<uid>, usable /dev/fuse and
# /dev/net/tun, and a delegated cgroup v2 subtree.
#
#   demo  prepares podpy-demo and runs packaging/demo.sh as that user.
#   test  runs tests/unit and tests/root as root, then tests/system as podpy-test.
#
# Running it again is safe and quicker: the virtual environment is reused.
set -euo pipefail

PREFIX=/opt/podpy
SRC=$PREFIX/src
VENV=$PREFIX/venv
IMAGE_TAR=$PREFIX/images/busybox.tar
SYSTEMD_TAR=$PREFIX/images/minbase-systemd.tar   # Debian minbase with systemd, for the --systemd tests
ZIPAPP=$PREFIX/podpy.pyz
SYSTEM_PYTHON=/usr/bin/python3
SUBID_COUNT=65536

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

BASE_PACKAGES=(
    python3 python3-venv python3-dev gcc git uidmap slirp4netns fuse-overlayfs
    fuse3 libfuse3-3 busybox-static iproute2 tini catatonit util-linux procps libseccomp2
    # /etc/containers/policy.json, the trust policy every registry pull is checked against (as
    # podman, podpy refuses to pull without one), and gpgv, which checks signatures
    golang-github-containers-common gpgv
)
OPTIONAL_PACKAGES=(passt)
# docker.io: the docker CLI the API service's tests drive (its dockerd is never started);
# openssh-client: ssh-agent and ssh-add for build --ssh's tests
TEST_PACKAGES=(podman runc docker-registry skopeo systemd tmux docker.io openssh-client)
# docker-compose (1.29, a Debian python3 application): the compose tests' client of the API service
TEST_PACKAGES+=(docker-compose)
# gnupg: gpg, which makes the signing tests' keys and signs (push --sign-by, image sign)
TEST_PACKAGES+=(gnupg)
# openssh-server: the sshd the remote tests start as the test user on 127.0.0.1 (ssh:// services)
TEST_PACKAGES+=(openssh-server)
# openssl: signs and verifies sigstore payloads in the sigstore tests, independently of podpy,
# and makes the keys of the encrypted-image tests (skopeo, above, encrypts the images)
TEST_PACKAGES+=(openssl)

log() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

usage() {
    cat >&2 <<'EOF'
usage: bash packaging/setup.sh demo
       bash packaging/setup.sh test [extra pytest args...]
Run as root on Debian 12.
EOF
    exit 2
}

# ---------------------------------------------------------------- packages --

CREATED_POLICY_RC=""
cleanup() {
    if [ -n "$CREATED_POLICY_RC" ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
}
trap cleanup EXIT

has_candidate() {
    local policy
    policy=$(apt-cache policy "$1" 2>/dev/null) || return 1
    [[ $policy == *"Candidate: "[!\(]* ]]
}

install_packages() {
    local mode=$1 pkg
    local packages=("${BASE_PACKAGES[@]}")
    [ "$mode" = test ] && packages+=("${TEST_PACKAGES[@]}")

    log "Installing Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    for pkg in "${OPTIONAL_PACKAGES[@]}"; do
        if has_candidate "$pkg"; then
            packages+=("$pkg")
        fi
    done
    # Packages such as docker-registry would start their service on
    # installation; keep them stopped, as in an image build.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# Temporary: no service starts while setup.sh installs packages.\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        CREATED_POLICY_RC=1
    fi
    apt-get install -y --no-install-recommends --no-upgrade -o Dpkg::Use-Pty=0 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${packages[@]}"
    cleanup
    CREATED_POLICY_RC=""
    # docker.io is here for its CLI only: its daemon must never start (not at boot, not through
    # its socket), or it would fight podpy and podman over the host's networking
    if [ "$mode" = test ] && command -v systemctl >/dev/null; then
        systemctl mask docker.service docker.socket >/dev/null 2>&1 || warn "could not mask docker.service"
    fi
}

# ----------------------------------------------------------- source + venv --

# Print the files to copy, NUL-separated, relative to $REPO.
list_source_files() {
    local f
    if command -v git >/dev/null 2>&1 &&
        git -c safe.directory='*' -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -c safe.directory='*' -C "$REPO" ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do
                # Deleted but still in the index: skip.
                if [ -e "$REPO/$f" ] || [ -L "$REPO/$f" ]; then
                    printf '%s\0' "$f"
                fi
            done
    else
        (cd "$REPO" && find . \
            \( -name .git -o -path ./build -o -path ./dist -o -name '*.egg-info' \
               -o -name __pycache__ -o -name .pytest_cache -o -name '*.pyz' \) -prune \
            -o \( -type f -o -type l \) -printf '%P\0')
    fi
}

copy_source() {
    log "Copying the source tree to $SRC"
    install -d -m 0755 "$PREFIX"
    local staging="$PREFIX/.src.new"
    rm -rf "$staging"
    mkdir -m 0755 "$staging"
    list_source_files |
        tar -C "$REPO" --null --files-from=- -cf - |
        tar -C "$staging" --no-same-owner -xf -
    chmod -R u+rwX,go+rX,go-w "$staging"
    rm -rf "$SRC"
    mv "$staging" "$SRC"
    note "$(find "$SRC" -type f | wc -l) files"
}

venv_is_usable() {
    [ -x "$VENV/bin/python" ] || return 1
    grep -qx 'home = /usr/bin' "$VENV/pyvenv.cfg" 2>/dev/null || return 1
    local want have
    want=$("$SYSTEM_PYTHON" -c 'import sys; print(sys.version)')
    have=$("$VENV/bin/python" -c 'import sys; print(sys.version)' 2>/dev/null) || return 1
    [ "$want" = "$have" ]
}

install_venv() {
    if venv_is_usable; then
        log "Reusing the virtual environment $VENV"
    else
        log "Creating the virtual environment $VENV"
        rm -rf "$VENV"
        "$SYSTEM_PYTHON" -m venv "$VENV"
    fi
    # The test extras (pyproject.toml's [test]) are the test-only Python packages: pytest,
    # pexpect, and kubernetes-validate, which checks `kube generate`'s YAML against
    # Kubernetes' schemas; docker (the Docker SDK) and podman-compose, clients of the API
    # service and of the CLI in the compose and SDK tests.
    log "Installing podpy (with test extras) and shiv into $VENV"
    local pip=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
    # pip always rebuilds and reinstalls a project given as a local directory,
    # even when its version did not change; other packages are kept.
    "${pip[@]}" install --progress-bar off -q shiv "${SRC}[test]"
    rm -rf "$SRC/build" "$SRC"/*.egg-info
    write_launcher
    write_pack
    note "$("$VENV/bin/python" -m pip --disable-pip-version-check show podpy | sed -n 's/^Version: /podpy /p')"
}

# podpy's modules compiled into one file beside the package (packaging/build_pack.py): a
# command imports them from it without Python's per-module search and .pyc reads.
write_pack() {
    local purelib
    purelib=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    note "$("$VENV/bin/python" "$SRC/packaging/build_pack.py" "$purelib")"
}

# pip's console script imports re and starts Python with the site module, whose
# .pth processing costs a few milliseconds at every command; podpy needs neither
# (it is a plain package in site-packages, and PYTHONPATH still works), so its
# command starts with -S and puts site-packages on the path itself.
write_launcher() {
    local purelib tmp=$VENV/bin/.podpy.tmp
    purelib=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    cat > "$tmp" <<EOF
#!$VENV/bin/python -S
import sys
sys.path.append("$purelib")
from podpy.__main__ import main
main()
EOF
    chmod 0755 "$tmp"
    mv -f "$tmp" "$VENV/bin/podpy"
}

build_zipapp() {
    log "Building $ZIPAPP"
    "$VENV/bin/python" "$SRC/packaging/build_zipapp.py" \
        --spec "$SRC/zipapp.spec" --out "$PREFIX" "$SRC"
}

# podpy-auto-update.service and .timer, as podman ships podman-auto-update's, in the user
# and the system unit directories, with the launcher's path in ExecStart: a user turns the
# daily update on with `systemctl --user enable --now podpy-auto-update.timer`.
install_systemd_units() {
    local dir
    log "Installing podpy-auto-update.service and .timer"
    for dir in /usr/lib/systemd/user /usr/lib/systemd/system; do
        install -d -m 0755 "$dir"
        sed "s|@PODPY@|$VENV/bin/podpy|g" "$SRC/packaging/systemd/podpy-auto-update.service.in" \
            >"$dir/podpy-auto-update.service.tmp"
        chmod 0644 "$dir/podpy-auto-update.service.tmp"
        mv -f "$dir/podpy-auto-update.service.tmp" "$dir/podpy-auto-update.service"
        install -m 0644 "$SRC/packaging/systemd/podpy-auto-update.timer" "$dir/podpy-auto-update.timer"
        note "$dir/podpy-auto-update.service, podpy-auto-update.timer"
    done
}

# The Quadlet generator: systemd runs every program in its generator directories at boot and
# at each daemon-reload; podpy run under the name podpy-user-generator (or
# podpy-system-generator) is the generator (podpy/__main__.py looks at its name), and the
# units it writes run that same podpy. Users' units wait for the network through a user
# service of ours (packaging/systemd/), as podman 5.3's do through its own.
SYSTEMD_LIB=/usr/lib/systemd
install_systemd_files() {
    log "Installing the Quadlet generator and its user service"
    install -d -m 0755 "$SYSTEMD_LIB/user-generators" "$SYSTEMD_LIB/system-generators" "$SYSTEMD_LIB/user"
    ln -sfn "$VENV/bin/podpy" "$SYSTEMD_LIB/user-generators/podpy-user-generator"
    ln -sfn "$VENV/bin/podpy" "$SYSTEMD_LIB/system-generators/podpy-system-generator"
    install -m 0644 "$SRC/packaging/systemd/podpy-user-wait-network-online.service" "$SYSTEMD_LIB/user/"
    install -d -m 0755 /etc/podpy/systemd/users
    note "$SYSTEMD_LIB/user-generators/podpy-user-generator, $SYSTEMD_LIB/system-generators/podpy-system-generator"
}

build_image() {
    log "Building the busybox image $IMAGE_TAR"
    install -d -m 0755 "$(dirname "$IMAGE_TAR")"
    bash "$SRC/packaging/make-busybox-image.sh" "$IMAGE_TAR"
}

# A Debian minbase with systemd in it: built once (debootstrap from the mirror), then kept.
build_systemd_image() {
    [ -s "$SYSTEMD_TAR" ] && return
    log "Building the Debian systemd image $SYSTEMD_TAR (once)"
    install -d -m 0755 "$(dirname "$SYSTEMD_TAR")"
    INCLUDE=systemd bash "$SRC/packaging/make-minbase-image.sh" "$SYSTEMD_TAR" \
        || warn "no systemd image: the --systemd boot tests will say they cannot run"
}

# ------------------------------------------------------------------- users --

ensure_user() {
    local user=$1
    if ! id -u "$user" >/dev/null 2>&1; then
        log "Creating user $user"
        useradd --create-home --user-group --shell /bin/bash \
            --comment "podpy unprivileged user" "$user"
    fi
    local home group
    home=$(getent passwd "$user" | cut -d: -f6)
    group=$(id -gn "$user")
    if [ ! -d "$home" ]; then
        mkdir -p "$home"
        cp -rT /etc/skel "$home" 2>/dev/null || true
        chown -R "$user:$group" "$home"
        chmod 0750 "$home"
    fi
}

# ensure_subids USER FILE: give USER a 65536-id range in FILE unless it has one.
ensure_subids() {
    local user=$1 file=$2 uid have start
    uid=$(id -u "$user")
    touch "$file"
    chmod 0644 "$file"
    # Ids the user already owns, by name or by number.
    have=$(awk -F: -v u="$user" -v id="$uid" \
        '($1 == u || $1 == id) && $3 ~ /^[0-9]+$/ { n += $3 } END { print n + 0 }' "$file")
    if [ "$have" -ge "$SUBID_COUNT" ]; then
        note "$file: $user already owns $have ids"
        return
    fi
    # First id past every existing range (and not below Debian's SUB_UID_MIN).
    start=$(awk -F: 'BEGIN { next_free = 100000 }
        $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ && $2 + $3 > next_free { next_free = $2 + $3 }
        END { print next_free }' "$file")
    local end=$((start + SUBID_COUNT - 1))
    if [ "$file" = /etc/subuid ]; then
        usermod --add-subuids "$start-$end" "$user"
    else
        usermod --add-subgids "$start-$end" "$user"
    fi
    note "$file: gave $user ids $start-$end"
}

# What logind does at login: a private runtime directory.
ensure_runtime_dir() {
    local user=$1 uid group dir
    uid=$(id -u "$user")
    group=$(id -gn "$user")
    dir=/run/user/$uid
    install -d -m 0755 /run/user
    if [ -d "$dir" ] && ! pgrep -u "$uid" >/dev/null 2>&1; then
        # No process of the user is left: start afresh, as after a logout.
        find "$dir" -mindepth 1 -delete 2>/dev/null || rm -rf "${dir:?}"/* 2>/dev/null || true
    fi
    mkdir -p "$dir"
    # A tmpfs of the user's, as systemd-logind mounts it at a login (RuntimeDirectorySize=10%):
    # runtime files are memory, not disk. Where no tmpfs can be mounted, the directory serves.
    if ! mountpoint -q "$dir"; then
        mount -t tmpfs -o "mode=0700,uid=$uid,gid=$(id -g "$user"),size=10%,nosuid,nodev" tmpfs "$dir" 2>/dev/null ||
            warn "could not mount a tmpfs on $dir; using the directory"
    fi
    chown "$user:$group" "$dir"
    chmod 0700 "$dir"
    note "XDG_RUNTIME_DIR=$dir ($(stat -f -c %T "$dir"))"
}

fix_device_modes() {
    local dev
    for dev in /dev/fuse /dev/net/tun; do
        if [ -c "$dev" ]; then
            chmod 0666 "$dev"
            note "$dev: mode 0666"
        else
            warn "$dev does not exist; features that need it will not work"
        fi
    done
}

cgroup2_mount_point() {
    # mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
        /proc/self/mountinfo
}

# Like systemd's Delegate=yes: the user may manage the subtree below SLICE.
CGROUP_SLICE=""
delegate_cgroup() {
    local user=$1 group mnt ctrl available
    group=$(id -gn "$user")
    CGROUP_SLICE=""
    mnt=$(cgroup2_mount_point)
    if [ -z "$mnt" ]; then
        warn "no cgroup2 file system is mounted; cgroups are not delegated"
        return
    fi
    # Make the available controllers usable below the mount point, as systemd
    # does at boot; a cgroup that holds processes refuses, which is harmless.
    available=()
    read -r -a available <"$mnt/cgroup.controllers" || true
    for ctrl in "${available[@]}"; do
        grep -qw "$ctrl" "$mnt/cgroup.subtree_control" 2>/dev/null ||
            echo "+$ctrl" >"$mnt/cgroup.subtree_control" 2>/dev/null || true
    done
    CGROUP_SLICE=$mnt/podpy-$user.slice
    make_slice "$user" "$group"
    note "delegated $CGROUP_SLICE (controllers: $(cat "$CGROUP_SLICE/cgroup.controllers"))"
}

# make_slice USER GROUP: the delegated cgroup, made anew when no process is left in it. A
# cgroup counts the cgroup.kill writes that reached it, and some kernels (6.18 among them)
# kill a child that clone3 starts in a cgroup whose count differs from its parent's; podpy
# then forks its containers' inits the ordinary way and moves them, which costs every start
# a grace period of the kernel's. A new slice starts at zero, as a user's session does.
make_slice() {
    local user=$1 group=$2
    if [ -d "$CGROUP_SLICE" ] &&
        [ -z "$(find "$CGROUP_SLICE" -name cgroup.procs -exec cat {} + 2>/dev/null)" ]; then
        find "$CGROUP_SLICE" -depth -type d -exec rmdir {} + 2>/dev/null || true
    fi
    mkdir -p "$CGROUP_SLICE"
    chown "$user:$group" "$CGROUP_SLICE" "$CGROUP_SLICE/cgroup.procs" \
        "$CGROUP_SLICE/cgroup.subtree_control" "$CGROUP_SLICE/cgroup.threads"
}

# Kill whatever a finished run left behind in the delegated cgroup.
reap_cgroup() {
    [ -n "$CGROUP_SLICE" ] && [ -d "$CGROUP_SLICE" ] || return 0
    local left
    left=$(find "$CGROUP_SLICE" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un | tr '\n' ' ')
    [ -n "${left// /}" ] || return 0
    warn "processes left in $CGROUP_SLICE after the run: $left- stopping them"
    ps -o pid=,user=,args= -p "${left// /,}" 2>/dev/null | sed 's/^/    /' >&2 || true
    if [ -e "$CGROUP_SLICE/cgroup.kill" ]; then
        echo 1 >"$CGROUP_SLICE/cgroup.kill" || true
    else
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
    fi
    # once they are gone, a fresh slice for whatever runs next (make_slice)
    local owner tries=50
    owner=$(stat -c %U:%G "$CGROUP_SLICE")
    while [ $tries -gt 0 ] && [ -n "$(find "$CGROUP_SLICE" -name cgroup.procs -exec cat {} + 2>/dev/null)" ]; do
        sleep 0.1
        tries=$((tries - 1))
    done
    make_slice "${owner%%:*}" "${owner##*:}"
}

configure_podman() {
    local user=$1 home group dir
    home=$(getent passwd "$user" | cut -d: -f6)
    group=$(id -gn "$user")
    dir=$home/.config/containers
    mkdir -p "$dir"
    chown "$user:$group" "$home/.config" "$dir"
    cat >"$dir/containers.conf" <<'EOF'
# Written by podpy's packaging/setup.sh: podman is only a reference for the
# benchmarks.  Debian's podman 4.3 needs runc here, and without systemd it
# must manage cgroups itself and log events to a file.
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
    chown "$user:$group" "$dir/containers.conf"
    chmod 0644 "$dir/containers.conf"
    note "$dir/containers.conf: runtime runc"
}

prepare_user() {
    local user=$1
    log "Preparing the unprivileged user $user"
    ensure_user "$user"
    ensure_subids "$user" /etc/subuid
    ensure_subids "$user" /etc/subgid
    ensure_runtime_dir "$user"
    fix_device_modes
    delegate_cgroup "$user"
}

# run_as USER DIR [VAR=VALUE...] -- COMMAND...: run COMMAND as USER in DIR
# with a clean environment, inside the delegated cgroup.
run_as() {
    local user=$1 dir=$2 uid home
    shift 2
    local extra_env=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        extra_env+=("$1")
        shift
    done
    [ "${1:-}" = -- ] && shift
    uid=$(id -u "$user")
    home=$(getent passwd "$user" | cut -d: -f6)
    (
        if [ -n "$CGROUP_SLICE" ]; then
            echo "$BASHPID" >"$CGROUP_SLICE/cgroup.procs" ||
                warn "could not move into $CGROUP_SLICE"
        fi
        cd "$dir"
        exec runuser -u "$user" -- env -i \
            HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash \
            XDG_RUNTIME_DIR="/run/user/$uid" \
            PATH="$VENV/bin:/usr/bin:/bin" LANG=C.UTF-8 \
            ${CI:+CI="$CI"} \
            "${extra_env[@]}" "$@"
    )
}

# ------------------------------------------------------------------- tests --

FAILED=()

has_test_files() {
    [ -d "$1" ] && [ -n "$(find "$1" \( -name 'test_*.py' -o -name '*_test.py' \) -print -quit)" ]
}

# record_result LABEL DIR RC: remember failures; pytest's 5 is "no tests collected".
record_result() {
    local label=$1 dir=$2 rc=$3
    case $rc in
    0) note "$label: passed" ;;
    5)
        if ! has_test_files "$dir"; then
            note "$label: no tests collected (pytest exit 5): $dir has no tests yet; counted as a pass"
        elif [ "$EXTRA_ARGS_GIVEN" = 1 ]; then
            note "$label: no tests collected (pytest exit 5): the extra arguments selected none; counted as a pass"
        else
            note "$label: pytest collected no tests (exit 5) although $dir has test files"
            FAILED+=("$label (no tests collected)")
        fi
        ;;
    124 | 137) FAILED+=("$label (stopped: over its time limit)") ;;
    *) FAILED+=("$label (pytest exit $rc)") ;;
    esac
}

PYTEST_OPTS=(-q -rfEs -p no:cacheprovider)

# Each pytest run gets its own temporary base directory, made fresh and removed
# afterwards, so that nothing an earlier or interrupted run left behind (a file
# owned by a subordinate id, a tmpfs a test mounted) can fail a later run.
# new_basetemp LABEL [OWNER] prints the directory.
new_basetemp() {
    local dir
    # Lower case only: podman names an image loaded from a directory after its
    # path, and a reference with an upper-case letter is invalid, so a test
    # comparing with podman would fail on mktemp's mixed-case suffix.
    dir=/tmp/podpy-$1-tests.$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    mkdir -m 0700 "$dir" || die "could not make $dir"
    if [ -n "${2:-}" ]; then
        chown "$2:" "$dir"
    fi
    chmod 0700 "$dir"
    echo "$dir"
}

# drop_basetemp DIR: unmount whatever is still mounted beneath DIR (deepest
# first, lazily, as a killed test may still hold it) and remove the tree.
drop_basetemp() {
    local dir=$1 target
    [ -d "$dir" ] || return 0
    awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r target; do
            umount -l "$target" 2>/dev/null || warn "could not unmount $target"
        done
    rm -rf "$dir" || warn "could not remove $dir"
}
EXTRA_ARGS_GIVEN=0
# Time limits for each pytest run, so that a hung test still ends with a report.
UNIT_TIMEOUT=${PODPY_UNIT_TEST_TIMEOUT:-15m}
SYSTEM_TIMEOUT=${PODPY_SYSTEM_TEST_TIMEOUT:-60m}

run_unit_tests() {
    local dir=$SRC/tests/unit rc=0
    log "Unit tests (as root): $dir"
    if [ ! -d "$dir" ]; then
        note "unit tests: $dir does not exist yet; nothing to run"
        return
    fi
    local tmp
    tmp=$(new_basetemp unit)
    (cd "$SRC" && PATH="$VENV/bin:$PATH" PYTHONDONTWRITEBYTECODE=1 \
        timeout --kill-after=30s "$UNIT_TIMEOUT" \
        "$VENV/bin/python" -m pytest "${PYTEST_OPTS[@]}" --basetemp="$tmp/t" "$dir" "$@") || rc=$?
    drop_basetemp "$tmp"
    record_result "unit tests" "$dir" "$rc"
}

# The system tests spend most of their time waiting on containers, registries and
# timeouts, not on the processors: several pytest processes share one run
# (tests/system/workqueue.py), each taking the next file's tests as it becomes
# free, with its own runtime directory and temporary directory. Their outputs are
# shown one after the other when all have ended.
SYSTEM_JOBS=${PODPY_SYSTEM_TEST_JOBS:-3}

run_system_tests() {
    local user=$1
    shift
    local dir=$SRC/tests/system
    log "System tests (as $user, $SYSTEM_JOBS processes sharing the run): $dir"
    if [ ! -d "$dir" ]; then
        note "system tests: $dir does not exist yet; nothing to run"
        return
    fi
    case $SYSTEM_JOBS in
    '' | *[!0-9]* | 0) die "PODPY_SYSTEM_TEST_JOBS must be a positive number (got '$SYSTEM_JOBS')" ;;
    esac
    # The tests leave files owned by subordinate ids, which the user cannot
    # delete; root removes the whole base directory afterwards.
    local tmp runtime job pids=() rcs=() started
    tmp=$(new_basetemp system "$user")
    # The runtime directories have short paths: sockets under them must stay
    # within the 107 bytes a unix socket's path may have.
    runtime=/tmp/pprt.$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
    mkdir -m 0755 "$runtime" || die "could not make $runtime"
    install -d -m 0700 -o "$user" "$tmp/queue"
    started=$(date +%s)
    for job in $(seq 1 "$SYSTEM_JOBS"); do
        install -d -m 0700 -o "$user" "$runtime/$job" "$tmp/t$job"
        run_as "$user" "$SRC" \
            XDG_RUNTIME_DIR="$runtime/$job" PODPY_TEST_QUEUE="$tmp/queue" \
            PODPY_TEST_IMAGE_TAR="$IMAGE_TAR" PODPY_TEST_SYSTEMD_TAR="$SYSTEMD_TAR" PODPY_ZIPAPP="$ZIPAPP" \
            PYTHONDONTWRITEBYTECODE=1 -- \
            timeout --kill-after=30s "$SYSTEM_TIMEOUT" "$VENV/bin/python" -m pytest "${PYTEST_OPTS[@]}" \
            --durations=10 --basetemp="$tmp/t$job/t" "$dir" "$@" >"$tmp/log$job" 2>&1 &
        pids+=("$!")
    done
    for job in $(seq 1 "$SYSTEM_JOBS"); do
        rcs[job]=0
        wait "${pids[job - 1]}" || rcs[job]=$?
    done
    for job in $(seq 1 "$SYSTEM_JOBS"); do
        log "System tests, process $job of $SYSTEM_JOBS (exit ${rcs[job]})"
        cat "$tmp/log$job"
    done
    note "system tests: $(($(date +%s) - started)) s for the whole run"
    reap_cgroup
    drop_basetemp "$tmp"
    drop_basetemp "$runtime"
    for job in $(seq 1 "$SYSTEM_JOBS"); do
        record_result "system tests ($job/$SYSTEM_JOBS)" "$dir" "${rcs[job]}"
    done
}

# Tests that need root: rootful podpy, and a user with no subordinate ids
# (made here, with any range Debian's useradd gave it removed).
run_root_tests() {
    local dir=$SRC/tests/root rc=0
    log "Root tests (as root): $dir"
    ensure_user podpy-nosub
    local uid
    uid=$(id -u podpy-nosub)
    sed -i -e "/^podpy-nosub:/d" -e "/^$uid:/d" /etc/subuid /etc/subgid
    local tmp
    tmp=$(new_basetemp root)
    (cd "$SRC" && PATH="$VENV/bin:$PATH" PYTHONDONTWRITEBYTECODE=1 PODPY_TEST_IMAGE_TAR="$IMAGE_TAR" \
        timeout --kill-after=30s "$UNIT_TIMEOUT" \
        "$VENV/bin/python" -m pytest "${PYTEST_OPTS[@]}" --basetemp="$tmp/t" "$dir" "$@") || rc=$?
    drop_basetemp "$tmp"
    record_result "root tests" "$dir" "$rc"
}

# -------------------------------------------------------------------- main --

common_install() {
    install_packages "$1"
    copy_source
    install_venv
    install_systemd_files
    build_zipapp
    install_systemd_units
    build_image
    chmod -R a+rX "$PREFIX"
}

main() {
    [ $# -ge 1 ] || usage
    local mode=$1
    shift
    case $mode in
    demo | test) ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
    [ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo bash packaging/setup.sh $mode)"
    [ -r /etc/debian_version ] || warn "this does not look like Debian; continuing anyway"

    common_install "$mode"

    case $mode in
    demo)
        [ $# -eq 0 ] || die "demo takes no arguments"
        prepare_user podpy-demo
        log "Running the demo as podpy-demo"
        run_as podpy-demo "$(getent passwd podpy-demo | cut -d: -f6)" \
            PODPY_DEMO_IMAGE="$IMAGE_TAR" -- bash "$SRC/packaging/demo.sh"
        ;;
    test)
        [ $# -eq 0 ] || EXTRA_ARGS_GIVEN=1
        run_unit_tests "$@"
        # The root tests use the test user too (doctor's checks, a full disk): it is
        # prepared first, on a fresh machine as on one that has it already.
        prepare_user podpy-test
        configure_podman podpy-test
        run_root_tests "$@"
        build_systemd_image
        run_system_tests podpy-test "$@"
        log "Summary"
        if [ ${#FAILED[@]} -gt 0 ]; then
            printf '    FAILED: %s\n' "${FAILED[@]}"
            exit 1
        fi
        note "all test runs passed"
        ;;
    esac
}

main "$@"
