"""Container lifecycle routes: start, stop, kill, restart, pause, unpause, wait, resize."""

from __future__ import annotations

import os
import time

from .containers import console_size, engine, lookup, raise_first
from .errors import ApiError, BadParameter, NotModified
from ..errors import PodpyError
from .http import Response, Streamed
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

    from .http import Request

routes = RouteTable()
NO_CONTENT = Response(204, b"", None)
WAIT_CONDITIONS = ("not-running", "next-exit", "removed")


@routes.post("/containers/{id}/start")
def start(req: Request) -> Response:
    from ..state import PAUSED, RUNNING

    if req.arg("detachKeys"):
        from ..options import detach_keys

        detach_keys(req.arg("detachKeys") or "")   # checked: podpy's monitor has no detach keys to set
    rec = lookup(req)
    if rec.state in (RUNNING, PAUSED):
        raise NotModified()
    size = console_size(rec.id) if rec.config.tty else None
    if size is None:
        raise_first(engine(req).start([rec.id]))
        return NO_CONTENT
    # the engine's start, with the terminal's size the client gave (start_detached's console)
    from ..engine.reconcile import reconcile
    from ..engine.start import start_detached

    rt = req.runtime()
    reconcile(rt)
    start_detached(rt, rt.state.lookup(rec.id), lambda _line: None, console=size)
    return NO_CONTENT


def _timeout(req: Request) -> Optional[int]:
    value = req.int_arg("t")
    if value is None:
        value = req.int_arg("timeout")
    if value is not None and value < 0:
        value = None   # Docker: -1 waits for ever; podpy's stop: the container's own timeout
    return value


@routes.post("/containers/{id}/stop")
def stop(req: Request) -> Response:
    from ..state import PAUSED, RUNNING

    from ..engine.cleanup import restart_pending

    rec = lookup(req)
    if rec.state not in (RUNNING, PAUSED) and not restart_pending(rec):
        raise NotModified()
    # (a restart pending, as Docker's stop of a restarting container: the restart called off)
    raise_first(engine(req).stop([rec.id], _timeout(req)))
    return NO_CONTENT


@routes.post("/containers/{id}/restart")
def restart(req: Request) -> Response:
    rec = lookup(req)
    raise_first(engine(req).restart([rec.id], _timeout(req)))
    return NO_CONTENT


@routes.post("/containers/{id}/kill")
def kill(req: Request) -> Response:
    from ..options import parse_signal
    from ..state import PAUSED, RUNNING

    rec = lookup(req)
    sig = parse_signal(req.arg("signal") or "SIGKILL")
    if rec.state not in (RUNNING, PAUSED):
        raise ApiError(409, f"Cannot kill container: {req.params['id']}: Container {rec.id} is not running")
    raise_first(engine(req).kill([rec.id], sig))
    return NO_CONTENT


@routes.post("/containers/{id}/pause")
def pause(req: Request) -> Response:
    rec = lookup(req)
    raise_first(engine(req).pause([rec.id]))
    return NO_CONTENT


@routes.post("/containers/{id}/unpause")
def unpause(req: Request) -> Response:
    rec = lookup(req)
    raise_first(engine(req).unpause([rec.id]))
    return NO_CONTENT


@routes.post("/containers/{id}/resize")
def resize(req: Request) -> Response:
    rec = lookup(req)
    rows, cols = req.int_arg("h", 0), req.int_arg("w", 0)
    if not (0 < rows <= 0xFFFF and 0 < cols <= 0xFFFF):
        raise BadParameter(f"invalid terminal size {rows}x{cols}: h and w must be from 1 to 65535")
    from ..state import RUNNING

    if rec.state != RUNNING:
        if rec.config.tty and rec.state in ("created", "exited", "stopped"):
            console_size(rec.id, (rows, cols))   # its start takes it
            return Response(200, b"", None)
        raise ApiError(409, f"Container {rec.id} is not running")
    resize_container(req, rec.id, rows, cols)
    return Response(200, b"", None)


