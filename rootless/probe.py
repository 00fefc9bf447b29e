"""Probes of what this host lets an unprivileged user do: the overlay and fuse mounts that pick
a storage driver, and (for `system doctor`) making a user namespace, writing its id maps
through newuidmap/newgidmap, and opening the devices fuse and userspace networking need.
Each probe really tries, in a short-lived child where it changes anything, and returns
None when the thing works, else why not."""

from __future__ import annotations

import os
import shutil
from typing import Optional

from . import syscalls as S
from .inuserns import run_in_userns
from .userns import IdMappings


def _try_overlay(base: str, userxattr: bool) -> Optional[str]:
    sc = S.default()
    sc.mount(None, "/", None, S.MS_REC | S.MS_PRIVATE)
    d = {k: os.path.join(base, k) for k in ("lower1", "lower2", "upper", "work", "merged")}
    for p in d.values():
        os.makedirs(p, exist_ok=True)
    with open(os.path.join(d["lower1"], "gone"), "w") as f:
        f.write("x")
    try:
        os.mknod(os.path.join(d["lower2"], "gone"), 0o600 | 0o020000, 0)  # a whiteout
    except OSError as exc:
        return f"cannot create overlay whiteouts: {exc.strerror}"
    opts = f"lowerdir={d['lower2']}:{d['lower1']},upperdir={d['upper']},workdir={d['work']}"
    if userxattr:
        opts += ",userxattr"
    try:
        sc.mount("overlay", d["merged"], "overlay", 0, opts)
    except OSError as exc:
        return f"the kernel refused an overlay mount here: {exc.strerror}"
    try:
        if os.path.exists(os.path.join(d["merged"], "gone")):
            return "overlay whiteouts are not honoured"
        with open(os.path.join(d["merged"], "new"), "w") as f:
            f.write("y")
    finally:
        sc.umount2(d["merged"], S.MNT_DETACH)
    return None


def overlay_refusal(base: str, rootless: bool) -> Optional[str]:
    """None when kernel overlayfs works for layers under `base`; otherwise why not."""
    os.makedirs(base, exist_ok=True)
    try:
        if rootless:
            return run_in_userns(_try_overlay, base, True, extra_flags=S.CLONE_NEWNS)  # type: ignore[no-any-return]
        return run_in_userns(_try_overlay, base, False, extra_flags=S.CLONE_NEWNS)  # type: ignore[no-any-return]
    except OSError as exc:
        return f"overlay probe failed: {exc}"
    finally:
        try:
            run_in_userns(shutil.rmtree, base, True) if rootless else shutil.rmtree(base, True)
        except OSError:
            pass


def fuse_refusal() -> Optional[str]:
    """None when fuse-overlayfs can be used; otherwise why not."""
    if shutil.which("fuse-overlayfs") is None:
        return "fuse-overlayfs is not installed"
    return device_refusal("/dev/fuse")


def userns_refusal() -> Optional[str]:
    """None when this user may make a user namespace, map its own ids in it and mount there;
    otherwise the step that failed and the kernel's words ("unshare: No space left on
    device" when user.max_user_namespaces is 0). Tried in a forked child that exits at once:
    a sysctl or an LSM (AppArmor's restrict_unprivileged_userns) may refuse any of the steps."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report one line, never return
        try:
            os.close(r)
            msg = b"ok"
            try:
                _userns_steps(os.getuid(), os.getgid())
            except OSError as exc:
                msg = str(exc).encode()
            os.write(w, msg)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read().decode(errors="replace")
    os.waitpid(pid, 0)
    return None if data == "ok" else (data or "the probe process died")


def _userns_steps(uid: int, gid: int) -> None:
    sc = S.default()
    sc.unshare(S.CLONE_NEWUSER)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1\n"), ("gid_map", f"0 {gid} 1\n")):
        try:
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        except OSError as exc:
            raise OSError(exc.errno, f"writing /proc/self/{name} in a new user namespace: {exc.strerror}") from None
    sc.unshare(S.CLONE_NEWNS)
    sc.mount(None, "/", None, S.MS_REC | S.MS_PRIVATE)
    sc.mount("tmpfs", "/tmp", "tmpfs", 0, "size=4k")   # only in this child's mount namespace


def idmap_refusal(mappings: IdMappings) -> Optional[str]:
    """None when newuidmap/newgidmap write these maps for a new user namespace; otherwise
    their own words ("newuidmap: write to uid_map failed: Operation not permitted")."""
    from .errors import RuntimeFailure

    try:
        run_in_userns(os.getpid, mappings=mappings)
    except RuntimeFailure as exc:
        return str(exc)
    except OSError as exc:
        return f"{exc}"
    return None


def device_refusal(path: str) -> Optional[str]:
    """None when the character device at `path` opens for reading and writing."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CLOEXEC))
    except OSError as exc:
        return f"{path} cannot be opened: {exc.strerror}"
    return None


def helper_privilege(path: str) -> Optional[str]:
    """How newuidmap/newgidmap at `path` gets the privilege to write maps: "setuid root",
    "file capabilities", or None when it has neither."""
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_mode & stat.S_ISUID and st.st_uid == 0:
        return "setuid root"
    try:
        if os.getxattr(path, "security.capability"):
            return "file capabilities"
    except OSError:
        pass
    return None
