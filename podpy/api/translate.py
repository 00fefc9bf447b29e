"""Docker's request shapes -> podpy's engine options (the flags `podpy create` would be given).

A create body becomes a CreateOptions whose fields hold what the command-line flags would
(`-p 8080:80/tcp`, `--memory 536870912`, `--restart on-failure:3`), so create() validates
them once, by the same rules as the CLI's. Docker's clients send every field, most with
their zero value: a zero, empty or null field means "not given". A field of the wrong JSON
type is a 400 naming the field; fields podpy has no option for are ignored, as Docker
ignores unknown fields. HostConfig.Links needs the store (links() parses them, the create
route resolves them).
"""

from __future__ import annotations

import json

from .errors import BadParameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..engine.runoptions import CreateOptions


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """obj[key] when it is of kind (None when missing or null); 400 otherwise."""
    value = obj.get(key)
    if value is None:
        return None
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise BadParameter(f"invalid {where}{key}: expected a number, got {json.dumps(value)}")
    if not isinstance(value, kind):
        names = {dict: "an object", list: "an array", str: "a string", int: "an integer", bool: "a boolean"}
        expected = names.get(kind, "a number") if isinstance(kind, type) else "a number"
        raise BadParameter(f"invalid {where}{key}: expected {expected}, got {json.dumps(value)[:60]}")
    return value


def _strings(obj: dict[str, Any], key: str, where: str) -> list[str]:
    values = _get(obj, key, list, where) or []
    if not all(isinstance(v, str) for v in values):
        raise BadParameter(f"invalid {where}{key}: expected an array of strings")
    return list(values)


def _string_map(obj: dict[str, Any], key: str, where: str) -> dict[str, str]:
    values = _get(obj, key, dict, where) or {}
    if not all(isinstance(v, str) for v in values.values()):
        raise BadParameter(f"invalid {where}{key}: expected an object of strings")
    return dict(values)


def _nanos(value: int) -> str:
    """A Docker duration (nanoseconds) as a Go duration podpy's flags read."""
    return f"{value // 1_000_000}ms" if value % 1_000_000_000 else f"{value // 1_000_000_000}s"


def port_spec(port: str, binding: dict[str, Any]) -> str:
    """One PortBindings entry as -p's value: [[IP:]HOSTPORT:]PORT/PROTO."""
    if not isinstance(binding, dict):
        raise BadParameter(f"invalid HostConfig.PortBindings[{port}]: expected objects")
    ip = str(binding.get("HostIp") or "")
    host = str(binding.get("HostPort") or "")
    if "/" not in port:
        port += "/tcp"
    if ip:
        if ":" in ip:
            ip = f"[{ip}]"
        return f"{ip}:{host}:{port}"
    return f"{host}:{port}" if host else port


def mount_spec(m: Any) -> str:
    """One HostConfig.Mounts entry as --mount's value."""
    if not isinstance(m, dict):
        raise BadParameter("invalid HostConfig.Mounts: expected objects")
    kind = str(m.get("Type") or "volume")
    parts = [f"type={kind}"]
    if m.get("Source"):
        parts.append(f"source={m['Source']}")
    if not m.get("Target"):
        raise BadParameter("invalid HostConfig.Mounts: a mount needs a Target")
    parts.append(f"target={m['Target']}")
    if m.get("ReadOnly"):
        parts.append("readonly")
    bind = m.get("BindOptions") or {}
    if isinstance(bind, dict) and bind.get("Propagation"):
        parts.append(f"bind-propagation={bind['Propagation']}")
    vol = m.get("VolumeOptions") or {}
    if isinstance(vol, dict) and vol.get("NoCopy"):
        parts.append("nocopy")
    tmpfs = m.get("TmpfsOptions") or {}
    if isinstance(tmpfs, dict):
        if tmpfs.get("SizeBytes"):
            parts.append(f"tmpfs-size={int(tmpfs['SizeBytes'])}")
        if tmpfs.get("Mode"):
            parts.append(f"tmpfs-mode={int(tmpfs['Mode']):o}")
    return ",".join(parts)


def healthcheck(opts: CreateOptions, hc: dict[str, Any]) -> None:
    test = _strings(hc, "Test", "Config.Healthcheck.")
    if test:
        if test[0] == "NONE":
            opts.no_healthcheck = True
        elif test[0] == "CMD":
            opts.health_cmd = json.dumps(test[1:])
        elif test[0] == "CMD-SHELL":
            opts.health_cmd = " ".join(test[1:])
        elif test[0] != "":
            raise BadParameter(f"invalid Config.Healthcheck.Test: {test[0]!r} is not NONE, CMD or CMD-SHELL")
    for key, field in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                       ("StartPeriod", "health_start_period")):
        value = _get(hc, key, int, "Config.Healthcheck.")
        if value:
            setattr(opts, field, _nanos(value))
    retries = _get(hc, "Retries", int, "Config.Healthcheck.")
    if retries:
        opts.health_retries = str(retries)


