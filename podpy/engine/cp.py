"""`cp`: files between a container (running or not) and the host, or a tar stream (`-`).

The container's side runs in a helper whose "/" is the container's root (rootless/enter.py),
so a symlink or ".." in the container can never lead to the host. The host's side unpacks
with storage's in-root extraction, so an entry the container crafted cannot land outside
the destination either. The two sides meet through a tar in a temporary file of the store.

As docker and podman: `cp SRC DST` copies SRC to DST when DST does not exist, into DST when
it is a directory; `SRC/.` copies the directory's content; files copied into a container
belong to the container's user (`--archive`, the default), or keep the ids they have
(`--archive=false`: the caller's files become the container's root's). Between two
containers the tar of the one is unpacked into the other. As podman: no glob is expanded, a
directory never replaces a file nor a file a directory unless `--overwrite`, a directory is
never copied onto a file, and a tar on stdin unpacks into a directory only.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tarfile

from storage.errors import no_space

from ..errors import InvalidArgument, NoSuchContainer, PodpyError, translate
from ..state import RUNNING
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

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


def _missing(path: str, where: str) -> InvalidArgument:
    return InvalidArgument(f'"{path}" could not be found on {where}: no such file or directory')


NOT_A_DIR = "destination must be a directory when copying a directory"
STDIN_NOT_TAR = "source must be a (compressed) tar archive when copying from stdin"
STDIN_NOT_DIR = "destination must be a directory when copying from stdin"


# ----------------------------------------------------------- inside the container --

def _tar_out(path: str, arcname: str, fd: int, where: str, follow: bool = False) -> tuple[bool, str]:
    """Write path (its content for "dir/.") as a tar to fd: (whether it is a directory, the
    name its top entry has). follow: a symlink at path is followed, as podman's cp follows it
    (the target is copied, under the target's name; a link to nothing is missing); `/` here is
    the container's root, so the link cannot lead out of it."""
    if follow and not path.endswith("/.") and os.path.islink(path.rstrip("/")):
        real = os.path.realpath(path)
        if not os.path.exists(real):
            raise _missing(path, where)
        path, arcname = real, (arcname if arcname == "." else os.path.basename(real) or "root")
    if not os.path.lexists(path.rstrip("/") if path != "/" else path) or (
            path.endswith("/") and not os.path.isdir(path)):
        raise _missing(path, where)
    with os.fdopen(os.dup(fd), "wb") as out, tarfile.open(fileobj=out, mode="w|",
                                                          format=tarfile.PAX_FORMAT) as tf:
        if path.endswith("/.") and os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                tf.add(os.path.join(path, name), arcname=name)
        else:
            tf.add(path, arcname=arcname)
    return os.path.isdir(path), arcname


def _resolve_user(spec: str) -> tuple[int, int]:
    """The container's user (USER[:GROUP], names or ids) as ids, read in its /etc."""
    user, _sep, group = (spec or "0").partition(":")

    def table(path: str) -> list[list[str]]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return [line.rstrip("\n").split(":") for line in f if line.count(":") >= 2]
        except OSError:
            return []

    uid, gid = 0, 0
    if user.isdigit():
        uid = int(user)
        row = next((r for r in table("/etc/passwd") if len(r) > 3 and r[2] == user), None)
        gid = int(row[3]) if row and row[3].isdigit() else 0
    else:
        row = next((r for r in table("/etc/passwd") if r[0] == user and len(r) > 3), None)
        if row is not None and row[2].isdigit():
            uid, gid = int(row[2]), int(row[3]) if row[3].isdigit() else 0
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            grow = next((r for r in table("/etc/group") if r[0] == group), None)
            if grow is not None and grow[2].isdigit():
                gid = int(grow[2])
    return uid, gid


def _clash(members: list[tarfile.TarInfo], dest: str, overwrite: bool) -> None:
    """Refuse (or, with overwrite, clear) a directory about to replace a non-directory or a
    non-directory a directory, as podman's copier does."""
    root = os.path.realpath(dest)
    for m in members:
        parts = [x for x in m.name.split("/") if x not in ("", ".")]
        if not parts or ".." in parts:
            continue   # apply_layer places (or refuses) it in-root; nothing here is cleared for it
        target = os.path.join(dest, *parts)
        if os.path.realpath(os.path.dirname(target)) != os.path.join(root, *parts[:-1]).rstrip("/") \
                and len(parts) > 1:
            continue   # below a symlink: never cleared through it
        try:
            st = os.lstat(target)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) == m.isdir():
            continue
        if not overwrite:
            raise InvalidArgument(f'error creating "{target}": file exists')
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(target)
        else:
            os.unlink(target)


