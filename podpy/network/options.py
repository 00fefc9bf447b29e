"""Parsing the network options of `run` and `create`: --network, -p/--publish, --expose,
--add-host, --dns*, --mac-address, --ip; and the port listings of ps, port and inspect.

Each parser raises InvalidArgument with one line naming the bad value, before anything is
created. Only C modules are used for addresses (_socket.inet_pton): `ipaddress` is left to
the user-network code, off the run path of the default network.
"""

from __future__ import annotations

import _socket

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

MODES = ("slirp4netns", "pasta", "host", "none", "container", "ns", "bridge")
SLIRP_OPTIONS = ("allow_host_loopback", "cidr", "mtu", "outbound_addr", "outbound_addr6", "enable_ipv6",
                 "port_handler")
NETWORK_OPTIONS = ("alias", "ip", "ip6", "mac", "interface_name")
DEFAULT_BRIDGE = "podman"
MAX_PUBLISHED = 240     # a detached container's listeners go to the monitor in one message (SCM_RIGHTS: 253)


# ------------------------------------------------------------------ addresses --


def is_ipv4(text: str) -> bool:
    try:
        _socket.inet_pton(_socket.AF_INET, text)
        return True
    except (OSError, ValueError):
        return False


def is_ipv6(text: str) -> bool:
    try:
        _socket.inet_pton(_socket.AF_INET6, text)
        return True
    except (OSError, ValueError):
        return False


def is_ip(text: str) -> bool:
    return is_ipv4(text) or is_ipv6(text)


def parse_mac(text: str) -> str:
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise InvalidArgument(f"invalid MAC address {text!r}: expected six hex bytes such as 92:d0:c6:0a:29:33")
    if int(parts[0], 16) & 1:
        raise InvalidArgument(f"invalid MAC address {text!r}: a multicast address")
    return text.lower()


# -------------------------------------------------------------------- network --


class NetworkChoice:
    """What --network asked for: a mode, its options, and the user networks (bridge mode)."""

    __slots__ = ("mode", "options", "networks")

    def __init__(self, mode: str, options: Optional[dict[str, str]] = None,
                 networks: Optional[dict[str, dict[str, Any]]] = None) -> None:
        self.mode = mode
        self.options = options or {}
        self.networks = networks or {}


def parse_network(values: list[str], default: str = "slirp4netns") -> NetworkChoice:
    """--network (repeatable): slirp4netns[:OPTS], pasta[:ARGS], host, none, private,
    container:NAME, ns:PATH, bridge, or user network names (NAME[:alias=A,ip=IP,mac=MAC])."""
    if not values:
        values = [default]
    choices = [_one_network(v) for v in values]
    if len(choices) > 1:
        odd = next((c for c in choices if c.mode != "bridge"), None)
        if odd is not None:
            raise InvalidArgument(f"--network {odd.mode} cannot be combined with other networks: "
                                  "only user networks may be given more than once")
        merged = NetworkChoice("bridge")
        for c in choices:
            for name, opts in c.networks.items():
                if name in merged.networks:
                    raise InvalidArgument(f"network {name!r} given twice")
                merged.networks[name] = opts
        return merged
    return choices[0]


