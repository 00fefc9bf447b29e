"""`logs`: read a container's k8s-file log (written by the monitor), filter and follow it.

Each line of the file is `TIME STREAM F|P TEXT`: TIME in RFC 3339 with nanoseconds,
STREAM stdout or stderr, F a full line and P part of one (the rest follows).
"""

from __future__ import annotations

import os
import re
import time

from ..errors import InvalidArgument
from ..state import RUNNING, ContainerRecord
from .runtime import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator, Optional



def parse_time(value: str, what: str, now: Optional[float] = None) -> float:
    """--since/--until: an RFC 3339 time, a date, a unix time, or a duration (10m, 1h30m) before now."""
    now = time.time() if now is None else now
    text = value.strip()
    from ..options import go_duration

    ago = go_duration(text)
    if ago is not None:
        return now - ago
    try:
        return float(text)
    except ValueError:
        pass
    ts = parse_rfc3339(text)
    if ts is None:
        raise InvalidArgument(f"invalid {what} {value!r}: use a time (2024-01-02T15:04:05Z), a unix time or "
                              "a duration such as 10m")
    return ts


def parse_rfc3339(text: str) -> Optional[float]:
    import datetime as dt

    m = re.match(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$", text)
    if not m:
        return None
    date, clock, frac, zone = m.groups()
    try:
        base = dt.datetime.fromisoformat(f"{date}T{clock or '00:00:00'}")
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        base = base.replace(tzinfo=dt.timezone(sign * offset))
    elif zone == "Z":
        base = base.replace(tzinfo=dt.timezone.utc)
    else:
        base = base.astimezone()   # local time, as podman reads a zone-less time
    return base.timestamp() + (float(frac) if frac else 0.0)


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


def entries(rt: Runtime, rec: ContainerRecord, follow: bool, tail: int, since: Optional[float],
            until: Optional[float]) -> Iterator[Entry]:
    """The log's entries in order, filtered; with follow, new ones until the container stops."""
    from .detached import log_path

    if rec.config.log_driver == "none":
        raise InvalidArgument(f"container {rec.name} uses the \"none\" log driver: there are no logs to read")
    reader = Reader(log_path(rt, rec))
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