def create_options(body: Any, name: Optional[str] = None, platform: Optional[str] = None) -> CreateOptions:
    """POST /containers/create's body (Config fields at the top, HostConfig, NetworkingConfig)."""
    from ..engine.runoptions import CreateOptions

    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    image = _get(body, "Image", str, "")
    if not image:
        raise BadParameter("config cannot be empty in order to create a container: no Image given")
    o = CreateOptions(image=image)
    o.name = name or None
    o.platform = platform or None
    o.pull = "never"   # Docker's create does not pull: its client pulls on a 404 and asks again
    o.create_command = []
    o.command = _strings(body, "Cmd", "")
    entry = _get(body, "Entrypoint", (list, str), "")
    if isinstance(entry, str):
        o.entrypoint = entry
    elif entry is not None:
        o.entrypoint = json.dumps(entry) if entry != [""] else ""
    o.env = _strings(body, "Env", "")
    o.labels = [f"{k}={v}" for k, v in _string_map(body, "Labels", "").items()]
    o.workdir = _get(body, "WorkingDir", str, "") or None
    o.create_workdir = True   # Docker makes a WorkingDir that is missing
    o.user = _get(body, "User", str, "") or None
    o.hostname = _get(body, "Hostname", str, "") or None
    o.tty = bool(_get(body, "Tty", bool, ""))
    o.interactive = bool(_get(body, "OpenStdin", bool, ""))
    o.stop_signal = _get(body, "StopSignal", str, "") or None
    timeout = _get(body, "StopTimeout", int, "")
    o.stop_timeout = str(timeout) if timeout is not None and timeout >= 0 else None
    o.mac_address = _get(body, "MacAddress", str, "") or None
    exposed = _get(body, "ExposedPorts", dict, "") or {}
    o.volumes = list((_get(body, "Volumes", dict, "") or {}).keys())
    hc = _get(body, "Healthcheck", dict, "")
    if hc:
        healthcheck(o, hc)
    if _get(body, "NetworkDisabled", bool, ""):
        o.network = ["none"]
    host = _get(body, "HostConfig", dict, "") or {}
    anonymous = list(o.volumes)
    _host_config(o, host, exposed)
    _drop_covered(o, anonymous)
    _networking(o, _get(body, "NetworkingConfig", dict, "") or {})
    return o


def links(body: Any) -> list[tuple[str, str]]:
    """HostConfig.Links as (container, alias): `NAME:ALIAS`, `NAME` (its own name as the
    alias) or Docker's own form `/NAME:/LINKER/ALIAS`."""
    host = _get(body, "HostConfig", dict, "") or {} if isinstance(body, dict) else {}
    out = []
    for link in _strings(host, "Links", "HostConfig."):
        target, _, alias = link.partition(":")
        target = target.lstrip("/")
        alias = alias.rstrip("/").rpartition("/")[2] or target
        if not target:
            raise BadParameter(f"invalid HostConfig.Links entry {link!r}: expected NAME:ALIAS")
        out.append((target, alias))
    return out


def _drop_covered(o: CreateOptions, anonymous: list[str]) -> None:
    """Config.Volumes that a bind or mount of HostConfig covers are not volumes of their own
    (docker-compose sends a named volume in both)."""
    covered = {v.split(":")[1] for v in o.volumes[len(anonymous):] if v.count(":") >= 1}
    for m in o.mounts:
        for part in m.split(","):
            key, _, value = part.partition("=")
            if key in ("target", "destination", "dst"):
                covered.add(value)
    o.volumes = [v for v in anonymous if v not in covered] + o.volumes[len(anonymous):]


