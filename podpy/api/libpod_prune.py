"""The libpod API's prunes: containers, images, volumes, networks and the whole system.

Each is one call of the engine verb its `podpy ... prune` makes, answered in podman's shapes:
a list of {"Id", "Size", "Err"} (networks: {"Name", "Error"}), and for the system one
report of each kind with the space reclaimed. podman's client prints the ids (and with
`system prune` its "Deleted ..." headings and "Total reclaimed space") from these.
"""

from __future__ import annotations

from .errors import BadParameter
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .http import Request

routes = RouteTable()


def _filters(req: Request) -> list[str]:
    return [f"{key}={value}" for key, values in req.filters().items() for value in values]


def _image_filters(req: Request) -> tuple[bool, list[str]]:
    """(dangling=false: every unused image, the other filters as `image prune --filter` takes them)."""
    all_ = req.flag("all")
    words = []
    for key, values in req.filters().items():
        if key == "dangling":
            all_ = all_ or any(v.lower() in ("false", "0") for v in values)
        else:
            words += [f"{key}={v}" for v in values]
    return all_, words


def _reports(ids: list[str], sizes: dict[str, int]) -> list[dict[str, Any]]:
    return [{"Id": i, "Size": sizes.get(i, 0)} for i in ids]


def _image_sizes(req: Request) -> dict[str, int]:
    return {i.id: i.size for i in req.runtime().store.images()}


@routes.post("/libpod/containers/prune")
def containers(req: Request) -> list[dict[str, Any]]:
    from ..engine.entities import ContainerPruneOptions
    from .containers import engine

    reports = engine(req).prune(ContainerPruneOptions.from_filters(_filters(req)))
    return [{"Id": r.id or r.name, "Size": 0, **({"Err": str(r.error)} if r.error is not None else {})}
            for r in reports]


@routes.post("/libpod/images/prune")
def images(req: Request) -> list[dict[str, Any]]:
    from .images import engine

    all_, words = _image_filters(req)
    sizes = _image_sizes(req)
    return _reports(engine(req).prune(all_, words), sizes)


@routes.post("/libpod/volumes/prune")
def volumes(req: Request) -> list[dict[str, Any]]:
    from .libpod_resources import _volumes

    return [{"Id": name, "Size": 0} for name in _volumes(req).prune(_filters(req))]


@routes.post("/libpod/networks/prune")
def networks(req: Request) -> list[dict[str, Any]]:
    from .libpod_resources import _networks

    return [{"Name": name, "Error": None} for name in _networks(req).prune(_filters(req))]


@routes.post("/libpod/system/prune")
def system(req: Request) -> dict[str, Any]:
    from ..engine.system import SystemEngine

    filters = _filters(req)
    if any(f.startswith("dangling=") for f in filters):
        raise BadParameter("dangling is an invalid filter")
    report = SystemEngine(req.runtime(), lambda _line: None).prune(req.flag("all"), req.flag("volumes"), filters)
    if report.volumes_error is not None:
        raise report.volumes_error
    return {"PodPruneReport": None,
            "ContainerPruneReports": [{"Id": i, "Size": 0} for i in report.containers] or None,
            "ImagePruneReports": [{"Id": i, "Size": 0} for i in report.images] or None,
            "NetworkPruneReports": [{"Name": n, "Error": None} for n in report.networks] or None,
            "VolumePruneReports": [{"Id": n, "Size": 0} for n in report.volumes or []] or None,
            "ReclaimedSpace": report.reclaimed}