def _one_network(value: str) -> NetworkChoice:
    mode, sep, rest = value.partition(":")
    if not mode:
        raise InvalidArgument(f"invalid --network {value!r}")
    if mode == "private":
        mode = "slirp4netns"
    if mode == "slirp4netns":
        opts: dict[str, str] = {}
        for item in filter(None, rest.split(",")):
            k, _, v = item.partition("=")
            if k not in SLIRP_OPTIONS:
                raise InvalidArgument(f"unknown slirp4netns option {k!r}: use {', '.join(SLIRP_OPTIONS)}")
            opts[k] = v
        _check_slirp(opts)
        return NetworkChoice("slirp4netns", opts)
    if mode == "pasta":
        return NetworkChoice("pasta", {"args": rest} if rest else {})
    if mode in ("host", "none"):
        if sep:
            raise InvalidArgument(f"network mode {mode!r} takes no options")
        return NetworkChoice(mode)
    if mode == "container":
        if not rest:
            raise InvalidArgument("--network container: needs a container name or id (container:NAME)")
        return NetworkChoice("container", {"container": rest})
    if mode == "ns":
        if not rest.startswith("/"):
            raise InvalidArgument(f"invalid --network {value!r}: ns: needs an absolute path (ns:/run/netns/x)")
        return NetworkChoice("ns", {"path": rest})
    if mode == "slirp":
        raise InvalidArgument(f"unsupported network mode {value!r}: did you mean slirp4netns?")
    name = DEFAULT_BRIDGE if mode == "bridge" else mode
    net_opts: dict[str, Any] = {"aliases": []}
    for item in filter(None, rest.split(",")):
        k, eq, v = item.partition("=")
        if k not in NETWORK_OPTIONS or not eq or not v:
            raise InvalidArgument(f"invalid network option {item!r} for {name}: use alias=, ip=, ip6=, mac=, "
                                  "interface_name=")
        if k == "alias":
            net_opts["aliases"].append(v)
        elif k == "ip":
            if not is_ipv4(v):
                raise InvalidArgument(f"invalid IP address {v!r} for network {name}")
            net_opts["ip"] = v
        elif k == "ip6":
            import ipaddress

            try:
                if ipaddress.ip_address(v).version != 6:
                    raise ValueError(v)
            except ValueError:
                raise InvalidArgument(f"invalid IPv6 address {v!r} for network {name}") from None
            net_opts["ip6"] = v
        elif k == "mac":
            net_opts["mac"] = parse_mac(v)
        else:
            net_opts[k] = v
    return NetworkChoice("bridge", networks={name: net_opts})


def _check_slirp(opts: dict[str, str]) -> None:
    if "mtu" in opts and (not opts["mtu"].isdigit() or not 576 <= int(opts["mtu"]) <= 65521):
        raise InvalidArgument(f"invalid slirp4netns mtu {opts['mtu']!r}: 576-65521")
    if "cidr" in opts:
        ip, _, bits = opts["cidr"].partition("/")
        if not is_ipv4(ip) or not bits.isdigit() or not 8 <= int(bits) <= 25:
            raise InvalidArgument(f"invalid slirp4netns cidr {opts['cidr']!r}: expected an IPv4 network "
                                  "such as 10.0.3.0/24")
    for k in ("outbound_addr", "outbound_addr6"):
        if k in opts and not opts[k]:
            raise InvalidArgument(f"slirp4netns {k} needs a value")
    for k in ("allow_host_loopback", "enable_ipv6"):
        if k in opts and opts[k].lower() not in ("", "true", "false", "1", "0", "yes", "no"):
            raise InvalidArgument(f"invalid slirp4netns {k} {opts[k]!r}: true or false")
    if opts.get("port_handler", "rootlesskit") not in ("rootlesskit", "slirp4netns"):
        raise InvalidArgument(f"invalid slirp4netns port_handler {opts['port_handler']!r}: "
                              "rootlesskit or slirp4netns")


def flag(opts: dict[str, str], key: str) -> bool:
    return key in opts and opts[key].lower() in ("", "true", "1", "yes")


def slirp_address(opts: dict[str, str]) -> tuple[str, str, str]:
    """(container address, gateway, DNS) of slirp4netns's network: 10.0.2.100, .2 and .3, or
    the same hosts of --cidr's network."""
    cidr = opts.get("cidr")
    if not cidr:
        return "10.0.2.100", "10.0.2.2", "10.0.2.3"
    ip, _, bits = cidr.partition("/")
    base = int.from_bytes(_socket.inet_aton(ip), "big") & (0xFFFFFFFF << (32 - int(bits)) & 0xFFFFFFFF)

    def host(n: int) -> str:
        return _socket.inet_ntoa((base + n).to_bytes(4, "big"))

    return host(100), host(2), host(3)


# ---------------------------------------------------------------------- ports --


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidArgument(f"invalid {what} {text!r}: port numbers must be between 1 and 65535 (inclusive)")
    return int(text)


