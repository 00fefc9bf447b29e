"""A container's log as the monitor writes it: in podman's k8s-file format, each line
`TIME STREAM F|P TEXT`, TIME in RFC 3339 with nanoseconds and the local offset, F a
full line, P part of one; or to the systemd journal (--log-driver journald). Only os,
time and _socket are imported: this runs in the monitor.
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


JOURNAL_SOCKET = "/run/systemd/journal/socket"


def journal_field(name: bytes, value: bytes) -> bytes:
    """One field of the journal's native protocol: NAME=value, or with a newline in the value,
    NAME, a newline, its length (64 bits, little-endian) and the value."""
    if b"\n" not in value:
        return b"%s=%s\n" % (name, value)
    return name + b"\n" + len(value).to_bytes(8, "little") + value + b"\n"


class JournalLog:
    """A container's output to the systemd journal, one entry per line as podman's conmon sends
    it (MESSAGE, CONTAINER_ID, CONTAINER_ID_FULL, CONTAINER_NAME, SYSLOG_IDENTIFIER, and
    PRIORITY 6 for stdout, 3 for stderr), over the journal's native protocol. A part of a line
    waits for its end (or the container's)."""

    def __init__(self, cid: str, name: str, path: str = JOURNAL_SOCKET) -> None:
        import _socket

        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.path = path
        short = cid[:12].encode()
        self.common = (journal_field(b"CONTAINER_ID", short) + journal_field(b"CONTAINER_ID_FULL", cid.encode())
                       + journal_field(b"CONTAINER_NAME", name.encode()) + journal_field(b"SYSLOG_IDENTIFIER", short))
        self.partial: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes) -> None:
        lines = (self.partial.pop(stream, b"") + data).split(b"\n")
        if lines[-1]:
            self.partial[stream] = lines[-1]
        for line in lines[:-1]:
            self._send(stream, line)

    def _send(self, stream: str, line: bytes) -> None:
        entry = (journal_field(b"MESSAGE", line) + self.common
                 + journal_field(b"PRIORITY", b"3" if stream == "stderr" else b"6"))
        try:
            self.sock.sendto(entry, self.path)
        except OSError:
            pass   # a journal that is gone or full loses lines, never the container

    def close(self) -> None:
        for stream, rest in list(self.partial.items()):
            self._send(stream, rest)
        self.partial.clear()
        self.sock.close()
