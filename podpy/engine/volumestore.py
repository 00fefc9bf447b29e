"""The volumes' table and directories: named (and anonymous) directories under the store
that containers mount (the verbs that remove volumes in use are in volumes.py).

A volume is a row in the `volumes` table and a directory `volumes/NAME/_data` in
the store. `-v NAME:/path` makes it on first use; when it is empty, the image's
content at /path is copied in as the container starts (docker's and podman's
copy-up; `nocopy` skips it). The first container to mount a new volume also gives it
an owner (the `fresh` column). Driver options (a tmpfs, a host directory) are
volumeopts.py's. Anonymous volumes come from the image's VOLUME
instructions and from `-v /path`; `rm -v` and `--rm` remove them with their
container. Files the container wrote belong to its ids, so removal runs in the
user namespace.
"""

from __future__ import annotations

import errno
import os
import time

from storage import fastjson as json
from storage.db import sqlite3

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
    # fresh: never mounted yet (the first container's mount takes its owner; see resolve)
    "ALTER TABLE volumes ADD COLUMN fresh INTEGER NOT NULL DEFAULT 0",
    # no table change: each volume is described by volumes/NAME/volume.json from here
    # (records.py), written for the volumes of an older store by _table
    "SELECT 1",
)


def _table(rt: Runtime) -> sqlite3.Connection:
    rt.state   # the containers' tables first: one migration order for everyone
    rt.volume_path   # settled (and recorded) before any transaction of the caller's
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
    """The volume's directory, under the store's volume path (--volumepath; its description,
    volume.json, stays in the store's volumes/NAME)."""
    return os.path.join(rt.volume_path, name, "_data")


def _row(rt: Runtime, r: sqlite3.Row) -> dict[str, Any]:
    from .volumeopts import owner

    options = json.loads(r["options"])
    doc = {"Name": r["name"], "Driver": "local", "Mountpoint": data_dir(rt, r["name"]),
           "CreatedAt": _stamp(r["created"]), "Labels": json.loads(r["labels"]), "Scope": "local",
           "Options": options}
    uid, gid = owner(options)
    if uid is not None:
        doc["UID"] = uid
    if gid is not None:
        doc["GID"] = gid
    if r["anonymous"]:
        doc["Anonymous"] = True   # shown only when true, as podman's
    doc["MountCount"] = 0
    if r["fresh"]:
        doc["NeedsCopyUp"] = True
        if not _owned(options):
            doc["NeedsChown"] = True
    return doc


def _owned(options: dict[str, str]) -> bool:
    """Whether the volume was given an owner at create (then no container's user takes it)."""
    return any(k in ("UID", "GID", "uid", "gid") for k in options)


def _stamp(t: float) -> str:
    from ..formats import rfc3339

    return rfc3339(t)


def create(rt: Runtime, name: Optional[str], labels: dict[str, str], options: dict[str, str],
           anonymous: bool = False, exist_ok: bool = False) -> str:
    """Make the volume (a random 64-hex name when none); returns its name."""
    from ..options import valid_name
    from .volumeopts import parse

    options, uid, gid = parse(options)
    name = name or os.urandom(32).hex()
    if not valid_name(name):
        raise InvalidArgument(f"invalid volume name {name!r}: letters, digits, _ . - (not first)")
    conn = _table(rt)
    with rt.db.write() as c:
        if c.execute("SELECT 1 FROM volumes WHERE name=?", (name,)).fetchone():
            if exist_ok:
                return name
            raise PodpyError(f"volume with name {name} already exists: volume already exists")
        now = time.time()
        c.execute("INSERT INTO volumes (name, created, labels, options, anonymous, fresh) VALUES (?, ?, ?, ?, ?, 1)",
                  (name, now, json.dumps(labels), json.dumps(options), int(anonymous)))
        path = data_dir(rt, name)
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
            if uid is not None or gid is not None:
                rt.store.in_userns(os.chown, path, -1 if uid is None else uid, -1 if gid is None else gid)
            from .records import write_volume

            # its description stays in the store, wherever --volumepath put its data
            os.makedirs(os.path.join(rt.cfg.root, "volumes", name), mode=0o755, exist_ok=True)
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


def created_times(rt: Runtime) -> dict[str, float]:
    """When each volume was made (seconds since the epoch): what `--filter until=` compares."""
    conn = _table(rt)
    return {r["name"]: r["created"] for r in conn.execute("SELECT name, created FROM volumes").fetchall()}


def users(rt: Runtime, name: str) -> list[Any]:
    """The containers that mount the volume."""
    return [r for r in rt.state.all() if any(m.get("volume") == name for m in r.config.mounts)]


