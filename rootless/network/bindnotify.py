"""The kernel side of a published port without a forwarder: a seccomp filter that reports a
container's bind(2) calls to the process that forwards its ports, and the calls that answer.

A process in the container that binds a published port gets, in place of its socket, one made
on the host and bound to the host's address and port (see redirect.py for the decisions). The
container's init installs the filter before it execs (`install()`, returning the listener fd
it hands out); every bind of every process it starts then waits for an answer:
`SECCOMP_IOCTL_NOTIF_ADDFD` with `SECCOMP_ADDFD_FLAG_SETFD` puts the host's socket at the
caller's fd number (as dup2 would) and the answer is bind's "0"; any other bind goes on as
the process asked (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`). Linux 5.9 or later; where the filter
cannot be installed the forwarder carries every connection, as before.

The structure layouts are the uapi's (linux/seccomp.h); the calls go through the syscalls
object (its seccomp_* methods).
"""

from __future__ import annotations

import _socket
import errno
import os
import struct

from .. import syscalls as S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

# uname machine -> (AUDIT_ARCH_*, __NR_bind), what the filter program compares
_ARCH = {"x86_64": (0xC000003E, 49), "aarch64": (0xC00000B7, 200)}
_RET_USER_NOTIF, _RET_ALLOW = 0x7FC00000, 0x7FFF0000
_LD_W_ABS, _JEQ_K, _RET_K = 0x20, 0x15, 0x06
_FLAG_CONTINUE = 1
_ADDFD_FLAG_SETFD = 1

_NOTIF = struct.Struct("=QIIiIQ6Q")      # id, pid, flags, nr, arch, instruction pointer, args
_RESP = struct.Struct("=QqiI")           # id, val, error, flags
_ADDFD = struct.Struct("=QIIII")         # id, flags, srcfd, newfd, newfd_flags
_SOCKADDR_MAX = 128


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


# The address lengths of an IPv4 or IPv6 bind as programs pass them (sizeof sockaddr_in,
# RFC 2133's sockaddr_in6, sockaddr_in6, sockaddr_storage): a bind with another length (a
# unix, netlink or packet socket's) is never reported, so it never waits for us.
_INET_LENGTHS = (16, 24, 28, 128)


def program(machine: Optional[str] = None) -> Optional[bytes]:
    """The filter: bind(2) of the native architecture with an IPv4/IPv6 address length is
    reported, every other call allowed (struct sock_filter[]). None where the architecture is
    not known here."""
    arch = _ARCH.get(machine or os.uname().machine)
    if arch is None:
        return None
    audit, nr_bind = arch
    n = len(_INET_LENGTHS)
    checks = [_insn(_JEQ_K, length, n - 1 - i, 1 if i == n - 1 else 0) for i, length in enumerate(_INET_LENGTHS)]
    return b"".join([
        _insn(_LD_W_ABS, 4),                  # seccomp_data.arch
        _insn(_JEQ_K, audit, 0, 4 + n),       # -> allow
        _insn(_LD_W_ABS, 0),                  # seccomp_data.nr
        _insn(_JEQ_K, nr_bind, 0, 2 + n),     # -> allow
        _insn(_LD_W_ABS, 32),                 # seccomp_data.args[2] (low half): the address length
        *checks,
        _insn(_RET_K, _RET_USER_NOTIF),
        _insn(_RET_K, _RET_ALLOW),
    ])


def install(sc: Optional[S.Syscalls] = None) -> int:
    """Install the filter in this process (which must hold CAP_SYS_ADMIN in its user namespace
    or have no_new_privs set); the listener's fd, or -1 when this kernel or architecture cannot
    (the ports are then forwarded as before)."""
    prog = program()
    if prog is None:
        return -1
    sc = sc or S.default()
    try:
        try:
            # Linux 5.19: a signal no longer interrupts a bind we are answering (it would restart it)
            fd = sc.seccomp_listener(prog, S.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            fd = sc.seccomp_listener(prog)
    except OSError:
        return -1   # EBUSY: a listener up the chain already (podpy in a container); EINVAL: old kernel
    os.set_inheritable(fd, False)
    return int(fd)


class Notification:
    __slots__ = ("id", "pid", "nr", "arch", "args")

    def __init__(self, data: bytes) -> None:
        fields = _NOTIF.unpack_from(data)
        self.id, self.pid, _flags, self.nr, self.arch = fields[:5]
        self.args = fields[6:]

    def is_bind(self) -> bool:
        arch = _ARCH.get(os.uname().machine)
        return arch is not None and self.arch == arch[0] and self.nr == arch[1]


def receive(listener: int) -> Optional[Notification]:
    """The next reported call; None when its caller is already gone."""
    buf = bytearray(_NOTIF.size)
    try:
        S.default().seccomp_notif_recv(listener, buf)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.EINTR):
            return None
        raise
    return Notification(bytes(buf))


