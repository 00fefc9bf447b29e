"""podman's SpecGenerator (the body of POST /libpod/containers/create) -> CreateOptions.

podman's client sends the flags `podman run` was given as SpecGenerator fields, and many
fields with their defaults (systemd "true", umask "0022", empty namespace objects). A field
is read into the CreateOptions field its flag fills (so create() validates it by the CLI's
rules); a field podpy has no option for is refused in one line when it holds anything but
its zero or default value, so that nothing the client asked for is lost silently.
"""

from __future__ import annotations

import json

from .errors import BadParameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from ..engine.runoptions import CreateOptions

# fields podman's client fills with its defaults: accepted when they hold them
DEFAULTS: dict[str, tuple[Any, ...]] = {
    "systemd": ("true", "false", ""), "sdnotifyMode": ("container", "ignore", ""), "seccomp_policy": ("default", ""),
    "cgroups_mode": ("enabled", ""), "image_volume_mode": ("anonymous", "bind", "tmpfs", "ignore", ""),
    "init_container_type": ("",), "manage_password": (True, False), "use_image_hosts": (False,),
    "volatile": (True, False), "raw_image_name": None, "httpproxy": (True, False), "umask": None,
    "containerCreateCommand": None, "log_configuration": None, "idmappings": None, "stop_timeout": None,
    "annotations": None, "Networks": None, "netns": None,
    "pidns": None, "utsns": None, "ipcns": None, "userns": None, "cgroupns": None,
}
_NAMESPACES = {"pidns": "pid", "utsns": "uts", "ipcns": "ipc", "userns": "userns", "cgroupns": "cgroupns"}


def _zero(value: Any) -> bool:
    return value in (None, False, "", 0) or value == [] or value == {}


