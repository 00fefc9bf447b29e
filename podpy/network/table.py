"""The user networks' table and the addresses given out on them (a row per address in
`network_addresses`, so two containers never get the same one), and what a container
on them needs when it starts: the holder's attach request and its /etc facts.

A network is a row in the `networks` table (its configuration in podman's JSON shape) and,
while containers on it run, a bridge in the rootless network namespace
(rootless/network/holder.py). The network `podman` always exists (10.88.0.0/16, no DNS),
as in podman: `--network bridge` means it.
"""

from __future__ import annotations

import json
import os
import time

from storage.db import sqlite3

from ..errors import InvalidArgument, NoSuchNetwork, PodpyError
from .files import EtcNet, host_nameservers
from .options import DEFAULT_BRIDGE, parse_mac
from .subnets import host_range, of as subnet_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..engine.context import Runtime
    from ..state import ContainerRecord

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
    # no table change: each network is described by networks/NAME.json from here
    # (engine/records.py), written for the networks of an older store by _conn
    "SELECT 1",
)
UPLINK = "10.0.2.0/24"          # slirp4netns's network in the rootless namespace
DEFAULT_ID = "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9"
SEARCH = "dns.podman"
RESERVED = ("bridge", "host", "none", "private", "slirp4netns", "pasta", "container", "ns", "default")


def _conn(rt: Runtime) -> sqlite3.Connection:
    rt.state   # the containers' tables first: one migration order for everyone
    had = rt.db.version("networks")
    rt.db.migrate("networks", SCHEMA)
    if 0 < had < len(SCHEMA):
        from ..engine.records import write_network

        for r in rt.db.conn.execute("SELECT * FROM networks").fetchall():
            write_network(rt.cfg.root, r["name"], r["id"], r["created"], r["config"])
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


def _stamp(t: float) -> str:
    from ..formats import rfc3339

    return rfc3339(t)


def check_attach(rt: Runtime, requested: dict[str, dict[str, Any]], aliases: list[str], ip: Optional[str],
                 mac: Optional[str], ip6: Optional[str] = None) -> dict[str, dict[str, Any]]:
    """--network NAME... with --network-alias, --ip, --ip6, --mac-address: the container's
    endpoints (network id, aliases, the addresses and MAC asked for), every network known."""
    from .options import is_ipv4

    if (ip or mac or ip6) and len(requested) > 1:
        raise InvalidArgument("--ip, --ip6 and --mac-address can only be used with a single network "
                              "(use --network NAME:ip=IP,ip6=IP6,mac=MAC for several)")
    if ip and not is_ipv4(ip):
        raise InvalidArgument(f"invalid --ip {ip!r}: not an IPv4 address")
    if ip6 and not is_ipv6(ip6):
        raise InvalidArgument(f"invalid --ip6 {ip6!r}: not an IPv6 address")
    out: dict[str, dict[str, Any]] = {}
    for name, opts in requested.items():
        net = lookup(rt, name)
        ep: dict[str, Any] = {"id": net["id"], "aliases": [*opts.get("aliases", []), *aliases]}
        if opts.get("ip") or ip:
            ep["ip"] = opts.get("ip") or ip
            _check_in_subnet(net, ep["ip"])
        if opts.get("ip6") or ip6:
            ep["ip6"] = str(opts.get("ip6") or ip6)
            if not is_ipv6(ep["ip6"]):
                raise InvalidArgument(f"invalid ip6 {ep['ip6']!r}: not an IPv6 address")
            _check_in_subnet(net, ep["ip6"])
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


