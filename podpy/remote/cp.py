"""`podpy --remote cp`: files between the host podpy runs on and a container of the service,
through libpod's archive routes (HEAD: a path's stat, GET: a path as a tar, PUT: a tar into
a directory), with `cp`'s local rules (engine/cp.py's docstring).

As podman's client does, the copy's name is decided here: a file or directory copied to a
path that does not exist goes into its parent under the new name (the tar's top entry named
so); into a directory, under its own. The host's side unpacks with the local cp's in-root
extraction, so an entry the service sends cannot land outside the destination.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import shutil
import sys
import tarfile
import tempfile

from ..errors import InvalidArgument, NoSuchContainer, PodpyError
from .base import _q, engine_error, exists
from .client import ServiceError, done

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .client import Client

STAT_HEADER = "X-Docker-Container-Path-Stat"


def _split(client: Client, arg: str) -> tuple[Optional[str], str]:
    """(container, path) for CONTAINER:PATH, (None, path) for a host path or "-"."""
    name, sep, path = arg.partition(":")
    if sep and name and "/" not in name:
        if exists(client, "containers", name):
            return name, path or "/"
        if not os.path.exists(arg):
            raise NoSuchContainer(f'no container with name or ID "{name}" found: no such container')
    return None, arg


def _missing(path: str, where: str) -> InvalidArgument:
    return InvalidArgument(f'"{path}" could not be found on {where}: no such file or directory')


def stat(client: Client, name: str, path: str) -> Optional[dict[str, Any]]:
    """The container path's stat (isDir worked out from the mode when a service leaves it
    out), or None when it is not there."""
    try:
        resp = client.open("HEAD", f"/containers/{_q(name)}/archive", {"path": path})
    except ServiceError as exc:
        if exc.status == 404:
            return None
        raise engine_error(exc) from None
    resp.read()
    done(resp)
    raw = resp.getheader(STAT_HEADER) or ""
    try:
        doc = json.loads(base64.b64decode(raw)) if raw else {}
    except ValueError:
        doc = {}
    doc.setdefault("isDir", bool(int(doc.get("mode") or 0) & (1 << 31)))
    return doc


def cp(eng: Any, src: str, dst: str, archive: bool = True, overwrite: bool = False, pause: bool = True) -> None:
    client = eng.client
    src_ctr, src_path = _split(client, src)
    dst_ctr, dst_path = _split(client, dst)
    if src_ctr is None and dst_ctr is None:
        raise InvalidArgument("`podpy cp` copies from or to a container: give CONTAINER:PATH on at least one side")
    if src_ctr is not None and dst_ctr is not None:
        _between(client, src_ctr, src_path, dst_ctr, dst_path, archive, overwrite, pause)
    elif src_ctr is not None:
        _from_container(client, src_ctr, src_path, dst_path, overwrite)
    else:
        assert dst_ctr is not None
        _to_container(client, src_path, dst_ctr, dst_path, archive, overwrite, pause)


def _from_container(client: Client, name: str, path: str, dst: str, overwrite: bool) -> None:
    from ..engine.cp import _unpack

    info = stat(client, name, path)
    if info is None:
        raise _missing(path, f"container {name}")
    try:
        resp = client.open("GET", f"/containers/{_q(name)}/archive", {"path": path}, timeout=None)
    except ServiceError as exc:
        if exc.status == 404:
            raise _missing(path, f"container {name}") from None
        raise engine_error(exc) from None
    try:
        if dst == "-":
            out = sys.stdout.buffer
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
            out.flush()
            return
        with tempfile.TemporaryFile(prefix="podpy-cp-") as f:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                f.write(chunk)
            f.flush()
            top = None if path.endswith("/.") else posixpath.basename(path.rstrip("/")) or "."
            _unpack(f.fileno(), dst, top, None, overwrite, "the host", bool(info["isDir"]))
    finally:
        done(resp)


def _to_container(client: Client, src: str, name: str, path: str, archive: bool, overwrite: bool,
                  pause: bool) -> None:
    from ..engine.cp import NOT_A_DIR, STDIN_NOT_DIR, STDIN_NOT_TAR

    where = f"container {name}"
    info = stat(client, name, path)
    with tempfile.TemporaryFile(prefix="podpy-cp-") as f:
        if src == "-":
            if info is None or not info["isDir"]:
                raise InvalidArgument(STDIN_NOT_DIR) if info is not None else _missing(path, where)
            shutil.copyfileobj(sys.stdin.buffer, f)
            f.flush()
            f.seek(0)
            try:
                with tarfile.open(fileobj=f, mode="r:*") as tf:
                    tf.getmembers()
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise InvalidArgument(STDIN_NOT_TAR) from exc
            into = path
        else:
            if not os.path.lexists(src) or (src.endswith("/") and not os.path.isdir(src)):
                raise _missing(src, "the host")
            src_is_dir = os.path.isdir(src)
            if info is not None and info["isDir"]:
                into, top = path, os.path.basename(os.path.abspath(src)) or "root"
                if src.endswith("/.") and src_is_dir:
                    top = None
            elif info is not None:
                if src_is_dir:
                    raise InvalidArgument(NOT_A_DIR)
                into, top = posixpath.dirname(path.rstrip("/")) or ".", posixpath.basename(path)
            else:
                parent = posixpath.dirname(path.rstrip("/")) or ("/" if path.startswith("/") else ".")
                above = stat(client, name, parent)
                if (path.endswith("/") and not src_is_dir) or above is None or not above["isDir"]:
                    raise _missing(path, where)
                into, top = parent, posixpath.basename(path.rstrip("/"))
            _host_tar(src, f, top, archive)
        f.seek(0)
        query = {"path": into, "copyUIDGID": archive, "nooverwritedirnondir": not overwrite, "pause": pause}
        try:
            client.call("PUT", f"/containers/{_q(name)}/archive", query, body=f, timeout=None)
        except ServiceError as exc:
            raise engine_error(exc, PodpyError) from None


def _between(client: Client, src_ctr: str, src_path: str, dst_ctr: str, dst_path: str, archive: bool,
             overwrite: bool, pause: bool) -> None:
    """One container's path into another's, through this host: the source's tar, its top
    entry renamed here as the copy's name is decided (podman's client does the same)."""
    from ..engine.cp import NOT_A_DIR

    info = stat(client, src_ctr, src_path)
    if info is None:
        raise _missing(src_path, f"container {src_ctr}")
    where = f"container {dst_ctr}"
    dinfo = stat(client, dst_ctr, dst_path)
    if dinfo is not None and dinfo["isDir"]:
        into = dst_path
        top = None if src_path.endswith("/.") and info["isDir"] else posixpath.basename(src_path.rstrip("/")) or "root"
    elif dinfo is not None:
        if info["isDir"]:
            raise InvalidArgument(NOT_A_DIR)
        into, top = posixpath.dirname(dst_path.rstrip("/")) or ".", posixpath.basename(dst_path)
    else:
        parent = posixpath.dirname(dst_path.rstrip("/")) or ("/" if dst_path.startswith("/") else ".")
        above = stat(client, dst_ctr, parent)
        if (dst_path.endswith("/") and not info["isDir"]) or above is None or not above["isDir"]:
            raise _missing(dst_path, where)
        into, top = parent, posixpath.basename(dst_path.rstrip("/"))
    try:
        resp = client.open("GET", f"/containers/{_q(src_ctr)}/archive", {"path": src_path}, timeout=None)
    except ServiceError as exc:
        if exc.status == 404:
            raise _missing(src_path, f"container {src_ctr}") from None
        raise engine_error(exc) from None
    with tempfile.TemporaryFile(prefix="podpy-cp-") as got, tempfile.TemporaryFile(prefix="podpy-cp-") as f:
        try:
            shutil.copyfileobj(resp, got, 1 << 20)
        finally:
            done(resp)
        got.seek(0)
        _renamed(got, f, top, src_path.endswith("/.") and bool(info["isDir"]))
        f.seek(0)
        query = {"path": into, "copyUIDGID": archive, "nooverwritedirnondir": not overwrite, "pause": pause}
        try:
            client.call("PUT", f"/containers/{_q(dst_ctr)}/archive", query, body=f, timeout=None)
        except ServiceError as exc:
            raise engine_error(exc, PodpyError) from None


def _renamed(src: Any, dst: Any, top: Optional[str], contents: bool) -> None:
    """The tar in src written to dst with its top entry named top, or (contents: the tar is a
    directory's content, "PATH/." copied) its entries put under top; top None: the content
    alone, without a top entry."""
    def named(name: str) -> Optional[str]:
        bare = name.lstrip("/").removeprefix("./").rstrip("/")
        if contents:
            if bare in ("", "."):
                return top
            return bare if top is None else f"{top}/{bare}"
        _first, _, rest = bare.partition("/")
        if top is None:
            return rest or None
        return top + ("/" + rest if rest else "")

    with tarfile.open(fileobj=src, mode="r|*") as tin, \
            tarfile.open(fileobj=dst, mode="w", format=tarfile.PAX_FORMAT) as tout:
        made_top = not (contents and top is not None)
        for member in tin:
            name = named(member.name)
            if name is None:
                continue
            if name == top:
                made_top = True
            elif not made_top:   # the directory the content goes into comes first
                folder = tarfile.TarInfo(top)
                folder.type, folder.mode = tarfile.DIRTYPE, 0o755
                tout.addfile(folder)
                made_top = True
            member.name = name
            if member.islnk():   # a hard link names a member of the same tar: renamed alike
                member.linkname = named(member.linkname) or member.linkname
            tout.addfile(member, tin.extractfile(member) if member.isreg() else None)
    dst.flush()


def _host_tar(src: str, f: Any, top: Optional[str], archive: bool) -> None:
    """src as a tar in f: under the name top (or its content, for top None). Without archive,
    ids keep as the container's user namespace sees them (the caller's become its root's,
    anyone else's the overflow id); with it, the service makes them the container user's."""
    uid, gid = os.getuid(), os.getgid()

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if not archive:
            info.uid = 0 if info.uid == uid else 65534
            info.gid = 0 if info.gid == gid else 65534
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tf:
        if top is None:
            for entry in sorted(os.listdir(src)):
                tf.add(os.path.join(src, entry), arcname=entry, filter=owner)
        else:
            tf.add(src, arcname=top, filter=owner)
    f.flush()
