"""`create`: options + image -> a container record and its writable storage."""

from __future__ import annotations

import os
import sys
import time

from storage import view

from .. import options as opt
from ..config import DEFAULT_PATH
from ..errors import EngineError, InvalidArgument, translate
from ..record import REQUIRED, Record
from ..state import CONFIGURED, CREATED, ContainerConfig, ContainerRecord
from .runtime import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

class CreateOptions(Record):
    """The options of `create` and `run`, as given (validated by create())."""

    FIELDS = {
        "image": REQUIRED, "command": list, "name": None, "entrypoint": None, "env": list, "env_file": list,
        "volumes": list, "workdir": None, "user": None, "hostname": None, "network": list, "tty": False,
        "interactive": False, "remove": False, "labels": list, "read_only": False, "cap_add": list,
        "cap_drop": list, "privileged": False, "pull": None, "create_command": list, "detach": False,
        "restart": None, "stop_signal": None, "stop_timeout": None, "log_driver": None, "log_opts": list,
        "memory": None, "memory_swap": None, "cpus": None, "cpu_shares": None, "pids_limit": None,
        "cgroup_parent": None, "init": False, "init_path": None, "read_only_tmpfs": None,
        "health_cmd": None, "health_interval": None, "health_retries": None, "health_start_period": None,
        "health_timeout": None, "health_on_failure": None, "no_healthcheck": False, "security_opts": list,
        "preserve_fds": None, "mounts": list, "tmpfs": list, "volumes_from": list,
        "publish": list, "publish_all": False, "expose": list, "network_aliases": list, "ip": None,
        "mac_address": None, "add_hosts": list, "dns": list, "dns_search": list, "dns_options": list,
    }
    __slots__ = tuple(FIELDS)
    image: str
    command: list[str]
    name: Optional[str]
    entrypoint: Optional[str]
    env: list[str]
    env_file: list[str]
    volumes: list[str]
    workdir: Optional[str]
    user: Optional[str]
    hostname: Optional[str]
    network: list[str]
    tty: bool
    interactive: bool
    remove: bool
    labels: list[str]
    read_only: bool
    cap_add: list[str]
    cap_drop: list[str]
    privileged: bool
    pull: Optional[str]
    create_command: list[str]
    detach: bool
    restart: Optional[str]
    stop_signal: Optional[str]
    stop_timeout: Optional[str]
    log_driver: Optional[str]
    log_opts: list[str]
    memory: Optional[str]
    memory_swap: Optional[str]
    cpus: Optional[str]
    cpu_shares: Optional[str]
    pids_limit: Optional[str]
    cgroup_parent: Optional[str]
    init: bool
    init_path: Optional[str]
    read_only_tmpfs: Optional[str]
    health_cmd: Optional[str]
    health_interval: Optional[str]
    health_retries: Optional[str]
    health_start_period: Optional[str]
    health_timeout: Optional[str]
    health_on_failure: Optional[str]
    no_healthcheck: bool
    security_opts: list[str]
    preserve_fds: Optional[str]
    mounts: list[str]
    tmpfs: list[str]
    volumes_from: list[str]
    publish: list[str]
    publish_all: bool
    expose: list[str]
    network_aliases: list[str]
    ip: Optional[str]
    mac_address: Optional[str]
    add_hosts: list[str]
    dns: list[str]
    dns_search: list[str]
    dns_options: list[str]


_ADJ = ("admiring", "bold", "brave", "calm", "clever", "cool", "dazzling", "eager", "elegant", "festive",
        "focused", "gallant", "gifted", "happy", "hopeful", "jolly", "keen", "kind", "lucid", "modest",
        "nice", "optimistic", "peaceful", "quirky", "relaxed", "serene", "sharp", "stoic", "tender",
        "upbeat", "vibrant", "wizardly", "youthful", "zealous")
_NOUN = ("albattani", "babbage", "bell", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler",
         "fermi", "galileo", "goldberg", "hopper", "hypatia", "kepler", "knuth", "lamarr", "lovelace",
         "mayer", "meitner", "newton", "noether", "pascal", "ritchie", "sammet", "shannon", "tesla",
         "thompson", "torvalds", "turing", "wilson", "wozniak", "yalow")


def random_name() -> str:
    """adjective_scientist, as podman names containers (os.urandom: `random` is a slow import)."""
    a, n = os.urandom(2)
    return f"{_ADJ[a % len(_ADJ)]}_{_NOUN[n % len(_NOUN)]}"


