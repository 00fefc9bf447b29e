"""The files a container is given or leaves behind, beyond its /etc/hosts and friends:
--cidfile (its id, written at create), --pidfile and --conmon-pidfile (its process and the
one supervising it, written at each start), --tz (/etc/localtime), --hostuser (host users in
its /etc/passwd) and --sdnotify (the caller's $NOTIFY_SOCKET, passed in).

All are checked as podman 4.3.1 checks them, with its messages, before the container is made.
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ..state import ContainerConfig

ZONEINFO = "/usr/share/zoneinfo"
SDNOTIFY_MODES = ("container", "conmon", "healthy", "ignore")
MONITOR_PID_FILE = "conmon.pid"       # in a container's runtime directory: its monitor's pid at each start
NOTIFY_DIR = "/run/notify"            # where a container finds $NOTIFY_SOCKET, as podman puts it
NOTIFY_SOCKET = NOTIFY_DIR + "/notify.sock"


# -- --cidfile -----------------------------------------------------------------------------

def open_cidfile(path: str) -> int:
    """--cidfile: the new file, opened before the container is made (an existing one is refused,
    as podman refuses it: another container may be using it)."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        raise InvalidArgument(f"container id file exists. Ensure another container is not using it or "
                              f"delete {path}") from None
    except OSError:
        raise InvalidArgument(f"opening cidfile {path}") from None


def write_cidfile(fd: int, cid: str) -> None:
    try:
        os.write(fd, cid.encode())
    finally:
        os.close(fd)


# -- --pidfile, --conmon-pidfile -----------------------------------------------------------

def check_pidfile(path: Optional[str], flag: str) -> str:
    """A pid file's path as stored: absolute, in a directory that exists."""
    if not path:
        return ""
    path = os.path.abspath(path)
    if not os.path.isdir(os.path.dirname(path)):
        raise InvalidArgument(f"invalid {flag} {path}: {os.path.dirname(path)} is not a directory")
    return path


