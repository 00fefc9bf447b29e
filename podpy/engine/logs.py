"""`logs`: read a container's k8s-file log (written by the monitor), filter and follow it.

Each line of the file is `TIME STREAM F|P TEXT`: TIME in RFC 3339 with nanoseconds,
STREAM stdout or stderr, F a full line and P part of one (the rest follows). A container
logging to the journal (--log-driver journald) is read with journalctl instead.
"""

from __future__ import annotations

import os
import time

from ..formats import parse_rfc3339
from ..errors import InvalidArgument
from ..state import RUNNING, ContainerRecord
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Iterator, Optional



class Entry:
    __slots__ = ("stamp", "time", "stream", "text")

    def __init__(self, stamp: bytes, when: float, stream: bytes, text: bytes) -> None:
        self.stamp, self.time, self.stream, self.text = stamp, when, stream, text


def _stamp_time(stamp: bytes) -> float:
    t = parse_rfc3339(stamp.decode("ascii", "replace"))
    return t if t is not None else 0.0


class Reader:
    """Entries of one log (its rotated part first), whole lines joined from their P parts."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.f: Optional[BinaryIO] = None
        self.ino = 0
        self.rest = b""
        self.partial: dict[bytes, tuple[bytes, bytes]] = {}   # stream -> (first stamp, text so far)

    def initial(self) -> list[Entry]:
        out = []
        old = self.path + ".1"
        if os.path.exists(old):
            with open(old, "rb") as f:
                out += self._parse(f.read(), final=True)
            self.partial.clear()
        out += self.more()
        return out

    def more(self) -> list[Entry]:
        """What was written since the last call (follows a rotation)."""
        out: list[Entry] = []
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return out
        if self.f is not None and st.st_ino != self.ino:
            out += self._parse(self.f.read())   # the end of the rotated file, then the new one
            self.f.close()
            self.f = None
        if self.f is None:
            self.f = open(self.path, "rb")
            self.ino = os.fstat(self.f.fileno()).st_ino
        out += self._parse(self.f.read())
        return out

    def _parse(self, data: bytes, final: bool = False) -> list[Entry]:
        data = self.rest + data
        lines = data.split(b"\n")
        self.rest = b"" if final else lines.pop()
        out = []
        for line in lines:
            parts = line.split(b" ", 3)
            if len(parts) < 3:
                continue
            stamp, stream, tag = parts[0], parts[1], parts[2]
            text = parts[3] if len(parts) == 4 else b""
            first, sofar = self.partial.pop(stream, (stamp, b""))
            if tag == b"P":
                self.partial[stream] = (first, sofar + text)
                continue
            out.append(Entry(first, _stamp_time(first), stream, sofar + text + b"\n"))
        return out

    def unfinished(self) -> list[Entry]:
        """Lines the container began and never ended (its last output without a newline)."""
        out = [Entry(stamp, _stamp_time(stamp), stream, text) for stream, (stamp, text) in self.partial.items()]
        self.partial.clear()
        return sorted(out, key=lambda e: e.time)

    def close(self) -> None:
        if self.f is not None:
            self.f.close()


class JournalReader:
    """A container's entries in the systemd journal (journalctl's JSON, by CONTAINER_ID_FULL, as
    the monitor's JournalLog writes them), read as Reader reads a log file."""

    def __init__(self, cid: str) -> None:
        self.cid = cid
        self.cursor: Optional[str] = None

    def initial(self) -> list[Entry]:
        return self.more()

    def more(self) -> list[Entry]:
        import subprocess

        argv = ["journalctl", "--no-pager", "-o", "json", f"CONTAINER_ID_FULL={self.cid}"]
        if self.cursor:
            argv += ["--after-cursor", self.cursor]
        try:
            out = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, check=False).stdout
        except FileNotFoundError:
            raise InvalidArgument("reading the logs of a container using the journald log driver needs "
                                  "journalctl, which is not installed") from None
        return self.parse(out)

    def parse(self, out: bytes) -> list[Entry]:
        import json

        from ..monitor.logfile import rfc3339

        entries = []
        for line in out.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            self.cursor = doc.get("__CURSOR") or self.cursor
            message = doc.get("MESSAGE")
            text = bytes(message) if isinstance(message, list) else str(message or "").encode()
            usec = int(doc.get("__REALTIME_TIMESTAMP") or 0)
            stream = b"stderr" if str(doc.get("PRIORITY")) == "3" else b"stdout"
            entries.append(Entry(rfc3339(usec * 1000).encode(), usec / 1e6, stream, text + b"\n"))
        return entries

    def unfinished(self) -> list[Entry]:
        return []

    def close(self) -> None:
        pass


def entries(rt: Runtime, rec: ContainerRecord, follow: bool, tail: int, since: Optional[float],
            until: Optional[float]) -> Iterator[Entry]:
    """The log's entries in order, filtered; with follow, new ones until the container stops."""
    from .start import log_path

    if rec.config.log_driver in ("none", "passthrough"):
        raise InvalidArgument(f"this container is using the '{rec.config.log_driver}' log driver, cannot read "
                              "logs: this container is not logging output")
    reader: Any = JournalReader(rec.id) if rec.config.log_driver == "journald" else Reader(log_path(rt, rec))
    try:
        first = [e for e in reader.initial() if _wanted(e, since, until)]
        if not follow:
            first += [e for e in reader.unfinished() if _wanted(e, since, until)]
        if tail >= 0:
            first = first[len(first) - tail:] if tail else []
        yield from first
        while follow:
            if until is not None and time.time() > until:
                return
            now = rt.state.get(rec.id)
            over = now is None or now.state != RUNNING or _exit_written(rt, rec.id)
            for e in reader.more():
                if _wanted(e, since, until):
                    yield e
            if over:
                for e in reader.more() + reader.unfinished():
                    if _wanted(e, since, until):
                        yield e
                return
            time.sleep(0.1)
    finally:
        reader.close()


def _exit_written(rt: Runtime, cid: str) -> bool:
    return os.path.exists(os.path.join(rt.container_run_dir(cid), "exit"))


def _wanted(e: Entry, since: Optional[float], until: Optional[float]) -> bool:
    return (since is None or e.time >= since) and (until is None or e.time <= until)
