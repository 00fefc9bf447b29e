"""Streaming container routes: attach (hijacked), logs, stats.

Docker's clients attach before they start the container, and a short command's output
may be written before any attach to the monitor could be made. So the output an attach
sends is read from the container's log (k8s-file, written by the monitor), from where the
log ended when the attach came, until the monitor has written the exit (after draining the
container's streams); input goes to the monitor once the container runs. A container that
keeps no log (--log-driver none, journald) is attached to the monitor's live stream.

Without a terminal, output is framed as Docker multiplexes it: a byte for the stream
(1 stdout, 2 stderr), three zero bytes, the length (big-endian 32 bits), the data.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import threading
import time

from .containers import engine, lookup
from .errors import ApiError, BadParameter
from .http import Hijack, Streamed
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

    from .http import Request

routes = RouteTable()
POLL = 0.02          # seconds between two looks at a followed log
STREAM_IDS = {"stdout": 1, "stderr": 2}


def frame(stream: str, data: bytes) -> bytes:
    return struct.pack(">BxxxL", STREAM_IDS.get(stream, 1), len(data)) + data


class LogTail:
    """A k8s-file log read from where it ended as it grows: (stream, bytes) as written,
    partial lines (P) passed on at once, so a prompt without a newline shows. The file is
    opened (made, before the container's first start) at once and held open: a container
    removed at its exit (--rm) takes its log's name, not what was written to it."""

    def __init__(self, path: str) -> None:
        self.path, self.rest = path, b""
        self.f: Optional[Any] = None
        self._open(at_end=True)

    def _open(self, at_end: bool) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        self.f = os.fdopen(fd, "rb")
        if at_end:
            self.f.seek(0, os.SEEK_END)

    def read(self) -> list[tuple[str, bytes]]:
        if self.f is None:
            self._open(at_end=False)
            if self.f is None:
                return []
        data = self.f.read()
        if not data:
            try:
                rotated = os.stat(self.path).st_ino != os.fstat(self.f.fileno()).st_ino
            except OSError:
                rotated = False
            if rotated:   # the monitor started a new file: read it from its start
                self.close()
                self._open(at_end=False)
                data = self.f.read() if self.f is not None else b""
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        out = []
        for line in lines:
            parts = line.split(b" ", 3)
            if len(parts) < 3:
                continue
            text = parts[3] if len(parts) > 3 else b""
            out.append((parts[1].decode("ascii", "replace"), text + (b"\n" if parts[2] == b"F" else b"")))
        return out

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


class Attachment:
    """One hijacked attach: the container's output to the socket, the socket's input to it."""

    def __init__(self, req: Request, rec: Any, sock: socket.socket, streams: set[str], stdin: bool) -> None:
        from ..engine.start import log_path

        self.req, self.rec, self.sock = req, rec, sock
        self.rt = req.runtime()
        self.streams, self.want_stdin = streams, stdin and (rec.config.interactive or rec.config.tty)
        self.tty = bool(rec.config.tty)
        self.logged = rec.config.log_driver in ("k8s-file", "json-file")
        self.tail = LogTail(log_path(self.rt, rec)) if self.logged else None
        self.chan: Any = None
        self.lock = threading.Lock()
        self.pending: list[Any] = []   # input that came before the monitor could take it
        self.closed = False

    def send(self, stream: str, data: bytes) -> None:
        if stream in self.streams and data:
            self.sock.sendall(data if self.tty else frame(stream, data))

    def _to_monitor(self, kind: str, **fields: Any) -> None:
        with self.lock:
            if self.chan is None:
                self.pending.append((kind, fields))
                return
            try:
                self.chan.send(kind, **fields)
            except OSError:
                pass

    def _input(self, already: bytes) -> None:
        """The socket's bytes to the container's stdin; its end closes the stdin."""
        if already:
            self._to_monitor("input", data=already)
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                if not self.tty:
                    self._to_monitor("eof")
                return
            self._to_monitor("input", data=data)

    def _connect(self) -> bool:
        """Attach to the monitor once the container runs; False when it is no more running."""
        from ..monitor.client import connect_monitor

        try:
            chan = connect_monitor(self.rt.cfg.runroot)
            chan.send("attach", id=self.rec.id)
            reply, fds = chan.recv()
        except OSError:
            return False
        for fd in fds:
            os.close(fd)
        if reply is None or reply.get("type") != "attached":
            chan.close()
            return False
        with self.lock:
            self.chan = chan
            for kind, fields in self.pending:
                try:
                    chan.send(kind, **fields)
                except OSError:
                    pass
            self.pending = []
        return True

    def run(self, already: bytes) -> None:
        from ..engine.container import Container
        from ..state import PAUSED, RUNNING

        if self.want_stdin:
            threading.Thread(target=self._input, args=(already,), daemon=True).start()
        # A stopped container is waited for (docker's `start -a` attaches, then starts); a start
        # since the attach shows in started_at, even when the run was over before a look saw it.
        ever_ran = False
        started_at = self.rec.started_at
        try:
            while True:
                now = self.rt.state.get(self.rec.id)
                running = now is not None and now.state in (RUNNING, PAUSED)
                if now is not None and now.started_at != started_at and now.state not in ("created", "configured"):
                    ever_ran = True
                over = now is None or (ever_ran and not running) or (
                    running and now.detached and Container(self.rt, now).read_exit() is not None)
                if running and self.chan is None and not over:
                    ever_ran = True
                    if not self._connect() and not self.logged:
                        over = True
                if self.tail is not None:
                    for stream, data in self.tail.read():
                        self.send(stream, data)
                    self._discard_monitor_output()
                elif self.chan is not None and not over:
                    if not self._live():
                        over = True
                if over:
                    if self.tail is not None:
                        for stream, data in self.tail.read():
                            self.send(stream, data)
                    return
                # (no look at the socket's read side: docker's client shuts its writing half
                # when it sends no input; a client that went away fails the next send)
                time.sleep(POLL if self.tail is not None or self.chan is None else 0)
        except OSError:
            return   # the client went away
        finally:
            self.closed = True
            if self.tail is not None:
                self.tail.close()
            with self.lock:
                if self.chan is not None:
                    self.chan.close()
                    self.chan = None
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _discard_monitor_output(self) -> None:
        """The monitor sends an attached client the output too: read from the log here, it is
        taken off the channel and dropped, so the monitor never waits on a full channel."""
        with self.lock:
            chan = self.chan
            if chan is None:
                return
            while select.select([chan.fileno()], [], [], 0)[0]:
                try:
                    msg, fds = chan.recv()
                except OSError:
                    return
                for fd in fds:
                    os.close(fd)
                if msg is None:
                    return

    def _live(self) -> bool:
        """The monitor's output for a container without a log; False at its exit."""
        ready, _, _ = select.select([self.chan.fileno()], [], [], POLL)
        if not ready:
            return True
        msg, fds = self.chan.recv()
        for fd in fds:
            os.close(fd)
        if msg is None or msg.get("type") == "exit":
            return False
        if msg.get("type") == "output":
            self.send(str(msg.get("stream") or "stdout"), bytes(msg.get("data") or b""))
        return True


@routes.post("/containers/{id}/attach")
def attach(req: Request) -> Hijack:
    rec = lookup(req)
    if not (req.flag("stream") or req.flag("logs")):
        raise BadParameter("attach needs stream=1 or logs=1")
    streams = {s for s in ("stdout", "stderr") if req.flag(s)}
    want_stdin = req.flag("stdin")
    if rec.state == "removing":
        raise ApiError(409, f"container {rec.id} is being removed")
    content_type = "application/vnd.docker.raw-stream" if rec.config.tty else \
        "application/vnd.docker.multiplexed-stream"

    def run(sock: socket.socket, already: bytes) -> None:
        if req.flag("logs"):
            from ..engine.entities import LogsOptions

            for _rec, entry in engine(req).logs([rec.id], LogsOptions()):
                data = entry.text
                stream = entry.stream.decode()
                if stream in streams:
                    sock.sendall(data if rec.config.tty else frame(stream, data))
        if req.flag("stream"):
            Attachment(req, rec, sock, streams, want_stdin).run(already)

    return Hijack(run, content_type)


def _since(value: Optional[str]) -> Optional[float]:
    if value in (None, "", "0"):
        return None
    try:
        return float(value)
    except ValueError:
        from ..formats import parse_time

        return parse_time(value, "since")


@routes.get("/containers/{id}/logs")
def logs(req: Request) -> Streamed:
    from ..engine.entities import LogsOptions

    rec = lookup(req)
    streams = {s for s in ("stdout", "stderr") if req.flag(s)}
    if not streams:
        raise BadParameter("you must choose at least one stream")
    tail_arg = req.arg("tail") or "all"
    if tail_arg == "all":
        tail = -1
    elif tail_arg.isdigit():
        tail = int(tail_arg)
    else:
        raise BadParameter(f"invalid tail {tail_arg!r}: a number or all")
    opts = LogsOptions(follow=req.flag("follow"), tail=tail, since=_since(req.arg("since")),
                       until=_since(req.arg("until")))
    if rec.config.log_driver not in ("k8s-file", "json-file", "journald"):
        raise ApiError(501, f"configured logging driver does not support reading: {rec.config.log_driver}")
    entries = engine(req).logs([rec.id], opts)
    stamps = req.flag("timestamps")
    tty = bool(rec.config.tty)
    content_type = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    return Streamed(_log_chunks(req, entries, streams, stamps, tty), content_type)


def _log_chunks(req: Request, entries: Iterator[Any], streams: set[str], stamps: bool, tty: bool
                ) -> Iterator[bytes]:
    yield b""
    try:
        for _rec, entry in entries:
            stream = entry.stream.decode("ascii", "replace")
            if stream not in streams:
                continue
            data = entry.text
            if stamps:
                data = docker_stamp(entry.stamp, entry.time) + b" " + data
            yield data if tty else frame(stream, data)
    finally:
        close = getattr(entries, "close", None)
        if close is not None:
            close()


def docker_stamp(stamp: bytes, when: float) -> bytes:
    """A log line's time as Docker's daemon gives it (RFC3339 in UTC, nine digits of the
    second, `Z`): the log's own stamp when it is UTC (its nanoseconds kept), else from when."""
    from ..formats import rfc3339

    text = stamp.decode("ascii", "replace")
    for zone in ("+00:00", "Z"):
        if text.endswith(zone) and "." in text:
            whole, _, fraction = text[:-len(zone)].partition(".")
            return f"{whole}.{fraction[:9].ljust(9, '0')}Z".encode()
    return (rfc3339(when)[:-1] + "000Z").encode()


@routes.get("/containers/{id}/stats")
def stats(req: Request) -> Streamed:
    rec = lookup(req)
    stream = req.flag("stream", True)
    one_shot = req.flag("one-shot")
    from ..state import PAUSED, RUNNING

    if rec.state not in (RUNNING, PAUSED):
        # Docker answers a stopped container with one reading of zeros
        return Streamed(iter([json.dumps(_docker_stats(rec, None, None)).encode() + b"\n"]))
    # stream=false: two readings a second apart, the second sent with the first as its
    # precpu (what docker's --no-stream computes the CPU share from); one-shot: the first alone
    readings = engine(req).stats([rec.id], interval=1, stream=not one_shot)
    return Streamed(_stats_chunks(req, rec, readings, stream, one_shot))


def _stats_chunks(req: Request, rec: Any, readings: Iterator[list[dict[str, Any]]], stream: bool,
                  one_shot: bool) -> Iterator[bytes]:
    previous: Optional[dict[str, Any]] = None
    try:
        for reading in readings:
            current = next((r for r in reading if str(r.get("ContainerID", "")).startswith(rec.id[:12])), None)
            if current is None:
                return
            if stream or one_shot or previous is not None:
                yield json.dumps(_docker_stats(rec, current, previous)).encode() + b"\n"
                if not stream:
                    return
            previous = current
            if req.gone():
                return
    finally:
        close = getattr(readings, "close", None)
        if close is not None:
            close()


def _docker_stats(rec: Any, cur: Optional[dict[str, Any]], prev: Optional[dict[str, Any]]) -> dict[str, Any]:
    """podman's stats reading in Docker's shape (cpu times in nanoseconds)."""
    from ..formats import rfc3339

    cur = cur or {}
    prev = prev or {}

    def cpu(r: dict[str, Any]) -> dict[str, Any]:
        return {"cpu_usage": {"total_usage": int(r.get("CPUNano", 0) or 0),
                              "usage_in_kernelmode": int(r.get("CPUSystemNano", 0) or 0),
                              "usage_in_usermode": int(r.get("CPUNano", 0) or 0) - int(r.get("CPUSystemNano", 0) or 0),
                              "percpu_usage": None},
                # the host's CPU time as the wall clock times the CPUs: docker's percentage is
                # then the container's CPU time over the wall clock's
                "system_cpu_usage": int(r.get("SystemNano", 0) or 0) * (os.cpu_count() or 1),
                "online_cpus": os.cpu_count() or 1,
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}

    net = {"eth0": {"rx_bytes": int(cur.get("NetInput", 0) or 0), "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
                    "tx_bytes": int(cur.get("NetOutput", 0) or 0), "tx_packets": 0, "tx_errors": 0,
                    "tx_dropped": 0}} if cur else {}
    return {
        "read": rfc3339(time.time()), "preread": rfc3339(time.time() - 1) if prev else "0001-01-01T00:00:00Z",
        "pids_stats": {"current": int(cur.get("PIDs", 0) or 0)},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 0, "minor": 0, "op": "read", "value": int(cur.get("BlockInput", 0) or 0)},
            {"major": 0, "minor": 0, "op": "write", "value": int(cur.get("BlockOutput", 0) or 0)}] if cur else None},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": cpu(cur), "precpu_stats": cpu(prev),
        "memory_stats": {"usage": int(cur.get("MemUsage", 0) or 0), "limit": int(cur.get("MemLimit", 0) or 0),
                         "stats": {}} if cur else {},
        "name": "/" + rec.name, "id": rec.id, "networks": net,
    }
