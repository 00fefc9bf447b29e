"""Network routes: list, inspect, create, remove, prune, connect, disconnect.

podpy's networks are bridges in the rootless network namespace with a DNS responder (the
containers' names and aliases); Docker's shapes are made from their records. A container
connected before it starts (what docker-compose does for every service) gets its address
and aliases at its start.
"""

from __future__ import annotations

from .errors import ApiError, BadParameter
from .http import Response, json_response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine.networks import NetworkEngine
    from .http import Request

routes = RouteTable()

LIST_FILTERS = ("name", "id", "driver", "label", "type", "scope", "dangling")


def engine(req: Request) -> NetworkEngine:
    from ..engine.networks import NetworkEngine

    return NetworkEngine(req.runtime(), lambda _line: None)


def lookup(req: Request, name: str) -> dict[str, Any]:
    from ..engine.reconcile import reconcile
    from ..errors import NoSuchNetwork
    from ..network.table import lookup as find

    reconcile(req.runtime())
    try:
        return find(req.runtime(), name)
    except NoSuchNetwork:
        raise ApiError(404, f"network {name} not found") from None


def shape(req: Request, net: dict[str, Any], verbose: bool = True) -> dict[str, Any]:
    """A network record in Docker's shape (with the containers on it when verbose)."""
    from ..engine.networks import users
    from ..state import PAUSED, RUNNING

    containers: dict[str, Any] = {}
    if verbose:
        for rec in users(req.runtime(), net):
            ep = rec.config.networks.get(net["name"]) or {}
            up = rec.state in (RUNNING, PAUSED)
            ip = ep.get("ip", "") if up else ""
            containers[rec.id] = {"Name": rec.name, "EndpointID": "", "MacAddress": ep.get("mac", "") if up else "",
                                  "IPv4Address": f"{ip}/{ep.get('prefix', 0)}" if ip else "", "IPv6Address": ""}
    return {
        "Name": net["name"], "Id": net["id"], "Created": net.get("created", ""), "Scope": "local",
        "Driver": net.get("driver", "bridge"), "EnableIPv6": bool(net.get("ipv6_enabled")),
        "IPAM": {"Driver": "default", "Options": None,
                 "Config": [{"Subnet": s["subnet"], "Gateway": s.get("gateway", "")} for s in net.get("subnets", [])]},
        "Internal": bool(net.get("internal")), "Attachable": False, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
        "Options": dict(net.get("options") or {}), "Labels": dict(net.get("labels") or {}),
    }


@routes.get("/networks")
def list_(req: Request) -> list[dict[str, Any]]:
    from ..engine.reconcile import reconcile

    reconcile(req.runtime())
    filters = req.filters()
    words = []
    dangling = None
    for key, values in filters.items():
        if key not in LIST_FILTERS:
            raise BadParameter(f"invalid filter '{key}'")
        if key == "type":
            if any(v not in ("custom", "builtin") for v in values):
                raise BadParameter(f"invalid filter: 'type'='{values}'")
            continue
        if key == "scope":
            continue
        if key == "dangling":
            dangling = any(v.lower() in ("1", "true") for v in values)
            continue
        if key in ("name", "id", "driver") and len(values) > 1:
            continue   # any of several values: filtered below
        words += [f"{key}={v}" for v in values]
    out = []
    for s in engine(req).ls(words):
        n = s.network
        if "name" in filters and not any(v in n["name"] for v in filters["name"]):
            continue
        if "id" in filters and not any(n["id"].startswith(v) for v in filters["id"]):
            continue
        if "driver" in filters and n.get("driver") not in filters["driver"]:
            continue
        if dangling is not None and (s.containers == 0) != dangling:
            continue
        out.append(shape(req, n, verbose=False))
    return out


@routes.get("/networks/{id}")
def inspect(req: Request) -> dict[str, Any]:
    return shape(req, lookup(req, req.params["id"]))


