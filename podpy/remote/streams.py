"""The byte streams of remote verbs: logs, attach and exec's output (Docker's multiplexed frames:
a stream byte, three zeros, a big-endian length, then the data) and stdin going the other way."""

from __future__ import annotations

import socket
import sys
import threading

from .client import ServiceError, demux, done

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

    from .client import Client

ATTACH_HEADERS = {"Connection": "Upgrade", "Upgrade": "tcp"}


def logs(client: Client, names: list[str], opts: Any) -> Iterator[tuple[Any, Any]]:
    """(container, log entry) for each line of each container's log (the local engine's shape):
    every name is looked up first, so a missing one fails before any line."""
    from ..engine.logs import Entry
    from ..errors import NoSuchContainer
    from ..formats import parse_rfc3339, rfc3339
    from .base import _q

    found = []
    for name in names:
        try:
            doc = client.call("GET", f"/containers/{_q(name)}/json")
        except ServiceError as exc:
            if exc.status == 404:
                raise NoSuchContainer(str(exc)) from None
            raise
        found.append((Who(doc), bool((doc.get("Config") or {}).get("Tty"))))

    def entries() -> Iterator[tuple[Any, Any]]:
        query: dict[str, Any] = {"stdout": True, "stderr": True, "follow": opts.follow, "timestamps": True,
                                 "tail": opts.tail if opts.tail is not None and opts.tail >= 0 else "all"}
        if opts.since is not None:
            query["since"] = rfc3339(opts.since)
        if opts.until is not None:
            query["until"] = rfc3339(opts.until)
        for who, tty in found:
            resp = client.open("GET", f"/containers/{who.id}/logs", query, timeout=None)
            frames = ((1, chunk) for chunk in iter(lambda: resp.read1(65536), b"")) if tty else demux(resp)
            pending = {1: b"", 2: b""}
            for kind, data in frames:
                kind = 2 if kind == 2 else 1
                pending[kind] += data
                *lines, pending[kind] = pending[kind].split(b"\n")
                for line in lines:
                    stamp, _, text = line.partition(b" ")
                    when = parse_rfc3339(stamp.decode("ascii", "replace")) or 0.0
                    yield who, Entry(stamp, when, b"stderr" if kind == 2 else b"stdout", text + b"\n")
            done(resp)
            for kind, rest in pending.items():
                if rest:
                    stamp, _, text = rest.partition(b" ")
                    yield who, Entry(stamp, parse_rfc3339(stamp.decode("ascii", "replace")) or 0.0,
                                     b"stderr" if kind == 2 else b"stdout", text)
    return entries()


class Who:
    """The name and id of a container, as the CLI's log lines prefix them."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.id = str(doc.get("Id") or "")
        self.name = str(doc.get("Name") or "").lstrip("/")


def copy_out(stream: Any, tty: bool = False) -> None:
    """A stream's frames to this process's stdout and stderr, until it ends."""
    out, err = sys.stdout.buffer, sys.stderr.buffer
    if tty:
        for chunk in iter(lambda: stream.read1(65536), b""):
            out.write(chunk)
            out.flush()
        return
    for kind, data in demux(stream):
        target = err if kind == 2 else out
        target.write(data)
        target.flush()


def copy_in(sock: Optional[socket.socket], keys: bytes = b"",
            detached: Optional[threading.Event] = None) -> threading.Thread:
    """This process's stdin to the socket (then its write side shut), in a thread. keys: the
    detach keys, which (typed on a terminal) set detached and end the stream instead."""
    def pump() -> None:
        from rootless.tty import Escape

        escape = Escape(keys) if keys and detached is not None else None
        try:
            fd = sys.stdin.fileno()
            import os

            while True:
                data = os.read(fd, 65536)
                if not data:
                    break
                assert sock is not None
                if escape is not None:
                    data, found = escape.feed(data)
                    if found:
                        assert detached is not None
                        detached.set()
                        sock.shutdown(socket.SHUT_RDWR)
                        return
                sock.sendall(data)
            assert sock is not None
            sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError, AssertionError):
            pass

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def attach(client: Client, cid: str, stdin: bool, pump: bool = True) -> Any:
    """The attach stream of a container (opened before its start, so no output is lost):
    the response, whose fp is the stream; with stdin and pump, this process's stdin goes to it
    (without pump, the caller sends it: a terminal's relay)."""
    query = {"stdout": True, "stderr": True, "stream": True, "stdin": stdin}
    resp = client.open("POST", f"/containers/{cid}/attach", query, headers=ATTACH_HEADERS, timeout=None)
    if stdin and pump:
        copy_in(_sock(resp))
    return resp


def _sock(resp: Any) -> Optional[socket.socket]:
    """The socket under an http.client response (for the bytes that go up a hijacked stream)."""
    raw = getattr(resp.fp, "raw", None)
    return getattr(raw, "_sock", None)