def _unpack(stream_fd: int, dest: str, top: Optional[str], owner: Optional[tuple[int, int]],
            overwrite: bool, where: str, src_is_dir: bool) -> None:
    """Unpack the tar at stream_fd (seekable) into dest when it is a directory (or top is
    None: a stream of entries); otherwise as dest itself: in a staging directory beside it,
    its top entry renamed to dest. owner: the ids everything unpacked gets, else the tar's."""
    from storage.archive import ApplyOptions, apply_layer

    with os.fdopen(os.dup(stream_fd), "rb") as f:
        f.seek(0)
        members = tarfile.open(fileobj=f, mode="r:*").getmembers()
    chown = "none" if where == "the host" else "ignore_errors"   # the host's files are the caller's
    options = ApplyOptions(whiteout_format="vfs", chown=chown)  # type: ignore[arg-type]

    def apply(into: str, names: list[tarfile.TarInfo]) -> None:
        with os.fdopen(os.dup(stream_fd), "rb") as stream:
            stream.seek(0)
            apply_layer(stream, into, options)
        if owner is not None:
            for m in names:
                try:
                    os.lchown(os.path.join(into, m.name.lstrip("/")), *owner)
                except OSError:
                    pass

    if os.path.islink(dest) and not dest.endswith("/"):
        # a symlink as the destination is written through, as podman's cp does (in a
        # container, `/` is its root: the link stays in it)
        dest = os.path.realpath(dest)
    stdin = top is None and not src_is_dir
    if not os.path.isdir(dest) and stdin:
        raise InvalidArgument(STDIN_NOT_DIR)
    if os.path.lexists(dest) and not os.path.isdir(dest) and src_is_dir:
        raise InvalidArgument(NOT_A_DIR)
    if top is None and not os.path.lexists(dest) and os.path.isdir(os.path.dirname(dest.rstrip("/")) or "/"):
        os.mkdir(dest)   # "dir/." onto a new directory
    if os.path.isdir(dest) or top is None:
        if not os.path.isdir(dest):
            raise _missing(dest, where)
        _clash(members, dest, overwrite)
        apply(dest, members)
        return
    parent = os.path.dirname(os.path.abspath(dest.rstrip("/"))) or "/"
    if not os.path.isdir(parent) or dest.endswith("/"):
        raise _missing(dest, where)
    stage = os.path.join(parent, f".podpy-cp-{os.getpid()}")
    os.mkdir(stage, 0o700)
    try:
        apply(stage, members)
        os.replace(os.path.join(stage, top), dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _tar_in(fd: int, dest: str, top: Optional[str], user: Optional[str], overwrite: bool, where: str,
            src_is_dir: bool) -> None:
    """In the container: unpack the tar at fd (see _unpack), owned by user (the container's
    USER[:GROUP]) unless None."""
    owner = _resolve_user(user) if user is not None else None
    _unpack(fd, dest, top, owner, overwrite, where, src_is_dir)


def _in_container(rt: Runtime, rec: ContainerRecord, fn: Any, *args: Any) -> Any:
    from rootless import enter
    from storage import images as img

    if rec.state in (RUNNING, "paused") and rec.pid:
        return enter.in_running(rec.pid, fn, *args)
    if rec.config.rootfs:
        raise InvalidArgument(f"container {rec.name} runs the directory {rec.config.rootfs} (--rootfs), not an image: "
                    "cp needs a container of an image")
    image = img.by_id(rt.db.conn, rec.image_id)
    if image is None:
        raise InvalidArgument(f"the image of container {rec.name} is gone")
    # its volumes and bind mounts, as a start makes them (podpy's own options, which fill or
    # chown a volume at a start, left out); its tmpfs mounts exist only while it runs
    binds = [dict(m, options=[o for o in m.get("options") or [] if not o.startswith("podpy.")])
             for m in rec.config.mounts
             if not m.get("namespace") and (m.get("type") == "bind" or "bind" in (m.get("options") or [])
                                            or "rbind" in (m.get("options") or []))]
    return enter.in_stopped(rt.store.rootfs_mount(rec.id, image), fn, *args, binds=binds)


def _container_path(rec: ContainerRecord, path: str) -> str:
    return path if path.startswith("/") else os.path.join(rec.config.workdir or "/", path)


# ------------------------------------------------------------------ the verb --

def cp(rt: Runtime, src: str, dst: str, archive: bool = True, overwrite: bool = False,
       pause: bool = True) -> None:
    """Copy src to dst (see the module's docstring); pause: freeze each running container
    (once, when it is both sides) for the copy, as podman does."""
    from .lifecycle import pause as do_pause
    from .lifecycle import unpause

    # Everything the helper runs is imported here: once it has joined the container's mount
    # namespace (or chrooted into its root), the host's Python files are out of its reach.
    import pickle  # noqa: F401
    import storage.archive  # noqa: F401
    import storage.compression  # noqa: F401

    reconcile(rt)
    src_ctr, src_path = _split(rt, src)
    dst_ctr, dst_path = _split(rt, dst)
    if src_ctr is None and dst_ctr is None:
        raise InvalidArgument("`podpy cp` copies from or to a container: "
                              "give CONTAINER:PATH on at least one side")
    paused: list[str] = []
    try:
        for rec in (src_ctr, dst_ctr):
            if pause and rec is not None and rec.state == RUNNING and rec.cgroup and rec.id not in paused:
                do_pause(rt, rec.id)
                paused.append(rec.id)
        _copy(rt, src, src_ctr, src_path, dst_ctr, dst_path, archive, overwrite)
    finally:
        for cid in paused:
            unpause(rt, cid)


def _copy(rt: Runtime, src: str, src_ctr: Optional[ContainerRecord], src_path: str,
          dst_ctr: Optional[ContainerRecord], dst_path: str, archive: bool, overwrite: bool) -> None:
    try:
        with rt.store.temporary("cp") as stage:
            tar = os.path.join(stage.path, "data.tar")
            fd = os.open(tar, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                top: Optional[str]
                if src_ctr is not None:
                    path = _container_path(src_ctr, src_path)
                    top = None if path.endswith("/.") else os.path.basename(path.rstrip("/")) or "root"
                    src_is_dir, named = _in_container(rt, src_ctr, _tar_out, path, top or ".", fd,
                                                      f"container {src_ctr.name}", True)
                    top = None if top is None else named
                elif src == "-":
                    top, src_is_dir = None, False
                    _stdin_tar(fd)
                else:
                    top, src_is_dir = _host_tar(src_path, fd, archive)
                if dst_ctr is None:
                    if dst_path == "-":
                        os.lseek(fd, 0, os.SEEK_SET)
                        with os.fdopen(os.dup(fd), "rb") as stream:
                            shutil.copyfileobj(stream, sys.stdout.buffer)
                        sys.stdout.buffer.flush()
                        return
                    _unpack(fd, dst_path, top, None, overwrite, "the host", src_is_dir)
                    return
                user = (dst_ctr.config.user or "0") if archive else None
                _in_container(rt, dst_ctr, _tar_in, fd, _container_path(dst_ctr, dst_path), top, user,
                              overwrite, f"container {dst_ctr.name}", src_is_dir)
            finally:
                os.close(fd)
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        where = f"container {dst_ctr.name}:{dst_path}" if dst_ctr is not None else dst_path
        raise translate(no_space(exc, f"copying {src} to {where}") or exc) from exc


def _stdin_tar(fd: int) -> None:
    """stdin into fd, checked to be a (compressed) tar."""
    with os.fdopen(os.dup(fd), "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out)
    with os.fdopen(os.dup(fd), "rb") as f:
        f.seek(0)
        try:
            with tarfile.open(fileobj=f, mode="r:*") as tf:
                tf.getmembers()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidArgument(STDIN_NOT_TAR) from exc


def _host_tar(src: str, fd: int, archive: bool) -> tuple[Optional[str], bool]:
    """src of the host as a tar in fd: (its top entry, or None for "dir/.", whether a directory).
    Without archive, ids keep as the container's user namespace sees them: the caller's
    become its root's, anyone else's the overflow id."""
    if not os.path.lexists(src) or (src.endswith("/") and not os.path.isdir(src)):
        raise _missing(src, "the host")
    if not src.endswith("/.") and os.path.islink(src.rstrip("/")):   # followed, as podman's cp follows it
        real = os.path.realpath(src)
        if not os.path.exists(real):
            raise _missing(src, "the host")
        src = real
    top: Optional[str] = os.path.basename(os.path.abspath(src)) or "root"
    uid, gid = os.getuid(), os.getgid()

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = 0 if info.uid == uid else 65534
        info.gid = 0 if info.gid == gid else 65534
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
    return top, os.path.isdir(src)


# ---------------------------------------------- the API's archive (docker's cp) --

def _stat(path: str, where: str) -> dict[str, Any]:
    """In the container: what docker's X-Docker-Container-Path-Stat says of path (its mode
    in Go's FileMode bits: the permissions, 1<<31 a directory, 1<<27 a symlink)."""
    if not os.path.lexists(path.rstrip("/") or "/"):
        raise _missing(path, where)
    st = os.lstat(path.rstrip("/") or "/")
    mode = stat.S_IMODE(st.st_mode)
    link = ""
    if stat.S_ISDIR(st.st_mode):
        mode |= 1 << 31
    elif stat.S_ISLNK(st.st_mode):
        mode |= 1 << 27
        link = os.readlink(path.rstrip("/"))
    return {"name": os.path.basename(path.rstrip("/")) or "/", "size": st.st_size, "mode": mode,
            "mtime": st.st_mtime, "linkTarget": link}


def path_stat(rt: Runtime, name: str, path: str) -> dict[str, Any]:
    """A path of the container (running or not), as docker's archive HEAD reports it."""
    import pickle  # noqa: F401 - imported before the helper leaves the host's files behind

    reconcile(rt)
    rec = rt.state.lookup(name)
    return _in_container(rt, rec, _stat, _container_path(rec, path), f"container {rec.name}")


def archive_out(rt: Runtime, name: str, path: str, fd: int) -> dict[str, Any]:
    """The container's path as a tar written to fd (docker's GET archive: the entry named
    after the path's last part; "dir/." its content); the path's stat."""
    import pickle  # noqa: F401
    import storage.archive  # noqa: F401

    reconcile(rt)
    rec = rt.state.lookup(name)
    full = _container_path(rec, path)
    info = _in_container(rt, rec, _stat, full, f"container {rec.name}")
    top = "." if full.endswith("/.") else os.path.basename(full.rstrip("/")) or "/"
    _in_container(rt, rec, _tar_out, full, top, fd, f"container {rec.name}")
    return info


def archive_in(rt: Runtime, name: str, path: str, tar_fd: int, overwrite: bool, owner: str = "tar") -> None:
    """Unpack the tar at tar_fd (a seekable file) into the container's directory path (docker's
    PUT archive), owned as its entries say (owner "tar"), by the container's user ("user", as
    libpod's and Docker's copyUIDGID ask) or by the container's root ("root", Docker's
    default); overwrite: a directory may replace a non-directory and the reverse (docker's
    noOverwriteDirNonDir=false)."""
    import pickle  # noqa: F401
    import storage.archive  # noqa: F401
    import storage.compression  # noqa: F401

    reconcile(rt)
    rec = rt.state.lookup(name)
    try:
        with os.fdopen(os.dup(tar_fd), "rb") as f:
            f.seek(0)
            with tarfile.open(fileobj=f, mode="r:*") as tf:
                tf.getmembers()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidArgument(STDIN_NOT_TAR) from exc
    try:
        _in_container(rt, rec, _tar_in, tar_fd, _container_path(rec, path), None,
                      {"user": rec.config.user or "0", "root": "0:0"}.get(owner), overwrite, f"container {rec.name}",
                      False)
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
