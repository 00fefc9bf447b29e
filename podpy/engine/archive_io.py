"""`save` and `load`: images to and from docker-archive and oci-archive tar files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Callable, Optional

from storage import reference
from storage.images import Image
from storage.store import Staging, chain_id

from ..errors import InvalidArgument, PodpyError, translate
from .imagestore import apply_options, host_arch, lookup
from .push import OCI_CONFIG, OCI_MANIFEST, _config_for, _export_in_ns
from .context import Runtime
from .reconcile import reconcile

FORMATS = ("docker-archive", "oci-archive")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"

Report = Callable[[str], None]


@dataclass
class _Saved:
    """One image as it goes into the archive."""
    image: Image
    tags: list[str]
    config: bytes
    layers: list[tuple[str, str, int]]  # (file in the stage, diff id, size)


# ---------------------------------------------------------------- save --


def save(rt: Runtime, names: list[str], output: Optional[str], fmt: str, report: Report) -> None:
    """Write the images named to output (None or "-": stdout) as one archive."""
    if fmt not in FORMATS:
        raise InvalidArgument(f"unsupported format {fmt!r}: use docker-archive or oci-archive")
    if not names:
        raise InvalidArgument("`podpy save` requires at least one image name")
    to_stdout = output in (None, "-")
    if not to_stdout and output and os.path.isdir(output):
        raise InvalidArgument(f"cannot save to {output}: is a directory")
    images = [(lookup(rt, n), n) for n in names]
    reconcile(rt)
    try:
        with rt.store.temporary("save") as stage:
            saved = _export(rt, stage, images, report)
            if to_stdout:
                # Stream mode: stdout may be a pipe, which cannot seek.
                with os.fdopen(os.dup(1), "wb") as out:
                    _write(out, "w|", saved, fmt)
            else:
                assert output is not None
                _write_atomically(output, saved, fmt)
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


def _export(rt: Runtime, stage: Staging, images: list[tuple[Image, str]], report: Report) -> list[_Saved]:
    """Export each distinct layer once, uncompressed: archives hold layers as plain tars."""
    done: dict[str, tuple[str, str, int]] = {}
    merged: dict[str, _Saved] = {}
    report("Getting image source signatures")
    for image, name in images:
        for i, lid in enumerate(image.layers):
            if lid in done:
                continue
            path = os.path.join(stage.path, f"layer{len(done)}")
            dirs = rt.store.layer_export_dirs(image, i)
            diff, _digest, size = rt.store.in_userns(_export_in_ns, dirs, path, "none", rt.store.tar_split(lid),
                                                     rt.store.layer_diff_id(lid))
            report(f"Copying blob {diff.split(':', 1)[-1][:12]}")
            done[lid] = (path, diff, size)
        tags = _tags_for(image, name, rt.cfg.short_names)
        if image.id in merged:  # one image named twice: one entry with both tags
            merged[image.id].tags += [t for t in tags if t not in merged[image.id].tags]
            continue
        layers = [done[lid] for lid in image.layers]
        config = _config_for(rt, image, [d for _p, d, _s in layers])
        report(f"Copying config {hashlib.sha256(config).hexdigest()[:12]}")
        merged[image.id] = _Saved(image, tags, config, layers)
    report("Writing manifest to image destination")
    return list(merged.values())


def _write_atomically(output: str, saved: list[_Saved], fmt: str) -> None:
    """A reader never sees half an archive: write beside it, then rename over."""
    from storage.fsutil import atomic_file

    with atomic_file(output) as f:
        _write(f, "w", saved, fmt)


def _write(out: BinaryIO, mode: str, saved: list[_Saved], fmt: str) -> None:
    with tarfile.open(fileobj=out, mode=mode, format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        if fmt == "docker-archive":
            _write_docker(tf, saved)
        else:
            _write_oci(tf, saved)


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    # Owned by the caller, not root: skopeo unpacks an oci-archive and chowns to what the tar says,
    # which an unprivileged reader can only do for its own ids.
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mtime = size, kind, 0
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.uid, info.gid = os.getuid(), os.getgid()
    return info


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    tf.addfile(_info(name, len(data)), io.BytesIO(data))


def _add_file(tf: tarfile.TarFile, name: str, path: str, written: set[str]) -> None:
    if name in written:  # a layer two images share goes in once
        return
    written.add(name)
    with open(path, "rb") as f:
        tf.addfile(_info(name, os.path.getsize(path)), f)


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _write_docker(tf: tarfile.TarFile, saved: list[_Saved]) -> None:
    """The layout `docker save` writes (manifest.json + repositories), which skopeo and podman read."""
    written: set[str] = set()
    manifest, repositories = [], {}  # type: ignore[var-annotated]
    for s in saved:
        config_name = hashlib.sha256(s.config).hexdigest() + ".json"
        if config_name not in written:
            written.add(config_name)
            _add_bytes(tf, config_name, s.config)
        layer_names = []
        for path, diff, _size in s.layers:
            layer_names.append(_hex(diff) + ".tar")
            _add_file(tf, layer_names[-1], path, written)
        manifest.append({"Config": config_name, "RepoTags": s.tags, "Layers": layer_names})
        for t in s.tags:
            repo, tag = t.rsplit(":", 1)
            repositories.setdefault(repo, {})[tag] = _hex(s.layers[-1][1]) if s.layers else ""
    _add_bytes(tf, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    _add_bytes(tf, "repositories", json.dumps(repositories, separators=(",", ":")).encode())


def _write_oci(tf: tarfile.TarFile, saved: list[_Saved]) -> None:
    """An OCI image layout in a tar: uncompressed layers, one index entry per name."""
    written: set[str] = set()
    _add_bytes(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    for d in ("blobs", "blobs/sha256"):  # explicit, so readers create them with our ownership
        tf.addfile(_info(d, kind=tarfile.DIRTYPE))
    index = []
    for s in saved:
        config_digest = "sha256:" + hashlib.sha256(s.config).hexdigest()
        if "blobs/sha256/" + _hex(config_digest) not in written:
            written.add("blobs/sha256/" + _hex(config_digest))
            _add_bytes(tf, "blobs/sha256/" + _hex(config_digest), s.config)
        for path, diff, _size in s.layers:
            _add_file(tf, "blobs/sha256/" + _hex(diff), path, written)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(s.config)},
                    "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": n} for _p, d, n in s.layers]}
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if "blobs/sha256/" + _hex(digest) not in written:
            written.add("blobs/sha256/" + _hex(digest))
            _add_bytes(tf, "blobs/sha256/" + _hex(digest), raw)
        desc = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(raw)}
        if not s.tags:
            index.append(desc)
        for t in s.tags:
            index.append({**desc, "annotations": {REF_NAME: t.rsplit(":", 1)[1], CONTAINERD_NAME: t}})
    _add_bytes(tf, "index.json", json.dumps({"schemaVersion": 2, "manifests": index},
                                            separators=(",", ":")).encode())


# ---------------------------------------------------------------- load --


@dataclass
class _ToLoad:
    """One image found in an archive: its config, its layer members and its names."""
    config: bytes
    layers: list[str]
    names: list[str]


def load(rt: Runtime, input: Optional[str], report: Report) -> list[Image]:
    """Load every image of a docker-archive or oci-archive (None or "-": stdin)."""
    reconcile(rt)
    try:
        if input not in (None, "-"):
            if not os.path.isfile(input):
                raise InvalidArgument(f"cannot load {input}: no such file")
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


def _load_path(rt: Runtime, path: str, report: Report) -> list[Image]:
    try:
        tf = tarfile.open(path, "r:*")
    except (tarfile.TarError, EOFError) as exc:  # tarfile's message spans lines: keep ours to one
        raise InvalidArgument(f"{path}: payload does not match any of the supported image formats "
                              "(oci-archive, docker-archive)") from exc
    with tf:
        members = {_clean(m.name): m for m in tf.getmembers() if _safe(m.name)}
        if "manifest.json" in members:
            todo = _docker_images(tf, members)
        elif "index.json" in members and "oci-layout" in members:
            todo = _oci_images(tf, members)
        else:
            raise InvalidArgument("payload does not match any of the supported image formats "
                                  "(oci-archive, docker-archive)")
    report("Getting image source signatures")
    options = apply_options(rt)
    loaded = []
    for item in todo:
        diff_ids = list((json.loads(item.config).get("rootfs") or {}).get("diff_ids") or [])
        if len(diff_ids) != len(item.layers):
            raise InvalidArgument(f"the config lists {len(diff_ids)} layers, the archive {len(item.layers)}")
        chains: list[str] = []
        for i, diff in enumerate(diff_ids):
            chains.append(chain_id(chains[-1] if chains else None, diff))
            if rt.store.has_layer(chains[i]):
                report(f"Copying blob {_hex(diff)[:12]} skipped: already exists")
                continue
            report(f"Copying blob {_hex(diff)[:12]}")
            rt.store.apply_layer(_member_opener(path, item.layers[i]), chains[i - 1] if i else None, options,
                                 expect_diff_id=diff)
        report(f"Copying config {hashlib.sha256(item.config).hexdigest()[:12]}")
        loaded.append((item, chains))
    report("Writing manifest to image destination")
    # Images are recorded only once every layer of every image has applied and verified.
    return [rt.store.create_image(item.config, chains, item.names) for item, chains in loaded]


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


def _safe(name: str) -> bool:
    return not name.startswith("/") and ".." not in name.split("/")


def _member(tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: Any) -> str:
    """A member name the archive's metadata refers to, checked before anything is read."""
    if not isinstance(name, str) or not name or not _safe(name):
        raise InvalidArgument(f"invalid member name {name!r} in the archive")
    if _clean(name) not in members:
        raise InvalidArgument(f"the archive has no member {name!r}")
    return _clean(name)