def _range(text: str, what: str) -> tuple[int, int]:
    lo, dash, hi = text.partition("-")
    first = _port(lo, what)
    last = _port(hi, what) if dash else first
    if last < first:
        raise InvalidArgument(f"invalid {what} range {text!r}: the end is before the start")
    return first, last - first + 1


def parse_publish(spec: str) -> list[dict[str, Any]]:
    """-p [[HOST-IP:]HOST-PORT:]CONTAINER-PORT[/PROTOCOL], ports as N or N-M, the host IP
    IPv4 or [IPv6], PROTOCOL tcp, udp or tcp,udp. A missing host port is 0: a free one is
    picked when the container is created. One mapping per port."""
    body, slash, proto = spec.partition("/")
    protos = proto.split(",") if slash else ["tcp"]
    if not all(p in ("tcp", "udp") for p in protos) or len(set(protos)) != len(protos):
        raise InvalidArgument(f"invalid port {spec!r}: the protocol is tcp, udp or tcp,udp")
    host_ip = ""
    if body.startswith("["):
        end = body.find("]")
        if end < 0 or body[end + 1:end + 2] != ":":
            raise InvalidArgument(f"invalid port {spec!r}: expected [IPv6]:HOST-PORT:CONTAINER-PORT")
        host_ip, body = body[1:end], body[end + 2:]
        if not is_ipv6(host_ip):
            raise InvalidArgument(f"invalid port {spec!r}: {host_ip!r} is not an IPv6 address")
        parts = body.split(":")
        if len(parts) != 2:
            raise InvalidArgument(f"invalid port {spec!r}: expected [IPv6]:HOST-PORT:CONTAINER-PORT")
        host_part, ctr_part = parts
    else:
        parts = body.split(":")
        if len(parts) == 1:
            host_part, ctr_part = "", parts[0]
        elif len(parts) == 2:
            host_part, ctr_part = parts
        elif len(parts) == 3:
            host_ip, host_part, ctr_part = parts
            if not is_ipv4(host_ip):
                raise InvalidArgument(f"invalid port {spec!r}: {host_ip!r} is not an IP address "
                                      "(an IPv6 address goes in brackets)")
        else:
            raise InvalidArgument(f"invalid port format {spec!r}: the format is "
                                  "[[hostIP:]hostPort:]containerPort[/protocol]")
    if not ctr_part:
        raise InvalidArgument(f"invalid port {spec!r}: the container port is missing")
    ctr_first, count = _range(ctr_part, "container port")
    if host_part:
        host_first, host_count = _range(host_part, "host port")
        if host_count != count:
            raise InvalidArgument(f"invalid port {spec!r}: host and container port ranges have different "
                                  f"lengths: {host_count} vs {count}")
    else:
        host_first = 0
    out = []
    for proto_name in protos:
        for i in range(count):
            out.append({"host_ip": "" if host_ip == "0.0.0.0" else host_ip,
                        "host_port": host_first + i if host_first else 0,
                        "container_port": ctr_first + i, "protocol": proto_name})
    return out


def parse_expose(spec: str) -> list[tuple[int, str]]:
    """--expose PORT[-PORT][/PROTOCOL]."""
    body, slash, proto = spec.partition("/")
    proto = proto if slash else "tcp"
    if proto not in ("tcp", "udp"):
        raise InvalidArgument(f"invalid --expose {spec!r}: the protocol is tcp or udp")
    first, count = _range(body, "--expose port")
    return [(first + i, proto) for i in range(count)]


def image_exposed(icfg: dict[str, Any]) -> list[tuple[int, str]]:
    """The image's EXPOSE ("80/tcp": {}) as (port, protocol), bad entries skipped."""
    out = []
    for key in sorted((icfg.get("ExposedPorts") or {})):
        port, _, proto = str(key).partition("/")
        if port.isdigit() and 0 < int(port) < 65536 and (proto or "tcp") in ("tcp", "udp"):
            out.append((int(port), proto or "tcp"))
    return out


