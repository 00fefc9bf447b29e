"""How a podpy command reaches the user's monitor: start it when none serves the runtime
directory, connect, and make one request (a monitor that leaves as we ask is replaced)."""

from __future__ import annotations

import os
import sys
import time

from ..errors import EngineError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .channel import Channel



def package_root() -> str:
    import podpy

    return os.path.dirname(os.path.dirname(os.path.abspath(podpy.__file__)))


def python_env() -> dict[str, str]:
    """The environment for a python that must import podpy as this process does."""
    env = dict(os.environ)
    root = package_root()
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = root + (os.pathsep + old if old else "")
    return env


# runroot -> when this process last started a monitor for it (connect_monitor waits for that one)
_spawned: dict[str, float] = {}


_hints: list[Any] = []   # the connections that said a launch is coming, open until an answer


def _end_hints() -> None:
    while _hints:
        _hints.pop().close()


def prestart(runroot: str) -> None:
    """Tell the user's monitor that a launch is coming, without waiting for it: when none
    serves runroot, start one (its python starts up on the other CPU while this command
    prepares the container, rather than after, when the launch request would wait for it,
    about 40 ms here); when one serves, ask it for a spare launcher (service.make_spare),
    whose imports then run meanwhile. A socket left by a killed monitor is left to request(),
    which replaces that monitor."""
    from .channel import SOCKET

    if not os.path.isdir(runroot):
        return
    if not os.path.exists(os.path.join(runroot, SOCKET)):
        spawn(runroot)
        return
    if _hints or time.monotonic() - _spawned.get(runroot, -10.0) < 2.0:
        return   # said once is enough (a monitor started here just now makes one by itself)
    from rootless.sync import connect

    from .channel import Channel

    sock = connect(runroot, SOCKET)
    if sock is None:
        return
    try:
        Channel(sock).send("spare")
    except OSError:
        sock.close()
        return
    # Kept open until a request has its answer (by then the monitor has read this): a monitor
    # of an older podpy answers an unknown request, and must not find its client gone (it
    # would fail on the broken pipe); a long-lived process (the API service) must not hold
    # the monitor, which counts it as a client, for good.
    _hints.append(sock)


def spawn(runroot: str, own: bool = False) -> None:
    """Start a monitor for runroot: a child subreaper (set here, kept across exec) in a
    session of its own, running a python without site (a small process). own: the monitor
    of one systemd unit's container, in this process's cgroup (the unit's)."""
    from rootless import syscalls

    # the light os of podpy's commands (podpy/lightos.py): 1.2 ms less to start, some 0.1 MB
    # less for as long as the monitor lives
    argv = [sys.executable, "-S", "-c", "from podpy.lightos import install; install()\n"
            "from podpy.monitor.service import main; main()", runroot]
    if own:
        argv.append("own")
    env = python_env()
    _spawned[runroot] = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            # From /: the monitor holds no directory of the caller's busy, and neither it nor
            # the commands it runs (`python -m podpy ...`) import a podpy found in the
            # directory podpy happened to be started from.
            os.chdir("/")
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 1 << 16)
            # A second fork: the monitor must not stay our child (nobody would reap it).
            if os.fork() == 0:
                # Not inherited across fork, but kept across execve: set it here.
                syscalls.default().set_child_subreaper()
                os.execve(sys.executable, argv, env)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def own_root(run_dir: str) -> str:
    """Where the monitor of one container (a systemd unit's) serves: in its runtime directory."""
    return os.path.join(run_dir, "monitor")


def monitor_root(runroot: str, run_dir: str) -> str:
    """The directory of the monitor that supervises the container of run_dir: its own, when
    it has one, else the user's."""
    own = own_root(run_dir)
    return own if os.path.exists(os.path.join(own, "monitor.sock")) else runroot


def connect_monitor(runroot: str, timeout: float = 10.0, own: bool = False) -> "Channel":
    from rootless.sync import connect

    from .channel import SOCKET, Channel

    deadline = time.monotonic() + timeout
    spawned_at = _spawned.get(runroot, 0.0)   # prestart's, which may be starting now
    while True:
        sock = connect(runroot, SOCKET)
        if sock is not None:
            return Channel(sock)
        now = time.monotonic()
        if now > deadline:
            raise EngineError(f"the container monitor did not start (see {os.path.join(runroot, 'monitor.log')})")
        if now - spawned_at > 2.0:
            spawn(runroot, own)
            spawned_at = now
        time.sleep(0.003)


def request(runroot: str, kind: str, fds: Optional[list[int]] = None, sent: Optional[Callable[[], Any]] = None,
             again: Optional[Callable[[], list[int]]] = None, own: bool = False, **fields: Any) -> dict[str, Any]:
    """One request to the monitor (fds go along, SCM_RIGHTS); a monitor that leaves as we ask
    is replaced and asked again. sent: told once the fds are on their way (ours may close);
    again: the fds for another attempt."""
    from rootless.errors import from_wire

    for attempt in range(3):
        chan = connect_monitor(runroot, own=own)
        try:
            if attempt and again is not None:
                fds = again()
            chan.send(kind, fds=fds, **fields)
            if sent is not None:
                sent()
            reply, fds = chan.recv()
        except (ConnectionResetError, BrokenPipeError):
            reply, fds = None, []
        finally:
            chan.close()
        for fd in fds:
            os.close(fd)
        if reply is None:
            continue
        _end_hints()   # answered: the monitor has read them
        if reply.get("type") == "error":
            raise from_wire(reply["error"])
        return reply
    raise EngineError("the container monitor went away while starting the container")
