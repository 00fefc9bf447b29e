"""Images from files: docker-archive and oci-archive tars, OCI layout and `dir:` directories.

`load` and `pull` (and so run, create and build's FROM) of a transport reference read
images here. Order: open the file or directory (`Files`: one interface over a tar's
members and a directory's files), find the images it holds and the names they get
(`docker_archive`, `oci_layout`, `dir_layout`; every name and digest checked before
anything is applied), then `apply` applies the layers the store lacks, each checked
against the config's diff ids, and records the images only once all of them applied.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Optional, cast

from storage import reference, shapes
from storage.images import Image
from storage.store import chain_id

from ..errors import EngineError, InvalidArgument, translate
from .context import Runtime
from .imagestore import apply_options, host_arch

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
FORMATS_TRIED = "oci, oci-archive, docker-archive, dir"   # (after podman's "formats:", on one line)

Report = Callable[[str], None]


@dataclass
class Found:
    """One image in a source: its config, its layers' openers (each run in the user
    namespace's child, where it opens the file itself) and its names."""
    config: bytes
    layers: list[Callable[[], IO[bytes]]]
    names: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- files --


class Files:
    """The members of a tar, or the files of a directory, by relative name."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.is_dir = os.path.isdir(path)
        self._tar: Optional[tarfile.TarFile] = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if not self.is_dir:
            try:
                self._tar = tarfile.open(path, "r:*")
                self._members = {_clean(m.name): m for m in self._tar.getmembers() if _safe(m.name)}
            except (tarfile.TarError, EOFError) as exc:  # tarfile's message spans lines: keep ours to one
                raise InvalidArgument(f"payload does not match any of the supported image formats: "
                                      f"{FORMATS_TRIED} ({path})") from exc

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()

    def __enter__(self) -> "Files":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, name: str) -> bool:
        if self.is_dir:
            return _safe(name) and os.path.isfile(os.path.join(self.path, name))
        return _clean(name) in self._members

    def member(self, name: Any) -> str:
        """A name the source's metadata refers to, checked before anything is read."""
        if not isinstance(name, str) or not name or not _safe(name):
            raise InvalidArgument(f"invalid member name {name!r} in {self.path}")
        if not self.has(name):
            raise InvalidArgument(f"{self.path} has no file {name!r}")
        return _clean(name)

    def read(self, name: Any) -> bytes:
        name = self.member(name)
        if self.is_dir:
            with open(os.path.join(self.path, name), "rb") as fd:
                return fd.read()
        assert self._tar is not None
        with _extract(self._tar, self._members[name], self.path) as f:
            return f.read()

    def opener(self, name: Any) -> Callable[[], IO[bytes]]:
        name = self.member(name)
        path, is_dir = self.path, self.is_dir
        stored = name if is_dir else self._members[name].name

        def opener() -> IO[bytes]:  # in the child: no state crosses the fork
            if is_dir:
                return open(os.path.join(path, name), "rb")
            tf = tarfile.open(path, "r:*")
            return _extract(tf, tf.getmember(stored), path)

        return opener


