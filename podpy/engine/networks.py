"""User networks: create, ls, inspect, rm, prune, connect, disconnect, and what a container
on them needs when it starts.

A network is a row in the `networks` table (its configuration in podman's JSON shape) and,
while containers on it run, a bridge in the rootless network namespace
(rootless/network/holder.py). Addresses are given when a container is created or
connected (a row per address in `network_addresses`, so two containers never get the
same one) and are the container's for its life, as podman's are; `ps`, `inspect` and
/etc/hosts show them.

The network `podman` always exists (10.88.0.0/16, no DNS), as in podman: `--network
bridge` means it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

from ..errors import InvalidArgument, InvalidState, NoSuchNetwork, PodpyError
from ..netfiles import EtcNet, host_nameservers
from ..netopts import DEFAULT_BRIDGE, parse_mac
from .runtime import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..state import ContainerRecord
    from .netstart import NetStart

SCHEMA = (
    """
    CREATE TABLE networks (
        name TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created REAL NOT NULL,
        config TEXT NOT NULL
    );
    CREATE TABLE network_addresses (
        network TEXT NOT NULL,
        ip TEXT NOT NULL,
        container TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (network, ip)
    )
    """,
)
UPLINK = "10.0.2.0/24"          # slirp4netns's network in the rootless namespace
AUTO_POOL = "10.89.{}.0/24"     # podman's default pool for new networks
DEFAULT_ID = "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9"
SEARCH = "dns.podman"
RESERVED = ("bridge", "host", "none", "private", "slirp4netns", "pasta", "container", "ns", "default")


def _conn(rt: Runtime) -> sqlite3.Connection:
    rt.state   # the containers' tables first: one migration order for everyone
    rt.db.migrate("networks", SCHEMA)
    return rt.db.conn


def _default() -> dict[str, Any]:
    return {"name": DEFAULT_BRIDGE, "id": DEFAULT_ID, "driver": "bridge", "network_interface": "podpy0",
            "created": "0001-01-01T00:00:00Z", "subnets": [{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}],
            "ipv6_enabled": False, "internal": False, "dns_enabled": False,
            "ipam_options": {"driver": "host-local"}}


def _record(row: sqlite3.Row) -> dict[str, Any]:
    return json.loads(row["config"])


def all_networks(rt: Runtime) -> list[dict[str, Any]]:
    conn = _conn(rt)
    nets = [_record(r) for r in conn.execute("SELECT * FROM networks").fetchall()]
    return sorted([_default(), *nets], key=lambda n: n["name"])


def lookup(rt: Runtime, name: str) -> dict[str, Any]:
    """By name, full id or unique id prefix."""
    for net in all_networks(rt):
        if name in (net["name"], net["id"]):
            return net
    found = [n for n in all_networks(rt) if name and n["id"].startswith(name)]
    if len(found) == 1:
        return found[0]
    raise NoSuchNetwork(f"unable to find network with name or ID {name}: network not found")


def by_id(rt: Runtime, net_id: str) -> Optional[dict[str, Any]]:
    return next((n for n in all_networks(rt) if n["id"] == net_id), None)


# -------------------------------------------------------------------- create --


def create(rt: Runtime, name: Optional[str], driver: str, subnet: Optional[str], gateway: Optional[str],
           ip_range: Optional[str], internal: bool, labels: dict[str, str], ignore: bool = False,
           disable_dns: bool = False) -> dict[str, Any]:
    """Make a network; returns its record. Nothing is started: the bridge appears in the
    rootless network namespace when a container on it starts."""
    import ipaddress

    from ..options import NAME_RE

    if driver != "bridge":
        raise InvalidArgument(f"unsupported network driver {driver!r}: bridge")
    if name is not None and not NAME_RE.match(name):
        raise InvalidArgument(f"invalid network name {name!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    if name in RESERVED:
        raise InvalidArgument(f"network name {name} is a network mode: choose another")
    if (gateway or ip_range) and not subnet:
        raise InvalidArgument("--gateway and --ip-range need --subnet")
    conn = _conn(rt)
    with rt.db.write() as c:
        existing = [_record(r) for r in c.execute("SELECT * FROM networks").fetchall()]
        nets = [_default(), *existing]
        if name is None:
            taken_names = {n["name"] for n in nets}
            name = next(f"podman{i}" for i in range(1, 10000) if f"podman{i}" not in taken_names)
        if any(n["name"] == name for n in nets):
            if ignore:
                return next(n for n in nets if n["name"] == name)
            raise PodpyError(f"network name {name} already used: network already exists")
        used = [ipaddress.ip_network(s["subnet"]) for n in nets for s in n["subnets"]]
        used.append(ipaddress.ip_network(UPLINK))
        if subnet:
            try:
                net = ipaddress.ip_network(subnet, strict=False)
            except ValueError as exc:
                raise InvalidArgument(f"invalid --subnet {subnet!r}: {exc}") from None
            if net.version != 4:
                raise InvalidArgument(f"invalid --subnet {subnet!r}: only IPv4 networks are supported")
            if net.prefixlen > 30:
                raise InvalidArgument(f"invalid --subnet {subnet!r}: too small (at most /30)")
            clash = next((u for u in used if u.overlaps(net)), None)
            if clash is not None:
                what = "the rootless network namespace's uplink" if str(clash) == UPLINK else "another network"
                raise InvalidArgument(f"subnet {net} overlaps {clash}, used by {what}")
        else:
            net = next((ipaddress.ip_network(AUTO_POOL.format(i)) for i in range(256)
                        if not any(u.overlaps(ipaddress.ip_network(AUTO_POOL.format(i))) for u in used)), None)
            if net is None:
                raise PodpyError("no free subnet left in 10.89.0.0/16: give one with --subnet")
        if gateway:
            try:
                gw = ipaddress.ip_address(gateway)
            except ValueError as exc:
                raise InvalidArgument(f"invalid --gateway {gateway!r}: {exc}") from None
            if gw not in net or gw in (net.network_address, net.broadcast_address):
                raise InvalidArgument(f"gateway {gw} is not a host address of subnet {net}")
        else:
            gw = net.network_address + 1
        sub: dict[str, Any] = {"subnet": str(net), "gateway": str(gw)}
        if ip_range:
            try:
                pool = ipaddress.ip_network(ip_range, strict=False)
            except ValueError as exc:
                raise InvalidArgument(f"invalid --ip-range {ip_range!r}: {exc}") from None
            if not pool.subnet_of(net):  # type: ignore[arg-type]
                raise InvalidArgument(f"--ip-range {pool} is not inside subnet {net}")
            sub["lease_range"] = {"start_ip": str(pool.network_address + 1 if pool.prefixlen < 31 else
                                                  pool.network_address),
                                  "end_ip": str(pool.broadcast_address)}
        taken_if = {n["network_interface"] for n in nets}
        interface = next(f"podpy{i}" for i in range(1, 100000) if f"podpy{i}" not in taken_if)
        now = time.time()
        record = {"name": name, "id": os.urandom(32).hex(), "driver": "bridge", "network_interface": interface,
                  "created": _stamp(now), "subnets": [sub], "ipv6_enabled": False, "internal": internal,
                  "dns_enabled": not disable_dns, "ipam_options": {"driver": "host-local"}}
        if labels:
            record["labels"] = labels
        c.execute("INSERT INTO networks (name, id, created, config) VALUES (?, ?, ?, ?)",
                  (name, record["id"], now, json.dumps(record)))
    del conn
    from ..events import emit

    emit(rt.cfg.runroot, "network", "create", record["id"], name)
    return record


def _stamp(t: float) -> str:
    from .reports import rfc3339

    return rfc3339(t)


# ---------------------------------------------------------------- rm, prune --


def users(rt: Runtime, net: dict[str, Any]) -> list["ContainerRecord"]:
    return [r for r in rt.state.all()
            if r.config.network == "bridge" and any(ep.get("id") == net["id"] for ep in r.config.networks.values())]


def remove(rt: Runtime, name: str, force: bool) -> str:
    """Remove a network; one with containers only with force, which removes them first."""
    from .containers import remove as remove_container

    rt.reconcile()
    net = lookup(rt, name)
    if net["name"] == DEFAULT_BRIDGE:
        raise InvalidArgument(f"default network {DEFAULT_BRIDGE} cannot be removed")
    using = users(rt, net)
    if using and not force:
        raise InvalidState(f"\"{net['name']}\" has associated containers with it ({', '.join(r.name for r in using)}). "
                           "Use -f to forcibly delete containers: network is being used")
    for rec in using:
        remove_container(rt, rec, force=True)
    with rt.db.write() as c:
        c.execute("DELETE FROM networks WHERE id=?", (net["id"],))
        c.execute("DELETE FROM network_addresses WHERE network=?", (net["id"],))
    from ..events import emit

    emit(rt.cfg.runroot, "network", "remove", net["id"], net["name"])
    return str(net["name"])


def prune(rt: Runtime) -> list[str]:
    rt.reconcile()
    used = {ep.get("id") for r in rt.state.all() for ep in r.config.networks.values()}
    return [remove(rt, n["name"], False) for n in all_networks(rt)
            if n["name"] != DEFAULT_BRIDGE and n["id"] not in used]


# ------------------------------------------------------------ addresses --


def check_attach(rt: Runtime, requested: dict[str, dict[str, Any]], aliases: list[str], ip: Optional[str],
                 mac: Optional[str]) -> dict[str, dict[str, Any]]:
    """--network NAME... with --network-alias, --ip, --mac-address: the container's endpoints
    (network id, aliases, the address and MAC asked for), every network known."""
    from ..netopts import is_ipv4

    if (ip or mac) and len(requested) > 1:
        raise InvalidArgument("--ip and --mac-address can only be used with a single network "
                              "(use --network NAME:ip=IP,mac=MAC for several)")
    if ip and not is_ipv4(ip):
        raise InvalidArgument(f"invalid --ip {ip!r}: not an IPv4 address")
    out: dict[str, dict[str, Any]] = {}
    for name, opts in requested.items():
        net = lookup(rt, name)
        ep: dict[str, Any] = {"id": net["id"], "aliases": [*opts.get("aliases", []), *aliases]}
        if opts.get("ip") or ip:
            ep["ip"] = opts.get("ip") or ip
            _check_in_subnet(net, ep["ip"])
        if opts.get("mac") or mac:
            ep["mac"] = opts.get("mac") or parse_mac(str(mac))
        if opts.get("interface_name"):
            ep["ifname"] = _ifname(str(opts["interface_name"]))
        out[net["name"]] = ep
    return out


def _ifname(name: str) -> str:
    if not 0 < len(name) < 16 or "/" in name or any(c.isspace() for c in name) or name in (".", ".."):
        raise InvalidArgument(f"invalid interface_name {name!r}: 1-15 characters, no / or spaces")
    return name


def _check_in_subnet(net: dict[str, Any], ip: str) -> None:
    import ipaddress

    sub = net["subnets"][0]
    addr = ipaddress.ip_address(ip)
    network = ipaddress.ip_network(sub["subnet"])
    if addr not in network or addr in (network.network_address, network.broadcast_address) \
            or str(addr) == sub["gateway"]:
        raise InvalidArgument(f"IP address {ip} is not a free host address of network {net['name']} "
                              f"({sub['subnet']}, gateway {sub['gateway']})")


def allocate_addresses(rt: Runtime, cid: str, endpoints: dict[str, dict[str, Any]]) -> None:
    """Give each endpoint an address (the one asked for, or the lowest free one of the
    network's range), a MAC and an interface name, in one transaction."""
    import ipaddress

    conn = _conn(rt)
    now = time.time()
    with rt.db.write() as c:
        # rows of containers that were never made (their create was killed) go after a minute
        c.execute("DELETE FROM network_addresses WHERE created < ? AND container NOT IN "
                  "(SELECT id FROM containers)", (now - 60,))
        taken_if = {ep.get("ifname") for ep in endpoints.values() if ep.get("ifname")}
        for name, ep in endpoints.items():
            net = by_id(rt, ep["id"])
            if net is None:
                raise NoSuchNetwork(f"unable to find network with name or ID {name}: network not found")
            used = {r[0] for r in c.execute("SELECT ip FROM network_addresses WHERE network=?", (net["id"],))}
            sub = net["subnets"][0]
            if ep.get("ip"):
                if ep["ip"] in used:
                    raise InvalidArgument(f"IP address {ep['ip']} is already allocated on network {name}")
            else:
                network = ipaddress.ip_network(sub["subnet"])
                lease = sub.get("lease_range")
                lo = ipaddress.ip_address(lease["start_ip"]) if lease else network.network_address + 1
                hi = ipaddress.ip_address(lease["end_ip"]) if lease else network.broadcast_address - 1
                hi = min(hi, network.broadcast_address - 1)
                addr = lo
                while addr <= hi and (str(addr) in used or str(addr) == sub["gateway"]):
                    addr += 1
                if addr > hi:
                    raise PodpyError(f"network {name} has no free address left")
                ep["ip"] = str(addr)
            c.execute("INSERT INTO network_addresses (network, ip, container, created) VALUES (?, ?, ?, ?)",
                      (net["id"], ep["ip"], cid, now))
            ep["gateway"], ep["prefix"] = sub["gateway"], int(sub["subnet"].partition("/")[2])
            if not ep.get("mac"):
                ep["mac"] = _random_mac()
            if not ep.get("ifname"):
                ep["ifname"] = next(f"eth{i}" for i in range(1000) if f"eth{i}" not in taken_if)
                taken_if.add(ep["ifname"])
    del conn


def _random_mac() -> str:
    raw = bytearray(os.urandom(6))
    raw[0] = (raw[0] & 0xFE) | 0x02     # unicast, locally administered
    return ":".join(f"{b:02x}" for b in raw)


def release_addresses(rt: Runtime, cid: str, network_id: Optional[str] = None) -> None:
    _conn(rt)
    with rt.db.write() as c:
        if network_id:
            c.execute("DELETE FROM network_addresses WHERE container=? AND network=?", (cid, network_id))
        else:
            c.execute("DELETE FROM network_addresses WHERE container=?", (cid,))


# -------------------------------------------------------- connect/disconnect --


def connect(rt: Runtime, container: str, network: str, aliases: list[str], ip: Optional[str],
            mac: Optional[str]) -> None:
    """Add a user network to a container (that is on user networks); a running one gets its
    interface at once."""
    from ..state import PAUSED, RUNNING

    rt.reconcile()
    rec = rt.state.lookup(container)
    if rec.config.network != "bridge":
        raise InvalidArgument(f"container {rec.name} uses network mode {rec.config.network.partition(':')[0]}: "
                              "only a container on user networks can be connected to another")
    eps = check_attach(rt, {network: {"aliases": []}}, aliases, ip, mac)
    name = next(iter(eps))
    if name in rec.config.networks:
        raise InvalidState(f"container {rec.name} is already connected to network {name}")
    for ep in eps.values():
        ep["ifname"] = next(f"eth{i}" for i in range(1000)
                            if f"eth{i}" not in {e.get("ifname") for e in rec.config.networks.values()})
    allocate_addresses(rt, rec.id, eps)
    if rec.state in (RUNNING, PAUSED) and rec.pid:
        from rootless.network.holder_client import attach

        try:
            attach(rt.cfg.runroot, rec.pid, {"id": rec.id, "networks": [
                _endpoint_request(rt, rec, name, eps[name], route=False)]})
        except Exception:
            release_addresses(rt, rec.id, eps[name]["id"])
            raise
    rec.config.networks[name] = eps[name]
    rt.state.update(rec.id, config=rec.config.to_json())
    if rec.state in (RUNNING, PAUSED):
        _refresh_hosts(rt, rec)


def disconnect(rt: Runtime, container: str, network: str, force: bool) -> None:
    from ..state import PAUSED, RUNNING

    rt.reconcile()
    rec = rt.state.lookup(container)
    net = lookup(rt, network)
    if net["name"] not in rec.config.networks:
        raise InvalidState(f"container {rec.name} is not connected to network {net['name']}")
    if len(rec.config.networks) == 1 and not force:
        raise InvalidState(f"network {net['name']} is the last network of container {rec.name}: "
                           "a container on user networks keeps at least one (use -f to disconnect anyway)")
    if rec.state in (RUNNING, PAUSED) and rec.pid:
        from rootless.network.holder_client import request

        try:
            request(rt.cfg.runroot, "detach", id=rec.id, network=net["name"])
        except PodpyError:
            raise
        except Exception as exc:  # noqa: BLE001
            if not force:
                from ..errors import translate

                raise translate(exc) from exc
    del rec.config.networks[net["name"]]
    rt.state.update(rec.id, config=rec.config.to_json())
    release_addresses(rt, rec.id, net["id"])
    if rec.state in (RUNNING, PAUSED):
        _refresh_hosts(rt, rec)


def _refresh_hosts(rt: Runtime, rec: "ContainerRecord") -> None:
    """A running container's /etc/hosts after connect or disconnect, with its addresses on the
    networks it is on now (as podman updates it). Written in place: the container has this
    very file bind-mounted, a new one would not reach it."""
    from .. import netfiles, netopts
    from .netstart import addresses

    path = os.path.join(rt.container_run_dir(rec.id), "hosts")
    ips, _ = addresses(rec)
    content = netfiles.hosts(rec.config.hostname or rec.id[:12], rec.name, rec.config.add_hosts,
                             netfiles.EtcNet(ips, netopts.host_address(), []))
    try:
        with open(path, "r+") as f:
            f.write(content)
            f.truncate()
    except OSError:
        pass   # not started with one (a user-given /etc/hosts), or its run directory is gone


# ------------------------------------------------------------ starting --


def _endpoint_request(rt: Runtime, rec: "ContainerRecord", name: str, ep: dict[str, Any],
                      route: bool) -> dict[str, Any]:
    net = by_id(rt, ep["id"])
    if net is None:
        raise NoSuchNetwork(f"network {name} of container {rec.name} no longer exists")
    sub = net["subnets"][0]
    prefix = int(sub["subnet"].partition("/")[2])
    return {"name": net["name"], "bridge": net["network_interface"], "gateway": sub["gateway"], "prefix": prefix,
            "internal": bool(net.get("internal")), "dns": bool(net.get("dns_enabled")), "ip": ep["ip"],
            "mac": ep["mac"], "ifname": ep["ifname"],
            "names": [rec.name, rec.id[:12], *ep.get("aliases", [])],
            "route_via": sub["gateway"] if route and not net.get("internal") else None}


def bridge_start(ns: "NetStart", host_ip: Optional[str], host_lines: list[str]) -> EtcNet:
    """NetStart's part for a container on user networks: the holder running (and held while
    the container joins its user namespace), the attach request, the /etc facts."""
    from rootless.network.holder_client import connect

    rt, rec = ns.rt, ns.rec
    requests = []
    routed = False
    for name, ep in rec.config.networks.items():
        req = _endpoint_request(rt, rec, name, ep, route=not routed)
        routed = routed or req["route_via"] is not None
        requests.append(req)
    if not requests:
        raise InvalidState(f"container {rec.name} is on no network: connect it to one, or recreate it")
    chan, hello = connect(rt.cfg.runroot, rt.cfg.rootless)
    ns.holder = chan
    if rt.cfg.rootless:
        ns.userns_path = str(hello["userns"])
    ns.plan["bridge"] = {"runroot": rt.cfg.runroot, "request": {"id": rec.id, "networks": requests}}
    if ns.ports:
        ns.plan["helper"] = True
        ns.target = requests[0]["ip"]
    servers = [r["gateway"] for r in requests if r["dns"]]
    if any(not r["internal"] for r in requests):
        servers += [s for s in host_nameservers(host_lines) if s not in servers]
    search = [SEARCH] if any(r["dns"] for r in requests) else []
    return EtcNet([r["ip"] for r in requests], host_ip, servers, search)


def inspect_endpoints(rec: "ContainerRecord", running: bool) -> dict[str, Any]:
    out = {}
    for name, ep in rec.config.networks.items():
        out[name] = {"EndpointID": "", "Gateway": ep.get("gateway", "") if running else "",
                     "IPAddress": ep.get("ip", "") if running else "",
                     "IPPrefixLen": ep.get("prefix", 0) if running else 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                     "MacAddress": ep.get("mac", "") if running else "", "NetworkID": name, "DriverOpts": None,
                     "IPAMConfig": None, "Links": None, "Aliases": [*ep.get("aliases", []), rec.id[:12]]}
    return out


def describe(net: dict[str, Any], containers: int) -> dict[str, Any]:
    """`network ls`'s template view of a network."""
    return {"ID": net["id"][:12], "Id": net["id"], "Name": net["name"], "Driver": net["driver"],
            "NetworkInterface": net["network_interface"], "Created": net["created"],
            "Subnets": net["subnets"], "Internal": net["internal"], "DNSEnabled": net["dns_enabled"],
            "Labels": net.get("labels") or {}, "IPv6Enabled": False, "Containers": containers}


def inspect(rt: Runtime, names: list[str]) -> list[dict[str, Any]]:
    return [lookup(rt, n) for n in names]
