"""`commit` and `diff`: a container's changes to its image, as a new image or as a list.

The changes are the container's writable layer: the overlay drivers keep it as a
diff (with overlay whiteouts), the copying driver as a whole tree that is compared
with the image's top layer. Either way storage/export.py writes them as an OCI layer
tar (in the user namespace, where every file can be read), which `commit` applies as a
new layer on top of the image's and `diff` reads.
"""

from __future__ import annotations

import os
import tarfile
import time

from storage import images as img
from storage import reference
from storage.errors import no_space

from ..errors import InvalidArgument, InvalidState, PodpyError, translate
from ..state import RUNNING
from .context import Runtime
from .reconcile import reconcile
from .removal import not_removed_during

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from storage.images import Image

    from ..state import ContainerRecord

# files the runtime puts in place for every container: not part of what it changed
_RUNTIME_FILES = {"etc/hostname", "etc/hosts", "etc/resolv.conf", "run/podman-init", "run/.containerenv"}


def _changes_tar(rt: Runtime, rec: ContainerRecord, image: Image, path: str) -> None:
    from .layerexport import export_in_ns as _export_in_ns

    cdir = rt.store.container_dir(rec.id)
    if rt.store.driver.full_tree_layers:
        dirs = (os.path.join(cdir, "rootfs"), rt.store.layer_dir(image.layers[-1]) if image.layers else None)
    else:
        dirs = (os.path.join(cdir, "diff"), None)
    rt.store.in_userns(_export_in_ns, dirs, path, "none")


def _container(rt: Runtime, name: str) -> tuple[ContainerRecord, Image]:
    reconcile(rt)
    rec = rt.state.lookup(name)
    if rec.config.rootfs:
        raise InvalidState(f"container {rec.name} runs the directory {rec.config.rootfs} (--rootfs), not an image: "
                    "commit and diff need a container of an image")
    image = img.by_id(rt.db.conn, rec.image_id)
    if image is None:
        raise InvalidState(f"the image of container {rec.name} ({rec.image_id[:12]}) is gone")
    return rec, image


def _members(path: str) -> list[tarfile.TarInfo]:
    with tarfile.open(path, "r:") as tf:
        return [m for m in tf.getmembers() if m.name.lstrip("./") not in _RUNTIME_FILES]


def diff(rt: Runtime, name: str) -> list[tuple[str, str]]:
    """(kind, path) of each change, podman's way: A added, C changed, D deleted; the
    directories that hold a change count as changed; the paths a start makes (mount points,
    runtime files: imagediff.INIT_PATHS) are left out, whatever happened to them."""
    from storage import view

    rec, image = _container(rt, name)
    layers = rt.store.layer_dirs(image)
    out: dict[str, str] = {}
    with rt.store.temporary("diff") as stage:
        tar = os.path.join(stage.path, "changes.tar")
        _changes_tar(rt, rec, image, tar)
        not_removed_during(rt, rec, "its changes were read")
        for m in _members(tar):
            rel = m.name.lstrip("./").rstrip("/")
            base = os.path.basename(rel)
            parent = os.path.dirname(rel)
            if base == ".wh..wh..opq":
                out["/" + parent] = "C"
                continue
            if base.startswith(".wh."):
                out["/" + os.path.join(parent, base[4:])] = "D"
            else:
                existed = view.resolve(layers, "/" + rel) is not None
                out.setdefault("/" + rel, "C" if existed else "A")
            while parent:
                out.setdefault("/" + parent, "C")
                parent = os.path.dirname(parent)
    from .imagediff import INIT_PATHS

    return sorted(((kind, p) for p, kind in out.items() if p not in INIT_PATHS), key=lambda x: x[1])


def tree_size(paths: list[str]) -> list[int]:
    """podman's size of each tree (containers/storage's): every entry but directories, at its
    lstat size (a symlink's is its target's length), a file linked several times once. Run in
    the user namespace: the trees hold directories only container ids may enter."""
    sizes = []
    for top in paths:
        seen: set[tuple[int, int]] = set()
        total = 0
        for parent, dirs, files in os.walk(top):
            for name in files + [d for d in dirs if os.path.islink(os.path.join(parent, d))]:
                try:
                    st = os.lstat(os.path.join(parent, name))
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
        sizes.append(total)
    return sizes


