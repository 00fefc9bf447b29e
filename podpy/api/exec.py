"""Exec routes: create a session, start it (hijacked, or detached), resize it, inspect it.

Docker keeps exec sessions in its daemon's memory, and so does this service: a session is
made by POST /containers/{id}/exec, run by POST /exec/{id}/start, and inspected (its pid,
whether it runs, its exit code) until the service leaves. The process is started as
`podpy exec` starts it (engine/execute.py's process_for, rootless.execute.exec_in), with
pipes (or a terminal) of its own that this connection relays.
"""

from __future__ import annotations

import os
import select
import socket
import threading

from ..errors import ExecFailed
from .containers import lookup
from .errors import ApiError, BadParameter, exec_failure
from .http import Hijack, Response
from .routes import RouteTable
from .streams import frame
from .translate import _get, _strings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .http import Request

routes = RouteTable()
_SESSIONS: dict[str, "Session"] = {}
_LOCK = threading.Lock()
MAX_SESSIONS = 1024   # ended sessions beyond this are forgotten, oldest first


class Session:
    def __init__(self, cid: str, body: dict[str, Any]) -> None:
        self.id = os.urandom(32).hex()
        self.container = cid
        self.cmd = _strings(body, "Cmd", "")
        if not self.cmd:
            raise BadParameter("No exec command specified")
        self.tty = bool(_get(body, "Tty", bool, ""))
        self.stdin = bool(_get(body, "AttachStdin", bool, ""))
        self.stdout = bool(_get(body, "AttachStdout", bool, ""))
        self.stderr = bool(_get(body, "AttachStderr", bool, ""))
        self.env = _strings(body, "Env", "")
        self.user = _get(body, "User", str, "") or None
        self.workdir = _get(body, "WorkingDir", str, "") or None
        self.privileged = bool(_get(body, "Privileged", bool, ""))
        self.detach_keys = _get(body, "DetachKeys", str, "") or ""
        size = _get(body, "ConsoleSize", list, "")
        self.size: Optional[tuple[int, int]] = (int(size[0]), int(size[1])) if size and len(size) == 2 and all(
            isinstance(v, int) and v > 0 for v in size) else None
        self.started = False
        self.running = False
        self.pid = 0
        self.exit_code: Optional[int] = None
        self.pty: Optional[int] = None

    def inspect(self) -> dict[str, Any]:
        return {"ID": self.id, "Running": self.running, "ExitCode": self.exit_code, "ProcessConfig": {
            "tty": self.tty, "entrypoint": self.cmd[0], "arguments": self.cmd[1:], "privileged": self.privileged,
            "user": self.user or ""}, "OpenStdin": self.stdin, "OpenStderr": self.stderr,
            "OpenStdout": self.stdout, "CanRemove": not self.running and self.started,
            "ContainerID": self.container, "DetachKeys": self.detach_keys, "Pid": self.pid}


def _session(req: Request) -> Session:
    with _LOCK:
        session = _SESSIONS.get(req.params["id"])
    if session is None:
        raise ApiError(404, f"No such exec instance: {req.params['id']}")
    return session


