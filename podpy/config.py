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

`--storage-opt KEY=VALUE` flags replace storage.conf's options (podman's rule): podpy applies
[overlay.]mount_program, [overlay.|vfs.]ignore_chown_errors and override_kernel_check (a no-op,
as in containers-storage), and refuses other keys in containers-storage's words.
"""

from __future__ import annotations

import os
import stat

from . import tomlfile
from .errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

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
        self.ignore_chown_errors = False     # layers unpack with every owner squashed where chown fails
        self.storage_opts: Optional[list[str]] = None   # --storage-opt, as given; None: storage.conf's
        self.warnings: list[str] = []
        self._short_names: Optional[ShortNames] = None
        self._container_defaults: Optional[ContainerDefaults] = None
        # What the global flags record beyond the store (globalflags.py says what each does).
        self.events_backend = "file"
        self.tmpdir: Optional[str] = None
        self.cgroup_manager = "cgroupfs"
        self.runtime: Optional[str] = None
        self.runtime_flags: list[str] = []
        self.conmon: Optional[str] = None
        self.network_cmd_path: Optional[str] = None
        self.network_config_dir: Optional[str] = None
        self.namespace: Optional[str] = None     # --namespace: the libpod namespace of this command
        self.hooks_dirs: Optional[list[str]] = None   # --hooks-dir (None: the default directories)
        self.volume_path: Optional[str] = None   # --volumepath: where a new store keeps its volumes

    @property
    def short_names(self) -> ShortNames:
        """Search registries and short-name aliases from registries.conf (read once, through its cache)."""
        if self._short_names is None:
            from .registry.conf import short_names

            self._short_names = short_names(self.config_dir, self.runroot if _usable_dir(self.runroot) else None)
        return self._short_names

    @property
    def container_defaults(self) -> ContainerDefaults:
        """containers.conf's settings for containers (read once, when first asked for)."""
        if self._container_defaults is None:
            self._container_defaults = container_defaults(self.config_dir)
        return self._container_defaults

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


def usable_runtime_dir(path: str) -> bool:
    """XDG_RUNTIME_DIR as podpy takes it: a directory of ours that no one else may write to.
    Others may pass through it (0711: podman makes /run/user/UID so for its network
    namespaces), since podpy's own directory in it is private."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not (st.st_mode & 0o022)
            and os.access(path, os.W_OK))


def runtime_base() -> str:
    """The user's runtime directory: XDG_RUNTIME_DIR when it is really ours, else /tmp/podpy-run-<uid>."""
    uid = os.getuid()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and usable_runtime_dir(xdg):
        own = os.path.join(xdg, "podpy")
        if not private_dir(xdg):   # (others may pass through it: ours must be closed to them)
            try:
                os.mkdir(own, 0o700)
            except FileExistsError:
                if not private_dir(own) and os.lstat(own).st_uid == uid and not os.path.islink(own):
                    os.chmod(own, 0o700)
            except OSError:
                pass
        return own
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


# --module: containers.conf modules loaded after containers.conf, in order (use_modules)
_MODULES: list[str] = []


def module_dirs() -> list[str]:
    """Where a relative --module is looked for, in order (containers.conf(5)'s MODULES, with
    podpy's directories): the user's, then the system's; root has only the system's."""
    dirs = ["/etc/podpy/containers.conf.modules", "/usr/share/podpy/containers.conf.modules"]
    if os.geteuid() != 0:
        dirs.insert(0, os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "podpy", "containers.conf.modules"))
    return dirs


def resolve_module(name: str) -> str:
    """--module NAME: an absolute path as it is, a relative one in module_dirs(); it must be a
    readable file."""
    candidates = [name] if os.path.isabs(name) else [os.path.join(d, name) for d in module_dirs()]
    for path in candidates:
        if os.path.isfile(path):
            if not os.access(path, os.R_OK):
                raise InvalidArgument(f"--module {name}: {path} is not readable")
            return path
    where = "" if os.path.isabs(name) else f" (looked in {', '.join(module_dirs())})"
    raise InvalidArgument(f"could not resolve module {name!r}: no such file{where}")


def use_modules(names: list[str]) -> None:
    """Load these modules (resolved, and read to check them) after containers.conf from now on."""
    paths = [resolve_module(n) for n in names]
    for path in paths:
        tomlfile.read(path)   # a module that is not TOML is refused here, in one line
    _MODULES[:] = paths


CONTAINERS_CONF_ENV = "CONTAINERS_CONF"


