"""Typed messages between the host side and a container's set-up processes.

A SOCK_SEQPACKET socketpair keeps message boundaries, so each message is one
marshalled dict, optionally carrying file descriptors (SCM_RIGHTS) such as a pty
master. End of file means the peer closed its end: for the container's init
that happens on a successful execve, because the socket is close-on-exec.
"""

from __future__ import annotations

import _socket
import _struct   # struct's C half: struct.py is one more file to find and load on every run
import marshal
import os

from .errors import RuntimeFailure, SetupError, from_wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

_MAX = 65536
_MAX_FDS = 4
# socket.py (with its enums and selectors) is not imported for this: _socket has all of it.
_SOL_SOCKET, _SCM_RIGHTS = _socket.SOL_SOCKET, _socket.SCM_RIGHTS


class Channel:
    """One end of the sync socketpair. Messages are marshalled dicts: both ends are this
    user's podpy processes of one interpreter (a command and the processes it forked, or its
    monitor), and marshal is built in where json would cost its imports (`re`, `enum`)."""

    max_message = _MAX
    max_fds = _MAX_FDS

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock

    @classmethod
    def pair(cls) -> tuple["Channel", "Channel"]:
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        return cls(a), cls(b)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, kind: str, fds: Optional[list[int]] = None, **fields: Any) -> None:
        fields["type"] = kind
        data = self.encode(fields)
        if fds:
            rights = _struct.pack(f"{len(fds)}i", *fds)
            self.sock.sendmsg([data], [(_SOL_SOCKET, _SCM_RIGHTS, rights)])
        else:
            self.sock.send(data)

    def send_error(self, exc: BaseException) -> None:
        wire = exc.to_wire() if isinstance(exc, RuntimeFailure) else {
            "kind": "setup", "message": f"{type(exc).__name__}: {exc}"}
        self.send("error", error=wire)

    def report(self, exc: BaseException) -> None:
        """send_error by a process about to exit: a peer that is gone already is no error."""
        try:
            self.send_error(exc)
        except OSError:
            pass

    def recv(self) -> tuple[Optional[dict[str, Any]], list[int]]:
        """Next message and the fds that came with it; (None, []) at end of file."""
        # close-on-exec, as every fd Python opens itself: a received fd must not leak into
        # the helpers the receiver spawns later (a slirp4netns exit pipe, a listener)
        args = (self.max_message, _socket.CMSG_SPACE(self.max_fds * 4), _socket.MSG_CMSG_CLOEXEC)
        try:
            data, ancillary, _flags, _addr = self.sock.recvmsg(*args)
        except ConnectionResetError:
            # The peer closed with messages of ours unread: the kernel reports that once,
            # ahead of what the peer sent before it closed (an init's error): read that.
            try:
                data, ancillary, _flags, _addr = self.sock.recvmsg(*args)
            except ConnectionResetError:
                return None, []
        fds: list[int] = []
        for level, kind, payload in ancillary:
            if level == _SOL_SOCKET and kind == _SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                fds.extend(_struct.unpack(f"{usable // 4}i", payload[:usable]))
        if not data:
            for fd in fds:
                os.close(fd)
            return None, []
        msg = self.decode(data)
        if msg is None:
            for fd in fds:
                os.close(fd)
            return {"type": "invalid"}, []
        return msg, fds

    def encode(self, fields: dict[str, Any]) -> bytes:
        return marshal.dumps(fields)

    def decode(self, data: bytes) -> Optional[dict[str, Any]]:
        """The message, or None when it is not one."""
        try:
            msg = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            return None
        return msg if isinstance(msg, dict) else None

    def expect(self, kind: str) -> tuple[dict[str, Any], list[int]]:
        """Receive a message of `kind`; an error message is raised as its typed error."""
        msg, fds = self.recv()
        if msg is None:
            raise SetupError(f"container set-up ended before sending `{kind}`")
        if msg.get("type") == "error":
            raise from_wire(msg["error"])
        if msg.get("type") != kind:
            raise SetupError(f"container set-up sent `{msg.get('type')}`, expected `{kind}`")
        return msg, fds

    def close(self) -> None:
        self.sock.close()


# -- a per-user service's socket (the monitor's, the network holder's) --------

def _address(directory: str, name: str) -> tuple[str, int]:
    """A socket's address, and an fd to close after use (-1 for none): a unix socket's path is
    limited to 107 bytes, so a longer one is reached through /proc/self/fd/N of its directory."""
    path = os.path.join(directory, name)
    if len(path.encode()) < 100:
        return path, -1
    fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{fd}/{name}", fd


def listen(directory: str, name: str, backlog: int) -> _socket.socket:
    """A non-blocking SOCK_SEQPACKET socket listening at directory/name (made anew)."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK)
    try:
        os.unlink(os.path.join(directory, name))
    except FileNotFoundError:
        pass
    where, dirfd = _address(directory, name)
    try:
        sock.bind(where)
    finally:
        if dirfd >= 0:
            os.close(dirfd)
    sock.listen(backlog)
    return sock


def connect(directory: str, name: str) -> Optional[_socket.socket]:
    """A connection to the socket at directory/name; None when nothing listens there."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    where, dirfd = _address(directory, name)
    try:
        sock.connect(where)
        return sock
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    finally:
        if dirfd >= 0:
            os.close(dirfd)


class Service:
    """What the per-user services (the monitor, the network holder) share: a listening socket
    in their runtime directory and a poll loop that calls a handler per ready fd."""

    def __init__(self, runroot: str, name: str, backlog: int) -> None:
        import select

        self.runroot = runroot
        self.socket_name = name
        self.poller = select.poll()
        self.handlers: dict[int, Any] = {}
        self.sock = listen(runroot, name, backlog)
        self.clients = 0   # connected clients, each served by the subclass's _request(chan)
        self.watch(self.sock.fileno(), self._accept)

    channel_class: Any = Channel

    def _accept(self, _fd: int) -> None:
        while True:
            try:
                conn, _ = self.sock._accept()  # type: ignore[attr-defined]
            except OSError:
                return   # none waiting (or gone meanwhile)
            chan = self.channel_class(_socket.socket(fileno=conn))
            self.clients += 1
            self.watch(conn, lambda fd, chan=chan: self._request(chan))

    def _request(self, chan: Any) -> None:
        raise NotImplementedError

    def watch(self, fd: int, handler: Any, events: int = 0) -> None:
        """Call handler(fd) when fd is readable (or ready for `events`, poll(2)'s flags)."""
        import select

        self.handlers[fd] = handler
        self.poller.register(fd, events or select.POLLIN)

    def unwatch(self, fd: int) -> None:
        if self.handlers.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def dispatch(self, timeout_ms: int) -> None:
        """Wait up to timeout_ms for ready fds and call their handlers."""
        try:
            events = self.poller.poll(timeout_ms)
        except InterruptedError:
            return
        for fd, _ev in events:
            handler = self.handlers.get(fd)
            if handler is not None:
                handler(fd)

    def leave(self) -> None:
        """Stop taking requests: a client that connects meanwhile sees no one (and starts anew)."""
        try:
            os.unlink(os.path.join(self.runroot, self.socket_name))
        except OSError:
            pass
        self.sock.close()
