"""podman's global flags: parsed before the command on both entry paths (the fast path of
run/create/exec and typer's), checked, and applied to this process.

`podpy [GLOBAL FLAGS] COMMAND ...`: the flags before the first word that is not one are
parsed here from TABLE, with pflag's rules (`--root x`, `--root=x`, `-c x`, `--noout`,
`--noout=false`); typer only lists them in `podpy --help` (tree.py) and never parses them.
The PERSISTENT ones podman also takes after the command: lift() takes them out of a typer
command's words, runargs.parse() out of run/create/exec's options (before the image).
What each does in podpy:

    --root, --runroot, --storage-driver   where the store is and how layers are mounted
    --storage-opt KEY=VALUE               driver options (config.py): they replace storage.conf's
    --events-backend file|journald|none   journald falls back to file (podpy has no journald writer)
    --tmpdir PATH                         the event log goes to PATH/events/events.log, as podman's
    --log-level LEVEL                     warn by default; error and above drop warnings
    --noout                               what podpy prints goes to /dev/null (not a container's output)
    --syslog                              messages go to syslog too (/dev/log must exist)
    --cgroup-manager cgroupfs|systemd     podpy manages cgroups itself: systemd falls back, as podman
                                          does without a systemd session
    --runtime, --runtime-flag             recorded (info's host.ociRuntime); podpy is its own runtime
    --conmon, --network-cmd-path,         accepted and shown by info; podpy's monitor, its PATH
    --network-config-dir                  lookup of slirp4netns/pasta and its database stand in
    --namespace NAME                      libpod's namespaces: new containers join NAME, and only
                                          NAME's are listed or found (State)
    --volumepath PATH                     where a new store's volumes live (then recorded: an
                                          existing store keeps its own, as podman's database does)
    --hooks-dir PATH                      OCI hook files for the containers started (engine/hooks.py)
    -r/--remote, --url, -c/--connection   the command talks to an API service (podpy/remote/):
    --identity, --ssh                     --url's, a connection's, $CONTAINER_HOST's or
                                          $CONTAINER_CONNECTION's, else the default connection's,
                                          else the user's own podpy socket

Nothing here imports more than the standard library's os and sys: the fast path reads this module.
"""

from __future__ import annotations

import os
import sys

from ..errors import InvalidArgument, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..engine.context import Runtime

VALUE, MULTI, FLAG = "value", "multi", "flag"
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic")
EVENTS_BACKENDS = ("file", "journald", "none")
CGROUP_MANAGERS = ("cgroupfs", "systemd")
JOURNAL_SOCKET = "/run/systemd/journal/socket"
SYSLOG_SOCKETS = ("/dev/log", "/var/run/syslog", "/var/run/log")

