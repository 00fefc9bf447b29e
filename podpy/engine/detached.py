"""Detached containers: started through the user's monitor (podpy/monitor.py), and the
verbs that act on running containers: stop, kill, wait, restart, and the clean-up the
monitor runs when a container exits.

The row of a detached container is owned by the monitor while it runs. When its init
exits, the monitor writes `exit` (the code and the time) into the container's runtime
directory and runs `podpy container cleanup ID`; any podpy command that reconciles the
state reads such a file too, so an exit is recorded even if the clean-up never ran. A
monitor that died (SIGKILL) leaves running rows with a dead owner: those are reported as
exited with an unknown code, and their processes are killed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from ..errors import EngineError, InvalidArgument, InvalidState, translate
from ..netopts import MAX_PUBLISHED
from ..state import (
    CONFIGURED, CREATED, EXITED, PAUSED, REMOVING, RUNNING, STOPPED, ContainerRecord, process_start_time,
)
from .runtime import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ..monitor import Channel

EXIT_FILE = "exit"
LOG_FILE = "ctr.log"


# -------------------------------------------------------------- the monitor --


def _package_root() -> str:
    import podpy

    return os.path.dirname(os.path.dirname(os.path.abspath(podpy.__file__)))


def _python_env() -> dict[str, str]:
    """The environment for a python that must import podpy as this process does."""
    env = dict(os.environ)
    root = _package_root()
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = root + (os.pathsep + old if old else "")
    return env


def _spawn_monitor(runroot: str) -> None:
    """Start a monitor for runroot: a child subreaper (set here, kept across exec) in a
    session of its own, running a python without site (a small process)."""
    from rootless import syscalls

    argv = [sys.executable, "-S", "-c", "from podpy.monitor import main; main()", runroot]
    env = _python_env()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
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


def _connect(runroot: str, timeout: float = 10.0) -> "Channel":
    from rootless.sync import connect

    from ..monitor import SOCKET, Channel

    deadline = time.monotonic() + timeout
    spawned_at = 0.0
    while True:
        sock = connect(runroot, SOCKET)
        if sock is not None:
            return Channel(sock)
        now = time.monotonic()
        if now > deadline:
            raise EngineError(f"the container monitor did not start (see {os.path.join(runroot, 'monitor.log')})")
        if now - spawned_at > 2.0:
            _spawn_monitor(runroot)
            spawned_at = now
        time.sleep(0.003)


def _request(runroot: str, kind: str, fds: Optional[list[int]] = None, sent: Optional[Callable[[], Any]] = None,
             again: Optional[Callable[[], list[int]]] = None, **fields: Any) -> dict[str, Any]:
    """One request to the monitor (fds go along, SCM_RIGHTS); a monitor that leaves as we ask
    is replaced and asked again. sent: told once the fds are on their way (ours may close);
    again: the fds for another attempt."""
    from rootless.errors import from_wire

    for attempt in range(3):
        chan = _connect(runroot)
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
        if reply.get("type") == "error":
            raise from_wire(reply["error"])
        return reply
    raise EngineError("the container monitor went away while starting the container")


# ---------------------------------------------------------------- starting --


def log_path(rt: Runtime, rec: ContainerRecord) -> str:
    return rec.config.log_opts.get("path") or os.path.join(rt.store.container_dir(rec.id), LOG_FILE)


def _podpy_command(rt: Runtime, *args: str) -> dict[str, Any]:
    """A podpy command line (for the monitor to run) on this store."""
    argv = [sys.executable, "-m", "podpy", "--root", rt.cfg.root, "--runroot", rt.cfg.runroot,
            "--storage-driver", rt.store.driver.name, *args]
    return {"argv": argv, "env": _python_env()}


def _cleanup_command(rt: Runtime, cid: str) -> dict[str, Any]:
    return _podpy_command(rt, "container", "cleanup", cid)


def _write_spec(path: str, spec: dict[str, Any]) -> None:
    """The runtime spec for the monitor's launcher (marshal: the monitor imports no json)."""
    import marshal

    tmp = f"{path}.tmp-{os.getpid()}"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "wb") as f:
        marshal.dump(spec, f)   # the environment may hold secrets: the user's alone
    os.replace(tmp, path)