def answer(listener: int, nid: int, error: int = 0) -> None:
    """The call returns 0, or fails with errno `error`."""
    try:
        S.default().seccomp_notif_send(listener, _RESP.pack(nid, 0, -error if error else 0, 0))
    except OSError as exc:
        if exc.errno != errno.ENOENT:   # the caller was killed meanwhile
            raise


def proceed(listener: int, nid: int) -> None:
    """The call goes on as its caller made it."""
    try:
        S.default().seccomp_notif_send(listener, _RESP.pack(nid, 0, 0, _FLAG_CONTINUE))
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def still_waiting(listener: int, nid: int) -> bool:
    """The caller still waits for this answer (so its pid was not reused since)."""
    try:
        S.default().seccomp_notif_id_valid(listener, nid)
        return True
    except OSError:
        return False


def place(listener: int, nid: int, src: int, target: int, cloexec: bool) -> None:
    """Put (a reference to) our fd `src` at the caller's fd number `target`, closing what was there."""
    S.default().seccomp_notif_addfd(listener, _ADDFD.pack(nid, _ADDFD_FLAG_SETFD, src, target,
                                                          os.O_CLOEXEC if cloexec else 0))


def read_memory(pid: int, address: int, length: int) -> bytes:
    """Bytes of a process's memory (the host user may: it owns the container's user namespaces)."""
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.pread(fd, max(0, min(length, _SOCKADDR_MAX)), address)
    finally:
        os.close(fd)


def parse_sockaddr(data: bytes) -> Optional[tuple[int, str, int, int]]:
    """(family, address, port, IPv6 scope id) of a sockaddr_in/sockaddr_in6; None for anything else."""
    if len(data) < 2:
        return None
    family = struct.unpack_from("=H", data)[0]
    # the lengths the kernel itself requires; a shorter one gets its EINVAL from the kernel
    if family == _socket.AF_INET and len(data) >= 16:
        return family, _socket.inet_ntop(_socket.AF_INET, data[4:8]), struct.unpack_from("!H", data, 2)[0], 0
    if family == _socket.AF_INET6 and len(data) >= 24:
        scope = struct.unpack_from("=I", data, 24)[0] if len(data) >= 28 else 0
        return family, _socket.inet_ntop(_socket.AF_INET6, data[8:24]), struct.unpack_from("!H", data, 2)[0], scope
    return None


def thread_group(pid: int) -> int:
    """The process a thread belongs to (pidfd_open takes a process)."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"Tgid:"):
                return int(line.split()[1])
    raise OSError(errno.ESRCH, "no such process")


def take_fd(pidfd: int, fd: int) -> int:
    """A duplicate of another process's fd (pidfd_getfd), close-on-exec."""
    return S.default().pidfd_getfd(pidfd, fd)


