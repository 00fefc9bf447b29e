"""The one way to the kernel: a `Syscalls` object with a named method per call.

Everything the container's set-up asks of the kernel beyond files and processes (namespaces,
mounts, pivot_root, ids and groups, the hostname, prctl, capabilities, seccomp, ioctls on
terminals, namespace fds and interfaces) goes through one object, handed down from the top of
each process (`stage1`, `init`, `exec`'s stage ...) with `default()` as the default, so a unit
test can hand in a recorder and check the calls and their order without a kernel (youki's
habit). Every failure raises `SyscallError(op, path, errno)`, which reads like crun's
"pivot_root `/x`: Invalid argument" and crosses the sync socket as those three fields.

The details live in rootless/_ffi/: the numbers, the ioctls (through fcntl) and the ctypes
bindings. ctypes is imported on the first call that needs it, so the monitor and the CLI's
terminal handling, which only use ioctls, do without it; a process that is about to leave
the host's files behind (pivot_root, setns into a container's mount namespace) has made a
ctypes call by then, or calls `load()`.
"""

from __future__ import annotations

import errno
import os

from ._ffi import ioctl as _ioctl
from ._ffi.numbers import (  # the names callers use, as syscalls.NAME
    CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS,
    MNT_DETACH, MS_BIND, MS_MOVE, MS_NOATIME, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC,
    MS_REMOUNT, MS_SLAVE, MS_STRICTATIME, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_CAP_AMBIENT_RAISE,
    PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG,
    SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, SO_LOCK_FILTER,
)
from .errors import SyscallError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ._ffi.libc import Libc
    from ._ffi.libseccomp import Filter


def _os_call(op: str, path: str, fn: Any, *args: Any) -> None:
    """A call the os module makes for us, its OSError raised as a SyscallError."""
    try:
        fn(*args)
    except OSError as exc:
        raise SyscallError(op, path, exc.errno or 0) from None