def _strs(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadParameter(f"invalid SpecGenerator {field}: expected an array of strings")
    return list(value)


def _map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadParameter(f"invalid SpecGenerator {field}: expected an object")
    return {str(k): str(v) for k, v in value.items()}


def _ns(o: CreateOptions, key: str, value: Any) -> None:
    """A namespace object {"nsmode": MODE, "value": ...}: private (the default) or host."""
    if not value:
        return
    if not isinstance(value, dict):
        raise BadParameter(f"invalid SpecGenerator {key}: expected an object")
    mode, target = value.get("nsmode") or "", value.get("value") or ""
    if mode in ("", "default", "private") and key != "userns":
        return
    if key == "userns" and mode in ("", "default", "host"):
        return
    spec = {"host": "host", "container": f"container:{target}", "path": f"ns:{target}",
            "keep-id": "keep-id", "auto": "auto", "nomap": "nomap"}.get(mode)
    if spec is None:
        raise BadParameter(f"SpecGenerator {key} mode {mode!r} is not available in podpy")
    setattr(o, _NAMESPACES[key], spec)


def _netns(o: CreateOptions, body: dict[str, Any]) -> None:
    netns = body.get("netns") or {}
    if not isinstance(netns, dict):
        raise BadParameter("invalid SpecGenerator netns: expected an object")
    mode, value = netns.get("nsmode") or "", netns.get("value") or ""
    networks = body.get("Networks") or {}
    if not isinstance(networks, dict):
        raise BadParameter("invalid SpecGenerator Networks: expected an object")
    if mode in ("host", "none", "slirp4netns", "pasta"):
        o.network = [f"{mode}:{value}" if value and mode in ("slirp4netns", "pasta") else mode]
    elif mode == "container":
        o.network = [f"container:{value}"]
    elif mode == "path":
        o.network = [f"ns:{value}"]
    elif mode in ("", "default", "private", "bridge"):
        o.network = list(networks)
        for opts in networks.values():
            if isinstance(opts, dict):
                o.network_aliases += _strs(opts.get("aliases"), "Networks.aliases")
    else:
        raise BadParameter(f"SpecGenerator netns mode {mode!r} is not available in podpy")


def _mounts(o: CreateOptions, body: dict[str, Any]) -> None:
    for m in body.get("mounts") or []:
        if not isinstance(m, dict):
            raise BadParameter("invalid SpecGenerator mounts: expected objects")
        kind, dst, src = m.get("type") or "bind", m.get("destination") or "", m.get("source") or ""
        options = [str(x) for x in m.get("options") or [] if x not in ("rbind", "bind")]
        if kind == "bind":
            o.volumes.append(":".join([src, dst] + ([",".join(options)] if options else [])))
        elif kind == "tmpfs":
            o.tmpfs.append(dst + (":" + ",".join(options) if options else ""))
        else:
            raise BadParameter(f"SpecGenerator mount type {kind!r} is not available in podpy")
    for v in body.get("volumes") or []:
        if not isinstance(v, dict):
            raise BadParameter("invalid SpecGenerator volumes: expected objects")
        options = [str(x) for x in v.get("Options") or []]
        o.volumes.append(":".join([str(v.get("Name") or ""), str(v.get("Dest") or "")]
                                  + ([",".join(options)] if options else [])))
    for v in body.get("image_volumes") or []:
        if not isinstance(v, dict):
            raise BadParameter("invalid SpecGenerator image_volumes: expected objects")
        o.mounts.append(f"type=image,source={v.get('Source')},destination={v.get('Destination')}"
                        + (",rw=true" if v.get("ReadWrite") else ""))


def _ports(o: CreateOptions, body: dict[str, Any]) -> None:
    for p in body.get("portmappings") or []:
        if not isinstance(p, dict):
            raise BadParameter("invalid SpecGenerator portmappings: expected objects")
        ctr, host, count = int(p.get("container_port") or 0), int(p.get("host_port") or 0), int(p.get("range") or 1)
        ip = p.get("host_ip") or ""
        for proto in (p.get("protocol") or "tcp").split(","):
            ctr_part = f"{ctr}-{ctr + count - 1}" if count > 1 else str(ctr)
            host_part = (f"{host}-{host + count - 1}" if count > 1 else str(host)) if host else ""
            parts = [ip, host_part] if ip else [host_part] if host_part else []
            o.publish.append(":".join(parts + [f"{ctr_part}/{proto}"]))
    for port, proto in _map(body.get("expose"), "expose").items():
        o.expose.append(f"{port}/{proto or 'tcp'}")
    if body.get("publish_image_ports"):
        o.publish_all = True


# resource_limits' section and key -> the create option it sets
_LIMITS = (("memory", "limit", "memory"), ("memory", "swap", "memory_swap"),
           ("memory", "reservation", "memory_reservation"), ("cpu", "shares", "cpu_shares"),
           ("cpu", "quota", "cpu_quota"), ("cpu", "period", "cpu_period"), ("cpu", "cpus", "cpuset_cpus"),
           ("pids", "limit", "pids_limit"))

def _resources(o: CreateOptions, limits: Any) -> None:
    if not limits:
        return
    if not isinstance(limits, dict):
        raise BadParameter("invalid SpecGenerator resource_limits: expected an object")
    for section, key, field in _LIMITS:
        value = (limits.get(section) or {}).get(key)
        if value:
            setattr(o, field, str(value))
    rest = sorted(k for k, v in limits.items() if k not in ("memory", "cpu", "pids") and not _zero(v))
    if rest:
        raise BadParameter(f"SpecGenerator resource_limits.{rest[0]} is not available in podpy")


# simple fields: SpecGenerator key -> (CreateOptions field, how the value is read)
def _text(v: Any) -> Any:
    return str(v) if not _zero(v) else None


SIMPLE: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "name": ("name", _text), "hostname": ("hostname", _text), "pod": ("pod", _text),
    "work_dir": ("workdir", _text), "user": ("user", _text), "remove": ("remove", bool),
    "terminal": ("tty", bool), "stdin": ("interactive", bool), "read_only_filesystem": ("read_only", bool),
    "privileged": ("privileged", bool), "env_host": ("env_host", bool), "init": ("init", bool),
    "init_path": ("init_path", _text), "cgroup_parent": ("cgroup_parent", _text),
    "shm_size": ("shm_size", _text), "timezone": ("tz", _text), "restart_policy": ("restart", _text),
}
LISTS = {"cap_add": "cap_add", "cap_drop": "cap_drop", "dns_search": "dns_search", "dns_option": "dns_options",
         "hostadd": "add_hosts", "selinux_opts": "security_opts", "groups": "group_add", "unsetenv": "unsetenv",
         "sysctl": None, "devices": None}


