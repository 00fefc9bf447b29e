"""The calls the standard library lacks on Python 3.11, through ctypes: unshare, setns, mount,
umount2, pivot_root, open_tree, move_mount, prctl, capget/capset, prlimit, seccomp,
pidfd_getfd, and a socket filter's setsockopt (which takes a pointer).

Loaded by rootless.syscalls on first use: importing ctypes costs some milliseconds and a few
hundred KB, which the monitor and the CLI's terminal handling do without.
"""

from __future__ import annotations

import ctypes
import os

from ..errors import SyscallError
from . import numbers as N

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class _Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def where(path: str) -> str:
    """A relative path as an absolute one, for an error message (pivot_root(".", ".") fails on
    the directory we are in)."""
    if not path or path.startswith("/"):
        return path
    try:
        return os.path.normpath(os.path.join(os.getcwd(), path))
    except OSError:
        return path


def _fprog(program: bytes) -> tuple[_SockFprog, ctypes.Array[ctypes.c_char]]:
    """struct sock_fprog for a BPF program (struct sock_filter[]), and the buffer it points to,
    which must stay alive while the kernel reads it."""
    buf = ctypes.create_string_buffer(program, len(program))
    return _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p)), buf


class Libc:
    """Thin wrappers over libc, each raising SyscallError(op, path, errno) on failure."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL(None, use_errno=True)
        self.lib.syscall.restype = ctypes.c_long
        self.nr = N.SYSCALL_NUMBERS.get(os.uname().machine, N.SYSCALL_NUMBERS["x86_64"])

    def _check(self, op: str, ret: int, path: str = "") -> int:
        if ret < 0:
            raise SyscallError(op, where(path), ctypes.get_errno())
        return ret

    def unshare(self, flags: int) -> None:
        self._check("unshare", self.lib.unshare(ctypes.c_int(flags)))

    def setns(self, fd: int, nstype: int, path: str) -> None:
        self._check("setns", self.lib.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), path)

    def mount(self, source: Optional[str], target: str, fstype: Optional[str], flags: int,
              data: Optional[str]) -> None:
        ret = self.lib.mount(
            None if source is None else os.fsencode(source),
            os.fsencode(target),
            None if fstype is None else os.fsencode(fstype),
            ctypes.c_ulong(flags),
            None if data is None else os.fsencode(data),
        )
        self._check("mount", ret, target)

    def umount2(self, target: str, flags: int) -> None:
        self._check("umount2", self.lib.umount2(os.fsencode(target), ctypes.c_int(flags)), target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        ret = self.lib.syscall(ctypes.c_long(self.nr["pivot_root"]), os.fsencode(new_root), os.fsencode(put_old))
        self._check("pivot_root", ret, new_root)

    def open_tree(self, path: str, flags: int) -> int:
        ret = self.lib.syscall(ctypes.c_long(N.NR_OPEN_TREE), ctypes.c_int(N.AT_FDCWD), os.fsencode(path),
                               ctypes.c_uint(flags))
        return self._check("open_tree", ret, path)

    def move_mount(self, fd: int, target: str) -> None:
        """Attach the detached mount open on fd at target."""
        ret = self.lib.syscall(ctypes.c_long(N.NR_MOVE_MOUNT), ctypes.c_int(fd), b"", ctypes.c_int(N.AT_FDCWD),
                               os.fsencode(target), ctypes.c_uint(N.MOVE_MOUNT_F_EMPTY_PATH))
        self._check("move_mount", ret, target)

    def prlimit(self, resource: int, soft: int, hard: int, name: str) -> None:
        """Set this process's limit of resource (soft and hard as the kernel's unsigned values)."""
        new = _Rlimit(soft, hard)
        ret = self.lib.prlimit64(ctypes.c_int(0), ctypes.c_int(resource), ctypes.byref(new), None)
        self._check("setrlimit", ret, name)

    def personality(self, persona: int) -> None:
        self._check("personality", self.lib.personality(ctypes.c_ulong(persona)), hex(persona))

    def prctl(self, option: int, arg2: int, arg3: int, arg4: int, arg5: int, op: str = "prctl") -> int:
        ret = self.lib.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                             ctypes.c_ulong(arg4), ctypes.c_ulong(arg5))
        return self._check(op, ret)

    def capget(self) -> tuple[int, int, int]:
        hdr = _CapHeader(N.LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        self._check("capget", self.lib.syscall(ctypes.c_long(self.nr["capget"]), ctypes.byref(hdr), data))
        return (
            data[0].effective | (data[1].effective << 32),
            data[0].permitted | (data[1].permitted << 32),
            data[0].inheritable | (data[1].inheritable << 32),
        )

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        hdr = _CapHeader(N.LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        for i, shift in ((0, 0), (1, 32)):
            data[i].effective = (effective >> shift) & 0xFFFFFFFF
            data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
            data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
        self._check("capset", self.lib.syscall(ctypes.c_long(self.nr["capset"]), ctypes.byref(hdr), data))

    def seccomp_filter(self, program: bytes) -> None:
        """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)."""
        prog, _buf = _fprog(program)
        ret = self.lib.prctl(ctypes.c_int(N.PR_SET_SECCOMP), ctypes.c_ulong(N.SECCOMP_MODE_FILTER),
                             ctypes.byref(prog), ctypes.c_ulong(0), ctypes.c_ulong(0))
        self._check("prctl(PR_SET_SECCOMP)", ret)

    def seccomp_set_mode_filter(self, program: bytes, flags: int) -> int:
        """seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog): with FLAG_NEW_LISTENER, the listener's fd."""
        prog, _buf = _fprog(program)
        ret = self.lib.syscall(ctypes.c_long(self.nr["seccomp"]), ctypes.c_uint(N.SECCOMP_SET_MODE_FILTER),
                               ctypes.c_uint(flags), ctypes.byref(prog))
        return self._check("seccomp(SECCOMP_SET_MODE_FILTER)", ret)

    def pidfd_getfd(self, pidfd: int, fd: int) -> int:
        ret = self.lib.syscall(ctypes.c_long(N.NR_PIDFD_GETFD), ctypes.c_int(pidfd), ctypes.c_int(fd),
                               ctypes.c_uint(0))
        return self._check("pidfd_getfd", ret)

    def attach_socket_filter(self, fd: int, program: bytes) -> None:
        """setsockopt(SO_ATTACH_FILTER): a classic BPF program run on every packet fd receives."""
        import _socket

        prog, _buf = _fprog(program)
        ret = self.lib.setsockopt(ctypes.c_int(fd), ctypes.c_int(_socket.SOL_SOCKET),
                                  ctypes.c_int(N.SO_ATTACH_FILTER), ctypes.byref(prog),
                                  ctypes.c_uint(ctypes.sizeof(prog)))
        self._check("setsockopt(SO_ATTACH_FILTER)", ret)
