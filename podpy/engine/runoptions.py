"""The options of `run` and `create`, declared once: CreateOptions.

Each option is one line of the class: its field (the name the CLI parses it
into), its type, its flags, its metavar and its help. The type says how it is
given on the command line and what it is when it is not:

    bool           a flag: --rm, -it, --rm=false               default False
    Optional[str]  one value: --name x, --name=x, -u1 (last wins)   default None
    list[str]      repeatable: -e A=1 -e B=2                    default []

Values stay the strings the user typed; create() validates them. FIELDS (and
so the defaults) is derived from the declarations, and OPTIONS, the options in
the order of the help, is what the CLI's parser and help read: no other list of
them exists, so an option cannot have a flag without a field, a field without a
default, or a type its parsing does not give.

No dataclasses (see podpy/record.py): this is on the path of `podpy run`.
Declaring and collecting the options costs about 0.1 ms at import.
"""

from __future__ import annotations

from ..record import REQUIRED, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

FLAG, VALUE, MULTI = "flag", "value", "multi"
# an option's annotation -> how it is given, and its default (a type: a fresh one per instance)
KINDS: dict[str, tuple[str, Any]] = {"bool": (FLAG, False), "Optional[str]": (VALUE, None),
                                     "list[str]": (MULTI, list)}


class Option:
    """One command-line option: its flags, the field it goes to (dest), how it is given (kind)."""

    __slots__ = ("flags", "dest", "kind", "metavar", "help")

    def __init__(self, flags: tuple[str, ...], metavar: str = "", help: str = "", dest: str = "",
                 kind: str = "") -> None:
        self.flags, self.metavar, self.help, self.dest, self.kind = flags, metavar, help, dest, kind

    def __repr__(self) -> str:
        return f"Option({'/'.join(self.flags)} -> {self.dest}, {self.kind})"


class _Field:
    """A field that is not an option, with its default (REQUIRED: none)."""

    __slots__ = ("default",)

    def __init__(self, default: Any) -> None:
        self.default = default


def option(*flags: str, metavar: str = "", help: str = "") -> Any:
    """Declares a field of an options class as a command-line option (its field and kind
    are filled in from the declaration by declared())."""
    return Option(flags, metavar, help)


def field(default: Any = REQUIRED) -> Any:
    """Declares a field that is no option (REQUIRED, a value, or a type made fresh per instance)."""
    return _Field(default)


def declared(cls: type[Record]) -> tuple[Option, ...]:
    """Set cls.FIELDS from the class's declarations, in their order; return its options.

    The annotations are read as written (the module's `from __future__ import
    annotations`). The declarations are removed from the class afterwards, so an
    attribute is always the instance's value (Record's __init__ sets every field)."""
    fields: dict[str, Any] = {}
    options: list[Option] = []
    for name, annotation in cls.__annotations__.items():
        declaration = cls.__dict__.get(name)
        if isinstance(declaration, Option):
            if annotation not in KINDS:
                raise TypeError(f"{cls.__name__}.{name}: an option is one of {', '.join(KINDS)}, not {annotation}")
            declaration.dest = name
            declaration.kind, fields[name] = KINDS[annotation]
            options.append(declaration)
        elif isinstance(declaration, _Field):
            fields[name] = declaration.default
        else:
            raise TypeError(f"{cls.__name__}.{name}: declare it with option() or field()")
        delattr(cls, name)
    cls.FIELDS = fields
    return tuple(options)


