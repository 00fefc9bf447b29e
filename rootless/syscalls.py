"""The one place that talks to the kernel through ctypes.

Everything the standard library lacks on Python 3.11 (unshare, setns, mount,
umount2, pivot_root, prctl, capget/capset) goes through a `Syscalls` object, so
tests can hand in a recorder instead of the kernel. Every failure raises a
`SyscallError` that names the call, the path it was about and errno, which the
CLI prints as "mount `/x`: Operation not permitted".
"""

from __future__ import annotations

import ctypes
import os

from .errors import SyscallError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

# Namespace flags (linux/sched.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# Mount flags (linux/mount.h).
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_CHILD_SUBREAPER = 36

# Numbers glibc has no wrapper for, per architecture.
_NR = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126},
    "aarch64": {"pivot_root": 41, "capget": 90, "capset": 91},
    "ppc64le": {"pivot_root": 203, "capget": 183, "capset": 184},
    "s390x": {"pivot_root": 217, "capget": 184, "capset": 185},
    "riscv64": {"pivot_root": 41, "capget": 90, "capset": 91},
}

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class Syscalls:
    """Thin, typed wrappers over libc; one instance per process is enough."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._nr = _NR.get(os.uname().machine, _NR["x86_64"])

    def _check(self, name: str, ret: int, path: str = "") -> int:
        if ret < 0:
            raise SyscallError(name, path, ctypes.get_errno())
        return ret

    def unshare(self, flags: int) -> None:
        self._check("unshare", self._libc.unshare(ctypes.c_int(flags)))

    def setns(self, fd: int, nstype: int = 0, path: str = "") -> None:
        self._check("setns", self._libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), path)

    def mount(
        self,
        source: Optional[str],
        target: str,
        fstype: Optional[str],
        flags: int = 0,
        data: Optional[str] = None,
    ) -> None:
        ret = self._libc.mount(
            None if source is None else os.fsencode(source),
            os.fsencode(target),
            None if fstype is None else os.fsencode(fstype),
            ctypes.c_ulong(flags),
            None if data is None else os.fsencode(data),
        )
        self._check("mount", ret, target)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._check("umount2", self._libc.umount2(os.fsencode(target), ctypes.c_int(flags)), target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        ret = self._libc.syscall(
            ctypes.c_long(self._nr["pivot_root"]), os.fsencode(new_root), os.fsencode(put_old)
        )
        self._check("pivot_root", ret, new_root)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        ret = self._libc.prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(arg2),
            ctypes.c_ulong(arg3),
            ctypes.c_ulong(arg4),
            ctypes.c_ulong(arg5),
        )
        return self._check("prctl", ret)

    def capget(self) -> tuple[int, int, int]:
        """Return (effective, permitted, inheritable) as 64-bit masks."""
        hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        self._check("capget", self._libc.syscall(ctypes.c_long(self._nr["capget"]), ctypes.byref(hdr), data))
        return (
            data[0].effective | (data[1].effective << 32),
            data[0].permitted | (data[1].permitted << 32),
            data[0].inheritable | (data[1].inheritable << 32),
        )

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        for i, shift in ((0, 0), (1, 32)):
            data[i].effective = (effective >> shift) & 0xFFFFFFFF
            data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
            data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
        self._check("capset", self._libc.syscall(ctypes.c_long(self._nr["capset"]), ctypes.byref(hdr), data))


_default: Optional[Syscalls] = None


def default() -> Syscalls:
    """The process-wide libc wrapper, created on first use."""
    global _default
    if _default is None:
        _default = Syscalls()
    return _default
