"""The mounts table's schema, and the one question asked on every command's path: is
anything mounted at all? (The rest is mounts.py's, imported only when something is.)"""

from __future__ import annotations

from storage.db import sqlite3

from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

SCHEMA = (
    """
    CREATE TABLE mounts (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        mountpoint TEXT NOT NULL,
        count INTEGER NOT NULL,
        pid INTEGER,
        pid_start TEXT,
        owner_pid INTEGER,
        owner_start TEXT,
        created REAL NOT NULL,
        PRIMARY KEY (kind, id)
    )
    """,
)

IMAGE = "image"
CONTAINER = "container"


def any_mount(rt: Runtime, kind: Optional[str] = None, ident: Optional[str] = None) -> bool:
    """Whether the store has a mount (of that kind, of that image or container): one query,
    and none made when nothing was ever mounted (no table yet)."""
    sql, args = "SELECT 1 FROM mounts", ()
    if kind is not None:
        sql, args = sql + " WHERE kind=? AND id=?", (kind, ident)
    try:
        return rt.db.conn.execute(sql + " LIMIT 1", args).fetchone() is not None
    except sqlite3.OperationalError:
        return False
