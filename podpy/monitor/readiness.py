"""The monitor's part in readiness: --sdnotify's messages passed on to systemd, `run -d`
clients waiting for READY=1, and healthchecks run when due (the first that passes makes a
`--sdnotify=healthy` container ready). A mixin of service.Monitor, whose state it uses."""

from __future__ import annotations

import os
import time

from .container import alive, interval, spawn_command
from .notify import tell

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from .channel import Channel
    from .container import Container


class Readiness:
    containers: dict[int, Container]

    def _tell_systemd(self, ctr: Container, lines: list[bytes]) -> None:
        tell(str(ctr.notify.get("target") or ""), os.getpid(), lines)

    def _ready(self, ctr: Container, lines: Optional[list[bytes]] = None) -> None:
        self._tell_systemd(ctr, lines if lines is not None else [b"READY=1"])
        if not ctr.ready:
            ctr.ready = True
            for client in ctr.ready_waiters:
                self._reply(client, "ready")
            ctr.ready_waiters = []

    def _notify_message(self, ctr: Container) -> None:
        """A message the container sent to its $NOTIFY_SOCKET: passed on with this process as
        MAINPID (the container's own MAINPID= names a pid systemd cannot see)."""
        try:
            data = ctr.notify_sock.recv(4096)
        except OSError:
            return
        lines = [line for line in data.split(b"\n") if line and not line.startswith(b"MAINPID=")]
        if not lines:
            return
        if b"READY=1" in lines:
            self._ready(ctr, lines)
        else:
            self._tell_systemd(ctr, lines)

    def _wait_ready(self, chan: Channel, cid: str) -> None:
        """A `run -d` waits until its container is ready (or gone)."""
        ctr = next((c for c in self.containers.values() if c.id == cid), None)
        if ctr is None or ctr.exit_code is not None:
            chan.send("exited")
        elif ctr.ready:
            chan.send("ready")
        else:
            self.unwatch(chan.fileno())   # answered when the container is ready or exits
            ctr.ready_waiters.append(chan)

    def _health_result(self, pid: int, code: int) -> None:
        """--sdnotify healthy: the first healthcheck that passes makes its container ready."""
        for ctr in self.containers.values():
            if pid == ctr.health_pid and ctr.health_pid:
                ctr.health_pid = 0
                if code == 0 and not ctr.ready and ctr.notify.get("mode") == "healthy":
                    self._ready(ctr)
                return

    def _healthchecks(self) -> None:
        """Run each due healthcheck (`podpy healthcheck run ID`), one at a time per container."""
        now = time.monotonic()
        for ctr in self.containers.values():
            if not ctr.health or ctr.exit_code is not None or ctr.held is not None or now < ctr.health_due:
                continue
            ctr.health_due = now + interval(ctr.health)
            if ctr.health_pid and alive(ctr.health_pid):
                continue
            ctr.health_pid = spawn_command(ctr.health, self.runroot)
