"""The layer cache: a step's key -> the images that step committed.

A key chains the previous step's key (starting from the base image's id) with the step's
instruction after ARG/ENV expansion (its history `created_by`, which for RUN names the
build arguments in scope) and, for COPY and ADD, the content digest of what they read;
RUN --mount adds what it binds. So a rebuild in which nothing changed finds every step,
runs no RUN and copies nothing, and a change anywhere misses from that step on. Entries
are shared by every build and tag of the store. The images behind them are the build's
intermediate images (unnamed, shown by `images -a`); an entry whose image is gone is
dropped when found, and `image prune` / `system prune` drop entries with their images.
"""

from __future__ import annotations

import hashlib
import time
from typing import Optional

from storage import images as img
from storage.db import Database
from storage.images import Image

SCHEMA = (
    """
    CREATE TABLE build_cache (key TEXT NOT NULL, image_id TEXT NOT NULL, created REAL NOT NULL,
                              PRIMARY KEY (key, image_id));
    CREATE INDEX build_cache_by_image ON build_cache(image_id);
    """,
    # what a COPY source's content digest was, by the stat() of every entry it had (see DigestMemo)
    "CREATE TABLE build_sources (signature TEXT PRIMARY KEY, digest TEXT NOT NULL, used REAL NOT NULL)",
)


def step_key(parent: str, created_by: str, digest: str = "") -> str:
    return hashlib.sha256(f"{parent}\n{created_by}\n{digest}".encode("utf-8", "surrogateescape")).hexdigest()


class Cache:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("build", SCHEMA)

    def get(self, key: str) -> Optional[Image]:
        """The newest image a step with this key committed that is still there."""
        rows = self.db.conn.execute("SELECT image_id FROM build_cache WHERE key=? ORDER BY created DESC",
                                    (key,)).fetchall()
        gone = []
        found = None
        for (image_id,) in rows:
            found = img.by_id(self.db.conn, image_id)
            if found is not None:
                break
            gone.append(image_id)
        if gone:
            with self.db.write() as c:
                c.executemany("DELETE FROM build_cache WHERE key=? AND image_id=?", [(key, g) for g in gone])
        return found

    def put(self, key: str, image_id: str) -> None:
        """Remember a step's image (a key may have several: a --no-cache build adds its own)."""
        with self.db.write() as c:
            c.execute("INSERT OR REPLACE INTO build_cache (key, image_id, created) VALUES (?, ?, ?)",
                      (key, image_id, time.time()))


def forget_missing(db: Database) -> int:
    """Drop entries whose image was removed; how many."""
    try:
        with db.write() as c:
            return c.execute("DELETE FROM build_cache WHERE image_id NOT IN (SELECT id FROM images)").rowcount
    except Exception:  # noqa: BLE001 - no build has run on this store: no table
        return 0


class DigestMemo:
    """Content digests of COPY sources remembered by the stat() of their entries.

    A file's content cannot change without its ctime changing (and no program can set a
    ctime), so a tree whose every entry has the same inode, size, mtime and ctime as when
    it was hashed has the same content: a rebuild re-reads no file. What was written in the
    last half second is not remembered, since a second write within the same clock tick
    would leave the times as they were. The digest itself stays the content's: the layer
    cache never keys on times.
    """

    RACY_NS = 500_000_000
    KEEP_SECONDS = 14 * 24 * 3600

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: list[str] = []

    def get(self, signature: str) -> Optional[str]:
        row = self.db.conn.execute("SELECT digest FROM build_sources WHERE signature=?", (signature,)).fetchone()
        if row is not None:
            self.seen.append(signature)
        return None if row is None else str(row[0])

    def put(self, signature: str, digest: str, newest_ctime_ns: int) -> None:
        if newest_ctime_ns > time.time_ns() - self.RACY_NS:
            return
        now = time.time()
        with self.db.write() as c:
            c.execute("INSERT OR REPLACE INTO build_sources (signature, digest, used) VALUES (?, ?, ?)",
                      (signature, digest, now))
            c.execute("DELETE FROM build_sources WHERE used < ?", (now - self.KEEP_SECONDS,))

    def touch(self) -> None:
        """Mark the signatures this build found as used (kept another two weeks)."""
        if self.seen:
            with self.db.write() as c:
                c.executemany("UPDATE build_sources SET used=? WHERE signature=?",
                              [(time.time(), s) for s in self.seen])