# (flags, Globals attribute (None: refused, see refusals.FLAGS[""]), kind, metavar, help)
TABLE: tuple[tuple[tuple[str, ...], Optional[str], str, str, str], ...] = (
    (("--root",), "root", VALUE, "PATH", "Storage root directory (images, layers, containers, volumes)."),
    (("--runroot",), "runroot", VALUE, "PATH", "Runtime state directory."),
    (("--storage-driver",), "storage_driver", VALUE, "DRIVER", "overlay, fuse-overlayfs or vfs."),
    (("--storage-opt",), "storage_opts", MULTI, "KEY=VALUE",
     "Storage driver option (overlay.mount_program=PATH, ignore_chown_errors=BOOL); replaces storage.conf's "
     "options, \"\" clears them."),
    (("--events-backend",), "events_backend", VALUE, "BACKEND",
     "file (default), journald (file where podpy cannot use the journal) or none."),
    (("--log-level",), "log_level", VALUE, "LEVEL",
     "trace, debug, info, warn (default), warning, error, fatal or panic."),
    (("--module",), "modules", MULTI, "PATH",
     "Load this containers.conf module after containers.conf (podman 4.8's flag; repeatable)."),
    (("--noout",), "noout", FLAG, "", "Discard what podpy prints on stdout (a container's output stays)."),
    (("--syslog",), "syslog", FLAG, "", "Send podpy's messages to syslog as well as to stderr."),
    (("--cgroup-manager",), "cgroup_manager", VALUE, "MANAGER",
     "cgroupfs (podpy's own); systemd falls back to cgroupfs with a warning."),
    (("--runtime",), "runtime", VALUE, "NAME", "Recorded and shown by info: podpy runs containers itself."),
    (("--runtime-flag",), "runtime_flags", MULTI, "FLAG", "Recorded and shown by info: podpy's runtime takes none."),
    (("--tmpdir",), "tmpdir", VALUE, "PATH", "Keep the event log in PATH/events (default: the runroot)."),
    (("--network-config-dir",), "network_config_dir", VALUE, "PATH",
     "Accepted and shown by info: podpy keeps its networks in its database."),
    (("--conmon",), "conmon", VALUE, "PATH", "Accepted and shown by info: podpy's own monitor supervises containers."),
    (("--network-cmd-path",), "network_cmd_path", VALUE, "PATH",
     "Accepted and shown by info: podpy finds slirp4netns and pasta on PATH."),
    (("--hooks-dir",), "hooks_dirs", MULTI, "PATH",
     "A directory of OCI hook files (repeatable; default: the system's hook directories that exist)."),
    (("--namespace",), "namespace", VALUE, "NAME",
     "Work in this namespace: its containers only, and new containers join it."),
    (("--volumepath",), "volume_path", VALUE, "PATH",
     "Where a new store keeps its volumes (an existing store keeps the one it has)."),
    (("-c", "--connection"), "connection", VALUE, "NAME",
     "Talk to the service of this connection (`system connection`; CONTAINER_CONNECTION); implies --remote."),
    (("--identity",), "identity", VALUE, "PATH", "The ssh key of an ssh:// service (CONTAINER_SSHKEY)."),
    (("-r", "--remote"), "remote", FLAG, "", "Talk to a podpy or podman API service instead of the local store."),
    (("--url",), "url", VALUE, "URL",
     "The service: unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]/PATH (CONTAINER_HOST); "
     "implies --remote."),
    (("--ssh",), "ssh", VALUE, "MODE", "golang or native: podpy always uses the system's ssh client."),
    (("-h", "--help"), "help", FLAG, "", "Show this message and exit."),
    (("-v", "--version"), "version", FLAG, "", "Print the version and exit."),
)
_INDEX = {flag: row for row in TABLE for flag in row[0]}
_TRUE = ("1", "t", "true")
_FALSE = ("0", "f", "false")


