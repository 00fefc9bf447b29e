"""The secret engine: `secret create`, `ls`, `inspect`, `rm`, and what `--secret` of run and
create takes from it.

A secret is a row in the `secrets` table (id, name, driver, labels, times) and its data in a
file `secrets/filedriver/ID` of the store: the directory 0700, the file 0600, written under a
temporary name and renamed into place before the row is inserted (a failed insert removes it).
The data is never part of a report. As podman's, a container takes a copy of a secret's data
when it is created (into its own directory, with the mode and owner --secret asked for), so
removing a secret does not break the containers made with it.
"""

from __future__ import annotations

import json
import os
import re
import time

from storage.db import sqlite3

from ..errors import InvalidArgument, NameInUse, NoSuchSecret
from .context import Runtime
from .entities import Report, each

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

SCHEMA = (
    """
    CREATE TABLE secrets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        driver TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        labels TEXT NOT NULL
    )
    """,
    # no table change: each secret's row is kept beside its data from here (records.py),
    # written for the secrets of an older store by _table
    "SELECT 1",
)

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9]$|^[a-zA-Z0-9]$")
MAX_SIZE = 512000


def _table(rt: Runtime) -> sqlite3.Connection:
    rt.state   # the containers' tables first: one migration order for everyone
    had = rt.db.version("secrets")
    rt.db.migrate("secrets", SCHEMA)
    if 0 < had < len(SCHEMA):
        from .records import write_secret

        for r in rt.db.conn.execute("SELECT * FROM secrets").fetchall():
            if os.path.exists(os.path.join(data_dir(rt), r["id"])):
                write_secret(rt.cfg.root, dict(r))
    return rt.db.conn


def data_dir(rt: Runtime) -> str:
    return os.path.join(rt.cfg.root, "secrets", "filedriver")


def _ensure_dirs(rt: Runtime) -> str:
    d = data_dir(rt)
    for path in (os.path.dirname(d), d):
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    return d


def check_data(data: bytes) -> None:
    if not 0 < len(data) < MAX_SIZE:
        raise InvalidArgument(f"secret data must be larger than 0 and less than {MAX_SIZE} bytes")


def _document(rt: Runtime, r: sqlite3.Row) -> dict[str, Any]:
    from ..formats import rfc3339

    return {"ID": r["id"], "CreatedAt": rfc3339(r["created"]), "UpdatedAt": rfc3339(r["updated"]),
            "Spec": {"Name": r["name"], "Driver": {"Name": r["driver"], "Options": {"path": data_dir(rt)}},
                     "Labels": json.loads(r["labels"])}}


def _find(rt: Runtime, ident: str) -> sqlite3.Row:
    """A secret by name, full id or unique id prefix (podman's lookup)."""
    c = _table(rt)
    row = c.execute("SELECT * FROM secrets WHERE name = ? OR id = ?", (ident, ident)).fetchone()
    if row is None and ident and re.fullmatch(r"[0-9a-f]+", ident):
        rows = c.execute("SELECT * FROM secrets WHERE id LIKE ?", (ident + "%",)).fetchall()
        row = rows[0] if len(rows) == 1 else None
    if row is None:
        raise NoSuchSecret(f"no secret with name or id {ident!r}: no such secret".replace("'", '"'))
    return row


def read_data(rt: Runtime, ident: str) -> tuple[str, str, bytes]:
    """(id, name, data) of a secret, for --secret."""
    row = _find(rt, ident)
    with open(os.path.join(data_dir(rt), row["id"]), "rb") as f:
        return row["id"], row["name"], f.read()


def _write_data(d: str, sid: str, data: bytes) -> str:
    from storage.fsutil import atomic_file

    path = os.path.join(d, sid)
    with atomic_file(path, 0o600) as f:   # the data, whole or not at all, never readable by others
        f.write(data)
    return path


class SecretEngine:
    """The secret verbs over one store (a Runtime: configuration, database, store)."""

    def __init__(self, rt: Runtime, warn: Optional[Callable[[str], None]] = None) -> None:
        self.rt = rt
        self.warn = warn

    def create(self, name: str, data: bytes, driver: str = "file", labels: Optional[dict[str, str]] = None,
               driver_opts: Optional[dict[str, str]] = None) -> str:
        """`secret create`: the new secret's id."""
        if driver != "file":
            raise InvalidArgument(f"invalid secret driver {driver!r}: podpy has the file driver")
        if driver_opts:
            raise InvalidArgument("--driver-opts: the file driver takes no options")
        if not NAME.match(name):
            raise InvalidArgument("only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character "
                                  f"must be [a-zA-Z0-9]: {name}: invalid secret name")
        check_data(data)
        c = _table(self.rt)
        if c.execute("SELECT 1 FROM secrets WHERE name = ?", (name,)).fetchone():
            raise NameInUse(f"{name}: secret name in use")
        sid = os.urandom(13).hex()[:25]
        path = _write_data(_ensure_dirs(self.rt), sid, data)
        now = time.time()
        try:
            with self.rt.db.write() as w:
                w.execute("INSERT INTO secrets VALUES (?, ?, 'file', ?, ?, ?)",
                          (sid, name, now, now, json.dumps(labels or {})))
                from .records import write_secret

                write_secret(self.rt.cfg.root, {"id": sid, "name": name, "driver": "file", "created": now,
                                                "updated": now, "labels": json.dumps(labels or {})})
        except sqlite3.IntegrityError:
            os.unlink(path)
            raise NameInUse(f"{name}: secret name in use") from None
        except BaseException:
            os.unlink(path)
            from .records import secret_path

            try:
                os.unlink(secret_path(self.rt.cfg.root, sid))
            except FileNotFoundError:
                pass
            raise
        return sid

    def ls(self, filters: list[str]) -> list[dict[str, Any]]:
        """`secret ls`: the secrets' documents that pass every filter (name=, id=), newest first."""
        wanted: dict[str, list[str]] = {}
        for f in filters:
            key, eq, value = f.partition("=")
            if not eq or key not in ("name", "id"):
                raise InvalidArgument(f"invalid filter {f!r}: use name=NAME or id=ID")
            wanted.setdefault(key, []).append(value)
        rows = _table(self.rt).execute("SELECT * FROM secrets ORDER BY created DESC").fetchall()
        out = []
        for r in rows:
            if "name" in wanted and not any(v in r["name"] for v in wanted["name"]):
                continue
            if "id" in wanted and not any(r["id"].startswith(v) for v in wanted["id"]):
                continue
            out.append(_document(self.rt, r))
        return out

    def inspect(self, names: list[str]) -> list[Report]:
        """`secret inspect`: one report per name, its document (never the data) or its error."""
        return each(names, lambda n: _document(self.rt, _find(self.rt, n)))

    def rm(self, names: list[str], all_: bool = False) -> list[Report]:
        """`secret rm`: one report per secret, its id. Containers keep their copies (podman's way)."""
        if bool(names) == all_:
            raise InvalidArgument("`podpy secret rm` requires one argument, or the --all flag")
        if all_:
            names = [r["id"] for r in _table(self.rt).execute("SELECT id FROM secrets ORDER BY created")]

        def one(ident: str) -> str:
            row = _find(self.rt, ident)
            with self.rt.db.write() as w:
                w.execute("DELETE FROM secrets WHERE id = ?", (row["id"],))
            from .records import secret_path

            for path in (secret_path(self.rt.cfg.root, row["id"]), os.path.join(data_dir(self.rt), row["id"])):
                try:
                    os.unlink(path)   # its record first: a record always has its data
                except FileNotFoundError:
                    pass
            return row["id"]
        return each(names, one)


