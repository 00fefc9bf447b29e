"""HTTP/1.1 to a podpy or podman service over a unix socket, TCP, or ssh (a forwarded socket).

http.client (the standard library's) speaks HTTP over a socket this module opens; it reads
chunked and length-delimited bodies. An ssh URL starts OpenSSH's client forwarding a private
local socket to the service's socket on the other host (`ssh -N -L LOCAL:REMOTE`): it works
with a stock sshd and any service (podman's or podpy's), and lives as long as the command.

The first request is libpod's /_ping: the service must answer with a Libpod-Api-Version of
at least 4.0.0 (what podman's own client asks of a service); then every request goes to
/v4.3.1/libpod/...
"""

from __future__ import annotations

import json
import os
import socket

from ..errors import PodpyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

    from .url import Target

API_PREFIX = "/v4.3.1/libpod"
MIN_LIBPOD = (4, 0, 0)


class ServiceError(PodpyError):
    """What the service answered with an error status: its message, the status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Unreachable(PodpyError):
    pass


def _quote_query(query: Optional[dict[str, Any]]) -> str:
    from urllib.parse import urlencode

    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        if value is None:
            continue
        for v in value if isinstance(value, list) else [value]:
            pairs.append((key, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return "?" + urlencode(pairs) if pairs else ""


_OPEN: list["Client"] = []


def close_all() -> None:
    """Every client's ssh forward ended (the CLI's guard calls this when a command is done)."""
    while _OPEN:
        _OPEN.pop().close()


def _tied() -> None:
    """In the ssh child: it dies with podpy, even when podpy is killed."""
    import signal

    from rootless import syscalls

    syscalls.default().set_pdeathsig(signal.SIGTERM)


class Client:
    """One command's connection to a service (reconnected per request: a service may close
    a connection after a streamed answer)."""

    def __init__(self, target: Target, identity: str = "") -> None:
        self.target = target
        self.identity = identity
        self._ssh: Any = None
        self._ssh_dir: Optional[str] = None
        self._local: Optional[str] = None
        _OPEN.append(self)

    # -- connecting ---------------------------------------------------------------------------

    def _socket(self) -> socket.socket:
        t = self.target
        try:
            if t.scheme == "tcp":
                return socket.create_connection((t.host, t.port), timeout=30)
            path = t.path if t.scheme == "unix" else self._forward()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(30)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            return sock
        except OSError as exc:
            raise Unreachable(f"unable to connect to the service at {t.uri()}: {exc.strerror or exc}") from None

    def _forward(self) -> str:
        """The local end of the ssh forward (ssh started on the first request)."""
        import subprocess
        import tempfile
        import time

        from .url import ssh_command

        if self._local is not None:
            return self._local
        if not self.target.path:
            raise Unreachable(f"{self.target.uri()}: the URL names no socket path on the host")
        self._ssh_dir = tempfile.mkdtemp(prefix="podpy-ssh-")
        local = os.path.join(self._ssh_dir, "service.sock")
        try:
            self._ssh = subprocess.Popen(ssh_command(self.target, self.identity, local), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_tied)
        except FileNotFoundError:
            raise Unreachable("ssh:// connections need OpenSSH's client (ssh) on PATH") from None
        deadline = time.monotonic() + 30
        while not os.path.exists(local):
            if self._ssh.poll() is not None:
                err = self._ssh.stderr.read().decode(errors="replace").strip().splitlines()
                self.close()
                raise Unreachable(f"ssh to {self.target.host}: " + (err[-1] if err else f"exit {self._ssh.returncode}"))
            if time.monotonic() > deadline:
                self.close()
                raise Unreachable(f"ssh to {self.target.host}: no forwarded socket after 30 seconds")
            time.sleep(0.02)
        self._local = local
        return local

    def close(self) -> None:
        """The ssh forward ended and its directory removed (close_all() calls this for every
        client when the command is done)."""
        import shutil

        if self._ssh is not None:
            if self._ssh.poll() is None:
                self._ssh.terminate()
                try:
                    self._ssh.wait(5)
                except Exception:  # noqa: BLE001 - killed below
                    self._ssh.kill()
            self._ssh = None
        if self._ssh_dir is not None:
            shutil.rmtree(self._ssh_dir, ignore_errors=True)
            self._ssh_dir = None
        self._local = None

    def _connection(self) -> Any:
        import http.client

        client = self

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                self.sock = client._socket()

        return Connection("d")

    # -- requests -----------------------------------------------------------------------------

    def open(self, method: str, path: str, query: Optional[dict[str, Any]] = None, body: Any = None,
             headers: Optional[dict[str, str]] = None, timeout: Optional[float] = 30) -> Any:
        """The response (its body unread); an error status raises ServiceError."""
        conn = self._connection()
        data = None
        hdrs = dict(headers or {})
        if hasattr(body, "read"):   # a file, sent as it is read (its size known beforehand)
            data = body
            hdrs.setdefault("Content-Type", "application/x-tar")
            hdrs.setdefault("Content-Length", str(os.fstat(body.fileno()).st_size))
        elif body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, API_PREFIX + path + _quote_query(query), body=data, headers=hdrs)
            if timeout is None and conn.sock is not None:
                conn.sock.settimeout(None)
            resp = conn.getresponse()
        except OSError as exc:
            conn.close()
            raise Unreachable(f"the service at {self.target.uri()}: {exc.strerror or exc}") from None
        if resp.status >= 400:
            raw = resp.read()
            conn.close()
            raise ServiceError(_message(raw, resp.status), resp.status)
        resp.connection = conn   # closed with done(resp)
        return resp

    def call(self, method: str, path: str, query: Optional[dict[str, Any]] = None, body: Any = None,
             headers: Optional[dict[str, str]] = None, timeout: Optional[float] = 30) -> Any:
        """The decoded JSON answer (None for an empty one)."""
        resp = self.open(method, path, query, body, headers, timeout)
        try:
            raw = resp.read()
        finally:
            done(resp)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def lines(self, method: str, path: str, query: Optional[dict[str, Any]] = None, body: Any = None,
              headers: Optional[dict[str, str]] = None) -> Iterator[Any]:
        """A streamed answer's JSON documents, one per line, as they come."""
        resp = self.open(method, path, query, body, headers, timeout=None)
        try:
            for line in resp:
                if line.strip():
                    yield json.loads(line)
        finally:
            done(resp)

    def ping(self) -> str:
        """The service's libpod API version (at least 4.0.0), or why it will not do."""
        resp = self.open("GET", "/_ping")
        resp.read()
        done(resp)
        version = resp.getheader("Libpod-Api-Version") or ""
        parts = tuple(int(p) if p.isdigit() else 0 for p in version.split(".")[:3])
        if not version or parts < MIN_LIBPOD:
            raise Unreachable(f"the service at {self.target.uri()} does not speak podman's API (4.0.0 or newer)"
                              + (f": it answers {version}" if version else ""))
        return version


def done(resp: Any) -> None:
    """A response and its connection closed."""
    resp.close()
    conn = getattr(resp, "connection", None)
    if conn is not None:
        conn.close()


def _message(raw: bytes, status: int) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("message"):
        return str(doc["message"])
    text = raw.decode(errors="replace").strip()
    return text or f"the service answered {status}"


def demux(stream: Any) -> Iterator[tuple[int, bytes]]:
    """A multiplexed attach, exec or logs stream: (1 stdout / 2 stderr, data) frames."""
    while True:
        head = _read_exact(stream, 8)
        if len(head) < 8:
            return
        size = int.from_bytes(head[4:8], "big")
        yield head[0], _read_exact(stream, size)


def _read_exact(stream: Any, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = stream.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out
