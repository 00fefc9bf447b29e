"""`rm`: removing containers, a running one only with force (killed, or stopped first with
-t). The teardown itself is the container's (Container.destroy)."""

from __future__ import annotations

import _signal
import os
import time

from ..errors import InvalidState, NoSuchContainer, PodpyError, translate
from ..state import INITIALIZED, REMOVING, RUNNING, ContainerRecord
from .container import Container, shared_with
from .context import Runtime
from .entities import PruneReport, Report
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from .entities import ContainerPruneOptions
    from .podstore import PodRecord


def remove_container(rt: Runtime, rec: ContainerRecord, force: bool, volumes: bool = False,
           timeout: Optional[int] = None, warn: Optional[Callable[[str], None]] = None) -> None:
    """Remove one container; a running one only with force (it is killed first, or stopped
    with timeout seconds before SIGKILL); with volumes, its anonymous volumes too."""
    for _ in range(5):
        if rec.state == INITIALIZED and rec.owner_pid != os.getpid():
            from .lifecycle import kill_and_wait

            kill_and_wait(rt, rec)   # its process waits to exec (`init`): podman removes it without force
            rec = rt.state.get(rec.id) or rec
        elif rec.state in (RUNNING, "paused") and rec.owner_pid != os.getpid():
            if not force:
                raise InvalidState(
                    f"cannot remove container {rec.id} as it is running - running or paused containers "
                    "cannot be removed without force: container state improper")
            if timeout:
                from .lifecycle import stop

                stop(rt, rec.id, timeout, warn or (lambda _line: None))
                rec = rt.state.get(rec.id) or rec
            elif rec.detached:
                from .lifecycle import kill_and_wait

                kill_and_wait(rt, rec)
            else:
                _kill_and_wait(rec)
        ctr = Container(rt, rec)
        try:
            ctr.claim_remove()
            break
        except InvalidState:
            now = rt.state.get(rec.id)
            if now is None:
                return   # removed meanwhile by someone else
            if now.state == REMOVING:
                if force and _removed_by_other(rt, rec.id):
                    return
                raise InvalidState(f"container {rec.name} is being removed by another command") from None
            rec = now    # started again meanwhile: killed again above (with force)
    else:
        raise InvalidState(f"container {rec.name} keeps being restarted: could not remove it")
    ctr.destroy(volumes)


def not_removed_during(rt: Runtime, rec: ContainerRecord, what: str) -> None:
    """Raise unless the container's storage was left whole while its changes were read: a
    removal claims the row (REMOVING) before it deletes a file, so a row still there and not
    being removed after the read means the read saw all of it."""
    now = rt.state.get(rec.id)
    if now is None or now.state == REMOVING:
        raise InvalidState(f"container {rec.name} was removed while {what}")


