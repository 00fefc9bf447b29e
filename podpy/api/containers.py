"""Container routes: create, list, inspect, remove, prune, rename, update, top, changes, export."""

from __future__ import annotations

import threading

from .errors import ApiError, BadParameter
from .http import Response, Streamed, close_runtime, json_response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional

    from ..engine.containers import ContainerEngine
    from .http import Request

routes = RouteTable()


def engine(req: Request, warnings: list[str] | None = None) -> ContainerEngine:
    """The container engine over the request's Runtime."""
    from ..engine.containers import ContainerEngine

    sink: Callable[[str], None] = warnings.append if warnings is not None else (lambda _line: None)
    return ContainerEngine(req.runtime(), sink)


def lookup(req: Request, name: str | None = None) -> Any:
    """The container of the path's {id} (404 in Docker's words when there is none)."""
    from ..engine.reconcile import reconcile
    from ..errors import NoSuchContainer

    rt = req.runtime()
    reconcile(rt)
    name = name if name is not None else req.params["id"]
    try:
        return rt.state.lookup(name)
    except NoSuchContainer:
        raise ApiError(404, f"No such container: {name}") from None


def raise_first(reports: list[Any]) -> None:
    for report in reports:
        if report.error is not None:
            raise report.error


_CONSOLES: dict[str, tuple[int, int]] = {}
_CONSOLES_LOCK = threading.Lock()


def console_size(cid: str, size: Optional[tuple[int, int]] = None) -> Optional[tuple[int, int]]:
    """The terminal size a container's next start gets: set by create's ConsoleSize or a resize
    before the start (docker's client sends both), taken by the start."""
    with _CONSOLES_LOCK:
        if size is not None:
            if len(_CONSOLES) > 4096:
                _CONSOLES.clear()
            _CONSOLES[cid] = size
            return size
        return _CONSOLES.pop(cid, None)


@routes.post("/containers/create")
def create(req: Request) -> Response:
    from ..engine.start import limit_warnings
    from ..errors import NoSuchImage
    from .translate import create_options, links

    body = req.json()
    opts = create_options(body, req.arg("name"), req.arg("platform"))
    _link(req, opts, links(body))
    warnings: list[str] = []
    try:
        rec = engine(req, warnings).create(opts)
    except NoSuchImage:
        raise ApiError(404, f"No such image: {opts.image}") from None
    warnings += req.runtime().cfg.warnings
    warnings += [w for w in limit_warnings(rec) if w not in warnings]   # the CLI warns at the start
    size = (body.get("HostConfig") or {}).get("ConsoleSize")
    if opts.tty and isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size):
        console_size(rec.id, (size[0], size[1]))
    return json_response({"Id": rec.id, "Warnings": warnings}, 201)


def _link(req: Request, opts: Any, wanted: list[tuple[str, str]]) -> None:
    """Docker's links on user networks: the target container is found by the link's alias from
    the new container. Here the alias is a line of the new container's /etc/hosts with the
    target's address on a network both are on (an address stays the container's until it
    leaves that network), unless the networks' DNS already answers that name for the target
    (its name, short id or a network alias: what docker-compose links mostly name). A target
    on no network of the new container is refused, as there is no address to give."""
    from ..engine.reconcile import reconcile
    from ..errors import NoSuchContainer

    if not wanted:
        return
    rt = req.runtime()
    reconcile(rt)
    ours = set(opts.network)
    for target, alias in wanted:
        try:
            rec = rt.state.lookup(target)
        except NoSuchContainer:
            raise ApiError(404, f"could not get container for {target}") from None
        shared = {name: ep for name, ep in rec.config.networks.items() if name in ours or ep.get("id") in ours}
        if not shared:
            raise BadParameter(f"cannot link to {rec.name}: it is on no user network of this container "
                               "(links work on the networks both are on)")
        if any(alias in (rec.name, rec.id[:12], *ep.get("aliases", [])) for ep in shared.values()):
            continue   # the networks' DNS answers it
        address = next((ep["ip"] for ep in shared.values() if ep.get("ip")), None)
        if address is None:
            raise BadParameter(f"cannot link to {rec.name}: it has no address on the networks both are on")
        opts.add_hosts.append(f"{alias}:{address}")


def _ps_filters(filters: dict[str, list[str]]) -> list[str]:
    """Docker's list filters as podman's ps KEY=VALUE (the same keys, mostly)."""
    out = []
    for key, values in filters.items():
        for value in values:
            if key == "status" and value == "exited":
                out.append("status=exited")
            elif key in ("id", "name", "label", "status", "ancestor", "before", "since", "exited", "health",
                         "volume", "network", "publish", "expose", "is-task"):
                if key == "is-task":
                    continue
                out.append(f"{key}={value}")
            else:
                raise BadParameter(f"invalid filter '{key}'")
    return out


