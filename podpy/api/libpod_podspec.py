"""podman's PodSpecGenerator (the body of POST /libpod/pods/create) -> PodCreateOptions.

The fields are those podman 4.3.1's client sends for `pod create`'s flags; each is read into
the option its flag fills, so PodEngine.create validates it by the CLI's rules. A field podpy
has no option for is refused in one line (400) when it holds anything but its zero value,
so that nothing asked for is dropped silently. The namespace, port, network and volume
objects are read as the container SpecGenerator's are (libpod_specgen.py).
"""

from __future__ import annotations

import json

from .errors import BadParameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine.podoptions import PodCreateOptions

# PodSpecGenerator key -> PodCreateOptions field, for plain texts and lists of texts
TEXTS = {"name": "name", "hostname": "hostname", "infra_image": "infra_image", "infra_name": "infra_name",
         "infra_conmon_pid_file": "infra_conmon_pidfile", "exit_policy": "exit_policy",
         "cgroup_parent": "cgroup_parent", "static_ip": "ip", "static_ipv6": "ip6", "static_mac": "mac_address"}
LISTS = {"dns_server": "dns", "dns_search": "dns_search", "dns_option": "dns_option", "hostadd": "add_host",
         "security_opt": "security_opts", "volumes_from": "volumes_from", "pod_create_command": "create_command"}
# read by the code below
OTHERS = {"pod_devices", "labels", "no_infra", "infra_command", "shared_namespaces", "share_parent", "pidns", "utsns", "userns",
          "netns", "Networks", "portmappings", "no_manage_hosts", "volumes", "mounts", "sysctl", "shm_size",
          "devices", "resource_limits", "cpu_period", "cpu_quota", "idmappings"}


def _zero(value: Any) -> bool:
    return value in (None, False, "", 0) or value == [] or value == {}


def _ns(value: Any, key: str) -> Any:
    """A namespace object as the --pid/--uts/--userns word (None: the default)."""
    if not value:
        return None
    if not isinstance(value, dict):
        raise BadParameter(f"invalid PodSpecGenerator {key}: expected an object")
    mode, target = value.get("nsmode") or "", value.get("value") or ""
    if mode in ("", "default", "private"):   # a pod's own namespace: what podpy makes anyway
        return None
    if mode == "path":
        return f"ns:{target}"
    if mode in ("host", "keep-id", "auto", "nomap"):
        return mode + (f":{target}" if target and mode in ("keep-id", "auto") else "")
    raise BadParameter(f"PodSpecGenerator {key} mode {mode!r} is not available in podpy")


def _idmaps(o: PodCreateOptions, value: Any) -> None:
    if not value:
        return
    if not isinstance(value, dict):
        raise BadParameter("invalid PodSpecGenerator idmappings: expected an object")
    for key, field in (("UIDMap", "uidmap"), ("GIDMap", "gidmap")):
        for m in value.get(key) or []:
            setattr(o, field, getattr(o, field) + [f"{m.get('container_id', 0)}:{m.get('host_id', 0)}:"
                                                   f"{m.get('size', 0)}"])
    if value.get("AutoUserNs") and not o.userns:
        o.userns = "auto"


def _resources(o: PodCreateOptions, body: dict[str, Any]) -> None:
    limits = body.get("resource_limits") or {}
    if not isinstance(limits, dict):
        raise BadParameter("invalid PodSpecGenerator resource_limits: expected an object")
    memory, cpu = limits.get("memory") or {}, limits.get("cpu") or {}
    for section, key, field in ((memory, "limit", "memory"), (memory, "swap", "memory_swap"),
                                (cpu, "shares", "cpu_shares"), (cpu, "cpus", "cpuset_cpus"),
                                (cpu, "mems", "cpuset_mems")):
        if section.get(key):
            setattr(o, field, str(section[key]))
    quota = body.get("cpu_quota") or cpu.get("quota") or 0
    period = body.get("cpu_period") or cpu.get("period") or 0
    if quota and period:
        o.cpus = f"{int(quota) / int(period):g}"
    weight = (limits.get("blockIO") or {}).get("weight")
    if weight:
        o.blkio_weight = str(weight)
    rest = [f"{name}.{k}" for name, section in (("memory", memory), ("cpu", cpu)) for k, v in section.items()
            if not _zero(v) and k not in ("limit", "swap", "shares", "cpus", "mems", "quota", "period")]
    rest += [k for k, v in limits.items() if k not in ("memory", "cpu", "blockIO") and not _zero(v)]
    rest += [f"blockIO.{k}" for k, v in (limits.get("blockIO") or {}).items() if k != "weight" and not _zero(v)]
    if rest:
        raise BadParameter(f"PodSpecGenerator resource_limits.{rest[0]} is not available in podpy")


