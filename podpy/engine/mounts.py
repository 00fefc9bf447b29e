"""Images and containers mounted on the host for the user, without a namespace: the mounts
table, the serving processes, and every way a mount ends.

A mount is a read-only FUSE file system (storage/fusemount) at `<store>/mounts/images/<id>`
or `<store>/mounts/containers/<id>`, mounted by fusermount3 and served by a small process of
its own, started detached in the user's user namespace (rootless/inuserns.spawn_in_userns).
The table keeps podman's mount counter: `mount` twice, `unmount` once, and it stays; `--force`
(and `rm`, `rmi`, `system reset`) ends it whatever the count.

Order, so that a killed command leaves nothing the next one cannot finish: the row is
written first, owned by the mounting command; the serving process's pid is recorded as
soon as it exists; the row loses its owner only once the process serves. The next command
(reconcile) ends any mount whose server is gone, or whose mounting command died before it
served: the FUSE mount is taken off lazily (`fusermount3 -u -z`), the server killed if it
is still there, the row deleted and the mount point removed.
"""

from __future__ import annotations

import _signal
import fcntl
import json
import os
import sys
import time
from contextlib import contextmanager

from ..errors import EngineError, translate
from ..state import alive, process_start_time
from .context import Runtime
from .mounttable import CONTAINER, IMAGE, SCHEMA