def containers_conf_override() -> Optional[str]:
    """$CONTAINERS_CONF: the one containers.conf read in place of the configuration
    directory's (podman 4.3.1's rule: it replaces the user's and the system's files)."""
    return os.environ.get(CONTAINERS_CONF_ENV) or None


def check_containers_conf_override() -> Optional[str]:
    """podman's error line when $CONTAINERS_CONF names no file (the command then stops, exit 1);
    None when it is unset or there."""
    path = containers_conf_override()
    if path is None:
        return None
    try:
        os.stat(path)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        return f"finding config on system: CONTAINERS_CONF file: stat {path}: {reason}"
    return None


def containers_conf_files(config_dir: str) -> list[str]:
    """containers.conf in config_dir (or $CONTAINERS_CONF's file instead), then each --module:
    a later file's setting wins."""
    main = containers_conf_override() or os.path.join(config_dir, "containers.conf")
    return [main, *_MODULES]


def containers_conf_value(config_dir: str, table: str, key: str) -> tuple[Any, Optional[str]]:
    """(the value of [table] key, the file it came from), the last file that sets it winning;
    (None, None) when none does."""
    found: tuple[Any, Optional[str]] = (None, None)
    for path in containers_conf_files(config_dir):
        data = tomlfile.read(path)
        if data is None:
            continue
        value = tomlfile.table(data, table, path).get(key)
        if value is not None:
            found = (value, path)
    return found


class ContainerDefaults:
    """containers.conf's settings for containers that podpy applies (podman 4.3.1's keys):
    [containers] env (every container's variables, under the image's and the user's),
    userns (the default --userns), dns_servers, dns_searches and dns_options (before the
    container's own --dns, --dns-search and --dns-option), base_hosts_file (in place of the
    host's /etc/hosts), host_containers_internal_ip; [engine] infra_image."""

    __slots__ = ("env", "userns", "dns_servers", "dns_searches", "dns_options", "base_hosts_file",
                 "host_containers_internal_ip", "infra_image")

    LISTS = ("env", "dns_servers", "dns_searches", "dns_options")
    STRINGS = ("userns", "base_hosts_file", "host_containers_internal_ip")

    def __init__(self) -> None:
        self.env: list[str] = []
        self.userns = ""
        self.dns_servers: list[str] = []
        self.dns_searches: list[str] = []
        self.dns_options: list[str] = []
        self.base_hosts_file = ""
        self.host_containers_internal_ip = ""
        self.infra_image = ""


def container_defaults(config_dir: str) -> ContainerDefaults:
    """The ContainerDefaults of containers_conf_files(), each file read once, a later file's
    setting winning; a value of another type is refused in one line naming the file."""
    out = ContainerDefaults()
    for path in containers_conf_files(config_dir):
        data = tomlfile.read(path)
        if data is None:
            continue
        containers = tomlfile.table(data, "containers", path)
        for key in ContainerDefaults.LISTS:
            value = tomlfile.strings(containers, key, path, "containers")
            if value is not None:
                setattr(out, key, value)
        for key in ContainerDefaults.STRINGS:
            value = tomlfile.string(containers, key, path, "containers")
            if value is not None:
                setattr(out, key, value)
        image = tomlfile.string(tomlfile.table(data, "engine", path), "infra_image", path, "engine")
        if image is not None:
            out.infra_image = image
    return out


ENGINE_SETTINGS = ("events_backend", "tmpdir", "cgroup_manager", "runtime", "runtime_flags", "conmon",
                   "network_cmd_path", "network_config_dir", "namespace", "volume_path", "hooks_dirs")


