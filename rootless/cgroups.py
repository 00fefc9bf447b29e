"""cgroup v2: where it is mounted, where this process sits, and whether that
subtree is delegated to us (writable), the way systemd's Delegate=yes does it.

The mount point is read from /proc/self/mountinfo, never assumed: on a hybrid
host cgroup2 lives at /sys/fs/cgroup/unified while v1 controllers own
/sys/fs/cgroup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class CgroupInfo:
    mount: Optional[str]          # the cgroup2 mount point, None when there is none
    path: Optional[str]           # this process's cgroup directory (host path)
    writable: bool                # can we create child cgroups there
    controllers: tuple[str, ...]  # enabled in our cgroup (cgroup.controllers)
    reason: str                   # why containers do or do not get a cgroup


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