__all__ = ["CONTAINER", "IMAGE", "mount", "mount_container", "mounted", "reap", "release", "release_all",
           "unmount", "unmount_container"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

    from storage.images import Image

    from ..state import ContainerRecord
    from .entities import MountReport

OPTIONS = "ro,fsname=podpy,subtype=podpy"
READY_TIMEOUT = 300.0   # building the index of a very large image


class MountRow:
    __slots__ = ("kind", "id", "mountpoint", "count", "pid", "pid_start", "owner_pid", "owner_start")

    def __init__(self, row: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, row[name])

    @property
    def served(self) -> bool:
        """Its mounting command has finished and its server still runs."""
        return self.owner_pid is None and alive(self.pid, self.pid_start)

    @property
    def stale(self) -> bool:
        """Nobody serves it, nor will: its server is gone, or the command mounting it died."""
        if self.owner_pid is not None:
            return not alive(self.owner_pid, self.owner_start)
        return not alive(self.pid, self.pid_start)


def _table(rt: Runtime) -> Any:
    rt.db.migrate("mounts", SCHEMA)
    return rt.db


def rows(rt: Runtime, kind: Optional[str] = None) -> list[MountRow]:
    db = _table(rt)
    if kind is None:
        found = db.conn.execute("SELECT * FROM mounts ORDER BY created").fetchall()
    else:
        found = db.conn.execute("SELECT * FROM mounts WHERE kind=? ORDER BY created", (kind,)).fetchall()
    return [MountRow(r) for r in found]


def _row(rt: Runtime, kind: str, ident: str) -> Optional[MountRow]:
    found = _table(rt).conn.execute("SELECT * FROM mounts WHERE kind=? AND id=?", (kind, ident)).fetchone()
    return MountRow(found) if found else None


def mount_dir(rt: Runtime, kind: str) -> str:
    return os.path.join(rt.cfg.root, "mounts", kind + "s")


@contextmanager
def _locked(rt: Runtime) -> Iterator[None]:
    """Mounting and unmounting take turns (one lock for the store's mounts): a mount is
    decided and made, or ended, by one command at a time."""
    top = os.path.join(rt.cfg.root, "mounts")
    os.makedirs(top, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(top, "lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# -- ending mounts ----------------------------------------------------------------------------

def reap(rt: Runtime) -> None:
    """End the mounts nobody serves any more (a killed server, a killed `mount`); cheap when
    there are none: one query."""
    stale = [r for r in rows(rt) if r.stale]
    if not stale:
        return
    with _locked(rt):
        for r in stale:
            now = _row(rt, r.kind, r.id)
            if now is not None and now.stale:
                try:
                    _end(rt, now)
                except Exception:  # noqa: BLE001 - tried again by the next command
                    pass


def _end(rt: Runtime, r: MountRow) -> None:
    """Take the mount off, stop its server, forget it (under the lock)."""
    from rootless.fuse import fuse_unmount, is_mounted

    why = fuse_unmount(r.mountpoint, lazy=True)
    if why is not None and is_mounted(r.mountpoint):
        raise EngineError(f"unmounting {r.mountpoint}: {why}")
    if r.pid and alive(r.pid, r.pid_start):
        # The server of a mount that is gone has nothing left to do; it may still hold a
        # copy of the mount made in another mount namespace meanwhile, which this ends.
        try:
            os.kill(r.pid, _signal.SIGKILL)
        except OSError:
            pass
    with rt.db.write() as c:
        c.execute("DELETE FROM mounts WHERE kind=? AND id=? AND mountpoint=?", (r.kind, r.id, r.mountpoint))
    for leftover in (r.mountpoint + ".log", r.mountpoint):
        try:
            (os.rmdir if leftover == r.mountpoint else os.unlink)(leftover)
        except OSError:
            pass


def unmount(rt: Runtime, kind: str, ident: str, force: bool) -> bool:
    """One unmount: the counter goes down, and the mount goes when it reaches 0 (at once with
    force). False when it was not mounted."""
    reap(rt)
    with _locked(rt):
        r = _row(rt, kind, ident)
        if r is None:
            return False
        if force or r.count <= 1 or not r.served:
            _end(rt, r)
        else:
            with rt.db.write() as c:
                c.execute("UPDATE mounts SET count=count-1 WHERE kind=? AND id=?", (kind, ident))
    return True


def release(rt: Runtime, kind: str, ident: str) -> None:
    """Before the image or container itself goes: its mount goes, whatever the counter."""
    if _row(rt, kind, ident) is None:
        return
    with _locked(rt):
        r = _row(rt, kind, ident)
        if r is not None:
            _end(rt, r)


def release_all(rt: Runtime) -> None:
    """`system reset`: every mount of the store goes."""
    with _locked(rt):
        for r in rows(rt):
            try:
                _end(rt, r)
            except Exception:  # noqa: BLE001 - a lazy unmount that failed: reset goes on
                pass


# -- listing ----------------------------------------------------------------------------------

def mounted(rt: Runtime, kind: str) -> list[MountReport]:
    """The images or containers mounted now, oldest mount first."""
    from storage import images as img

    from .entities import MountReport

    reap(rt)
    out = []
    for r in rows(rt, kind):
        if not r.served:
            continue   # still being mounted
        if kind == IMAGE:
            image = img.by_id(rt.db.conn, r.id)
            if image is not None:
                out.append(MountReport(r.id, list(image.names), image.digest or "", r.mountpoint, r.count))
        else:
            rec = rt.state.get(r.id)
            if rec is not None:
                out.append(MountReport(r.id, [rec.name], "", r.mountpoint, r.count))
    return out


# -- making mounts ----------------------------------------------------------------------------

def image_job(rt: Runtime, image: Image) -> dict[str, Any]:
    """What the server of an image's mount reads: its layers (only the top one where each
    layer holds the whole tree)."""
    layers = rt.store.layer_dirs(image)
    if rt.store.driver.full_tree_layers:
        layers = layers[-1:]
    return {"layers": layers or [_empty_dir(rt)], "upper": None}


def container_job(rt: Runtime, rec: ContainerRecord, image: Image) -> dict[str, Any]:
    """A container's: its image's layers and its writable layer. (A container with ids of its
    own, --uidmap or --userns=keep-id|auto, sees its files with the ids they are stored with,
    through fuse-overlayfs: the mount shows them as they are, too.)"""
    desc = rt.store.rootfs_mount(rec.id, image)
    if desc.get("type") == "bind":   # a full copy (vfs): the copy is the writable layer
        lower: list[str] = []
        upper = desc["source"]
    else:
        lower = list(reversed(desc["lower"]))
        upper = desc["upper"]
    return {"layers": lower or [_empty_dir(rt)], "upper": upper}


def mount_container(rt: Runtime, rec: ContainerRecord) -> str:
    """`mount` of one container: its mount point."""
    from storage import images as img

    from ..errors import InvalidState
    from ..events import container as container_event

    if rec.config.rootfs:
        raise InvalidState(f"container {rec.name} runs the directory {rec.config.rootfs} (--rootfs), not an image: "
                    "mount needs a container of an image")
    image = img.by_id(rt.db.conn, rec.image_id)
    if image is None:
        raise InvalidState(f"the image of container {rec.name} ({rec.image_id[:12]}) is gone")
    path = mount(rt, CONTAINER, rec.id, container_job(rt, rec, image))
    container_event(rt.cfg.runroot, "mount", rec)
    return path


def unmount_container(rt: Runtime, cid: str, force: bool) -> None:
    from ..events import container as container_event

    if unmount(rt, CONTAINER, cid, force):
        rec = rt.state.get(cid)
        if rec is not None:
            container_event(rt.cfg.runroot, "unmount", rec)


def _empty_dir(rt: Runtime) -> str:
    path = os.path.join(rt.cfg.root, "mounts", "empty")
    os.makedirs(path, mode=0o755, exist_ok=True)
    return path


def mount(rt: Runtime, kind: str, ident: str, job: dict[str, Any]) -> str:
    """Mount (or count one more user of) the image or container ident; its mount point."""
    reap(rt)
    with _locked(rt):
        r = _row(rt, kind, ident)
        if r is not None and r.served and _is_mounted(r.mountpoint):
            with rt.db.write() as c:
                c.execute("UPDATE mounts SET count=count+1 WHERE kind=? AND id=?", (kind, ident))
            return r.mountpoint
        if r is not None:
            _end(rt, r)   # its server is gone, or the mount was taken off behind our back
        target = os.path.join(mount_dir(rt, kind), ident)
        os.makedirs(target, mode=0o700, exist_ok=True)
        me, my_start = os.getpid(), process_start_time(os.getpid())
        with rt.db.write() as c:
            c.execute("INSERT INTO mounts (kind, id, mountpoint, count, owner_pid, owner_start, created)"
                      " VALUES (?, ?, ?, 1, ?, ?, ?)", (kind, ident, target, me, my_start, time.time()))
        try:
            pid = _serve(rt, kind, ident, target, job)
        except BaseException:
            r = _row(rt, kind, ident)
            if r is not None:
                try:
                    _end(rt, r)
                except Exception:  # noqa: BLE001 - the next command ends it (its owner is gone)
                    pass
            raise
        with rt.db.write() as c:
            c.execute("UPDATE mounts SET owner_pid=NULL, owner_start=NULL WHERE kind=? AND id=? AND pid=?",
                      (kind, ident, pid))
        return target


def _is_mounted(path: str) -> bool:
    from rootless.fuse import is_mounted

    return is_mounted(path)


def _serve(rt: Runtime, kind: str, ident: str, target: str, job: dict[str, Any]) -> int:
    """Mount target with fusermount3 and start its server; its pid, once it serves."""
    from rootless.fuse import fusermount
    from rootless.inuserns import spawn_in_userns

    env = _python_env()
    try:
        fuse_fd = fusermount(target, OPTIONS)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    ready_r, ready_w = os.pipe()
    try:
        job = dict(job, fuse_fd=fuse_fd, status_fd=ready_w, mountpoint=target)
        argv = [sys.executable, "-S", "-c", "from storage.fusemount.serve import main; main()",
                json.dumps(job)]
        pid = spawn_in_userns(argv, env, rt.userns_mappings, keep_fds=(fuse_fd, ready_w),
                              stderr_path=target + ".log")
    except Exception as exc:  # noqa: BLE001
        os.close(ready_r)
        raise translate(exc) from exc
    finally:
        os.close(fuse_fd)
        os.close(ready_w)
    with rt.db.write() as c:
        c.execute("UPDATE mounts SET pid=?, pid_start=? WHERE kind=? AND id=?",
                  (pid, process_start_time(pid), kind, ident))
    answer = _read_status(ready_r, READY_TIMEOUT)
    if answer != "ok":
        why = answer.removeprefix("error: ") if answer else "the serving process exited"
        raise EngineError(f"mounting {kind} {ident[:12]}: {why}")
    return pid


def _read_status(fd: int, timeout: float) -> str:
    import select

    deadline = time.monotonic() + timeout
    data = b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return "error: the serving process did not start in time"
            chunk = os.read(fd, 4096)
            if not chunk:
                return data.decode(errors="replace").strip()
            data += chunk
    finally:
        os.close(fd)


def _python_env() -> dict[str, str]:
    """The serving process runs a python without site (a smaller process) that imports
    storage/ and mfusepy from where this process found them (a source tree, a virtual
    environment, the zipapp's unpacked site-packages)."""
    import importlib.util

    import storage

    paths = [os.path.dirname(os.path.dirname(os.path.abspath(storage.__file__)))]
    spec = importlib.util.find_spec("mfusepy")
    if spec is None or spec.origin is None:
        raise EngineError("mounting needs the mfusepy package (pip install mfusepy), which is not installed")
    paths.append(os.path.dirname(spec.origin))
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env