def sizes(rt: Runtime, rec: ContainerRecord) -> tuple[int, int]:
    """`inspect --size`: (SizeRw, what the container changed; SizeRootFs, its image's layers
    without them), as podman counts them. A driver whose layers are whole trees has no diff
    directory: the changes are counted from the tar `diff` reads, the image as its top tree."""
    image = img.by_id(rt.db.conn, rec.image_id)
    layers = rt.store.layer_dirs(image) if image is not None else []
    cdir = rt.store.container_dir(rec.id)
    if not rt.store.driver.full_tree_layers:
        rw, *parts = rt.store.in_userns(tree_size, [os.path.join(cdir, "diff"), *layers])
        return rw, sum(parts)
    (root,) = rt.store.in_userns(tree_size, layers[-1:]) if layers else (0,)
    if image is None:
        return 0, root
    with rt.store.temporary("size") as stage:
        tar = os.path.join(stage.path, "changes.tar")
        _changes_tar(rt, rec, image, tar)
        with tarfile.open(tar, "r:") as tf:
            rw = sum(m.size if m.isreg() else len(m.linkname) if m.issym() else 0 for m in tf.getmembers())
    return rw, root


def commit(rt: Runtime, name: str, target: Optional[str], changes: list[str], message: str, author: str,
           pause: bool, include_volumes: bool = False, squash: bool = False) -> Image:
    """A new image: the container's image plus its changes as one more layer (with squash, the
    whole file system as its only layer and history entry), with the container's
    configuration (command, environment, ...) and the --change instructions. Its anonymous
    volumes stay VOLUMEs of the image, as podman keeps them; with include_volumes, the
    destinations of its named volumes and bind mounts too."""
    from .lifecycle import pause as do_pause
    from .lifecycle import unpause
    from .imagestore import apply_changes, apply_options
    from ..formats import rfc3339

    rec, image = _container(rt, name)
    new_name = reference.normalize_local(target) if target else None
    cfg = rec.config
    base = dict(image.config)
    icfg = dict(base.get("config") or {})
    icfg.update({
        "Env": [e for e in cfg.env if not e.startswith("HOSTNAME=")],
        "Cmd": cfg.command or None,
        "Entrypoint": cfg.entrypoint or None,
        "WorkingDir": cfg.workdir if cfg.workdir != "/" else "",
        "User": cfg.user,
        "Labels": cfg.labels or None,
        "StopSignal": cfg.stop_signal if cfg.stop_signal != "SIGTERM" else icfg.get("StopSignal"),
    })
    volumes = dict(icfg.get("Volumes") or {})
    for m in cfg.mounts:
        if (m.get("volume") and m.get("anonymous")) or (include_volumes and (m.get("volume")
                                                                             or m.get("type", "bind") == "bind")):
            volumes[m["destination"]] = {}
    icfg["Volumes"] = volumes or None
    icfg = {k: v for k, v in icfg.items() if v not in (None, "", [])}
    apply_changes(changes, icfg)
    paused = False
    try:
        if pause and rec.state == RUNNING and rec.cgroup:
            do_pause(rt, rec.id)
            paused = True
        with rt.store.temporary("commit") as stage:
            tar = os.path.join(stage.path, "changes.tar")
            try:
                if squash:
                    from .archive_io import export_container

                    export_container(rt, rec.id, tar)
                else:
                    _changes_tar(rt, rec, image, tar)
            except Exception as exc:  # noqa: BLE001
                not_removed_during(rt, rec, "it was committed: nothing was committed")
                if isinstance(exc, OSError):
                    raise no_space(exc, f"writing the changes of container {rec.name} to {tar}") or exc from None
                raise
            not_removed_during(rt, rec, "it was committed: nothing was committed")
            parent = image.layers[-1] if image.layers and not squash else None
            layer_id, result = rt.store.apply_layer(tar, parent, apply_options(rt))
        now = rfc3339(time.time())
        rootfs = dict(base.get("rootfs") or {"type": "layers", "diff_ids": []})
        rootfs["diff_ids"] = ([] if squash else list(rootfs.get("diff_ids") or [])) + [result.diff_id]
        entry: dict[str, Any] = {"created": now, "created_by": "podpy commit " + " ".join(cfg.entrypoint
                                                                                       + cfg.command)}
        if message:
            entry["comment"] = message
        if author:
            entry["author"] = author
        config = {**base, "created": now, "config": icfg, "rootfs": rootfs,
                  "history": ([] if squash else list(base.get("history") or [])) + [entry]}
        if author:
            config["author"] = author
        config.pop("container_config", None)
        layers = [layer_id] if squash else list(image.layers) + [layer_id]
        return rt.store.create_image(config, layers, [new_name] if new_name else [])
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    finally:
        if paused:
            unpause(rt, rec.id)


def check_target(target: Optional[str]) -> None:
    if target:
        try:
            reference.normalize_local(target)
        except Exception as exc:  # noqa: BLE001
            raise InvalidArgument(f"invalid image name {target!r}: {exc}") from exc
