"""The options of `run` and `create`, declared once: CreateOptions.

Each option is one line of the class: its field (the name the CLI parses it
into), its type, its flags, its metavar and its help. The type says how it is
given on the command line and what it is when it is not:

    bool           a flag: --rm, -it, --rm=false               default False (or as declared)
    Optional[bool] a flag whose absence matters: --tls-verify    default None
    Optional[str]  one value: --name x, --name=x, -u1 (last wins)   default None
    list[str]      repeatable: -e A=1 -e B=2                    default []

An option that only `run` has (`--rmi`, `--sig-proxy`, `--detach-keys`, as in podman) is
declared with run_only; `create` does not know its flags. One that only `create` has
(`--init-ctr`) is declared with create_only.

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
KINDS: dict[str, tuple[str, Any]] = {"bool": (FLAG, False), "Optional[bool]": (FLAG, None),
                                     "Optional[str]": (VALUE, None), "list[str]": (MULTI, list)}


class Option:
    """One command-line option: its flags, the field it goes to (dest), how it is given (kind)."""

    __slots__ = ("flags", "dest", "kind", "metavar", "help", "default", "run_only", "create_only")

    def __init__(self, flags: tuple[str, ...], metavar: str = "", help: str = "", dest: str = "",
                 kind: str = "", default: Any = None, run_only: bool = False, create_only: bool = False) -> None:
        self.flags, self.metavar, self.help, self.dest, self.kind = flags, metavar, help, dest, kind
        self.default, self.run_only, self.create_only = default, run_only, create_only

    def __repr__(self) -> str:
        return f"Option({'/'.join(self.flags)} -> {self.dest}, {self.kind})"


class _Field:
    """A field that is not an option, with its default (REQUIRED: none)."""

    __slots__ = ("default",)

    def __init__(self, default: Any) -> None:
        self.default = default


def option(*flags: str, metavar: str = "", help: str = "", default: Any = None, run_only: bool = False,
           create_only: bool = False) -> Any:
    """Declares a field of an options class as a command-line option (its field and kind
    are filled in from the declaration by declared()). default: a flag's, when not False;
    run_only: an option of `run` that `create` does not take; create_only: the other way."""
    return Option(flags, metavar, help, default=default, run_only=run_only, create_only=create_only)


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
            if declaration.default is not None:
                if declaration.kind != FLAG:
                    raise TypeError(f"{cls.__name__}.{name}: only a flag declares its default")
                fields[name] = declaration.default
            declaration.default = fields[name]
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
    pod: Optional[str] = option("--pod", metavar="POD", help="run in this pod (new:NAME: a new pod of that name)")
    pod_id_file: Optional[str] = option("--pod-id-file", metavar="FILE", help="run in the pod whose id FILE holds")
    init_ctr: Optional[str] = option("--init-ctr", metavar="MODE", create_only=True,
                                     help="an init container of its pod: always (at every pod start) or once")
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
    secrets: list[str] = option("--secret", metavar="NAME[,OPT=V]",
                                help="a secret as a file in /run/secrets (type=mount) or a variable (type=env)")
    tmpfs: list[str] = option("--tmpfs", metavar="PATH[:OPTS]", help="mount a tmpfs")
    volumes_from: list[str] = option("--volumes-from", metavar="CTR[:ro|rw]",
                                     help="mount the volumes and binds of another container")
    image_volume: Optional[str] = option("--image-volume", metavar="MODE",
                                         help="the image's VOLUMEs: bind (anonymous volumes, the default), "
                                              "tmpfs (a tmpfs with the image's content) or ignore")
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
    ip6: Optional[str] = option("--ip6", metavar="ADDRESS",
                                help="the container's IPv6 address on its user network (one made with --ipv6)")
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
    health_startup_cmd: Optional[str] = option("--health-startup-cmd", metavar="CMD",
                                               help="a startup healthcheck, run until it passes before the "
                                                    "healthcheck's (a shell string or a JSON array)")
    health_startup_interval: Optional[str] = option("--health-startup-interval", metavar="DURATION",
                                                    help="time between startup healthchecks (30s)")
    health_startup_retries: Optional[str] = option("--health-startup-retries", metavar="N",
                                                   help="failed startup checks that restart the container (0: any "
                                                        "number)")
    health_startup_success: Optional[str] = option("--health-startup-success", metavar="N",
                                                   help="passed startup checks before the healthcheck's own (1)")
    health_startup_timeout: Optional[str] = option("--health-startup-timeout", metavar="DURATION",
                                                   help="longest a startup healthcheck may run (30s)")
    health_log_destination: Optional[str] = option("--health-log-destination", metavar="DEST",
                                                   help="where the checks' log goes: local (default), a directory, "
                                                        "or events_logger (also to the events)")
    health_max_log_count: Optional[str] = option("--health-max-log-count", metavar="N",
                                                 help="checks kept in the health log (5; 0: all)")
    health_max_log_size: Optional[str] = option("--health-max-log-size", metavar="N",
                                                help="characters kept of each check's output (500; 0: all)")
    preserve_fds: Optional[str] = option("--preserve-fds", metavar="N",
                                         help="pass file descriptors 3 to 3+N-1 on to the container")
    security_opts: list[str] = option("--security-opt", metavar="OPT",
                                      help="seccomp=unconfined|FILE, no-new-privileges, mask=PATHS, unmask=PATHS")
    userns: Optional[str] = option("--userns", metavar="MODE",
                                   help="user namespace: host (default), keep-id[:uid=N,gid=N], auto[:size=N]")
    uidmap: list[str] = option("--uidmap", metavar="CTR:HOST:SIZE",
                               help="map container uids (HOST counts the user as 0, sub-ids from 1)")
    gidmap: list[str] = option("--gidmap", metavar="CTR:HOST:SIZE", help="map container gids (as --uidmap)")
    # what the kernel gives the container
    ulimits: list[str] = option("--ulimit", metavar="NAME=SOFT[:HARD]",
                                help="a resource limit (nofile=1024:2048, core=-1; host: the caller's own)")
    sysctls: list[str] = option("--sysctl", metavar="NAME=VALUE",
                                help="a namespaced kernel setting: net.*, fs.mqueue.*, kernel.msg*|sem|shm*")
    shm_size: Optional[str] = option("--shm-size", metavar="SIZE", help="size of /dev/shm (65536k)")
    devices: list[str] = option("--device", metavar="HOST[:CTR][:PERMS]",
                                help="add a host device (its node bound in; PERMS r, w, m)")
    pid: Optional[str] = option("--pid", metavar="MODE", help="PID namespace: private, host, container:NAME, ns:PATH")
    ipc: Optional[str] = option("--ipc", metavar="MODE",
                                help="IPC namespace: shareable, private, none, host, container:NAME, ns:PATH")
    uts: Optional[str] = option("--uts", metavar="MODE", help="UTS namespace: private, host, container:NAME, ns:PATH")
    cgroupns: Optional[str] = option("--cgroupns", metavar="MODE", help="cgroup namespace: private or host")
    cpu_period: Optional[str] = option("--cpu-period", metavar="USEC", help="CPU period for --cpu-quota (cpu.max)")
    cpu_quota: Optional[str] = option("--cpu-quota", metavar="USEC", help="CPU time per period (cpu.max)")
    cpuset_cpus: Optional[str] = option("--cpuset-cpus", metavar="LIST", help="CPUs to run on (0-3,5; cpuset.cpus)")
    cpuset_mems: Optional[str] = option("--cpuset-mems", metavar="LIST", help="memory nodes (cpuset.mems)")
    cpu_rt_period: Optional[str] = option("--cpu-rt-period", metavar="USEC",
                                          help="realtime period (cgroup v1 only: ignored, with a warning)")
    cpu_rt_runtime: Optional[str] = option("--cpu-rt-runtime", metavar="USEC",
                                           help="realtime runtime (cgroup v1 only: ignored, with a warning)")
    blkio_weight: Optional[str] = option("--blkio-weight", metavar="N", help="block IO weight, 10-1000 (io.weight)")
    blkio_weight_device: list[str] = option("--blkio-weight-device", metavar="DEV:N",
                                            help="block IO weight of one device (io.weight)")
    device_read_bps: list[str] = option("--device-read-bps", metavar="DEV:RATE",
                                        help="read bytes per second from a device (io.max; 1mb)")
    device_write_bps: list[str] = option("--device-write-bps", metavar="DEV:RATE",
                                         help="write bytes per second to a device (io.max)")
    device_read_iops: list[str] = option("--device-read-iops", metavar="DEV:N",
                                         help="read operations per second from a device (io.max)")
    device_write_iops: list[str] = option("--device-write-iops", metavar="DEV:N",
                                          help="write operations per second to a device (io.max)")
    memory_reservation: Optional[str] = option("--memory-reservation", metavar="SIZE",
                                               help="memory soft limit (memory.low)")
    memory_swappiness: Optional[str] = option("--memory-swappiness", metavar="N",
                                              help="0-100 (cgroup v1 only: recorded, no effect)")
    oom_kill_disable: bool = option("--oom-kill-disable",
                                    help="(cgroup v1 only: recorded, no effect)")
    device_cgroup_rule: list[str] = option("--device-cgroup-rule", metavar="RULE",
                                           help="'c|b|a MAJOR:MINOR rwm' (rootless: recorded, no effect)")
    cgroup_conf: list[str] = option("--cgroup-conf", metavar="FILE=VALUE",
                                    help="write a file of the container's cgroup (memory.high=1G)")
    cgroups: Optional[str] = option("--cgroups", metavar="MODE",
                                    help="enabled (default), disabled (no cgroup), no-conmon or split")
    kernel_memory: Optional[str] = option("--kernel-memory", metavar="SIZE", help="accepted; has no effect")
    gpus: list[str] = option("--gpus", metavar="GPUS",
                             help="accepted; has no effect (no GPU is passed: podman 4.3.1 ignores it too)")
    tz: Optional[str] = option("--tz", metavar="ZONE", help="time zone: local or a zone such as Europe/Paris")
    env_host: bool = option("--env-host", help="start from podpy's own environment")
    hostusers: list[str] = option("--hostuser", metavar="USER",
                                  help="add a host user (name or uid) to the container's /etc/passwd")
    platform: Optional[str] = option("--platform", metavar="OS/ARCH[/VARIANT]",
                                     help="the image's platform (pulled when the local image is another's)")
    arch: Optional[str] = option("--arch", metavar="ARCH", help="the image's architecture (as --platform)")
    os: Optional[str] = option("--os", metavar="OS", help="the image's operating system (as --platform)")
    variant: Optional[str] = option("--variant", metavar="VARIANT", help="the image's architecture variant")
    quiet: bool = option("-q", "--quiet", help="no progress lines while the image is pulled")
    authfile: Optional[str] = option("--authfile", metavar="FILE", help="credentials for the pull (auth.json)")
    tls_verify: Optional[bool] = option("--tls-verify", help="verify the registry's certificate when pulling")
    signature_policy: Optional[str] = option("--signature-policy", metavar="FILE",
                                             help="the trust policy the pull is checked against (policy.json)")
    retry: Optional[str] = option("--retry", metavar="N",
                                  help="try the image's pull again N times when the registry cannot be reached (0)")
    retry_delay: Optional[str] = option("--retry-delay", metavar="DURATION",
                                        help="wait between the pull's tries (2s, doubling)")
    disable_content_trust: bool = option("--disable-content-trust", help="accepted; has no effect (docker's)")
    rootfs: bool = option("--rootfs", help="the first argument is a directory to run as the root file system")
    # the process
    group_add: list[str] = option("--group-add", metavar="GROUP",
                                  help="a supplementary group (name or id); keep-groups: the caller's own")
    umask: Optional[str] = option("--umask", metavar="MASK", help="the process's umask (0022)")
    unsetenv: list[str] = option("--unsetenv", metavar="NAME",
                                 help="drop a variable of the image or the defaults")
    unsetenv_all: bool = option("--unsetenv-all", help="drop every variable of the image and the defaults")
    env_merge: list[str] = option("--env-merge", metavar="K=V",
                                  help="rewrite an image's variable, ${K} expanded (PATH=${PATH}:/opt)")
    http_proxy: bool = option("--http-proxy", default=True,
                              help="pass the host's proxy variables (http_proxy & co) in (true)")
    label_file: list[str] = option("--label-file", metavar="FILE", help="read labels (K=V lines) from a file")
    annotations: list[str] = option("--annotation", metavar="K=V", help="an annotation of the container")
    no_hosts: bool = option("--no-hosts", help="do not write the container's /etc/hosts")
    passwd_entry: Optional[str] = option("--passwd-entry", metavar="TEMPLATE",
                                         help="the /etc/passwd line added for a --user not in it "
                                              "($USERNAME $UID $GID $NAME $HOME)")
    passwd: bool = option("--passwd", default=True, run_only=True,
                          help="add /etc/passwd and /etc/group entries for the container's user (true)")
    oom_score_adj: Optional[str] = option("--oom-score-adj", metavar="N",
                                          help="the process's OOM score adjustment (-1000..1000)")
    personality: Optional[str] = option("--personality", metavar="DOMAIN", help="execution domain: LINUX or LINUX32")
    chrootdirs: list[str] = option("--chrootdirs", metavar="PATH",
                                   help="a chroot inside the container: it gets /etc/hosts and resolv.conf too")
    seccomp_policy: Optional[str] = option("--seccomp-policy", metavar="POLICY",
                                           help="default, or image (the image's own profile, refused when it has none)")
    requires: list[str] = option("--requires", metavar="CTR", help="containers started before this one")
    systemd: Optional[str] = option("--systemd", metavar="MODE",
                                    help="true (when the command is systemd or init), false or always")
    subuidname: Optional[str] = option("--subuidname", metavar="NAME",
                                       help="map the container's uids to NAME's range in /etc/subuid")
    subgidname: Optional[str] = option("--subgidname", metavar="NAME",
                                       help="map the container's gids to NAME's range in /etc/subgid")
    # the container's life
    replace: bool = option("--replace", help="remove an existing container of the same name first")
    timeout: Optional[str] = option("--timeout", metavar="SECONDS",
                                    help="kill the container after this many seconds (0: never)")
    cidfile: Optional[str] = option("--cidfile", metavar="FILE", help="write the container's id to this new file")
    pidfile: Optional[str] = option("--pidfile", metavar="FILE", help="write the container's process id here")
    conmon_pidfile: Optional[str] = option("--conmon-pidfile", metavar="FILE",
                                           help="write the id of the process supervising the container here")
    sdnotify: Optional[str] = option("--sdnotify", metavar="MODE",
                                     help="container (default: $NOTIFY_SOCKET inside), conmon, healthy or ignore")
    sig_proxy: bool = option("--sig-proxy", default=True, run_only=True,
                             help="pass the signals podpy receives on to the container (true)")
    rmi: bool = option("--rmi", run_only=True, help="remove the image after the container, unless it is in use")
    detach_keys: Optional[str] = option("--detach-keys", metavar="KEYS", run_only=True,
                                        help="keys that detach (ctrl-p,ctrl-q; \"\" for none)")
    attach: list[str] = option("-a", "--attach", metavar="STREAM",
                               help="stdin, stdout, stderr: the streams run shows (all)")
    create_command: list[str] = field(list)   # the command line, for inspect and generated units
    # whether a missing working directory is made (None: only when it is the image's, not
    # --workdir's, as podman decides; the Docker API and kube play make theirs, as Docker does)
    create_workdir: Optional[bool] = field(None)
    creds: Optional[str] = field(None)        # USER:PASSWORD for the image's pull (kube play --creds)
    cert_dir: Optional[str] = field(None)     # certificates for the image's pull (kube play --cert-dir)


ALL_OPTIONS = declared(CreateOptions)
OPTIONS = tuple(o for o in ALL_OPTIONS if not o.create_only)
CREATE_OPTIONS = tuple(o for o in ALL_OPTIONS if not o.run_only)
