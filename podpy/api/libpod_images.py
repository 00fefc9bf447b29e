"""The libpod API's image routes: list, inspect, exists, pull, tag, untag, remove, get (a
docker-archive) and load.

The list entries are `podpy images --format json`'s, inspect is `podpy image inspect`'s
document (both podman's shapes). A pull answers podman's stream: {"stream": TEXT} lines of
progress, then {"images": [ID], "id": ID}, or {"error": ...} when it failed.
"""

from __future__ import annotations

import json

from . import images as docker_images
from .errors import ApiError, BadParameter
from .http import Response, Streamed
from .libpod_containers import podman_words
from .registryauth import credentials, tls_verify
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

    from .http import Request

routes = RouteTable()
PULL_POLICIES = ("always", "missing", "never", "newer")

routes.add("POST", "/libpod/images/{name}/tag")(podman_words(docker_images.tag))


@routes.get("/libpod/images/json")
def list_(req: Request) -> list[dict[str, Any]]:
    filters = [f"{key}={value}" for key, values in req.filters().items() for value in values]
    return [s.data for s in docker_images.engine(req).ls(all_=req.flag("all"), filters=filters)]


@routes.get("/libpod/images/{name}/json")
def inspect(req: Request) -> Any:
    reports = docker_images.engine(req).inspect([req.params["name"]])
    if reports[0].error is not None:
        raise ApiError(404, f"{req.params['name']}: image not known")
    return reports[0].value


@routes.get("/libpod/images/{name}/exists")
def exists(req: Request) -> Response:
    if not docker_images.engine(req).exists(req.params["name"]):
        raise ApiError(404, f"{req.params['name']}: image not known")
    return Response(204, b"", None)


@routes.post("/libpod/images/{name}/untag")
def untag(req: Request) -> Response:
    repo, tag = req.arg("repo"), req.arg("tag")
    targets = [f"{repo}:{tag or 'latest'}"] if repo else []
    docker_images.engine(req).untag(req.params["name"], targets)
    return Response(201, b"", None)


@routes.post("/libpod/images/pull")
def pull(req: Request) -> Streamed:
    name = req.arg("reference")
    if not name:
        raise BadParameter("reference parameter cannot be empty")
    policy = (req.arg("policy") or "always").lower()
    if policy not in PULL_POLICIES:
        raise BadParameter(f"unsupported pull policy {policy!r}: always, missing, never or newer")
    verify = req.arg("tlsVerify")
    return Streamed(_pull(req, name, policy, req.flag("quiet"),
                          (verify.lower() in ("1", "true")) if verify else tls_verify(name),
                          any(req.flag(k) for k in ("allTags", "alltags"))))


def _pull(req: Request, name: str, policy: str, quiet: bool, verify: Any, all_tags: bool = False) -> Iterator[bytes]:
    from ..engine.images import ImageEngine
    from ..engine.pull import PullOptions
    from .errors import from_engine

    lines: list[str] = []
    engine = ImageEngine(req.runtime(), lambda _line: None, None if quiet else lines.append)
    yield b""
    try:
        image = None
        if policy in ("missing", "never") and engine.exists(name):
            image = engine.inspect([name])[0].value
            ids = [str(image["Id"])]
        elif policy == "never":
            raise ApiError(404, f"{name}: image not known")
        else:
            creds = credentials(req)
            opts = PullOptions(name=name, creds=creds, tls_verify=verify, os=req.arg("os") or None,
                               arch=req.arg("arch") or None, variant=req.arg("variant") or None)
            ids = [i.id for i in engine.pull_all_tags(opts)] if all_tags else [engine.pull(opts).id]
    except Exception as exc:  # noqa: BLE001 - the stream's last line says why
        yield b"".join(json.dumps({"stream": line + "\n"}).encode() + b"\n" for line in lines)
        yield json.dumps({"error": from_engine(exc).message}).encode() + b"\n"
        return
    yield b"".join(json.dumps({"stream": line + "\n"}).encode() + b"\n" for line in lines)
    yield json.dumps({"images": ids, "id": ids[0]}).encode() + b"\n"


