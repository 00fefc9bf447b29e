"""Parsing what users type: -e, --env-file, -v, -u, --label, --entrypoint, names.

Each parser raises InvalidArgument with one line naming the bad value, before
anything is created.
"""

from __future__ import annotations

import os

from storage import fastjson as json
from storage.named import NamedTuple

from .errors import InvalidArgument, UnknownUser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

_NAME_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def parse_size(value: str, what: str) -> int:
    """formats.parse_size, its module imported when a size is given: a `run` without one
    does without it."""
    from .formats import parse_size as parse

    return parse(value, what)


def parse_duration(value: str, what: str) -> float:
    """formats.parse_duration, imported as parse_size is."""
    from .formats import parse_duration as parse

    return parse(value, what)


def valid_name(name: str) -> bool:
    """A container, pod, volume or network name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (checked without `re`,
    which would cost milliseconds on every run)."""
    return bool(name) and name[0] in _NAME_FIRST and not name.strip(_NAME_FIRST + "_.-")


def valid_env_name(name: str) -> bool:
    """An -e variable name as podman takes one: anything but nothing (`=x` is refused; spaces
    are the variable's own, as in `export E=5` of an env file)."""
    return bool(name) and "=" not in name


_VOLUME_OPTS = {
    "ro", "rw", "z", "Z", "U", "O", "copy", "nocopy", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
    "private", "rprivate", "shared", "rshared", "slave", "rslave", "bind", "rbind", "idmap",
}