def create(rt: Runtime, o: CreateOptions, for_run: bool = False) -> ContainerRecord:
    """Validate everything first, then make the row (state `configured`), the
    storage, and flip the row to `created`; on failure undo what was made.

    With for_run the row stays `configured` and ours until `start` claims it,
    so a run killed before its container starts leaves a row the next command
    removes, not a stray created container.
    """
    name = opt.check_name(o.name) if o.name else None
    user_env = opt.parse_env_files(o.env_file) + opt.parse_env(o.env)
    volumes = ([opt.parse_volume(v) for v in o.volumes] + [opt.parse_mount(m) for m in o.mounts]
               + [opt.parse_tmpfs(t) for t in o.tmpfs])
    dests = [v.destination for v in volumes]
    if len(set(dests)) != len(dests):
        dup = next(d for d in dests if dests.count(d) > 1)
        raise InvalidArgument(f"{dup}: duplicate mount destination")
    shared = _volumes_from(rt, o.volumes_from, set(dests))
    entrypoint = opt.parse_entrypoint(o.entrypoint)
    labels = opt.parse_labels(o.labels)
    user_spec = opt.parse_user(o.user) if o.user else None
    restart = opt.parse_restart(o.restart)
    if restart != "no" and o.remove:
        raise InvalidArgument("the --rm option conflicts with --restart, when the restartPolicy is not \"no\"")
    stop_signal = opt.signal_name(opt.parse_signal(o.stop_signal)) if o.stop_signal else None
    stop_timeout = 10
    if o.stop_timeout is not None:
        if not str(o.stop_timeout).isdigit():
            raise InvalidArgument(f"invalid --stop-timeout {o.stop_timeout!r}: expected a number of seconds")
        stop_timeout = int(o.stop_timeout)
    log_driver, log_opts = opt.parse_log_options(o.log_driver, o.log_opts)
    security = opt.parse_security_opts(o.security_opts)
    preserve = 0
    if o.preserve_fds is not None:
        if not o.preserve_fds.isdigit():
            raise InvalidArgument(f"invalid --preserve-fds {o.preserve_fds!r}: expected a number")
        preserve = int(o.preserve_fds)
        if preserve and (o.detach or not for_run):
            raise InvalidArgument("--preserve-fds works with `podpy run` in the foreground only")
    limits = opt.parse_limits(o.memory, o.memory_swap, o.cpus, o.cpu_shares, o.pids_limit)
    init_path = find_init(o.init_path) if o.init or o.init_path else ""
    ro_tmpfs = True
    if o.read_only_tmpfs is not None:
        if o.read_only_tmpfs.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid --read-only-tmpfs {o.read_only_tmpfs!r}: true or false")
        ro_tmpfs = o.read_only_tmpfs.lower() in ("true", "1")
    if o.cgroup_parent is not None and (not o.cgroup_parent or ".." in o.cgroup_parent.split("/")):
        raise InvalidArgument(f"invalid --cgroup-parent {o.cgroup_parent!r}: a path in the cgroup2 tree")
    if o.workdir is not None and not o.workdir.startswith("/"):
        raise InvalidArgument(f"invalid --workdir {o.workdir!r}: must be an absolute path")
    from rootless import capabilities
    from rootless.errors import SetupError

    try:
        capabilities.resolve((), o.cap_add, o.cap_drop, False)
    except SetupError as exc:
        raise InvalidArgument(str(exc)) from exc
    try:
        image = rt.store.image(o.image, rt.cfg.search_registries)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    icfg = image.config.get("config") or {}
    from . import netconfig

    net = netconfig.resolve(rt, o, icfg)
    health = opt.healthcheck(icfg.get("Healthcheck"), o.health_cmd, o.health_interval, o.health_retries,
                             o.health_start_period, o.health_timeout, o.health_on_failure, o.no_healthcheck)
    layer_dirs = rt.store.layer_dirs(image)
    user_str = o.user if o.user is not None else str(icfg.get("User") or "")
    spec = user_spec or (opt.parse_user(user_str) if user_str else opt.UserSpec("0", None))
    passwd = view.read_file(layer_dirs, "/etc/passwd")
    group = view.read_file(layer_dirs, "/etc/group")
    uid, gid, groups, home = opt.resolve_user(spec, passwd, group)
    if uid == 0 and home == "/":
        home = "/root"
    if rt.cfg.rootless:
        _check_mapped(uid, [gid, *groups])
    if entrypoint is None:
        entrypoint = list(icfg.get("Entrypoint") or [])
        command = list(o.command) if o.command else list(icfg.get("Cmd") or [])
    else:
        command = list(o.command)
    if not entrypoint and not command:
        raise InvalidArgument(f"no command or entrypoint provided, and no CMD or ENTRYPOINT from image {o.image}")
    cid = os.urandom(32).hex()
    hostname = o.hostname or ""
    base_env = ["PATH=" + DEFAULT_PATH, "TERM=xterm", "container=podpy"]
    env = opt.merge_env(base_env, list(icfg.get("Env") or []), user_env)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={home}")
    env.append(f"HOSTNAME={hostname or cid[:12]}")
    image_name = o.image if image.id.startswith(o.image.removeprefix("sha256:")) else _display_name(image, o.image)
    cfg = ContainerConfig(
        command=command, entrypoint=entrypoint, env=env, user=user_str, uid=uid, gid=gid, groups=groups,
        workdir=o.workdir or str(icfg.get("WorkingDir") or "/"), hostname=hostname, tty=o.tty,
        interactive=o.interactive, remove=o.remove, **net,
        mounts=[], labels={**(icfg.get("Labels") or {}), **labels},
        read_only=o.read_only, cap_add=o.cap_add, cap_drop=o.cap_drop, privileged=o.privileged,
        stop_signal=stop_signal or _image_stop_signal(icfg),
        restart=restart, stop_timeout=stop_timeout, log_driver=log_driver, log_opts=log_opts,
        limits=limits, cgroup_parent=o.cgroup_parent or "", init_path=init_path, healthcheck=health,
        preserve_fds=preserve, seccomp=security["seccomp"], no_new_privileges=security["no_new_privileges"],
        mask=security["mask"], unmask=security["unmask"],
        read_only_tmpfs=ro_tmpfs and o.read_only,
        create_command=o.create_command or [os.path.basename(sys.argv[0])] + sys.argv[1:],
    )
    rec = ContainerRecord(id=cid, name=name or "", image_id=image.id, image_name=image_name,
                          created=time.time(), state=CONFIGURED, config=cfg)
    from .volumes import remove_anonymous, resolve

    cfg.mounts = resolve(rt, volumes, icfg.get("Volumes") or {}, uid, gid) + shared
    netconfig.allocate(rt, cid, net)
    for _ in range(20):
        if not rec.name:
            rec.name = random_name()
        try:
            rt.state.insert(rec)
            break
        except Exception:
            if name:
                raise
            rec.name = ""
    else:
        netconfig.release(rt, cid, net)
        raise EngineError("could not find a free random container name")
    try:
        rt.store.create_container(cid, image)
        if not for_run:
            rt.state.update(cid, state=CREATED, owner_pid=None, owner_start=None)
    except BaseException as exc:
        try:
            rt.store.remove_container(cid)
        finally:
            rt.state.delete(cid)
            remove_anonymous(rt, cfg.mounts)
            netconfig.release(rt, cid, net)
        if isinstance(exc, Exception):
            raise translate(exc) from exc
        raise
    if not for_run:
        rec.state, rec.owner_pid = CREATED, None
    from ..events import container as event

    event(rt.cfg.runroot, "create", rec)
    return rec


