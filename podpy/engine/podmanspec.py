"""podpy's options -> podman's SpecGenerator JSON: `run`/`create`'s (what POST
/libpod/containers/create takes) and `pod create`'s (PodSpecGenerator, POST /libpod/pods/create).

`podpy --remote` sends them to a service, `generate spec` prints them. The flags that can be
said this way are mapped; any other flag given is refused in one line before anything is
sent or printed ("podpy run --FLAG: not available with --remote"), so that nothing asked for
is dropped on the way.
"""

from __future__ import annotations

import json
import os

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .podoptions import PodCreateOptions
    from .runoptions import CreateOptions

# the CreateOptions fields this module sends (others must keep their defaults)
SENT = frozenset((
    "image", "command", "name", "pod", "remove", "interactive", "tty", "env", "volumes", "tmpfs", "workdir", "user",
    "entrypoint", "hostname", "network", "publish", "expose", "network_aliases", "add_hosts", "dns", "dns_search",
    "dns_options", "labels", "read_only", "cap_add", "cap_drop", "privileged", "pull", "detach", "restart",
    "stop_signal", "stop_timeout", "log_driver", "log_opts", "memory", "pids_limit", "init", "annotations",
    "create_command", "quiet", "tls_verify", "creds", "cert_dir", "authfile", "env_host", "cpu_shares",
    "http_proxy", "sig_proxy", "detach_keys", "umask", "image_volume", "attach", "cidfile", "publish_all",
))


def refuse_unsent(opts: CreateOptions, command: str, why: str = "not available with --remote") -> None:
    """The first flag given that this module cannot send, refused in one line."""
    from .runoptions import ALL_OPTIONS

    defaults = type(opts)(image=opts.image)
    for option in ALL_OPTIONS:
        if option.dest in SENT:
            continue
        if getattr(opts, option.dest) != getattr(defaults, option.dest):
            raise InvalidArgument(f"podpy {command} {option.flags[-1]}: {why}")


def _port(spec: str) -> dict[str, Any]:
    """-p [[IP:]HOST:]CTR[/PROTO] (each port may be a range) as a port mapping."""
    body, _, proto = spec.partition("/")
    parts = body.rsplit(":", 2) if not body.startswith("[") else [body[1:body.index("]")]] + \
        body[body.index("]") + 2:].split(":")
    ip, host = "", ""
    if len(parts) == 3:
        ip, host, ctr = parts
    elif len(parts) == 2:
        host, ctr = parts
    else:
        ctr = parts[0]

    def span(text: str) -> tuple[int, int]:
        first, _, last = text.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise InvalidArgument(f"invalid -p {spec!r}: ports are numbers")
        return int(first), int(last or first) - int(first) + 1

    cport, count = span(ctr)
    hport = span(host)[0] if host else 0
    return {"container_port": cport, "host_port": hport, "host_ip": ip.strip("[]"), "range": count,
            "protocol": proto or "tcp"}


