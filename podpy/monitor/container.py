"""One container the monitor supervises, and the small helpers it and the monitor share."""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .channel import Channel


class Container:
    """One supervised container."""

    def __init__(self, cid: str, request: dict[str, Any]) -> None:
        self.id = cid
        # only what the exit needs: the spec is the launcher's business (and memory held here
        # stays with the monitor for its whole life)
        self.request = {k: request[k] for k in ("exit_path", "cleanup") if k in request}
        self.health = request.get("health")     # interval, argv, env of `podpy healthcheck run`
        self.health_due = time.monotonic() + interval(self.health) if self.health else 0.0
        self.health_pid = 0
        # --sdnotify under systemd: mode, the manager's socket, the container's own socket (proxied)
        self.notify: dict[str, Any] = request.get("notify") or {}
        self.notify_sock: Any = None
        self.ready = False
        self.ready_waiters: list[Channel] = []   # `run -d` clients waiting for READY=1
        if self.health and self.notify.get("mode") == "healthy":   # ready at the first pass: try soon
            self.health_due = time.monotonic() + min(float(self.health["interval"]), 1.0)
        self.pid = 0
        self.fuse_pid: Optional[int] = None
        self.streams: dict[int, str] = {}      # fd -> "stdout" / "stderr"
        self.slirp_exit: Optional[int] = None
        self.listeners: list[int] = []        # published ports, until the forwarder takes them
        self.forwarder: Any = None
        self.bind_notify: Optional[int] = None   # the init's bind(2) listener, for the forwarder
        self.pasta_pid: Optional[int] = None
        self.stdin: Optional[int] = None
        self.pty: Optional[int] = None
        self.attached: list[Channel] = []     # `podpy attach` clients
        self.log: Any = None                  # a LogFile, or a JournalLog
        self.exit_code: Optional[int] = None
        self.drain_until = 0.0
        # --timeout: when it is killed (0: never); timed_out: it was, and exits with -1 as podman records it
        self.timeout = int(request.get("timeout") or 0)
        self.deadline = time.monotonic() + self.timeout if self.timeout else 0.0
        self.timed_out = False
        # `init`: the channel to its init, which waits for "start" before it execs; the client
        # whose "release" waits for the exec
        self.held: Optional[int] = None
        self.releasing: Optional[Channel] = None


def interval(health: dict[str, Any]) -> float:
    """The time to a container's next check: its startup check's (--health-startup-interval)
    until the check has passed (its marker file is there), then --health-interval."""
    if health.get("startup_interval") and not os.path.exists(str(health.get("startup_marker"))):
        return float(health["startup_interval"])
    return float(health["interval"])


LOG = "monitor.log"


def spawn_command(command: dict[str, Any], runroot: str) -> int:
    """Start a podpy command (argv, env) in a session of its own; its pid, or 0. What it
    says on stderr (a clean-up's or a healthcheck's warnings and errors, such as a restart
    that failed, each line naming its container) goes to the monitor's log in runroot."""
    log = os.path.join(runroot, LOG)
    try:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        fd = -1
    try:
        err = (os.POSIX_SPAWN_DUP2, fd, 2) if fd >= 0 else (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)
        return os.posix_spawn(command["argv"][0], command["argv"], command.get("env") or dict(os.environ),
                              file_actions=[(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                                            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0), err],
                              setsid=True)
    except OSError:
        return 0
    finally:
        if fd >= 0:
            os.close(fd)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False