class Globals:
    """The global flags of one command line (defaults: podman's, as podpy applies them)."""

    def __init__(self, root: Optional[str] = None, runroot: Optional[str] = None,
                 storage_driver: Optional[str] = None) -> None:
        self.root = root
        self.runroot = runroot
        self.storage_driver = storage_driver
        self.storage_opts: Optional[list[str]] = None   # None: storage.conf's options
        self.events_backend = "file"
        self.log_level = "warn"
        self.noout = False
        self.syslog = False
        self.cgroup_manager = "cgroupfs"
        self.runtime: Optional[str] = None
        self.runtime_flags: list[str] = []
        self.tmpdir: Optional[str] = None
        self.network_config_dir: Optional[str] = None
        self.conmon: Optional[str] = None
        self.network_cmd_path: Optional[str] = None
        self.namespace: Optional[str] = None
        self.volume_path: Optional[str] = None
        self.hooks_dirs: Optional[list[str]] = None
        self.remote = False              # --remote, --url, --connection: a service's engine (is_remote)
        self.url: Optional[str] = None
        self.connection: Optional[str] = None
        self.identity: Optional[str] = None
        self.ssh: Optional[str] = None
        self._client: Any = None
        self.modules: list[str] = []     # --module: containers.conf modules, resolved by check()
        self.help = False
        self.version = False
        self.warnings: list[str] = []   # what check() found to warn about, printed by apply()

    def engine_settings(self) -> dict[str, Any]:
        """What the engine records of the global flags (config.Config's fields of the same names)."""
        return {"events_backend": self.events_backend, "tmpdir": self.tmpdir, "cgroup_manager": self.cgroup_manager,
                "runtime": self.runtime, "runtime_flags": list(self.runtime_flags), "conmon": self.conmon,
                "network_cmd_path": self.network_cmd_path, "network_config_dir": self.network_config_dir,
                "namespace": self.namespace, "volume_path": self.volume_path, "hooks_dirs": self.hooks_dirs}

    def is_remote(self) -> bool:
        """Whether the command talks to a service: --remote, --url or --connection given, or
        CONTAINER_HOST or CONTAINER_CONNECTION set (podman's rule)."""
        return bool(self.remote or self.url or self.connection or "CONTAINER_HOST" in os.environ
                    or "CONTAINER_CONNECTION" in os.environ)

    def remote_engine(self, kind: str, command: str, warn: Any = None, progress: Any = None) -> Any:
        """The remote engine of a kind (podpy/remote/), over one client per command line."""
        from .. import remote

        if self._client is None:
            self._client = remote.connect(self.url, self.connection, self.identity)
        return remote.engine(self._client, kind, command, warn or (lambda _line: None), progress)

    def open_runtime(self) -> Runtime:
        """The engine's Runtime for this command line."""
        from ..engine.context import Runtime
        from . import render

        rt = Runtime.open(self.root, self.runroot, self.storage_driver, self.storage_opts, self.engine_settings())
        if render.enabled("debug"):
            cfg = rt.cfg
            for line in (f"Using graph root {cfg.root}", f"Using run root {cfg.runroot}",
                         (f"Using storage driver {cfg.driver} (set by {cfg.driver_source})" if cfg.driver
                          else "Using the store's storage driver (chosen when the store was made)"),
                         f"Using events backend {cfg.events_backend}",
                         f"Using runtime {cfg.runtime or 'podpy'} (podpy runs containers itself)"):
                render.debug(line)
        return rt

    def check(self) -> None:
        """Refuse bad values in one line (nothing has been done yet); note what falls back."""
        if self.ssh is not None and self.ssh not in ("golang", "native"):
            raise InvalidArgument(f"--ssh {_go_quote(self.ssh)}: choose golang or native")
        if self.log_level.lower() not in LOG_LEVELS:
            # podman prints this one without `Error: ` and exits 1
            raise UsageError(f"Log Level {_go_quote(self.log_level)} is not supported, choose from: "
                             + ", ".join(LOG_LEVELS), bare=True, exit_code=1)
        self.log_level = self.log_level.lower()
        if self.events_backend not in EVENTS_BACKENDS:
            raise InvalidArgument(f"{_go_quote(self.events_backend)} is not a valid events backend: "
                                  "choose from file, journald, none")
        if self.cgroup_manager not in CGROUP_MANAGERS:
            raise InvalidArgument("cgroup manager must be one of cgroupfs and systemd")
        if self.modules:
            from .. import config

            config.use_modules(self.modules)
        if self.syslog and not any(_is_socket(p) for p in SYSLOG_SOCKETS):
            raise InvalidArgument("Failed to initialize syslog hook: Unix syslog delivery error")
        if self.events_backend == "journald":
            self.events_backend = "file"
            if _is_socket(JOURNAL_SOCKET):
                self.warnings.append("podpy cannot write events to the journal yet: "
                                     "Falling back to --events-backend=file")
            else:
                self.warnings.append(f"The journald events backend needs the journal, and {JOURNAL_SOCKET} "
                                     "does not exist")
                self.warnings.append("Falling back to --events-backend=file")
        if self.cgroup_manager == "systemd":
            self.cgroup_manager = "cgroupfs"
            if os.geteuid() != 0 and not _systemd_user_session():
                self.warnings += [
                    "The cgroupv2 manager is set to systemd but there is no systemd user session available",
                    "For using systemd, you may need to login using an user session",
                    f"Alternatively, you can enable lingering with: `loginctl enable-linger {os.getuid()}` "
                    "(possibly as root)",
                    "Falling back to --cgroup-manager=cgroupfs"]
            else:
                self.warnings += ["podpy manages cgroups itself: the systemd cgroup manager is not available yet",
                                  "Falling back to --cgroup-manager=cgroupfs"]

    def apply(self, argv: list[str]) -> None:
        """This process's side of the flags: the log level, syslog, --noout, the fall-back warnings."""
        from . import render

        render.set_level(self.log_level)
        if self.syslog:
            import syslog

            syslog.openlog("podpy", syslog.LOG_PID, syslog.LOG_USER)
            render.set_syslog(syslog.syslog)
        render.info(f"podpy filtering at log level {self.log_level}")
        render.debug(f"Called podpy ({' '.join(['podpy', *argv])})")
        for line in self.warnings:
            render.warn(line)
        if self.noout:
            # What podpy prints goes nowhere; a foreground container's own output still reaches
            # the standard output it inherits, as with podman's --noout.
            sys.stdout = open(os.devnull, "w")