class Syscalls:
    """The kernel, one method per call; one instance per process is enough (`default()`)."""

    def __init__(self) -> None:
        self._c: Optional[Libc] = None

    @property
    def _libc(self) -> Libc:
        if self._c is None:
            from ._ffi.libc import Libc

            self._c = Libc()
        return self._c

    def load(self) -> None:
        """Load libc through ctypes now: before a fork (the child shares it rather than copying
        it) or before the host's files go out of reach."""
        _ = self._libc

    # -- namespaces ---------------------------------------------------------------------------

    def unshare(self, flags: int) -> None:
        self._libc.unshare(flags)

    def fork_into_cgroup(self, cgroup_fd: int, path: str = "", flags: int = 0) -> int:
        """os.fork() whose child starts in the cgroup open on cgroup_fd (path: for the error;
        flags: namespaces the child gets, CLONE_NEWPID): nothing to migrate afterwards, which
        costs a grace period of the kernel's (some 10 ms here) each time a process is moved by
        writing cgroup.procs. 0 in the child."""
        return self._libc.fork_into_cgroup(cgroup_fd, path, flags)

    def setns(self, fd: int, nstype: int = 0, path: str = "") -> None:
        self._libc.setns(fd, nstype, path)

    def ns_get_userns(self, fd: int, path: str = "") -> int:
        """A new fd of the user namespace that owns the namespace open on fd."""
        return _ioctl.ns_get_userns(fd, path)

    def ns_get_parent(self, fd: int, path: str = "") -> int:
        """A new fd of the parent of the user namespace open on fd."""
        return _ioctl.ns_get_parent(fd, path)

    # -- mounts and the root ------------------------------------------------------------------

    def mount(self, source: Optional[str], target: str, fstype: Optional[str], flags: int = 0,
              data: Optional[str] = None) -> None:
        self._libc.mount(source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._libc.umount2(target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._libc.pivot_root(new_root, put_old)

    def clone_mount(self, path: str) -> int:
        """A detached copy of the mount tree at path (open_tree with OPEN_TREE_CLONE, recursive),
        as an fd for attach_mount: how a mount of another mount namespace reaches this one."""
        from ._ffi.numbers import AT_RECURSIVE, OPEN_TREE_CLOEXEC, OPEN_TREE_CLONE

        return self._libc.open_tree(path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)

    def attach_mount(self, fd: int, target: str) -> None:
        """Attach the detached mount tree open on fd (clone_mount's) at target (move_mount)."""
        self._libc.move_mount(fd, target)

    def chroot(self, path: str) -> None:
        _os_call("chroot", path, os.chroot, path)

    # -- identity -----------------------------------------------------------------------------

    def sethostname(self, name: str) -> None:
        import _socket

        _os_call("sethostname", name, _socket.sethostname, name)

    def setgroups(self, gids: list[int]) -> None:
        _os_call("setgroups", " ".join(map(str, gids)), os.setgroups, gids)

    def setresgid(self, rgid: int, egid: int, sgid: int) -> None:
        _os_call("setresgid", f"{rgid}", os.setresgid, rgid, egid, sgid)

    def setresuid(self, ruid: int, euid: int, suid: int) -> None:
        _os_call("setresuid", f"{ruid}", os.setresuid, ruid, euid, suid)

    def umask(self, mask: int) -> None:
        os.umask(mask)

    def set_oom_score_adj(self, value: int) -> None:
        """Our OOM score adjustment (raising it is free; lowering it below what it was needs
        CAP_SYS_RESOURCE, which no rootless process has)."""
        def write(text: str) -> None:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(text)

        _os_call("write", "/proc/self/oom_score_adj", write, str(value))

    def personality(self, persona: int) -> None:
        """The execution domain (PER_LINUX, PER_LINUX32) of this process and what it execs."""
        self._libc.personality(persona)

    # -- prctl and capabilities ----------------------------------------------------------------

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        """prctl(2) itself; the named methods below say what they do."""
        return self._libc.prctl(option, arg2, arg3, arg4, arg5)

    def set_pdeathsig(self, sig: int) -> None:
        """Have the kernel send sig to us when our parent ends."""
        self._libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0, "prctl(PR_SET_PDEATHSIG)")

    def set_child_subreaper(self) -> None:
        """Orphans below us are reparented to us (kept across execve, not across fork)."""
        self._libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, "prctl(PR_SET_CHILD_SUBREAPER)")

    def set_no_new_privs(self) -> None:
        self._libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, "prctl(PR_SET_NO_NEW_PRIVS)")

    def capbset_drop(self, cap: int) -> None:
        """Drop cap from the bounding set."""
        self._libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0, "prctl(PR_CAPBSET_DROP)")

    def cap_ambient_raise(self, cap: int) -> None:
        self._libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0, "prctl(PR_CAP_AMBIENT_RAISE)")

    def capget(self) -> tuple[int, int, int]:
        """(effective, permitted, inheritable) as 64-bit masks."""
        return self._libc.capget()

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._libc.capset(effective, permitted, inheritable)

    # -- resource limits -----------------------------------------------------------------------

    def setrlimit(self, name: str, soft: int, hard: int) -> None:
        """Set our limit `name` (RLIMIT_NOFILE, ...: the OCI spec's names); -1 is unlimited."""
        from ._ffi.numbers import RLIM_INFINITY, RLIMITS

        if name not in RLIMITS:
            raise SyscallError("setrlimit", name, errno.EINVAL)
        self._libc.prlimit(RLIMITS[name], soft & RLIM_INFINITY, hard & RLIM_INFINITY, name)

    # -- seccomp ------------------------------------------------------------------------------

    def seccomp_filter(self, program: bytes) -> None:
        """Install a compiled filter (struct sock_filter[]) in this process."""
        self._libc.seccomp_filter(program)

    def seccomp_listener(self, program: bytes, flags: int = 0) -> int:
        """Install a filter whose SECCOMP_RET_USER_NOTIF calls are reported on the fd returned
        (SECCOMP_FILTER_FLAG_NEW_LISTENER, with the other flags given)."""
        return self._libc.seccomp_set_mode_filter(program, SECCOMP_FILTER_FLAG_NEW_LISTENER | flags)

    def seccomp_notif_recv(self, listener: int, buf: bytearray) -> None:
        """The next reported call, into buf (struct seccomp_notif)."""
        _ioctl.notif_recv(listener, buf)

    def seccomp_notif_send(self, listener: int, resp: bytes) -> None:
        """Answer a reported call (struct seccomp_notif_resp)."""
        _ioctl.notif_send(listener, resp)

    def seccomp_notif_id_valid(self, listener: int, nid: int) -> None:
        """Raises unless the call nid still waits for its answer."""
        _ioctl.notif_id_valid(listener, nid)

    def seccomp_notif_addfd(self, listener: int, addfd: bytes) -> None:
        """Put one of our fds into the caller of a reported call (struct seccomp_notif_addfd)."""
        _ioctl.notif_addfd(listener, addfd)

    def libseccomp_load(self) -> None:
        """Open libseccomp now (before pivot_root: the host's file)."""
        from ._ffi import libseccomp

        libseccomp.load()

    def libseccomp_filter(self, default_action: int) -> Filter:
        """A libseccomp filter context to add rules to, then load or export."""
        from ._ffi.libseccomp import Filter

        return Filter(default_action)

    def sysctl(self, name: str, value: str) -> None:
        """Write a setting of our namespaces under /proc/sys (name as a path there:
        "net/ipv4/ping_group_range"; an interface's name may hold dots)."""
        path = "/proc/sys/" + name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            raise SyscallError("write", path, exc.errno or 0) from None

    # -- file descriptors and sockets ---------------------------------------------------------

    def pidfd_getfd(self, pidfd: int, fd: int) -> int:
        """A duplicate (close-on-exec) of fd of the process pidfd refers to."""
        return self._libc.pidfd_getfd(pidfd, fd)

    def attach_socket_filter(self, fd: int, program: bytes) -> None:
        """SO_ATTACH_FILTER: a classic BPF program run on each packet the socket receives."""
        self._libc.attach_socket_filter(fd, program)

    def interface_up(self, name: str) -> None:
        """Bring the interface `name` of our network namespace up."""
        import _socket

        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            _ioctl.interface_up(s.fileno(), name)
        finally:
            s.close()

    # -- terminals ----------------------------------------------------------------------------

    def unlockpt(self, master: int) -> None:
        _ioctl.unlockpt(master)

    def ptsname(self, master: int) -> str:
        return _ioctl.ptsname(master)

    def set_controlling_terminal(self, fd: int, path: str = "") -> None:
        _ioctl.set_controlling_terminal(fd, path)

    def get_winsize(self, fd: int) -> tuple[int, int]:
        """(rows, columns) of the terminal on fd."""
        return _ioctl.get_winsize(fd)

    def set_winsize(self, fd: int, rows: int, cols: int) -> None:
        _ioctl.set_winsize(fd, rows, cols)