def start_detached(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None],
                   by_policy: bool = False) -> ContainerRecord:
    """Start a created or exited container under the monitor; returns its row once it runs.
    by_policy: a restart policy's start, which a `stop` meanwhile cancels."""
    from .containers import STARTABLE, _failed_start, container_cgroup, runtime_spec
    from .netstart import NetStart

    startable = STARTABLE + ((CONFIGURED,) if rec.owner_pid == os.getpid() else ())
    rec = rt.state.claim(rec.id, startable, RUNNING, unless_stopping=by_policy)
    started = time.time()
    rt.state.update(rec.id, started_at=started, finished_at=None, exit_code=None, pid=None, detached=True,
                    stopping=False, **({"restarts": rec.restarts + 1} if by_policy else {}))
    cfg = rec.config
    net = None
    try:
        net = NetStart(rt, rec)
        spec = runtime_spec(rt, rec, warn, (24, 80) if cfg.tty else None, net)
        run_dir = rt.container_run_dir(rec.id)
        try:
            os.unlink(os.path.join(run_dir, EXIT_FILE))
        except FileNotFoundError:
            pass
        slirp = None
        if net.slirp is not None:
            s = net.slirp
            slirp = {"mtu": s.mtu, "cidr": s.cidr, "allow_host_loopback": s.allow_host_loopback,
                     "enable_ipv6": s.enable_ipv6, "outbound_addr": s.outbound_addr, "extra": list(s.extra)}
        listeners = net.bind()
        if len(listeners) > MAX_PUBLISHED:   # checked at create too
            raise InvalidArgument(f"at most {MAX_PUBLISHED} published ports ({len(listeners)} asked for)")
        log = {"driver": cfg.log_driver, "path": log_path(rt, rec),
               "max_size": int(cfg.log_opts.get("max-size") or 0)}
        cgroup = container_cgroup(rt, rec, warn)
        health = None
        if cfg.healthcheck:
            health = {"interval": float(cfg.healthcheck["interval"]),
                      **_podpy_command(rt, "healthcheck", "run", rec.id)}
        spec_path = os.path.join(run_dir, "spec")
        _write_spec(spec_path, spec)
        process = spec["process"]
        # Our copies of the host ports' sockets close once sent: a server in the container that
        # takes its port over (rootless.network.redirect) may have to bind it anew.
        reply = _request(rt.cfg.runroot, "launch", fds=listeners, sent=net.close_listeners, again=net.bind,
                         id=rec.id, spec_path=spec_path,
                         process={"stdin": bool(process.get("stdin")), "terminal": bool(process.get("terminal"))},
                         userns=any(ns["type"] == "user" for ns in spec["linux"].get("namespaces", [])),
                         slirp=slirp, log=log,
                         cgroup=cgroup, exit_path=os.path.join(run_dir, EXIT_FILE),
                         cleanup=_cleanup_command(rt, rec.id), health=health, net=net.monitor_request())
    except BaseException as exc:
        if net is not None:
            net.stop()
        _failed_start(rt, rec, exc)
        raise translate(exc) if isinstance(exc, Exception) else exc
    net.stop()   # our copies of the listeners: the monitor has its own
    monitor = int(reply["monitor"])
    if reply.get("cgroup_error") and rec.cgroup:
        # The monitor runs in a cgroup from which this one cannot be reached (it was started
        # from elsewhere): the container runs, without its cgroup.
        warn(f"the container runs without its cgroup: {reply['cgroup_error']} (the container monitor "
             "was started from a cgroup that does not reach this one)")
        from rootless import cgroups

        cgroups.remove(rec.cgroup, timeout=0)
        rt.state.update(rec.id, cgroup=None)
        rec.cgroup = None
    # Only while it still runs: a container that is already over was recorded by its clean-up.
    with rt.db.write() as c:
        c.execute("UPDATE containers SET pid=?, owner_pid=?, owner_start=? WHERE id=? AND state=?",
                  (int(reply["pid"]), monitor, process_start_time(monitor), rec.id, RUNNING))
    rec.pid, rec.state = int(reply["pid"]), RUNNING
    from ..events import container as event

    event(rt.cfg.runroot, "restart" if by_policy else "start", rec)
    return rec


# ------------------------------------------------------------------ exits --


