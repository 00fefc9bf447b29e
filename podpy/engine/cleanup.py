"""`container cleanup`: what the monitor runs after a detached container's exit: record it,
then apply --rm or the restart policy (with docker's back-off)."""

from __future__ import annotations

import os
import time

from ..state import EXITED, ContainerRecord
from .container import LIVE, Container
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


def cleanup(rt: Runtime, cid: str, warn: Callable[[str], None]) -> None:
    """`container cleanup`: what the monitor runs after a container's exit: record it, then
    --rm or the restart policy."""
    if not os.path.exists(os.path.join(rt.cfg.root, "podpy.db")):
        return   # the store is gone (system reset): nothing to record, and nothing to recreate
    reconcile(rt)
    rec = rt.state.get(cid)
    if rec is None:
        return
    ctr = Container(rt, rec)
    if rec.state in LIVE and rec.detached:
        if not ctr.exited(from_file=True):
            return   # still running (or its monitor died; reconcile handles that), or recorded
        rec = ctr.refresh()
        if rec is None:
            return
    if rec.state != EXITED or not rec.detached:
        return
    if rec.config.pod:
        from .pods import member_exited

        member_exited(rt, rec, warn)
    if rec.config.remove:
        from .removal import remove_container

        remove_container(rt, rec, force=False, volumes=True)
        return
    if should_restart(rec):
        _restart_after_backoff(rt, rec, warn)


def restart_pending(rec: ContainerRecord) -> bool:
    """Whether the container's exit is followed by a start of its restart policy, which the
    clean-up waits its back-off for (Docker's `restarting`): exited detached, not --rm, and
    its policy says so."""
    return rec.state == EXITED and rec.detached and not rec.config.remove and should_restart(rec)


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
        from .start import start_detached

        start_detached(rt, rt.state.lookup(rec.id), warn, by_policy=True)
    except Exception:  # noqa: BLE001 - it stays exited (or was stopped meanwhile); `ps` shows it
        pass


# ------------------------------------------------------------ stop and kill --