def _removed_by_other(rt: Runtime, cid: str, timeout: float = 30.0) -> bool:
    """Whether the removal another command is doing (a --rm container's monitor, after `stop`)
    ends within timeout: `rm -f` and `run --replace` then find it gone, as podman's wait on
    the container's lock does; without force a removal in progress is an error at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = rt.state.get(cid)
        if now is None:
            return True
        if now.state != REMOVING:
            return False
        time.sleep(0.02)
    return False


def _kill_and_wait(rec: ContainerRecord, timeout: float = 10.0) -> None:
    """SIGKILL the container and wait until it and the podpy supervising it are gone
    (the supervisor records the exit; removing under its feet would race it)."""
    from ..state import alive

    if rec.pid:
        try:
            os.kill(rec.pid, _signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (rec.pid and os.path.exists(f"/proc/{rec.pid}")) and not alive(rec.owner_pid, rec.owner_start):
            return
        time.sleep(0.005)


def dependents(recs: list[ContainerRecord], cid: str) -> list[ContainerRecord]:
    """The containers of recs that depend on container cid (share its namespaces, or --require it)."""
    return [r for r in recs if cid in shared_with(r)]


def with_dependents(recs: list[ContainerRecord], rec: ContainerRecord) -> list[ContainerRecord]:
    """rec after every container depending on it, recursively, each before what it depends on
    (podman's `rm --depend` order)."""
    out: list[ContainerRecord] = []
    seen: set[str] = set()

    def visit(r: ContainerRecord) -> None:
        if r.id in seen:
            return
        seen.add(r.id)
        for d in dependents(recs, r.id):
            visit(d)
        out.append(r)
    visit(rec)
    return out


def remove_many(rt: Runtime, names: list[str], force: bool, all_: bool, ignore: bool,
                volumes: bool = False, timeout: Optional[int] = None,
                warn: Optional[Callable[[str], None]] = None, depend: bool = False) -> list[Report]:
    """`rm`: one report per container, each with its own error, so a partial failure says which
    (a name no container has, unless ignored, stops the removal before anything is removed).
    A container others share namespaces of is refused while they exist; with depend they are
    removed first (reported by full id, as podman's --depend prints them), and --all removes
    every dependent before what it depends on. An infra container is removed only with its
    pod: with depend or --all the pod goes too, with every container of it (each reported)."""
    reconcile(rt)
    targets: list[tuple[str, Optional[ContainerRecord], Optional[PodpyError]]] = []
    if all_:
        every = rt.state.all()
        seen: set[str] = set()
        for r in every:
            for d in with_dependents(every, r):
                if d.id not in seen:
                    seen.add(d.id)
                    targets.append((d.id, d, None))
    for n in names:
        try:
            targets.append((n, rt.state.lookup(n), None))
        except NoSuchContainer as exc:
            if not ignore:
                targets.append((n, None, exc))
        except PodpyError as exc:
            targets.append((n, None, exc))
    unknown = [(label, err) for label, rec, err in targets if isinstance(err, NoSuchContainer)]
    if unknown:
        # as podman's: every name is looked up before anything is removed, and one that no
        # container has stops them all (with --ignore or --force it is passed over)
        return [Report(label, error=err) for label, err in unknown]
    if depend:
        every = rt.state.all()
        expanded: list[tuple[str, Optional[ContainerRecord], Optional[PodpyError]]] = []
        done: set[str] = set()
        for label, rec, err in targets:
            if rec is None:
                expanded.append((label, rec, err))
                continue
            for d in with_dependents(every, rec):
                if d.id not in done:
                    done.add(d.id)
                    expanded.append((d.id, d, None))
        targets = expanded
    reports = []
    gone: set[str] = set()   # removed with their pod, through its infra container
    for label, rec, err in targets:
        if rec is None:
            reports.append(Report(label, error=err))
            continue
        if rec.id in gone:
            continue
        try:
            if rec.config.pod_infra:
                from .podstore import PodStore

                pod = PodStore(rt.db).get(rec.config.pod)
                if pod is not None and (depend or all_):
                    # podman's: the infra container goes with its pod, and so every container of it
                    removed = remove_pod(rt, pod, force, timeout, warn)
                    gone.update(removed)
                    reports.append(Report(label))
                    reports += [Report(cid) for cid in removed if cid != rec.id]
                    continue
                if pod is not None:
                    raise PodpyError(f"container {rec.id} is the infra container of pod {pod.id} and cannot be "
                                     "removed without removing the pod")
            from .podservice import refuse_removal

            refuse_removal(rt, rec)
            left = dependents(rt.state.all(), rec.id)
            if left:
                raise PodpyError(f"container {rec.id} has dependent containers which must be removed before it: "
                                 f"{','.join(d.id for d in left)}: container already exists")
            remove_container(rt, rec, force, volumes, timeout, warn)
            reports.append(Report(label))
        except NoSuchContainer as exc:
            if not ignore:   # with --force or --ignore, one removed meanwhile is as one not found
                reports.append(Report(label, error=exc))
        except PodpyError as exc:
            reports.append(Report(label, error=exc))
        except Exception as exc:  # noqa: BLE001
            reports.append(Report(label, error=translate(exc)))
    return reports


def remove_pod(rt: Runtime, pod: PodRecord, force: bool, timeout: Optional[int],
               warn: Optional[Callable[[str], None]] = None) -> list[str]:
    """`pod rm`, and `rm --depend INFRA` or `rm --all` of a pod's infra container: the pod's
    containers (members newest first, the infra container last; a running member only with
    force), its cgroup and the pod; the ids of the containers removed."""
    from .. import events
    from .podcgroup import remove as remove_cgroup
    from .podstore import PodStore, members

    recs = members(rt.state.all(), pod.id)
    recs = [r for r in reversed(recs) if not r.config.pod_infra] + [r for r in recs if r.config.pod_infra]
    # its infra container running alone does not keep a pod, as in podman: it is stopped
    running = [r for r in recs if r.state in (RUNNING, "paused") and not r.config.pod_infra]
    if running and not force:
        raise InvalidState(f"pod {pod.id} has containers that are not ready to be removed: cannot remove "
                           f"container {running[0].id} as it is running - running or paused containers cannot "
                           "be removed without force: container state improper")
    removed = []
    for rec in recs:
        current = rt.state.get(rec.id)
        if current is None:
            continue
        try:
            remove_container(rt, current, force or current.config.pod_infra, False, timeout, warn)
            removed.append(rec.id)
        except NoSuchContainer:
            pass
    remove_cgroup(pod)     # before the row: a command killed in between leaves the pod to remove again
    PodStore(rt.db).delete(pod.id)
    _remove_lone_service(rt, pod, timeout, warn)
    try:
        events.emit(rt.cfg.runroot, "pod", "remove", pod.id, pod.name)
    except Exception:  # noqa: BLE001 - an event log that cannot be written loses no pod
        pass
    return removed


def _remove_lone_service(rt: Runtime, pod: PodRecord, timeout: Optional[int],
                         warn: Optional[Callable[[str], None]]) -> None:
    """The service container of a removed pod goes too once none of its pods is left (podman's)."""
    from .podservice import pods_of, service_of

    svc = service_of(rt, pod)
    if svc is not None and not pods_of(rt, svc):
        try:
            remove_container(rt, svc, True, False, timeout, warn)
        except NoSuchContainer:
            pass


def prune(rt: Runtime, opts: ContainerPruneOptions) -> list[PruneReport]:
    """`container prune`: every container that neither runs nor is paused nor is still being
    made, created before opts.until and with opts.labels; one report each."""
    return prune_matching(rt, lambda r: (opts.until is None or r.created < opts.until) and all(
        r.config.labels.get(k) == v if sep else k in r.config.labels for k, sep, v in opts.labels))


def prune_matching(rt: Runtime, match: Callable[[ContainerRecord], bool]) -> list[PruneReport]:
    """Every container match takes that neither runs nor is paused nor is still being made;
    one report each. One started (or taken by another removal) after it was listed is no
    longer the prune's: it is left alone, without a report."""
    from ..state import CONFIGURED

    reconcile(rt)
    doomed = [r for r in rt.state.all() if r.state not in (RUNNING, CONFIGURED, "paused", INITIALIZED) and match(r)]
    reports = []
    for rec in doomed:
        try:
            remove_container(rt, rec, force=False)
            reports.append(PruneReport(rec.id, rec.name))
        except Exception as exc:  # noqa: BLE001 - one report each
            now = rt.state.get(rec.id)
            if isinstance(exc, InvalidState) and (now is None or now.state in (RUNNING, CONFIGURED, "paused",
                                                                                REMOVING, INITIALIZED)):
                continue
            reports.append(PruneReport(rec.id, rec.name, translate(exc)))
    return reports
