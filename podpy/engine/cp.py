"""`cp`: files between a container (running or not) and the host, or a tar stream (`-`).

The container's side runs in a helper whose "/" is the container's root (rootless/enter.py),
so a symlink or ".." in the container can never lead to the host. The host's side unpacks
with storage's in-root extraction, so an entry the container crafted cannot land outside
the destination either. The two sides meet through a tar in a temporary file of the store.

As docker and podman: `cp SRC DST` copies SRC to DST when DST does not exist, into DST when
it is a directory; `SRC/.` copies the directory's content; files copied into a container
belong to its root unless -a keeps the ids the tar has.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile

from ..errors import InvalidArgument, NoSuchContainer, PodpyError, translate
from ..state import RUNNING
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Optional

    from ..state import ContainerRecord


def _split(rt: Runtime, arg: str) -> tuple[Optional[ContainerRecord], str]:
    """(container, path) for CONTAINER:PATH, (None, path) for a host path or "-"."""
    name, sep, path = arg.partition(":")
    if sep and name and "/" not in name:
        try:
            return rt.state.lookup(name), path or "/"
        except NoSuchContainer:
            if not os.path.exists(arg):
                raise
    return None, arg


# ----------------------------------------------------------- inside the container --

def _tar_out(path: str, arcname: str, fd: int) -> None:
    """Write path (its content for "dir/.") as a tar to fd."""
    if not os.path.lexists(path):
        raise InvalidArgument(f"{path}: no such file or directory in the container")
    with os.fdopen(os.dup(fd), "wb") as out, tarfile.open(fileobj=out, mode="w|",
                                                          format=tarfile.PAX_FORMAT) as tf:
        if path.endswith("/.") and os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                tf.add(os.path.join(path, name), arcname=name)
        else:
            tf.add(path, arcname=arcname)


def _unpack(stream: BinaryIO, dest: str, top: Optional[str], chown: str, where: str) -> None:
    """Unpack a tar into dest when it is a directory (or top is None: a stream of entries);
    otherwise as dest itself: in a staging directory beside it, its top entry renamed to dest."""
    from storage.archive import ApplyOptions, apply_layer

    options = ApplyOptions(whiteout_format="vfs", chown=chown)  # type: ignore[arg-type]
    if os.path.isdir(dest) or top is None or dest.endswith("/"):
        if not os.path.isdir(dest):
            raise InvalidArgument(f"{dest}: no such directory{where}")
        apply_layer(stream, dest, options)
        return
    parent = os.path.dirname(os.path.abspath(dest.rstrip("/"))) or "/"
    if not os.path.isdir(parent):
        raise InvalidArgument(f"{parent}: no such directory{where}")
    stage = os.path.join(parent, f".podpy-cp-{os.getpid()}")
    os.mkdir(stage, 0o700)
    try:
        apply_layer(stream, stage, options)
        os.replace(os.path.join(stage, top), dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _tar_in(fd: int, dest: str, top: Optional[str], keep_ids: bool) -> None:
    """In the container: unpack the tar at fd (see _unpack)."""
    with os.fdopen(os.dup(fd), "rb") as stream:
        _unpack(stream, dest, top, "ignore_errors" if keep_ids else "none", " in the container")


def _in_container(rt: Runtime, rec: ContainerRecord, fn: Any, *args: Any) -> Any:
    from rootless import enter
    from storage import images as img

    if rec.state in (RUNNING, "paused") and rec.pid:
        return enter.in_running(rec.pid, fn, *args)
    image = img.by_id(rt.db.conn, rec.image_id)
    if image is None:
        raise InvalidArgument(f"the image of container {rec.name} is gone")
    return enter.in_stopped(rt.store.rootfs_mount(rec.id, image), fn, *args)


def _container_path(rec: ContainerRecord, path: str) -> str:
    return path if path.startswith("/") else os.path.join(rec.config.workdir or "/", path)


# ------------------------------------------------------------------ the verb --

def cp(rt: Runtime, src: str, dst: str, archive: bool) -> None:
    # Everything the helper runs is imported here: once it has joined the container's mount
    # namespace (or chrooted into its root), the host's Python files are out of its reach.
    import pickle  # noqa: F401
    import storage.archive  # noqa: F401
    import storage.compression  # noqa: F401

    reconcile(rt)
    src_ctr, src_path = _split(rt, src)
    dst_ctr, dst_path = _split(rt, dst)
    if (src_ctr is None) == (dst_ctr is None):
        raise InvalidArgument("`podpy cp` copies between a container and the host: "
                              "give CONTAINER:PATH on exactly one side")
    try:
        with rt.store.temporary("cp") as stage:
            tar = os.path.join(stage.path, "data.tar")
            if src_ctr is not None:
                _from_container(rt, src_ctr, _container_path(src_ctr, src_path), dst_path, tar)
            else:
                assert dst_ctr is not None
                _to_container(rt, dst_ctr, src_path, _container_path(dst_ctr, dst_path), tar, archive)
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _from_container(rt: Runtime, rec: ContainerRecord, path: str, dest: str, tar: str) -> None:
    base = os.path.basename(path.rstrip("/")) or "root"
    fd = os.open(tar, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        _in_container(rt, rec, _tar_out, path, base, fd)
        os.lseek(fd, 0, os.SEEK_SET)
        with os.fdopen(os.dup(fd), "rb") as stream:
            if dest == "-":
                shutil.copyfileobj(stream, sys.stdout.buffer)
                sys.stdout.buffer.flush()
                return
            if path.endswith("/."):
                os.makedirs(dest, exist_ok=True)
            _unpack(stream, dest, base, "none", "")
    finally:
        os.close(fd)


def _to_container(rt: Runtime, rec: ContainerRecord, src: str, dest: str, tar: str, archive: bool) -> None:
    fd = os.open(tar, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        top: Optional[str]
        if src == "-":
            with os.fdopen(os.dup(fd), "wb") as out:
                shutil.copyfileobj(sys.stdin.buffer, out)
            top = None   # a tar stream unpacks into the directory dest
        else:
            if not os.path.lexists(src):
                raise InvalidArgument(f"{src}: no such file or directory")
            top = os.path.basename(os.path.abspath(src)) or "root"

            def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
                if not archive:   # the container's root owns what is copied in
                    info.uid = info.gid = 0
                info.uname = info.gname = ""
                return info

            with os.fdopen(os.dup(fd), "wb") as out, tarfile.open(fileobj=out, mode="w",
                                                                  format=tarfile.PAX_FORMAT) as tf:
                if src.endswith("/.") and os.path.isdir(src):
                    top = None
                    for name in sorted(os.listdir(src)):
                        tf.add(os.path.join(src, name), arcname=name, filter=owner)
                else:
                    tf.add(src, arcname=top, filter=owner)
        os.lseek(fd, 0, os.SEEK_SET)
        _in_container(rt, rec, _tar_in, fd, dest, top, True)
    finally:
        os.close(fd)
