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
            # removed (the container with it) since it was opened: what the open file holds
            # is still there to read, as a client that follows the log and removes the
            # container before reading the rest (the Docker SDK's `run`) expects
            if self.f is not None:
                out += self._parse(self.f.read())
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


class Stream:
    """One container's log as `logs` reads it: its first entries, then (following) the new
    ones of each poll until the container stops."""

    def __init__(self, rt: Runtime, rec: ContainerRecord, since: Optional[float], until: Optional[float]) -> None:
        from .start import log_path

        if rec.config.log_driver in ("none", "passthrough"):
            raise InvalidArgument(f"this container is using the '{rec.config.log_driver}' log driver, cannot read "
                                  "logs: this container is not logging output")
        self.rt, self.rec, self.since, self.until = rt, rec, since, until
        self.reader: Any = (JournalReader(rec.id) if rec.config.log_driver == "journald"
                            else Reader(log_path(rt, rec)))

    def first(self, follow: bool, tail: int) -> list[Entry]:
        first = [e for e in self.reader.initial() if self._wanted(e)]
        if not follow:
            first += [e for e in self.reader.unfinished() if self._wanted(e)]
        if tail >= 0:
            first = first[len(first) - tail:] if tail else []
        return first

    def poll(self) -> tuple[list[Entry], bool]:
        """The entries written since the last poll, and whether the log is over (the
        container stopped, or --until passed)."""
        if self.until is not None and time.time() > self.until:
            return [], True
        now = self.rt.state.get(self.rec.id)
        over = now is None or now.state != RUNNING or _exit_written(self.rt, self.rec.id)
        new = self.reader.more()
        if over:
            new += self.reader.more() + self.reader.unfinished()
        return [e for e in new if self._wanted(e)], over

    def _wanted(self, e: Entry) -> bool:
        return _wanted(e, self.since, self.until)

    def close(self) -> None:
        self.reader.close()


def entries(rt: Runtime, rec: ContainerRecord, follow: bool, tail: int, since: Optional[float],
            until: Optional[float]) -> Iterator[Entry]:
    """The log's entries in order, filtered; with follow, new ones until the container stops."""
    for _, e in entries_of(rt, [rec], follow, tail, since, until):
        yield e


def entries_of(rt: Runtime, recs: list[ContainerRecord], follow: bool, tail: int, since: Optional[float],
               until: Optional[float]) -> Iterator[tuple[ContainerRecord, Entry]]:
    """(container, entry) of several logs: each one's entries so far in turn, then (with
    follow) the new lines of all of them as they come, until every container stopped."""
    streams = [Stream(rt, rec, since, until) for rec in recs]
    try:
        for s in streams:
            for e in s.first(follow, tail):
                yield s.rec, e
        live = list(streams) if follow else []
        while live:
            for s in list(live):
                new, over = s.poll()
                for e in new:
                    yield s.rec, e
                if over:
                    live.remove(s)
            if live:
                time.sleep(0.1)
    finally:
        for s in streams:
            s.close()


def _exit_written(rt: Runtime, cid: str) -> bool:
    return os.path.exists(os.path.join(rt.container_run_dir(cid), "exit"))


def _wanted(e: Entry, since: Optional[float], until: Optional[float]) -> bool:
    return (since is None or e.time >= since) and (until is None or e.time <= until)
