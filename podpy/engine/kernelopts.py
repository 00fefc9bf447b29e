"""What the kernel gives a container, as `create` decides it and a start asks for it: resource
limits (--ulimit), namespaced kernel settings (--sysctl), the size of /dev/shm (--shm-size),
host devices (--device), its PID, IPC, UTS and cgroup namespaces (--pid, --ipc, --uts,
--cgroupns) and whether it gets a cgroup at all (--cgroups).

Values are checked as podman 4.3.1 checks them, with its messages, before anything is made;
`decide` returns the ContainerConfig fields. A start turns them into the spec: `rlimits` for
the process, `namespace_joins` for the namespaces of other containers (joined in their user
namespace, which setns(2) requires of a rootless process).
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument, InvalidState, NoSuchContainer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..state import ContainerConfig, ContainerRecord
    from .context import Runtime
    from .runoptions import CreateOptions

# --ulimit's names (docker's go-units) and the resources they set
ULIMITS = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
           "rss", "rtprio", "rttime", "sigpending", "stack")
RLIMIT_DEFAULT = 1048576   # podman's define.RLimitDefaultValue
DEFAULT_SHM = "65536k"
DEFAULT_SHM_INSPECT = 65536000   # what podman's inspect shows for it (its size read in powers of 1000)

# --sysctl: the settings of namespaces a container owns (podman's util.ValidateSysctls)
SYSCTL_IPC = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
              "kernel.shmmni", "kernel.shm_rmid_forced")
SYSCTL_PREFIXES = ("net.", "fs.mqueue.")

# --pid, --ipc, --uts, --cgroupns: the modes each takes besides container:NAME and ns:PATH
NS_MODES = {"pid": ("private", "host"), "ipc": ("private", "shareable", "none", "host"),
            "uts": ("private", "host"), "cgroup": ("private", "host")}
NS_FLAG = {"pid": "--pid", "ipc": "--ipc", "uts": "--uts", "cgroup": "--cgroupns"}
CGROUPS_MODES = ("enabled", "disabled", "no-conmon", "split")


def _slice(items: list[str]) -> list[str]:
    """A repeatable option podman declares as a string slice: each value may be a comma list."""
    return [part for item in items for part in item.split(",")]


def decide(rt: Runtime, o: CreateOptions, network: str) -> dict[str, Any]:
    """The ContainerConfig fields of these options (network: the network mode decided)."""
    modes = {kind: parse_namespace(rt, kind, getattr(o, "cgroupns" if kind == "cgroup" else kind))
             for kind in NS_MODES}
    if not o.cgroupns:
        # podman's default: a cgroup namespace of its own on a cgroup v2 host, the host's on v1
        modes["cgroup"] = "private" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "host"
    if o.hostname and modes["uts"] != "private":
        raise InvalidArgument("invalid config provided: cannot set hostname when running in the host UTS "
                              "namespace: invalid configuration")
    cgroups = o.cgroups or "enabled"
    if cgroups not in CGROUPS_MODES:
        raise InvalidArgument(f"running container create option: invalid cgroup mode \"{cgroups}\": invalid argument")
    if cgroups == "disabled":
        _check_no_cgroups(modes["pid"], o.cgroup_parent)
    if cgroups == "split" and o.cgroup_parent:
        raise InvalidArgument("cannot specify --cgroup-mode=split with a cgroup-parent: invalid argument")
    shm_size = None
    if o.shm_size is not None:
        if modes["ipc"] == "host":
            raise InvalidArgument("invalid config provided: cannot set shmsize when running in the host IPC "
                                  "namespace")
        shm_size = ram_in_bytes(o.shm_size, "--shm-size")
    ulimits, ulimit_host = parse_ulimits(o.ulimits, rt.cfg.rootless)
    return {
        "ulimits": ulimits, "ulimit_host": ulimit_host,
        "sysctls": parse_sysctls(o.sysctls, network, modes["ipc"], modes["uts"]),
        "shm_size": shm_size, "devices": [list(d) for d in parse_devices(o.devices)],
        "pid_mode": modes["pid"], "ipc_mode": modes["ipc"], "uts_mode": modes["uts"],
        "cgroupns_mode": modes["cgroup"], "cgroups_mode": cgroups,
    }


def _check_no_cgroups(pid_mode: str, cgroup_parent: Optional[str]) -> None:
    """--cgroups disabled: the container's processes are found through its PID namespace."""
    if pid_mode.startswith("container:"):
        raise InvalidArgument("cannot join another container's PID namespace if not creating cgroups: "
                              "invalid argument")
    if pid_mode.startswith("ns:"):
        raise InvalidArgument("containers not creating Cgroups must create a private PID namespace - cannot "
                              "use another: invalid argument")
    if pid_mode == "host":
        raise InvalidArgument("containers not creating Cgroups must create a private PID namespace: "
                              "invalid argument")
    if cgroup_parent:
        raise InvalidArgument("cannot set cgroup parent if not creating cgroups: invalid argument")


