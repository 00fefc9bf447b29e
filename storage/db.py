"""The per-user SQLite database: connection settings, transactions, migrations.

One file holds everything that must survive and be queried (layers, images,
names, and the engine's containers). WAL lets readers run beside one writer;
writes take `BEGIN IMMEDIATE` so two writers queue on the busy timeout instead
of failing half-way with "database is locked"; `synchronous=NORMAL` in WAL mode
keeps commits durable across a crash of the process (not of the machine)
without an fsync per commit. Transactions are short: no layer work is done
while the write lock is held.
"""

from __future__ import annotations

import _thread
import os


def _import_driver():  # type: ignore[no-untyped-def]
    """The driver itself: the sqlite3 package around it only adds datetime's adapters, which
    nothing here uses, for some 1 ms of every command.

    The driver's module takes functools.lru_cache when it is loaded (each connection's
    statement cache is one), and importing functools imports collections, operator,
    reprlib, keyword, itertools and types: some 3 ms of every command, which nothing else
    on the way of `run` needs. When functools is not loaded yet, the driver is given a
    stand-in for the import that offers lru_cache made from the same C cache that
    functools' own lru_cache wraps, and the stand-in is gone from sys.modules again before
    anything else can import functools."""
    import sys

    if "functools" in sys.modules:
        import _sqlite3
        return _sqlite3
    from _functools import _lru_cache_wrapper

    def lru_cache(maxsize: int = 128, typed: bool = False):  # type: ignore[no-untyped-def]
        def decorate(function):  # type: ignore[no-untyped-def]
            return _lru_cache_wrapper(function, maxsize, typed, lambda *info: info)
        return decorate

    stand_in = type(sys)("functools")
    stand_in.lru_cache = lru_cache  # type: ignore[attr-defined]
    sys.modules["functools"] = stand_in
    try:
        import _sqlite3
    except ImportError:
        raise
    except Exception:  # noqa: BLE001 - a driver that wants more of functools: the real one
        if sys.modules.get("functools") is stand_in:
            del sys.modules["functools"]
        import _sqlite3
    finally:
        if sys.modules.get("functools") is stand_in:
            del sys.modules["functools"]
    return _sqlite3


try:
    sqlite3 = _import_driver()
except ImportError:  # pragma: no cover - an interpreter whose driver is not built that way
    import sqlite3  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Sequence

BUSY_TIMEOUT_MS = 60_000

STORAGE_SCHEMA: Sequence[str] = (
    # version 1
    """
    CREATE TABLE layers (
        id TEXT PRIMARY KEY,
        parent TEXT,
        diff_id TEXT NOT NULL,
        compressed_digest TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL
    );
    CREATE TABLE images (
        id TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        manifest TEXT,
        digest TEXT,
        layers TEXT NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL
    );
    CREATE TABLE image_names (
        name TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX image_names_by_image ON image_names(image_id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # version 2: no table changes; every layer and image is described by files beside it
    # (storage/sidecar.py), which the Store writes for a store that had none (Store.__init__).
    "SELECT 1",
    # version 3: who is rewriting records beside the data (records.Rewriting): a writer killed
    # between a record's rename and its transaction's commit leaves its row here, and the next
    # command writes the records again from the database
    "CREATE TABLE IF NOT EXISTS record_writers (token TEXT PRIMARY KEY, pid INTEGER NOT NULL, kind TEXT NOT NULL)",
)

# SQLite's primary result codes that say the file is not a database it can read.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
# Past this size the WAL is checkpointed and truncated when a command is done with the database.
WAL_TIDY_BYTES = 1 << 20

_open: list["Database"] = []


def damaged(exc: BaseException) -> bool:
    """Whether an error from sqlite3 means the database file is damaged (not merely busy)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


def damaged_path() -> str:
    """The database this process opened last (what a damage error is about)."""
    return _open[-1].path if _open else "podpy.db"


def tidy_all() -> None:
    """At the end of a command: each open database's WAL checkpointed into it and truncated,
    when it has grown past WAL_TIDY_BYTES and nobody else is using it (never waits)."""
    for db in _open:
        db.tidy()


class Database:
    """A connection to the user's database with podpy's settings."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        # isolation_level=None: we issue BEGIN ourselves, so reads never hold locks.
        self.conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                    check_same_thread=False)
        self.conn.row_factory = sqlite3.Row   # connect's timeout is the busy timeout
        mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        # A checkpoint that resets the WAL cuts its file back to this, so that a WAL that once
        # grew (readers kept the automatic checkpoint from resetting it) does not stay large.
        self.conn.execute(f"PRAGMA journal_size_limit={WAL_TIDY_BYTES}")
        _open.append(self)
        # One connection may serve several threads (a pull applies layers in
        # parallel): their write transactions take turns on it.
        self._lock = _thread.RLock()
        # each component's schema version as read or migrated here (a command asks twice: before
        # and in its migration)
        self._versions: dict[str, int] = {}

    def write(self) -> _Write:
        """A write transaction for a with block: BEGIN IMMEDIATE ... COMMIT, rolled back on
        error (the block gets the connection)."""
        return _Write(self)

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Bring `component`'s tables to the latest of `migrations` (one script a version)."""
        have = self._version(component)
        if have >= len(migrations):
            return
        with self.write() as c:
            c.execute("CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER)")
            row = c.execute("SELECT version FROM schema_versions WHERE component=?", (component,)).fetchone()
            have = row[0] if row else 0
            for i in range(have, len(migrations)):
                for stmt in migrations[i].split(";"):
                    if stmt.strip():
                        c.execute(stmt)
            c.execute("INSERT OR REPLACE INTO schema_versions VALUES (?, ?)", (component, len(migrations)))
        self._versions[component] = len(migrations)

    def version(self, component: str) -> int:
        """The schema version of component's tables (0: none yet)."""
        return self._version(component)

    def tidy(self) -> None:
        """The WAL back into the database and truncated, if it is past WAL_TIDY_BYTES; without
        waiting: another command that reads or writes makes this one give up (and a later one
        do it)."""
        try:
            if os.stat(self.path + "-wal").st_size <= WAL_TIDY_BYTES:
                return
        except OSError:
            return
        with self._lock:
            try:
                self.conn.execute("PRAGMA busy_timeout=0")
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error:
                pass   # busy or closed: the next command tries again
            finally:
                try:
                    self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                except sqlite3.Error:
                    pass

    def _version(self, component: str) -> int:
        known = self._versions.get(component)
        if known is not None:
            return known
        try:
            row = self.conn.execute(
                "SELECT version FROM schema_versions WHERE component=?", (component,)).fetchone()
        except sqlite3.OperationalError:
            return 0
        version = int(row[0]) if row else 0
        if version:
            self._versions[component] = version   # (none yet: asked again, it may be there by then)
        return version

    def close(self) -> None:
        if self in _open:
            _open.remove(self)
        self.conn.close()


class _Write:
    """Database.write()'s transaction (a class: importing contextlib would cost some 0.7 ms
    of every command)."""

    __slots__ = ("db",)

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db._lock.acquire()
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.db._lock.release()
            raise
        return self.db.conn

    def __exit__(self, kind: Optional[type], exc: Optional[BaseException], tb: Any) -> None:
        try:
            self.db.conn.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self.db._lock.release()
