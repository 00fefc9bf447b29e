"""Forking a process straight into a cgroup (clone3 with CLONE_INTO_CGROUP): a container's
init (stage 1's fork_init) and an exec'd process (execute.py's stage).

Writing a pid to cgroup.procs to move a process waits for a grace period of the kernel's
(10 ms here, on the way to every start); a process born in its cgroup is never moved. Where
the clone cannot be made the callers fall back to an ordinary fork and a move.
"""

from __future__ import annotations

import _signal
import os

from . import syscalls as S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def fork_init(sc: S.Syscalls, cgroup: Optional[str], flags: int = 0) -> tuple[int, bool]:
    """Fork the init: (0 in the child, its pid in the parent; whether it was born in cgroup).
    flags: the namespaces the init gets with its fork (CLONE_NEWPID: its PID namespace, whose
    first process it is; a namespace whose first process dies takes no other).

    Into cgroup with clone3 where that works, so the host side need not move it there:
    writing a pid to cgroup.procs waits for a grace period of the kernel's (10 ms here, on
    the way to every start). Else (no cgroup, an older kernel, a cgroup we may not fork into)
    an ordinary fork. Some kernels (6.18 among them) compare the kill count of the caller's
    cgroup with the target's and kill the child at birth when they differ, as after a
    `cgroup.kill` above the caller: such a child is reaped and the init forked again the
    ordinary way."""
    if cgroup:
        try:
            fd = os.open(cgroup, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                pid = fork_in_cgroup(sc, fd, cgroup, flags=flags)
            finally:
                os.close(fd)
            if pid >= 0:
                return pid, True
    if flags:
        sc.unshare(flags)
    return os.fork(), False


def fork_in_cgroup(sc: S.Syscalls, fd: int, path: str, proc: Optional[int] = None, flags: int = 0) -> int:
    """A fork whose child is born in the cgroup open on fd (see fork_init): 0 in the child, its
    pid in the parent; -1 when that cannot be (nothing forked then). proc: a directory fd of
    the /proc of our PID namespace, for a caller in another mount namespace; flags: the
    namespaces the child gets with its clone."""
    try:
        pid = sc.fork_into_cgroup(fd, path, flags)
    except OSError:
        return -1
    if pid > 0 and killed_at_birth(pid, proc):
        _reap(pid)
        return -1
    return pid


def killed_at_birth(pid: int, proc: Optional[int] = None) -> bool:
    """Whether our child pid has a SIGKILL pending or is gone already (see fork_init): the
    kernel queues that kill before the clone returns. proc: as fork_in_cgroup's."""
    try:
        fd = os.open(f"{pid}/status" if proc is not None else f"/proc/{pid}/status",
                     os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc)
        try:
            status = os.read(fd, 4096)
        finally:
            os.close(fd)
    except OSError:
        return True
    for line in status.splitlines():
        name, _, value = line.partition(b":")
        if name == b"State" and value.split()[:1] in ([b"Z"], [b"X"]):
            return True
        if name in (b"SigPnd", b"ShdPnd") and int(value, 16) & (1 << (_signal.SIGKILL - 1)):
            return True
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
