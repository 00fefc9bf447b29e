"""The libpod API's container routes: list, inspect, create (podman's SpecGenerator), start,
stop, kill, wait, delete, exists, logs, attach and exec.

Where podman's route behaves as Docker's (attach, exec, kill, start), the Docker handler
serves it; the rest answer in podman's shapes: a list entry is `podpy ps --format json`'s
entry with times as podman's API gives them, inspect is `podpy inspect`'s document, wait
answers the bare exit code, delete one report per container.
"""

from __future__ import annotations

import json

from . import exec as docker_exec
from . import lifecycle, streams
from .containers import engine, lookup as docker_lookup, raise_first
from .errors import ApiError, BadParameter
from .http import Response, json_response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .http import Request

routes = RouteTable()
NO_CONTENT = Response(204, b"", None)

def podman_words(handler: Any) -> Any:
    """A Docker handler whose "No such container/image: X" says it as podman's service does
    (podman's client matches "no such container" in a message)."""
    def wrapped(req: Request) -> Any:
        try:
            return handler(req)
        except ApiError as exc:
            if exc.status == 404 and exc.message.startswith("No such container: "):
                name = exc.message[len("No such container: "):]
                raise ApiError(404, f'no container with name or ID "{name}" found: no such container') from None
            if exc.status == 404 and exc.message.startswith("No such image: "):
                raise ApiError(404, f"{exc.message[len('No such image: '):]}: image not known") from None
            raise
    wrapped.__doc__ = handler.__doc__
    return wrapped


def lookup(req: Request) -> Any:
    return podman_words(docker_lookup)(req)


# podman's routes that behave as Docker's: the Docker handler serves them
for _method, _path, _handler in (("POST", "/libpod/containers/{id}/start", lifecycle.start),
                                 ("POST", "/libpod/containers/{id}/kill", lifecycle.kill),
                                 ("POST", "/libpod/containers/{id}/pause", lifecycle.pause),
                                 ("POST", "/libpod/containers/{id}/unpause", lifecycle.unpause),
                                 ("POST", "/libpod/containers/{id}/restart", lifecycle.restart),
                                 ("POST", "/libpod/containers/{id}/resize", lifecycle.resize),
                                 ("POST", "/libpod/containers/{id}/attach", streams.attach),
                                 ("POST", "/libpod/containers/{id}/exec", docker_exec.create),
                                 ("GET", "/libpod/exec/{id}/json", docker_exec.inspect),
                                 ("POST", "/libpod/exec/{id}/resize", docker_exec.resize)):
    routes.add(_method, _path)(podman_words(_handler))


def list_entry(data: dict[str, Any], health: Any = None) -> dict[str, Any]:
    """A `ps --format json` entry as podman's API lists it: Created a time, not seconds, and
    Status the health state (podman's client words the status itself)."""
    from ..formats import rfc3339

    out = dict(data)
    created = data.get("Created")
    if isinstance(created, (int, float)):
        out["Created"] = rfc3339(float(created))
    out["CreatedAt"] = ""
    out["Status"] = health or ""
    return out


def _filters(req: Request) -> list[str]:
    return [f"{key}={value}" for key, values in req.filters().items() for value in values]


@routes.post("/libpod/exec/{id}/start")
def exec_start(req: Request) -> Any:
    return docker_exec.start_session(req, late=True)


@routes.get("/libpod/containers/json")
def list_(req: Request) -> list[dict[str, Any]]:
    from ..engine.entities import PsOptions

    last = req.int_arg("last", None)
    if last is None:
        last = req.int_arg("limit", -1)
    opts = PsOptions(all=req.flag("all"), filters=_filters(req), size=req.flag("size"),
                     last=last if last is not None and last > 0 else -1, namespaces=req.flag("namespace"))
    return [list_entry(e.data, e.health) for e in engine(req).ps(opts)]


@routes.get("/libpod/containers/{id}/json")
def inspect(req: Request) -> Any:
    rec = lookup(req)
    reports = engine(req).inspect([rec.id], kind="container", size=req.flag("size"))
    raise_first(reports)
    return inspect_document(reports[0].value)


