"""The monitor's part in a container's output and `podpy attach`: the output read and
written to the log and to attached clients, their input written to the container's stdin or
terminal. A mixin of service.Monitor, whose state it uses.

The monitor never waits for an attached client: every container it supervises would wait
with it. An attached client's socket does not block; what the client cannot take yet is
queued for it (up to BACKLOG bytes) and sent as it reads, and a client that falls further
behind is let go: it reads the end of the stream and waits for the container's exit, as
`podpy attach` does after a detach."""

from __future__ import annotations

import os
import select

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .channel import Channel
    from .container import Container

_CHUNK = 65536
BACKLOG = 4 << 20


class _Backlog:
    """The messages an attached client has not taken yet, oldest first."""

    __slots__ = ("messages", "size")

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.size = 0


class Streams:
    containers: dict[int, Container]
    handlers: dict[int, Any]
    poller: Any
    behind: dict[Channel, _Backlog]

    # -- output ------------------------------------------------------------------------------

    def _output(self, ctr: Container, fd: int) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""   # EIO: a terminal whose other side is closed
        if not data:
            self.unwatch(fd)
            if fd == ctr.pty:
                ctr.pty = None
            os.close(fd)
            del ctr.streams[fd]
            return
        if ctr.log is not None:
            ctr.log.write(ctr.streams[fd], data)
        for client in list(ctr.attached):
            self._send(ctr, client, "output", stream=ctr.streams[fd], data=data)

    def _send(self, ctr: Container, client: Channel, kind: str, **fields: Any) -> None:
        """A message to an attached client, queued behind what it has not taken yet; a client
        too far behind, or gone, is detached."""
        behind = self.behind.get(client)
        if behind is None:
            try:
                client.send(kind, **fields)
                return
            except BlockingIOError:
                behind = self.behind[client] = _Backlog()
                self.poller.modify(client.fileno(), select.POLLIN | select.POLLOUT)
            except (BrokenPipeError, ConnectionResetError):
                self._last_words(ctr, client)
                return
            except OSError:
                self._detach(ctr, client)
                return
        fields["type"] = kind
        message = client.encode(fields)
        if behind.size + len(message) > BACKLOG:
            self._detach(ctr, client)
            return
        behind.messages.append(message)
        behind.size += len(message)

    def _catch_up(self, client: Channel) -> Optional[bool]:
        """Send a client what is queued for it, as far as it takes it now: True when all is
        taken, False when some waits still, None when the client has gone."""
        behind = self.behind.get(client)
        if behind is None:
            return True
        while behind.messages:
            try:
                client.sock.send(behind.messages[0])
            except BlockingIOError:
                return False
            except OSError:
                return None
            behind.size -= len(behind.messages.pop(0))
        del self.behind[client]
        return True

    # -- attach ------------------------------------------------------------------------------

    def _attach(self, chan: Channel, cid: str) -> None:
        ctr = next((c for c in self.containers.values() if c.id == cid and c.exit_code is None), None)
        if ctr is None:
            chan.send("error", error={"kind": "setup", "message": f"container {cid[:12]} is not running"})
            return
        ctr.attached.append(chan)
        chan.send("attached", tty=ctr.pty is not None, stdin=ctr.stdin is not None or ctr.pty is not None)
        chan.sock.setblocking(False)
        self.handlers[chan.fileno()] = lambda fd: self._attached_ready(ctr, chan)

    def _attached_ready(self, ctr: Container, chan: Channel) -> None:
        """An attached client's socket is ready: it takes what is queued for it, or it sent a
        message (or closed)."""
        if chan in self.behind:
            caught_up = self._catch_up(chan)
            if caught_up is None:
                self._last_words(ctr, chan)
                return
            if caught_up:
                self.poller.modify(chan.fileno(), select.POLLIN)
        msg = self._take(chan)
        if msg is None:
            self._detach(ctr, chan)
        elif msg:
            self._handle(ctr, msg)

    @staticmethod
    def _take(chan: Channel) -> Optional[dict[str, Any]]:
        """A client's next message from its non-blocking socket: {} when none is there yet,
        None at its end (fds it should not have sent closed)."""
        try:
            msg, fds = chan.recv()
        except BlockingIOError:
            return {}
        except OSError:
            msg, fds = None, []
        for fd in fds:
            os.close(fd)
        return msg

    def _last_words(self, ctr: Container, chan: Channel) -> None:
        """A client that has gone (its socket closed) detached, once what it sent before it
        closed is handled: a resize sent just before closing must not be dropped because the
        container printed first. Reading cannot wait: the peer is closed, so the queue ends."""
        while msg := self._take(chan):
            self._handle(ctr, msg)
        self._detach(ctr, chan)

    def _handle(self, ctr: Container, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        target = ctr.pty if ctr.pty is not None else ctr.stdin
        if kind == "input" and target is not None:
            try:
                os.write(target, bytes(msg.get("data") or b""))
            except OSError:
                pass
        elif kind == "eof" and ctr.stdin is not None and ctr.pty is None:
            os.close(ctr.stdin)
            ctr.stdin = None
        elif kind == "resize" and ctr.pty is not None:
            # rootless.syscalls without ctypes (loaded only by calls that need it): a few small modules
            from rootless import syscalls

            try:
                syscalls.default().set_winsize(ctr.pty, int(msg["rows"]), int(msg["cols"]))
            except (OSError, KeyError, ValueError, OverflowError, TypeError):
                pass

    def _detach(self, ctr: Container, chan: Channel) -> None:
        if chan in ctr.attached:
            ctr.attached.remove(chan)
        self.behind.pop(chan, None)
        self._drop(chan)

    def _let_go(self, ctr: Container, chan: Channel, code: Optional[int]) -> None:
        """Tell an attached client its container has exited; it is let go once it has taken
        that (and what was queued before it)."""
        self._send(ctr, chan, "exit", code=code)
        if chan not in ctr.attached:
            return   # gone, or too far behind: detached already
        ctr.attached.remove(chan)
        if chan not in self.behind:
            self._drop(chan)
            return
        self.handlers[chan.fileno()] = lambda fd: self._closing_ready(chan)

    def _closing_ready(self, chan: Channel) -> None:
        """A released client's socket is ready: it takes more of what is queued (what it sends
        now has no container to go to)."""
        caught_up = self._catch_up(chan)
        if caught_up is False:
            msg = self._take(chan)
            if msg is not None:
                return
        self.behind.pop(chan, None)
        self._drop(chan)
