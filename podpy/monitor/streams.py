"""The monitor's part in a container's output and `podpy attach`: the output read and
written to the log and to attached clients, their input written to the container's stdin or
terminal. A mixin of service.Monitor, whose state it uses."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .channel import Channel
    from .container import Container

_CHUNK = 65536


class Streams:
    containers: dict[int, Container]
    handlers: dict[int, Any]

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
            try:
                client.send("output", stream=ctr.streams[fd], data=data)
            except (BrokenPipeError, ConnectionResetError):
                self._last_words(ctr, client)
            except OSError:
                self._detach(ctr, client)

    # -- attach ------------------------------------------------------------------------------

    def _attach(self, chan: Channel, cid: str) -> None:
        ctr = next((c for c in self.containers.values() if c.id == cid and c.exit_code is None), None)
        if ctr is None:
            chan.send("error", error={"kind": "setup", "message": f"container {cid[:12]} is not running"})
            return
        ctr.attached.append(chan)
        chan.send("attached", tty=ctr.pty is not None, stdin=ctr.stdin is not None or ctr.pty is not None)
        self.handlers[chan.fileno()] = lambda fd: self._attached_input(ctr, chan)

    def _attached_input(self, ctr: Container, chan: Channel) -> None:
        msg = self._read(chan)
        if msg is None:
            self._detach(ctr, chan)
            return
        self._handle(ctr, msg)

    def _last_words(self, ctr: Container, chan: Channel) -> None:
        """A client that has gone (its socket closed) detached, once what it sent before it
        closed is handled: a resize sent just before closing must not be dropped because the
        container printed first. Reading cannot block: the peer is closed, so the queue ends."""
        while (msg := self._read(chan)) is not None:
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
        self._drop(chan)
