"""The libpod API's routes of a container's changes and its processes: commit, changes (of a
container or an image), image history, export, rename, init and top.

They answer in podman 4.3.1's shapes: commit `{"Id": ...}` (the id in full), changes Docker's
`[{"Path", "Kind"}]` (0 changed, 1 added, 2 deleted), history Docker's entries with the ids
bare, rename and init 204 (init 304 when the container is set up already), top
`{"Titles", "Processes"}` once.
"""

from __future__ import annotations

from . import containers as docker_containers
from . import images as docker_images
from .errors import BadParameter
from .http import Response, json_response
from .libpod_containers import lookup, podman_words
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .http import Request

routes = RouteTable()
KINDS = {"C": 0, "A": 1, "D": 2}

# podman's routes that answer as Docker's: the Docker handler serves them
routes.add("GET", "/libpod/containers/{id}/export")(podman_words(docker_containers.export))


@routes.post("/libpod/commit")
def commit(req: Request) -> Response:
    from ..engine.entities import CommitOptions

    name = req.arg("container")
    if not name:
        raise BadParameter("no container: the `container` query")
    fmt = req.arg("format") or "oci"
    if fmt not in ("oci", "docker"):
        raise BadParameter(f'unrecognized image format "{fmt}"')
    if fmt == "docker":
        raise BadParameter("format docker: podpy keeps images in the OCI format only")
    rec = docker_lookup(req, name)
    repo, tag = req.arg("repo") or "", req.arg("tag") or ""
    target = (repo + (":" + tag if tag else "")) if repo else None
    changes = [c for value in req.query.get("changes") or [] for c in value.split("\n") if c.strip()]
    image = docker_containers.engine(req).commit(CommitOptions(
        container=rec.id, image=target, changes=changes, message=req.arg("comment") or "",
        author=req.arg("author") or "", pause=req.flag("pause"), squash=req.flag("squash")))
    return json_response({"Id": image.id}, 200)


def docker_lookup(req: Request, name: str) -> Any:
    return podman_words(lambda r: docker_containers.lookup(r, name))(req)


@routes.get("/libpod/containers/{id}/changes")
def container_changes(req: Request) -> list[dict[str, Any]]:
    """diffType (podman's client sends it): container, image, or all (the default: a
    container of that name, else an image)."""
    kind = req.arg("diffType") or "all"
    if kind not in ("all", "container", "image"):
        raise BadParameter(f"invalid diffType {kind!r}: all, container or image")
    if kind == "image" or (kind == "all" and not docker_containers.engine(req).exists(req.params["id"])):
        return _image_changes(req, req.params["id"])
    rec = lookup(req)
    return [{"Path": path, "Kind": KINDS.get(kind, 0)} for kind, path in docker_containers.engine(req).diff(rec.id)]


@routes.get("/libpod/images/{name}/changes")
def image_changes(req: Request) -> list[dict[str, Any]]:
    return _image_changes(req, req.params["name"])


def _image_changes(req: Request, name: str) -> list[dict[str, Any]]:
    image = podman_words(lambda r: docker_images.lookup(r, name))(req)
    parent = req.arg("parent") or None
    return [{"Path": path, "Kind": KINDS.get(kind, 0)}
            for kind, path in docker_images.engine(req).diff(image.id, parent)]


@routes.get("/libpod/images/{name}/history")
def history(req: Request) -> list[dict[str, Any]]:
    from ..engine.imagestore import _parse_time

    image = podman_words(lambda r: docker_images.lookup(r, r.params["name"]))(req)
    return [{"Id": r["ID"], "Created": int(_parse_time(r["created"]) or 0) if r["created"] else 0,
             "CreatedBy": r["CreatedBy"], "Tags": r["tags"] or None, "Size": r["size"], "Comment": r["comment"]}
            for r in docker_images.engine(req).history(image.id)]


@routes.post("/libpod/containers/{id}/rename")
def rename(req: Request) -> Response:
    new = req.arg("name")
    if not new:
        raise BadParameter("rename requires a name: the `name` query")
    rec = lookup(req)
    docker_containers.engine(req).rename(rec.id, new)
    return Response(204, b"", None)


@routes.post("/libpod/containers/{id}/init")
def init(req: Request) -> Response:
    """204; 304 when the container is set up already (initialized, running or paused)."""
    from ..state import INITIALIZED, PAUSED, RUNNING

    rec = lookup(req)
    if rec.state in (INITIALIZED, RUNNING, PAUSED):
        return Response(304, b"", None)
    docker_containers.raise_first(docker_containers.engine(req).init([rec.id]))
    return Response(204, b"", None)


@routes.get("/libpod/containers/{id}/top")
def top(req: Request) -> dict[str, Any]:
    """ps_args are ps(1)'s descriptors, comma- or space-separated (podman's client joins them
    with commas); podman's default -ef means the default ones. One answer, even with stream."""
    rec = lookup(req)
    words = [w for arg in req.query.get("ps_args", []) for w in arg.replace(",", " ").split()]
    rows = docker_containers.engine(req).top(rec.id, [w for w in words if not w.startswith("-")])
    return {"Processes": rows[1:], "Titles": rows[0] if rows else []}


@routes.get("/libpod/containers/stats")
def stats(req: Request) -> Any:
    """podman's `{"Error": null, "Stats": [ContainerStats...]}`: one with stream=false, else one
    per interval (a line each) while a named container runs (every running one without names)."""
    import json

    from .http import Streamed

    names = [n for value in req.query.get("containers", []) for n in value.split(",") if n]
    stream = req.flag("stream", True)
    interval = req.int_arg("interval", 5) or 5
    if interval < 1:
        raise BadParameter("invalid interval: at least 1 second")
    readings = docker_containers.engine(req).stats(names, interval, stream)
    if not stream:
        return {"Error": None, "Stats": next(iter(readings), [])}

    def lines() -> Any:
        yield b""
        for rows in readings:
            if req.gone():
                return
            yield json.dumps({"Error": None, "Stats": rows}).encode() + b"\n"
    return Streamed(lines())


@routes.get("/libpod/containers/{id}/healthcheck")
def healthcheck(req: Request) -> dict[str, Any]:
    """One run of the container's check: podman's HealthCheckResults, Status that run's
    (healthy when it passed, else unhealthy), FailingStreak and Log the container's."""
    import json

    from ..engine import health
    from ..engine.healthstate import health_path

    rec = lookup(req)
    _status, code = health.run(req.runtime(), rec.id, lambda _line: None)
    try:
        with open(health_path(req.runtime(), rec)) as f:
            kept = json.load(f)
    except (OSError, ValueError):
        kept = {}
    return {"Status": "healthy" if code == 0 else "unhealthy", "FailingStreak": int(kept.get("FailingStreak") or 0),
            "Log": kept.get("Log") or []}
