"""cgroup v2: where it is mounted, where this process sits, whether that subtree is
delegated to us (writable), the way systemd's Delegate=yes does it, and the
cgroups of containers inside it: limits, freezing, killing every process, and
the figures `stats` shows.

The mount point is read from /proc/self/mountinfo, never assumed: on a hybrid
host cgroup2 lives at /sys/fs/cgroup/unified while v1 controllers own
/sys/fs/cgroup.
"""

from __future__ import annotations

import os
import time
from _operator import itemgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional


class CgroupInfo(tuple):  # type: ignore[type-arg]
    """mount: the cgroup2 mount point (None: none); path: this process's cgroup directory;
    writable: can we create child cgroups there; controllers: enabled in our cgroup;
    reason: why containers do or do not get a cgroup. (A tuple class written out, as
    userns.IdMap.)"""

    __slots__ = ()
    _fields = ("mount", "path", "writable", "controllers", "reason")

    def __new__(cls, mount: Optional[str], path: Optional[str], writable: bool, controllers: tuple[str, ...],
                reason: str) -> "CgroupInfo":
        return tuple.__new__(cls, (mount, path, writable, controllers, reason))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return "CgroupInfo(" + ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self)) + ")"

    mount: Optional[str] = property(itemgetter(0))  # type: ignore[assignment]
    path: Optional[str] = property(itemgetter(1))  # type: ignore[assignment]
    writable: bool = property(itemgetter(2))  # type: ignore[assignment]
    controllers: tuple[str, ...] = property(itemgetter(3))  # type: ignore[assignment]
    reason: str = property(itemgetter(4))  # type: ignore[assignment]


def cgroup2_mount(mountinfo: str = "/proc/self/mountinfo") -> Optional[str]:
    try:
        with open(mountinfo) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                if right.split(" ", 1)[0] == "cgroup2":
                    return left.split()[4].replace("\\040", " ")
    except OSError:
        pass
    return None


def own_cgroup(proc_cgroup: str = "/proc/self/cgroup") -> Optional[str]:
    try:
        with open(proc_cgroup) as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        pass
    return None


def detect() -> CgroupInfo:
    mount = cgroup2_mount()
    if mount is None:
        return CgroupInfo(None, None, False, (), "no cgroup2 file system is mounted")
    rel = own_cgroup()
    if rel is None:
        return CgroupInfo(mount, None, False, (), "this process is in no cgroup2 cgroup")
    path = os.path.join(mount, rel.lstrip("/"))
    try:
        with open(os.path.join(path, "cgroup.controllers")) as f:
            controllers = tuple(f.read().split())
    except OSError:
        controllers = ()
    writable = os.access(path, os.W_OK) and os.access(os.path.join(path, "cgroup.procs"), os.W_OK)
    reason = (f"delegated subtree {path}" if writable else
              f"{path} is not delegated to this user (no systemd user session or Delegate=yes)")
    return CgroupInfo(mount, path, writable, controllers, reason)


# ------------------------------------------------------------ a container's cgroup --

# option -> (controller, file); a key "file:NAME" is the file NAME of the controller its name starts with
LIMIT_FILES = {"memory": ("memory", "memory.max"), "memory_swap": ("memory", "memory.swap.max"),
               "cpus": ("cpu", "cpu.max"), "cpu_shares": ("cpu", "cpu.weight"), "pids_limit": ("pids", "pids.max"),
               "cpu_max": ("cpu", "cpu.max"), "cpuset_cpus": ("cpuset", "cpuset.cpus"),
               "cpuset_mems": ("cpuset", "cpuset.mems"), "memory_low": ("memory", "memory.low"),
               "io_weight": ("io", "io.weight"), "io_max": ("io", "io.max")}


def limit_file(key: str) -> tuple[str, str]:
    """(controller, file) of a limit's key."""
    if key.startswith("file:"):
        name = key[5:]
        return name.partition(".")[0], name
    return LIMIT_FILES[key]


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def make(parent: str, name: str) -> str:
    path = os.path.join(parent, name)
    os.makedirs(path, exist_ok=True)
    return path


def enable_controllers(parent: str, wanted: set[str]) -> set[str]:
    """Controllers of `wanted` that children of parent get (enabling them where we may);
    a parent that holds processes itself cannot hand domain controllers down."""
    try:
        available = set(_read(os.path.join(parent, "cgroup.controllers")).split())
        enabled = set(_read(os.path.join(parent, "cgroup.subtree_control")).split())
    except OSError:
        return set()
    for ctrl in sorted((wanted & available) - enabled):
        try:
            _write(os.path.join(parent, "cgroup.subtree_control"), f"+{ctrl}")
            enabled.add(ctrl)
        except OSError:
            pass
    return wanted & enabled


def apply_limits(path: str, values: dict[str, str]) -> list[str]:
    """Write each limit (file -> value; a value of several lines a line at a time, as io.max
    takes one device per write) whose controller the cgroup has; the controllers it lacks,
    named for a warning."""
    missing = []
    parent = os.path.dirname(path)
    wanted = {limit_file(k)[0] for k in values}
    have = enable_controllers(parent, wanted)
    for key, value in values.items():
        ctrl, fname = limit_file(key)
        if ctrl not in have and ctrl != "cgroup":
            if ctrl not in missing:
                missing.append(ctrl)
            continue
        for line in value.split("\n"):
            _write(os.path.join(path, fname), line)
    return missing


def pids(path: str) -> list[int]:
    """Every process in the cgroup and its children."""
    out = []
    for dirpath, _dirs, _files in os.walk(path):
        try:
            out += [int(x) for x in _read(os.path.join(dirpath, "cgroup.procs")).split()]
        except OSError:
            continue
    return out


def kill_all(path: str) -> bool:
    """SIGKILL every process of the cgroup (cgroup.kill); False where the kernel lacks it."""
    try:
        _write(os.path.join(path, "cgroup.kill"), "1")
        return True
    except OSError:
        return False


def freeze(path: str, frozen: bool, timeout: float = 5.0) -> bool:
    """Freeze or thaw the cgroup and wait until the kernel reports it done."""
    _write(os.path.join(path, "cgroup.freeze"), "1" if frozen else "0")
    want = f"frozen {1 if frozen else 0}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if want in _read(os.path.join(path, "cgroup.events")).splitlines():
                return True
        except OSError:
            return False
        time.sleep(0.005)
    return False


def remove(path: str, timeout: float = 2.0) -> None:
    """Remove the (emptied) cgroup; it may take the kernel a moment to let the last process go."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


def stat_values(path: str) -> dict[str, int]:
    """cpu.stat's usage_usec, memory.current, pids.current, io.stat's bytes, where present."""
    out: dict[str, int] = {}
    try:
        for line in _read(os.path.join(path, "cpu.stat")).splitlines():
            key, _, value = line.partition(" ")
            if key in ("usage_usec", "user_usec", "system_usec"):
                out[key] = int(value)
    except (OSError, ValueError):
        pass
    for fname, key in (("memory.current", "memory"), ("memory.max", "memory_limit"), ("pids.current", "pids")):
        try:
            text = _read(os.path.join(path, fname)).strip()
            if text != "max":
                out[key] = int(text)
        except (OSError, ValueError):
            pass
    try:
        rbytes = wbytes = 0
        for line in _read(os.path.join(path, "io.stat")).splitlines():
            for field in line.split()[1:]:
                k, _, v = field.partition("=")
                if k == "rbytes":
                    rbytes += int(v)
                elif k == "wbytes":
                    wbytes += int(v)
        out["io_read"], out["io_write"] = rbytes, wbytes
    except (OSError, ValueError):
        pass
    return out
