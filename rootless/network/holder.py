"""The holder of the rootless network namespace: one process per user (per runtime
directory) while containers on user networks run, like rootless podman's pause process
and its rootless-netns together.

It is root in a user namespace of its own (the user's usual mapping) and sits in a
network namespace of its own, whose way out is slirp4netns (tap0, 10.0.2.100, default
route via 10.0.2.2). Containers on user networks join that user namespace instead of
making one (so their network namespaces belong to it, and the holder may move a veth
into them); each network is a bridge here with the network's gateway address, each
container a veth on it. Forwarding is on and tap0 answers ARP for the containers'
addresses (proxy ARP), so slirp4netns's replies reach them without NAT; an internal
network's bridge does not forward at all.

Per network with DNS, a responder (dns.py) on the gateway's port 53, UDP and TCP
(dnstcp.py), answers the names of the network's containers and forwards other queries to
slirp4netns's resolver (10.0.2.3).

It watches each container's init through a pidfd: when the init exits, its names are
dropped (its veth goes with its namespace). A second after the last container and
client, it leaves: the namespaces, bridges and slirp4netns go with it.

pyroute2 (with asyncio, some 20 MB) is not loaded here: links, addresses and routes are
set by a worker, a fork of the holder made when there is work and gone five seconds after
the last request (bridge.py), so the holder itself stays at the size of a small Python.

Requests (rootless.sync messages on netns.sock): hello -> {pid, userns}; attach {pid, id,
networks: [...]} with the container's netns fd -> ok; detach {id, network} -> ok.
"""

from __future__ import annotations

import _signal
import _socket
import fcntl
import os
import sys
import time

from .. import syscalls
from ..sync import Channel, Service
from . import dns
from .holder_client import LOCK, SOCKET

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

IDLE_EXIT = 1.0
UPSTREAM = ("10.0.2.3", 53)
FORWARD_TIMEOUT = 5.0