INIT_CANDIDATES = ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/local/bin/catatonit",
                   "/usr/bin/tini-static", "/usr/local/bin/tini-static", "/usr/bin/tini", "/usr/local/bin/tini")


def find_init(given: Optional[str]) -> str:
    """--init's binary: --init-path, else the distribution's catatonit or tini (static builds
    first: the container may have no C library)."""
    if given:
        if not os.path.isabs(given) or not os.access(given, os.X_OK):
            raise InvalidArgument(f"invalid --init-path {given!r}: not an executable file")
        return given
    for path in INIT_CANDIDATES:
        if os.access(path, os.X_OK):
            return os.path.realpath(path)
    raise InvalidArgument("--init needs catatonit or tini, and neither is installed "
                          "(Debian: apt-get install catatonit)")


def _volumes_from(rt: Runtime, items: list[str], taken: set[str]) -> list[dict[str, object]]:
    """--volumes-from CTR[:ro|rw]: the other container's binds and volumes (not its tmpfs)."""
    out: list[dict[str, object]] = []
    for item in items:
        name, _, mode = item.partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidArgument(f"invalid --volumes-from {item!r}: the mode is ro or rw")
        other = rt.state.lookup(name)
        for m in other.config.mounts:
            if m.get("type") != "bind" or m["destination"] in taken:
                continue
            options = [o for o in m.get("options", []) if not str(o).startswith("podpy.")]
            if mode:
                options = [o for o in options if o not in ("ro", "rw")] + [mode]
            shared = {**m, "options": options}
            shared.pop("anonymous", None)   # it stays the other container's to remove
            out.append(shared)
            taken.add(m["destination"])
    return out


def _image_stop_signal(icfg: dict[str, object]) -> str:
    value = str(icfg.get("StopSignal") or "")
    try:
        return opt.signal_name(opt.parse_signal(value)) if value else "SIGTERM"
    except InvalidArgument:
        return "SIGTERM"


def _check_mapped(uid: int, gids: list[int]) -> None:
    """Refuse ids the user namespace will not have, before anything is made."""
    from rootless.userns import default_mappings

    maps = default_mappings()
    if maps.to_host_uid(uid) is None or any(
            not any(m.container_id <= g < m.container_id + m.size for m in maps.gids) for g in gids):
        total = maps.container_ids()
        raise InvalidArgument(
            f"user {uid}:{gids[0]} is not mapped in the user namespace, which has container ids 0-{total - 1}"
            + (" (no subordinate ids: see /etc/subuid and /etc/subgid)" if maps.warning else ""))


def _display_name(image: object, asked: str) -> str:
    names = getattr(image, "names", ())
    for n in names:
        if n.endswith("/" + asked) or n.endswith("/" + asked + ":latest") or n == asked:
            return n
    return names[0] if names else asked


def command_string(rec: ContainerRecord) -> str:
    import shlex

    return shlex.join(rec.config.entrypoint + rec.config.command)
