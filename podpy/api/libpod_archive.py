"""The libpod API's archive routes (podman's `cp`): HEAD for a path's stat, GET a path as a
tar, PUT a tar into a directory.

They are the Docker routes (archive.py) with podman's differences: the stat says isDir, and
its linkTarget is the path resolved (podman's client copies to and from it, a symlink
followed); a PUT's copyUIDGID (podman's client sends it for `--archive`, the default) makes
the files the container user's; podman's service reads the query's names in any case
(its client sends nooverwritedirnondir).
"""

from __future__ import annotations

import base64
import json
import posixpath

from . import archive
from .errors import BadParameter
from .libpod_containers import lookup, podman_words
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .http import Request, Response, Streamed

routes = RouteTable()


def _query(req: Request, name: str) -> Any:
    """A query value looked up in any case, as podman's service does."""
    want = name.lower()
    for key, values in req.query.items():
        if key.lower() == want and values:
            return values[-1]
    return None


def _bool(req: Request, name: str, default: bool) -> bool:
    value = _query(req, name)
    if value is None:
        return default
    low = value.strip().lower()
    if low in ("1", "true", "yes", "t", "y"):
        return True
    if low in ("0", "false", "no", "f", "n", ""):
        return False
    raise BadParameter(f"invalid value for {name}: {value!r} is not a boolean")


def podman_stat(header: tuple[str, str], path: str) -> tuple[str, str]:
    """Docker's stat header as podman's service words it: isDir, and linkTarget the path
    resolved (a symlink's target made absolute, or the path itself)."""
    doc = json.loads(base64.b64decode(header[1]))
    mode = int(doc.get("mode") or 0)
    doc["isDir"] = bool(mode & (1 << 31))
    clean = posixpath.normpath(path if path.startswith("/") else "/" + path)
    target = doc.get("linkTarget") or ""
    doc["linkTarget"] = posixpath.normpath(posixpath.join(posixpath.dirname(clean), target)) if target else clean
    return header[0], base64.b64encode(json.dumps(doc).encode()).decode()


def _with_podman_stat(resp: Any, path: str) -> Any:
    resp.headers = [podman_stat(h, path) if h[0] == archive.STAT_HEADER else h for h in resp.headers]
    return resp


@routes.head("/libpod/containers/{id}/archive")
def stat(req: Request) -> Response:
    return _with_podman_stat(podman_words(archive.stat)(req), req.arg("path") or "")


@routes.get("/libpod/containers/{id}/archive")
def get(req: Request) -> Streamed:
    return _with_podman_stat(podman_words(archive.get)(req), req.arg("path") or "")


@routes.put("/libpod/containers/{id}/archive", stream_body=True)
def put(req: Request) -> Response:
    """The tar into the directory path: archive.put's, with the container's user owning what
    it unpacks when copyUIDGID (podman's default for its own client) asks for it."""
    rename = None
    raw = _query(req, "rename")
    if raw:
        try:
            rename = json.loads(raw)
        except ValueError:
            rename = None
        if not isinstance(rename, dict) or not all(isinstance(v, str) for v in rename.values()):
            raise BadParameter("invalid rename: expected a JSON object of names")
    req.query["noOverwriteDirNonDir"] = ["1" if _bool(req, "noOverwriteDirNonDir", False) else "0"]
    lookup(req)   # podman's words for a missing container
    return archive.put(req, "user" if _bool(req, "copyUIDGID", False) else "tar", rename=rename)