# -- sizes ---------------------------------------------------------------------------------

_RAM_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(value: str, flag: str) -> int:
    """A size as podman reads --shm-size (go-units' RAMInBytes): a number, then k, m, g, t or p
    (powers of 1024), optionally with i and b (`512`, `64m`, `1.5GiB`, `10b`)."""
    text = value.strip()
    number = text.rstrip("bBiI")
    head = number.rstrip("kKmMgGtTpP")
    unit = number[len(head):].lower()
    suffix = text[len(number):].lower()
    head = head.rstrip(" ")
    ok = len(unit) <= 1 and suffix in ("", "b", "ib", "i") and head and head.replace(".", "", 1).isdigit()
    if not ok or (suffix.startswith("i") and not unit):
        raise InvalidArgument(f"unable to translate {flag}: invalid size: '{value}'")
    return int(float(head) * _RAM_UNITS[unit])


# -- --ulimit ------------------------------------------------------------------------------

def parse_ulimits(items: list[str], rootless: bool) -> tuple[list[list[Any]], bool]:
    """--ulimit NAME=SOFT[:HARD] (-1 unlimited) as [RLIMIT_NAME, soft, hard], with podman's
    defaults for nofile and nproc (see default_ulimits) where not given; `host` anywhere: no
    limits set, the container keeps podpy's own. Returns (limits, host)."""
    given: list[list[Any]] = []
    host = False
    for item in _slice(items):
        if item == "host":
            host = True
            continue
        given.append(_ulimit(item))
    if host:
        return [], True
    # podman's order: nofile first (its spec generator starts with one), then the rest as given,
    # then nproc when it was not given
    nofile, nproc = default_ulimits(rootless)
    out: list[list[Any]] = [nofile]
    for limit in given:
        same = next((i for i, have in enumerate(out) if have[0] == limit[0]), None)
        if same is None:
            out.append(limit)
        else:
            out[same] = limit
    if not any(limit[0] == "RLIMIT_NPROC" for limit in out):
        out.append(nproc)
    return out, False


