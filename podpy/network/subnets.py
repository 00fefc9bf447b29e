"""A user network's subnets: the ones `network create` is given, checked, and the ones it
picks itself (IPv4 from podman's 10.89.N.0/24 pool, IPv6 a random unique local /64 as
podman's picks), in podman's order; and, for a network record, its subnet of each family."""

from __future__ import annotations

import ipaddress
import os

from ..errors import InvalidArgument, PodpyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    Net = ipaddress.IPv4Network | ipaddress.IPv6Network

AUTO_POOL = "10.89.{}.0/24"     # podman's default pool for new networks


def of(net: dict[str, Any], version: int) -> Optional[dict[str, Any]]:
    """The network's subnet (its record's dict) of IP version 4 or 6; None when it has none."""
    for sub in net.get("subnets") or []:
        if ipaddress.ip_network(sub["subnet"], strict=False).version == version:
            return sub
    return None


def random_ula(randbytes: Callable[[int], bytes] = os.urandom) -> ipaddress.IPv6Network:
    """A random unique local /64 (fdXX:XXXX:XXXX:XXXX::/64), as podman picks for --ipv6."""
    raw = bytearray(randbytes(8))
    raw[0] = 0xFD
    return ipaddress.IPv6Network((bytes(raw) + bytes(8), 64))


def plan(subnets: list[str], gateways: list[str], ranges: list[str], ipv6: bool, used: list[Net],
         uplink: str, randbytes: Callable[[int], bytes] = os.urandom) -> list[dict[str, Any]]:
    """The subnets of a new network, as podman makes them: those given (each --gateway and
    --ip-range goes with the --subnet in its place), then with --ipv6 the family missing (an
    IPv4 subnet from the pool, a random ULA /64); none given: one from the pool (and a /64
    with --ipv6). A network with only an IPv6 subnet is refused (podpy's containers need an
    IPv4 address on each network). used: the subnets of the other networks."""
    if len(gateways) > len(subnets) or len(ranges) > len(subnets):
        raise InvalidArgument("--gateway and --ip-range need a --subnet each")
    out: list[dict[str, Any]] = []
    taken = list(used)
    for i, given in enumerate(subnets):
        try:
            net = ipaddress.ip_network(given, strict=False)
        except ValueError as exc:
            raise InvalidArgument(f"invalid --subnet {given!r}: {exc}") from None
        if any(ipaddress.ip_network(s["subnet"]).version == net.version for s in out):
            raise InvalidArgument(f"--subnet {given}: only one subnet of each IP version per network")
        if net.prefixlen > (30 if net.version == 4 else 126):
            raise InvalidArgument(f"invalid --subnet {given!r}: too small (at most /{30 if net.version == 4 else 126})")
        clash = next((u for u in taken if u.version == net.version and u.overlaps(net)), None)  # type: ignore[arg-type]
        if clash is not None:
            what = "the rootless network namespace's uplink" if str(clash) == uplink else "another network"
            raise InvalidArgument(f"subnet {net} overlaps {clash}, used by {what}")
        taken.append(net)
        out.append(_subnet(net, gateways[i] if i < len(gateways) else None,
                           ranges[i] if i < len(ranges) else None))
    versions = {ipaddress.ip_network(s["subnet"]).version for s in out}
    if 4 not in versions:
        if out and not ipv6:
            raise InvalidArgument("an IPv6-only network is not available: give --ipv6 too, for an IPv4 subnet "
                                  "alongside")
        out.append(_subnet(_free_v4(taken), None, None))
    if 6 in versions:
        ipv6 = True   # an IPv6 subnet enables IPv6, as in podman
    if ipv6 and 6 not in versions:
        while True:
            ula = random_ula(randbytes)
            if not any(u.version == 6 and u.overlaps(ula) for u in taken):  # type: ignore[arg-type]
                break
        out.append(_subnet(ula, None, None))
    return out


def _free_v4(taken: list[Net]) -> ipaddress.IPv4Network:
    for i in range(256):
        cand = ipaddress.IPv4Network(AUTO_POOL.format(i))
        if not any(u.version == 4 and u.overlaps(cand) for u in taken):  # type: ignore[arg-type]
            return cand
    raise PodpyError("no free subnet left in 10.89.0.0/16: give one with --subnet")


def _subnet(net: Net, gateway: Optional[str], ip_range: Optional[str]) -> dict[str, Any]:
    if gateway:
        try:
            gw = ipaddress.ip_address(gateway)
        except ValueError as exc:
            raise InvalidArgument(f"invalid --gateway {gateway!r}: {exc}") from None
        if gw not in net or gw in (net.network_address, net.broadcast_address if net.version == 4 else None):
            raise InvalidArgument(f"gateway {gw} is not a host address of subnet {net}")
    else:
        gw = net.network_address + 1
    sub: dict[str, Any] = {"subnet": str(net), "gateway": str(gw)}
    if ip_range:
        try:
            pool = ipaddress.ip_network(ip_range, strict=False)
        except ValueError as exc:
            raise InvalidArgument(f"invalid --ip-range {ip_range!r}: {exc}") from None
        if pool.version != net.version or not pool.subnet_of(net):  # type: ignore[arg-type]
            raise InvalidArgument(f"--ip-range {pool} is not inside subnet {net}")
        sub["lease_range"] = {"start_ip": str(pool.network_address + 1 if pool.prefixlen < pool.max_prefixlen - 1
                                              else pool.network_address),
                              "end_ip": str(pool.broadcast_address)}
    return sub


def host_range(sub: dict[str, Any]) -> tuple[Any, Any]:
    """The first and last address a container may get in a subnet (its lease range's, else all
    but the network's own address and, for IPv4, its broadcast address)."""
    network = ipaddress.ip_network(sub["subnet"])
    top = network.broadcast_address - 1 if network.version == 4 else network.broadcast_address
    lease = sub.get("lease_range")
    lo = ipaddress.ip_address(lease["start_ip"]) if lease else network.network_address + 1
    hi = ipaddress.ip_address(lease["end_ip"]) if lease else top
    return lo, min(hi, top)
