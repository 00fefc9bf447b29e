"""Manifest lists kept here: a list is an image row with no layers whose manifest is the list.

As in podman, a list is stored as an image: it has names (`localhost/mylist:latest`), shows in
`images`, and `rmi` and `tag` take it. Its row's manifest column holds the list document
(compact JSON, its digest in the digest column) and its config is empty. What the list needs
besides the document is one row of the `manifest_lists` table: for each instance added from a
registry, where it came from (so that `manifest push` can copy it from there). An instance
added from local storage is found again by its manifest digest among the images.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

from storage import images as img
from storage import reference
from storage.db import sqlite3

from ..errors import InvalidArgument, translate
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from storage.images import Image

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

SCHEMA = (
    """
    CREATE TABLE manifest_lists (
        image_id TEXT PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        sources TEXT NOT NULL
    )
    """,
)

# The order podman prints a platform's fields in.
PLATFORM_KEYS = ("architecture", "os", "os.version", "os.features", "variant", "features")


@dataclass
class ManifestList:
    """A list's document (media type and entries, each in podman's key order) and its sources:
    instance digest -> {"ref": "host/repository", "insecure": bool} for registry instances."""

    media_type: str = DOCKER_LIST
    entries: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The list as `manifest inspect` shows it (an empty list's manifests are null)."""
        return {"schemaVersion": 2, "mediaType": self.media_type, "manifests": self.entries or None}

    def find(self, digest: str) -> int:
        for i, e in enumerate(self.entries):
            if e["digest"] == digest:
                return i
        return -1

    def put(self, entry: dict[str, Any], source: Optional[dict[str, Any]]) -> None:
        """Add an instance, or replace the one with the same digest (keeping its place)."""
        i = self.find(entry["digest"])
        if i >= 0:
            self.entries[i] = entry
        else:
            self.entries.append(entry)
        if source is not None:
            self.sources[entry["digest"]] = source
        else:
            self.sources.pop(entry["digest"], None)

    def drop(self, digest: str) -> None:
        self.entries = [e for e in self.entries if e["digest"] != digest]
        self.sources.pop(digest, None)


def _table(rt: Runtime) -> sqlite3.Connection:
    rt.store   # the images' tables first: this one refers to them
    rt.db.migrate("manifests", SCHEMA)
    return rt.db.conn


