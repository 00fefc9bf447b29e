"""`create`: options + image -> a container record and its writable storage."""

from __future__ import annotations

import os
import stat
import sys
import time

from storage import view

from .. import options as opt
from ..config import DEFAULT_PATH
from ..errors import EngineError, InvalidArgument, UnknownUser, translate
from ..state import CONFIGURED, ContainerConfig, ContainerRecord
from .context import Runtime
from .usernsopts import AutoUsernsLock, allocate_auto, check_mapped, keep_id_entries, parse_userns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from storage.images import Image

    from .podstore import PodRecord
    from .runoptions import CreateOptions

_ADJ = ("admiring", "bold", "brave", "calm", "clever", "cool", "dazzling", "eager", "elegant", "festive",
        "focused", "gallant", "gifted", "happy", "hopeful", "jolly", "keen", "kind", "lucid", "modest",
        "nice", "optimistic", "peaceful", "quirky", "relaxed", "serene", "sharp", "stoic", "tender",
        "upbeat", "vibrant", "wizardly", "youthful", "zealous")
_NOUN = ("albattani", "babbage", "bell", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler",
         "fermi", "galileo", "goldberg", "hopper", "hypatia", "kepler", "knuth", "lamarr", "lovelace",
         "mayer", "meitner", "newton", "noether", "pascal", "ritchie", "sammet", "shannon", "tesla",
         "thompson", "torvalds", "turing", "wilson", "wozniak", "yalow")


