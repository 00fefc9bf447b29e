"""Images to files: docker-archive and oci-archive tars, OCI layout and `dir:` directories.

`save` and `push` to a transport reference write images here. Order: `export` writes each
distinct layer once into the store's staging directory (in the user namespace, where
every file can be read; plain, or compressed as the format asks), then `write` lays the
images out. A tar goes to a file written beside its destination and renamed over it (or
streamed to stdout); a directory is written beside its destination and renamed into
place, or, for an OCI layout that exists already, gets the blobs it lacks and then a
new index.json, each written atomically. A failure leaves no half-written file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Callable, Optional

from storage.images import Image
from storage.staging import Staging

from ..errors import InvalidArgument
from .context import Runtime
from .layerexport import (DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST,
                          config_for as _config_for, export_in_ns as _export_in_ns)
REF_NAME = "org.opencontainers.image.ref.name"
DIR_VERSION = b"Directory Transport Version: 1.1\n"
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'

Report = Callable[[str], None]


@dataclass
class Blob:
    path: str         # the exported layer, in the staging directory
    diff_id: str
    digest: str       # of the bytes as written (the diff id when plain)
    size: int
    compression: str  # none, gzip or zstd


@dataclass
class Entry:
    """One image as it goes out: its docker-archive tags and its OCI index ref.name."""
    image: Image
    tags: list[str]
    ref_name: Optional[str]
    config: bytes
    layers: list[Blob]


def export(rt: Runtime, stage: Staging, wanted: list[tuple[Image, list[str], Optional[str]]],
           compression: str, report: Report) -> list[Entry]:
    """Each distinct layer of the images (image, tags, ref name) once into stage; one entry per
    distinct image, the tags of an image named twice merged."""
    done: dict[str, Blob] = {}
    merged: dict[str, Entry] = {}
    report("Getting image source signatures")
    for image, tags, ref_name in wanted:
        for i, lid in enumerate(image.layers):
            if lid in done:
                continue
            path = os.path.join(stage.path, f"layer{len(done)}")
            dirs = rt.store.layer_export_dirs(image, i)
            diff, digest, size = rt.store.in_userns(_export_in_ns, dirs, path, compression,
                                                    rt.store.tar_split(lid), rt.store.layer_diff_id(lid))
            report(f"Copying blob {_hex(digest)[:12]}")
            done[lid] = Blob(path, diff, digest, size, compression)
        if image.id in merged:
            merged[image.id].tags += [t for t in tags if t not in merged[image.id].tags]
            continue
        layers = [done[lid] for lid in image.layers]
        config = _config_for(rt, image, [b.diff_id for b in layers])
        report(f"Copying config {hashlib.sha256(config).hexdigest()[:12]}")
        merged[image.id] = Entry(image, list(tags), ref_name, config, layers)
    report("Writing manifest to image destination")
    return list(merged.values())


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


# ------------------------------------------------------------ manifests --


def oci_manifest(e: Entry) -> bytes:
    digest = "sha256:" + hashlib.sha256(e.config).hexdigest()
    return _dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                   "config": {"mediaType": OCI_CONFIG, "digest": digest, "size": len(e.config)},
                   "layers": [{"mediaType": OCI_LAYER[b.compression], "digest": b.digest, "size": b.size}
                              for b in e.layers]})


def docker_manifest(e: Entry) -> bytes:
    digest = "sha256:" + hashlib.sha256(e.config).hexdigest()
    return _dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                   "config": {"mediaType": DOCKER_CONFIG, "size": len(e.config), "digest": digest},
                   "layers": [{"mediaType": DOCKER_LAYER[b.compression], "size": b.size, "digest": b.digest}
                              for b in e.layers]})


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _index_entry(e: Entry, raw: bytes) -> dict[str, object]:
    desc: dict[str, object] = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
                               "size": len(raw)}
    if e.ref_name:
        desc["annotations"] = {REF_NAME: e.ref_name}
    return desc


# ----------------------------------------------------------------- tars --


def write_tar(out: BinaryIO, mode: str, entries: list[Entry], fmt: str) -> None:
    """A docker-archive or oci-archive to out ("w" for a file, "w|" for a pipe)."""
    with tarfile.open(fileobj=out, mode=mode, format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        if fmt == "docker-archive":
            _docker_tar(tf, entries)
        else:
            _oci_tar(tf, entries)


def write_tar_file(path: str, entries: list[Entry], fmt: str) -> None:
    """A reader never sees half an archive: written beside path, then renamed over it."""
    from storage.fsutil import atomic_file

    if os.path.isdir(path):
        raise InvalidArgument(f"cannot write the archive to {path}: is a directory")
    with atomic_file(path) as f:
        write_tar(f, "w", entries, fmt)


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    # Owned by the caller, not root: skopeo unpacks an oci-archive and chowns to what the tar says,
    # which an unprivileged reader can only do for its own ids.
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mtime = size, kind, 0
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.uid, info.gid = os.getuid(), os.getgid()
    return info


class _Once:
    """Adds each member name once: a layer or config two images share goes in once."""

    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf, self.written = tf, set()  # type: ignore[var-annotated]

    def data(self, name: str, data: bytes) -> None:
        if name not in self.written:
            self.written.add(name)
            self.tf.addfile(_info(name, len(data)), io.BytesIO(data))

    def file(self, name: str, path: str) -> None:
        if name not in self.written:
            self.written.add(name)
            with open(path, "rb") as f:
                self.tf.addfile(_info(name, os.path.getsize(path)), f)


def _docker_tar(tf: tarfile.TarFile, entries: list[Entry]) -> None:
    """The layout `docker save` writes (manifest.json + repositories), which skopeo and podman read."""
    out = _Once(tf)
    manifest, repositories = [], {}  # type: ignore[var-annotated]
    for e in entries:
        config_name = hashlib.sha256(e.config).hexdigest() + ".json"
        out.data(config_name, e.config)
        layer_names = []
        for b in e.layers:
            layer_names.append(_hex(b.diff_id) + ".tar")
            out.file(layer_names[-1], b.path)
        manifest.append({"Config": config_name, "RepoTags": e.tags, "Layers": layer_names})
        for t in e.tags:
            repo, tag = t.rsplit(":", 1)
            repositories.setdefault(repo, {})[tag] = _hex(e.layers[-1].diff_id) if e.layers else ""
    out.data("manifest.json", _dumps(manifest))
    out.data("repositories", _dumps(repositories))


def _oci_tar(tf: tarfile.TarFile, entries: list[Entry]) -> None:
    out = _Once(tf)
    out.data("oci-layout", OCI_LAYOUT)
    for d in ("blobs", "blobs/sha256"):  # explicit, so readers create them with our ownership
        tf.addfile(_info(d, kind=tarfile.DIRTYPE))
    index = []
    for e in entries:
        out.data("blobs/sha256/" + hashlib.sha256(e.config).hexdigest(), e.config)
        for b in e.layers:
            out.file("blobs/sha256/" + _hex(b.digest), b.path)
        raw = oci_manifest(e)
        out.data("blobs/sha256/" + hashlib.sha256(raw).hexdigest(), raw)
        index.append(_index_entry(e, raw))
    out.data("index.json", _dumps({"schemaVersion": 2, "manifests": index}))


# ---------------------------------------------------------- directories --


def write_oci_dir(path: str, entries: list[Entry]) -> None:
    """An OCI layout directory; one that exists already keeps its other images (an entry of the
    same ref.name, or an unnamed one of the same manifest, is replaced)."""
    if _is_layout(path):
        _merge_oci(path, entries)
        return
    _check_new_dir(path, "an OCI layout")

    def fill(tmp: str) -> None:
        os.makedirs(os.path.join(tmp, "blobs", "sha256"))
        _put(os.path.join(tmp, "oci-layout"), OCI_LAYOUT)
        index = []
        for e in entries:
            raw = _oci_blobs(tmp, e)
            index.append(_index_entry(e, raw))
        _put(os.path.join(tmp, "index.json"), _dumps({"schemaVersion": 2, "manifests": index}))

    _build_dir(path, fill)


def write_docker_dir(path: str, entry: Entry, oci: bool = False) -> None:
    """A `dir:` directory (a schema 2 manifest, or with oci an OCI one, each blob a file named by
    its digest's hex, and the version file); one that is a `dir:` directory already is replaced."""
    replace = os.path.isfile(os.path.join(path, "version"))
    if not replace:
        _check_new_dir(path, "a dir: image directory")

    def fill(tmp: str) -> None:
        _put(os.path.join(tmp, hashlib.sha256(entry.config).hexdigest()), entry.config)
        for b in entry.layers:
            _link_or_copy(b.path, os.path.join(tmp, _hex(b.digest)))
        _put(os.path.join(tmp, "manifest.json"), oci_manifest(entry) if oci else docker_manifest(entry))
        _put(os.path.join(tmp, "version"), DIR_VERSION)

    _build_dir(path, fill, replace)


def _is_layout(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "oci-layout")) and os.path.isfile(os.path.join(path, "index.json"))