def inspect_document(doc: dict[str, Any]) -> dict[str, Any]:
    """`podpy inspect`'s document as podman 4.3.1's API gives it: Config.StopSignal a number."""
    from ..options import parse_signal

    config = doc.get("Config")
    if isinstance(config, dict) and isinstance(config.get("StopSignal"), str):
        config = dict(config)
        try:
            config["StopSignal"] = int(parse_signal(config["StopSignal"]))
        except Exception:  # noqa: BLE001 - a signal podpy cannot name stays the default
            config["StopSignal"] = 15
        doc = dict(doc, Config=config)
    return doc


@routes.get("/libpod/containers/{id}/exists")
def exists(req: Request) -> Response:
    lookup(req)
    return NO_CONTENT


@routes.post("/libpod/containers/create")
def create(req: Request) -> Response:
    from ..errors import NoSuchImage
    from .libpod_specgen import create_options

    body = req.json()
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object (podman's SpecGenerator)")
    opts = create_options(body)
    warnings: list[str] = []
    try:
        rec = engine(req, warnings).create(opts)
    except NoSuchImage:
        raise ApiError(404, f"{opts.image}: image not known") from None
    return json_response({"Id": rec.id, "Warnings": warnings + list(req.runtime().cfg.warnings)}, 201)


@routes.post("/libpod/containers/{id}/stop")
def stop(req: Request) -> Response:
    from ..state import PAUSED, RUNNING

    try:
        rec = lookup(req)
    except ApiError:
        if req.flag("ignore"):
            return NO_CONTENT
        raise
    if rec.state not in (RUNNING, PAUSED):
        from .errors import NotModified

        raise NotModified()
    timeout = req.int_arg("timeout", None)
    if timeout is None:
        timeout = req.int_arg("t", None)
    raise_first(engine(req).stop([rec.id], timeout if timeout is None or timeout >= 0 else None))
    return NO_CONTENT


# podman's wait conditions -> the Docker waiter's: a container that is no longer running
_STOPPED = ("stopped", "exited", "configured", "created")


@routes.post("/libpod/containers/{id}/wait")
def wait(req: Request) -> Response:
    """The exit code, as a bare number, once the container is not running (podman's default
    conditions, stopped and exited)."""
    conditions = [c for values in req.query.get("condition", []) for c in values.split(",") if c]
    unknown = [c for c in conditions if c not in _STOPPED + ("running",)]
    if unknown:
        raise BadParameter(f"invalid condition {unknown[0]!r}: podpy waits for stopped or exited")
    rec = lookup(req)
    waiter = lifecycle.Waiter(req, rec)
    code = waiter.wait("not-running")
    return Response(200, json.dumps(code).encode() + b"\n", "application/json")


@routes.delete("/libpod/containers/{id}")
def remove(req: Request) -> Any:
    """One report per container removed: {Id, RawInput, Err}."""
    name = req.params["id"]
    try:
        rec = lookup(req)
    except ApiError:
        if req.flag("ignore"):
            return []
        raise
    if req.flag("depend"):
        raise BadParameter("removing a container's dependents (depend) is not available in podpy")
    timeout = req.int_arg("timeout", None)
    reports = engine(req).rm([rec.id], force=req.flag("force"), all_=False, ignore=False,
                             volumes=req.flag("volumes") or req.flag("v"), timeout=timeout)
    raise_first(reports)
    return [{"Id": rec.id, "RawInput": name, "Err": None}]


@routes.get("/libpod/containers/{id}/logs")
def logs(req: Request) -> Any:
    """Docker's logs, with podman's zero times ("0001-01-01T00:00:00Z": no bound) dropped."""
    for key in ("since", "until"):
        values = req.query.get(key)
        if values and values[-1].startswith("0001-01-01"):
            del req.query[key]
    tail = req.arg("tail")
    if tail is not None and tail.startswith("-"):
        req.query["tail"] = ["all"]
    return podman_words(streams.logs)(req)
