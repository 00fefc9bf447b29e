"""Bridges and veths in the rootless network namespace, with pyroute2.

Runs in the holder's worker (holder.py), a fork of the holder: root in the user namespace
that owns both the rootless network namespace and the network namespaces of the
containers on user networks, so it has CAP_NET_ADMIN over each and may create a veth pair
and move one end into a container's namespace. The container's end is configured through
a netlink socket made inside that namespace (setns there and back: the worker is
single-threaded), so no process is started for it.
"""

from __future__ import annotations

import _socket
import os

from .. import syscalls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

NETLINK_ROUTE = 0
IFA_F_NODAD = 0x02   # an IPv6 address without duplicate address detection (usable at once)
IDLE = 5.0      # seconds without a request before the worker leaves (and pyroute2's memory with it)


def _ipr(fileno: Optional[int] = None) -> Any:
    from pyroute2 import IPRoute

    return IPRoute(fileno=fileno) if fileno is not None else IPRoute()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def serve(chan: Any) -> None:
    """The worker's loop: one request at a time from the holder (rootless.sync messages),
    until the holder closes the channel or nothing comes for IDLE seconds."""
    import select

    bridges = Bridges()
    while True:
        ready, _, _ = select.select([chan.fileno()], [], [], IDLE)
        if not ready:
            return
        msg, fds = chan.recv()
        if msg is None:
            return
        try:
            kind = msg.get("type")
            if kind == "bridge":
                bridges.ensure_bridge(msg["name"], msg["gateway"], int(msg["prefix"]), bool(msg["internal"]),
                                      msg.get("gateway6"), int(msg.get("prefix6") or 0))
            elif kind == "attach":
                bridges.attach(fds[0], msg["bridge"], msg["host_ifname"], msg["ifname"], msg["ip"],
                               int(msg["prefix"]), msg["mac"], msg.get("gateway"),
                               ip6=msg.get("ip6"), prefix6=int(msg.get("prefix6") or 0),
                               gateway6=msg.get("gateway6"))
            elif kind == "detach":
                bridges.detach(msg["host_ifname"])
            chan.send("ok")
        except Exception as exc:  # noqa: BLE001 - back to the holder as one line
            chan.send("error", message=str(exc) if not isinstance(exc, OSError) or not exc.strerror
                      else exc.strerror)
        finally:
            for fd in fds:
                os.close(fd)


class Bridges:
    """Bridges and container ends in the rootless network namespace."""

    def __init__(self) -> None:
        self.ipr = _ipr()
        self.own_netns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.sc = syscalls.default()

    def ensure_bridge(self, name: str, gateway: Optional[str], prefix: int, internal: bool,
                      gateway6: Optional[str] = None, prefix6: int = 0) -> int:
        """The bridge for a network, made or brought to the network's settings (its IPv4
        gateway address, and its IPv6 one when it has IPv6); its index."""
        found = self.ipr.link_lookup(ifname=name)
        if found:
            index = found[0]
        else:
            self.ipr.link("add", ifname=name, kind="bridge")
            index = self.ipr.link_lookup(ifname=name)[0]
        if gateway6:
            # before any address: a bridge made with IPv6 off would refuse one
            _write(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "0")
        # (no gateway: a network without addresses, --ipam-driver none)
        for family, want in ((2, {(gateway, prefix)} if gateway else set()),
                             (10, {(gateway6, prefix6)} if gateway6 else set())):
            have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in self.ipr.get_addr(index=index, family=family)
                    if family == 2 or a["scope"] == 0}   # IPv6: not the link-local address
            if have != want:
                for addr, plen in have:
                    self.ipr.addr("del", index=index, address=addr, prefixlen=plen)
                for addr, plen in want:
                    # no duplicate address detection: the address is usable at once
                    self.ipr.addr("add", index=index, address=addr, prefixlen=plen,
                                  **({"flags": IFA_F_NODAD} if family == 10 else {}))
        # An internal network's packets are not routed anywhere: no forwarding from its bridge.
        _write(f"/proc/sys/net/ipv4/conf/{name}/forwarding", "0" if internal else "1")
        if gateway6:
            _write(f"/proc/sys/net/ipv6/conf/{name}/forwarding", "0" if internal else "1")
        self.ipr.link("set", index=index, state="up")
        return index

    def attach(self, netns_fd: int, bridge: str, host_ifname: str, ifname: str, ip: Optional[str], prefix: int,
               mac: str, gateway: Optional[str], mtu: int = 1500, ip6: Optional[str] = None, prefix6: int = 0,
               gateway6: Optional[str] = None) -> None:
        """A veth pair: host_ifname on the bridge here, ifname with ip/prefix (and ip6/prefix6)
        and mac in the container's namespace, and a default route via gateway (None: no route
        out), and one via gateway6 for IPv6. ip None: the interface has no address."""
        br = self.ipr.link_lookup(ifname=bridge)[0]
        stale = self.ipr.link_lookup(ifname=host_ifname)
        if stale:
            self.ipr.link("del", index=stale[0])
        tmp = f"pp{os.urandom(5).hex()}"
        self.ipr.link("add", ifname=host_ifname, kind="veth", mtu=mtu,
                      peer={"ifname": tmp, "net_ns_fd": netns_fd, "mtu": mtu})
        try:
            host = self.ipr.link_lookup(ifname=host_ifname)[0]
            self.ipr.link("set", index=host, master=br, state="up")
            ipr = self._ipr_in(netns_fd)
            try:
                idx = ipr.link_lookup(ifname=tmp)[0]
                ipr.link("set", index=idx, ifname=ifname, address=mac)
                if ip:   # none on a network without addresses
                    ipr.addr("add", index=idx, address=ip, prefixlen=prefix)
                if ip6:
                    ipr.addr("add", index=idx, address=ip6, prefixlen=prefix6, flags=IFA_F_NODAD)
                ipr.link("set", index=idx, state="up")
                lo = ipr.link_lookup(ifname="lo")
                if lo:
                    ipr.link("set", index=lo[0], state="up")
                if gateway:
                    ipr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=idx)
                if ip6 and gateway6:
                    ipr.route("add", dst="::/0", gateway=gateway6, oif=idx, family=10)
            finally:
                ipr.close()
        except BaseException:
            for index in self.ipr.link_lookup(ifname=host_ifname):
                self.ipr.link("del", index=index)
            raise

    def detach(self, host_ifname: str) -> None:
        """Remove a container's veth (both ends go)."""
        for index in self.ipr.link_lookup(ifname=host_ifname):
            try:
                self.ipr.link("del", index=index)
            except Exception:  # noqa: BLE001 - gone with its namespace meanwhile
                pass

    def _ipr_in(self, netns_fd: int) -> Any:
        """pyroute2 over a netlink socket that belongs to the container's namespace."""
        self.sc.setns(netns_fd, syscalls.CLONE_NEWNET, "the container's network namespace")
        try:
            # datagram rather than raw (the same to netlink): pyroute2's asyncio transport wants one
            sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        finally:
            self.sc.setns(self.own_netns, syscalls.CLONE_NEWNET, "the rootless network namespace")
        try:
            ipr = _ipr(sock.fileno())
        except BaseException:
            sock.close()
            raise
        sock.detach()   # pyroute2 owns the fd now
        return ipr