def _check_new_dir(path: str, what: str) -> None:
    if os.path.lexists(path) and not (os.path.isdir(path) and not os.listdir(path)):
        raise InvalidArgument(f"cannot write {what} to {path}: it exists and is not an empty directory "
                              "or such a layout")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InvalidArgument(f"cannot write {what} to {path}: no directory {parent}")


def _build_dir(path: str, fill: Callable[[str], None], replace: bool = False) -> None:
    """fill() a directory beside path, then rename it into place (over an empty directory, or,
    with replace, over the old one, which goes only once the new one is in place)."""
    from storage.fsutil import remove_tree

    path = os.path.abspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    old = f"{path}.old-{os.getpid()}"
    os.mkdir(tmp, 0o755)
    try:
        fill(tmp)
        if replace:
            os.rename(path, old)
        elif os.path.isdir(path):
            os.rmdir(path)  # empty, checked before
        os.rename(tmp, path)
    except BaseException:
        remove_tree(tmp)
        if replace and os.path.isdir(old) and not os.path.exists(path):
            os.rename(old, path)
        raise
    if replace:
        remove_tree(old)


def _put(path: str, data: bytes) -> None:
    from storage.fsutil import atomic_file

    with atomic_file(path) as f:
        f.write(data)


def _link_or_copy(src: str, dst: str) -> None:
    """A staged layer into its place: a hard link where the store and the target share a file
    system, else a copy (written beside, then renamed)."""
    from storage.fsutil import copy_file

    try:
        os.link(src, dst)
        os.chmod(dst, 0o644)
        return
    except OSError:
        pass
    tmp = f"{dst}.tmp-{os.getpid()}"
    try:
        copy_file(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _oci_blobs(root: str, e: Entry) -> bytes:
    """The entry's blobs into root/blobs/sha256 (those there already are kept); its manifest."""
    blobs = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    config = os.path.join(blobs, hashlib.sha256(e.config).hexdigest())
    if not os.path.exists(config):
        _put(config, e.config)
    for b in e.layers:
        target = os.path.join(blobs, _hex(b.digest))
        if not os.path.exists(target):
            _link_or_copy(b.path, target)
    raw = oci_manifest(e)
    target = os.path.join(blobs, hashlib.sha256(raw).hexdigest())
    if not os.path.exists(target):
        _put(target, raw)
    return raw


def _merge_oci(path: str, entries: list[Entry]) -> None:
    try:
        with open(os.path.join(path, "index.json"), "rb") as f:
            index = json.load(f)
        manifests = [d for d in index.get("manifests") or [] if isinstance(d, dict)]
    except (OSError, ValueError, AttributeError) as exc:
        raise InvalidArgument(f"cannot add to the OCI layout {path}: its index.json: {exc}") from exc
    for e in entries:
        raw = _oci_blobs(path, e)
        desc = _index_entry(e, raw)

        def replaced(d: dict[str, object]) -> bool:
            name = (d.get("annotations") or {}).get(REF_NAME)  # type: ignore[union-attr]
            if e.ref_name and name == e.ref_name:
                return True
            return not name and d.get("digest") == desc["digest"]

        manifests = [d for d in manifests if not replaced(d)] + [desc]
    index["manifests"] = manifests
    _put(os.path.join(path, "index.json"), _dumps(index))