def pod_create_options(body: dict[str, Any]) -> PodCreateOptions:
    from ..engine.podoptions import PodCreateOptions
    from ..engine.runoptions import CreateOptions
    from .libpod_specgen import _mounts, _netns, _ports, _strs

    for key, value in body.items():
        if key not in TEXTS and key not in LISTS and key not in OTHERS and not _zero(value):
            raise BadParameter(f"PodSpecGenerator field {key!r} is not available in podpy")
    o = PodCreateOptions()
    for key, field in TEXTS.items():
        if not _zero(body.get(key)):
            setattr(o, field, str(body[key]))
    for key, field in LISTS.items():
        setattr(o, field, _strs(body.get(key), key))
    labels = body.get("labels") or {}
    if not isinstance(labels, dict):
        raise BadParameter("invalid PodSpecGenerator labels: expected an object")
    o.labels = [f"{k}={v}" for k, v in labels.items()]
    o.infra = not body.get("no_infra")
    if body.get("infra_command"):
        o.infra_command = json.dumps(_strs(body["infra_command"], "infra_command"))
    shared = _strs(body.get("shared_namespaces"), "shared_namespaces")
    if shared or (isinstance(body.get("shared_namespaces"), list) and o.infra):
        o.share = ",".join(shared) or "none"   # podman's client sends the list it means, empty for none
    if "share_parent" in body:
        o.share_parent = bool(body["share_parent"])
    o.pid, o.uts, o.userns = (_ns(body.get(k), k) for k in ("pidns", "utsns", "userns"))
    o.no_hosts = bool(body.get("no_manage_hosts"))
    # the network, ports and volumes, read as a container's are; podman's client puts --ip and
    # --mac-address on the network named "default" (the default network, whichever it is)
    networks = body.get("Networks")
    if isinstance(networks, dict) and isinstance(networks.get("default"), dict):
        default = networks["default"]
        o.ip = o.ip or next(iter(_strs(default.get("static_ips"), "static_ips")), None)
        o.mac_address = o.mac_address or default.get("static_mac") or None
        body = dict(body, Networks={k: v for k, v in networks.items() if k != "default"})
    scratch = CreateOptions(image="")
    _netns(scratch, body)
    _ports(scratch, body)
    _mounts(scratch, body)
    if scratch.tmpfs or scratch.mounts:
        raise BadParameter("PodSpecGenerator tmpfs and image mounts are not available in podpy")
    o.network, o.network_alias, o.publish, o.volumes = (scratch.network, scratch.network_aliases,
                                                        scratch.publish, scratch.volumes)
    sysctl = body.get("sysctl") or {}
    if not isinstance(sysctl, dict):
        raise BadParameter("invalid PodSpecGenerator sysctl: expected an object")
    o.sysctls = [f"{k}={v}" for k, v in sysctl.items()]
    if body.get("shm_size"):
        o.shm_size = str(int(body["shm_size"]))
    devices = (body.get("devices") or []) + (body.get("pod_devices") or [])
    if not isinstance(devices, list):
        raise BadParameter("invalid PodSpecGenerator devices: expected an array")
    o.devices = [str(d.get("path") if isinstance(d, dict) else d) for d in devices]
    _idmaps(o, body.get("idmappings"))
    _resources(o, body)
    return o
