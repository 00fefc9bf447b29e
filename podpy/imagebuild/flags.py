"""The build's flags beyond the Containerfile: each checked before the first step, and what
they change in the final image (--env, --unsetenv, --annotation, the platform, --timestamp,
--omit-history, --squash-all; each --label is a LABEL step of its own, see executor.py) or in
every RUN (the settings `run` would take: hosts, DNS, capabilities, devices, volumes, limits,
namespaces).

The final image's changes are made once, on the last stage's image, as podman makes them at
its commit: --env sets a variable by dropping it and adding it at the end of the list, then
--unsetenv drops variables; RUN steps see neither.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import InvalidArgument

ISOLATIONS = ("", "oci", "rootless", "chroot", "default")


@dataclass
class Output:
    """-o/--output: where the final stage's file system is written: a directory or a tar file."""

    kind: str      # local or tar
    dest: str      # a directory, a file, or - (a tar on stdout)


@dataclass
class Final:
    """What the flags change in the final image's config and manifest."""

    env: list[tuple[str, str]] = field(default_factory=list)
    unsetenv: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    os: Optional[str] = None
    arch: Optional[str] = None
    variant: Optional[str] = None
    os_version: Optional[str] = None
    os_features: list[str] = field(default_factory=list)
    timestamp: Optional[int] = None
    omit_history: bool = False

    def key(self) -> str:
        """What the final image's cache key adds for these changes."""
        import json

        return json.dumps(self.__dict__, sort_keys=True)

    def any(self) -> bool:
        return self != Final()


def parse_env(items: list[str]) -> list[tuple[str, str]]:
    """--env KEY=VALUE, or KEY alone for this environment's value (nothing when it has none)."""
    out = []
    for item in items:
        k, eq, v = item.partition("=")
        if not k:
            raise InvalidArgument(f"invalid --env {item!r}: expected KEY=VALUE")
        if eq:
            out.append((k, v))
        elif k in os.environ:
            out.append((k, os.environ[k]))
    return out


