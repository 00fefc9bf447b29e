"""The prunes over a service: libpod's POST /{containers,images,volumes,networks,system}/prune,
their reports made into what the local engines return (so `podpy ... prune` prints them as
it prints its own)."""

from __future__ import annotations

import json

from ..errors import PodpyError
from .base import engine_error
from .client import ServiceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .client import Client


def grouped(filters: Optional[list[str]]) -> str:
    """--filter KEY=VALUE words as the API's {"KEY": ["VALUE", ...]}."""
    out: dict[str, list[str]] = {}
    for f in filters or []:
        key, _, value = f.partition("=")   # label!=K: the key is "label!", as the API has it
        out.setdefault(key, []).append(value)
    return json.dumps(out)


def _post(client: Client, kind: str, query: dict[str, Any]) -> Any:
    try:
        return client.call("POST", f"/{kind}/prune", query, timeout=None)
    except ServiceError as exc:
        raise engine_error(exc, PodpyError) from None


def containers(client: Client, opts: Any) -> list[Any]:
    """ContainerPruneOptions (until, labels) back into filters; one PruneReport per container."""
    from ..engine.entities import PruneReport
    from ..formats import rfc3339

    filters = [f"label={k}{sep}{v}" for k, sep, v in opts.labels]
    if opts.until is not None:
        filters.append(f"until={rfc3339(opts.until)}")
    out = []
    for doc in _post(client, "containers", {"filters": grouped(filters)}) or []:
        cid = str(doc.get("Id") or "")
        err = doc.get("Err")
        out.append(PruneReport(cid, cid, PodpyError(str(err)) if err else None))
    return out


def images(client: Client, all_: bool, filters: Optional[list[str]]) -> list[str]:
    docs = _post(client, "images", {"all": all_, "external": False, "filters": grouped(filters)}) or []
    failed = [d["Err"] for d in docs if d.get("Err")]
    if failed:
        raise PodpyError(str(failed[0]))
    return [str(d.get("Id") or "") for d in docs]


def volumes(client: Client, filters: Optional[list[str]], confirm: Optional[Callable[[list[str]], bool]]) -> list[str]:
    """The unused volumes those filters pass (shown to confirm first, when given), pruned."""
    if confirm is not None:
        candidates = client.call("GET", "/volumes/json", {"filters": grouped(list(filters or []) + ["dangling=true"])})
        if not confirm([str(v.get("Name")) for v in candidates or []]):
            return []
    docs = _post(client, "volumes", {"filters": grouped(filters)}) or []
    failed = [d["Err"] for d in docs if d.get("Err")]
    if failed:
        raise PodpyError(str(failed[0]))
    return [str(d.get("Id") or "") for d in docs]


def networks(client: Client, filters: Optional[list[str]]) -> list[str]:
    docs = _post(client, "networks", {"filters": grouped(filters)}) or []
    failed = [d["Error"] for d in docs if d.get("Error")]
    if failed:
        raise PodpyError(str(failed[0]))
    return [str(d.get("Name") or "") for d in docs]


def system(client: Client, all_: bool, volumes_too: bool, filters: Optional[list[str]]) -> Any:
    """podman's SystemPruneReport as the local engine's (a failure of any kind, pods' too, is
    raised: the first one)."""
    from ..engine.entities import SystemPruneReport

    doc = _post(client, "system", {"all": all_, "volumes": volumes_too, "filters": grouped(filters)}) or {}

    def ids(key: str, field: str = "Id", err: str = "Err") -> list[str]:
        entries = doc.get(key) or []
        failed = [e[err] for e in entries if e.get(err)]
        if failed:
            raise PodpyError(str(failed[0]))
        return [str(e.get(field) or "") for e in entries]

    ids("PodPruneReport")
    return SystemPruneReport(ids("ContainerPruneReports"), ids("ImagePruneReports"),
                             ids("VolumePruneReports") if volumes_too else None,
                             networks=ids("NetworkPruneReports", "Name", "Error"),
                             reclaimed=int(doc.get("ReclaimedSpace") or 0))
