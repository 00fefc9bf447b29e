"""The network side of starting a container, from before its launch to its end.

Before the launch: the facts for /etc/hosts and /etc/resolv.conf, the namespaces to join
(--network container:NAME and ns:PATH join the user namespace that owns the network
namespace, as setns(2) requires), and the host ports, bound now so that a port in use fails
the start with nothing made. Between the init's pid and its "go" (rootless.network.setup):
pasta, the user networks, and a foreground container's socket helper for published ports.
After the launch: the forwarder, in this process for a foreground container; a detached
one's forwarder and socket helper are the monitor's.
"""

from __future__ import annotations

import os

from . import options as netopts
from ..errors import InvalidArgument, InvalidState
from .files import EtcNet, host_nameservers
from ..state import INITIALIZED, PAUSED, RUNNING, ContainerRecord
from ..engine.context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional


class NetStart:
    """One start of one container."""

    def __init__(self, rt: Runtime, rec: ContainerRecord) -> None:
        self.rt = rt
        self.rec = rec
        cfg = rec.config
        self.mode = cfg.network
        self.opts = dict(cfg.network_options)
        self.ports = [dict(p) for p in cfg.ports]
        self.listeners: list[Any] = []
        self.plan: dict[str, Any] = {}
        self.slirp: Any = None
        self.target: Optional[str] = None
        self.userns_path: Optional[str] = None
        self.netns_path: Optional[str] = None
        self.started: Any = None
        self.forwarder: Any = None
        self.holder: Any = None       # a connection that keeps the rootless netns' holder while we start
        self.etc = self._resolve()

    # -- before the launch ---------------------------------------------------------------

    def _resolve(self) -> EtcNet:
        mode, opts, rt = self.mode, self.opts, self.rt
        host_lines = netopts.host_resolv()
        host_ip = netopts.host_address()
        run_dir = rt.container_run_dir(self.rec.id)
        if mode == "slirp4netns":
            ip, gateway, dns = netopts.slirp_address(opts)
            self.slirp = slirp_options(opts)
            if self.ports:
                if opts.get("port_handler") == "slirp4netns":
                    api = _api_socket_path(rt, self.rec.id)
                    self.slirp = self.slirp._replace(extra=(*self.slirp.extra, f"--api-socket={api}"))
                    self.plan.update(slirp_api=api, ports=self.ports)
                else:
                    self.plan["helper"] = True
                    self.target = ip
            hostgw = gateway if netopts.flag(opts, "allow_host_loopback") else host_ip
            return EtcNet([ip], hostgw, [dns] + host_nameservers(host_lines))
        if mode == "pasta":
            from rootless.network.setup import pasta_port_args

            extra = [a for a in opts.get("args", "").split(",") if a]
            self.plan["pasta"] = {"args": pasta_port_args(self.ports) + extra,
                                  "pidfile": os.path.join(run_dir, "pasta.pid")}
            return EtcNet([host_ip] if host_ip else [], default_gateway(), host_nameservers(host_lines))
        if mode == "host":
            return EtcNet([], host_ip, [], host_mode=True)
        if mode == "none":
            return EtcNet(["127.0.0.1"], host_ip, [], none=True)
        if mode.startswith("container:"):
            other = rt.state.get(mode.partition(":")[2])
            if other is None:
                raise InvalidState(f"the container whose network {self.rec.name} shares is gone")
            if other.state not in (RUNNING, PAUSED, INITIALIZED) or not other.pid:
                raise InvalidState(f"cannot join the network namespace of container {other.name}: "
                                   "it is not running")
            self.netns_path = f"/proc/{other.pid}/ns/net"
            if rt.cfg.rootless:
                self.userns_path = f"/proc/{other.pid}/ns/user"
            return EtcNet(addresses(other)[0] or ["127.0.0.1"], host_ip, host_nameservers(host_lines))
        if mode.startswith("ns:"):
            self.netns_path = mode[3:]
            if rt.cfg.rootless:
                self.userns_path = owner_userns(self.netns_path)
            return EtcNet(["127.0.0.1"], host_ip, host_nameservers(host_lines))
        if mode == "bridge":
            from .table import bridge_start

            return bridge_start(self, host_ip, host_lines)
        raise InvalidArgument(f"unknown network mode {mode!r}")

    def loopback_open(self) -> bool:
        """The container reaches the host's loopback anyway (slirp4netns allow_host_loopback=true,
        IPv4 ports, no outbound address of its own): an unguarded host socket in its hands
        gives it little more (any 127/8 address, not only 127.0.0.1)."""
        return (self.mode == "slirp4netns" and netopts.flag(self.opts, "allow_host_loopback")
                and not self.opts.get("outbound_addr") and not self.opts.get("outbound_addr6")
                and not any(":" in str(p.get("host_ip") or "") for p in self.ports))

    def adjust_spec(self, spec: dict[str, Any]) -> None:
        """Point the spec's user and network namespaces at the ones to join; with published TCP
        ports for the forwarder, have the init report its processes' binds (redirect.py) when
        the host sockets can be handed over safely: guarded (bindnotify.guard), or to a container
        that reaches the host's loopback anyway."""
        # Not on a user network: its peers would reach the server from the host's loopback.
        if self.mode == "slirp4netns" and self.plan.get("helper") and any(
                p.get("protocol", "tcp") == "tcp" for p in self.ports):
            from rootless.network.bindnotify import guard_works

            if self.loopback_open() or guard_works():
                spec.setdefault("linux", {})["bindNotify"] = True
        for ns in spec.get("linux", {}).get("namespaces", []):
            if ns["type"] == "network" and self.netns_path:
                ns["path"] = self.netns_path
            elif ns["type"] == "user" and self.userns_path:
                ns["path"] = self.userns_path

    def bind(self) -> list[int]:
        """Listen on the host ports now (for the forwarder); their fds. For pasta, which binds
        them itself, only see that they are free, to fail with the same line."""
        if (self.plan.get("helper") or self.plan.get("pasta")) and self.ports and not self.listeners:
            from rootless.network import portfwd

            self.listeners = portfwd.listen([portfwd.Mapping.from_dict(p) for p in self.ports])
            if not self.plan.get("helper"):
                for sock, _ in self.listeners:
                    sock.close()
                self.listeners = []
        return [s.fileno() for s, _ in self.listeners]

    def monitor_request(self) -> dict[str, Any]:
        """What a detached start hands the monitor (the listeners go along as fds). The monitor
        forks the socket helper itself, once the container runs, not its launcher."""
        plan = {k: v for k, v in self.plan.items() if k != "helper"}
        return {"plan": plan, "target": self.target, "ports": self.ports, "loopback_open": self.loopback_open()}

    # -- during and after the launch (foreground) ----------------------------------------

    def on_pid(self, pid: int) -> None:
        if self.plan:
            from rootless.network.setup import on_pid

            self.started = on_pid(pid, self.plan, userns=self.rt.cfg.rootless, tied=True)

    def running(self, container: Any) -> None:
        """The container runs (it has joined the holder's user namespace, if any): start
        forwarding (with the init's bind(2) listener, which is ours from here)."""
        self.release_holder()
        notify, container.bind_notify = container.bind_notify, None
        if self.listeners and self.started is not None and self.started.source is not None:
            from rootless.network import portfwd

            source, self.started.source = self.started.source, None
            netns = 0
            if notify is not None:
                try:
                    netns = os.stat(f"/proc/{container.pid}/ns/net").st_ino
                except OSError:
                    os.close(notify)
                    notify = None
            self.forwarder = portfwd.forwarder(self.listeners, source, str(self.target),
                                               -1 if notify is None else notify, netns, self.loopback_open())
            self.listeners = []
        elif notify is not None:
            from rootless.network.bindnotify import pass_through

            pass_through(notify)   # closed, it would fail the container's binds

    def stop(self) -> None:
        """The container is over (or never started): end everything of its network."""
        if self.forwarder is not None:
            self.forwarder.stop()
            self.forwarder = None
        if self.started is not None:
            self.started.stop()
            self.started = None
        self.close_listeners()
        self.release_holder()

    def close_listeners(self) -> None:
        for sock, _ in self.listeners:
            sock.close()
        self.listeners = []

    def release_holder(self) -> None:
        if self.holder is not None:
            self.holder.close()
            self.holder = None


