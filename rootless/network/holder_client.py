"""Talking to the rootless network namespace's holder (holder.py), and starting it.

The holder is started on demand, by the first container that joins a user network:
    podpy ──fork──> starter ──spawn──> holder: unshare(user, net), "unshared"
                    starter: newuidmap/newgidmap, slirp4netns for the holder's namespaces,
                             "go" with slirp4netns's exit fd
                    holder:  root in its user namespace, lock, socket, "ready"
The starter then exits: neither the holder nor slirp4netns is podpy's child, so they
outlive a foreground podpy while other containers use them. slirp4netns ends with the
holder (its exit fd), and the holder ends a second after its last container.
"""

from __future__ import annotations

import os
import sys
import time

from ..errors import NetworkError
from ..sync import Channel
from ..sync import connect as connect_socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

SOCKET, LOCK, LOG = "netns.sock", "netns.lock", "netns.log"


def _try_connect(runroot: str) -> Optional[Channel]:
    sock = connect_socket(runroot, SOCKET)
    return Channel(sock) if sock is not None else None


def connect(runroot: str, rootless: bool, timeout: float = 15.0) -> tuple[Channel, dict[str, Any]]:
    """A connection to the holder (started when none runs) and its greeting: pid, userns.
    While the connection is open the holder stays, so its namespaces can be joined."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        chan = _try_connect(runroot)
        if chan is not None:
            try:
                chan.send("hello")
                msg, _ = chan.recv()
            except OSError:
                msg = None
            if msg is not None and msg.get("type") == "hello":
                return chan, msg
            chan.close()   # a holder on its way out: start another
        if time.monotonic() > deadline:
            raise NetworkError("the rootless network namespace did not start"
                               + (f": {last_error}" if last_error else f" (see {os.path.join(runroot, LOG)})"))
        last_error = start(runroot, rootless) or last_error
        time.sleep(0.01)


def request(runroot: str, kind: str, fds: Optional[list[int]] = None, timeout: float = 30.0,
            **fields: Any) -> dict[str, Any]:
    """One request to a running holder; its reply (an error reply raises NetworkError)."""
    chan = _try_connect(runroot)
    if chan is None:
        raise NetworkError("the rootless network namespace is not running")
    try:
        chan.sock.settimeout(timeout)
        chan.send(kind, fds=fds, **fields)
        msg, _ = chan.recv()
    except OSError as exc:
        raise NetworkError(f"the rootless network namespace: {exc}") from None
    finally:
        chan.close()
    if msg is None:
        raise NetworkError("the rootless network namespace went away")
    if msg.get("type") == "error":
        raise NetworkError(str(msg.get("message")))
    return msg


def attach(runroot: str, pid: int, req: dict[str, Any]) -> dict[str, Any]:
    """Connect the container whose init is pid to its user networks."""
    try:
        netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise NetworkError(f"the container's network namespace: {exc.strerror}") from None
    try:
        return request(runroot, "attach", fds=[netns], pid=pid, **req)
    finally:
        os.close(netns)


# ---------------------------------------------------------------------- starting --


def start(runroot: str, rootless: bool, timeout: float = 15.0) -> str:
    """Start a holder for runroot (one that finds another running just leaves); "" or why not."""
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(err_r)
            os.setsid()
            why = _starter(runroot, rootless, timeout)
            os.write(err_w, why.encode())
            code = 0
        except BaseException as exc:  # noqa: BLE001
            try:
                os.write(err_w, f"{type(exc).__name__}: {exc}".encode())
            except OSError:
                pass
        finally:
            os._exit(code)
    os.close(err_w)
    try:
        with os.fdopen(err_r, "rb") as f:
            why = f.read().decode(errors="replace")
    finally:
        os.waitpid(pid, 0)
    return why


def _starter(runroot: str, rootless: bool, timeout: float) -> str:
    """In the forked starter: spawn the holder, map its ids, give it slirp4netns."""
    from . import slirp
    from ..userns import default_mappings, write_maps

    for fd in (0, 1, 2):
        os.dup2(os.open("/dev/null", os.O_RDWR), fd)
    os.chdir("/")   # `python -c` looks in its working directory first, which must not be the caller's
    here, there = Channel.pair()
    os.set_inheritable(there.fileno(), True)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    argv = [sys.executable, "-c", "from rootless.network.holder import main; main()", runroot,
            str(there.fileno()), "1" if rootless else "0"]
    log = os.open(os.path.join(runroot, LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        holder = os.posix_spawn(sys.executable, argv, env,
                                file_actions=[(os.POSIX_SPAWN_DUP2, log, 2)])
    finally:
        os.close(log)
    there.close()
    here.sock.settimeout(timeout)
    try:
        msg, _ = here.expect("unshared")
        if rootless:
            write_maps(holder, default_mappings())
        uplink = slirp.start(holder, slirp.SlirpOptions(), userns=rootless)
        here.send("go", fds=[uplink.hand_over()])
        msg, _ = here.recv()
    except Exception as exc:  # noqa: BLE001 - the holder sees its channel close and leaves
        return str(exc)
    if msg is None:
        return f"it exited (see {os.path.join(runroot, LOG)})"
    if msg.get("type") == "error":
        return str(msg.get("error", {}).get("message", "failed"))
    return ""