# -- --secret of run and create ---------------------------------------------------------------

def parse_secret(value: str) -> dict[str, Any]:
    """NAME[,type=mount|env][,target=T][,uid=N][,gid=N][,mode=OCTAL] (source=NAME names it too),
    with podman's rules: uid, gid and mode only for type=mount."""
    parts = value.split(",")
    name, spec = parts[0], {"type": "mount", "target": "", "uid": 0, "gid": 0, "mode": 0o444}
    given = set()
    for item in parts[1:]:
        key, eq, v = item.partition("=")
        if not eq:
            raise InvalidArgument(f"option {item} must be in form option=value: parsing secret")
        if key == "type":
            if v not in ("mount", "env"):
                raise InvalidArgument(f"type {v} is invalid: parsing secret")
            spec["type"] = v
        elif key == "target":
            spec["target"] = v
        elif key == "source":
            name = v
        elif key in ("uid", "gid"):
            if not v.isdigit() or int(v) > 0xFFFFFFFE:
                raise InvalidArgument(f"{key.upper()} {v} invalid: parsing secret")
            spec[key] = int(v)
        elif key == "mode":
            try:
                mode = int(v, 8)
            except ValueError:
                mode = -1
            if not 0 <= mode <= 0o777:
                raise InvalidArgument(f"mode {v} invalid: parsing secret")
            spec["mode"] = mode
        else:
            raise InvalidArgument(f"option {item} invalid: parsing secret")
        given.add(key)
    if spec["type"] == "env" and given & {"uid", "gid", "mode"}:
        raise InvalidArgument("UID, GID, Mode options cannot be set with secret type env: parsing secret")
    if not name:
        raise InvalidArgument(f"--secret {value!r}: the secret needs a name: parsing secret")
    spec["name"] = name
    if spec["type"] == "env":
        spec["target"] = spec["target"] or name
        if "=" in spec["target"]:
            raise InvalidArgument(f"--secret {value}: {spec['target']!r} is no variable name: parsing secret")
    else:
        target = spec["target"] or name
        spec["target"] = os.path.normpath(target if target.startswith("/") else "/run/secrets/" + target)
    return spec


def resolve(rt: Runtime, values: list[str]) -> list[tuple[dict[str, Any], bytes]]:
    """--secret values -> (their entries of the container's configuration, the data), checked."""
    out = []
    for value in values:
        if not value:
            continue   # podman ignores an empty --secret
        spec = parse_secret(value)
        sid, name, data = read_data(rt, spec["name"])
        spec.update(id=sid, name=name)
        out.append((spec, data))
    return out


def secret_file(container_dir: str, name: str) -> str:
    return os.path.join(container_dir, "secrets", name)


def install(container_dir: str, secrets: list[tuple[dict[str, Any], bytes]],
            in_userns: Callable[..., Any]) -> None:
    """Write the container's copies (its directory's secrets/NAME), with their modes and owners."""
    d = os.path.join(container_dir, "secrets")
    os.makedirs(d, mode=0o700, exist_ok=True)
    for spec, data in secrets:
        path = _write_data(d, spec["name"], data)
        if spec["type"] == "mount":
            os.chmod(path, spec["mode"])
            if spec["uid"] or spec["gid"]:
                in_userns(os.chown, path, spec["uid"], spec["gid"])


def spec_parts(container_dir: str, secrets: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The container's secret variables and mounts, for its runtime spec."""
    env, mounts = [], []
    for s in secrets:
        path = secret_file(container_dir, s["name"])
        if s["type"] == "env":
            with open(path, "rb") as f:
                env.append(f"{s['target']}={f.read().decode('utf-8', 'surrogateescape')}")
        else:
            mounts.append({"destination": s["target"], "type": "bind", "source": path,
                           "options": ["bind", "ro", "nosuid", "nodev", "noexec", "rprivate"]})
    return env, mounts