def service_socket() -> str:
    """The API service's default socket: $XDG_RUNTIME_DIR/podpy/podpy.sock (`system service`
    listens there; `--remote` talks to it when no service is named)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.join(base, "podpy", "podpy.sock")


def config_dir() -> str:
    """podpy's configuration directory: $XDG_CONFIG_HOME/podpy for a user (and inside `podpy
    unshare`), /etc/podpy for root (where load() reads storage.conf and containers.conf)."""
    if os.geteuid() != 0 or os.environ.get("_PODPY_USERNS_CONFIGURED"):
        return os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "podpy")
    return "/etc/podpy"


def load(root: Optional[str] = None, runroot: Optional[str] = None, storage_driver: Optional[str] = None,
         storage_opts: Optional[list[str]] = None, engine: Optional[dict[str, Any]] = None) -> Config:
    """The configuration in force: flags over storage.conf over defaults. storage_opts (the
    --storage-opt flags, None when none was given) replace storage.conf's options, as podman's
    do; engine: the other global flags' values (ENGINE_SETTINGS), recorded."""
    rootless = os.geteuid() != 0
    # inside `podpy unshare`: root of the user's own namespace, over the user's store
    inside = not rootless and os.environ.get("_PODPY_USERNS_CONFIGURED") and os.environ.get("PODPY_GRAPHROOT")
    if rootless:
        config_dir = os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "podpy")
        default_root = os.path.join(_xdg("XDG_DATA_HOME", ".local/share"), "podpy")
    elif inside:
        config_dir = os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "podpy")
        default_root = os.environ["PODPY_GRAPHROOT"]
        runroot = runroot or os.environ.get("PODPY_RUNROOT") or None
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
    for key, value in (engine or {}).items():
        if key not in ENGINE_SETTINGS:
            raise TypeError(f"config.load: unknown engine setting {key!r}")
        setattr(cfg, key, value)
    if storage_opts is not None:
        cfg.storage_opts = [o for o in storage_opts if o]
        _storage_options(cfg, cfg.storage_opts)
        source = "--storage-opt"
    else:
        options = tomlfile.table(storage, "options", conf_path, "storage")
        overlay = tomlfile.table(options, "overlay", conf_path, "storage.options")
        cfg.mount_program = (tomlfile.string(overlay, "mount_program", conf_path, "storage.options.overlay")
                             or tomlfile.string(options, "mount_program", conf_path, "storage.options"))
        source = conf_path
    if cfg.mount_program and cfg.driver in (None, "overlay"):
        cfg.driver, cfg.driver_source = "fuse-overlayfs", f"{source} (mount_program)"
    return cfg


# containers-storage's option names per driver family (after the "overlay.", "overlay2.", "vfs."
# or "." prefix), and the ones podpy's drivers apply; the others are refused in one line.
OVERLAY_OPTIONS = ("override_kernel_check", "mountopt", "size", "imagestore", "additionalimagestore",
                   "additionallayerstore", "mount_program", "skip_mount_home", "ignore_chown_errors", "force_mask")
VFS_OPTIONS = ("imagestore", "ostree_repo", "mountopt", "ignore_chown_errors")
APPLIED = ("mount_program", "ignore_chown_errors", "override_kernel_check")
_BOOLS = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}


def _storage_options(cfg: Config, opts: list[str]) -> None:
    """Apply --storage-opt KEY=VALUE options, with containers-storage's names and messages.

    The family (overlay or vfs) is the key's prefix's, or for "." and bare keys the
    configured driver's (overlay when none is configured: the automatic choice starts there)."""
    for opt in opts:
        key, eq, value = opt.partition("=")
        if not eq:
            raise InvalidArgument(f"unable to parse key/value option: {opt}")
        low = key.lower()
        family = "vfs" if cfg.driver == "vfs" else "overlay"
        name = low
        for prefix, fam in (("overlay.", "overlay"), ("overlay2.", "overlay"), ("vfs.", "vfs"), (".", family)):
            if low.startswith(prefix):
                name, family = low[len(prefix):], fam
                break
        if family == "vfs" and cfg.driver not in (None, "vfs") or family == "overlay" and cfg.driver == "vfs":
            raise (InvalidArgument(f"vfs driver does not support {low} options") if cfg.driver == "vfs"
                   else InvalidArgument(f"overlay: Unknown option {key}"))
        if family == "vfs" and name == "mountopt":
            raise InvalidArgument("vfs driver does not support mount options")
        if family == "vfs" and name not in VFS_OPTIONS:
            raise InvalidArgument(f"vfs driver does not support {low} options")
        if family == "overlay" and name not in OVERLAY_OPTIONS:
            raise InvalidArgument(f"overlay: Unknown option {key}")
        if name not in APPLIED:
            raise InvalidArgument(f"--storage-opt {key}: podpy's storage drivers do not support {name} yet")
        if name == "mount_program":
            if value:
                try:
                    os.stat(value)
                except OSError as exc:
                    raise InvalidArgument(f'{family}: can\'t stat program "{value}": {exc.strerror}') from None
            cfg.mount_program = value or None
        elif name == "ignore_chown_errors":
            if value.lower() not in _BOOLS:
                raise InvalidArgument(f"--storage-opt {key}: invalid boolean {value!r}")
            cfg.ignore_chown_errors = _BOOLS[value.lower()]