def _etc_file(volumes: list[opt.Volume], layer_dirs: list[str], path: str) -> Optional[bytes]:
    """The container's /etc/passwd or /etc/group (path) as its process will see it, for the
    lookup of its user: the host file a bind mount puts there (or under a directory bound over
    /etc), as podman looks the user up through the container's mounts, else the image's."""
    bind = None
    for v in volumes:
        if v.kind == "bind" and (path == v.destination or path.startswith(v.destination.rstrip("/") + "/")):
            if bind is None or len(v.destination) > len(bind.destination):
                bind = v
    if bind is None:
        return view.read_file(layer_dirs, path)
    host = bind.source
    if path != bind.destination:
        host = os.path.join(host, path[len(bind.destination):].lstrip("/"))
    try:   # a regular file only (a FIFO bound there must not hang the create)
        fd = os.open(host, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None   # nothing there in the container either
    try:
        return os.read(fd, 1 << 20) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except OSError:
        return None
    finally:
        os.close(fd)


def random_name() -> str:
    """adjective_scientist, as podman names containers (os.urandom: `random` is a slow import)."""
    a, n = os.urandom(2)
    return f"{_ADJ[a % len(_ADJ)]}_{_NOUN[n % len(_NOUN)]}"


def create(rt: Runtime, o: CreateOptions, for_run: bool = False,
           on_replaced: Optional[Callable[[str], None]] = None, pod: Optional[PodRecord] = None,
           infra: bool = False, image: Optional[Image] = None) -> ContainerRecord:
    """Validate everything first, then make the row (state `configured`), the
    storage, and flip the row to `created`; on failure undo what was made.

    With for_run the row stays `configured` and ours until `start` claims it,
    so a run killed before its container starts leaves a row the next command
    removes, not a stray created container. With --replace, a container of the
    same name is removed first (its name told to on_replaced, as podman prints it). In a pod
    (--pod, or pod given: the pod whose infra container this is), it joins what the pod shares.
    image: the one o.image names, when the caller has just looked it up (the row's insert
    checks that it is still there).
    """
    if o.init_ctr is not None:
        if not (o.pod or o.pod_id_file) or infra:
            raise InvalidArgument("must specify pod value with init-ctr")
        if o.init_ctr not in ("always", "once"):
            raise InvalidArgument("init-ctr value must be 'always' or 'once'")
    if pod is None and (o.pod or o.pod_id_file):
        from .podstore import join

        o, pod = join(rt, o)
    elif o.userns is None and not infra and not (o.uidmap or o.gidmap or o.subuidname or o.subgidname):
        # the default --userns: $PODMAN_USERNS, else containers.conf's [containers] userns
        default_userns = os.environ.get("PODMAN_USERNS") or rt.cfg.container_defaults.userns
        if default_userns:
            from .runoptions import CreateOptions

            o = CreateOptions(**{**o.as_dict(), "userns": default_userns})
    name = opt.check_name(o.name) if o.name else None
    if o.replace and not name:
        raise InvalidArgument("cannot replace container without --name being set")
    life = _life_options(o)
    user_env = opt.parse_env_files(o.env_file) + opt.parse_env(o.env)
    volumes = ([opt.parse_volume(v) for v in o.volumes] + [opt.parse_mount(m) for m in o.mounts]
               + [opt.parse_tmpfs(t) for t in o.tmpfs])
    dests = [v.destination for v in volumes]
    if len(set(dests)) != len(dests):
        dup = next(d for d in dests if dests.count(d) > 1)
        raise InvalidArgument(f"{dup}: duplicate mount destination")
    image_volume = o.image_volume or "bind"
    if image_volume not in ("bind", "tmpfs", "ignore"):
        raise InvalidArgument(f'invalid image volume mode "{image_volume}" required value: bind, tmpfs, ignore')
    shared = _volumes_from(rt, o.volumes_from, set(dests))
    secrets = _secrets(rt, o.secrets, set(dests)) if o.secrets else []
    entrypoint = opt.parse_entrypoint(o.entrypoint)
    from . import procopts

    labels = opt.parse_labels(procopts.label_file_items(o.label_file) + o.labels if o.label_file else o.labels)
    if os.environ.get("PODMAN_SYSTEMD_UNIT") is not None:   # the unit that runs it, for auto-update (as podman)
        labels["PODMAN_SYSTEMD_UNIT"] = os.environ["PODMAN_SYSTEMD_UNIT"]
    if "io.containers.autoupdate" in labels:
        from .autoupdate import check_create

        check_create(labels, o.image)
    user_spec = opt.parse_user(o.user) if o.user else None
    restart = opt.parse_restart(o.restart)
    if restart != "no" and o.remove:
        raise InvalidArgument("the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\"")
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
    from . import cgroupopts

    more_limits, resources, cgroup_warnings = cgroupopts.decide(o, limits)
    cgroup_conf = cgroupopts.cgroup_conf(o.cgroup_conf)
    limits.update(more_limits, **{f"file:{k}": v for k, v in cgroup_conf.items()})
    rt.cfg.warnings.extend(cgroup_warnings)
    if o.kernel_memory is not None:
        rt.cfg.warnings.append("The --kernel-memory flag is no longer supported. This flag is a noop.")
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
    rootfs, rootfs_overlay = procopts.check_rootfs(o.image) if o.rootfs else ("", False)
    try:
        if rootfs:
            image = None
        elif image is None:
            image = rt.store.image(o.image, rt.cfg.short_names)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    if image is not None and not image.layers:   # maybe a manifest list: its image for this machine
        from .manifeststore import instance_here

        image = instance_here(rt, o.image, image)
    icfg = (image.config.get("config") or {}) if image is not None else {}
    from ..network import config as netconfig

    net = netconfig.resolve(rt, o, icfg)
    from . import kernelopts

    kernel = kernelopts.decide(rt, o, net["network"])
    extra = procopts.decide(rt, o, icfg)
    if extra["seccomp_policy"] == "image" and not security["seccomp"]:
        security["seccomp"] = procopts.image_seccomp(rt, icfg.get("Labels") or {})
    health = opt.healthcheck(icfg.get("Healthcheck"), o.health_cmd, o.health_interval, o.health_retries,
                             o.health_start_period, o.health_timeout, o.health_on_failure, o.no_healthcheck)
    from .healthopts import health_extras

    health = health_extras(health, o.health_startup_cmd, o.health_startup_interval, o.health_startup_retries,
                           o.health_startup_success, o.health_startup_timeout, o.health_log_destination,
                           o.health_max_log_count, o.health_max_log_size)
    if life.get("sdnotify") == "healthy" and not health:
        raise InvalidArgument('sdnotify policy "healthy" requires a healthcheck to be set')
    layer_dirs = rt.store.layer_dirs(image) if image is not None else [rootfs]
    user_str = o.user if o.user is not None else str(icfg.get("User") or "")
    spec = user_spec or (opt.parse_user(user_str) if user_str else opt.UserSpec("0", None))
    passwd = _etc_file(volumes, layer_dirs, "/etc/passwd")
    group = _etc_file(volumes, layer_dirs, "/etc/group")
    uidmap, gidmap = o.uidmap, o.gidmap
    if o.subuidname or o.subgidname:
        if o.userns or uidmap or gidmap:
            raise InvalidArgument("--subuidname and --subgidname cannot be combined with --userns, --uidmap or "
                                  "--gidmap")
        uidmap, gidmap = procopts.subid_maps(o.subuidname, o.subgidname, rt.id_mappings)
    userns = parse_userns(o.userns, uidmap, gidmap, rt.cfg.rootless, rt.id_mappings)
    extra_etc: dict[str, str] = {}
    stored_user, user_error = user_str, ""
    if userns.mode == "keep-id" and user_spec is None:
        # As podman: the user's own ids (its user "UID:GID", so its group is its one
        # supplementary group), and entries for them in /etc/passwd and /etc/group.
        uid, gid = userns.keep_uid, userns.keep_gid
        groups, stored_user = [gid], f"{uid}:{gid}"
        home = o.workdir or str(icfg.get("WorkingDir") or "/")
        extra_etc = keep_id_entries(uid, gid, home, passwd, group)
    else:
        try:
            uid, gid, groups, home = opt.resolve_user(spec, passwd, group)
        except UnknownUser as exc:   # created all the same, as podman's and Docker's: its start fails
            user_error = str(exc)
            uid, gid, groups, home = 0, 0, [], "/"
        named = user_spec or user_str or userns.mode == "nomap"   # nomap: podman's process has its group too
        groups = opt.container_groups(spec if named else None, gid, groups)
        if userns.mode == "keep-id":   # another user given: podman keeps the user's group among its groups
            groups = [userns.keep_gid, *(g for g in groups if g != userns.keep_gid)]
    group_add = [g for item in o.group_add for g in item.split(",") if g]   # `--group-add 1,2`, as podman's
    added, keep_groups = procopts.group_add(group_add, group)
    groups = groups + [g for g in added if g not in groups]
    if keep_groups:
        extra["annotations"][procopts.KEEP_GROUPS_ANNOTATION] = "1"
    if not o.passwd:
        extra_etc = {}   # --passwd=false: the image's /etc/passwd and /etc/group as they are
    elif o.passwd_entry is not None or (user_spec is not None and (passwd is not None or "/etc/passwd" in extra_etc)):
        # a --user the image's /etc/passwd lacks gets a line of its own (--passwd-entry's, or podman's)
        users = extra_etc.get("/etc/passwd")
        with_entry = procopts.passwd_with_entry(o.passwd_entry or procopts.DEFAULT_PASSWD_ENTRY, uid, gid,
                                                o.workdir or str(icfg.get("WorkingDir") or "/"),
                                                users.encode() if users else passwd)
        if with_entry is not None:
            extra_etc["/etc/passwd"] = with_entry
    named_group = spec.group if spec.group is not None else spec.user
    if o.passwd and (user_spec or user_str) and named_group.isdigit() and group is not None:
        # a numeric group the image's /etc/group lacks (a --user of numbers without a group names
        # the uid's) gets a line naming the user, as podman's
        groups_text = extra_etc.get("/etc/group")
        with_group = procopts.group_with_entry(int(named_group), spec.user,
                                               groups_text.encode() if groups_text else group)
        if with_group is not None:
            extra_etc["/etc/group"] = with_group
    if uid == 0 and home == "/":
        home = "/root"
    if rt.cfg.rootless:
        check_mapped(uid, [gid, *groups], userns, rt.id_mappings)
    if entrypoint is None:
        entrypoint = list(icfg.get("Entrypoint") or [])
        command = list(o.command) if o.command else list(icfg.get("Cmd") or [])
    else:
        command = list(o.command)
    if not entrypoint and not command:
        raise InvalidArgument(f"no command or entrypoint provided, and no CMD or ENTRYPOINT from image {o.image}")
    workdir = o.workdir or str(icfg.get("WorkingDir") or "/")
    if o.hostusers:
        from .runfiles import hostuser_passwd

        users = extra_etc.get("/etc/passwd") or (passwd or b"").decode(errors="surrogateescape")
        with_hosts = hostuser_passwd(o.hostusers, users, workdir)
        if with_hosts is not None:
            extra_etc["/etc/passwd"] = with_hosts
    cid = os.urandom(32).hex()
    hostname = o.hostname or ""
    base_env = ["PATH=" + DEFAULT_PATH, "TERM=xterm", "container=podman",
                *procopts.conf_env(rt.cfg.container_defaults.env)]
    env = procopts.environment(o, base_env, list(icfg.get("Env") or []), user_env)
    systemd = procopts.systemd_mode(o.systemd, entrypoint + command)
    if systemd and not any(e.startswith("container=") for e in env):
        env.append("container=podman")   # systemd's way to know it runs in a container
    if systemd and not stop_signal:
        stop_signal = opt.signal_name(opt.parse_signal(procopts.SYSTEMD_STOP_SIGNAL))
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={home}")
    env = [e for e in env if not e.startswith("HOSTNAME=")]
    env.append(f"HOSTNAME={kernelopts.uts_hostname(rt, kernel['uts_mode']) or hostname or cid[:12]}")
    if image is None:
        image_name = ""   # --rootfs: no image, as podman shows it
    elif image.id.startswith(o.image.removeprefix("sha256:")):
        image_name = o.image
    else:
        image_name = _display_name(image, o.image)
    cfg = ContainerConfig(
        command=command, entrypoint=entrypoint, env=env, user=stored_user, uid=uid, gid=gid, groups=groups,
        workdir=workdir, create_workdir=o.workdir is None if o.create_workdir is None else o.create_workdir,
        hostname=hostname, tty=o.tty,
        interactive=o.interactive, remove=o.remove, **net,
        mounts=[], labels={**(icfg.get("Labels") or {}), **labels},
        read_only=o.read_only, cap_add=o.cap_add, cap_drop=o.cap_drop, privileged=o.privileged,
        stop_signal=stop_signal or _image_stop_signal(icfg),
        restart=restart, stop_timeout=stop_timeout, log_driver=log_driver, log_opts=log_opts,
        limits=limits, cgroup_parent=o.cgroup_parent or "", init_path=init_path, healthcheck=health,
        preserve_fds=preserve, seccomp=security["seccomp"], no_new_privileges=security["no_new_privileges"],
        mask=security["mask"], unmask=security["unmask"],
        read_only_tmpfs=ro_tmpfs and o.read_only,
        userns="private" if userns.mode == "nomap" else o.userns or userns.mode,
        idmap=userns.idmap, etc_entries=extra_etc, group_add=group_add, keep_groups=keep_groups,
        systemd=systemd, rootfs=rootfs, rootfs_overlay=rootfs_overlay, resources=resources, cgroup_conf=cgroup_conf, **extra,
        create_command=o.create_command or [os.path.basename(sys.argv[0])] + sys.argv[1:],
        pod=pod.id if pod is not None else "", pod_infra=infra, namespace=rt.cfg.namespace or "",
        init_ctr=o.init_ctr or "", user_error=user_error,
        **kernel, **life,
    )
    rec = ContainerRecord(id=cid, name=name or "", image_id=image.id if image else "", image_name=image_name,
                          created=time.time(), state=CONFIGURED, config=cfg)
    from .container import Container

    image_volumes = icfg.get("Volumes") or {}
    if volumes or (image_volumes and image_volume != "ignore"):
        from .volumestore import resolve   # imported only for a container with volumes

        cfg.mounts = resolve(rt, volumes, image_volumes, uid, gid, image_volume) + shared
    else:
        cfg.mounts = list(shared)
    cfg.secrets = [spec for spec, _ in secrets]
    cidfile = -1
    if o.cidfile:
        from .runfiles import open_cidfile

        cidfile = open_cidfile(o.cidfile)
    try:
        if o.replace:
            _replace(rt, name or "", on_replaced)
        netconfig.allocate(rt, cid, net)
    except BaseException:
        _drop_cidfile(cidfile, o.cidfile)
        raise
    try:
        with AutoUsernsLock(rt, userns.mode == "auto"):
            joined = rt.state.get(pod.infra_id) if pod is not None and pod.infra_id and not infra else None
            if userns.mode == "auto" and joined is not None:
                cfg.idmap = dict(joined.config.idmap)   # the pod's: its infra container's namespace
            elif userns.mode == "auto":
                cfg.idmap = allocate_auto(rt, userns, uid, gid, passwd, group)
            for _ in range(20):
                if not rec.name:
                    rec.name = random_name()
                try:
                    ctr = Container.insert(rt, rec)
                    break
                except Exception:
                    if name:
                        raise
                    rec.name = ""
            else:
                raise EngineError("could not find a free random container name")
    except BaseException:
        netconfig.release(rt, cid, net)
        _drop_cidfile(cidfile, o.cidfile)
        raise
    try:
        if image is None:   # --rootfs: the directory is bound (or, with :O, overlaid) at merged/ at each start
            cdir = rt.store.container_dir(cid)
            for part in ("merged", "diff", "work") if rootfs_overlay else ("merged",):
                os.makedirs(os.path.join(cdir, part), mode=0o700)
            if rootfs_overlay:   # the root's mode is the directory's, as an image's upper layer keeps it
                os.chmod(os.path.join(cdir, "diff"), os.stat(rootfs).st_mode & 0o7777)
        else:
            rt.store.create_container(cid, image)
        if secrets:
            from .secrets import install

            install(rt.store.container_dir(cid), secrets, rt.store.in_userns)
    except BaseException as exc:
        try:
            ctr.abandon_create()
        finally:
            netconfig.release(rt, cid, net)
            _drop_cidfile(cidfile, o.cidfile)
        if isinstance(exc, Exception):
            raise translate(exc) from exc
        raise
    if cidfile >= 0:
        from .runfiles import write_cidfile

        write_cidfile(cidfile, cid)
    ctr.created(keep=for_run)
    return rec


def _life_options(o: CreateOptions) -> dict[str, object]:
    """The ContainerConfig fields of --timeout, --tz, --pidfile, --conmon-pidfile, --cidfile and
    --sdnotify, checked (--kernel-memory is taken and has no effect, as in podman)."""
    timeout = 0
    if o.timeout is not None:
        if not (o.timeout.isascii() and o.timeout.isdigit()):
            raise InvalidArgument(f'invalid argument "{o.timeout}" for "--timeout" flag: strconv.ParseUint: '
                                  f'parsing "{o.timeout}": invalid syntax')
        timeout = int(o.timeout)
    out: dict[str, object] = {"timeout": timeout, "cidfile": os.path.abspath(o.cidfile) if o.cidfile else ""}
    if not (o.tz or o.pidfile or o.conmon_pidfile or o.sdnotify is not None or os.environ.get("NOTIFY_SOCKET")):
        return out   # the defaults, without loading runfiles on `run`'s path
    from . import runfiles

    sdnotify, socket = runfiles.check_sdnotify(o.sdnotify)
    out.update(timezone=runfiles.check_timezone(o.tz), pidfile=runfiles.check_pidfile(o.pidfile, "--pidfile"),
               conmon_pidfile=runfiles.check_pidfile(o.conmon_pidfile, "--conmon-pidfile"),
               sdnotify=sdnotify, notify_socket=socket if sdnotify == "container" else "")
    return out


def _secrets(rt: Runtime, values: list[str], dests: set[str]) -> list[tuple[dict[str, object], bytes]]:
    """--secret: the entries of the container's configuration and each secret's data."""
    from .secrets import resolve as resolve_secrets

    out = resolve_secrets(rt, values)
    for spec, _ in out:
        if spec["type"] == "mount" and spec["target"] in dests:
            raise InvalidArgument(f"{spec['target']}: duplicate mount destination")
    return out


def _drop_cidfile(fd: int, path: Optional[str]) -> None:
    """A create that failed leaves no id file behind."""
    if fd >= 0 and path:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass


def _replace(rt: Runtime, name: str, on_replaced: Optional[Callable[[str], None]]) -> None:
    """--replace: remove the container of that name, stopped first as `rm -f -t` stops one
    (its stop signal, SIGKILL after its stop timeout)."""
    from ..errors import NoSuchContainer
    from .removal import remove_container

    try:
        other = rt.state.lookup(name)
    except NoSuchContainer:
        return
    if other.name != name:
        return   # an id prefix: only a container of that very name is replaced
    remove_container(rt, other, force=True, volumes=False, timeout=other.config.stop_timeout or None,
                     warn=rt.cfg.warnings.append)
    if on_replaced is not None:
        on_replaced(other.name)


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


def _display_name(image: object, asked: str) -> str:
    names = getattr(image, "names", ())
    for n in names:
        if n.endswith("/" + asked) or n.endswith("/" + asked + ":latest") or n == asked:
            return n
    return names[0] if names else asked


def command_string(rec: ContainerRecord) -> str:
    import shlex

    return shlex.join(rec.config.entrypoint + rec.config.command)
