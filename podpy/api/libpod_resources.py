"""The libpod API's volume and network routes: create, list, inspect, exists, remove.

A volume or network answers as `podpy volume inspect` / `podpy network inspect` print it
(podman's shapes, which podman's client decodes as they are).
"""

from __future__ import annotations

from .errors import ApiError, BadParameter
from .http import Response, json_response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .http import Request

routes = RouteTable()
NO_CONTENT = Response(204, b"", None)


def _filters(req: Request) -> list[str]:
    return [f"{key}={value}" for key, values in req.filters().items() for value in values]


def _volumes(req: Request) -> Any:
    from ..engine.volumes import VolumeEngine

    return VolumeEngine(req.runtime(), lambda _line: None)


def _networks(req: Request) -> Any:
    from ..engine.networks import NetworkEngine

    return NetworkEngine(req.runtime(), lambda _line: None)


def _one(reports: list[Any]) -> Any:
    if reports[0].error is not None:
        raise reports[0].error
    return reports[0].value


# -- volumes ----------------------------------------------------------------------------------

@routes.post("/libpod/volumes/create")
def volume_create(req: Request) -> Response:
    from ..engine.entities import VolumeCreateOptions

    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    labels = body.get("Labels") or body.get("Label") or {}
    options = body.get("Options") or {}
    if not isinstance(labels, dict) or not isinstance(options, dict):
        raise BadParameter("invalid Labels or Options: expected objects")
    made = _volumes(req).create(VolumeCreateOptions(
        name=body.get("Name") or None, driver=body.get("Driver") or "local",
        labels={str(k): str(v) for k, v in labels.items()}, options={str(k): str(v) for k, v in options.items()},
        ignore=bool(body.get("IgnoreIfExists"))))
    return json_response(_one(_volumes(req).inspect([made])), 201)


@routes.get("/libpod/volumes/json")
def volume_list(req: Request) -> list[dict[str, Any]]:
    return _volumes(req).ls(_filters(req))


@routes.get("/libpod/volumes/{name}/json")
def volume_inspect(req: Request) -> Any:
    return _one(_volumes(req).inspect([req.params["name"]]))


@routes.get("/libpod/volumes/{name}/exists")
def volume_exists(req: Request) -> Response:
    if not _volumes(req).exists(req.params["name"]):
        raise ApiError(404, f"no volume with name {req.params['name']!r} found: no such volume")
    return NO_CONTENT


@routes.delete("/libpod/volumes/{name}")
def volume_remove(req: Request) -> Response:
    _one(_volumes(req).rm([req.params["name"]], force=req.flag("force"), timeout=req.int_arg("timeout", None)))
    return NO_CONTENT


# -- networks ---------------------------------------------------------------------------------

@routes.get("/libpod/networks/json")
def network_list(req: Request) -> list[dict[str, Any]]:
    return [s.network for s in _networks(req).ls(_filters(req))]


@routes.get("/libpod/networks/{name}/json")
def network_inspect(req: Request) -> Any:
    return _one(_networks(req).inspect([req.params["name"]]))


@routes.get("/libpod/networks/{name}/exists")
def network_exists(req: Request) -> Response:
    if not _networks(req).exists(req.params["name"]):
        raise ApiError(404, f"unable to find network with name or ID {req.params['name']}: network not found")
    return NO_CONTENT


@routes.post("/libpod/networks/create")
def network_create(req: Request) -> Any:
    """podman's network document in (name, driver, subnets, internal, labels, dns_enabled,
    ipv6_enabled, options), the network made out."""
    from ..engine.entities import NetworkCreateOptions

    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    subnets = body.get("subnets") or []
    if not isinstance(subnets, list) or not all(isinstance(s, dict) for s in subnets):
        raise BadParameter("invalid subnets: expected an array of objects")
    labels, options = body.get("labels") or {}, body.get("options") or {}
    if not isinstance(labels, dict) or not isinstance(options, dict):
        raise BadParameter("invalid labels or options: expected objects")
    ipam = (body.get("ipam_options") or {}).get("driver") if isinstance(body.get("ipam_options"), dict) else None
    made = _networks(req).create(NetworkCreateOptions(
        name=body.get("name") or None, driver=body.get("driver") or "bridge",
        subnet=[str(s.get("subnet")) for s in subnets if s.get("subnet")] or None,
        gateway=[str(s.get("gateway")) for s in subnets if s.get("gateway")] or None,
        internal=bool(body.get("internal")), labels={str(k): str(v) for k, v in labels.items()},
        disable_dns=not body.get("dns_enabled", True), options=[f"{k}={v}" for k, v in options.items()],
        ipv6=bool(body.get("ipv6_enabled")), ipam_driver=ipam or None,
        interface_name=body.get("network_interface") or None,
        dns=[str(d) for d in body.get("network_dns_servers") or []]))
    return _one(_networks(req).inspect([made.get("name") or made.get("id")]))


@routes.delete("/libpod/networks/{name}")
def network_remove(req: Request) -> list[dict[str, Any]]:
    name = req.params["name"]
    reports = _networks(req).rm([name], force=req.flag("force"), timeout=req.int_arg("timeout", None))
    if not reports:   # force, and no such network: nothing removed, no error (podman's)
        return []
    _one(reports)
    return [{"Name": name, "Err": None}]


@routes.post("/libpod/networks/{name}/connect")
def network_connect(req: Request) -> Response:
    """podman's body: {"container", "aliases", "static_ips", "static_mac"}; 200 "OK"."""
    body = req.json({}) or {}
    if not isinstance(body, dict) or not body.get("container"):
        raise BadParameter("invalid body: expected {\"container\": NAME, ...}")
    aliases = body.get("aliases") or []
    ips = body.get("static_ips") or []
    if not isinstance(aliases, list) or not isinstance(ips, list):
        raise BadParameter("invalid aliases or static_ips: expected lists")
    ip4 = next((str(ip) for ip in ips if ":" not in str(ip)), None)
    ip6 = next((str(ip) for ip in ips if ":" in str(ip)), None)
    _networks(req).connect(str(body["container"]), req.params["name"], [str(a) for a in aliases], ip4,
                           body.get("static_mac") or None, ip6)
    return Response(200, b"OK", "text/plain; charset=utf-8")


@routes.post("/libpod/networks/{name}/disconnect")
def network_disconnect(req: Request) -> Response:
    """podman's body: {"Container", "Force"}; 200 "OK"."""
    body = req.json({}) or {}
    if not isinstance(body, dict) or not body.get("Container"):
        raise BadParameter("invalid body: expected {\"Container\": NAME, \"Force\": BOOL}")
    _networks(req).disconnect(str(body["Container"]), req.params["name"], bool(body.get("Force")))
    return Response(200, b"OK", "text/plain; charset=utf-8")