@routes.post("/networks/create")
def create(req: Request) -> Response:
    from ..engine.entities import NetworkCreateOptions
    from ..errors import InvalidArgument

    body = req.json()
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    name = body.get("Name")
    if not name or not isinstance(name, str):
        raise BadParameter("network name (Name) must be given")
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        raise BadParameter(f"unsupported network driver {driver!r}: bridge")
    if body.get("EnableIPv6"):
        raise BadParameter("IPv6 networks are not supported")
    subnet = gateway = ip_range = None
    ipam = body.get("IPAM") or {}
    if not isinstance(ipam, dict):
        raise BadParameter("invalid IPAM: expected an object")
    configs = ipam.get("Config") or []
    if len(configs) > 1:
        raise BadParameter("only one IPAM Config entry (one IPv4 subnet) is supported")
    if configs:
        c = configs[0]
        if not isinstance(c, dict):
            raise BadParameter("invalid IPAM.Config: expected objects")
        subnet, gateway, ip_range = c.get("Subnet") or None, c.get("Gateway") or None, c.get("IPRange") or None
    labels = body.get("Labels") or {}
    if not isinstance(labels, dict):
        raise BadParameter("invalid Labels: expected an object")
    options = body.get("Options") or {}
    if not isinstance(options, dict):
        raise BadParameter("invalid Options: expected an object")
    # Docker's bridge options that describe what podpy does anyway
    unknown = [k for k in options if k not in ("com.docker.network.bridge.name", "com.docker.network.driver.mtu",
                                               "com.docker.network.bridge.enable_icc",
                                               "com.docker.network.bridge.enable_ip_masquerade")]
    if unknown:
        raise BadParameter(f"unsupported network options: {', '.join(unknown)}")
    rt = req.runtime()
    from ..network.table import all_networks

    if any(n["name"] == name for n in all_networks(rt)):
        raise ApiError(409, f"network with name {name} already exists")
    try:
        record = engine(req).create(NetworkCreateOptions(
            name=name, driver="bridge", subnet=subnet, gateway=gateway, ip_range=ip_range,
            internal=bool(body.get("Internal")), labels={str(k): str(v) for k, v in labels.items()}))
    except InvalidArgument as exc:
        raise BadParameter(str(exc)) from None
    return json_response({"Id": record["id"], "Warning": ""}, 201)


@routes.delete("/networks/{id}")
def remove(req: Request) -> Response:
    from ..engine.networks import users
    from ..network.options import DEFAULT_BRIDGE

    net = lookup(req, req.params["id"])
    if net["name"] == DEFAULT_BRIDGE:
        raise ApiError(403, f"{net['name']} is a pre-defined network and cannot be removed")
    using = users(req.runtime(), net)
    if using:
        raise ApiError(409, f"error while removing network: network {net['name']} id {net['id']} has active "
                            f"endpoints ({', '.join(r.name for r in using)})")
    for report in engine(req).rm([net["id"]]):
        if report.error is not None:
            raise report.error
    return Response(204, b"", None)


@routes.post("/networks/prune")
def prune(req: Request) -> dict[str, Any]:
    words = []
    for key, values in req.filters().items():
        if key not in ("until", "label", "label!"):
            raise BadParameter(f"invalid filter '{key}'")
        words += [f"{key}={v}" for v in values]
    return {"NetworksDeleted": engine(req).prune(words) or None}


def _container(req: Request, name: Any) -> Any:
    from ..engine.reconcile import reconcile
    from ..errors import NoSuchContainer

    if not name or not isinstance(name, str):
        raise BadParameter("the container (Container) must be given")
    reconcile(req.runtime())
    try:
        return req.runtime().state.lookup(name)
    except NoSuchContainer:
        raise ApiError(404, f"No such container: {name}") from None


@routes.post("/networks/{id}/connect")
def connect(req: Request) -> Response:
    from ..errors import InvalidArgument, InvalidState

    net = lookup(req, req.params["id"])
    body = req.json()
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    rec = _container(req, body.get("Container"))
    config = body.get("EndpointConfig") or {}
    if not isinstance(config, dict):
        raise BadParameter("invalid EndpointConfig: expected an object")
    aliases = config.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise BadParameter("invalid EndpointConfig.Aliases: expected a list of names")
    ipam = config.get("IPAMConfig") or {}
    ip = ipam.get("IPv4Address") or None if isinstance(ipam, dict) else None
    if ipam and isinstance(ipam, dict) and ipam.get("IPv6Address"):
        raise BadParameter("IPv6 addresses are not supported")
    if net["name"] in rec.config.networks:
        raise ApiError(403, f"endpoint with name {rec.name} already exists in network {net['name']}")
    try:
        engine(req).connect(rec.id, net["name"], [a for a in aliases if a != rec.id[:12]], ip,
                            config.get("MacAddress") or None)
    except InvalidArgument as exc:
        raise BadParameter(str(exc)) from None
    except InvalidState as exc:
        raise ApiError(409, str(exc)) from None
    return Response(200, b"OK", "text/plain; charset=utf-8")


@routes.post("/networks/{id}/disconnect")
def disconnect(req: Request) -> Response:
    from ..errors import InvalidState

    net = lookup(req, req.params["id"])
    body = req.json()
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    rec = _container(req, body.get("Container"))
    if net["name"] not in rec.config.networks:
        raise ApiError(409, f"container {rec.id} is not connected to network {net['name']}")
    # Docker leaves a container with no network at all; podpy's engine wants force for that
    try:
        engine(req).disconnect(rec.id, net["name"], force=bool(body.get("Force")) or len(rec.config.networks) == 1)
    except InvalidState as exc:
        raise ApiError(409, str(exc)) from None
    return Response(200, b"OK", "text/plain; charset=utf-8")
