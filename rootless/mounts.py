"""Mounts: OCI mount options, destinations resolved inside the rootfs, and the
rootfs itself (kernel overlay, fuse-overlayfs or a bind of a copied tree).

Every destination is resolved as if the rootfs were `/`: a symlink in the image
(say `/etc -> /home/user`) can never make a bind mount land on a host path.
"""

from __future__ import annotations

import _signal
import errno
import os
import stat
import time

from . import syscalls as S
from .errors import SetupError, SyscallError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

# OCI option -> (flags to set, flags to clear)
_FLAGS: dict[str, tuple[int, int]] = {
    "ro": (S.MS_RDONLY, 0), "rw": (0, S.MS_RDONLY),
    "nosuid": (S.MS_NOSUID, 0), "suid": (0, S.MS_NOSUID),
    "nodev": (S.MS_NODEV, 0), "dev": (0, S.MS_NODEV),
    "noexec": (S.MS_NOEXEC, 0), "exec": (0, S.MS_NOEXEC),
    "noatime": (S.MS_NOATIME, 0), "strictatime": (S.MS_STRICTATIME, 0),
    "bind": (S.MS_BIND, 0), "rbind": (S.MS_BIND | S.MS_REC, 0),
}
_PROPAGATION = {
    "private": S.MS_PRIVATE, "rprivate": S.MS_PRIVATE | S.MS_REC,
    "slave": S.MS_SLAVE, "rslave": S.MS_SLAVE | S.MS_REC,
}
# podpy's own option words that are not kernel options.
_IGNORED = {"z", "Z", "U", "copy", "nocopy", "notmpcopyup", "tmpcopyup", "relatime", "defaults"}

# statvfs flag bits -> mount flags, to carry locked flags into a remount.
_ST_TO_MS = ((os.ST_NOSUID, S.MS_NOSUID), (os.ST_NODEV, S.MS_NODEV),
             (os.ST_NOEXEC, S.MS_NOEXEC), (os.ST_NOATIME, S.MS_NOATIME))


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """OCI mount options -> (flags, propagation flags, data string)."""
    flags = 0
    prop = 0
    data: list[str] = []
    for opt in options:
        if opt in _FLAGS:
            on, off = _FLAGS[opt]
            flags = (flags | on) & ~off
        elif opt in _PROPAGATION:
            prop |= _PROPAGATION[opt]
        elif opt in _IGNORED:
            continue
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def resolve_in_root(root: str, path: str, *, follow_last: bool = True) -> str:
    """The host path of `path` inside `root`, following symlinks inside root only."""
    root = os.path.abspath(root)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode) and (parts or follow_last):
            hops += 1
            if hops > 40:
                raise SetupError(f"too many levels of symbolic links in `{path}`")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def ensure_target(path: str, is_dir: bool) -> None:
    """Create the mount point (directory or empty file) with its parents."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        os.makedirs(path if is_dir else os.path.dirname(path), mode=0o755, exist_ok=True)
        if not is_dir:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        return
    if is_dir and not stat.S_ISDIR(st.st_mode):
        raise SetupError(f"mount destination `{path}` exists and is not a directory")


def remount_readonly(sc: S.Syscalls, target: str, extra: int = 0) -> None:
    """Make a bind mount read-only, keeping the flags the kernel locked on it."""
    flags = S.MS_REMOUNT | S.MS_BIND | S.MS_RDONLY | extra
    try:
        st = os.statvfs(target)
        for st_bit, ms_bit in _ST_TO_MS:
            if st.f_flag & st_bit:
                flags |= ms_bit
    except OSError:
        pass
    sc.mount(None, target, None, flags)


def _copy_up(src: str, dst: str) -> None:
    """A volume's first use: what the image has at the mount point, into the (empty) volume,
    with owners, modes and times (we are root in the container's user namespace)."""
    for entry in os.scandir(src):
        s, d = entry.path, os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(d, stat.S_IMODE(st.st_mode))
            _copy_up(s, d)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(s), d)
        elif stat.S_ISREG(st.st_mode):
            with open(s, "rb") as fin, open(d, "wb") as fout:
                while True:
                    chunk = fin.read(1 << 20)
                    if not chunk:
                        break
                    fout.write(chunk)
            os.chmod(d, stat.S_IMODE(st.st_mode))
        else:
            continue   # devices, fifos and sockets stay in the image
        os.lchown(d, st.st_uid, st.st_gid)
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _chown_tree(path: str, uid: int, gid: int) -> None:
    """`:U`: the mount's source, and everything in it, owned by the container's user."""
    os.lchown(path, uid, gid)
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(dirpath, name), uid, gid)


