"""Image routes: list, inspect, history, tag, remove, prune, save (get), load, search, commit.

Pull and push (/images/create, /images/{name}/push) are in registries.py, /build in build.py.
Names are the store's (docker.io/library/busybox:latest), as podman's compatible API gives them.
"""

from __future__ import annotations

from .errors import ApiError, BadParameter
from .http import Response, Streamed, json_response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

    from storage.images import Image

    from ..engine.images import ImageEngine
    from .http import Request

routes = RouteTable()

LIST_FILTERS = ("dangling", "label", "label!", "reference", "before", "since", "until")


def engine(req: Request) -> ImageEngine:
    from ..engine.images import ImageEngine

    return ImageEngine(req.runtime(), lambda _line: None)


def lookup(req: Request, name: str) -> Image:
    """The image a name, id or digest is (404 "No such image: NAME" when none)."""
    from ..engine.imagestore import lookup as find
    from ..errors import InvalidArgument, NoSuchImage

    try:
        return find(req.runtime(), name)
    except (NoSuchImage, InvalidArgument):
        raise ApiError(404, f"No such image: {name}") from None


def docker_id(image_id: str) -> str:
    return image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"


@routes.get("/images/json")
def list_(req: Request) -> list[dict[str, Any]]:
    filters = []
    for key, values in req.filters().items():
        if key not in LIST_FILTERS:
            raise BadParameter(f"invalid filter '{key}'")
        filters += [f"{key}={v}" for v in values]
    from ..engine.imagefilter import names_matching

    req.flag("digests")   # RepoDigests are always given; the flag is checked as a boolean only
    # as Docker's: an image the reference filter matches shows only the names it matched
    references = req.filters().get("reference")
    out = []
    for s in engine(req).ls(all_=req.flag("all"), filters=filters):
        d = s.data
        tags, digests = d.get("RepoTags") or [], d.get("RepoDigests") or []
        if references:
            tags, digests = names_matching(references, tags), names_matching(references, digests)
        entry = {"Id": docker_id(s.image.id), "ParentId": "", "RepoTags": tags,
                 "RepoDigests": digests, "Created": int(s.created), "Size": d.get("Size", 0),
                 "SharedSize": -1, "VirtualSize": d.get("Size", 0), "Labels": d.get("Labels") or {},
                 "Containers": s.containers}
        out.append(entry)
    return out