def _extract(tf: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> IO[bytes]:
    """A member's content; a link is followed only to another file of the archive."""
    try:
        f = tf.extractfile(member)
    except KeyError:   # a link to a name the archive does not hold (/etc/passwd, ../x)
        raise InvalidArgument(f"{member.name!r} in {path} is a link to {member.linkname!r}, "
                              "which is no file in the archive") from None
    if f is None:
        raise InvalidArgument(f"{member.name!r} in {path} is not a file")
    return f


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


def _safe(name: str) -> bool:
    return not name.startswith("/") and ".." not in name.split("/")


def _json(data: bytes, what: str, schema: Any) -> Any:
    """A document decoded and checked against its schema (shapes.py): "invalid <what>: ..." else."""
    try:
        return _shape(shapes.loads(data, f"invalid {what}"), schema, what)
    except shapes.ShapeError as exc:
        raise InvalidArgument(str(exc)) from None


def _shape(doc: Any, schema: Any, what: str) -> Any:
    try:
        return shapes.check(doc, schema, f"invalid {what}")
    except shapes.ShapeError as exc:
        raise InvalidArgument(str(exc)) from None


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _names(raw: list[Any]) -> list[str]:
    try:
        return [reference.normalize_local(n) for n in raw if isinstance(n, str) and n]
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


# ---------------------------------------------------------------- kinds --


def kind_of(files: Files) -> str:
    """Which layout files holds: docker-archive, oci-archive, oci, dir."""
    if files.is_dir:
        if files.has("index.json") and files.has("oci-layout"):
            return "oci"
        if files.has("manifest.json"):
            return "dir"
    elif files.has("manifest.json"):
        return "docker-archive"
    elif files.has("index.json") and files.has("oci-layout"):
        return "oci-archive"
    raise InvalidArgument(f"payload does not match any of the supported image formats: {FORMATS_TRIED} "
                          f"({files.path})")


def docker_archive(files: Files, name: Optional[str] = None, index: Optional[int] = None,
                   every: bool = False) -> list[Found]:
    """The images of a `docker save` tar: every one (every), the one tagged name (which keeps
    only that name), the one at index, or the only one."""
    entries = _json(files.read("manifest.json"), f"manifest.json in {files.path}", shapes.ARCHIVE_MANIFEST)
    if not entries:
        raise InvalidArgument(f"invalid manifest.json in {files.path}: no images")
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("Layers"), list):
            raise InvalidArgument(f"invalid manifest.json in {files.path}")
    names: Optional[list[str]] = None
    if name is not None:
        try:
            wanted = reference.normalize_pull(name)
        except Exception as exc:  # noqa: BLE001
            raise translate(exc) from exc
        chosen = [e for e in entries if wanted in _names(list(e.get("RepoTags") or []))][:1]
        if not chosen:
            raise InvalidArgument(f'tag "{wanted}" not found in {files.path}')
        names = [wanted]
    elif index is not None:
        if index >= len(entries):
            raise InvalidArgument(f"{files.path} holds {len(entries)} image(s): there is no @{index}")
        chosen = [entries[index]]
    elif every:
        chosen = entries
    else:
        if len(entries) != 1:
            raise InvalidArgument(f"{files.path} holds {len(entries)} images: choose one by name "
                                  "(docker-archive:PATH:NAME) or index (docker-archive:PATH:@N)")
        chosen = entries
    return [Found(files.read(e.get("Config")), [files.opener(n) for n in e["Layers"]],
                  names if names is not None else _names(list(e.get("RepoTags") or [])))
            for e in chosen]


def oci_layout(files: Files, ref: Optional[str] = None, every: bool = False,
               name_as: Optional[str] = None, keys: Optional[list[Any]] = None) -> list[Found]:
    """The images of an OCI layout (a directory, or a tar of one): every one (every), the one
    whose ref.name is ref, or the only one. Each is named by its annotations, or name_as.
    Encrypted layers are decrypted with keys (--decryption-key's), each unwrapped here, before
    anything is applied."""
    index = _json(files.read("index.json"), f"index.json in {files.path}", shapes.OCI_INDEX)
    descs = [d for d in index.get("manifests") or [] if d]
    if ref is not None:
        descs = [d for d in descs if (d.get("annotations") or {}).get(REF_NAME) == ref]
        if not descs:
            raise InvalidArgument(f"no image named {ref!r} in the index of {files.path}")
        descs = descs[:1]
    elif not every and len(descs) > 1:
        raise InvalidArgument(f"{files.path} holds {len(descs)} images: choose one by its name "
                              "(oci:DIR:NAME, oci-archive:PATH:NAME)")
    merged: dict[str, Found] = {}
    for desc in descs:
        manifest = _json(_blob(files, desc.get("digest"), True), "manifest", shapes.OCI_MANIFEST)
        if desc.get("mediaType") in (OCI_INDEX, DOCKER_LIST) or "manifests" in manifest:
            nested = _shape(manifest, shapes.OCI_INDEX, "image index")
            manifest = _json(_blob(files, _pick(nested).get("digest"), True), "manifest", shapes.OCI_MANIFEST)
        config = _blob(files, (manifest.get("config") or {}).get("digest"), True)
        layers = [_decrypting(files.opener(_blob(files, d.get("digest"), False)), d, keys)
                  for d in (d or {} for d in manifest.get("layers") or [])]
        if name_as is not None:
            names = [name_as]
        else:
            notes = desc.get("annotations") or {}
            name = notes.get(CONTAINERD_NAME) or notes.get(REF_NAME) or ""
            # As podman: any annotation names the image, a bare one under localhost/ ("mytag" is
            # localhost/mytag:latest); one that makes no valid name leaves it unnamed.
            try:
                names = _names([name])
            except InvalidArgument:
                names = []
        key = hashlib.sha256(config).hexdigest()
        if key in merged:
            merged[key].names += [n for n in names if n not in merged[key].names]
        else:
            merged[key] = Found(config, layers, names)
    if not merged:
        raise InvalidArgument(f"invalid index.json in {files.path}: no images")
    return list(merged.values())


def _decrypting(opener: Callable[[], IO[bytes]], desc: dict[str, Any],
                keys: Optional[list[Any]]) -> Callable[[], IO[bytes]]:
    """A layer's opener, decrypting it when the layer is encrypted (ocicrypt)."""
    from storage.ocicrypt import is_encrypted

    if not is_encrypted(str(desc.get("mediaType") or "")):
        return opener
    from storage.ocicrypt import DecryptingReader, DecryptionError, unwrap

    digest = str(desc.get("digest"))
    try:
        key = unwrap(digest, desc.get("annotations"), keys or [])
    except DecryptionError as exc:
        raise EngineError(str(exc)) from None

    def decrypting() -> IO[bytes]:
        return cast(IO[bytes], DecryptingReader(opener(), key, f"layer {digest}"))

    return decrypting