def _api_socket_path(rt: Runtime, cid: str) -> str:
    """Where slirp4netns listens for port_handler=slirp4netns (a unix socket's path has at most
    107 bytes: a private directory under /tmp when the runtime directory's is too long). The
    socket is removed once the ports are set up."""
    path = os.path.join(rt.cfg.runroot, f"slirp4netns-{cid[:12]}.sock")
    if len(path.encode()) < 100:
        return path
    import tempfile

    return os.path.join(tempfile.mkdtemp(prefix="podpy-"), "slirp4netns.sock")


def end_pasta(rt: Runtime, rec: ContainerRecord) -> None:
    """Stop the pasta of a container whose supervisor is gone (pasta does not notice that
    its namespace's processes have ended)."""
    try:
        with open(os.path.join(rt.container_run_dir(rec.id), "pasta.pid")) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return
    if pid:
        from rootless.network.setup import stop_pasta

        stop_pasta(pid)


def slirp_options(opts: dict[str, str]) -> Any:
    from rootless.network.slirp import SlirpOptions

    extra = (f"--outbound-addr6={opts['outbound_addr6']}",) if opts.get("outbound_addr6") else ()
    return SlirpOptions(
        mtu=int(opts.get("mtu") or 65520), cidr=opts.get("cidr") or None,
        allow_host_loopback=netopts.flag(opts, "allow_host_loopback"),
        enable_ipv6=netopts.flag(opts, "enable_ipv6"), outbound_addr=opts.get("outbound_addr") or None,
        extra=extra)