def resize_container(req: Request, cid: str, rows: int, cols: int) -> None:
    """The container's terminal resized, through its monitor."""
    from ..monitor.client import connect_monitor

    try:
        chan = connect_monitor(req.runtime().cfg.runroot)
    except OSError as exc:
        raise ApiError(409, f"container {cid[:12]} has no monitor to resize its terminal: {exc}") from None
    try:
        chan.send("attach", id=cid)
        reply, fds = chan.recv()
        for fd in fds:
            os.close(fd)
        if reply is None or reply.get("type") != "attached":
            raise ApiError(409, f"container {cid[:12]} is not running")
        if reply.get("tty"):
            chan.send("resize", rows=rows, cols=cols)
            _until_detached(chan)
    finally:
        chan.close()


def _until_detached(chan: Any) -> None:
    """Wait (a few seconds at most) until the monitor has read all this client sent: it
    closes its end after the end of file that follows. The resize is then done when the
    request answers, as Docker's is; output sent meanwhile is read and dropped."""
    import socket

    chan.sock.shutdown(socket.SHUT_WR)
    chan.sock.settimeout(5.0)
    try:
        while True:
            msg, fds = chan.recv()
            for fd in fds:
                os.close(fd)
            if msg is None:
                return
    except OSError:
        return   # a timeout: the monitor is stuck elsewhere; the resize is queued


@routes.post("/containers/{id}/wait")
def wait(req: Request) -> Any:
    condition = req.arg("condition") or "not-running"
    if condition not in WAIT_CONDITIONS:
        raise BadParameter(f"invalid condition: {condition!r}: use not-running, next-exit or removed")
    rec = lookup(req)
    waiter = Waiter(req, rec)
    return Streamed(_wait(waiter, condition))


def _wait(waiter: "Waiter", condition: str) -> Iterator[bytes]:
    """The headers at once (docker's client waits for them before it starts the container),
    the status once the condition is met."""
    import json

    yield b""
    try:
        code = waiter.wait(condition)
    except (ApiError, PodpyError) as exc:
        yield json.dumps({"StatusCode": -1, "Error": {"Message": str(exc)}}).encode() + b"\n"
        return
    yield json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"


class Waiter:
    """A container watched until it meets a condition; its exit code is taken from the
    events log's `died` (the container may be gone, with --rm, before its row is read)."""

    def __init__(self, req: Request, rec: Any) -> None:
        from .. import events

        self.req = req
        self.rt = req.runtime()
        self.rec = rec
        self.events_path = events.path(self.rt.cfg.runroot)
        try:
            import os

            self.offset = os.path.getsize(self.events_path)
        except OSError:
            self.offset = 0
        self.died: Optional[int] = None
        self.rest = b""

    def _read_events(self) -> None:
        import json

        try:
            with open(self.events_path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        self.offset += len(data)
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("ID") == self.rec.id and event.get("Status") == "died":
                code = (event.get("Attributes") or {}).get("containerExitCode")
                self.died = int(code) if code is not None else -1

    def _remove(self, rec: Any) -> None:
        """An exited --rm container removed now, as the monitor's clean-up command would
        (`docker run --rm` waits for the removal; whichever of the two comes first removes it,
        the other finds it gone)."""
        from ..engine.cleanup import cleanup

        if self.died is None and rec.exit_code is not None:
            self.died = rec.exit_code
        try:
            cleanup(self.rt, rec.id, lambda _line: None)
        except PodpyError:
            time.sleep(0.01)   # being removed by the monitor's clean-up: it will be gone

    def wait(self, condition: str) -> int:
        from ..engine.container import Container
        from ..engine.reconcile import reconcile
        from ..state import EXITED, RUNNING, STOPPED

        delay = 0.005
        last = self.rec.exit_code
        while True:
            self._read_events()
            now = self.rt.state.get(self.rec.id)
            if now is None:
                code = self.died if self.died is not None else last
                return code if code is not None else 0
            last = now.exit_code if now.exit_code is not None else last
            if now.state == RUNNING and now.detached:
                if Container(self.rt, now).exited(from_file=True):
                    continue
            running = now.state in (RUNNING, "paused")
            if condition == "removed" and now.state == EXITED and now.config.remove and now.detached:
                self._remove(now)
                continue
            if condition == "not-running" and not running:
                return now.exit_code if now.exit_code is not None and now.state in (EXITED, STOPPED) else 0
            if condition == "next-exit" and self.died is not None and not running:
                return self.died
            if self.req.gone():
                raise ApiError(499, "the client went away")
            reconcile(self.rt)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