def settle_ports(ports: list[dict[str, Any]], publish_all: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """The container's final port list: -P's ports (those not published already) added with a
    free host port, duplicates refused, and every host port 0 replaced by a free one now (as
    podman does at create, so ps and port show it before the start)."""
    taken = {(p["container_port"], p["protocol"]) for p in ports}
    ports = list(ports) + [{"host_ip": "", "host_port": 0, "container_port": port, "protocol": proto}
                           for port, proto in publish_all if (port, proto) not in taken]
    seen: dict[tuple[str, int, str], int] = {}
    for p in ports:
        if p["host_port"]:
            key = (p["host_ip"], p["host_port"], p["protocol"])
            if key in seen:
                raise InvalidArgument(f"host port {p['host_port']}/{p['protocol']} is published twice "
                                      f"(for container ports {seen[key]} and {p['container_port']})")
            seen[key] = p["container_port"]
    for p in ports:
        if not p["host_port"]:
            p["host_port"] = free_port(p["host_ip"], p["protocol"], {k[1] for k in seen})
            seen[(p["host_ip"], p["host_port"], p["protocol"])] = p["container_port"]
    return ports


def free_port(host_ip: str, protocol: str, avoid: set[int]) -> int:
    """A port the kernel considers free on host_ip now."""
    family = _socket.AF_INET6 if ":" in host_ip else _socket.AF_INET
    kind = _socket.SOCK_STREAM if protocol == "tcp" else _socket.SOCK_DGRAM
    for _ in range(20):
        s = _socket.socket(family, kind)
        try:
            s.bind((host_ip or "0.0.0.0", 0))
            port = s.getsockname()[1]
        except OSError as exc:
            raise InvalidArgument(f"cannot find a free port on {host_ip or '0.0.0.0'}: {exc.strerror}") from None
        finally:
            s.close()
        if port not in avoid:
            return port
    raise InvalidArgument("cannot find a free host port")


def _groups(ports: list[dict[str, Any]]) -> list[tuple[str, int, int, int, str]]:
    """Consecutive mappings merged as podman lists them: (host ip, host port, container port,
    count, protocol), tcp before udp."""
    out: list[list[Any]] = []
    order = sorted(ports, key=lambda p: (p["protocol"] != "tcp", p["host_ip"] == "", p["host_ip"],
                                         p["container_port"]))
    for p in order:
        if out:
            last = out[-1]
            if (last[0], last[4]) == (p["host_ip"], p["protocol"]) and last[1] + last[3] == p["host_port"] \
                    and last[2] + last[3] == p["container_port"]:
                last[3] += 1
                continue
        out.append([p["host_ip"], p["host_port"], p["container_port"], 1, p["protocol"]])
    return [tuple(g) for g in out]  # type: ignore[misc]


def ports_text(ports: list[dict[str, Any]]) -> str:
    """ps's PORTS column: 0.0.0.0:8080->80/tcp, 127.0.0.1:8000-8001->80-81/udp."""
    items = []
    for ip, hport, cport, count, proto in _groups(ports):
        host = ip or "0.0.0.0"
        host = f"[{host}]" if ":" in host else host
        if count > 1:
            items.append(f"{host}:{hport}-{hport + count - 1}->{cport}-{cport + count - 1}/{proto}")
        else:
            items.append(f"{host}:{hport}->{cport}/{proto}")
    return ", ".join(items)


def ports_json(ports: list[dict[str, Any]]) -> Optional[list[dict[str, Any]]]:
    """ps --format json's Ports."""
    if not ports:
        return None
    return [{"host_ip": ip, "container_port": cport, "host_port": hport, "range": count, "protocol": proto}
            for ip, hport, cport, count, proto in _groups(ports)]


def ports_from_json(groups: Optional[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """ports_json's groups (ps --format json's Ports) back as one entry per port."""
    return [{"host_ip": g["host_ip"], "host_port": g["host_port"] + i, "container_port": g["container_port"] + i,
             "protocol": g["protocol"]} for g in groups or [] for i in range(g.get("range") or 1)]


def inspect_ports(ports: list[dict[str, Any]], exposed: list[tuple[int, str]]) -> dict[str, Any]:
    """inspect's NetworkSettings.Ports and HostConfig.PortBindings: "80/tcp": [{HostIp, HostPort}];
    exposed ports that are not published map to null."""
    from ..formats import GoStruct   # not at the top: formats is off a run's way

    out: dict[str, Any] = {f"{port}/{proto}": None for port, proto in exposed}
    for p in ports:
        key = f"{p['container_port']}/{p['protocol']}"
        if out.get(key) is None:
            out[key] = []
        out[key].append(GoStruct(HostIp=p["host_ip"], HostPort=str(p["host_port"])))
    return dict(sorted(out.items(), key=lambda kv: (int(kv[0].split("/")[0]), kv[0])))


def port_lines(ports: list[dict[str, Any]], which: Optional[str] = None) -> list[str]:
    """`podpy port`: "80/tcp -> 0.0.0.0:8080" lines, or with a port ("80", "80/udp") its
    host addresses only."""
    if which:
        num, _, proto = which.partition("/")
        proto = proto or "tcp"
        if not num.isdigit():
            raise InvalidArgument(f"invalid port {which!r}: expected PORT[/PROTOCOL]")
        return [f"{_host(p)}" for p in ports if p["container_port"] == int(num) and p["protocol"] == proto]
    return [f"{p['container_port']}/{p['protocol']} -> {_host(p)}"
            for p in sorted(ports, key=lambda p: (p["container_port"], p["protocol"]))]


def _host(p: dict[str, Any]) -> str:
    ip = p["host_ip"] or "0.0.0.0"
    return f"[{ip}]:{p['host_port']}" if ":" in ip else f"{ip}:{p['host_port']}"


# ---------------------------------------------------------------- /etc files --


def parse_add_host(item: str) -> tuple[str, str]:
    """--add-host NAME:IP (IPv6 allowed after the first colon; host-gateway: the host)."""
    name, sep, ip = item.partition(":")
    if not sep or not name or not ip:
        raise InvalidArgument(f"invalid --add-host {item!r}: expected NAME:IP")
    if ip != "host-gateway" and not is_ip(ip.strip("[]")):
        raise InvalidArgument(f"invalid --add-host {item!r}: {ip!r} is not an IP address")
    return name, ip.strip("[]")


def parse_dns(servers: list[str], search: list[str], options: list[str]) -> dict[str, list[str]]:
    """--dns, --dns-search, --dns-option: what the container's resolv.conf lists instead of
    the network's defaults ("none" for --dns leaves no server, "." for --dns-search no search)."""
    for s in servers:
        if s != "none" and not is_ip(s):
            raise InvalidArgument(f"invalid --dns {s!r}: not an IP address")
    for d in search:
        if not d or " " in d:
            raise InvalidArgument(f"invalid --dns-search {d!r}")
    for o in options:
        if not o or " " in o:
            raise InvalidArgument(f"invalid --dns-option {o!r}")
    out: dict[str, list[str]] = {}
    if servers:
        out["servers"] = [s for s in servers if s != "none"]
    if search:
        out["search"] = [d for d in search if d != "."]
    if options:
        out["options"] = list(options)
    return out


def host_address() -> Optional[str]:
    """The host's address on its default route (what podman names host.containers.internal);
    no packet is sent."""
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        s.connect(("203.0.113.1", 9))   # any routable address: only the route is looked up
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def host_resolv() -> list[str]:
    try:
        with open("/etc/resolv.conf") as f:
            return f.read().splitlines()
    except OSError:
        return []


def default_rootless_cmd(config_dir: str) -> tuple[str, str]:
    """(slirp4netns or pasta, where that came from): containers.conf's
    [network] default_rootless_network_cmd in podpy's configuration directory (or a --module's),
    else slirp4netns."""
    from ..config import containers_conf_value

    value, path = containers_conf_value(config_dir, "network", "default_rootless_network_cmd")
    if path is not None:
        if value in ("slirp4netns", "pasta"):
            return str(value), path
        if value is not None:
            raise InvalidArgument(f"{path}: default_rootless_network_cmd must be slirp4netns or pasta")
    return "slirp4netns", "default"
