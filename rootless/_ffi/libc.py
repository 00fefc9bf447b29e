"""The calls the standard library lacks on Python 3.11, through libffi: unshare, setns, mount,
umount2, pivot_root, open_tree, move_mount, prctl, capget/capset, prlimit, seccomp,
pidfd_getfd, and a socket filter's setsockopt (which takes a pointer).

Loaded by rootless.syscalls on first use. It binds libc with _ctypes, the C half of ctypes,
and the handful of C types these calls take, declared here: the ctypes package itself
(ctypes/__init__.py, which defines every C type and imports struct and types) costs a
stage 1 some 3-4 ms before its unshare, against 1 ms for _ctypes alone.
"""

from __future__ import annotations

import os
from _ctypes import CFuncPtr, FUNCFLAG_CDECL, FUNCFLAG_PYTHONAPI, FUNCFLAG_USE_ERRNO, Structure, _SimpleCData
from _ctypes import addressof, byref
from _ctypes import dlopen, get_errno, sizeof

from ..errors import SyscallError
from . import numbers as N

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional


def _c_type(name: str, code: str) -> Any:
    """A C scalar type as ctypes declares it (code: struct's format character)."""
    return type(name, (_SimpleCData,), {"_type_": code})


c_int, c_uint, c_long, c_ulong = _c_type("c_int", "i"), _c_type("c_uint", "I"), _c_type("c_long", "l"), \
    _c_type("c_ulong", "L")
c_ushort, c_uint64, c_void_p, c_char = _c_type("c_ushort", "H"), _c_type("c_uint64", "Q"), \
    _c_type("c_void_p", "P"), _c_type("c_char", "c")
c_uint32 = c_uint   # 32 bits on every Linux ABI


class _Function(CFuncPtr):
    """A libc function returning int, errno kept for get_errno (ctypes' CDLL(use_errno=True))."""
    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class _HeldFunction(CFuncPtr):
    """A function called with the GIL held (ctypes' PyDLL), for the calls around a fork: Python's
    own fork bookkeeping (PyOS_*Fork*) expects the GIL, and nothing may run between them."""
    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_PYTHONAPI | FUNCFLAG_USE_ERRNO
    _restype_ = c_long


class _Lib:
    """The process's own symbols (dlopen(NULL)), each function bound on first use."""

    def __init__(self) -> None:
        self._handle = dlopen(None, 0)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        func = _Function((name, self))
        setattr(self, name, func)
        return func


class _CapHeader(Structure):
    _fields_ = [("version", c_uint32), ("pid", c_int)]


class _CapData(Structure):
    _fields_ = [
        ("effective", c_uint32),
        ("permitted", c_uint32),
        ("inheritable", c_uint32),
    ]


class _Rlimit(Structure):
    _fields_ = [("cur", c_uint64), ("max", c_uint64)]


class _CloneArgs(Structure):
    """struct clone_args as far as its cgroup field (CLONE_ARGS_SIZE_VER2, linux/sched.h)."""
    _fields_ = [(name, c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls",
        "set_tid", "set_tid_size", "cgroup")]


class _SockFprog(Structure):
    _fields_ = [("len", c_ushort), ("filter", c_void_p)]


def where(path: str) -> str:
    """A relative path as an absolute one, for an error message (pivot_root(".", ".") fails on
    the directory we are in)."""
    if not path or path.startswith("/"):
        return path
    try:
        return os.path.normpath(os.path.join(os.getcwd(), path))
    except OSError:
        return path


