"""`save` and `load`: images to and from archives and layout directories, and `export`.

The layouts themselves are read in sources.py and written in destinations.py; this module
holds what `save` and `load` decide: which images, which names, which format and compression.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from typing import Any, Callable, Optional

from storage import reference
from storage.images import Image

from ..errors import InvalidArgument, PodpyError, translate
from .context import Runtime
from .entities import LoadReport, SaveOptions
from .imagestore import lookup
from .reconcile import reconcile

FORMATS = ("docker-archive", "oci-archive", "oci-dir", "docker-dir")
TAR_FORMATS = ("docker-archive", "oci-archive")

Report = Callable[[str], None]


# ---------------------------------------------------------------- save --


def check_save(o: SaveOptions) -> None:
    """podman's checks of save's flags, before anything is looked up or written."""
    if o.format not in FORMATS:
        raise InvalidArgument(f"unsupported format {o.format!r} for saving images: use docker-archive, "
                              "oci-archive, oci-dir or docker-dir")
    if not o.names:
        raise InvalidArgument("`podpy save` requires at least one image name")
    if o.compress and o.format != "docker-dir":
        raise InvalidArgument("--compress can only be set when --format is 'docker-dir'")
    if o.multi_image and len(o.names) > 1 and o.format != "docker-archive":
        raise InvalidArgument(f'unsupported format "{o.format}" for saving multiple images (only docker-archive)')
    if o.format not in TAR_FORMATS and o.output in (None, "-"):
        raise InvalidArgument(f"--format {o.format} writes a directory: name it with -o/--output")


def save(rt: Runtime, o: SaveOptions, report: Report) -> None:
    """Write the images named to o.output (None or "-": stdout) in o.format."""
    from . import destinations as dst

    check_save(o)
    to_stdout = o.output in (None, "-")
    if to_stdout is False and o.format in TAR_FORMATS and os.path.isdir(str(o.output)):
        raise InvalidArgument(f"cannot save to {o.output}: is a directory")
    if o.multi_image:
        wanted = [(lookup(rt, n), n) for n in o.names]
        extra: list[str] = []
    else:
        # podman takes the names after the first as more tags of the first image
        wanted = [(lookup(rt, o.names[0]), o.names[0])]
        try:
            extra = [reference.normalize_local(n) for n in o.names[1:]]
        except Exception as exc:  # noqa: BLE001
            raise translate(exc) from exc
    if o.format in ("oci-archive", "oci-dir"):
        compression = "none" if o.uncompressed else "gzip"
    else:
        compression = "gzip" if o.compress else "none"
    for image, name in wanted:
        if not image.layers:
            from .manifeststore import is_list

            if is_list(rt, image):
                raise InvalidArgument(f"{name} is a manifest list: save the images in it "
                                      "(`podpy manifest inspect` names them), or push the list")
    named = []
    for image, name in wanted:
        tags = _tags_for(image, name, rt.cfg.short_names)
        every = list(dict.fromkeys(extra + tags)) if o.format == "docker-archive" else tags
        named.append((image, every, tags[0] if tags else None))
    reconcile(rt)
    try:
        with rt.store.temporary("save") as stage:
            entries = dst.export(rt, stage, named, compression, report)
            if o.format == "oci-dir":
                dst.write_oci_dir(str(o.output), entries)
            elif o.format == "docker-dir":
                dst.write_docker_dir(str(o.output), entries[0])
            elif to_stdout:
                # Stream mode: stdout may be a pipe, which cannot seek.
                with os.fdopen(os.dup(1), "wb") as out:
                    dst.write_tar(out, "w|", entries, o.format)
            else:
                # Its temporary file is outside the store: noted here, so that a killed save's
                # is removed by the next command (storage.intents).
                from storage import intents
                from storage.fsutil import atomic_tmp

                intents.write(stage.path, "files", [], files=[atomic_tmp(os.path.abspath(str(o.output)))])
                dst.write_tar_file(str(o.output), entries, o.format)
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _tags_for(image: Image, name: str, names: reference.ShortNames) -> list[str]:
    """The name the user asked for, as stored; an id saves with no tag (as podman does)."""
    try:
        cands = reference.candidates(name, names)
    except Exception:  # noqa: BLE001 - an id or id prefix is no reference
        return []
    return [c for c in cands if c in image.names and "@" not in c][:1]


# ---------------------------------------------------------------- load --


def load(rt: Runtime, input: Optional[str], report: Report) -> list[LoadReport]:
    """Load every image of a docker-archive or oci-archive (a file, or None or "-": stdin),
    or of an OCI layout or `dir:` directory."""
    reconcile(rt)
    try:
        if input not in (None, "-"):
            if not os.path.exists(input):
                raise InvalidArgument(f"cannot load {input}: no such file or directory")
            return _load_path(rt, input, report)
        # A tar is read by member name, out of order: stdin must land in a file first.
        with rt.store.temporary("load") as stage:
            path = os.path.join(stage.path, "archive.tar")
            with os.fdopen(os.dup(0), "rb") as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return _load_path(rt, path, report)
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _load_path(rt: Runtime, path: str, report: Report) -> list[LoadReport]:
    from . import sources

    with sources.Files(path) as files:
        kind = sources.kind_of(files)
        todo = sources.load_all(files)
        images = sources.apply(rt, todo, report)
    out = []
    for image, found in zip(images, todo):
        # podman tells an OCI directory's image by the name it made of the path, before its tag
        names = [n.removesuffix(":latest") for n in found.names] if kind == "oci" else list(found.names)
        out.append(LoadReport(image=image, names=names))
    return out


# -------------------------------------------------------------- export --


def export_container(rt: Runtime, name: str, output: Optional[str]) -> None:
    """`export`: the container's file system (image layers plus its changes) as one tar, to
    output (None or "-": stdout). Works on a running container too: its writable layer is
    mounted read-only, as the top lower layer of a private overlay."""
    from storage import images as img

    to_stdout = output in (None, "-")
    if not to_stdout and output and os.path.isdir(output):
        raise InvalidArgument(f"cannot export to {output}: is a directory")
    reconcile(rt)
    rec = rt.state.lookup(name)
    if rec.config.rootfs:
        raise InvalidArgument(f"container {rec.name} runs the directory {rec.config.rootfs} (--rootfs), not an image: "
                    "export needs a container of an image")
    image = img.by_id(rt.db.conn, rec.image_id)
    if image is None:
        raise InvalidArgument(f"the image of container {rec.name} ({rec.image_id[:12]}) is gone")
    try:
        with rt.store.temporary("export") as stage:
            target = os.path.join(stage.path, "rootfs")
            os.mkdir(target, 0o700)
            desc = rt.store.rootfs_view(rec.id, image, target)
            if to_stdout:
                _export_to_fd(desc, 1, rt)
            elif os.path.exists(output) and not stat.S_ISREG(os.stat(output).st_mode):
                # a pipe or a device (/dev/stdout, the API service's pipe): written as it is
                with open(output, "wb") as f:
                    _export_to_fd(desc, f.fileno(), rt)
            else:
                from storage.fsutil import atomic_file

                assert output is not None
                with atomic_file(output) as f:
                    _export_to_fd(desc, f.fileno(), rt)
                    from .removal import not_removed_during

                    not_removed_during(rt, rec, "it was exported: nothing was written")
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _export_to_fd(desc: dict[str, Any], fd: int, rt: Runtime) -> None:
    from rootless import syscalls
    from rootless.inuserns import run_in_userns

    run_in_userns(_tar_mounted_rootfs, desc, fd, mappings=rt.userns_mappings, extra_flags=syscalls.CLONE_NEWNS)


def _tar_mounted_rootfs(desc: dict[str, Any], fd: int) -> None:
    """In a user and mount namespace of our own: mount the view, tar it to fd."""
    import signal

    from rootless import syscalls
    from rootless.mounts import mount_rootfs
    from storage.export import write_tar

    sc = syscalls.default()
    sc.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    fuse_pid = mount_rootfs(sc, desc)
    try:
        with os.fdopen(os.dup(fd), "wb") as out:
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                write_tar(desc["target"], tf)
    finally:
        if fuse_pid:
            sc.umount2(desc["target"], syscalls.MNT_DETACH)
            os.kill(fuse_pid, signal.SIGTERM)
            os.waitpid(fuse_pid, 0)