def read_exit(rt: Runtime, cid: str) -> Optional[tuple[int, float]]:
    """(exit code, finish time) from the monitor's exit file, if it wrote one."""
    try:
        with open(os.path.join(rt.container_run_dir(cid), EXIT_FILE)) as f:
            data = json.load(f)
        return int(data["code"]), float(data["finished"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_exit(rt: Runtime, rec: ContainerRecord) -> None:
    """Record an exit the monitor wrote that no clean-up has recorded yet (part of reconcile)."""
    got = read_exit(rt, rec.id)
    if got is not None:
        _record(rt, rec, *got)


def end_unsupervised(rt: Runtime, rec: ContainerRecord) -> None:
    """A running detached container whose monitor is gone: kill what is left of it (only a
    process that is PID 1 of its own PID namespace: the pid may have been reused) and record
    it as exited, with the monitor's exit file if there is one, else with an unknown code."""
    if rec.pid and _is_container_init(rec.pid):
        try:
            os.kill(rec.pid, signal.SIGKILL)
        except OSError:
            pass
    got = read_exit(rt, rec.id)
    code, finished = got if got is not None else (-1, time.time())
    _record(rt, rec, code, finished)


def _is_container_init(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    ids = line.split()[1:]
                    return len(ids) > 1 and ids[-1] == "1"
    except OSError:
        pass
    return False


def _record(rt: Runtime, rec: ContainerRecord, code: int, finished: float) -> bool:
    """The container is over. False when another command recorded it first."""
    with rt.db.write() as c:
        row = c.execute("SELECT cgroup FROM containers WHERE id=? AND state IN (?, ?) AND detached=1",
                        (rec.id, RUNNING, PAUSED)).fetchone()
        done = row is not None and c.execute(
            "UPDATE containers SET state=?, exit_code=?, finished_at=?, pid=NULL, owner_pid=NULL,"
            " owner_start=NULL, cgroup=NULL WHERE id=?", (EXITED, code, finished, rec.id)).rowcount > 0
    if done:
        from ..events import container as event
        from .containers import _remove_run_dir

        event(rt.cfg.runroot, "died", rec, containerExitCode=code)
        _remove_run_dir(rt, rec.id)
        if row[0]:
            from rootless import cgroups

            cgroups.kill_all(row[0])
            cgroups.remove(row[0])
    return done


def cleanup(rt: Runtime, cid: str, warn: Callable[[str], None]) -> None:
    """`container cleanup`: what the monitor runs after a container's exit: record it, then
    --rm or the restart policy."""
    if not os.path.exists(os.path.join(rt.cfg.root, "podpy.db")):
        return   # the store is gone (system reset): nothing to record, and nothing to recreate
    rt.reconcile()
    rec = rt.state.get(cid)
    if rec is None:
        return
    if rec.state in (RUNNING, PAUSED) and rec.detached:
        got = read_exit(rt, cid)
        if got is None:
            return   # still running (or its monitor died; reconcile handles that)
        if not _record(rt, rec, *got):
            return
        rec = rt.state.get(cid)
        if rec is None:
            return
    if rec.state != EXITED or not rec.detached:
        return
    if rec.config.remove:
        from .containers import remove

        remove(rt, rec, force=False, volumes=True)
        return
    if should_restart(rec):
        _restart_after_backoff(rt, rec, warn)


def should_restart(rec: ContainerRecord) -> bool:
    policy = rec.config.restart
    if rec.stopping or policy == "no":
        return False
    if policy in ("always", "unless-stopped"):
        return True
    if policy.startswith("on-failure"):
        if not rec.exit_code:
            return False
        _, _, limit = policy.partition(":")
        return not limit or rec.restarts < int(limit)
    return False


def _restart_after_backoff(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None]) -> None:
    """Start it again after a back-off (docker's: 100 ms, doubling with each restart, at most
    5 minutes); the wait is abandoned when the container is stopped, started or removed meanwhile."""
    delay = min(0.1 * (2 ** rec.restarts), 300.0)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        now = rt.state.get(rec.id)
        if now is None or now.state != EXITED or now.stopping:
            return
    try:
        start_detached(rt, rt.state.lookup(rec.id), warn, by_policy=True)
    except Exception:  # noqa: BLE001 - it stays exited (or was stopped meanwhile); `ps` shows it
        pass


# ------------------------------------------------------------ stop and kill --


def _running(rt: Runtime, name: str) -> ContainerRecord:
    rec = rt.state.lookup(name)
    if rec.state != RUNNING or not rec.pid:
        raise InvalidState(f"can only kill running containers. {rec.id} is in state {_state_word(rec)}: "
                           "container state improper")
    return rec


def _state_word(rec: ContainerRecord) -> str:
    return {CONFIGURED: "configured", CREATED: "created", EXITED: "exited", STOPPED: "stopped",
            REMOVING: "removing"}.get(rec.state, rec.state)


def kill(rt: Runtime, name: str, sig: int) -> ContainerRecord:
    """`kill -s SIG`: the signal to the container's init (SIGKILL ends every process of it).
    As in podman, a container ended this way is not brought back by its restart policy."""
    rt.reconcile()
    rec = _running(rt, name)
    rt.state.update(rec.id, stopping=True)
    _signal(rec, sig)
    from ..events import container as event
    from ..options import signal_name

    event(rt.cfg.runroot, "kill", rec, signal=signal_name(sig))
    return rec


def _signal(rec: ContainerRecord, sig: int) -> None:
    if sig == signal.SIGKILL and rec.cgroup:
        from rootless import cgroups

        if cgroups.kill_all(rec.cgroup):   # every process, exec'd ones too
            return
    try:
        os.kill(int(rec.pid or 0), sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise EngineError(f"signalling container {rec.name}: {exc.strerror}") from exc


def stop(rt: Runtime, name: str, timeout: Optional[int], warn: Callable[[str], None]) -> ContainerRecord:
    """`stop`: the stop signal, then SIGKILL after timeout seconds; returns once it is over.
    A container that is not running is left as it is (podman says nothing either)."""
    rt.reconcile()
    rec = rt.state.lookup(name)
    if rec.state == PAUSED:
        unpause(rt, rec.id)
        rec = rt.state.lookup(rec.id)
    if rec.state != RUNNING:
        if rec.state in (CREATED, EXITED, STOPPED):
            rt.state.update(rec.id, stopping=True)   # a restart policy's pending start is cancelled
            return rec
        raise InvalidState(f"container {rec.name} is {_state_word(rec)}: container state improper")
    from ..events import container as event
    from ..options import parse_signal

    event(rt.cfg.runroot, "stop", rec)
    rt.state.update(rec.id, stopping=True)
    wait_for = rec.config.stop_timeout if timeout is None else timeout
    if rec.pid:
        sig = parse_signal(rec.config.stop_signal or "SIGTERM")
        if wait_for > 0:
            _signal(rec, sig)
            if _wait_over(rt, rec, wait_for):
                return rec
            warn(f"StopSignal {rec.config.stop_signal} failed to stop container {rec.name} in {wait_for} "
                 "seconds, resorting to SIGKILL")
        _signal(rec, signal.SIGKILL)
    if not _wait_over(rt, rec, 30):
        raise EngineError(f"container {rec.name} did not exit after SIGKILL")
    return rec


def pause(rt: Runtime, name: str) -> ContainerRecord:
    """Freeze every process of the container (cgroup.freeze)."""
    from rootless import cgroups

    rt.reconcile()
    rec = rt.state.lookup(name)
    if rec.state == PAUSED:
        raise InvalidState(f"\"{rec.name}\" is already paused: container state improper")
    if rec.state != RUNNING:
        raise InvalidState(f"\"{rec.name}\" is not running, can't pause: container state improper")
    if not rec.cgroup:
        raise InvalidState(f"cannot pause {rec.name}: it has no cgroup to freeze "
                           f"({cgroups.detect().reason})")
    if not cgroups.freeze(rec.cgroup, True):
        raise EngineError(f"pausing {rec.name}: the kernel did not report its cgroup frozen")
    rt.state.update(rec.id, state=PAUSED)
    from ..events import container as event

    event(rt.cfg.runroot, "pause", rec)
    return rec


def unpause(rt: Runtime, name: str) -> ContainerRecord:
    from rootless import cgroups

    rec = rt.state.lookup(name)
    if rec.state != PAUSED:
        raise InvalidState(f"\"{rec.name}\" is not paused, can't unpause: container state improper")
    if rec.cgroup:
        cgroups.freeze(rec.cgroup, False)
    rt.state.update(rec.id, state=RUNNING)
    from ..events import container as event

    event(rt.cfg.runroot, "unpause", rec)
    return rec


def kill_and_wait(rt: Runtime, rec: ContainerRecord) -> None:
    """SIGKILL a detached container and wait until its exit is recorded (rm -f)."""
    rt.state.update(rec.id, stopping=True)
    _signal(rec, signal.SIGKILL)
    if not _wait_over(rt, rec, 30):
        raise EngineError(f"container {rec.name} did not exit after SIGKILL")


def _wait_over(rt: Runtime, rec: ContainerRecord, timeout: float) -> bool:
    """Wait until the container has exited and that is recorded; False on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        now = rt.state.get(rec.id)
        if now is None or now.state not in (RUNNING, PAUSED):
            return True
        if now.detached:
            got = read_exit(rt, rec.id)
            if got is not None:
                _record(rt, now, *got)
                continue
        rt.reconcile()   # a foreground owner or a monitor that died
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def wait(rt: Runtime, name: str, conditions: tuple[str, ...] = ("stopped", "exited")) -> int:
    """`wait`: block until the container is not running; its exit code (-1 if unknown)."""
    rt.reconcile()
    rec = rt.state.lookup(name)
    delay = 0.005
    while True:
        now = rt.state.get(rec.id)
        if now is None:
            raise InvalidState(f"container {rec.name} was removed while waiting for it")
        if now.state in (EXITED, STOPPED) or (now.state == CREATED and "created" in conditions):
            return now.exit_code if now.exit_code is not None else -1
        if now.state == RUNNING and now.detached:
            got = read_exit(rt, now.id)
            if got is not None:
                _record(rt, now, *got)
                continue
        rt.reconcile()
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def check_timeout(value: Optional[int]) -> Optional[int]:
    if value is not None and value < 0:
        raise InvalidArgument(f"invalid timeout {value}: must not be negative")
    return value