# The flags podman also takes after the command (cobra's persistent flags): `podpy images
# --root DIR` is `podpy --root DIR images`. The rest (--noout, --version, the remote
# connection's) are the root command's own.
PERSISTENT = frozenset(("--root", "--runroot", "--storage-driver", "--storage-opt", "--events-backend",
                        "--log-level", "--syslog", "--cgroup-manager", "--runtime", "--runtime-flag",
                        "--tmpdir", "--network-config-dir", "--conmon", "--network-cmd-path",
                        "--hooks-dir", "--namespace", "--volumepath"))
# Commands whose own flags share a persistent flag's name (podman's build has its own
# --runtime-flag and --hooks-dir), and commands whose arguments after the first positional one
# are a command line of their own, not podpy's flags.
_OWN = {"build": ("--runtime-flag", "--hooks-dir"), "image build": ("--runtime-flag", "--hooks-dir")}
_PASS_THROUGH = ("unshare",)


def program() -> str:
    """The name the user ran podpy by (podman's messages name the program as invoked: `podman
    ps` when podpy is installed as podman); podpy when it ran as a Python file or module."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "podpy" if not name or name.endswith((".py", ".pyz")) or name.startswith("-") else name


def parse(args: list[str]) -> tuple[Globals, list[str]]:
    """The global flags before the command, and the rest of the line (the command first).

    Unknown flags are refused here, as podman's root command refuses them; refused ones
    (remote connections) with their reason."""
    g = Globals()
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("-") or a == "-":
            break
        i += 1
        if a == "--":
            break
        i = take(g, a, args, i)
        if g.help or g.version:
            break
    return g, args[i:]


def take(g: Globals, a: str, args: list[str], i: int) -> int:
    """Record global flag `a` (args[i-1]) in g, its value from args[i] when it takes one and has
    none after "="; returns the index of the next argument."""
    if a.startswith("--"):
        name, eq, value = a.partition("=")
        inline: Optional[str] = value if eq else None
    else:   # -c NAME, -cNAME, -c=NAME, -v, -h, -r
        name, rest = a[:2], a[2:]
        inline = (rest[1:] if rest.startswith("=") else rest) if rest else None
    row = _INDEX.get(name)
    if row is None:
        raise UsageError(f"unknown flag: {name}" if name.startswith("--")
                         else f"unknown shorthand flag: {name[1:]!r} in {a}", f"See '{program()} --help'")
    flags, attr, kind, _metavar, _help = row
    if kind == FLAG:
        if inline is not None and inline.lower() not in _TRUE + _FALSE:
            raise InvalidArgument(f"invalid argument {inline!r} for {name}: expected true or false")
        value_given: Any = inline is None or inline.lower() in _TRUE
    else:
        if inline is None:
            if i >= len(args):
                raise InvalidArgument(f"flag needs an argument: {name}")
            inline = args[i]
            i += 1
        value_given = inline
    if attr is None:
        from .refusals import flag_refusal, message

        raise InvalidArgument(message("", flags[-1], flag_refusal("", name) or "not available"))
    if kind == MULTI:
        current = getattr(g, attr)
        setattr(g, attr, (current or []) + [value_given])
    else:
        setattr(g, attr, value_given)
    return i


def is_persistent(a: str) -> bool:
    """True for a global flag podman also takes after the command (`--root=DIR` or `--root`)."""
    return a.startswith("--") and a.partition("=")[0] in PERSISTENT


def lift(g: Globals, words: list[str]) -> list[str]:
    """A command line (the command first) with the persistent global flags among its flags taken
    out into g, as podman's flag parser takes them anywhere before `--` (and, for a command that
    runs a command line of its own, before its first argument)."""
    if not words:
        return words
    path = " ".join(words[:2])
    own = _OWN.get(path, _OWN.get(words[0], ()))
    out: list[str] = []
    i = 0
    while i < len(words):
        a = words[i]
        i += 1
        if a == "--":
            out += words[i - 1:]
            break
        if i > 1 and words[0] in _PASS_THROUGH and not a.startswith("-"):
            out += words[i - 1:]
            break
        if i > 1 and is_persistent(a) and a.partition("=")[0] not in own:
            i = take(g, a, words, i)
            continue
        out.append(a)
    return out


def _go_quote(text: str) -> str:
    """Go's %q of a string (what podman's messages quote values with)."""
    from ..formats import go_quote

    return go_quote(text)


def _is_socket(path: str) -> bool:
    import stat

    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _systemd_user_session() -> bool:
    """A systemd user manager for this user: its private socket in the runtime directory."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return _is_socket(os.path.join(runtime, "systemd", "private"))