def _read(tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: Any) -> bytes:
    f = tf.extractfile(members[_member(tf, members, name)])
    if f is None:
        raise InvalidArgument(f"archive member {name!r} is not a file")
    with f:
        return f.read()


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InvalidArgument(f"invalid {what} in the archive: {exc}") from exc


def _names(raw: list[Any]) -> list[str]:
    try:
        return [reference.normalize_local(n) for n in raw if isinstance(n, str) and n]
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _docker_images(tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> list[_ToLoad]:
    entries = _json(_read(tf, members, "manifest.json"), "manifest.json")
    if not isinstance(entries, list) or not entries:
        raise InvalidArgument("invalid manifest.json in the archive: no images")
    out = []
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("Layers"), list):
            raise InvalidArgument("invalid manifest.json in the archive")
        config = _read(tf, members, e.get("Config"))
        layers = [_member(tf, members, n) for n in e["Layers"]]
        out.append(_ToLoad(config, layers, _names(list(e.get("RepoTags") or []))))
    return out


def _blob(tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo], digest: Any, verify: bool) -> Any:
    """A blob's member name (or, with verify, its checked bytes) for a digest."""
    if not isinstance(digest, str) or not digest.startswith("sha256:") or "/" in digest:
        raise InvalidArgument(f"invalid digest {digest!r} in the archive")
    name = _member(tf, members, "blobs/sha256/" + _hex(digest))
    if not verify:
        return name
    data = _read(tf, members, name)
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise InvalidArgument(f"blob {digest} in the archive does not match its digest")
    return data