def delete(rt: Runtime, name: str) -> str:
    """Remove a volume's directory and row (its users are the caller's business).

    Its row goes in the transaction that moves its directory into a staging directory, which
    is then removed: of two removals at once one finds no row (no such volume), and a removal
    killed before its commit has the directory moved back by the next command (intents)."""
    from storage import intents
    from storage.store import rename_dir

    vol = lookup(rt, name)
    path = os.path.dirname(data_dir(rt, vol["Name"]))
    # the volume's directory, and its record's in the store when --volumepath put the data elsewhere
    wheres = [path] + [p for p in (os.path.join(rt.cfg.root, "volumes", str(vol["Name"])),) if p != path]
    moves = [[f"volume{i}", where] for i, where in enumerate(wheres)]
    elsewhere: list[str] = []
    with rt.store.temporary("volume-rm") as stage:
        try:
            with rt.db.write() as c:
                if not c.execute("DELETE FROM volumes WHERE name=?", (vol["Name"],)).rowcount:
                    raise NoSuchVolume(f"no volume with name \"{vol['Name']}\" found: no such volume")
                intents.write(stage.path, "restore", [], table="volumes", key="name", value=vol["Name"],
                              moves=moves)
                for name, where in moves:
                    if os.path.lexists(where):
                        try:
                            rename_dir(where, os.path.join(stage.path, name))
                        except OSError as exc:
                            if exc.errno != errno.EXDEV:
                                raise
                            elsewhere.append(where)   # --volumepath on another file system
        except BaseException:
            rt.store.settle(stage)
            raise
    for where in elsewhere:   # the row is gone: removed in place
        rt.store.in_userns(_remove_tree, where)
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


def resolve(rt: Runtime, requested: list[Any], image_volumes: dict[str, Any], uid: int, gid: int,
            image_mode: str = "bind") -> list[dict[str, Any]]:
    """The OCI mounts for -v/--mount/--tmpfs (options.Volume) and the image's VOLUMEs that
    none covers (image_mode, --image-volume: bind: anonymous volumes, tmpfs: a tmpfs that
    starts with the image's content, ignore: none): volumes made or found, copy-up and :U
    marked for the runtime."""
    from ..options import volume_mount

    mounts: list[dict[str, Any]] = []
    taken = {v.destination for v in requested}
    extra = [os.path.normpath(d) for d in sorted(image_volumes or {}) if os.path.normpath(d) not in taken]
    if image_mode == "ignore":
        extra = []
    wanted = list(requested) + [_anonymous(d, image_mode == "tmpfs") for d in extra]
    for v in wanted:
        if v.kind == "volume":
            anonymous = not v.source
            name = create(rt, v.source or None, {}, {}, anonymous=anonymous, exist_ok=True)
            m = None if anonymous else _driver_mount(rt, name, v)
            if m is None:
                m = volume_mount(v._replace(source=data_dir(rt, name)))
                m["volume"] = name
            if anonymous:
                m["anonymous"] = True
            first, owned = _first_use(rt, name) if not m.get("refused") else (False, True)
            if first and not owned and (m["type"] == "tmpfs" or m["source"] == data_dir(rt, name)):
                # the first container to mount a volume gives it an owner: the image's
                # directory's (with its mode and times), else the container's user
                m["options"].append(f"podpy.firstuse={uid}:{gid}")
            # the image's content: into an empty directory, into a tmpfs on its first mount
            if "nocopy" not in v.options and not m.get("refused") and (m["type"] == "bind" or first):
                m["options"].append("podpy.copyup")
        else:
            m = volume_mount(v)   # a tmpfs for an image's VOLUME keeps podpy.copyup
        if "U" in v.options and m["type"] == "bind" and not m.get("refused"):
            m["options"].append(f"podpy.chown={uid}:{gid}")
        mounts.append(m)
    return mounts


def _first_use(rt: Runtime, name: str) -> tuple[bool, bool]:
    """Claim a volume's first mount: (whether this is it, once per volume; whether the
    volume was given an owner at create, which it then keeps)."""
    with rt.db.write() as c:
        row = c.execute("SELECT options FROM volumes WHERE name=? AND fresh=1", (name,)).fetchone()
        if row is None:
            return False, False
        c.execute("UPDATE volumes SET fresh=0 WHERE name=?", (name,))
    return True, _owned(json.loads(row["options"]))


def _driver_mount(rt: Runtime, name: str, v: Any) -> Optional[dict[str, Any]]:
    """The mount of a volume made with driver options (a tmpfs, a host directory...); None
    for a plain one."""
    from .volumeopts import mount_for

    options = lookup(rt, name)["Options"]
    if not options:
        return None
    return mount_for(name, data_dir(rt, name), options, v.destination, "ro" in v.options)


def _anonymous(destination: str, tmpfs: bool = False) -> Any:
    """An image's VOLUME: an anonymous volume, or (--image-volume tmpfs) a tmpfs that the
    image's content is copied into."""
    from ..options import Volume

    if tmpfs:
        return Volume("", destination, ("podpy.copyup", "podpy.firstuse=0:0"), "tmpfs")
    return Volume("", destination, (), "volume")