@routes.post("/containers/{id}/exec")
def create(req: Request) -> Response:
    from .http import json_response
    from ..state import RUNNING

    rec = lookup(req)
    body = req.json()
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    if rec.state == "paused" and not req.path.startswith("/libpod/"):   # Docker's words, which its CLI shows
        raise ApiError(409, f"Container {rec.id} is paused, unpause the container before exec")
    if rec.state != RUNNING:
        raise ApiError(409, f"Container {rec.id} is not running")
    session = Session(rec.id, body)
    with _LOCK:
        if len(_SESSIONS) >= MAX_SESSIONS:
            for old in [k for k, s in _SESSIONS.items() if s.started and not s.running][:MAX_SESSIONS // 4]:
                del _SESSIONS[old]
        _SESSIONS[session.id] = session
    return json_response({"Id": session.id}, 201)


@routes.get("/exec/{id}/json")
def inspect(req: Request) -> dict[str, Any]:
    return _session(req).inspect()


@routes.post("/exec/{id}/resize")
def resize(req: Request) -> Response:
    session = _session(req)
    rows, cols = req.int_arg("h", 0), req.int_arg("w", 0)
    if not (0 < rows <= 0xFFFF and 0 < cols <= 0xFFFF):
        raise BadParameter(f"invalid terminal size {rows}x{cols}: h and w must be from 1 to 65535")
    if session.pty is None:
        if not session.running:
            raise ApiError(409, f"exec session {session.id} is not running")
        return Response(200, b"", None)
    set_size(session.pty, rows, cols)
    return Response(200, b"", None)


def set_size(fd: int, rows: int, cols: int) -> None:
    from rootless import syscalls

    try:
        syscalls.default().set_winsize(fd, rows, cols)
    except OSError:
        pass


@routes.post("/exec/{id}/start")
def start(req: Request) -> Any:
    return start_session(req)


def start_session(req: Request, late: bool = False) -> Any:
    """Start an exec session. late: the process starts once the stream's header is out, as
    podman's service does (podman's client reads the stream from the bare socket, so output
    sent along with the header would be lost in its HTTP reader's buffer)."""
    session = _session(req)
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    detach = bool(_get(body, "Detach", bool, ""))
    if _get(body, "Tty", bool, "") is not None:
        session.tty = bool(body["Tty"])
    rows, cols = body.get("h"), body.get("w")   # podman's start gives the terminal's size
    if isinstance(rows, int) and isinstance(cols, int) and rows > 0 and cols > 0:
        session.size = (rows, cols)
    with _LOCK:
        if session.started:
            raise ApiError(409, f"exec session {session.id} has already been started")
        session.started = True
    content_type = "application/vnd.docker.raw-stream" if session.tty else \
        "application/vnd.docker.multiplexed-stream"
    if late and not detach:
        return Hijack(lambda sock, already: _launch_and_relay(req, session, sock, already), content_type)
    try:
        started, stdio = _launch(req, session, detach)
    except ExecFailed as exc:
        # as Docker: the command that cannot run is the session's exit code (126, 127), and its
        # error is what the attached client reads
        session.exit_code, session.running = exc.exit_code, False
        if detach:
            raise
        message = f"{exec_failure(exc)}\r\n".encode()
        return Hijack(lambda sock, _already: _say(sock, message, session.tty), content_type)
    if detach:
        threading.Thread(target=_reap, args=(session, started), daemon=True).start()
        return Response(200, b"", None)
    return Hijack(lambda sock, already: _relay(session, started, stdio, sock, already), content_type)


def _launch_and_relay(req: Request, session: Session, sock: socket.socket, already: bytes) -> None:
    try:
        started, stdio = _launch(req, session, False)
    except ExecFailed as exc:
        session.exit_code, session.running = exc.exit_code, False
        _say(sock, f"{exec_failure(exc)}\r\n".encode(), session.tty)
        return
    _relay(session, started, stdio, sock, already)


def _launch(req: Request, session: Session, detach: bool) -> tuple[Any, dict[str, int]]:
    """The process started in the container; the host ends of its pipes (none with a terminal)."""
    from ..engine.execute import ExecOptions, start_exec

    opts = ExecOptions(container=session.container, command=list(session.cmd), interactive=session.stdin,
                       tty=session.tty, detach=detach, env=list(session.env), user=session.user,
                       workdir=session.workdir, privileged=session.privileged)
    ends: dict[str, int] = {}
    child: list[int] = []
    stdio = None
    if not session.tty and not detach:
        null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        child.append(null)
        stdin = null
        if session.stdin:
            r, w = os.pipe()
            ends["stdin"] = w
            child.append(r)
            stdin = r
        pipes = []
        for name in ("stdout", "stderr"):
            r, w = os.pipe()
            ends[name] = r
            child.append(w)
            pipes.append(w)
        stdio = (stdin, pipes[0], pipes[1])
    try:
        started = start_exec(req.runtime(), opts, session.size, stdio)
    except BaseException:
        for fd in list(ends.values()):
            os.close(fd)
        raise
    finally:
        for fd in child:
            os.close(fd)
    session.running = True
    session.pid = started.pid
    session.pty = started.pty_master
    return started, ends


def _say(sock: socket.socket, message: bytes, tty: bool) -> None:
    try:
        sock.sendall(message if tty else frame("stderr", message))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _reap(session: Session, started: Any) -> None:
    try:
        session.exit_code = started.wait()
    finally:
        session.running = False
        if session.pty is not None:
            os.close(session.pty)
            session.pty = None


def _relay(session: Session, started: Any, ends: dict[str, int], sock: socket.socket, already: bytes) -> None:
    """The process's output to the socket (framed without a terminal), the socket to its input,
    until it exits; then the socket is closed."""
    import signal

    stdin = session.pty if session.tty else ends.get("stdin")
    outputs = {session.pty: "stdout"} if session.tty and session.pty is not None else \
        {ends["stdout"]: "stdout", ends["stderr"]: "stderr"}
    watch: list[Any] = list(outputs)
    if session.stdin and stdin is not None:
        watch.append(sock)
        if already:
            os.write(stdin, already)
    try:
        while outputs:
            ready, _, _ = select.select(watch, [], [], 0.5)
            for fd in ready:
                if fd is sock:
                    data = sock.recv(65536)
                    if not data:
                        watch.remove(sock)
                        if not session.tty and stdin is not None:
                            os.close(stdin)
                            ends.pop("stdin", None)
                        continue
                    os.write(stdin, data)
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""   # EIO: the terminal's other side is closed
                if not data:
                    watch.remove(fd)
                    del outputs[fd]
                    continue
                stream = outputs[fd]
                if (stream == "stdout" and session.stdout) or (stream == "stderr" and session.stderr):
                    sock.sendall(data if session.tty else frame(stream, data))
    except OSError:
        started.signal(signal.SIGKILL)   # the client went away: as docker, the command ends with it
    finally:
        for fd in ends.values():
            os.close(fd)
        _reap(session, started)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