def check_name(name: str) -> str:
    if not valid_name(name):
        raise InvalidArgument(f"container name {name!r} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    return name


def parse_env(items: list[str], host_env: Optional[dict[str, str]] = None) -> list[str]:
    """-e values: K=V, K (taken from the host when set), K* (every host variable matching)."""
    host = dict(os.environ) if host_env is None else host_env
    out: list[str] = []
    for item in items:
        name, eq, value = item.partition("=")
        if not valid_env_name(name):
            raise InvalidArgument(f"invalid environment variable: {item!r}")
        name = name.lstrip(" \t\n\v\f\r")   # the front trimmed, nothing else, as podman does
        if eq:
            out.append(f"{name}={value}")
        elif name.endswith("*"):
            import fnmatch

            out.extend(f"{k}={v}" for k, v in sorted(host.items()) if fnmatch.fnmatchcase(k, name))
        elif name in host:
            out.append(f"{name}={host[name]}")
    return out


def parse_env_files(paths: list[str]) -> list[str]:
    """--env-file: K=V lines; blank lines and # comments skipped; K alone takes the host's value."""
    items: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as exc:   # podman's words (Go's: the call, then the lowercase reason)
            call = "read" if isinstance(exc, IsADirectoryError) else "open"
            reason = (exc.strerror or str(exc)).lower()
            raise InvalidArgument(f'parsing env file "{path}": {call} {path}: {reason}') from exc
        for n, line in enumerate(lines, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            if s.startswith("="):
                raise InvalidArgument(f"invalid environment variable in {path}:{n}: {line!r}")
            items.append(line.lstrip())
    return parse_env(items)


def merge_env(*layers: list[str]) -> list[str]:
    """Later lists override earlier ones by name; order of first appearance kept."""
    merged: dict[str, str] = {}
    for layer in layers:
        for item in layer:
            k, _, v = item.partition("=")
            merged[k] = v
    return [f"{k}={v}" for k, v in merged.items()]


class Volume(NamedTuple):
    """A mount asked for: kind bind (source a host path), volume (source a volume's name; ""
    for a new anonymous one) or tmpfs (source unused)."""

    __slots__ = ()
    source: str
    destination: str
    options: tuple[str, ...]
    kind: str = "bind"


def parse_volume(spec: str) -> Volume:
    """-v SRC:DST[:OPTS]: SRC a host path (absolute, or ./ ../ relative) or a volume's name;
    -v DST alone: a new anonymous volume."""
    parts = spec.split(":")
    if len(parts) == 1 and spec.startswith("/"):
        return Volume("", os.path.normpath(spec), (), "volume")
    if len(parts) < 2 or len(parts) > 3 or not all(parts[:2]):
        raise InvalidArgument(f"invalid volume {spec!r}: expected SOURCE:CONTAINER-PATH[:OPTIONS]")
    src, dst = parts[0], parts[1]
    opts = tuple(o for o in parts[2].split(",") if o) if len(parts) == 3 else ()
    for o in opts:
        if o not in _VOLUME_OPTS:
            raise InvalidArgument(f"invalid volume {spec!r}: unknown option {o!r}")
    if "ro" in opts and "rw" in opts:
        raise InvalidArgument(f"invalid volume {spec!r}: ro and rw together")
    if not dst.startswith("/"):
        raise InvalidArgument(f"invalid volume {spec!r}: container path {dst!r} is not absolute")
    if src.startswith("/") or src.startswith("."):
        src = os.path.abspath(src)
        if not os.path.exists(src):
            raise InvalidArgument(f"invalid volume {spec!r}: host path {src}: no such file or directory")
    else:
        if not valid_name(src):
            raise InvalidArgument(f"invalid volume {spec!r}: {src!r} is neither a path nor a volume name")
        return Volume(src, os.path.normpath(dst), opts, "volume")
    return Volume(src, os.path.normpath(dst), opts)


def parse_mount(spec: str) -> Volume:
    """--mount type=bind|volume|tmpfs,source=,destination=,ro[=true],... (docker's syntax)."""
    fields: dict[str, str] = {}
    flags: list[str] = []
    for item in spec.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq:
            flags.append(key)
        else:
            fields[key] = value
    kind = fields.pop("type", "volume")
    dst = fields.pop("destination", None) or fields.pop("dst", None) or fields.pop("target", None)
    src = fields.pop("source", None) or fields.pop("src", None) or ""
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid --mount {spec!r}: type must be bind, volume or tmpfs")
    if not dst or not dst.startswith("/"):
        raise InvalidArgument(f"invalid --mount {spec!r}: an absolute destination is needed")
    opts: list[str] = []
    for flag in flags:
        if flag in ("ro", "readonly"):
            opts.append("ro")
        elif flag in ("rw", "z", "Z", "U", "nocopy", "nosuid", "nodev", "noexec", "suid", "dev", "exec"):
            opts.append(flag)
        else:
            raise InvalidArgument(f"invalid --mount {spec!r}: unknown option {flag!r}")
    for key, value in fields.items():
        if key in ("ro", "readonly"):
            if value.lower() in ("true", "1"):
                opts.append("ro")
        elif key in ("bind-propagation",) and value in ("private", "rprivate", "slave", "rslave"):
            opts.append(value)
        elif key == "tmpfs-size" and kind == "tmpfs":
            opts.append(f"size={parse_size(value, '--mount tmpfs-size')}")
        elif key == "tmpfs-mode" and kind == "tmpfs":
            opts.append(f"mode={value}")
        elif key in ("relabel", "consistency"):
            continue
        else:
            raise InvalidArgument(f"invalid --mount {spec!r}: unknown option {key!r}")
    if kind == "bind":
        if not src:
            raise InvalidArgument(f"invalid --mount {spec!r}: a bind mount needs a source")
        return parse_volume(f"{src}:{dst}" + (":" + ",".join(opts) if opts else ""))
    if kind == "volume":
        if src and not valid_name(src):
            raise InvalidArgument(f"invalid --mount {spec!r}: {src!r} is not a volume name")
        return Volume(src, os.path.normpath(dst), tuple(opts), "volume")
    return Volume("", os.path.normpath(dst), tuple(opts), "tmpfs")


def parse_tmpfs(spec: str) -> Volume:
    """--tmpfs DST[:OPTIONS] (mount options such as size=64m,mode=1777,noexec)."""
    dst, _, options = spec.partition(":")
    if not dst.startswith("/"):
        raise InvalidArgument(f"invalid --tmpfs {spec!r}: the path must be absolute")
    return Volume("", os.path.normpath(dst), tuple(o for o in options.split(",") if o), "tmpfs")


def volume_mount(v: Volume) -> dict[str, object]:
    """The OCI mount for a bind (or a volume once its source is its directory)."""
    if v.kind == "tmpfs":
        opts = [o for o in v.options if o not in ("z", "Z", "U")]
        if not any(o.startswith("mode=") for o in opts):
            opts.append("mode=1777")
        return {"destination": v.destination, "type": "tmpfs", "source": "tmpfs",
                "options": ["rw", "nosuid", "nodev", *opts]}
    options = ["rbind"]
    options.append("ro" if "ro" in v.options else "rw")
    for o in v.options:
        if o in ("exec", "noexec", "suid", "nosuid", "dev", "nodev", "private", "rprivate",
                 "slave", "rslave"):
            options.append(o)
    if not any(o in options for o in ("private", "rprivate", "slave", "rslave")):
        options.append("rprivate")
    return {"destination": v.destination, "type": "bind", "source": v.source, "options": options}


def parse_labels(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        if not k:
            raise InvalidArgument(f"invalid label {item!r}: empty name")
        out[k] = v
    return out


def parse_entrypoint(value: Optional[str]) -> Optional[list[str]]:
    """--entrypoint: a JSON array, or one string (the whole command); "" clears the image's."""
    if value is None:
        return None
    if value == "":
        return []
    if value.lstrip().startswith("["):
        return json_strings(value, "--entrypoint")
    return [value]


def json_strings(value: str, flag: str) -> list[str]:
    """A flag's value given as a JSON array of strings."""
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise InvalidArgument(f"invalid {flag} {value!r}: {exc}") from exc
    if not isinstance(parsed, list) or not all(isinstance(x, str) for x in parsed):
        raise InvalidArgument(f"invalid {flag} {value!r}: expected a JSON array of strings")
    return parsed


class UserSpec(NamedTuple):
    __slots__ = ()
    user: str
    group: Optional[str]


def parse_user(value: str) -> UserSpec:
    """-u USER[:GROUP] with names or numbers."""
    if not value:
        raise InvalidArgument("invalid user \"\": empty")
    user, sep, group = value.partition(":")
    if not user or (sep and not group) or ":" in group:
        raise InvalidArgument(f"invalid user {value!r}: expected USER[:GROUP]")
    for part in (user, group):
        if part and (part.startswith("-") or any(c.isspace() for c in part)):
            raise InvalidArgument(f"invalid user {value!r}")
    return UserSpec(user, group or None)


def resolve_user(spec: UserSpec, passwd: Optional[bytes], group: Optional[bytes]
                 ) -> tuple[int, int, list[int], str]:
    """(uid, gid, supplementary gids, home) from the image's /etc/passwd and /etc/group."""
    users = _table(passwd)
    groups = _table(group)
    home = "/"
    if spec.user.isdigit():
        uid = int(spec.user)
        entry = next((e for e in users if len(e) > 2 and e[2] == spec.user), None)
        gid = int(entry[3]) if entry and len(entry) > 3 and entry[3].isdigit() else 0
        name = entry[0] if entry else None
        if entry and len(entry) > 5:
            home = entry[5] or "/"
    else:
        entry = next((e for e in users if e[0] == spec.user), None)
        if entry is None or len(entry) < 4 or not entry[2].isdigit() or not entry[3].isdigit():
            raise UnknownUser(f"unable to find user {spec.user}: no matching entries in passwd file")
        uid, gid, name = int(entry[2]), int(entry[3]), entry[0]
        home = (entry[5] if len(entry) > 5 else "") or "/"
    if spec.group is not None:
        if spec.group.isdigit():
            gid = int(spec.group)
        else:
            g = next((e for e in groups if e[0] == spec.group), None)
            if g is None or len(g) < 3 or not g[2].isdigit():
                raise UnknownUser(f"unable to find group {spec.group}: no matching entries in group file")
            gid = int(g[2])
    # As runc does: supplementary groups are the user's memberships in /etc/group
    # when no group was given and some exist, otherwise just the primary group.
    extra = [gid]
    if name is not None and spec.group is None:
        member = [int(g[2]) for g in groups if len(g) > 3 and g[2].isdigit() and name in g[3].split(",")]
        if member:
            extra = member
    return uid, gid, extra, home


def container_groups(spec: Optional[UserSpec], gid: int, groups: list[int]) -> list[int]:
    """A container's supplementary groups as podman gives them, from resolve_user's: none for a
    container whose user nobody named (no --user, no USER in the image); with a user but no
    group, the primary group as well as the user's memberships; with a group, that group."""
    if spec is None:
        return []
    if spec.group is None and gid not in groups:
        return [gid, *groups]
    return groups


def _table(data: Optional[bytes]) -> list[list[str]]:
    if not data:
        return []
    rows = []
    for line in data.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


def parse_restart(value: Optional[str]) -> str:
    """--restart: no, always, unless-stopped, on-failure[:N] (returned normalised)."""
    if not value:
        return "no"
    name, sep, count = value.partition(":")
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy {value!r}: use no, always, unless-stopped or on-failure[:N]")
    if sep:
        if name != "on-failure":
            raise InvalidArgument(f"invalid restart policy {value!r}: only on-failure takes a retry count")
        if not count.isdigit():
            raise InvalidArgument(f"invalid restart policy {value!r}: the retry count must be a number")
        return f"on-failure:{int(count)}"
    return name


def parse_signal(value: str) -> int:
    """A signal given as a name (TERM, SIGTERM) or a number, as podman takes them."""
    import signal

    shown = value.strip()
    shown = shown[1:] if shown.startswith("-") else shown   # `kill -s -INT`, as podman takes it
    text = shown.upper()
    if text.isdigit():
        num = int(text)
        if 0 < num < signal.NSIG:
            return num
        if num:
            raise InvalidArgument(f"valid signals are 1 through {signal.NSIG - 1}")
    else:
        name = text if text.startswith("SIG") else "SIG" + text
        sig = getattr(signal.Signals, name, None) if name.isidentifier() else None
        if isinstance(sig, signal.Signals):
            return int(sig)
        if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
            base = signal.SIGRTMIN if name.startswith("SIGRTMIN") else signal.SIGRTMAX
            off = name[8:]
            if not off:
                return int(base)
            if off[0] in "+-" and off[1:].isdigit():
                num = int(base) + int(off)
                if signal.SIGRTMIN <= num <= signal.SIGRTMAX:
                    return num
    raise InvalidArgument(f"invalid signal: {shown}")


def signal_name(num: int) -> str:
    import signal

    try:
        return signal.Signals(num).name
    except ValueError:
        return str(num)




def parse_log_options(driver: Optional[str], items: list[str]) -> tuple[str, dict[str, str]]:
    """--log-driver and --log-opt: the driver (k8s-file, or json-file, kept as its name but written
    as k8s-file, as podman does; none, passthrough, journald) and its options."""
    name = driver or "k8s-file"
    if name not in ("k8s-file", "json-file", "none", "passthrough", "journald"):
        raise InvalidArgument(f"unsupported log driver {driver!r}: use k8s-file, none, passthrough or journald")
    if name == "journald":
        check_journal()
    opts: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not value:
            raise InvalidArgument(f"invalid log option {item!r}: expected KEY=VALUE")
        if key == "max-size":
            opts[key] = str(parse_size(value, "log max-size"))
        elif key == "path":
            if not value.startswith("/"):
                raise InvalidArgument(f"invalid log option {item!r}: the path must be absolute")
            opts[key] = value
        elif key in ("tag", "max-file"):
            opts[key] = value
        else:
            raise InvalidArgument(f"unknown log option {key!r}: use max-size or path")
    return name, opts


JOURNAL_SOCKET = "/run/systemd/journal/socket"


def check_journal() -> None:
    """--log-driver journald needs the journal's socket (podman fails as below without one)."""
    if not os.path.exists(JOURNAL_SOCKET):
        raise InvalidArgument(f"failed to initialize journal: write unixgram ->{JOURNAL_SOCKET}: sendmsg: "
                              "no such file or directory")


def parse_limits(memory: Optional[str], memory_swap: Optional[str], cpus: Optional[str],
                 cpu_shares: Optional[str], pids_limit: Optional[str]) -> dict[str, str]:
    """--memory, --memory-swap, --cpus, --cpu-shares, --pids-limit as cgroup v2 file values."""
    out: dict[str, str] = {}
    mem = None
    if memory and parse_size(memory, "--memory") == 0:
        memory = None   # 0: no limit, as with podman
    if memory:
        mem = parse_size(memory, "--memory")
        if mem < 6 * 1024 * 1024:
            raise InvalidArgument(f"invalid --memory {memory!r}: the minimum allowed is 6MiB")
        out["memory"] = str(mem)
    if memory_swap:
        if memory_swap.strip() == "-1":
            out["memory_swap"] = "max"
        else:
            total = parse_size(memory_swap, "--memory-swap")
            if mem is None:
                raise InvalidArgument("--memory-swap needs --memory as well")
            if total < mem:
                raise InvalidArgument("--memory-swap must be at least --memory (it is memory plus swap)")
            out["memory_swap"] = str(total - mem)
    if cpus:
        try:
            value = float(cpus)
        except ValueError:
            value = -1
        if value <= 0:
            raise InvalidArgument(f"invalid --cpus {cpus!r}: expected a positive number such as 1.5")
        out["cpus"] = f"{int(value * 100000)} 100000"
    if cpu_shares:
        if not cpu_shares.isdigit() or not 2 <= int(cpu_shares) <= 262144:
            raise InvalidArgument(f"invalid --cpu-shares {cpu_shares!r}: expected 2-262144")
        out["cpu_shares"] = str(1 + (int(cpu_shares) - 2) * 9999 // 262142)   # cgroup v1 shares as v2 weight
    if pids_limit:
        text = pids_limit.strip()
        if text.lstrip("-").isdigit() and int(text) <= 0:
            out["pids_limit"] = "max"
        elif text.isdigit():
            out["pids_limit"] = text
        else:
            raise InvalidArgument(f"invalid --pids-limit {pids_limit!r}: expected a number (-1: unlimited)")
    return out




HEALTH_ACTIONS = ("none", "kill", "restart", "stop")


def healthcheck(image_check: Optional[dict[str, object]], cmd: Optional[str], interval: Optional[str],
                retries: Optional[str], start_period: Optional[str], timeout: Optional[str],
                on_failure: Optional[str], disabled: bool) -> dict[str, object]:
    """The container's healthcheck from the image's HEALTHCHECK and the --health-* flags ({} for none)."""
    if on_failure is not None and on_failure not in HEALTH_ACTIONS:
        raise InvalidArgument(f'invalid on-failure action "{on_failure}" for health check: supported actions '
                              f'are {",".join(HEALTH_ACTIONS)}')
    base = dict(image_check or {})
    test: list[str] = [str(x) for x in (base.get("Test") or [])]  # type: ignore[union-attr]
    if cmd is not None:
        if cmd.strip().startswith("["):
            parsed = json_strings(cmd, "--health-cmd")
            test = parsed if parsed and parsed[0] in ("CMD", "CMD-SHELL", "NONE") else ["CMD", *parsed]
        elif cmd.lower() == "none":
            test = ["NONE"]
        else:
            test = ["CMD-SHELL", cmd]
    if disabled or not test or test[0] == "NONE":
        if any(v is not None for v in (interval, retries, start_period, timeout)) and cmd is None and not test:
            raise InvalidArgument("--health-* options need a --health-cmd or an image with a HEALTHCHECK")
        if on_failure not in (None, "none"):
            raise InvalidArgument(f"cannot set on-failure action to {on_failure} without a health check")
        return {}
    if test[0] not in ("CMD", "CMD-SHELL") or len(test) < 2:
        raise InvalidArgument(f"invalid healthcheck {test!r}: expected CMD or CMD-SHELL and a command")

    def seconds(flag: Optional[str], key: str, default: float, what: str) -> float:
        if flag is not None:
            return parse_duration(flag, what)
        ns = base.get(key)
        return float(ns) / 1e9 if isinstance(ns, (int, float)) and ns > 0 else default

    check = {
        "test": test,
        "interval": seconds(interval, "Interval", 30.0, "--health-interval"),
        "timeout": seconds(timeout, "Timeout", 30.0, "--health-timeout"),
        "start_period": seconds(start_period, "StartPeriod", 0.0, "--health-start-period"),
        "retries": 3,
        "on_failure": on_failure or "none",
    }
    if retries is not None:
        if not retries.isdigit() or int(retries) < 1:
            raise InvalidArgument(f"invalid --health-retries {retries!r}: expected a number of at least 1")
        check["retries"] = int(retries)
    elif isinstance(base.get("Retries"), int) and int(base["Retries"]) > 0:  # type: ignore[arg-type]
        check["retries"] = int(base["Retries"])  # type: ignore[arg-type]
    if check["interval"] <= 0 or check["timeout"] <= 0:  # type: ignore[operator]
        raise InvalidArgument("--health-interval and --health-timeout must be more than 0")
    return check


def parse_security_opts(items: list[str]) -> dict[str, Any]:
    """--security-opt: seccomp=unconfined|FILE, no-new-privileges[=BOOL], mask=PATHS,
    unmask=ALL|PATHS; label= and apparmor= are accepted and have no effect (podpy
    sets no SELinux label or AppArmor profile)."""
    out: dict[str, Any] = {"seccomp": "", "no_new_privileges": False, "mask": [], "unmask": []}
    for item in items:
        # docker's older form, key:value, which podman still takes
        key, eq, value = item.partition("=" if "=" in item else ":")
        if key == "seccomp" and value:
            if value != "unconfined":
                if not os.path.isabs(value):
                    value = os.path.abspath(value)
                if not os.path.isfile(value):
                    raise InvalidArgument(f"invalid --security-opt {item!r}: {value}: no such file")
            out["seccomp"] = value
        elif key in ("no-new-privileges", "no_new_privileges"):
            if eq and value.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid --security-opt {item!r}: expected true or false")
            out["no_new_privileges"] = not eq or value.lower() in ("true", "1")
        elif key in ("mask", "unmask") and value:
            paths = value.split(":")
            if not all(p == "ALL" and key == "unmask" or p.startswith("/") for p in paths):
                raise InvalidArgument(f"invalid --security-opt {item!r}: expected absolute paths separated by :")
            out[key] += paths
        elif key in ("label", "apparmor") and value:
            continue
        else:
            raise InvalidArgument(f"invalid --security-opt {item!r}: use seccomp=unconfined|FILE, "
                                  "no-new-privileges, mask=PATHS, unmask=PATHS, label= or apparmor=")
    return out


# --detach-keys: docker's names of the control characters, by their codes (0 is ctrl-@)
_CONTROL = ["ctrl-@"] + [f"ctrl-{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + [
    "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]
DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def detach_keys(spec: str) -> bytes:
    """--detach-keys as podman reads them (docker's term.ToBytes): a comma list of single
    characters, ctrl-@, ctrl-a ... ctrl-z, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_ and DEL;
    "" for none."""
    if spec == "":
        return b""
    out = bytearray()
    for key in spec.split(","):
        if len(key.encode()) == 1:
            out += key.encode()
        elif key in _CONTROL:
            out.append(_CONTROL.index(key))
        elif key == "DEL":
            out.append(127)
        else:
            raise InvalidArgument(f"invalid detach keys: Unknown character: '{key}'")
    return bytes(out)
