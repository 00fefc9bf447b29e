"""Volume routes: list, inspect, create, remove, prune (the local driver's named volumes)."""

from __future__ import annotations

from .errors import ApiError, BadParameter
from .http import Response, json_response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine.volumes import VolumeEngine
    from .http import Request

routes = RouteTable()


def engine(req: Request) -> VolumeEngine:
    from ..engine.volumes import VolumeEngine

    return VolumeEngine(req.runtime(), lambda _line: None)


def shape(v: dict[str, Any]) -> dict[str, Any]:
    return {"Name": v["Name"], "Driver": v.get("Driver", "local"), "Mountpoint": v.get("Mountpoint", ""),
            "CreatedAt": v.get("CreatedAt", ""), "Labels": v.get("Labels") or {}, "Scope": "local",
            "Options": v.get("Options") or {}, "Status": None, "UsageData": None}


def lookup(req: Request, name: str) -> dict[str, Any]:
    from ..engine.volumestore import lookup as find
    from ..errors import NoSuchVolume

    try:
        return find(req.runtime(), name)
    except NoSuchVolume:
        raise ApiError(404, f"get {name}: no such volume") from None


def _words(filters: dict[str, list[str]], keys: tuple[str, ...]) -> list[str]:
    for key in filters:
        if key not in keys:
            raise BadParameter(f"invalid filter '{key}'")
    return [f"{k}={v}" for k, vs in filters.items() for v in vs]


@routes.get("/volumes")
def list_(req: Request) -> dict[str, Any]:
    from ..errors import InvalidArgument

    words = _words(req.filters(), ("name", "driver", "label", "dangling", "opt", "scope"))
    try:
        found = engine(req).ls(words)
    except InvalidArgument as exc:
        raise BadParameter(str(exc)) from None
    return {"Volumes": [shape(v) for v in found], "Warnings": []}


@routes.get("/volumes/{name}")
def inspect(req: Request) -> dict[str, Any]:
    return shape(lookup(req, req.params["name"]))


@routes.post("/volumes/create")
def create(req: Request) -> Response:
    from ..engine.entities import VolumeCreateOptions
    from ..errors import InvalidArgument

    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    driver = body.get("Driver") or "local"
    if driver != "local":
        raise BadParameter(f"unsupported volume driver {driver!r}: local")
    labels, opts = body.get("Labels") or {}, body.get("DriverOpts") or {}
    if not isinstance(labels, dict) or not isinstance(opts, dict):
        raise BadParameter("invalid Labels or DriverOpts: expected objects")
    name = body.get("Name") or None
    if name is not None and not isinstance(name, str):
        raise BadParameter("invalid Name: expected a string")
    try:
        # Docker's create of a name that exists gives that volume (compose relies on it)
        made = engine(req).create(VolumeCreateOptions(
            name=name, driver="local", labels={str(k): str(v) for k, v in labels.items()},
            options={str(k): str(v) for k, v in opts.items()}, ignore=True))
    except InvalidArgument as exc:
        raise BadParameter(str(exc)) from None
    return json_response(shape(lookup(req, made)), 201)


@routes.delete("/volumes/{name}")
def remove(req: Request) -> Response:
    from ..engine.volumes import users

    force = req.flag("force")
    try:
        vol = lookup(req, req.params["name"])
    except ApiError:
        if force:   # as Docker's: forcing the removal of a missing volume is no error
            return Response(204, b"", None)
        raise
    using = users(req.runtime(), vol["Name"])
    if using:
        # Docker refuses a volume in use even with force (force: a missing volume is no error)
        raise ApiError(409, f"remove {vol['Name']}: volume is in use - [{', '.join(r.id for r in using)}]")
    for report in engine(req).rm([vol["Name"]], force=force):
        if report.error is not None:
            raise report.error
    return Response(204, b"", None)


@routes.post("/volumes/prune")
def prune(req: Request) -> dict[str, Any]:
    words = _words(req.filters(), ("label", "label!", "until", "all"))
    words = [w for w in words if not w.startswith("all=")]
    sizes: dict[str, int] = {}
    removed = engine(req).prune(words)
    return {"VolumesDeleted": removed or None, "SpaceReclaimed": sum(sizes.values())}