class CreateOptions(Record):
    """The options of `create` and `run`, as given (validated by create())."""

    image: str = field()                  # the first word that is not an option's
    command: list[str] = field(list)      # the words after the image
    name: Optional[str] = option("--name", metavar="NAME", help="name of the container")
    remove: bool = option("--rm", help="remove the container when it exits")
    interactive: bool = option("-i", "--interactive", help="keep stdin open")
    tty: bool = option("-t", "--tty", help="allocate a pseudo-terminal")
    env: list[str] = option("-e", "--env", metavar="K=V",
                            help="set an environment variable (K=V, K, or K* from the host)")
    env_file: list[str] = option("--env-file", metavar="FILE", help="read environment variables from a file")
    volumes: list[str] = option("-v", "--volume", metavar="SRC:CTR[:OPTS]",
                                help="bind mount a host path, or mount a volume by name")
    mounts: list[str] = option("--mount", metavar="type=...,src=,dst=",
                               help="mount a bind, a volume or a tmpfs (docker's syntax)")
    tmpfs: list[str] = option("--tmpfs", metavar="PATH[:OPTS]", help="mount a tmpfs")
    volumes_from: list[str] = option("--volumes-from", metavar="CTR[:ro|rw]",
                                     help="mount the volumes and binds of another container")
    workdir: Optional[str] = option("-w", "--workdir", metavar="DIR", help="working directory inside the container")
    user: Optional[str] = option("-u", "--user", metavar="USER[:GROUP]", help="user and group, names or ids")
    entrypoint: Optional[str] = option("--entrypoint", metavar="CMD",
                                       help="override the image's ENTRYPOINT (string or JSON array)")
    hostname: Optional[str] = option("-h", "--hostname", metavar="NAME", help="container host name")
    network: list[str] = option("--network", "--net", metavar="MODE",
                                help="slirp4netns[:OPTIONS] (default), pasta[:OPTIONS], host, none, "
                                     "container:NAME, ns:PATH or NETWORK[:OPTIONS]")
    publish: list[str] = option("-p", "--publish", metavar="[[IP:]HOST:]CTR[/PROTO]",
                                help="publish a container's port on the host")
    publish_all: bool = option("-P", "--publish-all", help="publish every exposed port on a free host port")
    expose: list[str] = option("--expose", metavar="PORT[/PROTO]",
                               help="expose a port (or range) without publishing it")
    network_aliases: list[str] = option("--network-alias", metavar="NAME",
                                        help="another name of the container on its networks")
    ip: Optional[str] = option("--ip", metavar="ADDRESS", help="the container's IPv4 address on its user network")
    mac_address: Optional[str] = option("--mac-address", metavar="MAC",
                                        help="the container's MAC address on its user network")
    add_hosts: list[str] = option("--add-host", metavar="NAME:IP", help="add a line to /etc/hosts")
    dns: list[str] = option("--dns", metavar="IP", help="a DNS server for /etc/resolv.conf")
    dns_search: list[str] = option("--dns-search", metavar="DOMAIN", help="a DNS search domain for /etc/resolv.conf")
    dns_options: list[str] = option("--dns-option", "--dns-opt", metavar="OPTION",
                                    help="a DNS option for /etc/resolv.conf")
    labels: list[str] = option("-l", "--label", metavar="K=V", help="set metadata on the container")
    read_only: bool = option("--read-only", help="mount the root file system read-only")
    cap_add: list[str] = option("--cap-add", metavar="CAP", help="add a capability")
    cap_drop: list[str] = option("--cap-drop", metavar="CAP", help="drop a capability")
    privileged: bool = option("--privileged", help="all capabilities, no masked paths")
    pull: Optional[str] = option("--pull", metavar="POLICY",
                                 help="pull the image: missing (default), always, newer or never")
    detach: bool = option("-d", "--detach", help="run in the background and print the container's id")
    restart: Optional[str] = option("--restart", metavar="POLICY",
                                    help="no, always, unless-stopped or on-failure[:N]")
    stop_signal: Optional[str] = option("--stop-signal", metavar="SIGNAL",
                                        help="signal that stops the container (default: the image's or SIGTERM)")
    stop_timeout: Optional[str] = option("--stop-timeout", metavar="SECONDS",
                                         help="seconds to wait after the stop signal before SIGKILL (10)")
    log_driver: Optional[str] = option("--log-driver", metavar="DRIVER", help="k8s-file (default) or none")
    log_opts: list[str] = option("--log-opt", metavar="K=V", help="log option: max-size=SIZE (e.g. 10m), path=FILE")
    memory: Optional[str] = option("-m", "--memory", metavar="SIZE", help="memory limit (e.g. 512m)")
    memory_swap: Optional[str] = option("--memory-swap", metavar="SIZE",
                                        help="memory plus swap limit (-1: unlimited swap)")
    cpus: Optional[str] = option("--cpus", metavar="N", help="CPUs the container may use (e.g. 1.5)")
    cpu_shares: Optional[str] = option("-c", "--cpu-shares", metavar="SHARES",
                                       help="relative CPU weight (2-262144, default 1024)")
    pids_limit: Optional[str] = option("--pids-limit", metavar="N", help="most processes at once (-1: unlimited)")
    cgroup_parent: Optional[str] = option("--cgroup-parent", metavar="PATH",
                                          help="cgroup (within the cgroup2 tree) to put the container under")
    init: bool = option("--init", help="run a minimal init (catatonit or tini) as PID 1 that reaps zombies")
    init_path: Optional[str] = option("--init-path", metavar="PATH", help="the init binary to use with --init")
    read_only_tmpfs: Optional[str] = option("--read-only-tmpfs", metavar="BOOL",
                                            help="with --read-only: tmpfs on /run, /tmp, /var/tmp (true)")
    health_cmd: Optional[str] = option("--health-cmd", metavar="CMD",
                                       help="healthcheck command (a shell string or a JSON array; none)")
    health_interval: Optional[str] = option("--health-interval", metavar="DURATION",
                                            help="time between healthchecks (30s)")
    health_retries: Optional[str] = option("--health-retries", metavar="N",
                                           help="failures in a row that make the container unhealthy (3)")
    health_start_period: Optional[str] = option("--health-start-period", metavar="DURATION",
                                                help="failures then do not count (0s)")
    health_timeout: Optional[str] = option("--health-timeout", metavar="DURATION",
                                           help="longest a healthcheck may run (30s)")
    health_on_failure: Optional[str] = option("--health-on-failure", metavar="ACTION",
                                              help="when unhealthy: none, kill, restart or stop")
    no_healthcheck: bool = option("--no-healthcheck", help="disable the image's HEALTHCHECK")
    preserve_fds: Optional[str] = option("--preserve-fds", metavar="N",
                                         help="pass file descriptors 3 to 3+N-1 on to the container")
    security_opts: list[str] = option("--security-opt", metavar="OPT",
                                      help="seccomp=unconfined|FILE, no-new-privileges, mask=PATHS, unmask=PATHS")
    userns: Optional[str] = option("--userns", metavar="MODE",
                                   help="user namespace: host (default), keep-id[:uid=N,gid=N], auto[:size=N]")
    uidmap: list[str] = option("--uidmap", metavar="CTR:HOST:SIZE",
                               help="map container uids (HOST counts the user as 0, sub-ids from 1)")
    gidmap: list[str] = option("--gidmap", metavar="CTR:HOST:SIZE", help="map container gids (as --uidmap)")
    create_command: list[str] = field(list)   # the command line, for inspect and generated units


OPTIONS = declared(CreateOptions)