def _open_image_dir(path: str) -> int:
    """The image's directory at a mount point, held open so that its content can still be
    read once a tmpfs covers it (-1: the image has none)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return -1


def _copy_up_below(fd: int, dest: str, shown: str, copy: bool, take_meta: bool) -> None:
    """A tmpfs volume's first mount: the image's directory (fd, opened before the mount
    covered it) copied into the tmpfs (copy), which takes its owner, mode and times (take_meta)."""
    src = f"/proc/self/fd/{fd}"   # the covered directory itself, not what is mounted over it
    try:
        if copy:
            _copy_up(src, dest)
        if not take_meta:
            return
        st = os.fstat(fd)
        os.lchown(dest, st.st_uid, st.st_gid)
        os.chmod(dest, stat.S_IMODE(st.st_mode))
        os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
    except OSError as exc:
        raise SetupError(f"copying the image's {shown} into its volume: {exc}") from exc


def _first_owner(rootfs: str, destination: str, source: str, uid: int, gid: int) -> None:
    """A volume's first mount (still empty): it takes the owner, mode and times of the
    image's directory at the mount point, or, where the image has none, the container's user."""
    if not os.path.isdir(source) or os.listdir(source):
        return
    try:
        st = os.stat(resolve_in_root(rootfs, destination))
    except FileNotFoundError:
        os.lchown(source, uid, gid)
        return
    if stat.S_ISDIR(st.st_mode):
        os.lchown(source, st.st_uid, st.st_gid)
        os.chmod(source, stat.S_IMODE(st.st_mode))
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))


def _prepare_source(rootfs: str, m: dict[str, Any], options: list[str]) -> None:
    """podpy's own bind options: `podpy.firstuse=UID:GID` (a new volume's owner),
    `podpy.copyup` (fill an empty volume from the image) and `podpy.chown=UID:GID` (`:U`)."""
    source = m["source"]
    for opt in options:
        if opt.startswith("podpy.firstuse="):
            uid, _, gid = opt.partition("=")[2].partition(":")
            try:
                _first_owner(rootfs, m["destination"], source, int(uid), int(gid))
            except OSError as exc:
                raise SetupError(f"giving the volume at {m['destination']} its owner: {exc}") from exc
    if "podpy.copyup" in options:
        try:
            image_dir = resolve_in_root(rootfs, m["destination"])
            if os.path.isdir(image_dir) and os.path.isdir(source) and not os.listdir(source):
                _copy_up(image_dir, source)
        except OSError as exc:
            raise SetupError(f"copying the image's {m['destination']} into its volume: {exc}") from exc
    for opt in options:
        if opt.startswith("podpy.chown="):
            uid, _, gid = opt.partition("=")[2].partition(":")
            try:
                _chown_tree(source, int(uid), int(gid))
            except OSError as exc:
                raise SetupError(f"chowning {source} for :U: {exc}") from exc


def mount_one(sc: S.Syscalls, rootfs: str, m: dict[str, Any]) -> None:
    """Perform one OCI `mounts` entry below `rootfs` (before pivot_root)."""
    dest = resolve_in_root(rootfs, m["destination"])
    mtype = m.get("type") or ""
    options = list(m.get("options") or [])
    image_dir = -1
    if any(o.startswith("podpy.") for o in options):
        if mtype == "tmpfs":
            copy = "podpy.copyup" in options
            take_meta = any(o.startswith("podpy.firstuse=") for o in options)
            image_dir = _open_image_dir(dest) if copy or take_meta else -1
        else:
            _prepare_source(rootfs, m, options)
        options = [o for o in options if not o.startswith("podpy.")]
    flags, prop, data = parse_options(options)
    if m.get("namespace"):
        _mount_from_namespace(sc, m, dest)
    elif mtype == "bind" or flags & S.MS_BIND:
        source = m["source"]
        try:
            src_dir = stat.S_ISDIR(os.stat(source).st_mode)
        except OSError as exc:
            raise SyscallError("stat", source, exc.errno or 0) from exc
        ensure_target(dest, src_dir)
        sc.mount(source, dest, None, S.MS_BIND | (flags & S.MS_REC))
        rest = flags & ~(S.MS_BIND | S.MS_REC)
        if rest & S.MS_RDONLY:
            remount_readonly(sc, dest, rest & ~S.MS_RDONLY)
        elif rest:
            sc.mount(None, dest, None, S.MS_REMOUNT | S.MS_BIND | rest)
    else:
        # tmpcopyup: what the image has there (when it has the directory) is copied into the new
        # tmpfs, read through a descriptor taken before the mount hides it
        below = _open_dir(dest) if mtype == "tmpfs" and "tmpcopyup" in options else -1
        ensure_target(dest, True)
        try:
            sc.mount(m.get("source") or mtype, dest, mtype, flags, data or None)
            if image_dir >= 0:
                _copy_up_below(image_dir, dest, m["destination"], copy, take_meta)
            if below >= 0:
                _copy_up(f"/proc/self/fd/{below}", dest)
                os.chmod(dest, stat.S_IMODE(os.fstat(below).st_mode))   # and the directory's mode
        finally:
            if image_dir >= 0:
                os.close(image_dir)
            if below >= 0:
                os.close(below)
    if prop:
        sc.mount(None, dest, None, prop)


def _open_dir(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return -1


def _mount_from_namespace(sc: S.Syscalls, m: dict[str, Any], dest: str) -> None:
    """A mount of another mount namespace (`namespace`, a path to it), its tree at `source`
    there, attached at dest: --ipc container:NAME's /dev/shm. A mount of another namespace
    cannot be bound directly, so it is cloned there (open_tree) and the clone attached here
    (move_mount). Entering the other namespace needs our user namespace to own it: it does,
    as the container's other namespaces are joined in their user namespace."""
    ensure_target(dest, True)
    here = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        there = os.open(m["namespace"], os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        os.close(here)
        raise SyscallError("open", m["namespace"], exc.errno or 0) from exc
    tree = -1
    try:
        sc.setns(there, S.CLONE_NEWNS, m["namespace"])
        try:
            tree = sc.clone_mount(m["source"])
        finally:
            # entering a mount namespace moved our root and cwd to its root: back to ours
            sc.setns(here, S.CLONE_NEWNS, "/proc/self/ns/mnt")
        sc.attach_mount(tree, dest)
    finally:
        for fd in (here, there, tree):
            if fd >= 0:
                os.close(fd)


def mount_rootfs(sc: S.Syscalls, desc: dict[str, Any], tied: bool = True) -> Optional[int]:
    """Mount the container's root filesystem as storage described it.

    Returns the pid of a fuse-overlayfs server when one was started (it runs in
    the foreground as our child; when tied, it dies with us through PDEATHSIG,
    otherwise it serves until the last mount namespace holding the mount is gone).
    """
    kind = desc["type"]
    target = desc["target"]
    if kind == "bind":
        sc.mount(desc["source"], target, None, S.MS_BIND | S.MS_REC)
        return None
    lower = ":".join(desc["lower"])
    opts = f"lowerdir={lower}"
    if desc.get("upper"):  # without one the overlay is read-only (export, commit)
        opts += f",upperdir={desc['upper']},workdir={desc['work']}"
    if kind == "overlay":
        if desc.get("userxattr"):
            opts += ",userxattr"
        if desc.get("volatile") and desc.get("upper"):
            # A container removed at its exit (--rm), as podman mounts one: its writes are never
            # synced, and above all its unmount does not sync the whole file system of the
            # upper directory (milliseconds, more on a busy disk). A kernel older than 5.10
            # does not know the option: mounted without it. A volatile mount leaves a mark in
            # its work directory that refuses the next mount (a restart): as c/storage does,
            # the mark goes first, since the container's writes were never meant to be kept.
            _drop_volatile_mark(desc["work"])
            try:
                sc.mount("overlay", target, "overlay", 0, opts + ",volatile")
                return None
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
        # The option string is one page at most: mount from the layers' parent
        # directory with relative paths when the absolute ones would not fit.
        sc.mount("overlay", target, "overlay", 0, opts)
        return None
    if kind == "fuse-overlayfs":
        for key in ("uidmapping", "gidmapping"):
            if desc.get(key):
                opts += f",{key}={desc[key]}"
        return _fuse_overlay(sc, desc, opts, target, tied)
    raise SetupError(f"unknown rootfs mount type `{kind}`")


def _drop_volatile_mark(work: str) -> None:
    """The kernel's mark of a volatile mount that was not unmounted cleanly (work/incompat/
    volatile/dirty), which refuses any later mount of the same directories."""
    mark = os.path.join(work, "work", "incompat")
    try:
        os.unlink(os.path.join(mark, "volatile", "dirty"))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SetupError(f"removing the volatile mark of {work}: {exc.strerror}") from exc
    try:
        os.rmdir(os.path.join(mark, "volatile"))
        os.rmdir(mark)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SetupError(f"removing the volatile mark of {work}: {exc.strerror}") from exc


def _fuse_overlay(sc: S.Syscalls, desc: dict[str, Any], opts: str, target: str, tied: bool = True) -> int:
    program = desc.get("program") or "fuse-overlayfs"
    before = os.stat(target).st_dev
    err = os.memfd_create("fuse-overlayfs-stderr", os.MFD_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            if tied:
                sc.set_pdeathsig(_signal.SIGKILL)
            devnull = os.open("/dev/null", os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.dup2(err, 2)
            os.execvp(program, [program, "-f", "-o", opts, target])
        finally:
            os._exit(127)
    try:
        return _wait_mounted(pid, target, before, err)
    finally:
        os.close(err)


def _wait_mounted(pid: int, target: str, before: int, err: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            lines = os.pread(err, 65536, 0).decode(errors="replace").strip().splitlines()
            why = f": {lines[-1]}" if lines else ""
            raise SetupError(f"fuse-overlayfs exited ({os.waitstatus_to_exitcode(status)}) "
                             f"before mounting `{target}`{why}")
        try:
            if os.stat(target).st_dev != before:
                return pid
        except OSError:
            pass
        time.sleep(0.002)
    os.kill(pid, _signal.SIGKILL)
    raise SetupError(f"fuse-overlayfs did not mount `{target}` within 10 s")