def _fprog(program: bytes) -> tuple[_SockFprog, Any]:
    """struct sock_fprog for a BPF program (struct sock_filter[]), and the buffer it points to,
    which must stay alive while the kernel reads it."""
    buf = (c_char * len(program)).from_buffer_copy(program)
    return _SockFprog(len(program) // 8, addressof(buf)), buf


class Libc:
    """Thin wrappers over libc, each raising SyscallError(op, path, errno) on failure."""

    def __init__(self) -> None:
        self.lib = _Lib()
        self.lib.syscall.restype = c_long
        self.nr = N.SYSCALL_NUMBERS.get(os.uname().machine, N.SYSCALL_NUMBERS["x86_64"])

    def _check(self, op: str, ret: int, path: str = "") -> int:
        if ret < 0:
            raise SyscallError(op, where(path), get_errno())
        return ret

    def unshare(self, flags: int) -> None:
        self._check("unshare", self.lib.unshare(c_int(flags)))

    def setns(self, fd: int, nstype: int, path: str) -> None:
        self._check("setns", self.lib.setns(c_int(fd), c_int(nstype)), path)

    def mount(self, source: Optional[str], target: str, fstype: Optional[str], flags: int,
              data: Optional[str]) -> None:
        ret = self.lib.mount(
            None if source is None else os.fsencode(source),
            os.fsencode(target),
            None if fstype is None else os.fsencode(fstype),
            c_ulong(flags),
            None if data is None else os.fsencode(data),
        )
        self._check("mount", ret, target)

    def umount2(self, target: str, flags: int) -> None:
        self._check("umount2", self.lib.umount2(os.fsencode(target), c_int(flags)), target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        ret = self.lib.syscall(c_long(self.nr["pivot_root"]), os.fsencode(new_root), os.fsencode(put_old))
        self._check("pivot_root", ret, new_root)

    def open_tree(self, path: str, flags: int) -> int:
        ret = self.lib.syscall(c_long(N.NR_OPEN_TREE), c_int(N.AT_FDCWD), os.fsencode(path),
                               c_uint(flags))
        return self._check("open_tree", ret, path)

    def move_mount(self, fd: int, target: str) -> None:
        """Attach the detached mount open on fd at target."""
        ret = self.lib.syscall(c_long(N.NR_MOVE_MOUNT), c_int(fd), b"", c_int(N.AT_FDCWD),
                               os.fsencode(target), c_uint(N.MOVE_MOUNT_F_EMPTY_PATH))
        self._check("move_mount", ret, target)

    def fork_into_cgroup(self, cgroup_fd: int, path: str, flags: int = 0) -> int:
        """fork(2) whose child is born in the cgroup v2 directory open on cgroup_fd (clone3 with
        CLONE_INTO_CGROUP, and flags: CLONE_NEWPID...): 0 in the child, its pid in the parent. With Python's bookkeeping
        around it as os.fork has it (before-fork hooks and the import lock; in the child, the
        GIL, threads' state and after-fork hooks). The calling process must have one thread.
        Unlike glibc's fork the child's cached thread id stays its parent's; glibc reads it only
        for thread-owned mutexes (consistent within the child) and asks the kernel when a
        process signals itself."""
        args = _CloneArgs(flags=N.CLONE_INTO_CGROUP | flags, exit_signal=N.SIGCHLD, cgroup=cgroup_fd)
        before, parent, child = (_HeldFunction((name, self.lib)) for name in (
            "PyOS_BeforeFork", "PyOS_AfterFork_Parent", "PyOS_AfterFork_Child"))
        clone3 = _HeldFunction(("syscall", self.lib))
        for func in (before, parent, child):
            func.restype = None
        before()
        pid = clone3(c_long(N.NR_CLONE3), byref(args), c_ulong(sizeof(args)))
        if pid == 0:
            child()
            return 0
        err = get_errno()
        parent()
        if pid < 0:
            raise SyscallError("clone3", path, err)
        return pid

    def prlimit(self, resource: int, soft: int, hard: int, name: str) -> None:
        """Set this process's limit of resource (soft and hard as the kernel's unsigned values)."""
        new = _Rlimit(soft, hard)
        ret = self.lib.prlimit64(c_int(0), c_int(resource), byref(new), None)
        self._check("setrlimit", ret, name)

    def personality(self, persona: int) -> None:
        self._check("personality", self.lib.personality(c_ulong(persona)), hex(persona))

    def prctl(self, option: int, arg2: int, arg3: int, arg4: int, arg5: int, op: str = "prctl") -> int:
        ret = self.lib.prctl(c_int(option), c_ulong(arg2), c_ulong(arg3),
                             c_ulong(arg4), c_ulong(arg5))
        return self._check(op, ret)

    def capget(self) -> tuple[int, int, int]:
        hdr = _CapHeader(N.LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        self._check("capget", self.lib.syscall(c_long(self.nr["capget"]), byref(hdr), data))
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
        self._check("capset", self.lib.syscall(c_long(self.nr["capset"]), byref(hdr), data))

    def seccomp_filter(self, program: bytes) -> None:
        """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)."""
        prog, _buf = _fprog(program)
        ret = self.lib.prctl(c_int(N.PR_SET_SECCOMP), c_ulong(N.SECCOMP_MODE_FILTER),
                             byref(prog), c_ulong(0), c_ulong(0))
        self._check("prctl(PR_SET_SECCOMP)", ret)

    def seccomp_set_mode_filter(self, program: bytes, flags: int) -> int:
        """seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog): with FLAG_NEW_LISTENER, the listener's fd."""
        prog, _buf = _fprog(program)
        ret = self.lib.syscall(c_long(self.nr["seccomp"]), c_uint(N.SECCOMP_SET_MODE_FILTER),
                               c_uint(flags), byref(prog))
        return self._check("seccomp(SECCOMP_SET_MODE_FILTER)", ret)

    def pidfd_getfd(self, pidfd: int, fd: int) -> int:
        ret = self.lib.syscall(c_long(N.NR_PIDFD_GETFD), c_int(pidfd), c_int(fd),
                               c_uint(0))
        return self._check("pidfd_getfd", ret)

    def attach_socket_filter(self, fd: int, program: bytes) -> None:
        """setsockopt(SO_ATTACH_FILTER): a classic BPF program run on every packet fd receives."""
        import _socket

        prog, _buf = _fprog(program)
        ret = self.lib.setsockopt(c_int(fd), c_int(_socket.SOL_SOCKET),
                                  c_int(N.SO_ATTACH_FILTER), byref(prog),
                                  c_uint(sizeof(prog)))
        self._check("setsockopt(SO_ATTACH_FILTER)", ret)