def _env(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if eq:
            out[key] = value
        elif key.endswith("*"):
            out.update({k: v for k, v in os.environ.items() if k.startswith(key[:-1])})
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def _pairs(items: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (i.partition("=") for i in items)}


def _volumes(opts: CreateOptions, spec: dict[str, Any]) -> None:
    mounts, named = [], []
    for v in opts.volumes:
        parts = v.split(":")
        if len(parts) == 1:
            named.append({"Name": "", "Dest": parts[0], "Options": []})
            continue
        src, dst, options = parts[0], parts[1], [o for o in ",".join(parts[2:]).split(",") if o]
        if src.startswith("/") or src.startswith("."):
            mounts.append({"destination": dst, "type": "bind", "source": os.path.abspath(src),
                           "options": options or []})
        else:
            named.append({"Name": src, "Dest": dst, "Options": options})
    for t in opts.tmpfs:
        dst, _, options = t.partition(":")
        mounts.append({"destination": dst, "type": "tmpfs", "source": "tmpfs",
                       "options": [o for o in options.split(",") if o]})
    if mounts:
        spec["mounts"] = mounts
    if named:
        spec["volumes"] = named


def _network(opts: CreateOptions, spec: dict[str, Any]) -> None:
    nets: dict[str, Any] = {}
    for word in opts.network:
        mode, _, value = word.partition(":")
        if mode in ("host", "none", "slirp4netns", "pasta", "private", "bridge"):
            spec["netns"] = {"nsmode": mode, **({"value": value} if value else {})}
        elif mode == "container":
            spec["netns"] = {"nsmode": "container", "value": value}
        elif mode == "ns":
            spec["netns"] = {"nsmode": "path", "value": value}
        else:
            nets[word] = {"aliases": list(opts.network_aliases)} if opts.network_aliases else {}
    if nets:
        spec["Networks"] = nets
        spec.setdefault("netns", {"nsmode": "bridge"})


def spec_generator(opts: CreateOptions, command: str = "run", why: str = "not available with --remote"
                   ) -> dict[str, Any]:
    from ..options import parse_signal

    refuse_unsent(opts, command, why)
    spec: dict[str, Any] = {"image": opts.image, "raw_image_name": opts.image}
    if opts.command:
        spec["command"] = list(opts.command)
    if opts.entrypoint is not None:
        text = opts.entrypoint
        try:
            entry = json.loads(text) if text.startswith("[") else ([text] if text else [""])
        except ValueError:
            entry = [text]
        spec["entrypoint"] = entry
    for key, value in (("name", opts.name), ("pod", opts.pod), ("work_dir", opts.workdir), ("user", opts.user),
                       ("hostname", opts.hostname), ("umask", opts.umask)):
        if value:
            spec[key] = value
    for key, flag in (("remove", opts.remove), ("terminal", opts.tty), ("stdin", opts.interactive),
                      ("read_only_filesystem", opts.read_only), ("privileged", opts.privileged),
                      ("init", opts.init), ("env_host", opts.env_host), ("publish_image_ports", opts.publish_all)):
        if flag:
            spec[key] = True
    env = _env(opts.env)
    if env:
        spec["env"] = env
    if opts.labels:
        spec["labels"] = _pairs(opts.labels)
    if opts.annotations:
        spec["annotations"] = _pairs(opts.annotations)
    if opts.create_command:
        spec["containerCreateCommand"] = list(opts.create_command)
    for key, values in (("cap_add", opts.cap_add), ("cap_drop", opts.cap_drop), ("dns_server", opts.dns),
                        ("dns_search", opts.dns_search), ("dns_option", opts.dns_options),
                        ("hostadd", opts.add_hosts)):
        if values:
            spec[key] = list(values)
    if opts.publish:
        spec["portmappings"] = [_port(p) for p in opts.publish]
    if opts.expose:
        spec["expose"] = {int(e.partition("/")[0]): e.partition("/")[2] or "tcp" for e in opts.expose
                          if e.partition("/")[0].isdigit()}
    if opts.restart:
        policy, _, tries = opts.restart.partition(":")
        spec["restart_policy"] = policy
        if tries.isdigit():
            spec["restart_tries"] = int(tries)
    if opts.stop_signal:
        spec["stop_signal"] = int(parse_signal(opts.stop_signal))
    if opts.stop_timeout:
        if not opts.stop_timeout.isdigit():
            raise InvalidArgument(f"invalid --stop-timeout {opts.stop_timeout!r}: a number of seconds")
        spec["stop_timeout"] = int(opts.stop_timeout)
    if opts.log_driver or opts.log_opts:
        spec["log_configuration"] = {"driver": opts.log_driver or "", "options": _pairs(opts.log_opts)}
    limits: dict[str, Any] = {}
    if opts.memory:
        from ..formats import parse_size

        limits["memory"] = {"limit": parse_size(opts.memory, "--memory")}
    if opts.pids_limit:
        limits["pids"] = {"limit": int(opts.pids_limit)}
    if opts.cpu_shares:
        limits["cpu"] = {"shares": int(opts.cpu_shares)}
    if limits:
        spec["resource_limits"] = limits
    if opts.image_volume in ("tmpfs", "ignore"):
        spec["image_volume_mode"] = opts.image_volume
    _volumes(opts, spec)
    _network(opts, spec)
    return spec


class _Scratch:
    """The few CreateOptions fields the container mapping's helpers read, for a pod's options."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


# PodCreateOptions fields -> PodSpecGenerator keys, for texts and lists of texts
_POD_TEXTS = (("name", "name"), ("hostname", "hostname"), ("infra_image", "infra_image"),
              ("infra_name", "infra_name"), ("infra_conmon_pidfile", "infra_conmon_pid_file"),
              ("cgroup_parent", "cgroup_parent"), ("ip", "static_ip"), ("ip6", "static_ipv6"),
              ("mac_address", "static_mac"))
_POD_LISTS = (("dns", "dns_server"), ("dns_search", "dns_search"), ("dns_option", "dns_option"),
              ("add_host", "hostadd"), ("security_opts", "security_opt"), ("volumes_from", "volumes_from"))
# the options a PodSpecGenerator has no field for (the client acts on some of them itself)
POD_UNSENT = (("subuidname", "--subuidname"), ("subgidname", "--subgidname"),
              ("blkio_weight_device", "--blkio-weight-device"), ("device_read_bps", "--device-read-bps"),
              ("device_write_bps", "--device-write-bps"))


def _ns_object(word: Optional[str]) -> dict[str, str]:
    if not word:
        return {}
    mode, _, value = word.partition(":")
    if mode == "ns":
        return {"nsmode": "path", "value": value}
    return {"nsmode": mode, **({"value": value} if value else {})}


def _idmap(text: str, flag: str) -> dict[str, int]:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise InvalidArgument(f"invalid {flag} {text!r}: CONTAINER:HOST:SIZE")
    return {"container_id": int(parts[0]), "host_id": int(parts[1]), "size": int(parts[2])}


def pod_spec_generator(o: PodCreateOptions, command: str = "pod create",
                       why: str = "not available with --remote") -> dict[str, Any]:
    """`pod create`'s options as podman's PodSpecGenerator (label files read here)."""
    from ..formats import parse_size
    from ..options import parse_labels
    from .pods import _label_file
    from .podstore import parse_share

    for field, flag in POD_UNSENT:
        if getattr(o, field):
            raise InvalidArgument(f"podpy {command} {flag}: {why}")
    spec: dict[str, Any] = {}
    for field, key in _POD_TEXTS:
        if getattr(o, field):
            spec[key] = getattr(o, field)
    labels = parse_labels(list(o.labels))
    for path in o.label_files:
        labels.update(_label_file(path))
    if labels:
        spec["labels"] = labels
    if not o.infra:
        spec["no_infra"] = True
    if o.infra_command:
        text = o.infra_command.strip()
        spec["infra_command"] = json.loads(text) if text.startswith("[") else text.split()
    spec["shared_namespaces"] = sorted(parse_share(o.share, o.infra))
    spec["share_parent"] = bool(o.share_parent)
    if o.create_command:
        spec["pod_create_command"] = list(o.create_command)
    spec["exit_policy"] = o.exit_policy
    for key, word in (("pidns", o.pid), ("utsns", o.uts), ("userns", o.userns)):
        if word:
            spec[key] = _ns_object(word)
    for field, key in _POD_LISTS:
        if getattr(o, field):
            spec[key] = list(getattr(o, field))
    if o.no_hosts:
        spec["no_manage_hosts"] = True
    if o.publish:
        spec["portmappings"] = [_port(p) for p in o.publish]
    _network(_Scratch(network=list(o.network), network_aliases=list(o.network_alias)), spec)  # type: ignore[arg-type]
    _volumes(_Scratch(volumes=list(o.volumes), tmpfs=[]), spec)  # type: ignore[arg-type]
    if o.sysctls:
        spec["sysctl"] = _pairs(o.sysctls)
    if o.shm_size:
        spec["shm_size"] = parse_size(o.shm_size, "--shm-size")
    if o.devices:
        spec["devices"] = [{"path": d} for d in o.devices]
    if o.uidmap or o.gidmap:
        spec["idmappings"] = {"HostUIDMapping": not o.uidmap, "HostGIDMapping": not o.gidmap,
                              "UIDMap": [_idmap(m, "--uidmap") for m in o.uidmap] or None,
                              "GIDMap": [_idmap(m, "--gidmap") for m in o.gidmap] or None}
    limits: dict[str, Any] = {}
    if o.memory:
        limits.setdefault("memory", {})["limit"] = parse_size(o.memory, "--memory")
    if o.memory_swap:
        limits.setdefault("memory", {})["swap"] = parse_size(o.memory_swap, "--memory-swap")
    for field, key in (("cpu_shares", "shares"), ("cpuset_cpus", "cpus"), ("cpuset_mems", "mems")):
        value = getattr(o, field)
        if value:
            limits.setdefault("cpu", {})[key] = int(value) if key == "shares" else value
    if o.cpus:
        try:
            period, quota = 100000, int(float(o.cpus) * 100000)
        except ValueError:
            raise InvalidArgument(f"invalid --cpus {o.cpus!r}: a number of CPUs") from None
        limits.setdefault("cpu", {}).update(period=period, quota=quota)
        spec["cpu_period"], spec["cpu_quota"] = period, quota
    if o.blkio_weight:
        limits["blockIO"] = {"weight": int(o.blkio_weight)}
    if limits:
        spec["resource_limits"] = limits
    return spec
