"""Where things live and the defaults in force: XDG paths, storage.conf, registries.

Rootless (any user but root):
    store     $XDG_DATA_HOME/podpy            (default ~/.local/share/podpy)
    runtime   $XDG_RUNTIME_DIR/podpy          (when that directory is the user's, mode 0700;
                                               otherwise /tmp/podpy-run-<uid>, checked the same way)
    config    $XDG_CONFIG_HOME/podpy/         (storage.conf, registries.conf: see podpy.registry.conf)
Rootful (root): /var/lib/podpy, /run/podpy and /etc/podpy.

storage.conf is TOML in the shape of containers-storage.conf:
    [storage]
    driver = "overlay"            # overlay | fuse-overlayfs | vfs; unset: chosen automatically
    graphroot = "/path"           # the store
    runroot = "/path"
    [storage.options.overlay]
    mount_program = "/usr/bin/fuse-overlayfs"
"""

from __future__ import annotations

import os
import stat

from . import tomlfile
from .errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from storage.reference import ShortNames

DRIVERS = ("overlay", "fuse-overlayfs", "vfs")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Config:
    """The settings in force for one command."""

    def __init__(self, rootless: bool, root: str, runroot: str, config_dir: str) -> None:
        self.rootless = rootless
        self.root = root
        self.runroot = runroot
        self.config_dir = config_dir
        self.driver: Optional[str] = None    # what the user asked for, None = automatic
        self.driver_source = ""              # where that request came from
        self.mount_program: Optional[str] = None
        self.warnings: list[str] = []
        self._short_names: Optional[ShortNames] = None

    @property
    def short_names(self) -> ShortNames:
        """Search registries and short-name aliases from registries.conf (read once, through its cache)."""
        if self._short_names is None:
            from .registry.conf import short_names

            self._short_names = short_names(self.config_dir, self.runroot if _usable_dir(self.runroot) else None)
        return self._short_names

    @property
    def search_registries(self) -> list[str]:
        """registries.conf's unqualified-search-registries."""
        return list(self.short_names.search)


def _usable_dir(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK)


def _home() -> str:
    home = os.environ.get("HOME")
    if home:
        return home
    import pwd

    return pwd.getpwuid(os.getuid()).pw_dir


def _xdg(var: str, default_rel: str) -> str:
    val = os.environ.get(var)
    if val and os.path.isabs(val):
        return val
    return os.path.join(_home(), default_rel)


def private_dir(path: str) -> bool:
    """True when path is a directory owned by us with no access for others."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not (st.st_mode & 0o077)


def runtime_base() -> str:
    """The user's runtime directory: XDG_RUNTIME_DIR when it is really ours, else /tmp/podpy-run-<uid>."""
    uid = os.getuid()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and private_dir(xdg) and os.access(xdg, os.W_OK):
        return os.path.join(xdg, "podpy")
    fallback = f"/tmp/podpy-run-{uid}"
    try:
        os.mkdir(fallback, 0o700)
    except FileExistsError:
        pass
    if not private_dir(fallback):
        raise InvalidArgument(
            f"runtime directory {fallback} is not a private directory owned by uid {uid} "
            "(set XDG_RUNTIME_DIR to a directory of yours with mode 0700)")
    return os.path.join(fallback, "podpy")


def load(root: Optional[str] = None, runroot: Optional[str] = None,
         storage_driver: Optional[str] = None) -> Config:
    """The configuration in force: flags over storage.conf over defaults."""
    rootless = os.geteuid() != 0
    if rootless:
        config_dir = os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "podpy")
        default_root = os.path.join(_xdg("XDG_DATA_HOME", ".local/share"), "podpy")
    else:
        config_dir = "/etc/podpy"
        default_root = "/var/lib/podpy"
    conf_path = os.path.join(config_dir, "storage.conf")
    storage = tomlfile.table(tomlfile.read(conf_path) or {}, "storage", conf_path)

    def setting(key: str) -> Optional[str]:
        return tomlfile.string(storage, key, conf_path, "storage")

    cfg = Config(
        rootless=rootless,
        root=os.path.abspath(root or setting("graphroot") or default_root),
        runroot="",
        config_dir=config_dir,
    )
    rr = runroot or setting("runroot")
    if rr:
        cfg.runroot = os.path.abspath(rr)
    else:
        cfg.runroot = runtime_base() if rootless else "/run/podpy"
    if storage_driver:
        cfg.driver, cfg.driver_source = storage_driver, "--storage-driver"
    elif setting("driver"):
        cfg.driver, cfg.driver_source = setting("driver"), conf_path
    if cfg.driver is not None and cfg.driver not in DRIVERS:
        raise InvalidArgument(f"unknown storage driver {cfg.driver!r} (from {cfg.driver_source}); "
                              f"choose one of {', '.join(DRIVERS)}")
    options = tomlfile.table(storage, "options", conf_path, "storage")
    overlay = tomlfile.table(options, "overlay", conf_path, "storage.options")
    cfg.mount_program = (tomlfile.string(overlay, "mount_program", conf_path, "storage.options.overlay")
                         or tomlfile.string(options, "mount_program", conf_path, "storage.options"))
    if cfg.mount_program and cfg.driver in (None, "overlay"):
        cfg.driver, cfg.driver_source = "fuse-overlayfs", f"{conf_path} (mount_program)"
    return cfg
