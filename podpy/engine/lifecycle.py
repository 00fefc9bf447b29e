"""The verbs on a container that runs: stop, kill, pause, unpause, wait."""

from __future__ import annotations

import os
import time
from _signal import SIGKILL

from ..errors import EngineError, InvalidArgument, InvalidState
from ..state import CREATED, EXITED, INITIALIZED, PAUSED, RUNNING, STOPPED, ContainerRecord
from .container import LIVE, Container, state_word
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional


def _running(rt: Runtime, name: str) -> ContainerRecord:
    rec = rt.state.lookup(name)
    if rec.state != RUNNING or not rec.pid:
        raise InvalidState(f"can only kill running containers. {rec.id} is in state {state_word(rec)}: "
                           "container state improper")
    return rec


def kill(rt: Runtime, name: str, sig: int) -> ContainerRecord:
    """`kill -s SIG`: the signal to the container's init (SIGKILL ends every process of it).
    As in podman, a container ended this way is not brought back by its restart policy."""
    reconcile(rt)
    rec = _running(rt, name)
    ctr = Container(rt, rec)
    ctr.mark_stopping()
    _signal(rec, sig)
    from ..options import signal_name

    ctr.event("kill", signal=signal_name(sig))
    return rec


def _signal(rec: ContainerRecord, sig: int) -> None:
    if sig == SIGKILL and rec.cgroup:
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
    reconcile(rt)
    rec = rt.state.lookup(name)
    if rec.state == PAUSED:
        unpause(rt, rec.id)
        rec = rt.state.lookup(rec.id)
    if rec.state == INITIALIZED:
        # its process waits to exec (`init`): it is ended at once, and exits as podman's does
        ctr = Container(rt, rec)
        ctr.event("stop")
        kill_and_wait(rt, rec)
        return rec
    if rec.state != RUNNING:
        if rec.state in (CREATED, EXITED, STOPPED):
            Container(rt, rec).mark_stopping()   # a restart policy's pending start is cancelled
            return rec
        raise InvalidState(f"container {rec.name} is {state_word(rec)}: container state improper")
    from ..options import parse_signal

    ctr = Container(rt, rec)
    monitor = _own_monitor(rt, rec)
    ctr.event("stop")
    ctr.mark_stopping()
    ctr.stop_begun()
    try:
        wait_for = rec.config.stop_timeout if timeout is None else timeout
        if rec.pid:
            sig = parse_signal(rec.config.stop_signal or "SIGTERM")
            if wait_for > 0:
                _signal(rec, sig)
                if _wait_over(rt, rec, wait_for):
                    _own_monitor_gone(monitor)
                    return rec
                warn(f"StopSignal {rec.config.stop_signal} failed to stop container {rec.name} in {wait_for} "
                     "seconds, resorting to SIGKILL")
            _signal(rec, SIGKILL)
        if not _wait_over(rt, rec, 30):
            raise EngineError(f"container {rec.name} did not exit after SIGKILL")
        _own_monitor_gone(monitor)
        return rec
    finally:
        ctr.stop_over()


def _own_monitor(rt: Runtime, rec: ContainerRecord) -> Optional[tuple[int, Optional[str]]]:
    """(pid, start time) of the container's own monitor (a systemd unit's main process), while
    it runs; None for the user's shared one."""
    if not rec.owner_pid or not os.path.exists(os.path.join(rt.container_run_dir(rec.id), "monitor", "monitor.sock")):
        return None
    return rec.owner_pid, rec.owner_start


def _own_monitor_gone(monitor: Optional[tuple[int, Optional[str]]], timeout: float = 5.0) -> None:
    """Wait a moment for a container's own monitor to leave, as it does once its container is
    done and cleaned up: a unit's ExecStop then returns with the unit's main process gone, and
    systemd has nothing left to kill."""
    if monitor is None:
        return
    from ..state import process_start_time

    pid, started = monitor
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_start_time(pid) == started:
        time.sleep(0.02)


def pause(rt: Runtime, name: str) -> ContainerRecord:
    """Freeze every process of the container (cgroup.freeze)."""
    from rootless import cgroups

    reconcile(rt)
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
    Container(rt, rec).paused()
    return rec


def unpause(rt: Runtime, name: str) -> ContainerRecord:
    from rootless import cgroups

    rec = rt.state.lookup(name)
    if rec.state != PAUSED:
        raise InvalidState(f"\"{rec.name}\" is not paused, can't unpause: container state improper")
    if rec.cgroup:
        cgroups.freeze(rec.cgroup, False)
    Container(rt, rec).unpaused()
    return rec


def kill_and_wait(rt: Runtime, rec: ContainerRecord) -> None:
    """SIGKILL a detached container and wait until its exit is recorded (rm -f)."""
    Container(rt, rec).mark_stopping()
    _signal(rec, SIGKILL)
    if not _wait_over(rt, rec, 30):
        raise EngineError(f"container {rec.name} did not exit after SIGKILL")


def _wait_over(rt: Runtime, rec: ContainerRecord, timeout: float) -> bool:
    """Wait until the container has exited and that is recorded; False on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        now = rt.state.get(rec.id)
        if now is None or now.state not in LIVE:
            if now is not None:
                _released(rt.container_run_dir(rec.id), time.monotonic() + 3)
            return True
        if now.detached:
            if Container(rt, now).exited(from_file=True):
                continue
        reconcile(rt)   # a foreground owner or a monitor that died
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _released(run_dir: str, deadline: float) -> None:
    """Another command recorded the exit (the monitor's clean-up, the foreground run): wait
    until it has released what the run held, its runtime directory last (Container._release),
    so that a start right after the stop (`restart`, a healthcheck's restart) does not write
    its new run's files where that release is still removing the last run's."""
    delay = 0.002
    while os.path.lexists(run_dir) and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def wait(rt: Runtime, name: str, conditions: tuple[str, ...] = ("stopped", "exited"),
         interval: Optional[float] = None) -> int:
    """`wait`: block until the container is not running (a container never started is not); its
    exit code (-1 if unknown). It looks every interval seconds, or after a short back-off
    growing to 0.1 s without one."""
    reconcile(rt)
    rec = rt.state.lookup(name)
    delay = 0.005 if interval is None else interval
    while True:
        now = rt.state.get(rec.id)
        if now is None:
            raise InvalidState(f"container {rec.name} was removed while waiting for it")
        # A container that has not run (created, or initialized and waiting to exec) is not
        # running: as podman's, a wait for it to stop or exit answers at once, with code 0
        not_started = now.state in (CREATED, INITIALIZED) and bool({"stopped", "exited"} & set(conditions))
        if now.state in (EXITED, STOPPED) or (now.state == CREATED and "created" in conditions) or not_started:
            return now.exit_code if now.exit_code is not None else (0 if not_started else -1)
        if now.state == RUNNING and "running" in conditions:
            return -1   # podman's figure: no exit code yet
        if now.state in (RUNNING, INITIALIZED) and now.detached:
            if Container(rt, now).exited(from_file=True):
                continue
        reconcile(rt)
        time.sleep(delay)
        if interval is None:
            delay = min(delay * 2, 0.1)


def check_timeout(value: Optional[int]) -> Optional[int]:
    if value is not None and value < 0:
        raise InvalidArgument(f"invalid timeout {value}: must not be negative")
    return value