def _host_config(o: CreateOptions, h: dict[str, Any], exposed: dict[str, Any]) -> None:
    w = "HostConfig."
    o.volumes += _strings(h, "Binds", w)
    o.mounts = [mount_spec(m) for m in _get(h, "Mounts", list, w) or []]
    o.tmpfs = [f"{k}:{v}" if v else k for k, v in _string_map(h, "Tmpfs", w).items()]
    o.volumes_from = _strings(h, "VolumesFrom", w)
    bindings = _get(h, "PortBindings", dict, w) or {}
    for port, entries in bindings.items():
        if entries is None:
            entries = [{}]
        if not isinstance(entries, list):
            raise BadParameter(f"invalid HostConfig.PortBindings[{port}]: expected an array")
        o.publish += [port_spec(port, b) for b in entries] or [port_spec(port, {})]
    o.expose = [p for p in exposed if p not in bindings and p.split("/")[0] not in bindings]
    o.publish_all = bool(_get(h, "PublishAllPorts", bool, w))
    mode = _get(h, "NetworkMode", str, w) or ""
    if mode and mode not in ("default", "bridge"):
        o.network = [mode]
    policy = _get(h, "RestartPolicy", dict, w) or {}
    pname = _get(policy, "Name", str, w + "RestartPolicy.") or ""
    if pname and pname != "no":
        retries = _get(policy, "MaximumRetryCount", int, w + "RestartPolicy.") or 0
        o.restart = f"{pname}:{retries}" if pname == "on-failure" and retries else pname
    o.remove = bool(_get(h, "AutoRemove", bool, w))
    # resources: 0 (or null) is "not set" in Docker's shapes; -1 unlimited where it means that
    for key, field in (("Memory", "memory"), ("MemoryReservation", "memory_reservation"),
                       ("CpuShares", "cpu_shares"), ("CpuPeriod", "cpu_period"), ("CpuQuota", "cpu_quota"),
                       ("BlkioWeight", "blkio_weight"), ("ShmSize", "shm_size")):
        value = _get(h, key, int, w)
        if value:
            setattr(o, field, str(value))
    swap = _get(h, "MemorySwap", int, w)
    if swap:
        o.memory_swap = str(swap)
    swappiness = _get(h, "MemorySwappiness", int, w)
    if swappiness is not None and swappiness >= 0:
        o.memory_swappiness = str(swappiness)
    nanos = _get(h, "NanoCpus", int, w)
    if nanos:
        o.cpus = f"{nanos / 1e9:g}"
    pids = _get(h, "PidsLimit", int, w)
    if pids:
        o.pids_limit = str(pids)
    o.cpuset_cpus = _get(h, "CpusetCpus", str, w) or None
    o.cpuset_mems = _get(h, "CpusetMems", str, w) or None
    o.cgroup_parent = _get(h, "CgroupParent", str, w) or None
    o.oom_kill_disable = bool(_get(h, "OomKillDisable", bool, w))
    score = _get(h, "OomScoreAdj", int, w)
    if score:
        o.oom_score_adj = str(score)
    o.cap_add = _strings(h, "CapAdd", w)
    o.cap_drop = _strings(h, "CapDrop", w)
    o.privileged = bool(_get(h, "Privileged", bool, w))
    o.read_only = bool(_get(h, "ReadonlyRootfs", bool, w))
    o.security_opts = _strings(h, "SecurityOpt", w)
    o.group_add = _strings(h, "GroupAdd", w)
    o.dns = _strings(h, "Dns", w)
    o.dns_search = _strings(h, "DnsSearch", w)
    o.dns_options = _strings(h, "DnsOptions", w)
    o.add_hosts = [e.replace("=", ":", 1) if ":" not in e.split("=", 1)[0] and "=" in e else e
                   for e in _strings(h, "ExtraHosts", w)]
    o.init = bool(_get(h, "Init", bool, w))
    log = _get(h, "LogConfig", dict, w) or {}
    o.log_driver = _get(log, "Type", str, w + "LogConfig.") or None
    o.log_opts = [f"{k}={v}" for k, v in _string_map(log, "Config", w + "LogConfig.").items()]
    o.sysctls = [f"{k}={v}" for k, v in _string_map(h, "Sysctls", w).items()]
    o.ulimits = []
    for u in _get(h, "Ulimits", list, w) or []:
        if not isinstance(u, dict) or not u.get("Name"):
            raise BadParameter("invalid HostConfig.Ulimits: expected objects with a Name")
        o.ulimits.append(f"{u['Name']}={u.get('Soft', 0)}:{u.get('Hard', 0)}")
    o.devices = []
    for d in _get(h, "Devices", list, w) or []:
        if not isinstance(d, dict) or not d.get("PathOnHost"):
            raise BadParameter("invalid HostConfig.Devices: expected objects with a PathOnHost")
        o.devices.append(":".join([d["PathOnHost"], d.get("PathInContainer") or d["PathOnHost"],
                                   d.get("CgroupPermissions") or "rwm"]))
    o.device_cgroup_rule = _strings(h, "DeviceCgroupRules", w)
    for key, field in (("PidMode", "pid"), ("IpcMode", "ipc"), ("UTSMode", "uts"), ("UsernsMode", "userns"),
                       ("CgroupnsMode", "cgroupns")):
        value = _get(h, key, str, w)
        if value:
            setattr(o, field, value)


def _networking(o: CreateOptions, n: dict[str, Any]) -> None:
    endpoints = _get(n, "EndpointsConfig", dict, "NetworkingConfig.") or {}
    for net, cfg in endpoints.items():
        if cfg is None:
            cfg = {}
        if not isinstance(cfg, dict):
            raise BadParameter(f"invalid NetworkingConfig.EndpointsConfig[{net}]: expected an object")
        where = f"NetworkingConfig.EndpointsConfig[{net}]."
        o.network_aliases += _strings(cfg, "Aliases", where)
        ipam = _get(cfg, "IPAMConfig", dict, where) or {}
        address = _get(ipam, "IPv4Address", str, where + "IPAMConfig.")
        if address:
            o.ip = address
        if net not in ("default", "bridge") and net not in o.network:
            o.network.append(net)


def update_options(body: Any) -> CreateOptions:
    """POST /containers/{id}/update's body: the resources and the restart policy."""
    from ..engine.runoptions import CreateOptions

    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    o = CreateOptions(image="")
    _host_config(o, body, {})
    return o
