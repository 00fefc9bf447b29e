"""Reading a database that may be damaged, and putting a rebuilt one in its place.

`read_old` takes what SQLite can still read, table by table: a damaged page costs the rows
of its table, not the rest. `replace` keeps the old database (with its WAL) beside the new
one under a name with the time, and never deletes it.
"""

from __future__ import annotations

import os
import time

from .db import sqlite3

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional


class OldDatabase:
    """What could be read of a database: its problem (None when it reads well), its tables'
    rows (only the tables that could be read whole) and its schema versions."""

    def __init__(self) -> None:
        self.exists = False
        self.problem: Optional[str] = None
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.versions: dict[str, int] = {}


def read_old(path: str, quick: bool = False) -> OldDatabase:
    old = OldDatabase()
    if not os.path.exists(path):
        return old
    old.exists = True
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=5)
    except sqlite3.Error as exc:
        old.problem = str(exc)
        return old
    try:
        conn.row_factory = sqlite3.Row
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        except sqlite3.Error as exc:
            old.problem = str(exc)
            return old
        if not quick:
            try:
                rows = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
                if rows != ["ok"]:
                    lines = [line for r in rows for line in str(r).splitlines() if not line.startswith("***")]
                    detail = lines[0] if lines else str(rows[0])
                    old.problem = f"database disk image is malformed: {detail}"
            except sqlite3.Error as exc:
                old.problem = str(exc)
        for name in names:
            try:
                old.tables[name] = [dict(r) for r in conn.execute(f'SELECT * FROM "{name}"')]
            except sqlite3.Error as exc:
                old.problem = old.problem or f"table {name}: {exc}"
        for r in old.tables.get("schema_versions", []):
            old.versions[str(r["component"])] = int(r["version"])
    finally:
        conn.close()
    return old


def aside_name(path: str) -> str:
    """Where a database is kept when a rebuilt one takes its place: beside it, with the time."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"{path}.damaged-{stamp}"
    n = 1
    while os.path.lexists(name):
        n += 1
        name = f"{path}.damaged-{stamp}-{n}"
    return name


def replace(path: str, new: str) -> Optional[str]:
    """Put the database `new` at path; the one there before (and its WAL and shared memory
    files) is renamed aside. Returns the old one's new name (None when there was none)."""
    aside = None
    if os.path.lexists(path):
        aside = aside_name(path)
        os.rename(path, aside)
    for suffix in ("-wal", "-shm"):
        if os.path.lexists(path + suffix):
            os.rename(path + suffix, (aside or aside_name(path)) + suffix)
    os.replace(new, path)
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return aside
