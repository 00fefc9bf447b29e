"""The volumes' table and directories: named (and anonymous) directories under the store
that containers mount (the verbs that remove volumes in use are in volumes.py).

A volume is a row in the `volumes` table and a directory `volumes/NAME/_data` in
the store. `-v NAME:/path` makes it on first use; when it is empty, the image's
content at /path is copied in as the container starts (docker's and podman's
copy-up; `nocopy` skips it). Anonymous volumes come from the image's VOLUME
instructions and from `-v /path`; `rm -v` and `--rm` remove them with their
container. Files the container wrote belong to its ids, so removal runs in the
user namespace.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

from ..errors import InvalidArgument, NoSuchVolume, PodpyError
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

SCHEMA = (
    """
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        created REAL NOT NULL,
        labels TEXT NOT NULL,
        options TEXT NOT NULL,
        anonymous INTEGER NOT NULL DEFAULT 0
    )
    """,
    # no table change: each volume is described by volumes/NAME/volume.json from here
    # (records.py), written for the volumes of an older store by _table
    "SELECT 1",
)


def _table(rt: Runtime) -> sqlite3.Connection:
    rt.state   # the containers' tables first: one migration order for everyone
    had = rt.db.version("volumes")
    rt.db.migrate("volumes", SCHEMA)
    if 0 < had < len(SCHEMA):
        from .records import write_volume

        for r in rt.db.conn.execute("SELECT * FROM volumes").fetchall():
            if os.path.isdir(os.path.dirname(data_dir(rt, r["name"]))):
                write_volume(rt.cfg.root, r["name"], r["created"], json.loads(r["labels"]),
                             json.loads(r["options"]), bool(r["anonymous"]))
    return rt.db.conn


def data_dir(rt: Runtime, name: str) -> str:
    return os.path.join(rt.cfg.root, "volumes", name, "_data")


def _row(rt: Runtime, r: sqlite3.Row) -> dict[str, Any]:
    return {"Name": r["name"], "Driver": "local", "Mountpoint": data_dir(rt, r["name"]),
            "CreatedAt": _stamp(r["created"]), "Labels": json.loads(r["labels"]),
            "Options": json.loads(r["options"]), "Scope": "local", "Anonymous": bool(r["anonymous"])}


def _stamp(t: float) -> str:
    from ..formats import rfc3339

    return rfc3339(t)


def create(rt: Runtime, name: Optional[str], labels: dict[str, str], options: dict[str, str],
           anonymous: bool = False, exist_ok: bool = False) -> str:
    """Make the volume (a random 64-hex name when none); returns its name."""
    from ..options import NAME_RE

    if options:
        raise InvalidArgument(f"unsupported volume options {', '.join(sorted(options))}: "
                              "the local driver takes none here")
    name = name or os.urandom(32).hex()
    if not NAME_RE.match(name):
        raise InvalidArgument(f"invalid volume name {name!r}: letters, digits, _ . - (not first)")
    conn = _table(rt)
    with rt.db.write() as c:
        if c.execute("SELECT 1 FROM volumes WHERE name=?", (name,)).fetchone():
            if exist_ok:
                return name
            raise PodpyError(f"volume with name {name} already exists: volume already exists")
        now = time.time()
        c.execute("INSERT INTO volumes (name, created, labels, options, anonymous) VALUES (?, ?, ?, ?, ?)",
                  (name, now, json.dumps(labels), json.dumps(options), int(anonymous)))
        path = data_dir(rt, name)
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
            from .records import write_volume

            write_volume(rt.cfg.root, name, now, labels, options, anonymous)
        except OSError as exc:
            raise PodpyError(f"creating volume {name}: {exc.strerror}") from exc
    del conn
    from ..events import emit

    emit(rt.cfg.runroot, "volume", "create", name, name)
    return name


def lookup(rt: Runtime, name: str) -> dict[str, Any]:
    conn = _table(rt)
    r = conn.execute("SELECT * FROM volumes WHERE name=?", (name,)).fetchone()
    if r is None:
        rows = conn.execute("SELECT * FROM volumes WHERE name LIKE ?", (name + "%",)).fetchall() if name else []
        if len(rows) != 1:
            raise NoSuchVolume(f"no volume with name \"{name}\" found: no such volume")
        r = rows[0]
    return _row(rt, r)


def all_volumes(rt: Runtime) -> list[dict[str, Any]]:
    conn = _table(rt)
    return [_row(rt, r) for r in conn.execute("SELECT * FROM volumes ORDER BY created").fetchall()]


def users(rt: Runtime, name: str) -> list[Any]:
    """The containers that mount the volume."""
    return [r for r in rt.state.all() if any(m.get("volume") == name for m in r.config.mounts)]


def delete(rt: Runtime, name: str) -> str:
    """Remove a volume's directory and row (its users are the caller's business)."""
    vol = lookup(rt, name)
    path = os.path.dirname(data_dir(rt, vol["Name"]))
    if os.path.lexists(path):
        rt.store.in_userns(_remove_tree, path)
    with rt.db.write() as c:
        c.execute("DELETE FROM volumes WHERE name=?", (vol["Name"],))
    from ..events import emit

    emit(rt.cfg.runroot, "volume", "remove", str(vol["Name"]), str(vol["Name"]))
    return str(vol["Name"])


def _remove_tree(path: str) -> None:
    from storage.fsutil import remove_tree

    remove_tree(path)


def remove_anonymous(rt: Runtime, mounts: list[dict[str, Any]]) -> None:
    """A container's anonymous volumes, when it goes with -v or --rm (unless another uses one)."""
    names = [m["volume"] for m in mounts if m.get("volume") and m.get("anonymous")]
    for name in names:
        try:
            if not users(rt, name):
                delete(rt, name)
        except PodpyError:
            continue


def resolve(rt: Runtime, requested: list[Any], image_volumes: dict[str, Any], uid: int, gid: int
            ) -> list[dict[str, Any]]:
    """The OCI mounts for -v/--mount/--tmpfs (options.Volume) and the image's VOLUMEs that
    none covers: volumes made or found, copy-up and :U marked for the runtime."""
    from ..options import volume_mount

    mounts: list[dict[str, Any]] = []
    taken = {v.destination for v in requested}
    wanted = list(requested) + [_anonymous(os.path.normpath(d)) for d in sorted(image_volumes or {})
                                if os.path.normpath(d) not in taken]
    for v in wanted:
        if v.kind == "volume":
            anonymous = not v.source
            name = create(rt, v.source or None, {}, {}, anonymous=anonymous, exist_ok=True)
            m = volume_mount(v._replace(source=data_dir(rt, name)))
            m["volume"] = name
            if anonymous:
                m["anonymous"] = True
            if "nocopy" not in v.options:
                m["options"].append("podpy.copyup")
        else:
            m = volume_mount(v)
        if "U" in v.options and v.kind != "tmpfs":
            m["options"].append(f"podpy.chown={uid}:{gid}")
        mounts.append(m)
    return mounts


def _anonymous(destination: str) -> Any:
    from ..options import Volume

    return Volume("", destination, (), "volume")