def addresses(rec: ContainerRecord) -> tuple[list[str], Optional[str]]:
    """The container's addresses and its gateway, as its configuration says (for inspect and
    for containers that share its network)."""
    cfg = rec.config
    if cfg.network == "slirp4netns":
        ip, gateway, _ = netopts.slirp_address(cfg.network_options)
        return [ip], gateway
    if cfg.network == "pasta":
        ip = netopts.host_address()
        return ([ip] if ip else []), default_gateway()
    if cfg.network == "bridge":
        return [n["ip"] for n in cfg.networks.values() if n.get("ip")], None
    return [], None


def default_gateway() -> Optional[str]:
    """The host's IPv4 default gateway (/proc/net/route)."""
    import _socket

    try:
        with open("/proc/net/route") as f:
            next(f)
            for line in f:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000" and fields[2] != "00000000":
                    return _socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    except (OSError, StopIteration, ValueError):
        pass
    return None


def owner_userns(path: str, kind: str = "net") -> str:
    """For --network ns:PATH (and --pid, --ipc, --uts, --cgroupns ns:PATH: kind is the name
    under /proc/PID/ns), rootless: a path to the user namespace that owns the namespace, which
    the container must join first. PATH must be /proc/PID/ns/KIND of a process in that user
    namespace; the host's own namespaces cannot be joined without privileges."""
    from rootless import syscalls

    what = {"net": "network"}.get(kind, kind)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidArgument(f"{what} namespace {path}: {exc.strerror}") from None
    try:
        try:
            owner = syscalls.default().ns_get_userns(fd, path)
        except OSError as exc:
            raise InvalidArgument(f"{path} is not a {what} namespace ({exc.strerror})") from None
        try:
            st = os.fstat(owner)
        finally:
            os.close(owner)
    finally:
        os.close(fd)
    if os.stat("/proc/self/ns/user").st_ino == st.st_ino:
        raise InvalidArgument(f"{what} namespace {path} belongs to the host's user namespace: "
                              "rootless podpy cannot join it")
    parts = path.split("/")
    if len(parts) == 5 and parts[1] == "proc" and parts[2].isdigit() and parts[3:] == ["ns", kind]:
        candidate = f"/proc/{parts[2]}/ns/user"
        try:
            if os.stat(candidate).st_ino == st.st_ino:
                return candidate
        except OSError:
            pass
    raise InvalidArgument(f"cannot join {what} namespace {path}: give /proc/PID/ns/{kind} of a process in "
                          "the user namespace that owns it")