def inspect_shape(doc: dict[str, Any]) -> dict[str, Any]:
    """podpy's image inspect document in Docker's shape."""
    config = dict(doc.get("Config") or {})
    for key, default in (("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False),
                         ("AttachStdout", False), ("AttachStderr", False), ("Tty", False), ("OpenStdin", False),
                         ("StdinOnce", False), ("Env", None), ("Cmd", None), ("Image", ""), ("Volumes", None),
                         ("WorkingDir", ""), ("Entrypoint", None), ("OnBuild", None), ("Labels", None)):
        config.setdefault(key, default)
    return {
        "Id": docker_id(doc["Id"]), "RepoTags": doc.get("RepoTags") or [],
        "RepoDigests": doc.get("RepoDigests") or [], "Parent": doc.get("Parent", ""),
        "Comment": doc.get("Comment", ""), "Created": doc.get("Created", ""), "Container": "",
        "ContainerConfig": config, "DockerVersion": "", "Author": doc.get("Author", ""), "Config": config,
        "Architecture": doc.get("Architecture", ""), "Os": doc.get("Os", ""), "Size": doc.get("Size", 0),
        "VirtualSize": doc.get("VirtualSize", 0), "GraphDriver": doc.get("GraphDriver") or {},
        "RootFS": doc.get("RootFS") or {"Type": "layers", "Layers": []},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


@routes.get("/images/{name}/json")
def inspect(req: Request) -> dict[str, Any]:
    from ..engine.imagestore import image_document

    return inspect_shape(image_document(req.runtime(), lookup(req, req.params["name"])))


@routes.get("/images/{name}/history")
def history(req: Request) -> list[dict[str, Any]]:
    from ..engine.imagestore import _parse_time

    image = lookup(req, req.params["name"])
    rows = engine(req).history(image.id)
    return [{"Id": docker_id(r["ID"]) if r["ID"] != "<missing>" else "<missing>",
             "Created": int(_parse_time(r["created"]) or 0) if r["created"] else 0, "CreatedBy": r["CreatedBy"],
             "Tags": r["tags"], "Size": r["size"], "Comment": r["comment"]} for r in rows]


@routes.post("/images/{name}/tag")
def tag(req: Request) -> Response:
    repo, tag_ = req.arg("repo"), req.arg("tag")
    if not repo:
        raise BadParameter("repository name (the `repo` query) must have a value")
    image = lookup(req, req.params["name"])
    target = repo + (("@" if tag_.startswith("sha256:") else ":") + tag_ if tag_ else "")
    try:
        engine(req).tag(image.id, [target])
    except Exception as exc:  # noqa: BLE001
        from ..errors import InvalidArgument

        if isinstance(exc, InvalidArgument):
            raise BadParameter(str(exc)) from None
        raise
    return Response(201, b"", None)


@routes.delete("/images/{name}")
def remove(req: Request) -> list[dict[str, str]]:
    name = req.params["name"]
    image = lookup(req, name)
    force = req.flag("force")
    rt = req.runtime()
    from ..engine.imagestore import local_name
    from storage.reference import is_hex_id

    given = local_name(rt, name)
    untag_only = not is_hex_id(given) and len(image.names) > 1
    users = [r for r in rt.state.all() if r.image_id == image.id]
    if users and not force and not untag_only:
        if is_hex_id(given) or image.id.startswith(name.removeprefix("sha256:")):
            raise ApiError(409, f"conflict: unable to delete {image.id[:12]} (cannot be forced) - image is "
                                f"being used by running container {users[0].id[:12]}")
        raise ApiError(409, f'conflict: unable to remove repository reference "{name}" (must force) - '
                            f"container {users[0].id[:12]} is using its referenced image {image.id[:12]}")
    if is_hex_id(given) and len(image.names) > 1 and not force:
        raise ApiError(409, f"conflict: unable to delete {image.id[:12]} (must be forced) - image is referenced "
                            "in multiple repositories")
    reports = engine(req).rm([name], force=force, no_prune=req.flag("noprune"))
    out: list[dict[str, str]] = []
    for r in reports:
        if r.error is not None:
            raise r.error
        out += [{"Untagged": n} for n in r.untagged]
        if r.deleted:
            out += [{"Untagged": n} for n in image.names if n not in r.untagged]
            out += [{"Deleted": docker_id(i)} for i in [r.deleted, *r.also]]
    return out


@routes.post("/images/prune")
def prune(req: Request) -> dict[str, Any]:
    filters = req.filters()
    all_ = False
    words = []
    for key, values in filters.items():
        if key == "dangling":
            all_ = any(v.lower() in ("false", "0") for v in values)
        elif key in ("label", "label!", "until"):
            words += [f"{key}={v}" for v in values]
        else:
            raise BadParameter(f"invalid filter '{key}'")
    sizes = {i.id: i.size for i in req.runtime().store.images()}
    removed = engine(req).prune(all_=all_, filters=words)
    return {"ImagesDeleted": [{"Deleted": docker_id(i)} for i in removed] or None,
            "SpaceReclaimed": sum(sizes.get(i, 0) for i in removed)}


# -- archives ---------------------------------------------------------------------------------

@routes.get("/images/{name}/get")
def get_one(req: Request) -> Streamed:
    return _save(req, [req.params["name"]])


@routes.get("/images/get")
def get_many(req: Request) -> Streamed:
    names = req.query.get("names") or []
    if not names:
        raise BadParameter("no images named: the `names` query, once per image")
    return _save(req, names)


SAVE_FORMATS = ("docker-archive", "oci-archive", "oci-dir", "docker-dir")


def _save(req: Request, names: list[str], fmt: str = "docker-archive", compress: bool = False,
          uncompressed: bool = False) -> Streamed:
    """The images in a format (a directory's, oci-dir and docker-dir, as a tar of its content),
    written in the store's temporary space then sent."""
    import os

    from ..engine.entities import SaveOptions

    if fmt not in SAVE_FORMATS:
        raise BadParameter(f"unknown format {fmt!r}: docker-archive, oci-archive, oci-dir or docker-dir")
    for n in names:
        lookup(req, n)
    rt = req.runtime()
    stage = rt.store.temporary("api-save")
    where = stage.__enter__().path
    path = os.path.join(where, "images.tar")
    try:
        if fmt.endswith("-dir"):
            import tarfile

            folder = os.path.join(where, "out")
            engine(req).save(SaveOptions(names=names, output=folder, format=fmt, compress=compress,
                                         uncompressed=uncompressed))
            with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
                for entry in sorted(os.listdir(folder)):
                    tf.add(os.path.join(folder, entry), arcname=entry)
        else:
            engine(req).save(SaveOptions(names=names, output=path, format=fmt, uncompressed=uncompressed,
                                         multi_image=len(names) > 1 and fmt == "docker-archive"))
    except BaseException:
        stage.__exit__(None, None, None)
        raise
    return Streamed(_file_chunks(path, stage), "application/x-tar")


def _file_chunks(path: str, stage: Any) -> Iterator[bytes]:
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                yield chunk
    finally:
        stage.__exit__(None, None, None)


def body_to_file(req: Request, path: str) -> int:
    """The request's (streamed) body written to path; its size."""
    size = 0
    with open(path, "wb") as f:
        for chunk in req.stream():
            f.write(chunk)
            size += len(chunk)
    return size


@routes.post("/images/load", stream_body=True)
def load(req: Request) -> Response:
    import os

    from .progress import line

    rt = req.runtime()
    with rt.store.temporary("api-load") as stage:
        path = os.path.join(stage.path, "archive.tar")
        if not body_to_file(req, path):
            raise BadParameter("the body is empty: send a docker-archive or oci-archive tar")
        reports = engine(req).load(path)
    lines = []
    for r in reports:
        for n in r.names or [f"sha256:{r.image.id}"]:
            what = "Loaded image ID" if n.startswith("sha256:") else "Loaded image"
            lines.append(line({"stream": f"{what}: {n}\n"}))
    return Response(200, b"".join(lines), "application/json")


# -- search and commit ------------------------------------------------------------------------

@routes.get("/images/search")
def search(req: Request) -> list[dict[str, Any]]:
    from ..engine.search import SearchOptions
    from .registryauth import credentials, tls_verify

    term = req.arg("term")
    if not term:
        raise BadParameter("no search term: the `term` query")
    words = tuple(f"{k}={v}" for k, vs in req.filters().items() for v in vs)
    limit = req.int_arg("limit", 25) or 25
    rows = engine(req).search(SearchOptions(term=term, limit=limit, filters=words, tls_verify=tls_verify(term),
                                            creds=credentials(req)))
    return [{"name": r.get("Name", ""), "description": r.get("Description", ""),
             "star_count": int(r.get("Stars") or 0), "is_official": r.get("Official") in ("[OK]", True),
             "is_automated": r.get("Automated") in ("[OK]", True)} for r in rows]


@routes.post("/commit")
def commit(req: Request) -> Response:
    from ..engine.containers import ContainerEngine
    from ..engine.entities import CommitOptions
    from ..errors import NoSuchContainer

    name = req.arg("container")
    if not name:
        raise BadParameter("no container: the `container` query")
    repo, tag_ = req.arg("repo") or "", req.arg("tag") or ""
    target = (repo + (":" + tag_ if tag_ else "")) if repo else None
    changes = [c for c in req.query.get("changes") or [] for c in c.split("\n") if c.strip()]
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected the container's configuration, an object")
    changes += _config_changes(body)
    try:
        image = ContainerEngine(req.runtime(), lambda _line: None).commit(CommitOptions(
            container=name, image=target, changes=changes, message=req.arg("comment") or "",
            author=req.arg("author") or "", pause=req.flag("pause", True)))
    except NoSuchContainer:
        raise ApiError(404, f"No such container: {name}") from None
    return json_response({"Id": docker_id(image.id)}, 201)


def _config_changes(body: dict[str, Any]) -> list[str]:
    """The commit body's container configuration (Cmd, Entrypoint, Env, ...) as instructions."""
    import json

    out = []
    for key, word in (("Cmd", "CMD"), ("Entrypoint", "ENTRYPOINT")):
        value = body.get(key)
        if isinstance(value, list) and value:
            out.append(f"{word} {json.dumps(value)}")
    for e in body.get("Env") or []:
        k, _, v = str(e).partition("=")
        out.append(f"ENV {k}={json.dumps(v)}")
    for k, v in (body.get("Labels") or {}).items():
        out.append(f"LABEL {json.dumps(str(k))}={json.dumps(str(v))}")
    for port in body.get("ExposedPorts") or {}:
        out.append(f"EXPOSE {port}")
    for key, word in (("WorkingDir", "WORKDIR"), ("User", "USER")):
        if body.get(key):
            out.append(f"{word} {body[key]}")
    return out


def names_with_slashes(table: RouteTable) -> None:
    """An image's {name} may hold slashes (docker.io/library/busybox): clients send them as they
    are, not quoted, so the routes' {name} takes every segment up to its route's last words."""
    import re

    for route in table.routes:
        if "{name}" in route.pattern:
            route.regex = re.compile(route.regex.pattern.replace("(?P<name>[^/]+)", "(?P<name>.+?)"))


names_with_slashes(routes)
