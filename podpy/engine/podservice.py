"""The service container of `kube play --service-container` pods, by podman's rules.

The container carries a label naming the pods of its play (SERVICE_LABEL, names joined by
commas); inspect shows it as `.IsService`. It stops once none of its pods is running (when
their containers have exited, or at `pod stop`/`pod kill`), starts again with one of them
(`pod start`, `pod restart`), and cannot be removed, even with --force, while one of them is
not stopped: the pods' removal (`pod rm`, `kube down`) takes it away.
"""

from __future__ import annotations

from .context import Runtime
from .podstore import PodRecord, PodStore, members, status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from ..state import ContainerRecord

SERVICE_LABEL = "io.podpy.kube.service-container"
_STOPPED = ("Stopped", "Exited", "Error")   # podman's pod states that let its service container stop


def service_name(text: str) -> str:
    """podman's name of a play's service container: the first 12 hex digits of the sha256 of
    the YAML it was given, and `-service`."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12] + "-service"


def is_service(rec: ContainerRecord) -> bool:
    return SERVICE_LABEL in (rec.config.labels or {})


def _pod_names(rec: ContainerRecord) -> list[str]:
    return [n for n in (rec.config.labels or {}).get(SERVICE_LABEL, "").split(",") if n]


def service_of(rt: Runtime, pod: PodRecord) -> Optional[ContainerRecord]:
    """The service container of a pod, if a play made one for it."""
    return next((r for r in rt.state.all() if is_service(r) and pod.name in _pod_names(r)), None)


def services_of(rt: Runtime, pod_names: list[str]) -> list[ContainerRecord]:
    """The service containers of any of the named pods."""
    wanted = set(pod_names)
    return [r for r in rt.state.all() if is_service(r) and wanted & set(_pod_names(r))]


def pods_of(rt: Runtime, rec: ContainerRecord) -> list[PodRecord]:
    store = PodStore(rt.db, rt.cfg.namespace or "")
    out = []
    for name in _pod_names(rec):
        pod = next((p for p in store.all() if p.name == name), None)
        if pod is not None:
            out.append(pod)
    return out


def can_stop(rt: Runtime, rec: ContainerRecord) -> bool:
    """Whether every pod of the service container is stopped (or gone)."""
    every = rt.state.all()
    return all(status([r.state for r in members(every, p.id)
                       if not r.config.init_ctr or r.state in ("running", "paused")]) in _STOPPED
               for p in pods_of(rt, rec))


def refuse_removal(rt: Runtime, rec: ContainerRecord) -> None:
    """podman's refusal to remove the service container of pods that are not stopped."""
    from ..errors import PodpyError

    if is_service(rec) and not can_stop(rt, rec):
        pods = ",".join(p.id for p in pods_of(rt, rec))
        raise PodpyError(f"container {rec.id} is the service container of pod(s) {pods} and cannot be removed "
                         "without removing the pod(s)")


def stop_with(rt: Runtime, pod: PodRecord, warn: Callable[[str], None]) -> None:
    """After a pod stopped: its service container stops too once all of its pods have."""
    from ..errors import InvalidState, NoSuchContainer
    from .lifecycle import stop

    rec = service_of(rt, pod)
    if rec is None or rec.state not in ("running", "paused") or not can_stop(rt, rec):
        return
    try:
        stop(rt, rec.id, 0, warn)
    except (NoSuchContainer, InvalidState):
        pass


def start_with(rt: Runtime, pod: PodRecord, warn: Callable[[str], None]) -> None:
    """Before a pod starts: its service container runs again."""
    from .start import start_detached

    rec = service_of(rt, pod)
    if rec is not None and rec.state not in ("running", "paused"):
        start_detached(rt, rec, warn)