def fd_cloexec(pid: int, fd: int) -> bool:
    """Whether another process's fd is close-on-exec (fdinfo's octal flags)."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", "rb") as f:
            for line in f:
                if line.startswith(b"flags:"):
                    return bool(int(line.split()[1], 8) & os.O_CLOEXEC)
    except (OSError, ValueError):
        pass
    return False


# A socket filter (classic BPF, run on each TCP segment the socket receives, from the TCP
# header on) that drops a SYN-ACK: a listening socket and the connections it accepts never
# get one, a connection made from the socket always does. A server given the host's socket
# could otherwise disconnect it (shutdown, or connect to AF_UNSPEC) and connect from the
# host, to what only the host should reach (its loopback); locked, so it stays.
_GUARD = b"".join([
    _insn(0x30, 13),                  # ldb [13]: the TCP flags
    _insn(0x54, 0x12),                # and #SYN|ACK
    _insn(0x15, 0x12, 0, 1),          # jeq #SYN|ACK ? drop : keep
    _insn(_RET_K, 0),
    _insn(_RET_K, 0xFFFFFFFF),
])
SO_LOCK_FILTER = S.SO_LOCK_FILTER


def guard(sock: _socket.socket) -> bool:
    """Let sock (a host TCP socket for a container's server) serve, never connect. False where
    the kernel refuses: since Linux 6.1x (commit 5d39580f68e6) a filter on a TCP socket needs
    CAP_NET_ADMIN over the socket's network namespace, which a rootless user has only in its
    own."""
    try:
        S.default().attach_socket_filter(sock.fileno(), _GUARD)
        sock.setsockopt(_socket.SOL_SOCKET, SO_LOCK_FILTER, 1)
    except OSError:
        return False
    return True


def guarded(sock: _socket.socket) -> bool:
    try:
        return bool(sock.getsockopt(_socket.SOL_SOCKET, SO_LOCK_FILTER))
    except OSError:
        return False


_GUARD_WORKS: Optional[bool] = None


def guard_works() -> bool:
    """Whether this process may guard a host TCP socket (tried once)."""
    global _GUARD_WORKS
    if _GUARD_WORKS is None:
        probe = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            _GUARD_WORKS = guard(probe)
        finally:
            probe.close()
    return _GUARD_WORKS


def netns_inode(pid: int) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


# sock_diag (linux/inet_diag.h): the bound TCP sockets of this network namespace
_NETLINK_SOCK_DIAG, _SOCK_DIAG_BY_FAMILY = 4, 20
_NLM_F_REQUEST, _NLM_F_DUMP, _NLMSG_ERROR, _NLMSG_DONE = 1, 0x300, 2, 3
TCP_LISTEN, _TCP_BOUND_INACTIVE = 10, 13       # the second: bound, not listening (Linux 6.5)
_NLMSGHDR = struct.Struct("=IHHII")
_DIAG_REQ = struct.Struct("=BBBBI48x")          # family, protocol, ext, pad, states, sockid
_DIAG_MSG_INODE = 4 + 48 + 16                   # family..retrans, sockid, expires..uid


def tcp_sockets(bound_too: bool = True) -> dict[int, tuple[int, int]]:
    """inode -> (state, local port) of every listening TCP socket (IPv4 and IPv6) in this
    network namespace, and with bound_too of those bound and not listening (Linux 6.5 shows
    them; not every one of them, as seen: a socket missing here may still be bound)."""
    found: dict[int, tuple[int, int]] = {}
    states = 1 << TCP_LISTEN | (1 << _TCP_BOUND_INACTIVE if bound_too else 0)
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC, _NETLINK_SOCK_DIAG)
    try:
        for seq, family in enumerate((_socket.AF_INET, _socket.AF_INET6), 1):
            body = _DIAG_REQ.pack(family, _socket.IPPROTO_TCP, 0, 0, states)
            sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), _SOCK_DIAG_BY_FAMILY,
                                     _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0) + body)
            done = False
            while not done:
                data = sock.recv(65536)
                offset = 0
                while offset + _NLMSGHDR.size <= len(data):
                    length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                    if length < _NLMSGHDR.size or offset + length > len(data):
                        done = True
                        break
                    body_at = offset + _NLMSGHDR.size
                    if kind == _NLMSG_DONE:
                        done = True
                    elif kind == _NLMSG_ERROR:
                        err = -struct.unpack_from("=i", data, body_at)[0]
                        raise OSError(err, os.strerror(err))
                    elif kind == _SOCK_DIAG_BY_FAMILY and length >= _NLMSGHDR.size + _DIAG_MSG_INODE + 4:
                        state = data[body_at + 1]
                        port = struct.unpack_from("!H", data, body_at + 4)[0]
                        found[struct.unpack_from("=I", data, body_at + _DIAG_MSG_INODE)[0]] = (state, port)
                    offset += (length + 3) & ~3
    except struct.error as exc:
        raise OSError(errno.EPROTO, f"sock_diag: {exc}") from None
    finally:
        sock.close()
    return found


def listening_inodes() -> set[int]:
    """The inodes of every listening TCP socket (IPv4 and IPv6) in this network namespace."""
    return {inode for inode, (state, _) in tcp_sockets(False).items() if state == TCP_LISTEN}


def pass_through(listener: int) -> None:
    """Answer every reported bind with "go on" until no process of the container is left (for
    a container whose binds are reported with nobody else to answer them: closing the listener
    would fail every later bind with ENOSYS)."""
    import _thread
    import select

    def serve() -> None:
        poller = select.poll()
        poller.register(listener, select.POLLIN)
        try:
            while True:
                for _fd, ev in poller.poll():
                    if not ev & select.POLLIN:
                        return
                    try:
                        n = receive(listener)
                        if n is not None:
                            proceed(listener, n.id)
                    except OSError:
                        pass
        finally:
            os.close(listener)

    _thread.start_new_thread(serve, ())
