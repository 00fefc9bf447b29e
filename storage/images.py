"""Image records: the Image type and its rows (images, image_names)."""

from __future__ import annotations


from . import fastjson as json
from . import reference, shapes
from .db import sqlite3
from .errors import AmbiguousIdError, ImageUnknownError
from .named import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Sequence


class Image(NamedTuple):
    """An image in the store. `layers` are layer ids, bottom first."""

    __slots__ = ()
    id: str
    names: tuple[str, ...]
    config: dict[str, Any]
    layers: tuple[str, ...]
    size: int
    created: float
    digest: Optional[str] = None
    manifest: Optional[str] = None

    @property
    def short_id(self) -> str:
        return self.id[:12]


def _config(text: str) -> dict[str, Any]:
    """A stored config as readers take it (shapes.readable): a store from before the shape
    checks may hold one of the wrong shape, which must not break reading the others."""
    try:
        return shapes.readable(json.loads(text))
    except (ValueError, RecursionError):
        return {}


def _from_row(row: sqlite3.Row, names: list[str]) -> Image:
    return Image(
        id=row["id"], names=tuple(sorted(names)), config=_config(row["config"]),
        layers=tuple(json.loads(row["layers"])), size=int(row["size"]), created=float(row["created"]),
        digest=row["digest"], manifest=row["manifest"],
    )


def all_images(conn: sqlite3.Connection) -> list[Image]:
    names: dict[str, list[str]] = {}
    for r in conn.execute("SELECT name, image_id FROM image_names"):
        names.setdefault(r["image_id"], []).append(r["name"])
    rows = conn.execute("SELECT * FROM images ORDER BY created DESC").fetchall()
    return [_from_row(r, names.get(r["id"], [])) for r in rows]


def by_id(conn: sqlite3.Connection, image_id: str) -> Optional[Image]:
    row = conn.execute("SELECT * FROM images WHERE id=?", (image_id,)).fetchone()
    if row is None:
        return None
    names = [r[0] for r in conn.execute("SELECT name FROM image_names WHERE image_id=?", (image_id,))]
    return _from_row(row, names)


def lookup(conn: sqlite3.Connection, name: str, short_names: reference.ShortNames) -> Image:
    """Find an image by name (podman's short-name rules), full id or unique id prefix."""
    bare = name[7:] if name.startswith("sha256:") else name
    if reference.is_hex_id(name) and len(bare) >= 3:
        rows = conn.execute("SELECT id FROM images WHERE id LIKE ?", (bare + "%",)).fetchall()
        if len(rows) == 1:
            found = by_id(conn, rows[0][0])
            assert found is not None
            return found
        if len(rows) > 1:
            raise AmbiguousIdError(f"{name}: image id prefix is ambiguous ({len(rows)} images match)")
    try:
        cands = reference.candidates(name, short_names)
    except Exception:
        if name.startswith("sha256:"):
            raise ImageUnknownError(f"{name}: image not known") from None
        raise
    for cand in cands:
        row = conn.execute("SELECT image_id FROM image_names WHERE name=?", (cand,)).fetchone()
        if row:
            found = by_id(conn, row[0])
            if found:
                return found
    # REPO@DIGEST: an image with that manifest digest and a name in that repository
    for cand in cands:
        repo, at, digest = cand.partition("@")
        if not at:
            continue
        for (image_id,) in conn.execute("SELECT id FROM images WHERE digest=?", (digest,)).fetchall():
            names = conn.execute("SELECT name FROM image_names WHERE image_id=?", (image_id,)).fetchall()
            if any(repository(n[0]) == repo for n in names):
                found = by_id(conn, image_id)
                if found:
                    return found
    # A short name matches any stored repository ending in it (podman does the same).
    ref = reference.parse(name).with_default_tag()
    if not ref.qualified:
        suffix = "/" + str(ref)
        rows = conn.execute("SELECT name, image_id FROM image_names WHERE name LIKE ?",
                            ("%" + suffix,)).fetchall()
        ids = {r[1] for r in rows if r[0].endswith(suffix)}
        if len(ids) == 1:
            found = by_id(conn, ids.pop())
            if found:
                return found
    raise ImageUnknownError(f"{name}: image not known")


def name_for(names: Sequence[str], name: str, short_names: reference.ShortNames) -> Optional[str]:
    """Which of an image's names `name` stands for, by lookup's rules (a candidate of the short
    name first, then a stored name ending in it); None when it is none of them (an id, a
    digest)."""
    for cand in reference.candidates(name, short_names):
        if cand in names:
            return cand
    ref = reference.parse(name).with_default_tag()
    if not ref.qualified:
        suffix = "/" + str(ref)
        return next((n for n in sorted(names) if n.endswith(suffix)), None)
    return None


def repository(name: str) -> str:
    """A stored name without its tag or digest: localhost/bb:latest -> localhost/bb."""
    repo = name.split("@", 1)[0]
    head, sep, tag = repo.rpartition(":")
    return head if sep and "/" not in tag else repo


def insert(conn: sqlite3.Connection, image_id: str, config_text: str, layers: list[str], size: int,
           created: float, manifest: Optional[str], digest: Optional[str]) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO images (id, config, manifest, digest, layers, size, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (image_id, config_text, manifest, digest, json.dumps(layers), size, created))


def set_name(conn: sqlite3.Connection, name: str, image_id: str) -> None:
    """Point `name` at image_id, taking it from any other image (as podman's tag does)."""
    conn.execute("INSERT OR REPLACE INTO image_names (name, image_id) VALUES (?, ?)", (name, image_id))


def config_text(conn: sqlite3.Connection, image_id: str) -> str:
    """The config exactly as stored (a pulled image's bytes, whose digest is the image id)."""
    row = conn.execute("SELECT config FROM images WHERE id=?", (image_id,)).fetchone()
    if row is None:
        raise ImageUnknownError(f"{image_id}: image not known")
    return str(row[0])