__all__ = [
    "Syscalls", "SyscallError", "default",
    "CLONE_NEWCGROUP", "CLONE_NEWIPC", "CLONE_NEWNET", "CLONE_NEWNS", "CLONE_NEWPID", "CLONE_NEWUSER",
    "CLONE_NEWUTS", "MNT_DETACH", "MS_BIND", "MS_MOVE", "MS_NOATIME", "MS_NODEV", "MS_NOEXEC", "MS_NOSUID",
    "MS_PRIVATE", "MS_RDONLY", "MS_REC", "MS_REMOUNT", "MS_SLAVE", "MS_STRICTATIME", "PR_CAP_AMBIENT",
    "PR_CAP_AMBIENT_CLEAR_ALL", "PR_CAP_AMBIENT_RAISE", "PR_CAPBSET_DROP", "PR_SET_CHILD_SUBREAPER",
    "PR_SET_KEEPCAPS", "PR_SET_NO_NEW_PRIVS", "PR_SET_PDEATHSIG", "SECCOMP_FILTER_FLAG_NEW_LISTENER",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SO_LOCK_FILTER",
]

_default: Optional[Syscalls] = None


def default() -> Syscalls:
    """The process's Syscalls, made on first use (cheap: libc is loaded on the first call
    that needs it)."""
    global _default
    if _default is None:
        _default = Syscalls()
    return _default
