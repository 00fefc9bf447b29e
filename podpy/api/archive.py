"""Archive routes (docker cp): HEAD and GET a container's path as a tar, PUT a tar into it.

The tar goes through a file in the store's staging area (engine/cp.py's helpers read and
write the container's files in a helper process that has its root), so a client that
stops reading mid-way leaves nothing behind but what the staging area's removal takes.
A PUT's body is streamed into that file, not held in memory.
"""

from __future__ import annotations

import base64
import json
import os

from .containers import lookup
from .errors import ApiError, BadParameter
from .http import Response, Streamed
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

    from .http import Request

routes = RouteTable()
STAT_HEADER = "X-Docker-Container-Path-Stat"
MAX_UPLOAD = 8 << 30   # a PUT's tar is streamed to disk; beyond this it is refused


def _path(req: Request) -> str:
    path = req.arg("path")
    if not path:
        raise BadParameter("the path query is required")
    return path


def _not_found(exc: Exception, path: str, rec: Any) -> Exception:
    from ..errors import InvalidArgument

    if isinstance(exc, InvalidArgument) and "no such file or directory" in str(exc):
        return ApiError(404, f"Could not find the file {path} in container {rec.name}")
    return exc


def _stat_header(info: dict[str, Any]) -> tuple[str, str]:
    from ..formats import rfc3339

    doc = dict(info, mtime=rfc3339(float(info["mtime"])))
    return STAT_HEADER, base64.b64encode(json.dumps(doc).encode()).decode()


@routes.head("/containers/{id}/archive")
def stat(req: Request) -> Response:
    from ..engine.cp import path_stat

    rec = lookup(req)
    path = _path(req)
    try:
        info = path_stat(req.runtime(), rec.id, path)
    except Exception as exc:  # noqa: BLE001
        raise _not_found(exc, path, rec) from None
    return Response(200, b"", None, [_stat_header(info)])


@routes.get("/containers/{id}/archive")
def get(req: Request) -> Streamed:
    from ..engine.cp import archive_out

    rec = lookup(req)
    path = _path(req)
    rt = req.runtime()
    staging = rt.store.temporary("archive")
    stage = staging.__enter__()
    try:
        tar = os.path.join(stage.path, "out.tar")
        fd = os.open(tar, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            info = archive_out(rt, rec.id, path, fd)
        finally:
            os.close(fd)
    except BaseException as exc:
        staging.__exit__(None, None, None)
        if isinstance(exc, Exception):
            raise _not_found(exc, path, rec) from None
        raise
    return Streamed(_file_chunks(tar, staging), "application/x-tar", headers=[_stat_header(info)])


def _file_chunks(path: str, staging: Any) -> Iterator[bytes]:
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(65536)
                if not chunk:
                    return
                yield chunk
    finally:
        staging.__exit__(None, None, None)


@routes.put("/containers/{id}/archive", stream_body=True)
def docker_put(req: Request) -> Response:
    """Docker's: what is unpacked belongs to the container's root, or with copyUIDGID (`docker
    cp -a`) to its user, whatever ids the tar's entries have (the client's own, mostly)."""
    return put(req, "user" if req.flag("copyUIDGID") else "root")


def put(req: Request, owner: str = "tar", rename: Optional[dict[str, str]] = None) -> Response:
    """The tar into the container's directory path, owned as its entries say (owner "tar"),
    by the container's user ("user") or its root ("root"); rename: entries named (or under) a
    key go in under its value (libpod's `rename`, which podman's client sends for a copy
    between containers)."""
    from ..engine.cp import archive_in

    rec = lookup(req)
    path = _path(req)
    overwrite = not req.flag("noOverwriteDirNonDir")
    rt = req.runtime()
    with rt.store.temporary("archive") as stage:
        tar = os.path.join(stage.path, "in.tar")
        fd = os.open(tar, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            size = 0
            for chunk in req.stream():
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise ApiError(413, f"archive larger than {MAX_UPLOAD} bytes")
                os.write(fd, chunk)
            req.streaming = False   # the body is read: the connection may serve another request
            if rename:
                os.lseek(fd, 0, os.SEEK_SET)
                renamed = os.path.join(stage.path, "renamed.tar")
                with os.fdopen(os.dup(fd), "rb") as src, open(renamed, "w+b") as dst:
                    rename_entries(src, dst, rename)
                os.close(fd)
                fd = os.open(renamed, os.O_RDWR | os.O_CLOEXEC)
            try:
                archive_in(rt, rec.id, path, fd, overwrite, owner)
            except Exception as exc:  # noqa: BLE001
                raise _not_found(exc, path, rec) from None
        finally:
            os.close(fd)
    return Response(200, b"", None)


def rename_entries(src: Any, dst: Any, mapping: dict[str, str]) -> None:
    """The tar in src written to dst, an entry named KEY (or under KEY/) named VALUE instead."""
    import tarfile

    def renamed(name: str) -> str:
        bare = name.lstrip("/").removeprefix("./")
        for old, new in mapping.items():
            old = old.strip("/")
            if bare == old or bare.startswith(old + "/"):
                return new.strip("/") + bare[len(old):]
        return name

    with tarfile.open(fileobj=src, mode="r|*") as tin, \
            tarfile.open(fileobj=dst, mode="w", format=tarfile.PAX_FORMAT) as tout:
        for member in tin:
            member.name = renamed(member.name)
            if member.islnk():
                member.linkname = renamed(member.linkname)
            tout.addfile(member, tin.extractfile(member) if member.isreg() else None)
