"""User networks: NetworkEngine, the interface every front end calls (create, ls, inspect,
rm, prune, connect, disconnect, exists), and the verbs' work.

The table, the addresses and what a starting container needs are in podpy.network.table.
"""

from __future__ import annotations

import json
import os
import re
import time

from ..errors import InvalidArgument, InvalidState, NetworkInUse, NoSuchNetwork, PodpyError
from ..network.options import DEFAULT_BRIDGE
from ..network.table import (
    RESERVED, UPLINK, _conn, _default, _endpoint_request, _record, _stamp, all_networks,
    check_attach, allocate_addresses, lookup, release_addresses,
)
from ..network.subnets import plan as plan_subnets
from .context import Runtime
from .entities import NetworkSummary, Report, each
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ..state import ContainerRecord
    from .entities import NetworkCreateOptions, PruneFilters


_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def _listed(value: Any) -> list[str]:
    """--subnet, --gateway, --ip-range: one value or several (repeated flags)."""
    return [] if not value else [value] if isinstance(value, str) else [str(v) for v in value]


IPAM_DRIVERS = ("host-local", "none")


def create(rt: Runtime, name: Optional[str], driver: str, subnet: Any, gateway: Any,
           ip_range: Any, internal: bool, labels: dict[str, str], ignore: bool = False,
           disable_dns: bool = False, ipv6: bool = False, ipam_driver: Optional[str] = None,
           interface_name: Optional[str] = None, dns_servers: Optional[list[str]] = None) -> dict[str, Any]:
    """Make a network; returns its record. Nothing is started: the bridge appears in the
    rootless network namespace when a container on it starts. subnet, gateway, ip_range: a
    value or a list (network/subnets.plan pairs them); ipv6: an IPv6 subnet too; ipam_driver:
    host-local (the default: podpy gives the addresses) or none (no subnets, no addresses,
    no DNS, as podman's); interface_name: the bridge's name (default podpyN); dns_servers: the
    name servers its containers are given instead of the host's."""
    import ipaddress

    from ..options import valid_name

    if driver != "bridge":
        raise InvalidArgument(f"unsupported network driver {driver!r}: bridge")
    ipam = ipam_driver or "host-local"
    if ipam == "dhcp":
        raise InvalidArgument("--ipam-driver dhcp needs netavark's DHCP proxy service, which podpy does not have: "
                              "use host-local or none")
    if ipam not in IPAM_DRIVERS:
        raise InvalidArgument(f'unsupported ipam driver "{ipam}": host-local or none')
    if ipam == "none" and (_listed(subnet) or ipv6):
        raise InvalidArgument("none ipam driver is set but subnets are given")
    if name is not None and not valid_name(name):
        raise InvalidArgument(f"invalid network name {name!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    if name in RESERVED:
        raise InvalidArgument(f"network name {name} is a network mode: choose another")
    subnets, gateways, ranges = (_listed(v) for v in (subnet, gateway, ip_range))
    if interface_name is not None and not _IFNAME_RE.match(interface_name):
        raise InvalidArgument(f"invalid --interface-name {interface_name!r}: an interface name is 1 to 15 "
                              "letters, digits, '.', '_' or '-'")
    servers = []
    for server in dns_servers or ():
        try:
            servers.append(str(ipaddress.ip_address(server)))
        except ValueError:
            raise InvalidArgument(f"invalid --dns {server!r}: not an IP address") from None
    if (gateways or ranges) and not subnets:
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
        planned = plan_subnets(subnets, gateways, ranges, ipv6, used, UPLINK) if ipam != "none" else []
        taken_if = {n["network_interface"] for n in nets}
        if interface_name is not None and interface_name in taken_if:
            raise InvalidArgument(f"bridge name {interface_name} already in use")
        interface = interface_name or next(f"podpy{i}" for i in range(1, 100000) if f"podpy{i}" not in taken_if)
        now = time.time()
        record = {"name": name, "id": os.urandom(32).hex(), "driver": "bridge", "network_interface": interface,
                  "created": _stamp(now), "subnets": planned, "ipv6_enabled": any(":" in p["subnet"] for p in planned),
                  "internal": internal,
                  "dns_enabled": not disable_dns and ipam != "none", "ipam_options": {"driver": ipam}}
        if labels:
            record["labels"] = labels
        if servers:
            record["network_dns_servers"] = servers
        c.execute("INSERT INTO networks (name, id, created, config) VALUES (?, ?, ?, ?)",
                  (name, record["id"], now, json.dumps(record)))
        from .records import write_network

        write_network(rt.cfg.root, name, record["id"], now, json.dumps(record))
    del conn
    from ..events import emit

    emit(rt.cfg.runroot, "network", "create", record["id"], name)
    return record


def users(rt: Runtime, net: dict[str, Any]) -> list["ContainerRecord"]:
    return [r for r in rt.state.all()
            if r.config.network == "bridge" and any(ep.get("id") == net["id"] for ep in r.config.networks.values())]


def remove(rt: Runtime, name: str, force: bool, timeout: Optional[int] = None) -> str:
    """Remove a network; one with containers only with force, which removes them first (stopped
    with timeout seconds before SIGKILL when given, else killed)."""
    from .removal import remove_container

    reconcile(rt)
    net = lookup(rt, name)
    if net["name"] == DEFAULT_BRIDGE:
        raise InvalidArgument(f"default network {DEFAULT_BRIDGE} cannot be removed")
    using = users(rt, net)
    if using and not force:
        raise NetworkInUse(f"\"{net['name']}\" has associated containers with it. "
                           "Use -f to forcibly delete containers and pods: network is being used")
    for rec in using:
        remove_container(rt, rec, force=True, timeout=timeout)
    with rt.db.write() as c:
        c.execute("DELETE FROM networks WHERE id=?", (net["id"],))
        c.execute("DELETE FROM network_addresses WHERE network=?", (net["id"],))
        from .records import network_path

        try:
            os.unlink(network_path(rt.cfg.root, net["name"]))
        except FileNotFoundError:
            pass
    from ..events import emit

    emit(rt.cfg.runroot, "network", "remove", net["id"], net["name"])
    return str(net["name"])


def prune(rt: Runtime, filters: Optional[PruneFilters] = None) -> list[str]:
    """The networks no container is on (never the default one), those filters match."""
    from ..formats import parse_rfc3339

    reconcile(rt)
    used = {ep.get("id") for r in rt.state.all() for ep in r.config.networks.values()}
    return [remove(rt, n["name"], False) for n in all_networks(rt)
            if n["name"] != DEFAULT_BRIDGE and n["id"] not in used
            and (filters is None or filters.matches(n.get("labels"), parse_rfc3339(str(n.get("created", "")))))]


def connect(rt: Runtime, container: str, network: str, aliases: list[str], ip: Optional[str],
            mac: Optional[str], ip6: Optional[str] = None) -> None:
    """Add a user network to a container (that is on user networks); a running one gets its
    interface at once."""
    from ..state import INITIALIZED, PAUSED, RUNNING

    reconcile(rt)
    rec = rt.state.lookup(container)
    if rec.config.network != "bridge":
        raise InvalidArgument(f"container {rec.name} uses network mode {rec.config.network.partition(':')[0]}: "
                              "only a container on user networks can be connected to another")
    eps = check_attach(rt, {network: {"aliases": []}}, aliases, ip, mac, ip6)
    name = next(iter(eps))
    if name in rec.config.networks:
        raise InvalidState(f"container {rec.name} is already connected to network {name}")
    for ep in eps.values():
        ep["ifname"] = next(f"eth{i}" for i in range(1000)
                            if f"eth{i}" not in {e.get("ifname") for e in rec.config.networks.values()})
    allocate_addresses(rt, rec.id, eps)
    if rec.state in (RUNNING, PAUSED, INITIALIZED) and rec.pid:
        from rootless.network.holder_client import attach

        try:
            attach(rt.cfg.runroot, rec.pid, {"id": rec.id, "networks": [
                _endpoint_request(rt, rec, name, eps[name], route=False)]})
        except Exception:
            release_addresses(rt, rec.id, eps[name]["id"])
            raise
    rec.config.networks[name] = eps[name]
    from .container import Container

    Container(rt, rec).save_config()
    if rec.state in (RUNNING, PAUSED, INITIALIZED):
        _refresh_hosts(rt, rec)


def disconnect(rt: Runtime, container: str, network: str, force: bool) -> None:
    from ..state import INITIALIZED, PAUSED, RUNNING

    reconcile(rt)
    rec = rt.state.lookup(container)
    net = lookup(rt, network)
    if net["name"] not in rec.config.networks:
        raise InvalidState(f"container {rec.name} is not connected to network {net['name']}")
    if rec.state in (RUNNING, PAUSED, INITIALIZED) and rec.pid:
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
    from .container import Container

    Container(rt, rec).save_config()
    release_addresses(rt, rec.id, net["id"])
    if rec.state in (RUNNING, PAUSED, INITIALIZED):
        _refresh_hosts(rt, rec)


NOT_CONFIGURED = "cannot reload network unless container network has been configured: container state improper"


def reload(rt: Runtime, names: list[str], all_: bool, latest: bool) -> list[Report]:
    """`network reload`: each running container on user networks gets its interfaces made again
    in the rootless network namespace (the same addresses, MAC addresses and names), as a
    restart would make them. One report per container, its full id or its error; with all_,
    the containers that are not running or not on user networks are passed over, as podman
    passes them over."""
    from ..state import INITIALIZED, PAUSED, RUNNING
    from .listing import latest as latest_container

    reconcile(rt)
    if (all_ or latest) and names:
        raise InvalidArgument("--all, --latest and containers cannot be used together")
    if not (all_ or latest or names):
        raise InvalidArgument("you must provide at least one name or id")
    if all_:
        recs = [(r.id, r) for r in rt.state.all()]
    elif latest:
        found = latest_container(rt)
        recs = [(found.id, found)]
    else:
        recs = []
        for name in names:
            try:
                recs.append((name, rt.state.lookup(name)))
            except PodpyError as exc:
                recs.append((name, exc))
    reports = []
    for name, rec in recs:
        if isinstance(rec, PodpyError):
            reports.append(Report(name, error=rec))
            continue
        mode = rec.config.network.partition(":")[0]
        if rec.state not in (RUNNING, PAUSED, INITIALIZED) or not rec.pid:
            error: Optional[PodpyError] = InvalidState(NOT_CONFIGURED)
        elif mode != "bridge":
            error = InvalidArgument(f'"{mode}" is not supported: invalid network mode')
        else:
            try:
                _reattach(rt, rec)
                error = None
            except PodpyError as exc:
                error = exc
        if error is not None and all_:
            continue
        reports.append(Report(rec.id, rec.id if error is None else None, error=error))
    return reports


def _reattach(rt: Runtime, rec: "ContainerRecord") -> None:
    """The container's interfaces taken off and made again with the endpoints it has."""
    from rootless.network.holder_client import attach, request

    requests = []
    routed = False
    for name, ep in rec.config.networks.items():
        req = _endpoint_request(rt, rec, name, ep, route=not routed)
        routed = routed or req["route_via"] is not None
        requests.append(req)
    try:
        for req in requests:
            request(rt.cfg.runroot, "detach", id=rec.id, network=req["name"])
        attach(rt.cfg.runroot, rec.pid, {"id": rec.id, "networks": requests})
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        from ..errors import translate

        raise translate(exc) from exc


def _refresh_hosts(rt: Runtime, rec: "ContainerRecord") -> None:
    """A running container's /etc/hosts after connect or disconnect, with its addresses on the
    networks it is on now (as podman updates it). Written in place: the container has this
    very file bind-mounted, a new one would not reach it."""
    from ..network import files as netfiles, options as netopts
    from ..network.start import addresses

    path = os.path.join(rt.container_run_dir(rec.id), "hosts")
    ips, _ = addresses(rec)
    ips += [str(n["ip6"]) for n in rec.config.networks.values() if n.get("ip6")]   # IPv6 after, as podman
    conf = rt.cfg.container_defaults
    content = netfiles.hosts(rec.config.hostname or rec.id[:12], rec.name, rec.config.add_hosts,
                             netfiles.EtcNet(ips, netopts.host_address(), []),
                             conf.base_hosts_file, conf.host_containers_internal_ip)
    try:
        with open(path, "r+") as f:
            f.write(content)
            f.truncate()
    except OSError:
        pass   # not started with one (a user-given /etc/hosts), or its run directory is gone


def _matches(filters: list[str]) -> Callable[[dict[str, Any]], bool]:
    """`network ls --filter`: name=PART, id=PREFIX, driver=NAME, label=KEY[=VALUE], all of them."""
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for f in filters:
        key, _, value = f.partition("=")
        if key == "name":
            tests.append(lambda n, value=value: value in n["name"])
        elif key == "id":
            tests.append(lambda n, value=value: n["id"].startswith(value))
        elif key == "driver":
            tests.append(lambda n, value=value: n["driver"] == value)
        elif key == "label":
            k, eq, lv = value.partition("=")
            tests.append(lambda n, k=k, eq=eq, lv=lv: k in (n.get("labels") or {})
                         and (not eq or n["labels"][k] == lv))
        else:
            raise InvalidArgument(f"invalid filter {f!r}: use name=, id=, driver= or label=")
    return lambda n: all(t(n) for t in tests)


class NetworkEngine:
    """The network verbs over one store (a Runtime: configuration, database, store)."""

    def __init__(self, rt: Runtime, warn: Callable[[str], None]) -> None:
        self.rt = rt
        self.warn = warn   # one line for the user, not an error

    def create(self, opts: NetworkCreateOptions) -> dict[str, Any]:
        """`network create`: the new network's record (an existing one's with opts.ignore)."""
        if opts.options:
            raise InvalidArgument(f"unsupported network options: {', '.join(opts.options)}")
        return create(self.rt, opts.name, opts.driver, opts.subnet, opts.gateway, opts.ip_range, opts.internal,
                      dict(opts.labels), ignore=opts.ignore, disable_dns=opts.disable_dns, ipv6=opts.ipv6,
                      ipam_driver=opts.ipam_driver, interface_name=opts.interface_name, dns_servers=list(opts.dns))

    def ls(self, filters: list[str]) -> list[NetworkSummary]:
        """`network ls`: the networks that pass every filter (the default one first), each
        with the number of containers on it."""
        wanted = _matches(filters)
        return [NetworkSummary(n, len(users(self.rt, n))) for n in all_networks(self.rt) if wanted(n)]

    def inspect(self, names: list[str]) -> list[Report]:
        """`network inspect`: one report per name, its record or its error."""
        return each(names, lambda n: lookup(self.rt, n))

    def rm(self, names: list[str], force: bool = False, timeout: Optional[int] = None) -> list[Report]:
        """`network rm`: one report per network; one with containers only with force, which
        removes them first (stopping them with timeout seconds before SIGKILL when given);
        never the default network."""
        if timeout is not None and not force:
            raise InvalidArgument("--force option must be specified to use the --time option")
        reports = []
        for name in names:
            rep = each([name], lambda n: remove(self.rt, n, force, timeout))[0]
            if isinstance(rep.error, NetworkInUse):
                raise rep.error   # podman's: the whole command stops there, exit 2
            if force and isinstance(rep.error, NoSuchNetwork):
                continue   # -f: nothing to say about a network that is not there
            reports.append(rep)
        return reports

    def prune(self, filters: Optional[list[str]] = None) -> list[str]:
        """`network prune`: the names of the networks removed, those no container is on (never
        the default one) and that filters (until, label, label!) match."""
        from .entities import PruneFilters

        return prune(self.rt, PruneFilters.parse(list(filters or [])))

    def connect(self, container: str, network: str, aliases: Optional[list[str]] = None,
                ip: Optional[str] = None, mac: Optional[str] = None, ip6: Optional[str] = None) -> None:
        """`network connect`: the container (on user networks) joins one more, at once if it runs."""
        connect(self.rt, container, network, list(aliases or []), ip, mac, ip6)

    def disconnect(self, container: str, network: str, force: bool = False) -> None:
        """`network disconnect`: the container leaves the network (its last one too, as in podman:
        it then has its loopback only)."""
        disconnect(self.rt, container, network, force)

    def reload(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        """`network reload`: the interfaces of running containers on user networks made again."""
        return reload(self.rt, names, all_, latest)

    def exists(self, name: str) -> bool:
        from ..errors import NoSuchNetwork

        try:
            lookup(self.rt, name)
            return True
        except NoSuchNetwork:
            return False
