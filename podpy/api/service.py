"""`system service`: listen on a unix or TCP socket (or systemd's), serve each connection in a
thread, and leave after the idle time with no connection open.

The socket: `unix:///PATH` (by default $XDG_RUNTIME_DIR/podpy/podpy.sock, mode 0600 in a
directory of mode 0700), `tcp://HOST:PORT`, or the one systemd passes as fd 3 (LISTEN_FDS=1
and LISTEN_PID this process: socket activation, where systemd owns the socket file).
"""

from __future__ import annotations

import os
import socket
import threading
import time

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

LISTEN_FDS_START = 3
TCP_WARNING = ("API service listening on a TCP socket: anyone who can connect to it controls this user's "
               "containers (there is no authentication nor TLS)")


def default_socket_path() -> str:
    """$XDG_RUNTIME_DIR/podpy/podpy.sock (the user's private runtime directory)."""
    from ..config import service_socket

    return service_socket()


def parse_uri(uri: Optional[str]) -> tuple[str, Any]:
    """("unix", path) or ("tcp", (host, port)) of a service URI."""
    if not uri:
        return "unix", default_socket_path()
    if uri.startswith("unix://"):
        path = uri[len("unix://"):]
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid URI {uri!r}: a unix socket needs an absolute path (unix:///path)")
        return "unix", path
    if uri.startswith("tcp://"):
        host, sep, port = uri[len("tcp://"):].rstrip("/").rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidArgument(f"invalid URI {uri!r}: expected tcp://HOST:PORT")
        return "tcp", (host.strip("[]") or "localhost", int(port))
    raise InvalidArgument(f"invalid URI {uri!r}: only unix:// and tcp:// are supported")


def activated_socket() -> Optional[socket.socket]:
    """The listening socket systemd passed (LISTEN_FDS, LISTEN_PID), or None. The variables are
    removed, so that the containers and commands started from here do not take it for theirs."""
    fds, pid = os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_PID")
    if not fds or not pid or not pid.isdigit() or int(pid) != os.getpid():
        return None
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    if not fds.isdigit() or int(fds) < 1:
        raise InvalidArgument(f"LISTEN_FDS={fds!r}: expected the number of sockets passed")
    sock = socket.socket(fileno=LISTEN_FDS_START)
    os.set_inheritable(sock.fileno(), False)
    return sock


def _bind_unix(path: str) -> socket.socket:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        # a socket file left by a service that is gone is replaced; one that answers is not
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
        else:
            sock.close()
            raise InvalidArgument(f"{path}: another service is listening on it")
        finally:
            probe.close()
    old = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise InvalidArgument(f"listening on {path}: {exc.strerror}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return sock


def _bind_tcp(addr: tuple[str, int]) -> socket.socket:
    try:
        infos = socket.getaddrinfo(addr[0], addr[1], type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidArgument(f"listening on {addr[0]}:{addr[1]}: {exc.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        raise InvalidArgument(f"listening on {addr[0]}:{addr[1]}: {exc.strerror}") from None
    return sock


class Service:
    """The listening socket and its connections; run() returns once idle for idle_time seconds
    (0: never) or stopped."""

    def __init__(self, app: Any, uri: Optional[str], idle_time: int, warn: Callable[[str], None]) -> None:
        self.app = app
        self.idle_time = idle_time
        self.path: Optional[str] = None
        self.sock = activated_socket()
        if self.sock is None:
            kind, where = parse_uri(uri)
            if kind == "unix":
                self.sock = _bind_unix(where)
                self.path = where
                app.socket_path = where
            else:
                warn(TCP_WARNING)
                self.sock = _bind_tcp(where)
            self.sock.listen(128)
        self.lock = threading.Lock()
        self.active = 0
        self.idle_since = time.monotonic()
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        import select

        try:
            while not self.stopping.is_set():
                ready, _, _ = select.select([self.sock], [], [], 0.2)
                if ready:
                    try:
                        conn, _addr = self.sock.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    with self.lock:
                        self.active += 1
                    threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
                    continue
                with self.lock:
                    idle = self.active == 0 and time.monotonic() - self.idle_since
                if self.idle_time and idle and idle >= self.idle_time:
                    return
        finally:
            self.close()

    def _serve(self, conn: socket.socket) -> None:
        from .http import Connection

        try:
            Connection(conn, self.app).serve()
        finally:
            with self.lock:
                self.active -= 1
                self.idle_since = time.monotonic()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None


def serve(uri: Optional[str], idle_time: int, open_runtime: Callable[[], Any], warn: Callable[[str], None],
          log: Callable[[str], None], cors: Optional[str] = None) -> None:
    """Serve the API until idle (or SIGTERM/SIGINT). cors: the origin that the CORS headers of
    every response allow (--cors), None for none."""
    import signal

    from . import AREAS
    from .http import App
    from .routes import Router

    app = App(Router.build(AREAS), open_runtime, log, cors)
    service = Service(app, uri, idle_time, warn)

    def stop(_sig: int, _frame: object) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.run()