def is_ipv6(text: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def _check_in_subnet(net: dict[str, Any], ip: str) -> None:
    import ipaddress

    addr = ipaddress.ip_address(ip)
    sub = subnet_of(net, addr.version)
    if (net.get("ipam_options") or {}).get("driver") == "none":   # podman 4.3.1 drops it without a word
        raise InvalidArgument(f"IP address {ip}: network {net['name']} gives no addresses (--ipam-driver none)")
    if sub is None:
        raise InvalidArgument(f"network {net['name']} has no IPv6 subnet for {ip}: create it with --ipv6")
    network = ipaddress.ip_network(sub["subnet"])
    if addr not in network or addr == network.network_address \
            or (addr.version == 4 and addr == network.broadcast_address) or str(addr) == sub["gateway"]:
        raise InvalidArgument(f"IP address {ip} is not a free host address of network {net['name']} "
                              f"({sub['subnet']}, gateway {sub['gateway']})")


def allocate_addresses(rt: Runtime, cid: str, endpoints: dict[str, dict[str, Any]]) -> None:
    """Give each endpoint an address of each of its network's IP versions (the one asked for,
    or the lowest free one of the subnet's range), a MAC and an interface name, in one
    transaction."""
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
            if (net.get("ipam_options") or {}).get("driver") == "none":
                # podman's: an interface (and its MAC) without addresses, which the user sets up
                given = [f"--{k}" for k in ("ip", "ip6") if ep.get(k)]
                if given:   # podman 4.3.1 drops them without a word
                    raise InvalidArgument(f"{' and '.join(given)}: network {name} gives no addresses "
                                          "(--ipam-driver none)")
            used = {r[0] for r in c.execute("SELECT ip FROM network_addresses WHERE network=?", (net["id"],))}
            for version, key, suffix in ((4, "ip", ""), (6, "ip6", "6")):
                sub = subnet_of(net, version)
                if sub is None:
                    continue
                if ep.get(key):
                    if ep[key] in used:
                        raise InvalidArgument(f"IP address {ep[key]} is already allocated on network {name}")
                else:
                    lo, hi = host_range(sub)
                    addr = lo
                    while addr <= hi and (str(addr) in used or str(addr) == sub["gateway"]):
                        addr += 1
                    if addr > hi:
                        raise PodpyError(f"network {name} has no free address left")
                    ep[key] = str(addr)
                c.execute("INSERT INTO network_addresses (network, ip, container, created) VALUES (?, ?, ?, ?)",
                          (net["id"], ep[key], cid, now))
                ep["gateway" + suffix], ep["prefix" + suffix] = sub["gateway"], int(sub["subnet"].partition("/")[2])
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


def _endpoint_request(rt: Runtime, rec: "ContainerRecord", name: str, ep: dict[str, Any],
                      route: bool) -> dict[str, Any]:
    net = by_id(rt, ep["id"])
    if net is None:
        raise NoSuchNetwork(f"network {name} of container {rec.name} no longer exists")
    # a network without subnets (--ipam-driver none): a bridge without an address, an
    # interface without one, no route and no DNS
    sub = subnet_of(net, 4) or (net["subnets"] or [None])[0] or {"gateway": None, "subnet": "/0"}
    prefix = int(sub["subnet"].partition("/")[2])
    out = {"name": net["name"], "bridge": net["network_interface"], "gateway": sub["gateway"], "prefix": prefix,
           "internal": bool(net.get("internal")), "dns": bool(net.get("dns_enabled")), "ip": ep.get("ip"),
           "servers": list(net.get("network_dns_servers") or ()),
           "mac": ep["mac"], "ifname": ep["ifname"],
           "names": [rec.name, rec.id[:12], *ep.get("aliases", [])],
           "route_via": sub["gateway"] if route and not net.get("internal") and ep.get("ip") else None}
    sub6 = subnet_of(net, 6)
    if sub6 is not None and ep.get("ip6"):
        out.update(gateway6=sub6["gateway"], prefix6=int(sub6["subnet"].partition("/")[2]), ip6=ep["ip6"],
                   route6_via=sub6["gateway"] if route and not net.get("internal") else None)
    return out


def bridge_start(ns: Any, host_ip: Optional[str], host_lines: list[str]) -> EtcNet:
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
        # its last network disconnected: loopback only, as podman starts it
        return EtcNet(["127.0.0.1"], host_ip, host_nameservers(host_lines))
    chan, hello = connect(rt.cfg.runroot, rt.cfg.rootless)
    ns.holder = chan
    if rt.cfg.rootless:
        ns.userns_path = str(hello["userns"])
    ns.plan["bridge"] = {"runroot": rt.cfg.runroot, "request": {"id": rec.id, "networks": requests}}
    if ns.ports:
        if not requests[0]["ip"]:
            raise InvalidArgument(f"network {requests[0]['name']} gives no addresses (--ipam-driver none): "
                                  "ports cannot be published to the container")
        ns.plan["helper"] = True
        ns.target = requests[0]["ip"]
    servers = [r["gateway"] for r in requests if r["dns"]]
    own = [s for r in requests for s in r["servers"]]   # network create --dns: instead of the host's
    servers += [s for s in own if s not in servers]
    if not own and any(not r["internal"] for r in requests):
        servers += [s for s in host_nameservers(host_lines) if s not in servers]
    search = [SEARCH] if any(r["dns"] for r in requests) else []
    # /etc/hosts: each network's IPv4 address, then its IPv6 one, as podman writes them
    return EtcNet([ip for r in requests for ip in (r["ip"], r.get("ip6")) if ip], host_ip, servers, search)


def inspect_endpoints(rec: "ContainerRecord", running: bool) -> dict[str, Any]:
    out = {}
    for name, ep in rec.config.networks.items():
        out[name] = {"EndpointID": "", "Gateway": ep.get("gateway", "") if running else "",
                     "IPAddress": ep.get("ip", "") if running else "",
                     "IPPrefixLen": ep.get("prefix", 0) if running else 0,
                     "IPv6Gateway": ep.get("gateway6", "") if running else "",
                     "GlobalIPv6Address": ep.get("ip6", "") if running else "",
                     "GlobalIPv6PrefixLen": ep.get("prefix6", 0) if running else 0,
                     "MacAddress": ep.get("mac", "") if running else "", "NetworkID": name, "DriverOpts": None,
                     "IPAMConfig": None, "Links": None, "Aliases": [*ep.get("aliases", []), rec.id[:12]]}
    return out