@routes.get("/libpod/images/{name}/get")
def get(req: Request) -> Any:
    """The image in podman's format (docker-archive by default; a directory's as a tar of it)."""
    fmt = req.arg("format") or "docker-archive"
    if fmt == "docker-archive":
        return podman_words(docker_images.get_one)(req)
    name = req.params["name"]
    if not docker_images.engine(req).exists(name):
        raise ApiError(404, f"{name}: image not known")
    return docker_images._save(req, [name], fmt, req.flag("compress"), req.flag("ociAcceptUncompressedLayers"))


@routes.get("/libpod/images/export")
def export(req: Request) -> Any:
    """podman's `--remote save` of images (references, once each) as one docker-archive."""
    fmt = req.arg("format") or "docker-archive"
    names = [n for values in req.query.get("references", []) for n in values.split(",") if n]
    if not names:
        raise BadParameter("no images named: the `references` query, once per image")
    for name in names:
        if not docker_images.engine(req).exists(name):
            raise ApiError(404, f"{name}: image not known")
    return docker_images._save(req, names, fmt, req.flag("compress"), req.flag("ociAcceptUncompressedLayers"))


@routes.post("/libpod/images/load", stream_body=True)
def load(req: Request) -> Any:
    """A docker-archive or oci-archive in the body; podman's report: {"Names": [...]}."""
    import os

    rt = req.runtime()
    with rt.store.temporary("api-load") as stage:
        path = os.path.join(stage.path, "archive.tar")
        if not docker_images.body_to_file(req, path):
            raise BadParameter("the body is empty: send a docker-archive or oci-archive tar")
        reports = docker_images.engine(req).load(path)
    return {"Names": [n for r in reports for n in (r.names or [f"sha256:{r.image.id}"])]}


@routes.get("/libpod/images/search")
def search(req: Request) -> list[dict[str, Any]]:
    """podman's ImageSearchReport rows (Index, Name, Description, Stars, Official, Automated,
    Tag): `podpy search`'s own."""
    from ..engine.search import SearchOptions

    term = req.arg("term")
    if not term:
        raise BadParameter("no search term: the `term` query")
    words = tuple(f"{k}={v}" for k, vs in req.filters().items() for v in vs)
    verify = req.arg("tlsVerify")
    return docker_images.engine(req).search(SearchOptions(
        term=term, limit=req.int_arg("limit", None), filters=words, list_tags=req.flag("listTags"),
        tls_verify=(verify.lower() in ("1", "true")) if verify else tls_verify(term), creds=credentials(req)))


@routes.post("/libpod/images/import", stream_body=True)
def import_(req: Request) -> Any:
    """A rootfs tarball in the body (or at `url`, which the service fetches) as a one-layer
    image; podman's report: {"Id": "sha256:..."}."""
    import os

    from ..engine.entities import ImportOptions

    changes = [c for value in req.query.get("changes") or [] for c in value.split("\n") if c.strip()]
    rt = req.runtime()
    with rt.store.temporary("api-import") as stage:
        source = req.arg("url") or ""
        if not source:
            source = os.path.join(stage.path, "rootfs.tar")
            if not docker_images.body_to_file(req, source):
                raise BadParameter("the body is empty: send a tar of a root file system, or a url")
        image = docker_images.engine(req).import_(ImportOptions(
            source=source, reference=req.arg("reference") or None, changes=changes, message=req.arg("message") or "",
            arch=req.arg("arch") or None, os=req.arg("os") or None, variant=req.arg("variant") or None))
    return {"Id": f"sha256:{image.id}"}


@routes.delete("/libpod/images/remove")
def remove(req: Request) -> Any:
    """podman's rmi: {"Deleted", "Untagged", "Errors", "ExitCode"} of every image asked for."""
    names = [n for values in req.query.get("images", []) for n in values.split(",") if n]
    reports = docker_images.engine(req).rm(names, force=req.flag("force"), all_=req.flag("all"),
                                           ignore=req.flag("ignore"), no_prune=req.flag("noprune"))
    deleted: list[str] = []
    untagged: list[str] = []
    errors: list[str] = []
    code = 0
    for r in reports:
        if r.error is not None:
            errors.append(str(r.error))
            code = 1 if type(r.error).__name__ == "NoSuchImage" and code in (0, 1) else 2
            continue
        untagged += r.untagged
        if r.deleted:
            deleted += [r.deleted, *r.also]
    return {"Deleted": deleted or None, "Untagged": untagged or None, "Errors": errors or None, "ExitCode": code}


docker_images.names_with_slashes(routes)
