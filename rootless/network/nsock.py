"""Sockets made inside a container's network namespace, for a process outside it.

A socket belongs to the network namespace it was created in, whoever uses it
afterwards: a socket made in the container's namespace and handed to the host
side connects to the container's addresses there. The host side cannot make
one itself: setns() into a network namespace needs CAP_SYS_ADMIN over the user
namespace that owns it and in the caller's own, which an unprivileged process
has only after entering the container's user namespace, with no way back.

So a small helper does it: a fork of the process that starts the container (no
new interpreter), made before any thread, that enters the container's user
namespace (its owner, the host user, may) and then its network namespace, and
answers each request on a SOCK_SEQPACKET socketpair (family, type, count) with
that many new sockets (SCM_RIGHTS). It exits when the other end is closed: with
the forwarder that owns it, so with the container; a foreground one also dies
with podpy (PDEATHSIG).
"""

from __future__ import annotations

import _signal
import _socket
import gc
import os
import struct

from .. import syscalls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

_REQUEST = struct.Struct("=iiI")
_MAX_BATCH = 64


class SocketSource:
    """The host side of a helper: new sockets in the container's network namespace."""

    def __init__(self, fd: int, pid: int = 0) -> None:
        import _thread

        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, fd)
        self.pid = pid
        self.lock = _thread.allocate_lock()   # one request and its answer at a time

    def fileno(self) -> int:
        return self.sock.fileno()

    def detach(self) -> int:
        """Give up the socket (to another process, which makes a SocketSource of it)."""
        return self.sock.detach()

    def sockets(self, family: int, kind: int, count: int = 1) -> list[_socket.socket]:
        """`count` new sockets made in the namespace (OSError if the helper is gone)."""
        count = max(1, min(count, _MAX_BATCH))
        with self.lock:
            self.sock.send(_REQUEST.pack(family, kind, count))
            data, ancillary, _flags, _addr = self.sock.recvmsg(16, _socket.CMSG_SPACE(count * 4),
                                                               _socket.MSG_CMSG_CLOEXEC)
        fds: list[int] = []
        for level, typ, payload in ancillary:
            if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                fds.extend(struct.unpack(f"{usable // 4}i", payload[:usable]))
        if not fds:
            err = int.from_bytes(data[:4], "little") if len(data) >= 4 else 0
            raise OSError(err or 5, f"no socket from the container's namespace: {os.strerror(err or 5)}")
        return [_socket.socket(family, kind, 0, fd) for fd in fds]

    def close(self) -> None:
        self.sock.close()


def spawn(pid: int, userns: bool, tied: bool) -> SocketSource:
    """Fork the helper for the network namespace of process `pid` (a container's init; the
    host user may open its /proc/PID/ns files, being the owner of its user namespaces).
    userns: enter the user namespace that owns it first (rootless). tied: it dies with this
    process (PDEATHSIG)."""
    netns_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    userns_fd = -1
    if userns:
        # The user namespace that owns the network namespace, which need not be the init's own
        # (with --userns=keep-id the init moves on into one nested in it).
        try:
            userns_fd = syscalls.default().ns_get_userns(netns_fd, f"/proc/{pid}/ns/net")
        except OSError:
            os.close(netns_fd)
            raise
    here, there = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    syscalls.default().load()   # libc loaded before the fork: shared with the helper rather than copied into it
    try:
        child = os.fork()
        if child == 0:
            # No garbage collection here: a collection would touch every object the fork
            # shares with its parent and copy the pages (a few MB per container).
            gc.disable()
            code = 1
            try:
                here.close()
                _helper(there, userns_fd, netns_fd, tied)
                code = 0
            finally:
                os._exit(code)
    finally:
        there.close()
        os.close(netns_fd)
        if userns_fd >= 0:
            os.close(userns_fd)
    return SocketSource(here.detach(), child)


def _helper(chan: _socket.socket, userns_fd: int, netns_fd: int, tied: bool) -> None:
    sc = syscalls.default()
    if tied:
        sc.set_pdeathsig(_signal.SIGKILL)
    os.setsid()
    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2,
                _signal.SIGWINCH, _signal.SIGCHLD):
        _signal.signal(sig, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    # Nothing of the caller's stays open here: not the container's output pipes (whose readers
    # wait for every writer), not the terminal, not the caller's sockets.
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    keep = sorted((chan.fileno(), userns_fd, netns_fd))
    low = 3
    for fd in keep:
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 16)
    if userns_fd >= 0:
        sc.setns(userns_fd, syscalls.CLONE_NEWUSER, "user namespace")
    sc.setns(netns_fd, syscalls.CLONE_NEWNET, "network namespace")
    os.close(netns_fd)
    if userns_fd >= 0:
        os.close(userns_fd)
    _serve(chan)


def _serve(chan: _socket.socket) -> None:
    while True:
        try:
            data = chan.recv(64)
        except InterruptedError:
            continue
        except OSError:
            return
        if len(data) != _REQUEST.size:
            return
        family, kind, count = _REQUEST.unpack(data)
        made: list[int] = []
        err = 0
        try:
            for _ in range(min(count, _MAX_BATCH)):
                made.append(_socket.socket(family, kind | _socket.SOCK_CLOEXEC).detach())
        except OSError as exc:
            err = exc.errno or 5
        try:
            if made:
                chan.sendmsg([b"ok"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(made)}i", *made))])
            else:
                chan.send(err.to_bytes(4, "little"))
        except OSError:
            return
        finally:
            for fd in made:
                os.close(fd)


def connect_in(source: SocketSource, address: tuple[str, int], kind: int = _socket.SOCK_STREAM,
               timeout: Optional[float] = None) -> _socket.socket:
    """One socket made in the namespace and connected there to address."""
    family = _socket.AF_INET6 if ":" in address[0] else _socket.AF_INET
    sock = source.sockets(family, kind, 1)[0]
    try:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.settimeout(None)
    except OSError:
        sock.close()
        raise
    return sock