def dir_layout(files: Files) -> list[Found]:
    """The image of a `dir:` directory: manifest.json, and each blob a file named by its digest's
    hex. It carries no name, as with podman."""
    manifest = _json(files.read("manifest.json"), f"manifest.json in {files.path}", shapes.OCI_MANIFEST)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise InvalidArgument(f"{files.path}/manifest.json is no image manifest (schema 2 or OCI)")
    config = _dir_blob(files, manifest["config"].get("digest"), True)
    layers = [files.opener(_dir_blob(files, d.get("digest"), False)) for d in manifest.get("layers") or []
              if isinstance(d, dict)]
    return [Found(config, layers, [])]


def _digest_ok(digest: Any) -> str:
    if not isinstance(digest, str) or not digest.startswith("sha256:") or "/" in digest:
        raise InvalidArgument(f"invalid digest {digest!r}")
    return digest


def _check(data: bytes, digest: str, where: str) -> bytes:
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise InvalidArgument(f"blob {digest} in {where} does not match its digest")
    return data


def _blob(files: Files, digest: Any, verify: bool) -> Any:
    """An OCI layout's blob name (or, with verify, its checked bytes) for a digest."""
    name = files.member("blobs/sha256/" + _hex(_digest_ok(digest)))
    return _check(files.read(name), digest, files.path) if verify else name


def _dir_blob(files: Files, digest: Any, verify: bool) -> Any:
    name = files.member(_hex(_digest_ok(digest)))
    return _check(files.read(name), digest, files.path) if verify else name


def _pick(index: dict[str, Any]) -> dict[str, Any]:
    """The host's platform from a nested index; else its first manifest."""
    entries = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    if not entries:
        raise InvalidArgument("an image index lists no manifests")
    for m in entries:
        if (m.get("platform") or {}).get("architecture") == host_arch():
            return m
    return entries[0]


def local_name_for(path: str) -> Optional[str]:
    """The name podman gives an image from an OCI directory: `localhost/` and the path as
    given, without leading slashes (`oci:/tmp/app` -> localhost/tmp/app:latest); None when the
    path makes no valid name."""
    try:
        return reference.normalize_local("localhost/" + path.lstrip("/").rstrip("/"))
    except Exception:  # noqa: BLE001 - upper case, spaces...: the image comes unnamed
        return None


def load_all(files: Files) -> list[Found]:
    """`load`: every image the file or directory holds, whatever its layout."""
    kind = kind_of(files)
    if kind == "docker-archive":
        return docker_archive(files, every=True)
    if kind == "oci-archive":
        return oci_layout(files, every=True)
    if kind == "oci":
        return oci_layout(files, every=True, name_as=local_name_for(files.path))
    return dir_layout(files)


# ---------------------------------------------------------------- apply --


def _config(item: Found) -> dict[str, Any]:
    """An image's config, decoded and of the shape its readers expect (shapes.image_config),
    with as many diff ids as the image has layers."""
    try:
        config = shapes.image_config(item.config, f"invalid image config {hashlib.sha256(item.config).hexdigest()[:12]}")
    except shapes.ShapeError as exc:
        raise InvalidArgument(str(exc)) from None
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(item.layers):
        raise InvalidArgument(f"the config lists {len(diff_ids)} layers, the manifest {len(item.layers)}")
    return config


def apply(rt: Runtime, todo: list[Found], report: Report) -> list[Image]:
    """Apply each image's missing layers (checked against its config's diff ids), then record
    the images, only once every layer of every image has applied."""
    report("Getting image source signatures")
    options = apply_options(rt)
    configs = [_config(item) for item in todo]   # every one checked before any layer is applied
    loaded = []
    for item, config in zip(todo, configs):
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        chains: list[str] = []
        for i, diff in enumerate(diff_ids):
            chains.append(chain_id(chains[-1] if chains else None, diff))
            if rt.store.has_layer(chains[i]):
                report(f"Copying blob {_hex(diff)[:12]} skipped: already exists")
                continue
            report(f"Copying blob {_hex(diff)[:12]}")
            rt.store.apply_layer(item.layers[i], chains[i - 1] if i else None, options, expect_diff_id=diff)
        report(f"Copying config {hashlib.sha256(item.config).hexdigest()[:12]}")
        loaded.append((item, chains))
    report("Writing manifest to image destination")
    try:
        return [rt.store.create_image(item.config, chains, item.names) for item, chains in loaded]
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
