"""A container's log in podman's k8s-file format, as the monitor writes it: each line
`TIME STREAM F|P TEXT`, TIME in RFC 3339 with nanoseconds and the local offset, F a
full line, P part of one. Only os and time are imported: this runs in the monitor.
"""

from __future__ import annotations

import os
import time


def rfc3339(ns: int) -> str:
    """A nanosecond timestamp as podman's log lines have it: local time with its offset."""
    secs, frac = divmod(ns, 1_000_000_000)
    t = time.localtime(secs)
    off = t.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{frac:09d}{sign}{off // 3600:02d}:{off % 3600 // 60:02d}")


class LogFile:
    """A container's log in the k8s-file format, rotated (one old file kept) at max_size."""

    def __init__(self, path: str, max_size: int) -> None:
        self.path = path
        self.max_size = max_size
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.size = os.fstat(self.fd).st_size
        self.failed = False

    def write(self, stream: str, data: bytes) -> None:
        """Lines of data from stream ("stdout"/"stderr"); a last line without newline is partial (P)."""
        stamp = rfc3339(time.time_ns()).encode()
        tag = stream.encode()
        out = bytearray()
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            last = i == len(lines) - 1
            if last and not line:
                break
            entry = b"%s %s %s %s\n" % (stamp, tag, b"P" if last else b"F", line)
            if self.max_size > 0 and self.size + len(out) + len(entry) > self.max_size and self.size + len(out):
                self._flush(out)
                out = bytearray()
                self._rotate()
            out += entry
        self._flush(out)

    def _flush(self, out: bytes) -> None:
        if not out:
            return
        try:
            os.write(self.fd, out)
            self.size += len(out)
            self.failed = False
        except OSError:
            # A full disk loses log lines, never the container: try again with the next write.
            self.failed = True

    def _rotate(self) -> None:
        try:
            os.replace(self.path, self.path + ".1")
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        os.close(self.fd)
        self.fd, self.size = fd, 0

    def close(self) -> None:
        os.close(self.fd)