def write_pidfile(path: str, pid: int) -> None:
    """A pid file, replaced whole (written beside it, then renamed, as runc writes its own)."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(str(pid))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InvalidArgument(f"writing {path}: {exc.strerror}") from None


def write_pidfiles(cfg: ContainerConfig, pid: int, supervisor: int, warn: Callable[[str], None]) -> None:
    """At a start: the container's pid and its supervisor's (this podpy for a foreground run,
    the monitor for a detached one: what conmon is to podman). A file that cannot be written
    is said in a warning; the container runs all the same."""
    for path, value in ((cfg.pidfile, pid), (cfg.conmon_pidfile, supervisor)):
        if path:
            try:
                write_pidfile(path, value)
            except InvalidArgument as exc:
                warn(str(exc))


# -- --tz ----------------------------------------------------------------------------------

def check_timezone(value: Optional[str]) -> str:
    """--tz: `local` (the host's zone) or a zone under /usr/share/zoneinfo."""
    if not value:
        return ""
    if value != "local":
        zone = os.path.normpath(os.path.join(ZONEINFO, value))
        try:
            isdir = os.path.isdir(zone) if os.stat(zone) else False
        except OSError as exc:
            raise InvalidArgument(f"running container create option: stat {zone}: "
                                  f"{(exc.strerror or '').lower()}") from None
        if isdir:
            raise InvalidArgument("running container create option: invalid timezone: is a directory")
    return value


def localtime(zone: str) -> Optional[bytes]:
    """The container's /etc/localtime for --tz (a copy, as podman makes one: the host's files
    stay out of reach); None without --tz, or when the file is gone."""
    if not zone:
        return None
    path = "/etc/localtime" if zone == "local" else os.path.normpath(os.path.join(ZONEINFO, zone))
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


# -- --hostuser ----------------------------------------------------------------------------

def hostuser_passwd(users: list[str], passwd: str, workdir: str) -> Optional[str]:
    """--hostuser NAME|UID: the container's /etc/passwd with a line for each host user it does
    not have yet (as podman writes it: home is the working directory, shell /bin/sh); None when
    nothing is added."""
    import pwd

    names = [u for item in users for u in item.split(",") if u]
    if not names:
        return None
    have = {line.split(":", 1)[0] for line in passwd.splitlines() if line}
    lines = []
    for name in names:
        try:
            entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
        except (KeyError, OverflowError):
            raise InvalidArgument(f"creating temporary passwd file for container: user: unknown user {name}") from None
        if entry.pw_name in have:
            continue
        lines.append(f"{entry.pw_name}:*:{entry.pw_uid}:{entry.pw_gid}:{entry.pw_gecos}:{workdir}:/bin/sh\n")
    if not lines:
        return None
    if passwd and not passwd.endswith("\n"):
        passwd += "\n"
    return passwd + "".join(lines)


# -- --sdnotify ----------------------------------------------------------------------------

def check_sdnotify(value: Optional[str]) -> tuple[str, str]:
    """--sdnotify MODE: (mode, the caller's $NOTIFY_SOCKET to pass in with `container`)."""
    mode = value if value is not None else "container"
    if mode not in SDNOTIFY_MODES:
        raise InvalidArgument(f'invalid config provided: invalid argument: invalid sdnotify value "{mode}": '
                              "must be container, conmon, healthy or ignore")
    socket = os.environ.get("NOTIFY_SOCKET", "")
    if socket.startswith("@") or not os.path.isabs(socket):
        socket = ""   # an abstract socket cannot be bound into a mount namespace
    return mode, socket


def notify_mount(cfg: ContainerConfig) -> Optional[dict[str, Any]]:
    """With --sdnotify container and a $NOTIFY_SOCKET at create: the socket, bound where the
    container finds it ($NOTIFY_SOCKET there is NOTIFY_SOCKET)."""
    if cfg.sdnotify != "container" or not cfg.notify_socket or not os.path.exists(cfg.notify_socket):
        return None
    return {"destination": NOTIFY_SOCKET, "type": "bind", "source": cfg.notify_socket,
            "options": ["bind", "rprivate"]}


def notify_ready(cfg: ContainerConfig, main_pid: int) -> None:
    """A foreground container runs: --sdnotify conmon tells systemd it is ready (MAINPID: this
    podpy, which supervises it); container and healthy say only MAINPID (the container, or its
    first passing healthcheck, says READY=1)."""
    socket = os.environ.get("NOTIFY_SOCKET", "")
    if cfg.sdnotify == "ignore" or not socket:
        return
    send_notify(f"MAINPID={main_pid}\n" + ("READY=1\n" if cfg.sdnotify == "conmon" else ""))


def send_notify(message: str) -> None:
    """One message to systemd's $NOTIFY_SOCKET (an abstract one too)."""
    socket = os.environ.get("NOTIFY_SOCKET", "")
    if not socket:
        return
    import _socket

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        s.connect("\0" + socket[1:] if socket.startswith("@") else socket)
        s.send(message.encode())
    except OSError:
        pass   # no one listens: nothing to tell (podman logs this as an error and goes on)
    finally:
        s.close()


def under_systemd() -> bool:
    """Whether a systemd service runs this podpy (systemd gives every service an
    $INVOCATION_ID, and a $NOTIFY_SOCKET to Type=notify ones)."""
    return bool(os.environ.get("NOTIFY_SOCKET") or os.environ.get("INVOCATION_ID"))


def own_monitor(cfg: ContainerConfig) -> bool:
    """Whether a detached container gets a monitor of its own, in this command's cgroup: under
    systemd (the unit's main process must be in the unit) and with --cgroups split or
    no-conmon (the monitor stays in the caller's cgroup), rather than the user's shared one."""
    return cfg.cgroups_mode in ("split", "no-conmon") or under_systemd()


def notify_request(cfg: ContainerConfig, run_dir: str, spec: dict[str, Any]) -> Optional[dict[str, Any]]:
    """What the monitor of a detached container tells systemd ($NOTIFY_SOCKET now), and when:
    conmon: ready once it runs; container: the container's own messages, from a socket of the
    monitor's bound at NOTIFY_DIR in its place of the manager's; healthy: ready at the first
    passing healthcheck. None when no one listens or with ignore."""
    target = os.environ.get("NOTIFY_SOCKET", "")
    if cfg.sdnotify == "ignore" or not target:
        return None
    request: dict[str, Any] = {"mode": cfg.sdnotify, "target": target}
    if cfg.sdnotify == "container":
        directory = os.path.join(run_dir, "notify")
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)   # the container's users reach the socket, whoever they are
        request["proxy"] = os.path.join(directory, os.path.basename(NOTIFY_SOCKET))
        mounts = [m for m in spec.get("mounts", []) if m.get("destination") not in (NOTIFY_SOCKET, NOTIFY_DIR)]
        mounts.append({"destination": NOTIFY_DIR, "type": "bind", "source": directory,
                       "options": ["bind", "rprivate"]})
        spec["mounts"] = mounts
        process = spec["process"]
        process["env"] = [e for e in process.get("env", []) if not e.startswith("NOTIFY_SOCKET=")] \
            + [f"NOTIFY_SOCKET={NOTIFY_SOCKET}"]
    return request
