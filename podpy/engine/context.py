"""The engine's context: configuration, the database, the store and the state, opened
once per command (the bottom of the engine: it imports no other engine module).

The storage driver is chosen once per store and remembered in the database, so
the probe (a test overlay mount in a user namespace) runs only on first use. The
user's id mappings (/etc/subuid, /etc/subgid) are read once per command, here: the
store's user namespaces, create's checks and the runtime specs all take them from
the Runtime.
"""

from __future__ import annotations

import _thread
import os

from .. import config as config_mod
from .. import events
from ..errors import DatabaseUnreadable, EngineError, InvalidArgument, translate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from rootless.userns import IdMappings
    from storage.db import Database
    from storage.drivers.base import Choice, Driver
    from storage.store import Store

    from ..state import State

# The database, the store and the state are imported where they are first opened: a `run`
# forks its container's stage 1 (rootless/ahead.py) before it needs them, and the sooner it
# can, the sooner that stage 1's user namespace is ready.


class cached_property:
    """functools.cached_property (computed once per instance, under a lock, then read from the
    instance's __dict__), written here: importing functools would cost every command the
    import of collections (storage/named.py says more)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__
        self.lock = _thread.RLock()

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Optional[type] = None) -> Any:
        if obj is None:
            return self
        values = obj.__dict__
        if self.name in values:
            return values[self.name]
        with self.lock:
            if self.name not in values:
                values[self.name] = self.fn(obj)
            return values[self.name]


def in_userns_for(rootless: bool, mappings: Callable[[], Optional[IdMappings]]) -> Callable[..., Any]:
    """How storage runs work that touches container-owned files (mappings: the command's,
    asked for when a user namespace is first made)."""
    if not rootless:
        return lambda fn, *args: fn(*args)

    def run(fn: Callable[..., Any], *args: Any) -> Any:
        from rootless.inuserns import run_in_userns   # when first needed: most commands never are

        return run_in_userns(fn, *args, mappings=mappings())

    return run


def make_driver(name: str, rootless: bool, mount_program: Optional[str]) -> Driver:
    from storage.drivers.overlay import FuseOverlayDriver, OverlayDriver

    if name == "overlay":
        return OverlayDriver(rootless)
    if name == "fuse-overlayfs":
        return FuseOverlayDriver(rootless, mount_program)
    if name == "vfs":
        from storage.drivers.vfs import VfsDriver

        return VfsDriver()
    raise InvalidArgument(f"unknown storage driver {name!r}")


def store_overlay_refusal(root: str, rootless: bool) -> Optional[str]:
    """None when kernel overlay mounts work for layers in the store at root (tried now, in a
    user namespace when rootless); otherwise why not."""
    from rootless.probe import overlay_refusal
    from storage.staging import Staging

    # A staging directory, so that another command's clean-up leaves it alone while we probe.
    stage = Staging(root, "probe")
    try:
        return overlay_refusal(os.path.join(stage.path, "overlay"), rootless)
    finally:
        try:
            os.rmdir(stage.path)
        except OSError:
            pass  # collected by the next command
        stage.release()


class Runtime:
    """The engine's context for one command; its parts are opened on first use."""

    def __init__(self, cfg: config_mod.Config) -> None:
        self.cfg = cfg
        self.specs: Any = None   # the command's spec builder (engine/spec.py's builder()), made on first use
        self.records_upgraded = False   # this command wrote the files of an older store's containers
        # The event log is written from many verbs that know only the runroot: its backend and
        # place are this process's, set here from the configuration (--events-backend, --tmpdir).
        events.configure(cfg.events_backend, cfg.tmpdir)

    @cached_property
    def id_mappings(self) -> IdMappings:
        """The user's default user namespace: the user as 0, then the subordinate ids (with a
        warning when there are none). Read once per command."""
        from rootless.userns import default_mappings

        return default_mappings()

    @property
    def userns_mappings(self) -> Optional[IdMappings]:
        """The mappings of the user namespaces this command makes; None as root (none made)."""
        return self.id_mappings if self.cfg.rootless else None

    @classmethod
    def open(cls, root: Optional[str] = None, runroot: Optional[str] = None, storage_driver: Optional[str] = None,
             storage_opts: Optional[list[str]] = None, engine: Optional[dict[str, Any]] = None) -> "Runtime":
        return cls(config_mod.load(root, runroot, storage_driver, storage_opts, engine))

    @cached_property
    def db(self) -> Database:
        from storage.db import Database

        path = os.path.join(self.cfg.root, "podpy.db")
        try:
            return Database(path)
        except Exception as exc:  # noqa: BLE001
            from storage.db import damaged
            from storage.errors import DatabaseDamaged

            if damaged(exc):
                raise DatabaseUnreadable(str(DatabaseDamaged(path, str(exc)))) from exc
            raise EngineError(f"opening the database in {self.cfg.root}: {exc}") from exc

    @cached_property
    def driver_choice(self) -> Choice:
        from storage.drivers.base import Choice

        cfg = self.cfg
        row = None
        try:
            row = self.db.conn.execute("SELECT key, value FROM meta WHERE key IN ('driver', 'driver_reason')"
                                       ).fetchall()
        except DatabaseUnreadable:
            raise
        except Exception as exc:  # noqa: BLE001 - no tables yet
            from storage.db import damaged

            if damaged(exc):
                raise translate(exc) from exc
            row = None
        stored = {r[0]: r[1] for r in row or []}
        if cfg.driver:
            if stored.get("driver") == cfg.driver:
                return Choice(cfg.driver, stored.get("driver_reason") or f"set by {cfg.driver_source}",
                              "driver_reason" in stored)
            return Choice(cfg.driver, f"set by {cfg.driver_source}")
        if "driver" in stored:
            return Choice(stored["driver"], stored.get("driver_reason", "chosen when the store was created"),
                          "driver_reason" in stored)
        return self._probe()

    def overlay_refusal(self) -> Optional[str]:
        """None when kernel overlay mounts work for layers in this store (tried now, in a user
        namespace when rootless); otherwise why not."""
        return store_overlay_refusal(self.cfg.root, self.cfg.rootless)

    def _probe(self) -> Choice:
        from rootless.probe import fuse_refusal
        from storage.drivers.base import Choice

        why_not = self.overlay_refusal()
        if why_not is None:
            how = "in the user namespace with userxattr" if self.cfg.rootless else "as root"
            return Choice("overlay", f"kernel overlayfs works {how}")
        fuse_why = fuse_refusal()
        if fuse_why is None:
            return Choice("fuse-overlayfs", f"kernel overlay refused ({why_not}); fuse-overlayfs works")
        return Choice("vfs", f"kernel overlay refused ({why_not}) and {fuse_why}: copying layers")

    @cached_property
    def volume_path(self) -> str:
        """Where the store's volumes live (NAME/_data under it): the one recorded in the database
        when the store's volumes were first used; otherwise --volumepath, containers.conf's
        [engine] volume_path, or the store's volumes/ directory, recorded then (as podman's
        database keeps the volume path it was made with, and prefers it to a later flag)."""
        self.store   # the storage tables (meta among them) first
        row = self.db.conn.execute("SELECT value FROM meta WHERE key='volume_path'").fetchone()
        if row is not None:
            return str(row[0])
        default = os.path.join(self.cfg.root, "volumes")
        wanted = self.cfg.volume_path or _conf_volume_path(self.cfg.config_dir) or default
        wanted = os.path.abspath(wanted)
        if os.path.isdir(default) and any(not n.startswith(".") for n in os.listdir(default)):
            wanted = default   # a store that has volumes already keeps them where they are
        with self.db.write() as c:
            c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('volume_path', ?)", (wanted,))
            row = c.execute("SELECT value FROM meta WHERE key='volume_path'").fetchone()
        return str(row[0])

    @cached_property
    def store(self) -> Store:
        from storage.store import Store

        choice = self.driver_choice
        try:
            in_userns = in_userns_for(self.cfg.rootless, lambda: self.userns_mappings)
            store = Store(self.cfg.root, make_driver(choice.name, self.cfg.rootless, self.cfg.mount_program),
                          rootless=self.cfg.rootless, in_userns=in_userns, db=self.db)
            if not choice.recorded:  # the first command on a store records why its driver was chosen
                with self.db.write() as c:
                    c.execute("INSERT OR IGNORE INTO meta VALUES ('driver_reason', ?)", (choice.reason,))
        except Exception as exc:  # noqa: BLE001
            raise translate(exc) from exc
        return store

    def release_claims(self) -> None:
        """What this runtime's commands claimed in the store (layers installed or held for an
        image) settled now: for a long-lived process (the API service) at the end of each
        request, as every CLI command does when it ends."""
        store = self.__dict__.get("store")
        if store is not None:
            store.release_claims()

    def close(self) -> None:
        """Everything this runtime opened let go: its claims settled (release_claims) and its
        database connection closed, with the store and state over it (a later use opens them
        again). A CLI command's process ends instead; the API service calls this at the end of
        each request (without it, each request would keep a connection and its two files open)."""
        try:
            self.release_claims()
        finally:
            self.__dict__.pop("state", None)
            self.__dict__.pop("store", None)
            db = self.__dict__.pop("db", None)
            if db is not None:
                db.close()

    @cached_property
    def state(self) -> State:
        from ..state import RECORDS_SINCE, State

        self.store  # the storage tables first: one migration order for everyone
        had = self.db.version("containers")
        state = State(self.db, self.cfg.namespace or "")
        if 0 < had < RECORDS_SINCE:
            from .records import write_container

            for rec in state.all():   # a store made before containers were described in files
                write_container(self.cfg.root, rec)
            self.records_upgraded = True   # reconcile has the volumes, networks and secrets follow
        return state

    def container_run_dir(self, cid: str) -> str:
        return os.path.join(self.cfg.runroot, "containers", cid)


def _conf_volume_path(config_dir: str) -> str | None:
    """containers.conf's [engine] volume_path in podpy's configuration directory (or a
    --module's), if set."""
    from .. import tomlfile
    from ..config import containers_conf_value

    value, path = containers_conf_value(config_dir, "engine", "volume_path")
    if path is None:
        return None
    return tomlfile.string({"volume_path": value}, "volume_path", path, "engine")