def parse_pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not k or not eq:
            raise InvalidArgument(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[k] = v
    return out


def parse_labels(items: list[str]) -> dict[str, str]:
    """--label KEY=VALUE (KEY alone: an empty value)."""
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        if not k:
            raise InvalidArgument(f"invalid --label {item!r}: expected KEY=VALUE")
        out[k] = v
    return out


def platforms_to_build(given: list[str]) -> list[str]:
    """--platform's values, each checked, in order (duplicates dropped). Several are built one
    after another; one of another architecture is built too, and its RUN steps run where this
    kernel runs its binaries (platforms.py). A single one is for the image and FROM's pull."""
    values: list[str] = []
    for v in (v for item in given for v in item.split(",") if v):
        parts = v.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidArgument(f"invalid --platform {v!r}: expected OS/ARCH[/VARIANT]")
        if v not in values:
            values.append(v)
    return values


def platform(given: list[str], os_: Optional[str], arch: Optional[str],
             variant: Optional[str]) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(os, arch, variant) of --platform OS/ARCH[/VARIANT], then --os, --arch, --variant over it."""
    values = [v for item in given for v in item.split(",") if v]
    p_os = p_arch = p_variant = None
    if len(values) > 1:    # the CLI builds several one after another, each with one of them
        raise InvalidArgument("several --platform values are built one at a time: give one here")
    if values:
        parts = values[0].split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidArgument(f"invalid --platform {values[0]!r}: expected OS/ARCH[/VARIANT]")
        p_os, p_arch = parts[0], parts[1]
        p_variant = parts[2] if len(parts) == 3 else None
    return os_ or p_os, arch or p_arch, variant or p_variant


def parse_outputs(items: list[str]) -> list[Output]:
    """-o type=local,dest=DIR | type=tar,dest=FILE | DIR | - (a tar on stdout)."""
    out = []
    for item in items:
        if "=" not in item:
            out.append(Output("tar", "-") if item == "-" else Output("local", item))
            continue
        fields = dict(p.partition("=")[::2] for p in item.split(",") if p)
        kind = fields.pop("type", "")
        dest = fields.pop("dest", "") or fields.pop("destination", "")
        if kind not in ("local", "tar") or not dest or fields:
            raise InvalidArgument(f"invalid --output {item!r}: expected type=local,dest=DIR or type=tar,dest=FILE")
        out.append(Output(kind, dest))
    if len(out) > 1:
        raise InvalidArgument("only one --output may be given")
    return out


def parse_build_contexts(items: list[str]) -> dict[str, str]:
    """--build-context NAME=DIR|docker-image://IMAGE|container-image://IMAGE|IMAGE."""
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not name or not eq or not value:
            raise InvalidArgument(f"invalid --build-context {item!r}: expected NAME=DIRECTORY or NAME=IMAGE")
        if value.startswith(("http://", "https://")):
            raise InvalidArgument(f"--build-context {item}: a context from a URL is not available")
        out[name.lower()] = value
    return out


def check_isolation(value: Optional[str]) -> None:
    """--isolation (or $BUILDAH_ISOLATION): RUN always runs in podpy's own rootless runtime, which
    is what oci, rootless and chroot ask for here."""
    given = (value if value is not None else os.environ.get("BUILDAH_ISOLATION", "")).lower()
    if given not in ISOLATIONS:
        raise InvalidArgument(f"invalid --isolation {given!r}: use oci, rootless or chroot")


def apply(config: dict[str, Any], f: Final) -> dict[str, Any]:
    """The final image's config with the flags' changes (a copy)."""
    import copy

    config = copy.deepcopy(config)
    icfg = config.setdefault("config", {})
    env = list(icfg.get("Env") or [])
    for k, v in f.env:
        env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
    if f.unsetenv:
        env = [e for e in env if e.partition("=")[0] not in f.unsetenv]
    if f.env or f.unsetenv:
        icfg["Env"] = env
    if f.os:
        config["os"] = f.os
    if f.arch:
        config["architecture"] = f.arch
    if f.variant:
        config["variant"] = f.variant
    if f.os_version:
        config["os.version"] = f.os_version
    if f.os_features:
        features = list(config.get("os.features") or [])
        for feat in f.os_features:
            if feat.endswith("-"):
                features = [x for x in features if x != feat[:-1]]
            elif feat not in features:
                features.append(feat)
        config["os.features"] = features
    if f.omit_history:
        config.pop("history", None)
    return config


# -- what every RUN gets ---------------------------------------------------------------------

def run_settings(rt: Any, o: Any, network: str) -> dict[str, Any]:
    """The ContainerConfig fields of the run-like flags, checked as `run` checks them."""
    from .. import options as opt
    from ..engine import cgroupopts, kernelopts
    from ..engine.runoptions import CreateOptions
    from ..network import options as netopts

    c = CreateOptions(image="", cap_add=list(o.cap_add), cap_drop=list(o.cap_drop), devices=list(o.devices),
                      ulimits=list(o.ulimits), shm_size=o.shm_size, ipc=o.ipc, pid=o.pid, uts=o.uts,
                      cgroupns=o.cgroupns, cgroup_parent=o.cgroup_parent, memory=o.memory,
                      memory_swap=o.memory_swap, cpu_shares=o.cpu_shares, cpu_period=o.cpu_period,
                      cpu_quota=o.cpu_quota, cpuset_cpus=o.cpuset_cpus, cpuset_mems=o.cpuset_mems)
    from rootless import capabilities
    from rootless.errors import SetupError

    try:
        capabilities.resolve((), c.cap_add, c.cap_drop, False)
    except SetupError as exc:
        raise InvalidArgument(str(exc)) from exc
    userns = o.userns if o.userns is not None else os.environ.get("BUILDAH_USERNS", "")
    userns_path = ""
    if userns not in ("", "host", "private"):
        # podman's other value: the path of a user namespace in use (/proc/PID/ns/user), which
        # RUN joins (its ids are that namespace's)
        if not os.path.exists(userns):
            raise InvalidArgument(f"checking user namespace: stat {userns}: no such file or directory")
        if o.uid_map or o.gid_map or o.uid_map_user or o.gid_map_group:
            raise InvalidArgument(f"--userns {userns}: the --userns-*-map flags cannot be used with a user "
                                  "namespace to join")
        userns_path = os.path.abspath(userns)
    idmap = step_idmap(rt, o, userns) if not userns_path else {}
    if o.no_hosts and o.add_hosts:
        raise InvalidArgument("--no-hosts and --add-host conflict, can not be used together")
    from ..engine.procopts import KEEP_GROUPS

    if KEEP_GROUPS in o.group_add and len(o.group_add) > 1:
        raise InvalidArgument("the '--group-add keep-groups' option is not allowed with any other --group-add options")
    security = opt.parse_security_opts(list(o.security_opts))
    for flag, value in (("--ipc", o.ipc), ("--pid", o.pid), ("--uts", o.uts), ("--cgroupns", o.cgroupns)):
        if value and ":" in value:
            raise InvalidArgument(f"{flag} {value}: a RUN step cannot join the namespaces of a container or a "
                                  "path: use private or host")
    kernel = kernelopts.decide(rt, c, network)
    # what was not asked for stays as RUN has it without these flags: the namespaces of its own,
    # the host's cgroup namespace, podpy's own resource limits
    for flag, key in ((o.ipc, "ipc_mode"), (o.pid, "pid_mode"), (o.uts, "uts_mode"), (o.cgroupns, "cgroupns_mode")):
        if not flag:
            kernel[key] = ""
    if not o.ulimits:
        kernel["ulimits"], kernel["ulimit_host"] = [], False
    limits = opt.parse_limits(c.memory, c.memory_swap, None, c.cpu_shares, None)
    more, _resources, warnings = cgroupopts.decide(c, limits)
    limits.update(more)
    rt.cfg.warnings.extend(warnings)
    if o.cgroup_parent is not None and (not o.cgroup_parent or ".." in o.cgroup_parent.split("/")):
        raise InvalidArgument(f"invalid --cgroup-parent {o.cgroup_parent!r}: a path in the cgroup2 tree")
    mounts = []
    for spec in o.volumes:
        v = opt.parse_volume(spec)
        if v.kind != "bind":
            raise InvalidArgument(f"invalid --volume {spec!r}: build binds host paths only (HOST:CONTAINER)")
        mounts.append(opt.volume_mount(v))
    dests = [m["destination"] for m in mounts]
    if len(set(dests)) != len(dests):
        raise InvalidArgument(f"{next(d for d in dests if dests.count(d) > 1)}: duplicate mount destination")
    return {
        "cap_add": list(c.cap_add), "cap_drop": list(c.cap_drop), "seccomp": security["seccomp"],
        "no_new_privileges": security["no_new_privileges"], "mask": security["mask"], "unmask": security["unmask"],
        "add_hosts": [list(netopts.parse_add_host(h)) for h in o.add_hosts], "no_hosts": bool(o.no_hosts),
        "dns": netopts.parse_dns(list(o.dns), list(o.dns_search), list(o.dns_options)),
        "limits": limits, "cgroup_parent": o.cgroup_parent or "", "mounts": mounts, "idmap": idmap,
        "userns_path": userns_path,
        "group_add": list(o.group_add), "keep_groups": KEEP_GROUPS in o.group_add,
        **{k: v for k, v in kernel.items() if k != "cgroups_mode"},
    }


def step_idmap(rt: Any, o: Any, userns: str) -> dict[str, list[list[int]]]:
    """--userns-uid-map/--userns-gid-map CONTAINER:HOST:SIZE (as run's --uidmap/--gidmap: HOST
    counts in the user's namespace, 0 the user, 1.. the subordinate ids; one given alone
    stands for both) or --userns-uid-map-user/--userns-gid-map-group NAME (as run's
    --subuidname/--subgidname): RUN's user namespace; {} for the user's default mapping."""
    from ..engine import procopts
    from ..engine.usernsopts import parse_userns

    uidmap, gidmap = list(o.uid_map), list(o.gid_map)
    if o.uid_map_user or o.gid_map_group:
        if uidmap or gidmap:
            raise InvalidArgument("--userns-uid-map-user and --userns-gid-map-group cannot be combined with "
                                  "--userns-uid-map or --userns-gid-map")
        uidmap, gidmap = procopts.subid_maps(o.uid_map_user, o.gid_map_group, rt.id_mappings)
    if not uidmap and not gidmap:
        return {}
    if userns == "host":
        raise InvalidArgument("--userns host and the --userns-*-map flags cannot be used together")
    try:
        ns = parse_userns(None, uidmap, gidmap, rt.cfg.rootless, rt.id_mappings)
    except InvalidArgument as exc:
        raise InvalidArgument(str(exc).replace("--uidmap", "--userns-uid-map").replace("--gidmap", "--userns-gid-map")
                              ) from None
    return ns.idmap


def step_cgroup_parent(settings: dict[str, Any], warn: Any) -> Optional[str]:
    """Where RUN steps get a cgroup of their own: only when limits or --cgroup-parent ask for
    one, in the delegated subtree (else the limits are ignored with `run`'s warning, once)."""
    limits = settings.get("limits") or {}
    wanted = settings.get("cgroup_parent") or ""
    if not limits and not wanted:
        return None
    from rootless import cgroups

    from ..engine.cgroupopts import limit_flags

    info = cgroups.detect()
    parent: Optional[str] = info.path if info.writable else None
    why = info.reason
    if wanted and info.mount:
        path = os.path.join(info.mount, wanted.strip("/"))
        try:
            os.makedirs(path, exist_ok=True)
            parent = path
        except OSError as exc:
            parent, why = None, f"cannot create {path}: {exc.strerror}"
            warn(f"--cgroup-parent ignored: {why}")
    if parent is None and limits:
        warn(f"{limit_flags(list(limits))} ignored: containers get no cgroup here ({why})")
    return parent