def entry(media_type: str, size: int, digest: str, platform: Optional[dict[str, Any]],
          annotations: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """One instance of a list, its keys in podman's order; platform fields in theirs."""
    out: dict[str, Any] = {"mediaType": media_type, "size": size, "digest": digest}
    plat = {k: platform[k] for k in PLATFORM_KEYS if platform and platform.get(k) not in (None, "", [])}
    if plat:
        out["platform"] = plat
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def platform_of_config(config: dict[str, Any]) -> dict[str, Any]:
    """An image config's platform fields, as a list entry records them."""
    return {"architecture": config.get("architecture") or "", "os": config.get("os") or "",
            "os.version": config.get("os.version") or "", "os.features": config.get("os.features") or [],
            "variant": config.get("variant") or ""}


def is_list(rt: Runtime, image: Image) -> bool:
    if image.layers:
        return False
    return _table(rt).execute("SELECT 1 FROM manifest_lists WHERE image_id=?", (image.id,)).fetchone() is not None


def shown_name(name: str) -> str:
    """The name as podman says it in its errors: localhost/busybox -> localhost/busybox:latest."""
    try:
        if reference.is_hex_id(name):
            return name
        return reference.normalize_local(name)
    except Exception:  # noqa: BLE001 - an unparsable name is shown as given
        return name


def find_image(rt: Runtime, name: str) -> Image:
    try:
        return rt.store.image(name, rt.cfg.short_names)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def load(rt: Runtime, name: str) -> tuple[Image, ManifestList]:
    """The list that name is: NoSuchImage when nothing is, InvalidArgument when an image is."""
    image = find_image(rt, name)
    row = _table(rt).execute("SELECT sources FROM manifest_lists WHERE image_id=?", (image.id,)).fetchone()
    if row is None or image.layers:
        raise InvalidArgument(f"{shown_name(name)}: image is not a manifest list")
    doc = json.loads(image.manifest or "{}")
    return image, ManifestList(doc.get("mediaType") or DOCKER_LIST, list(doc.get("manifests") or []),
                               json.loads(row[0]))


def _stored(ml: ManifestList) -> tuple[str, str]:
    import hashlib

    text = json.dumps(ml.document(), separators=(",", ":"))
    return text, "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def create(rt: Runtime, name: str, ml: ManifestList, amend: bool = False) -> str:
    """Store a new list under name (podman's local name rules); its id. With amend, a list
    that name already is gets ml's instances added instead."""
    from ..errors import NameInUse

    try:
        target = reference.normalize_local(name)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    existing = _table(rt).execute("SELECT image_id FROM image_names WHERE name=?", (target,)).fetchone()
    if existing is not None:
        if amend:
            image, old = load(rt, target)
            for e in ml.entries:
                old.put(e, ml.sources.get(e["digest"]))
            save(rt, image.id, old)
            return image.id
        raise NameInUse(f"creating image to hold manifest list: image name \"{target}\" is already associated "
                        f"with image \"{existing[0]}\": that name is already in use")
    list_id = secrets.token_hex(32)
    text, digest = _stored(ml)
    with rt.db.write() as c:
        img.insert(c, list_id, "{}", [], len(text), time.time(), text, digest)
        c.execute("INSERT INTO manifest_lists (image_id, sources) VALUES (?, ?)", (list_id, json.dumps(ml.sources)))
        img.set_name(c, target, list_id)
    return list_id


def save(rt: Runtime, list_id: str, ml: ManifestList) -> None:
    """Write a changed list back (document, digest, size, sources) in one transaction."""
    text, digest = _stored(ml)
    _table(rt)
    with rt.db.write() as c:
        c.execute("UPDATE images SET manifest=?, digest=?, size=? WHERE id=?", (text, digest, len(text), list_id))
        c.execute("UPDATE manifest_lists SET sources=? WHERE image_id=?", (json.dumps(ml.sources), list_id))


def local_by_digest(rt: Runtime, digest: str) -> Optional[Image]:
    """The stored image (not a list) whose manifest has this digest."""
    for (image_id,) in rt.db.conn.execute("SELECT id FROM images WHERE digest=?", (digest,)).fetchall():
        found = img.by_id(rt.db.conn, image_id)
        if found is not None and not is_list(rt, found):
            return found
    return None


def check_digest(digest: str) -> str:
    from storage.transports.manifest import valid_digest

    if not valid_digest(digest):
        raise InvalidArgument(f"invalid image digest \"{digest}\": invalid checksum digest format")
    return digest


def annotations_of(items: list[str], flag: str = "--annotation") -> dict[str, str]:
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq or not k:
            raise InvalidArgument(f"no value given for annotation {k or item!r}: use {flag} KEY=VALUE")
        out[k] = v
    return out



def instance_here(rt: Runtime, name: str, image: Image) -> Image:
    """The image a container of `name` runs: image itself, or when it is a list, the local
    image the list has for this machine's platform."""
    from storage.transports.errors import RegistryError
    from storage.transports.manifest import Descriptor, choose_platform, host_platform

    if not is_list(rt, image):
        return image
    _image, ml = load(rt, name if not image.names else image.names[0])
    local = [Descriptor(e["mediaType"], e["digest"], e["size"], e.get("platform"))
             for e in ml.entries if local_by_digest(rt, e["digest"]) is not None]
    os_, arch, variant = host_platform()
    try:
        chosen = choose_platform(local, os_, arch, variant)
    except RegistryError as exc:
        raise InvalidArgument(f"{name} is a manifest list with no image of this store for the platform: "
                              f"{exc}") from None
    found = local_by_digest(rt, chosen.digest)
    assert found is not None
    return found
