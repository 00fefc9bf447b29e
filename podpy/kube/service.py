"""`kube play --service-container --service-exit-code-propagation all|any`: the play's exit
code for systemd.

podman's service container exits, once every container of the play's pods has exited, with
a code made from theirs: `any` fails when one of them failed, `all` when every one did,
`none` (the default) never. podpy's service container runs catatonit, whose own exit says
nothing of the pods; so with all or any, `kube play` leaves a watcher process behind in the
unit's cgroup, which tells systemd it is the service's main process (MAINPID, READY=1),
waits for the pods' containers to exit, stops the service container with the propagated
code recorded as its exit code (what `inspect` and `wait` show), and exits with that code
itself (what systemd sees).
"""

from __future__ import annotations

import os
import time

from ..config import ENGINE_SETTINGS
from ..engine.context import Runtime
from ..state import CONFIGURED, CREATED, EXITED, STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

POLICIES = ("none", "all", "any")
POLL = 0.5   # seconds between looks at the pods' containers


def propagated(codes: list[int], policy: str) -> int:
    """The play's exit code from its containers' exit codes, in the order they exited: `any`,
    the last failure's code when one failed; `all`, the last one's when every one failed; else 0."""
    failed = [c for c in codes if c != 0]
    if policy == "any" and failed:
        return failed[-1]
    if policy == "all" and codes and len(failed) == len(codes):
        return failed[-1]
    return 0


def _outcome(rt: Runtime, pod_ids: set[str], policy: str) -> Optional[int]:
    """The propagated code once every container of the pods (their infra ones aside) has
    exited; None while one still runs (or none was found)."""
    from ..engine.reconcile import reconcile

    reconcile(rt)
    members = [r for r in rt.state.all() if r.config.pod in pod_ids and not r.config.pod_infra]
    if not members or any(r.state not in (EXITED, STOPPED, CREATED, CONFIGURED) for r in members):
        return None
    done = sorted((r for r in members if r.state in (EXITED, STOPPED)), key=lambda r: r.finished_at or 0.0)
    return propagated([int(r.exit_code or 0) for r in done], policy)


def watch(rt: Runtime, pod_ids: list[str], service_id: str, policy: str) -> None:
    """Start the watcher (see the module's description): a new python in a session of its
    own, from /, that nothing of this process's (its database connection, its threads) goes
    into; returns at once, and `kube play` does not wait for it."""
    import json
    import sys

    from ..monitor.client import python_env

    cfg = rt.cfg
    request = {"root": cfg.root, "runroot": cfg.runroot, "driver": rt.store.driver.name,
               "storage_opts": cfg.storage_opts, "engine": {k: getattr(cfg, k) for k in ENGINE_SETTINGS},
               "pods": pod_ids, "service": service_id, "policy": policy}
    argv = [sys.executable, "-c", "from podpy.kube.service import main; main()", json.dumps(request)]
    env = python_env()
    if os.fork():
        return
    try:
        os.setsid()
        os.chdir("/")
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.execve(argv[0], argv, env)
    finally:
        os._exit(125)


def main() -> None:
    """The watcher's process: its exit code is the propagated one (125: podpy's own failure)."""
    import json
    import sys

    request = json.loads(sys.argv[1])
    try:
        rt = Runtime.open(request["root"], request["runroot"], request["driver"], request["storage_opts"],
                          request["engine"])
        code = _run(rt, set(request["pods"]), request["service"], request["policy"])
    except Exception:  # noqa: BLE001 - a watcher has no one to tell but its exit code
        code = 125
    sys.exit(code)


def _notify(message: str) -> None:
    socket = os.environ.get("NOTIFY_SOCKET", "")
    if not socket:
        return
    import _socket

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        s.connect("\0" + socket[1:] if socket.startswith("@") else socket)
        s.send(message.encode())
    except OSError:
        pass
    finally:
        s.close()


def _run(rt: Runtime, pod_ids: set[str], service_id: str, policy: str) -> int:
    from ..engine import lifecycle

    _notify(f"MAINPID={os.getpid()}\nREADY=1\n")
    while True:
        time.sleep(POLL)
        if rt.state.get(service_id) is None:   # kube down removed the play
            return 0
        code = _outcome(rt, pod_ids, policy)
        if code is None:
            continue
        from ..engine.container import Container

        lifecycle.stop(rt, service_id, 0, lambda _line: None)
        Container.lookup(rt, service_id).propagated_exit(code)
        return code
