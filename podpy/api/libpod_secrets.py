"""The libpod API's secret routes: create (the data in the body), list, inspect, exists, remove.

A secret answers as `podpy secret inspect` prints it (podman 4.3.1's SecretInfoReport); its
data never leaves the service.
"""

from __future__ import annotations

from .errors import ApiError, BadParameter
from .http import Response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .http import Request

routes = RouteTable()


def _secrets(req: Request) -> Any:
    from ..engine.secrets import SecretEngine

    return SecretEngine(req.runtime(), lambda _line: None)


def _one(reports: list[Any]) -> Any:
    if reports[0].error is not None:
        raise reports[0].error
    return reports[0].value


def _map(req: Request, name: str) -> dict[str, str]:
    """A JSON object of strings in a query (podman's client sends labels and driveropts so)."""
    import json

    raw = req.arg(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadParameter(f"invalid {name}: expected a JSON object") from None
    if not isinstance(value, dict):
        raise BadParameter(f"invalid {name}: expected a JSON object")
    return {str(k): str(v) for k, v in value.items()}


@routes.post("/libpod/secrets/create")
def create(req: Request) -> dict[str, str]:
    """podman's `{"ID": ...}`; the secret's data is the whole body."""
    name = req.arg("name")
    if not name:
        raise BadParameter("secret name (the `name` query) must have a value")
    sid = _secrets(req).create(name, req.body, driver=req.arg("driver") or "file", labels=_map(req, "labels"),
                               driver_opts=_map(req, "driveropts"))
    return {"ID": sid}


@routes.get("/libpod/secrets/json")
def ls(req: Request) -> list[dict[str, Any]]:
    filters = [f"{key}={value}" for key, values in req.filters().items() for value in values]
    return _secrets(req).ls(filters)


@routes.get("/libpod/secrets/{name}/json")
def inspect(req: Request) -> Any:
    return _one(_secrets(req).inspect([req.params["name"]]))


@routes.get("/libpod/secrets/{name}/exists")
def exists(req: Request) -> Response:
    if _secrets(req).inspect([req.params["name"]])[0].error is not None:
        raise ApiError(404, f"no secret with name or id {req.params['name']!r} found: no such secret")
    return Response(204, b"", None)


@routes.delete("/libpod/secrets/{name}")
def remove(req: Request) -> Response:
    """204; with all=true every secret goes (podman's client sends the name "all" then)."""
    if req.flag("all"):
        reports = _secrets(req).rm([], True)
        for rep in reports:
            if rep.error is not None:
                raise rep.error
    else:
        _one(_secrets(req).rm([req.params["name"]]))
    return Response(204, b"", None)