def _ulimit(item: str) -> list[Any]:
    def fail(why: str) -> InvalidArgument:
        return InvalidArgument(f'ulimit option "{item}" requires name=SOFT:HARD, failed to be parsed: {why}')

    name, eq, values = item.partition("=")
    if not eq:
        raise fail(f"invalid ulimit argument: {item}")
    if name not in ULIMITS:
        raise fail(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise fail(f"too many limit value arguments - {values}, can only have up to two, `soft[:hard]`")
    numbers = []
    for part in parts:
        digits = part[1:] if part[:1] in ("+", "-") else part
        if not (digits.isascii() and digits.isdigit()):
            raise fail(f'strconv.ParseInt: parsing "{part}": invalid syntax')
        numbers.append(int(part))
    soft, hard = numbers[0], numbers[-1]
    if hard != -1 and soft > hard:
        raise fail(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return ["RLIMIT_" + name.upper(), soft, hard]


def default_ulimits(rootless: bool) -> tuple[list[Any], list[Any]]:
    """Podman's limits where --ulimit gives none: open files at the hard limit (podman raises
    its own soft limit to it), processes at the kernel's pid_max when that is within the
    hard limit (its containers.conf default), each at most 1048576."""
    own = _own_limits()
    nofile = own.get("Max open files", (RLIMIT_DEFAULT, RLIMIT_DEFAULT))
    nproc = own.get("Max processes", (RLIMIT_DEFAULT, RLIMIT_DEFAULT))
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
    except (OSError, ValueError):
        pid_max = 0
    # Never above our own hard limits: only CAP_SYS_RESOURCE may raise one, which a rootless
    # user never has and root may lack too (a confined host); a default must not fail a start.
    raise_ok = not rootless and _may_raise_limits()
    files = RLIMIT_DEFAULT if raise_ok or nofile[1] == -1 else min(nofile[1], RLIMIT_DEFAULT)
    if pid_max and (raise_ok or nproc[1] == -1 or pid_max <= nproc[1]):
        procs = (pid_max, pid_max)
    elif raise_ok or nproc[1] == -1 or RLIMIT_DEFAULT <= nproc[1]:
        procs = (RLIMIT_DEFAULT, RLIMIT_DEFAULT)
    else:
        procs = (min(nproc[0], RLIMIT_DEFAULT), min(nproc[1], RLIMIT_DEFAULT))
    return ["RLIMIT_NOFILE", files, files], ["RLIMIT_NPROC", procs[0], procs[1]]


def _may_raise_limits() -> bool:
    """Whether this process holds CAP_SYS_RESOURCE (bit 24 of its effective set)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> 24 & 1)
    except (OSError, ValueError):
        pass
    return False


def _own_limits() -> dict[str, tuple[int, int]]:
    """This process's soft and hard limits, by /proc/self/limits' names (unlimited: -1)."""
    out: dict[str, tuple[int, int]] = {}
    try:
        with open("/proc/self/limits") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        name, values = line[:26].strip(), line[26:].split()
        if len(values) >= 2:
            out[name] = tuple(-1 if v == "unlimited" else int(v) for v in values[:2])  # type: ignore[assignment]
    return out


def rlimits(cfg: ContainerConfig) -> list[dict[str, Any]]:
    """The spec's process.rlimits of a container."""
    return [{"type": name, "soft": soft, "hard": hard} for name, soft, hard in cfg.ulimits]


def inspect_ulimits(cfg: ContainerConfig) -> list[dict[str, Any]]:
    return [{"Name": name, "Soft": soft, "Hard": hard} for name, soft, hard in cfg.ulimits]


# -- --sysctl ------------------------------------------------------------------------------

def parse_sysctls(items: list[str], network: str, ipc: str, uts: str) -> dict[str, str]:
    """--sysctl NAME=VALUE, as podman validates them: settings of the network namespace (net.*)
    only with one of the container's own, of the IPC namespace (fs.mqueue.*, kernel.msg*, sem,
    shm*) only with an IPC namespace that is not the host's."""
    out: dict[str, str] = {}
    for item in _slice(items):
        parts = item.split("=")
        if len(parts) < 2:
            raise InvalidArgument(f"{item} is invalid, sysctl values must be in the form of KEY=VALUE")
        key, value = parts[0], parts[1]
        if f"{key.strip()}={value.strip()}" != item:
            raise InvalidArgument(f"'{item}' is invalid, extra spaces found")
        if key not in SYSCTL_IPC and not key.startswith(SYSCTL_PREFIXES):
            raise InvalidArgument(f"sysctl '{key}' is not allowed")
        if ipc == "host" and (key.startswith("fs.mqueue.") or key in SYSCTL_IPC):
            raise InvalidArgument(f"sysctl {key}={value} can't be set since IPC Namespace set to host: "
                                  "invalid argument")
        if network == "host" and key.startswith("net."):
            raise InvalidArgument(f"sysctl {key}={value} can't be set since Network Namespace set to host: "
                                  "invalid argument")
        out[key] = value
    return out


# -- --device ------------------------------------------------------------------------------

def parse_devices(items: list[str]) -> list[tuple[str, str, str]]:
    """--device HOST[:CONTAINER][:PERMISSIONS] (podman's parseDevice): (host node, path in the
    container, permissions) for each device node; a directory gives every node below it."""
    out: list[tuple[str, str, str]] = []
    for item in _slice(items):
        src, dst, perms = _device(item)
        try:
            st = os.stat(src)
        except OSError as exc:
            raise InvalidArgument(f"stat {src}: {(exc.strerror or '').lower()}") from None
        import stat as _stat

        if _stat.S_ISDIR(st.st_mode):
            for dirpath, _dirs, files in os.walk(src):
                for name in sorted(files):
                    node = os.path.join(dirpath, name)
                    try:
                        mode = os.stat(node).st_mode
                    except OSError:
                        continue
                    if _stat.S_ISCHR(mode) or _stat.S_ISBLK(mode):
                        out.append((node, os.path.join(dst, os.path.relpath(node, src)), perms))
        elif _stat.S_ISCHR(st.st_mode) or _stat.S_ISBLK(st.st_mode):
            out.append((src, dst, perms))
        else:
            raise InvalidArgument(f"{src} is not a valid device: not a device node")
    return out


def _device_mode(mode: str) -> bool:
    return bool(mode) and all(c in "rwm" for c in mode) and len(set(mode)) == len(mode)


def _device(item: str) -> tuple[str, str, str]:
    parts = item.split(":")
    if len(parts) > 3:
        raise InvalidArgument(f"invalid device specification: {item}")
    src, dst, perms = parts[0], "", "rwm"
    if len(parts) == 3:
        if not _device_mode(parts[2]):
            raise InvalidArgument(f"invalid device mode: {parts[2]}")
        perms = parts[2]
    if len(parts) >= 2:
        if _device_mode(parts[1]):
            perms = parts[1]
        elif parts[1] and not parts[1].startswith("/"):
            raise InvalidArgument(f"invalid device mode: {parts[1]}")
        else:
            dst = parts[1]
    return src, dst or src, perms


def device_mounts(cfg: ContainerConfig) -> list[dict[str, Any]]:
    """The devices as a rootless container gets them, as rootless podman gives them: bind mounts
    of the host's nodes (a user namespace may not mknod), read-only without `w`."""
    return [{"destination": dst, "type": "bind", "source": src,
             "options": ["bind", "nosuid", "noexec", "rprivate"] + ([] if "w" in perms else ["ro"])}
            for src, dst, perms in cfg.devices]


# -- namespaces ----------------------------------------------------------------------------

def parse_namespace(rt: Runtime, kind: str, value: Optional[str]) -> str:
    """A namespace option as inspect shows it: its mode, container:ID or ns:PATH."""
    if value is None or value == "":
        return "shareable" if kind == "ipc" else "private"
    if value in NS_MODES[kind]:
        return value
    mode, _, arg = value.partition(":")
    if mode == "container" and arg:
        try:
            other = rt.state.lookup(arg)
        except NoSuchContainer as exc:
            raise InvalidArgument(f"looking up container to share {kind} namespace with: {exc}") from None
        if kind == "ipc" and other.config.ipc_mode == "private":
            raise InvalidArgument(f"joining IPC of container {other.id} is not allowed: non-shareable IPC "
                                  "(hint: use IpcMode:shareable for the donor container)")
        return f"container:{other.id}"
    if mode == "ns" and arg:
        if not os.path.exists(arg):
            raise InvalidArgument(f"cannot find specified {kind.upper() if kind != 'cgroup' else kind} namespace "
                                  f"path: stat {arg}: no such file or directory")
        if rt.cfg.rootless:
            from ..network.start import owner_userns

            owner_userns(arg, kind)   # one the host owns cannot be joined
        return f"ns:{arg}"
    raise InvalidArgument(f"unrecognized namespace mode {value} passed")


def spec_namespaces(cfg: ContainerConfig, own_netns: bool) -> list[dict[str, Any]]:
    """The spec's namespaces of a container (those to join get their paths at its start)."""
    out: list[dict[str, Any]] = []
    for kind, mode in (("pid", cfg.pid_mode), ("uts", cfg.uts_mode), ("ipc", cfg.ipc_mode)):
        if mode != "host":
            out.append({"type": kind})
    out.append({"type": "mount"})
    if own_netns:
        out.append({"type": "network"})
    if cfg.cgroupns_mode not in ("", "host"):
        out.append({"type": "cgroup"})
    return out


def ipc_kind(cfg: ContainerConfig) -> str:
    """/dev/shm and /dev/mqueue: "private", "none", "host", or "joined" (another's IPC namespace)."""
    mode = cfg.ipc_mode or "shareable"
    if mode in ("shareable", "private"):
        return "private"
    if mode in ("none", "host"):
        return mode
    return "joined"


def namespace_joins(rt: Runtime, rec: ContainerRecord) -> tuple[dict[str, str], Optional[str], Optional[int]]:
    """For a start of rec: the namespaces to join (type -> path), the user namespace that owns
    them (rootless; None when there is none to join) and the pid of the container whose IPC
    namespace it shares (for its /dev/shm)."""
    cfg = rec.config
    paths: dict[str, str] = {}
    owners: list[tuple[str, str]] = []
    ipc_pid = None
    for kind, mode in (("pid", cfg.pid_mode), ("ipc", cfg.ipc_mode), ("uts", cfg.uts_mode),
                       ("cgroup", cfg.cgroupns_mode)):
        if mode.startswith("container:"):
            other = rt.state.get(mode.partition(":")[2])
            if other is None:
                raise InvalidState(f"the container whose {kind} namespace {rec.name} shares is gone")
            if other.state not in ("running", "paused") or not other.pid:
                raise InvalidState(f"cannot join the {kind} namespace of container {other.name}: it is not running")
            paths[kind] = f"/proc/{other.pid}/ns/{kind}"
            owners.append((f"/proc/{other.pid}/ns/user", other.name))
            if kind == "ipc" and other.config.ipc_mode != "none":   # its /dev/shm, when it has one
                ipc_pid = other.pid
        elif mode.startswith("ns:"):
            paths[kind] = mode[3:]
            if rt.cfg.rootless:
                from ..network.start import owner_userns

                owners.append((owner_userns(mode[3:], kind), mode[3:]))
    if not rt.cfg.rootless or not owners:
        return paths, None, ipc_pid
    first = owners[0][0]
    for path, what in owners[1:]:
        if not same_namespace(path, first):
            raise InvalidArgument(f"cannot join the namespaces of {owners[0][1]} and {what}: they belong to "
                                  "different user namespaces")
    return paths, first, ipc_pid


def same_namespace(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def uts_hostname(rt: Runtime, uts: str) -> str:
    """The host name a container sharing a UTS namespace has: the host's, or the other container's."""
    if uts == "host":
        import _socket

        return _socket.gethostname()
    if uts.startswith("container:"):
        other = rt.state.get(uts.partition(":")[2])
        if other is not None:
            return other.config.hostname or other.id[:12]
    return ""
