"""The libpod API's pod routes: create (podman's PodSpecGenerator), list, inspect, exists, the
running verbs (start, stop, restart, kill, pause, unpause), delete, prune, top and stats.

Each request is one PodEngine call (the CLI's), answered in podman 4.3.1's shapes: a verb's
report is {"Errs": null, "Id": ID} (delete: {"Err": null, "Id": ID}), a list entry is `pod
ps`'s entry with its time in RFC 3339, inspect is `pod inspect`'s document. Like podman's
service, starting a running pod and stopping one that does not run answer 304.
"""

from __future__ import annotations

from .errors import ApiError, BadParameter, NotModified
from .http import Response, json_response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .http import Request

routes = RouteTable()
NO_CONTENT = Response(204, b"", None)


def _pods(req: Request) -> Any:
    from ..engine.pods import PodEngine

    return PodEngine(req.runtime(), lambda _line: None)


def _one(reports: list[Any]) -> Any:
    """The value of a verb's only report, or its error (404 for no such pod)."""
    if not reports:
        raise ApiError(404, "no pods found: no such pod")
    if reports[0].error is not None:
        raise reports[0].error
    return reports[0].value


def _filters(req: Request) -> list[str]:
    return [f"{key}={value}" for key, values in req.filters().items() for value in values]


def list_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A `pod ps` entry as podman's service lists it: Created a time."""
    from ..formats import rfc3339

    return dict(entry, Created=rfc3339(float(entry["Created"])))


@routes.post("/libpod/pods/create")
def create(req: Request) -> Response:
    from .libpod_podspec import pod_create_options

    body = req.json()
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object (podman's PodSpecGenerator)")
    made = _pods(req).create(pod_create_options(body))
    return json_response({"Id": made.id}, 201)


@routes.get("/libpod/pods/json")
def list_(req: Request) -> list[dict[str, Any]]:
    return [list_entry(p) for p in _pods(req).ps(_filters(req))]


@routes.get("/libpod/pods/{name}/json")
def inspect(req: Request) -> Any:
    return _one(_pods(req).inspect([req.params["name"]]))


@routes.get("/libpod/pods/{name}/exists")
def exists(req: Request) -> Response:
    name = req.params["name"]
    if not _pods(req).exists(name):
        raise ApiError(404, f"no pod with name or ID {name} found: no such pod")
    return NO_CONTENT


def _state(req: Request) -> tuple[str, str]:
    """(id, state) of the route's pod."""
    doc = _one(_pods(req).inspect([req.params["name"]]))
    return doc["Id"], doc["State"]


@routes.post("/libpod/pods/{name}/start")
def start(req: Request) -> dict[str, Any]:
    pod_id, state = _state(req)
    if state == "Running":
        raise NotModified()
    return {"Errs": None, "Id": _one(_pods(req).start([pod_id]))}


def _timeout(req: Request) -> Any:
    value = req.int_arg("timeout", None)
    if value is None:
        value = req.int_arg("t", None)
    return value if value is None or value >= 0 else None


@routes.post("/libpod/pods/{name}/stop")
def stop(req: Request) -> dict[str, Any]:
    pod_id, state = _state(req)
    if state in ("Exited", "Stopped", "Created"):
        raise NotModified()
    return {"Errs": None, "Id": _one(_pods(req).stop([pod_id], _timeout(req)))}


@routes.post("/libpod/pods/{name}/restart")
def restart(req: Request) -> dict[str, Any]:
    return {"Errs": None, "Id": _one(_pods(req).restart([req.params["name"]]))}


@routes.post("/libpod/pods/{name}/kill")
def kill(req: Request) -> dict[str, Any]:
    from ..errors import InvalidArgument
    from ..options import parse_signal

    try:
        sig = parse_signal(req.arg("signal") or "KILL")
    except InvalidArgument as exc:
        raise BadParameter(str(exc)) from None
    return {"Errs": None, "Id": _one(_pods(req).kill([req.params["name"]], int(sig)))}


@routes.post("/libpod/pods/{name}/pause")
def pause(req: Request) -> dict[str, Any]:
    return {"Errs": None, "Id": _one(_pods(req).pause([req.params["name"]]))}


@routes.post("/libpod/pods/{name}/unpause")
def unpause(req: Request) -> dict[str, Any]:
    return {"Errs": None, "Id": _one(_pods(req).unpause([req.params["name"]]))}


@routes.delete("/libpod/pods/{name}")
def remove(req: Request) -> dict[str, Any]:
    reports = _pods(req).rm([req.params["name"]], force=req.flag("force"), timeout=_timeout(req))
    return {"Err": None, "Id": _one(reports)}


@routes.post("/libpod/pods/prune")
def prune(req: Request) -> list[dict[str, Any]]:
    return [{"Err": str(r.error) if r.error is not None else None, "Id": r.name} for r in _pods(req).prune()]


@routes.get("/libpod/pods/{name}/top")
def top(req: Request) -> dict[str, Any]:
    """The processes of the pod's running containers; ps_args are ps(1)'s descriptors
    (comma- or space-separated, as podman's client joins them), the -ef podman defaults to
    meaning the default ones."""
    words = [w for arg in req.query.get("ps_args", []) for w in arg.replace(",", " ").split()]
    rows = _pods(req).top(req.params["name"], [w for w in words if not w.startswith("-")])
    return {"Processes": rows[1:], "Titles": rows[0] if rows else []}


@routes.get("/libpod/pods/stats")
def stats(req: Request) -> list[dict[str, str]]:
    """One reading of the named pods' running containers (every pod's with all or no names):
    podman's PodStatsReport, each figure as `pod stats` prints it."""
    names = [n for values in req.query.get("namesOrIDs", []) for n in values.split(",") if n]
    return [row for rows in _pods(req).stats_rows([] if req.flag("all") else names, False, False, 1, False)
            for row in rows]