def main() -> None:
    runroot, chan_fd, rootless = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    chan = Channel(_socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, chan_fd))
    os.set_inheritable(chan_fd, False)
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)
    try:
        sc = syscalls.default()
        sc.unshare((syscalls.CLONE_NEWUSER if rootless else 0) | syscalls.CLONE_NEWNET)
        chan.send("unshared")
        _msg, fds = chan.expect("go")
        uplink_exit = fds[0] if fds else -1    # held until we exit: slirp4netns ends with us
        if rootless:
            sc.setresgid(0, 0, 0)
            sc.setresuid(0, 0, 0)
        lock = os.open(os.path.join(runroot, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            chan.send("ready", exists=True)   # another holder serves this runtime directory
            os._exit(0)
        holder = Holder(runroot, uplink_exit)
        os.ftruncate(lock, 0)
        os.pwrite(lock, f"{os.getpid()}\n".encode(), 0)
        chan.send("ready")
        chan.close()
    except BaseException as exc:  # noqa: BLE001
        chan.report(exc)
        _log(f"starting failed: {type(exc).__name__}: {exc}")
        os._exit(1)
    try:
        holder.serve()
    except BaseException as exc:  # noqa: BLE001
        _log(f"failed: {type(exc).__name__}: {exc}")
        holder.leave()
        os._exit(1)
    os._exit(0)


def _log(text: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} netns holder {os.getpid()}: {text}\n")
    sys.stderr.flush()


class Network:
    """One user network as set up here."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = spec["name"]
        self.bridge = spec["bridge"]
        self.gateway = spec["gateway"]
        self.prefix = int(spec["prefix"])
        self.gateway6 = spec.get("gateway6")   # with IPv6 (network create --ipv6)
        self.prefix6 = int(spec.get("prefix6") or 0)
        self.internal = bool(spec.get("internal"))
        self.records = dns.Records()
        self.dns_sock: Optional[_socket.socket] = None
        self.dns_tcp: Any = None

    def respond(self, data: bytes) -> Optional[bytes]:
        return self.records.respond(data, self.internal)


class WorkerError(Exception):
    pass


class Worker:
    """The pyroute2 worker, forked when there is work, gone when idle (bridge.serve)."""

    def __init__(self) -> None:
        self.chan: Optional[Channel] = None
        self.pid = 0

    def call(self, kind: str, fds: Optional[list[int]] = None, **fields: Any) -> None:
        for _attempt in range(3):
            if self.chan is None:
                self._spawn()
            assert self.chan is not None
            try:
                self.chan.send(kind, fds=fds, **fields)
                msg, _ = self.chan.recv()
            except OSError:
                msg = None
            if msg is None:   # it left, idle, as we asked: a new one
                self._drop()
                continue
            if msg.get("type") == "error":
                raise WorkerError(str(msg.get("message")))
            return
        raise WorkerError("the network worker keeps failing")

    def _spawn(self) -> None:
        here, there = Channel.pair()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.closerange(3, there.fileno())
                os.closerange(there.fileno() + 1, 1 << 16)
                _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
                from .bridge import serve

                serve(there)
                code = 0
            except BaseException as exc:  # noqa: BLE001
                _log(f"network worker failed: {type(exc).__name__}: {exc}")
            finally:
                os._exit(code)
        there.close()
        self.chan, self.pid = here, pid

    def _drop(self) -> None:
        if self.chan is not None:
            self.chan.close()
        self.chan = None
        self.reap(block=True)

    def reap(self, block: bool = False) -> None:
        if self.pid:
            try:
                done, _ = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                done = self.pid
            if done:
                self.pid = 0
                if self.chan is not None and not block:
                    self.chan.close()
                    self.chan = None


def _setup_namespace() -> None:
    """Loopback up, forwarding on (the bridges reach the uplink), and proxy ARP on the uplink
    so that slirp4netns's replies to the containers' addresses find their way."""
    sc = syscalls.default()
    sc.interface_up("lo")
    for name in ("net/ipv4/ip_forward", "net/ipv4/conf/tap0/proxy_arp"):
        if os.path.exists("/proc/sys/" + name):
            sc.sysctl(name, "1")


class Holder(Service):
    def __init__(self, runroot: str, uplink_exit: int) -> None:
        self.uplink_exit = uplink_exit
        _setup_namespace()
        self.worker = Worker()
        super().__init__(runroot, SOCKET, 64)
        self.networks: dict[str, Network] = {}
        self.containers: dict[str, dict[str, Any]] = {}    # id -> pidfd, networks: name -> veth
        self.forwards: dict[int, tuple[_socket.socket, Network, Any, float]] = {}
        _signal.signal(_signal.SIGTERM, lambda *_: self._terminate())
        self.stopping = False

    def _terminate(self) -> None:
        self.stopping = True

    # -- loop ----------------------------------------------------------------------------

    def serve(self) -> None:
        idle_since = time.monotonic()
        while not self.stopping:
            now = time.monotonic()
            if self.containers or self.clients:
                idle_since = now
            elif now - idle_since >= IDLE_EXIT:
                break
            self.dispatch(250)
            now = time.monotonic()
            self._expire_forwards(now)
            for net in self.networks.values():
                if net.dns_tcp is not None:
                    net.dns_tcp.expire(now)
            self.worker.reap()
        self.leave()

    # -- clients -------------------------------------------------------------------------

    def _request(self, chan: Channel) -> None:
        try:
            msg, fds = chan.recv()
        except OSError:
            msg, fds = None, []
        if msg is None:
            self.unwatch(chan.fileno())
            chan.close()
            self.clients -= 1
            for fd in fds:
                os.close(fd)
            return
        kind = msg.get("type")
        try:
            if kind == "hello":
                chan.send("hello", pid=os.getpid(), userns=f"/proc/{os.getpid()}/ns/user")
            elif kind == "attach":
                self._attach(msg, fds[0] if fds else -1)
                chan.send("ok")
            elif kind == "detach":
                self._detach(str(msg["id"]), str(msg["network"]))
                chan.send("ok")
            else:
                chan.send("error", message=f"unknown request {kind!r}")
        except Exception as exc:  # noqa: BLE001 - one line back to the client
            _log(f"{kind}: {type(exc).__name__}: {exc}")
            try:
                chan.send("error", message=_describe(exc))
            except OSError:
                pass
        finally:
            for fd in fds:
                os.close(fd)

    # -- containers ----------------------------------------------------------------------

    def _network(self, spec: dict[str, Any]) -> Network:
        # A network removed and another made since may reuse a bridge or a gateway address:
        # whatever no container uses any more goes first.
        for other in list(self.networks.values()):
            if other.name != spec["name"] and not other.records and (
                    other.bridge == spec["bridge"] or (spec["gateway"] and other.gateway == spec["gateway"])):
                self._forget_network(other)
        net = self.networks.get(spec["name"])
        if net is None or (net.bridge, net.gateway, net.prefix, net.internal, net.gateway6, net.prefix6) != (
                spec["bridge"], spec["gateway"], int(spec["prefix"]), bool(spec.get("internal")),
                spec.get("gateway6"), int(spec.get("prefix6") or 0)):
            if net is not None:
                self._close_dns(net)
            old = net
            net = Network(spec)
            if old is not None:
                net.records = old.records
            self.networks[net.name] = net
        self.worker.call("bridge", name=net.bridge, gateway=net.gateway, prefix=net.prefix, internal=net.internal,
                         gateway6=net.gateway6, prefix6=net.prefix6)
        if spec.get("dns", True) and net.gateway and net.dns_sock is None:
            sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK)
            try:
                sock.bind((net.gateway, 53))
            except OSError:
                sock.close()
                raise
            net.dns_sock = sock
            self.watch(net.dns_sock.fileno(), lambda fd, net=net: self._query(net))
            from .dnstcp import TcpDns

            try:
                net.dns_tcp = TcpDns(self, (net.gateway, 53), net.respond, None if net.internal else UPSTREAM)
            except OSError:
                self._close_dns(net)
                raise
        return net

    def _close_dns(self, net: Network) -> None:
        if net.dns_sock is not None:
            self.unwatch(net.dns_sock.fileno())
            net.dns_sock.close()
            net.dns_sock = None
        if net.dns_tcp is not None:
            net.dns_tcp.close()
            net.dns_tcp = None

    def _attach(self, msg: dict[str, Any], netns_fd: int) -> None:
        if netns_fd < 0:
            raise ValueError("no network namespace was sent")
        cid = str(msg["id"])
        ctr = self.containers.get(cid)
        if ctr is None:
            pidfd = os.pidfd_open(int(msg["pid"]))
            ctr = self.containers[cid] = {"pidfd": pidfd, "networks": {}}
            self.watch(pidfd, lambda fd, cid=cid: self._exited(cid))
        done = []
        try:
            for spec in msg["networks"]:
                net = self._network(spec)
                veth = f"veth{os.urandom(4).hex()}"
                self.worker.call("attach", fds=[netns_fd], bridge=net.bridge, host_ifname=veth,
                                 ifname=spec["ifname"], ip=spec["ip"], prefix=net.prefix, mac=spec["mac"],
                                 gateway=spec.get("route_via"), ip6=spec.get("ip6"), prefix6=net.prefix6,
                                 gateway6=spec.get("route6_via"))
                ctr["networks"][net.name] = veth
                done.append(net.name)
                if spec["ip"]:   # (none on a network without addresses)
                    net.records.add(cid, list(spec.get("names") or []), spec["ip"], spec.get("ip6"))
        except BaseException:
            for name in done:
                self._detach(cid, name)
            if not ctr["networks"]:
                self._forget(cid)
            raise

    def _forget_network(self, net: Network) -> None:
        self._close_dns(net)
        self.networks.pop(net.name, None)

    def _detach(self, cid: str, network: str) -> None:
        ctr = self.containers.get(cid)
        if ctr is None:
            return
        veth = ctr["networks"].pop(network, None)
        if veth:
            self.worker.call("detach", host_ifname=veth)
        net = self.networks.get(network)
        if net is not None:
            net.records.remove(cid)

    def _exited(self, cid: str) -> None:
        ctr = self.containers.get(cid)
        if ctr is None:
            return
        for name in list(ctr["networks"]):
            net = self.networks.get(name)
            if net is not None:
                net.records.remove(cid)
        self._forget(cid)

    def _forget(self, cid: str) -> None:
        ctr = self.containers.pop(cid, None)
        if ctr is not None:
            self.unwatch(ctr["pidfd"])
            os.close(ctr["pidfd"])

    # -- DNS -----------------------------------------------------------------------------

    def _query(self, net: Network) -> None:
        assert net.dns_sock is not None
        while True:
            try:
                data, client = net.dns_sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            reply = net.respond(data)
            if reply is None:
                self._forward(net, data, client)
                continue
            if not reply:
                continue
            try:
                net.dns_sock.sendto(reply, client)
            except OSError:
                pass

    def _forward(self, net: Network, data: bytes, client: Any) -> None:
        up = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC | _socket.SOCK_NONBLOCK)
        try:
            up.connect(UPSTREAM)
            up.send(data)
        except OSError:
            up.close()
            return
        self.forwards[up.fileno()] = (up, net, client, time.monotonic() + FORWARD_TIMEOUT)
        self.watch(up.fileno(), self._forwarded)

    def _forwarded(self, fd: int) -> None:
        up, net, client, _ = self.forwards.pop(fd)
        self.unwatch(fd)
        try:
            data = up.recv(65536)
            if net.dns_sock is not None:
                net.dns_sock.sendto(data, client)
        except OSError:
            pass
        finally:
            up.close()

    def _expire_forwards(self, now: float) -> None:
        for fd, (up, _net, _client, deadline) in list(self.forwards.items()):
            if now > deadline:
                del self.forwards[fd]
                self.unwatch(fd)
                up.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"setting up the container's network: {exc.strerror}"
    return f"setting up the container's network: {exc}"


if __name__ == "__main__":
    main()
