"""`pod stats`: the figures of the running containers of pods, read as `stats` reads a
container's (observe.py's readings, CPU % over the interval since the last reading)."""

from __future__ import annotations

import time

from ..errors import InvalidArgument, NoSuchPod
from .context import Runtime
from .podstore import members
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

    from .podstore import PodRecord, PodStore


def pod_stats(rt: Runtime, pods: PodStore, names: list[str], all_: bool, latest: bool, interval: int,
              stream: bool) -> Iterator[list[tuple[PodRecord, dict[str, Any]]]]:
    """One list of (pod, ContainerStats) per interval (only one without stream): each running
    container of the named pods (of every pod without names), its infra container's too."""
    from .observe import sample, stats_report

    if (all_ or latest) and names:
        raise InvalidArgument("--all, --latest and arguments cannot be used together")
    if interval < 1:
        raise InvalidArgument("--interval must be at least 1 second")
    reconcile(rt)
    chosen = [pods.lookup(n) for n in names]
    if latest:
        newest = max(pods.all(), key=lambda p: p.created, default=None)
        if newest is None:
            raise NoSuchPod("no pods to get stats of")
        chosen = [newest]

    def rounds() -> Iterator[list[tuple[PodRecord, dict[str, Any]]]]:
        before: dict[str, Any] = {}
        while True:
            listed = chosen or pods.all()
            ctrs = rt.state.all()
            rows = []
            for pod in listed:
                for rec in sorted(members(ctrs, pod.id), key=lambda r: r.id):
                    if rec.state not in ("running", "paused") or not rec.pid:
                        continue    # a container that does not run has no figures
                    try:
                        now = sample(rec)
                    except OSError:
                        continue    # it ended while read
                    rows.append((pod, stats_report(rec, now, before.get(rec.id))))
                    before[rec.id] = now
            yield rows
            if not stream:
                return
            time.sleep(interval)
            reconcile(rt)

    return rounds()


def stats_row(pod_id: str, stats: dict[str, Any]) -> dict[str, str]:
    """One container of `pod stats`: podman's PodStatsReport, every figure a text (a zero is `--`)."""
    from ..formats import binary_size

    def percent(f: Any) -> str:
        return f"{f:.2f}%" if f and round(f, 2) else "--"

    def pair(a: Any, b: Any, size: Any) -> str:
        return "-- / --" if not a and not b else f"{size(a or 0)} / {size(b or 0)}"

    def human(n: float) -> str:
        from ..formats import human_size

        return human_size(n, "")

    mem, limit = stats["MemUsage"], stats["MemLimit"]
    return {"CPU": percent(stats["CPU"]), "MemUsage": pair(mem, limit, human),
            "MemUsageBytes": pair(mem, limit, binary_size), "Mem": percent(stats["MemPerc"]),
            "NetIO": pair(stats["NetInput"], stats["NetOutput"], human),
            "BlockIO": pair(stats["BlockInput"], stats["BlockOutput"], human),
            "PIDS": str(stats["PIDs"]) if stats["PIDs"] else "--", "Pod": pod_id[:12],
            "CID": stats["ContainerID"][:12], "Name": stats["Name"]}


def pod_top(rt: Runtime, reports: list[Any], descriptors: list[str]) -> list[list[str]]:
    """`pod top` of the pod whose inspect report is given: the processes of its running
    containers under one header row."""
    from ..errors import InvalidState
    from .observe import top

    if not reports:
        raise InvalidArgument("no pods to show")
    if reports[0].error is not None:
        raise reports[0].error
    doc = reports[0].value
    running = [c for c in doc["Containers"] if c["State"] == "running"]
    if not running:
        raise InvalidState(f"pod {doc['Id']} is not running: no running containers")
    lines: list[list[str]] = []
    for c in running:
        rows = top(rt, c["Id"], list(descriptors))
        lines += rows if not lines else rows[1:]
    return lines