def _oci_images(tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> list[_ToLoad]:
    index = _json(_read(tf, members, "index.json"), "index.json")
    merged: dict[str, _ToLoad] = {}
    for desc in (index.get("manifests") or []) if isinstance(index, dict) else []:
        manifest = _json(_blob(tf, members, desc.get("digest"), True), "manifest")
        if desc.get("mediaType") in (OCI_INDEX, DOCKER_LIST) or "manifests" in manifest:
            manifest = _json(_blob(tf, members, _pick(manifest).get("digest"), True), "manifest")
        config = _blob(tf, members, (manifest.get("config") or {}).get("digest"), True)
        layers = [_blob(tf, members, d.get("digest"), False) for d in manifest.get("layers") or []]
        notes = desc.get("annotations") or {}
        name = notes.get(CONTAINERD_NAME) or notes.get(REF_NAME) or ""
        # A bare tag ("latest") names no repository: such an image loads without a name.
        names = _names([name]) if "/" in name or ":" in name else []
        key = hashlib.sha256(config).hexdigest()
        if key in merged:
            merged[key].names += [n for n in names if n not in merged[key].names]
        else:
            merged[key] = _ToLoad(config, layers, names)
    if not merged:
        raise InvalidArgument("invalid index.json in the archive: no images")
    return list(merged.values())


def _pick(index: dict[str, Any]) -> dict[str, Any]:
    """The host's platform from a nested index; else its first manifest."""
    entries = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    if not entries:
        raise InvalidArgument("an index in the archive lists no manifests")
    for m in entries:
        if (m.get("platform") or {}).get("architecture") == host_arch():
            return m
    return entries[0]


def _member_opener(path: str, name: str) -> Callable[[], IO[bytes]]:
    """Runs in the user-namespace child: it opens the archive itself (no state crosses the fork)."""
    def opener() -> IO[bytes]:
        tf = tarfile.open(path, "r:*")
        f = tf.extractfile(name)
        if f is None:
            raise InvalidArgument(f"archive member {name!r} is not a file")
        return f

    return opener


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
            else:
                from storage.fsutil import atomic_file

                assert output is not None
                with atomic_file(output) as f:
                    _export_to_fd(desc, f.fileno(), rt)
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _export_to_fd(desc: dict[str, Any], fd: int, rt: Runtime) -> None:
    from rootless import syscalls
    from rootless.userns import run_in_userns

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
