"""What a build does with its image besides naming it: -o/--output (the final stage's file
system written to a directory or a tar file) and --manifest (the image added to a list)."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tarfile
from typing import Any, Optional

from storage.images import Image

from ..engine.context import Runtime
from ..errors import InvalidArgument, NoSuchImage
from .flags import Output


def check_output(out: Output) -> None:
    """Before the build: the destination can be written."""
    if out.dest == "-":
        if out.kind != "tar":
            raise InvalidArgument("--output -: only a tar can go to stdout")
        return
    parent = os.path.dirname(os.path.abspath(out.dest))
    if not os.path.isdir(parent):
        raise InvalidArgument(f"--output {out.dest}: the directory {parent} does not exist")
    if out.kind == "local" and os.path.exists(out.dest) and not os.path.isdir(out.dest):
        raise InvalidArgument(f"--output {out.dest}: not a directory")
    if out.kind == "tar" and os.path.isdir(out.dest):
        raise InvalidArgument(f"--output type=tar,dest={out.dest}: a directory, not a file")


def write_output(rt: Runtime, image: Image, out: Output) -> None:
    """The image's file system as the user's own files in a directory (merged into what is
    there), or as a tar (the image's owners and modes kept)."""
    from .working import image_view, in_mount_ns

    with rt.store.temporary("build-output") as stage:
        target = os.path.join(stage.path, "view")
        os.mkdir(target)
        view = image_view(rt, list(image.layers), target)
        if out.kind == "local":
            dest = os.path.abspath(out.dest)
            os.makedirs(dest, exist_ok=True)
            in_mount_ns(rt, _to_dir, view, dest)
        else:
            sys.stdout.flush()
            in_mount_ns(rt, _to_tar, view, "-" if out.dest == "-" else os.path.abspath(out.dest))


def _mount(view: dict[str, Any]) -> None:
    from rootless import syscalls as S

    from .working import mount_view

    sc = S.default()
    sc.mount(None, "/", None, S.MS_REC | S.MS_PRIVATE)
    mount_view(sc, view)


def _to_dir(view: dict[str, Any], dest: str) -> None:
    """In the user namespace: copy the tree; what is made belongs to the namespace's root,
    which is the user (device nodes, which it cannot make, are left out, as buildah does)."""
    _mount(view)
    src = view["target"]
    if view.get("source") is None and view["type"] == "bind":
        return    # an image without layers
    for top, dirs, files in os.walk(src):
        rel = os.path.relpath(top, src)
        here = dest if rel == "." else os.path.join(dest, rel)
        for name in dirs + files:
            s = os.path.join(top, name)
            d = os.path.join(here, name)
            st = os.lstat(s)
            if stat.S_ISDIR(st.st_mode):
                if os.path.lexists(d) and not os.path.isdir(d):
                    os.unlink(d)
                os.makedirs(d, exist_ok=True)
                os.chmod(d, stat.S_IMODE(st.st_mode) | 0o700)
                continue
            if os.path.lexists(d):
                if os.path.isdir(d) and not os.path.islink(d):
                    shutil.rmtree(d)
                else:
                    os.unlink(d)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(s), d)
            elif stat.S_ISREG(st.st_mode):
                shutil.copyfile(s, d, follow_symlinks=False)
                os.chmod(d, stat.S_IMODE(st.st_mode))
                os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
        dirs[:] = [n for n in dirs if not os.path.islink(os.path.join(top, n))]


def _to_tar(view: dict[str, Any], path: str) -> None:
    from storage.export import write_tar

    _mount(view)
    sink = os.fdopen(os.dup(1), "wb") if path == "-" else open(path, "wb")
    with sink as f, tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        if view.get("source") is None and view["type"] == "bind":
            return
        write_tar(view["target"], tf, None)


def check_manifest(rt: Runtime, name: Optional[str]) -> None:
    """Before the build: --manifest names a list, or nothing yet (an image is an error)."""
    if not name:
        return
    from ..engine.manifests import ManifestEngine

    try:
        ManifestEngine(rt).exists(name)
    except NoSuchImage:
        return
    except InvalidArgument:
        raise
    except Exception as exc:  # noqa: BLE001 - an image that is not a list
        raise InvalidArgument(f"--manifest {name}: {exc}") from None


def add_to_manifest(rt: Runtime, name: str, image: Image) -> None:
    """--manifest: the image added to the list, which is made when there is none."""
    from ..engine.manifestadd import AddOptions
    from ..engine.manifests import ManifestEngine

    engine = ManifestEngine(rt)
    if engine.exists(name):
        engine.add(name, image.id, AddOptions())
    else:
        engine.create(name, [image.id], AddOptions())