def create_options(body: dict[str, Any]) -> CreateOptions:
    from ..engine.runoptions import CreateOptions

    image = body.get("image")
    if not image or not isinstance(image, str):
        raise BadParameter("SpecGenerator: no image given (podpy has no --rootfs through the API)")
    o = CreateOptions(image=image)
    o.pull = "never"   # podman's client pulls first (images/pull), then creates
    o.create_command = _strs(body.get("containerCreateCommand"), "containerCreateCommand")
    o.command = _strs(body.get("command"), "command")
    entry = body.get("entrypoint")
    if entry is not None:
        o.entrypoint = json.dumps(_strs(entry, "entrypoint"))
    handled = set(DEFAULTS) | set(SIMPLE) | {"image", "command", "entrypoint", "env", "labels", "portmappings",
                                             "expose", "publish_image_ports", "mounts", "volumes", "image_volumes",
                                             "dns_server", "restart_tries", "stop_signal", "resource_limits",
                                             "cap_add", "cap_drop", "dns_search", "dns_option", "hostadd",
                                             "selinux_opts", "groups", "unsetenv", "oci_runtime"}
    for key, value in body.items():
        if key not in handled and not _zero(value):
            raise BadParameter(f"SpecGenerator field {key!r} is not available in podpy")
        default = DEFAULTS.get(key)
        if default is not None and value not in default and not _zero(value):
            raise BadParameter(f"SpecGenerator {key}={json.dumps(value)} is not available in podpy")
    for key, (attr, read) in SIMPLE.items():
        if key in body and not _zero(body[key]):
            setattr(o, attr, read(body[key]))
    for key, attr in LISTS.items():
        if attr is not None and body.get(key):
            setattr(o, attr, _strs(body[key], key))
    o.env = [f"{k}={v}" for k, v in _map(body.get("env"), "env").items()]
    o.labels = [f"{k}={v}" for k, v in _map(body.get("labels"), "labels").items()]
    o.annotations = [f"{k}={v}" for k, v in _map(body.get("annotations"), "annotations").items()
                     if k != "io.kubernetes.cri-o.TTY"]
    o.dns = _strs(body.get("dns_server"), "dns_server")
    if o.restart == "on-failure" and body.get("restart_tries"):
        o.restart = f"on-failure:{int(body['restart_tries'])}"
    if body.get("stop_signal"):
        o.stop_signal = str(body["stop_signal"])
    if body.get("stop_timeout") is not None:
        o.stop_timeout = str(int(body["stop_timeout"]))
    mode = body.get("image_volume_mode") or ""
    if mode in ("tmpfs", "ignore"):
        o.image_volume = mode
    if body.get("umask"):
        o.umask = str(body["umask"])
    log = body.get("log_configuration") or {}
    if isinstance(log, dict):
        if log.get("driver"):
            o.log_driver = str(log["driver"])
        o.log_opts = [f"{k}={v}" for k, v in _map(log.get("options"), "log_configuration.options").items()]
        if log.get("path"):
            o.log_opts.append(f"path={log['path']}")
    for key in _NAMESPACES:
        _ns(o, key, body.get(key))
    _netns(o, body)
    _mounts(o, body)
    _ports(o, body)
    _resources(o, body.get("resource_limits"))
    return o
