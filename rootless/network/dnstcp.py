"""DNS over TCP for one user network (RFC 7766), beside the UDP responder.

A resolver asks over TCP when a UDP answer came back truncated, and some ask over TCP
only. Each connection carries queries and answers with a two-byte length before each; a
query is answered from the network's records as over UDP, or passed on upstream over a TCP
connection of its own (slirp4netns's resolver takes TCP too), whose answer goes back on the
client's connection. Everything is non-blocking in the holder's poll loop; a connection
idle for IDLE seconds is closed, an upstream that has not answered in UPSTREAM_TIMEOUT is
given up (the client asks again or gives up itself).
"""

from __future__ import annotations

import _socket
import errno
import select
import struct
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

IDLE = 30.0
UPSTREAM_TIMEOUT = 10.0
MAX_CLIENTS = 64
_LEN = struct.Struct("!H")


class _Conn:
    __slots__ = ("sock", "buf", "out", "deadline", "client")

    def __init__(self, sock: _socket.socket, deadline: float, client: Optional["_Conn"] = None) -> None:
        self.sock = sock
        self.buf = b""
        self.out = b""
        self.deadline = deadline
        self.client = client   # for an upstream connection: whom its answer goes to


class TcpDns:
    """The TCP side of one network's responder. service: the poll loop (watch/unwatch);
    respond(query) -> bytes to send back, b"" to drop it, None to pass it upstream."""

    def __init__(self, service: Any, address: tuple[str, int], respond: Callable[[bytes], Optional[bytes]],
                 upstream: Optional[tuple[str, int]]) -> None:
        self.service = service
        self.respond = respond
        self.upstream = upstream
        self.conns: dict[int, _Conn] = {}
        self.sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK)
        try:
            self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            self.sock.bind(address)
            self.sock.listen(16)
        except OSError:
            self.sock.close()
            raise
        service.watch(self.sock.fileno(), self._accept)

    def close(self) -> None:
        for fd in list(self.conns):
            self._drop(fd)
        self.service.unwatch(self.sock.fileno())
        self.sock.close()

    def expire(self, now: float) -> None:
        for fd, conn in list(self.conns.items()):
            if now > conn.deadline:
                self._drop(fd)

    # -- clients -------------------------------------------------------------------------

    def _accept(self, _fd: int) -> None:
        while True:
            try:
                fd, _ = self.sock._accept()  # type: ignore[attr-defined]
            except OSError:
                return
            conn = _socket.socket(fileno=fd)
            if len(self.conns) >= MAX_CLIENTS:
                conn.close()
                continue
            conn.setblocking(False)
            self.conns[fd] = _Conn(conn, time.monotonic() + IDLE)
            self.service.watch(fd, self._readable)

    def _readable(self, fd: int) -> None:
        conn = self.conns.get(fd)
        if conn is None:
            return
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(fd)   # the client is done, or upstream closed without (all of) an answer
            return
        conn.buf += data
        conn.deadline = time.monotonic() + (IDLE if conn.client is None else UPSTREAM_TIMEOUT)
        while len(conn.buf) >= 2:
            (length,) = _LEN.unpack_from(conn.buf)
            if len(conn.buf) < 2 + length:
                break
            message, conn.buf = conn.buf[2:2 + length], conn.buf[2 + length:]
            if conn.client is not None:
                self._send(conn.client, message)   # upstream's answer
                self._drop(fd)
                return
            reply = self.respond(message)
            if reply is None:
                self._pass_on(conn, message)
            elif reply:
                self._send(conn, reply)

    def _send(self, conn: _Conn, message: bytes) -> None:
        if conn.sock.fileno() < 0:
            return
        conn.out += _LEN.pack(len(message)) + message
        self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        try:
            sent = conn.sock.send(conn.out)
            conn.out = conn.out[sent:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._drop(conn.sock.fileno())
            return
        if conn.out:
            # The client reads slowly (an answer is at most 64 KiB): wait until it can take more.
            self.service.unwatch(conn.sock.fileno())
            self.service.watch(conn.sock.fileno(), lambda fd, c=conn: self._writable(c), select.POLLOUT)

    def _writable(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        self.service.unwatch(fd)
        self.service.watch(fd, self._readable)
        self._flush(conn)

    # -- upstream ------------------------------------------------------------------------

    def _pass_on(self, client: _Conn, message: bytes) -> None:
        if self.upstream is None:
            return
        up = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK)
        err = up.connect_ex(self.upstream)
        if err not in (0, errno.EINPROGRESS):
            up.close()
            return
        conn = _Conn(up, time.monotonic() + UPSTREAM_TIMEOUT, client)
        conn.out = _LEN.pack(len(message)) + message
        self.conns[up.fileno()] = conn
        self.service.watch(up.fileno(), lambda fd, c=conn: self._connected(c), select.POLLOUT)

    def _connected(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if conn.sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR):
            self._drop(fd)
            return
        self.service.unwatch(fd)
        self.service.watch(fd, self._readable)
        self._flush(conn)

    def _drop(self, fd: int) -> None:
        conn = self.conns.pop(fd, None)
        if conn is None:
            return
        self.service.unwatch(fd)
        conn.sock.close()
        for other_fd, other in list(self.conns.items()):
            if other.client is conn:   # its client is gone: so is what it waited for
                self._drop(other_fd)