@routes.get("/containers/json")
def list_(req: Request) -> list[dict[str, Any]]:
    from ..engine.cleanup import restart_pending
    from ..engine.entities import PsOptions
    from .shapes import list_entry

    limit = req.int_arg("limit", -1)
    all_ = req.flag("all") or (limit is not None and limit > 0)
    filters = req.filters()
    ancestors = _ancestor_ids(req, filters.pop("ancestor")) if "ancestor" in filters else None
    # podpy's ps without --all shows running containers; Docker's shows paused ones too
    opts = PsOptions(all=True, filters=_ps_filters(filters), size=req.flag("size"),
                     last=limit if limit and limit > 0 else -1)
    found = [e for e in engine(req).ps(opts) if ancestors is None or e.data.get("ImageID") in ancestors]
    pending = {r.id for r in req.runtime().state.all() if restart_pending(r)}
    entries = [list_entry(e.data, e.health, e.data.get("Id") in pending) for e in found]
    return entries if all_ else [e for e in entries if e["State"] in ("running", "paused", "restarting")]


def _ancestor_ids(req: Request, values: list[str]) -> set[str]:
    """Docker's `ancestor` filter: the images the values name, as an image name is looked up
    (a short name completed, a name without a tag its `latest`, an id or a prefix of one), and
    every image built on one of them; a value that names no image adds none."""
    from ..engine.imagestore import lookup as image_lookup
    from ..engine.imagestore import parents

    wanted = set()
    for value in values:
        try:
            wanted.add(image_lookup(req.runtime(), value).id)
        except Exception:  # noqa: BLE001 - as Docker: an unknown image matches no container
            continue
    if wanted:
        parent_of = parents(req.runtime().store.images())
        grown = True
        while grown:
            children = {child for child, parent in parent_of.items() if parent in wanted}
            grown = not children <= wanted
            wanted |= children
    return wanted


@routes.get("/containers/{id}/json")
def inspect(req: Request) -> dict[str, Any]:
    from .shapes import inspect as shape

    from ..engine.cleanup import restart_pending

    rec = lookup(req)
    reports = engine(req).inspect([rec.id], size=req.flag("size"))
    raise_first(reports)
    return shape(reports[0].value, restarting=restart_pending(rec))


@routes.delete("/containers/{id}")
def remove(req: Request) -> Response:
    from ..state import PAUSED, RUNNING

    rec = lookup(req)
    force = req.flag("force")
    if rec.state in (RUNNING, PAUSED) and not force:
        raise ApiError(409, f"You cannot remove a {rec.state} container {rec.id}. Stop the container before "
                            "attempting removal or force remove")
    if req.flag("link"):
        raise BadParameter("legacy container links are not supported")
    raise_first(engine(req).rm([rec.id], force=force, all_=False, ignore=False, volumes=req.flag("v")))
    return Response(204, b"", None)


@routes.post("/containers/prune")
def prune(req: Request) -> dict[str, Any]:
    from ..engine.entities import ContainerPruneOptions

    filters = [f"{k}={v}" for k, vs in req.filters().items() for v in vs]
    reports = engine(req).prune(ContainerPruneOptions.from_filters(filters))
    deleted = [r.id for r in reports if r.error is None]
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": 0}


@routes.post("/containers/{id}/rename")
def rename(req: Request) -> Response:
    new = req.arg("name")
    if not new:
        raise BadParameter("rename requires a name: the `name` query")
    rec = lookup(req)
    engine(req).rename(rec.id, new.lstrip("/"))
    return Response(204, b"", None)


@routes.post("/containers/{id}/update")
def update(req: Request) -> dict[str, Any]:
    from .translate import update_options

    rec = lookup(req)
    opts = update_options(req.json({}))
    warnings: list[str] = []
    engine(req, warnings).update(rec.id, opts)
    return {"Warnings": warnings}


@routes.get("/containers/{id}/top")
def top(req: Request) -> dict[str, Any]:
    rec = lookup(req)
    args = (req.arg("ps_args") or "").split()
    rows = engine(req).top(rec.id, [a for a in args if not a.startswith("-")] or [])
    return {"Titles": rows[0] if rows else [], "Processes": rows[1:]}


@routes.get("/containers/{id}/changes")
def changes(req: Request) -> Any:
    rec = lookup(req)
    kinds = {"C": 0, "A": 1, "D": 2}
    return [{"Path": path, "Kind": kinds.get(kind, 0)} for kind, path in engine(req).diff(rec.id)] or None


@routes.get("/containers/{id}/export")
def export(req: Request) -> Streamed:
    rec = lookup(req)
    return Streamed(_export(req, rec.id), "application/x-tar")


def _export(req: Request, cid: str) -> Iterator[bytes]:
    """The export's tar, through a pipe the engine writes into from a thread."""
    import os
    import threading

    from ..engine.containers import ContainerEngine

    r, w = os.pipe()
    failure: list[BaseException] = []

    def write() -> None:
        # a Runtime of this thread's own (a SQLite connection stays in its thread), closed with it
        rt = req.conn.app.open_runtime()
        try:
            ContainerEngine(rt, lambda _line: None).export(cid, f"/proc/self/fd/{w}")
        except BaseException as exc:  # noqa: BLE001 - reported by the reader
            failure.append(exc)
        finally:
            os.close(w)
            close_runtime(rt)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        with os.fdopen(r, "rb") as f:
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                yield chunk
    finally:
        thread.join()
    if failure:
        raise failure[0]
