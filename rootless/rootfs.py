"""The container's view below its root: /proc, /sys, /dev and friends, masked and
read-only paths, and pivot_root.

The spec takes the first part (what is mounted where) from here on the host side, where
nothing is mounted: the mount code (mounts.py, syscalls.py) is imported by the steps that
mount, in the container's stage 1 and init.

Order matters: everything is mounted while host paths are still reachable
(device nodes are bound from the host's /dev, since a user namespace may not
mknod them), then pivot_root, then the paths that must be hidden are masked.
"""

from __future__ import annotations

import errno
import os

from ._ffi.numbers import MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC
from .errors import SyscallError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Sequence

    from .userns import IdMap

    from .syscalls import Syscalls

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (
    ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore"), ("ptmx", "pts/ptmx"),
)

DEFAULT_MASKED = (
    "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux",
    "/sys/dev/block",
)
DEFAULT_READONLY = (
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)

_NOSUID_NODEV_NOEXEC = MS_NOSUID | MS_NODEV | MS_NOEXEC


def tty_gid_mapped(gids: Sequence[IdMap]) -> bool:
    """Whether the tty group (gid 5) is mapped in a user namespace of these gid maps (devpts's
    gid=5 then)."""
    return any(m.container_id <= 5 < m.container_id + m.size for m in gids)


def default_mounts(tty_gid_mapped: bool, own_netns: bool, own_pidns: bool = True, ipc: str = "private",
                   shm_size: str = "65536k") -> list[dict[str, Any]]:
    """The kernel file systems every container gets, in OCI `mounts` form. own_pidns: a PID
    namespace the container owns (else its /proc is the host's, bound: procfs may only be
    mounted by the owner of the PID namespace); ipc: "private" (its own /dev/mqueue and a
    /dev/shm of shm_size), "none" (no /dev/shm), or "host" (the host's, bound where it has them)."""
    pts = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    if tty_gid_mapped:
        pts.append("gid=5")
    proc: dict[str, Any] = {"destination": "/proc", "type": "proc", "source": "proc",
                            "options": ["nosuid", "noexec", "nodev"]}
    if not own_pidns:
        proc = {"destination": "/proc", "type": "bind", "source": "/proc",
                "options": ["rbind", "nosuid", "noexec", "nodev"]}
    mounts: list[dict[str, Any]] = [
        proc,
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": pts},
    ]
    if ipc != "host":
        mounts.append({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                       "options": ["nosuid", "noexec", "nodev"]})
    elif os.path.isdir("/dev/mqueue"):
        mounts.append({"destination": "/dev/mqueue", "type": "bind", "source": "/dev/mqueue",
                       "options": ["rbind", "nosuid", "noexec", "nodev"]})
    if ipc == "private":
        mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                       "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]})
    elif ipc == "host" and os.path.isdir("/dev/shm"):
        mounts.append({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                       "options": ["rbind", "nosuid", "noexec", "nodev"]})
    if own_netns:
        mounts.append({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                       "options": ["nosuid", "noexec", "nodev", "ro"]})
    else:
        # sysfs can only be mounted by the owner of the network namespace; with
        # the host's network podman binds the host's /sys instead.
        mounts.append({"destination": "/sys", "type": "bind", "source": "/sys",
                       "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    return mounts


def populate_dev(sc: Syscalls, rootfs: str) -> None:
    """Bind the usual device nodes from the host and add /dev's symlinks."""
    from .mounts import ensure_target

    dev = os.path.join(rootfs, "dev")
    for name in DEVICES:
        target = os.path.join(dev, name)
        try:   # the tmpfs was mounted just now: the node's mount point is made in one call
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        except OSError:
            ensure_target(target, False)
        sc.mount(f"/dev/{name}", target, None, MS_BIND)
    for name, link in DEV_LINKS:
        try:
            os.symlink(link, os.path.join(dev, name))
        except FileExistsError:
            pass


def mount_all(sc: Syscalls, rootfs: str, mounts: list[dict[str, Any]], ready: Optional[dict[str, Any]] = None) -> None:
    """Mount every OCI mount below rootfs; /dev gets its nodes right after its tmpfs. ready:
    groups of these mounts made ahead below a scratch directory (child.mount_ahead), each
    bound into place with its mounts, in one call, where the spec's mounts from there on are
    the group's."""
    from .mounts import mount_one

    groups = ready["groups"] if ready else ()
    skip = 0
    for i, m in enumerate(mounts):
        if skip:
            skip -= 1
            continue
        group = next((g for g in groups if mounts[i:i + len(g)] == g), None)
        if group is not None:
            _move_ready(sc, rootfs, ready["scratch"], m["destination"])   # type: ignore[index]
            skip = len(group) - 1
            continue
        try:
            mount_one(sc, rootfs, m)
        except SyscallError as exc:
            if m["destination"] == "/sys" and exc.errno == errno.EPERM and m.get("type") == "sysfs":
                mount_one(sc, rootfs, {"destination": "/sys", "type": "bind", "source": "/sys",
                                       "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
                continue
            if m["destination"] == "/dev/mqueue" and exc.errno in (errno.EPERM, errno.EINVAL):
                continue  # sharing the host IPC namespace: no mqueue of our own
            raise
        if m["destination"] == "/dev" and m.get("type") == "tmpfs":
            populate_dev(sc, rootfs)


def _move_ready(sc: Syscalls, rootfs: str, scratch: str, destination: str) -> None:
    from .mounts import ensure_target, resolve_in_root

    dest = resolve_in_root(rootfs, destination)
    ensure_target(dest, True)
    # a recursive bind rather than a move: the copies are new mounts, listed in mountinfo in
    # the order the container's other mounts are (the root file system first), as without
    sc.mount(scratch + destination, dest, None, MS_BIND | MS_REC)


def pivot(sc: Syscalls, rootfs: str) -> None:
    """Make rootfs the root: pivot_root(".", ".") then detach the old root."""
    os.chdir(rootfs)
    sc.pivot_root(".", ".")
    sc.umount2(".", MNT_DETACH)
    os.chdir("/")


def mask_paths(sc: Syscalls, masked: list[str], readonly: list[str]) -> None:
    """After pivot_root: hide masked paths and make read-only ones so."""
    from .mounts import remount_readonly

    for path in masked:
        try:
            if os.path.isdir(path):
                sc.mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k,mode=000")
            elif os.path.exists(path):
                sc.mount("/dev/null", path, None, MS_BIND)
        except SyscallError:
            pass  # a path the kernel will not let us cover stays as it is, as in crun
    for path in readonly:
        if not os.path.exists(path):
            continue
        try:
            sc.mount(path, path, None, MS_BIND | MS_REC)
            remount_readonly(sc, path, _NOSUID_NODEV_NOEXEC)
        except SyscallError:
            pass


def readonly_root(sc: Syscalls) -> None:
    """--read-only: remount / read-only (after pivot_root)."""
    from .mounts import remount_readonly

    sc.mount("/", "/", None, MS_BIND | MS_REC)
    remount_readonly(sc, "/")


__all__ = ["default_mounts", "mount_all", "pivot", "mask_paths", "readonly_root"]
