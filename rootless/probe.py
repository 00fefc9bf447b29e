"""Probes for what this kernel lets an unprivileged user mount, used to pick a storage driver."""

from __future__ import annotations

import os
import shutil
from typing import Optional

from . import syscalls as S
from .userns import run_in_userns


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
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC))
    except OSError as exc:
        return f"/dev/fuse cannot be opened: {exc.strerror}"
    return None
