"""Running a Python function inside a container's file system: in the user and mount
namespaces of its running init, or (stopped) with its root file system mounted in a
private mount namespace and made our root. Used by `cp`: there, "/" is the container's
root, so no path the container controls (a symlink, "..") can lead out of it."""

from __future__ import annotations

import _signal
import os

from . import syscalls as S
from .errors import SetupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


def in_running(pid: int, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in a child that has joined the user and mount namespaces of pid."""
    from .execute import _namespace_fds

    wanted = {S.CLONE_NEWUSER, S.CLONE_NEWNS}
    opened = _namespace_fds(pid)
    try:
        return _in_child(lambda: _join([n for n in opened if n[1] in wanted]), fn, args)
    finally:
        for fd, _f, _p in opened:   # all of them, the ones not joined too
            os.close(fd)


def _join(namespaces: list[tuple[int, int, str]]) -> None:
    sc = S.default()
    for fd, flag, path in namespaces:
        sc.setns(fd, flag, path)
    if any(flag == S.CLONE_NEWUSER for _fd, flag, _p in namespaces):
        # Root of the container's namespace: the user is not mapped in a nested one (auto).
        sc.setresgid(0, 0, 0)
        sc.setresuid(0, 0, 0)
    os.chdir("/")


def in_stopped(desc: dict[str, Any], fn: Callable[..., Any], *args: Any,
               binds: Optional[list[dict[str, Any]]] = None) -> Any:
    """fn(*args) with the root file system described by desc (storage's rootfsMount) mounted
    read-write and chrooted into, in a user namespace (unless rootful) and mount namespace
    of our own; binds: OCI bind mounts (the container's volumes and bind mounts) made in it
    first, below the root as a start would make them."""
    from .inuserns import run_in_userns

    return run_in_userns(_chrooted, desc, fn, args, list(binds or ()), extra_flags=S.CLONE_NEWNS)


def _chrooted(desc: dict[str, Any], fn: Callable[..., Any], args: tuple[Any, ...],
              binds: list[dict[str, Any]]) -> Any:
    from .mounts import mount_one, mount_rootfs

    sc = S.default()
    sc.mount(None, "/", None, S.MS_REC | S.MS_PRIVATE)
    fuse = mount_rootfs(sc, desc)
    try:
        for m in binds:
            mount_one(sc, desc["target"], m)
        sc.chroot(desc["target"])
        os.chdir("/")
        return fn(*args)
    finally:
        if fuse:
            os.kill(fuse, _signal.SIGTERM)


def _in_child(prepare: Callable[[], None], fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    import pickle  # noqa: F401 - before the child leaves the host's files behind

    from .inuserns import call_and_send, received

    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 0
        try:
            os.close(r)
            S.default().set_pdeathsig(_signal.SIGKILL)

            def prepared() -> Any:
                prepare()
                return fn(*args)

            call_and_send(prepared, (), w)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(child, 0)
    if not data:
        raise SetupError("the helper in the container's namespaces died")
    return received(data)
