"""Healthchecks: `healthcheck run` and the state it keeps.

A container with a startup check (--health-startup-cmd) runs it first, at
--health-startup-interval, and stays `starting`: once it has passed
--health-startup-success times the regular check takes over; failing
--health-startup-retries times (0: never) restarts the container, as podman does.
--health-log-destination puts the health log in a directory of the user's
(<id>-healthcheck.log) or also into the events (events_logger);
--health-max-log-count and --health-max-log-size say how much of it is kept.

A check runs the test in the container as `exec` would (CMD-SHELL through
/bin/sh -c), with its output captured and a time limit. The result goes into
`health.json` beside the container's storage: the status (starting, healthy,
unhealthy), the failing streak and the last five results, which `inspect` and
`ps` show. Failures during --health-start-period do not count; --health-retries
failures in a row make the container unhealthy, and then --health-on-failure
acts (kill, restart or stop). The monitor runs `podpy healthcheck run` at each
--health-interval for the containers it supervises.
"""

from __future__ import annotations

import _signal
import fcntl
import json
import os
import select
import time

from ..errors import InvalidArgument, InvalidState
from ..state import RUNNING, ContainerRecord
from .context import Runtime
from .healthstate import health_path, startup_marker
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

_KEEP = 5
_OUTPUT = 4096


def _stamp(t: float) -> str:
    from ..formats import rfc3339

    return rfc3339(t)


def exec_output(rt: Runtime, rec: ContainerRecord, argv: list[str], timeout: float) -> tuple[int, str]:
    """(exit code, stdout and stderr together) of argv run in the running container, as a
    healthcheck's command runs; -1 when it timed out."""
    return _run_test(rt, rec, ["CMD", *argv], timeout)


def _run_test(rt: Runtime, rec: ContainerRecord, test: list[str], timeout: float) -> tuple[int, str]:
    """(exit code, output) of the test run in the container; -1 when it timed out."""
    from rootless.errors import ExecError
    from rootless.execute import exec_in

    from .spec import builder

    process = builder(rt).health_process(rec, test)
    r, w = os.pipe()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(w, 1)
        os.dup2(w, 2)
        try:
            started = exec_in(rec.pid, process, cgroup=rec.cgroup)
        except ExecError as exc:
            return exc.exit_code, str(exc)
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, w):
            os.close(fd)
    output = bytearray()
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([r], [], [], left)
            if not ready:
                continue
            chunk = os.read(r, 65536)
            if not chunk:
                break
            if len(output) < _OUTPUT:
                output += chunk[:_OUTPUT - len(output)]
    finally:
        os.close(r)
    if timed_out:
        for target in (started.pid, started.stage):
            try:
                os.kill(target, _signal.SIGKILL)
            except OSError:
                pass
        started.wait()
        return -1, f"healthcheck command timed out after {timeout:g}s"
    return started.wait(), output.decode(errors="replace")


def run(rt: Runtime, name: str, warn: Callable[[str], None]) -> tuple[str, int]:
    """One check: the container's status after it (healthy, unhealthy or starting) and the
    check's own exit code."""
    reconcile(rt)
    rec = rt.state.lookup(name)
    check = rec.config.healthcheck
    if not check:
        raise InvalidArgument(f"container {rec.name} has no defined healthcheck")
    if rec.state != RUNNING or not rec.pid:
        raise InvalidState(f"container {rec.name} is not running: container state improper")
    startup = check.get("startup")
    marker = startup_marker(rt, rec)
    in_startup = bool(startup) and not os.path.exists(marker)
    test, limit = (startup["test"], startup["timeout"]) if in_startup else (check["test"], check["timeout"])
    start = time.time()
    code, output = _run_test(rt, rec, list(test), float(limit))
    end = time.time()
    if output.endswith("\n"):
        output = output[:-1]   # as podman logs it: the output's last newline goes
    keep = int(check.get("max_log_count", _KEEP))
    size = int(check.get("max_log_size", 0))
    if size:
        output = output[:size]
    path = health_path(rt, rec)
    lock = os.path.join(rt.store.container_dir(rec.id), "health.json.lock")   # never in the user's directory
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    restart = False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with open(path) as f:
                health = json.load(f)
        except (OSError, ValueError):
            health = {"Status": "starting", "FailingStreak": 0, "Log": []}
        log = list(health.get("Log") or [])
        log.append({"Start": _stamp(start), "End": _stamp(end), "ExitCode": code, "Output": output})
        health["Log"] = log[-keep:] if keep else log
        before = health.get("Status")
        if in_startup:
            state = dict(health.get("_startup") or {"passed": 0, "failed": 0})
            if code == 0:
                state["passed"] += 1
                if state["passed"] >= max(1, int(startup["success"])):
                    with open(marker, "w"):
                        pass
            else:
                state["failed"] += 1
                restart = 0 < int(startup["retries"]) <= state["failed"]
            health["_startup"] = state
        else:
            in_start_period = start - (rec.started_at or start) < float(check["start_period"])
            if code == 0:
                health["Status"], health["FailingStreak"] = "healthy", 0
            elif not in_start_period:
                health["FailingStreak"] = int(health.get("FailingStreak") or 0) + 1
                if health["FailingStreak"] >= int(check["retries"]):
                    health["Status"] = "unhealthy"
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(health, f)
        os.replace(tmp, path)
    finally:
        os.close(fd)
    status = str(health["Status"])
    if check.get("log_destination") == "events_logger":
        from ..events import emit

        emit(rt.cfg.runroot, "container", "health_status", rec.id, rec.name, rec.image_name,
             {"health_status": status, "health_log": json.dumps(health["Log"][-1])})
    if restart:
        warn(f"container {rec.name}: the startup healthcheck failed {startup['retries']} times: restarting it")
        _act(rt, rec, "restart", warn)
    elif status == "unhealthy" and before != "unhealthy":
        _act(rt, rec, str(check.get("on_failure") or "none"), warn)
    return status, code


def _act(rt: Runtime, rec: ContainerRecord, action: str, warn: Callable[[str], None]) -> None:
    """--health-on-failure, when the container has just become unhealthy."""
    from . import lifecycle
    from .start import start_detached

    if action == "kill":
        lifecycle.kill(rt, rec.id, _signal.SIGKILL)
    elif action == "stop":
        lifecycle.stop(rt, rec.id, None, warn)
    elif action == "restart":
        stopped = lifecycle.stop(rt, rec.id, None, warn)
        start_detached(rt, rt.state.get(stopped.id) or stopped, warn)
