"""The network work done between a container's init being forked and its "go": the part
that needs the init's pid, driven by a plain dict (a plan) so that podpy and the monitor's
launcher run the same code.

plan keys (all optional):
    helper      True: fork the socket helper for published ports (nsock.py)
    slirp_api   slirp4netns's API socket: publish `ports` through it (port_handler=slirp4netns)
    pasta       {"args": [...], "pidfile": PATH}: start pasta for the namespaces, with its
                port options already in args
    bridge      {"runroot": PATH, "request": {...}}: attach to user networks through the
                rootless network namespace's holder (holder.py)
    ports       [{host_ip, host_port, container_port, protocol}] for slirp_api
"""

from __future__ import annotations

import _signal
import os
import select
import time

from ..errors import NetworkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .nsock import SocketSource


class Started:
    """What on_pid left running for the container."""

    __slots__ = ("source", "pasta_pid")

    def __init__(self) -> None:
        self.source: Optional["SocketSource"] = None
        self.pasta_pid: Optional[int] = None

    def stop(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None
        if self.pasta_pid:
            stop_pasta(self.pasta_pid)
            self.pasta_pid = None


def on_pid(pid: int, plan: dict[str, Any], userns: bool, tied: bool) -> Started:
    """Do what plan asks for the container whose init is pid (not yet exec'd). On failure
    undo what was done and raise NetworkError."""
    started = Started()
    try:
        if plan.get("bridge"):
            from .holder_client import attach

            attach(plan["bridge"]["runroot"], pid, plan["bridge"]["request"])
        if plan.get("slirp_api"):
            slirp_forward(plan["slirp_api"], plan.get("ports") or [])
        if plan.get("pasta"):
            started.pasta_pid = start_pasta(pid, plan["pasta"], userns)
        if plan.get("helper"):
            from .nsock import spawn

            try:
                started.source = spawn(pid, userns, tied)
            except OSError as exc:
                raise NetworkError(f"publishing ports: {exc.strerror or exc}") from None
    except BaseException:
        started.stop()
        raise
    return started


# ------------------------------------------------------------- slirp4netns API --


def slirp_forward(api: str, ports: list[dict[str, Any]], timeout: float = 5.0) -> None:
    """port_handler=slirp4netns: ask slirp4netns itself to listen on each host port; then the
    API socket's file goes (nothing more is asked, and nothing is left behind)."""
    try:
        _slirp_forward(api, ports, timeout)
    finally:
        try:
            os.unlink(api)
            if os.path.basename(os.path.dirname(api)).startswith("podpy-"):
                os.rmdir(os.path.dirname(api))
        except OSError:
            pass


def _slirp_forward(api: str, ports: list[dict[str, Any]], timeout: float) -> None:
    import _socket
    import json   # slirp4netns's API speaks JSON; only published ports reach it

    deadline = time.monotonic() + timeout
    for p in ports:
        req = {"execute": "add_hostfwd", "arguments": {
            "proto": p["protocol"], "host_addr": p["host_ip"] or "0.0.0.0",
            "host_port": int(p["host_port"]), "guest_port": int(p["container_port"])}}
        while True:
            s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                s.connect(api)
                break
            except OSError as exc:
                s.close()
                if time.monotonic() > deadline:
                    raise NetworkError(f"slirp4netns's API socket: {exc.strerror}") from None
                time.sleep(0.005)
        try:
            s.settimeout(timeout)
            s.sendall(json.dumps(req).encode())
            s.shutdown(_socket.SHUT_WR)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise NetworkError(f"slirp4netns's API socket: {exc}") from None
        finally:
            s.close()
        try:
            reply = json.loads(data or b"{}")
        except ValueError:
            reply = {"error": {"desc": data.decode(errors="replace")}}
        if "error" in reply:
            desc = (reply["error"] or {}).get("desc", "failed")
            where = f"{p['host_ip'] or '0.0.0.0'}:{p['host_port']}/{p['protocol']}"
            raise NetworkError(f"cannot publish port {p['container_port']}/{p['protocol']} on {where}: "
                               f"slirp4netns: {desc}")


# ------------------------------------------------------------------------ pasta --


def pasta_port_args(ports: list[dict[str, Any]]) -> list[str]:
    """-t and -u options for published ports ("none" when there are none)."""
    specs: dict[str, list[str]] = {"tcp": [], "udp": []}
    for p in ports:
        host = f"{p['host_ip']}/" if p["host_ip"] else ""
        specs[p["protocol"]].append(f"{host}{p['host_port']}:{p['container_port']}")
    args = []
    for proto, flag in (("tcp", "-t"), ("udp", "-u")):
        if specs[proto]:
            for spec in specs[proto]:
                args += [flag, spec]
        else:
            args += [flag, "none"]
    return args + ["-T", "none", "-U", "none"]


def start_pasta(pid: int, conf: dict[str, Any], userns: bool, timeout: float = 10.0) -> int:
    """Start pasta for the init's namespaces; its pid once it has configured the interface
    (pasta forks into the background when ready: its first process exits 0)."""
    binary = _which("pasta")
    if binary is None:
        raise NetworkError("pasta is not installed (Debian: apt-get install passt)")
    pidfile = conf["pidfile"]
    argv = [binary, "--config-net", "-q", "-P", pidfile, *conf.get("args", []),
            "--netns", f"/proc/{pid}/ns/net"]
    owner = -1
    if userns:
        from .slirp import netns_owner

        owner = netns_owner(pid)
        argv += ["--userns", f"/proc/self/fd/{owner}"]
    err = os.memfd_create("pasta-stderr", os.MFD_CLOEXEC)
    try:
        try:
            os.unlink(pidfile)
        except FileNotFoundError:
            pass
        child = os.posix_spawn(binary, argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                               file_actions=[(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                                             (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                                             (os.POSIX_SPAWN_DUP2, err, 2)],
                               # Python ignores SIGPIPE, and this pasta dies when it finds it ignored
                               setsid=True, setsigdef=(_signal.SIGPIPE, _signal.SIGINT, _signal.SIGTERM,
                                                       _signal.SIGHUP, _signal.SIGQUIT))
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(child, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(child, _signal.SIGKILL)
                os.waitpid(child, 0)
                raise NetworkError("pasta did not configure the network in time")
            select.select([], [], [], 0.002)
        code = os.waitstatus_to_exitcode(status)
        lines = [ln for ln in os.pread(err, 65536, 0).decode(errors="replace").splitlines()
                 if ln.strip() and "syslog" not in ln]
        if code != 0:
            # getopt's complaint comes first, before the usage text; other errors come last
            why = next((ln for ln in lines if "option" in ln and not ln.startswith(" ")), None) \
                or (lines[-1].strip() if lines else f"exit code {code}")
            raise NetworkError(f"pasta failed to configure the network: {why}")
        try:
            with open(pidfile) as f:
                daemon = int(f.read().strip() or 0)
        except (OSError, ValueError):
            daemon = 0
        if not daemon:
            raise NetworkError("pasta started but wrote no pid file")
        return daemon
    finally:
        os.close(err)
        if owner >= 0:
            os.close(owner)


def stop_pasta(pid: int) -> None:
    """End a pasta we started (it does not notice that a /proc namespace path is gone)."""
    if is_program(pid, b"pasta"):
        try:
            os.kill(pid, _signal.SIGTERM)
        except ProcessLookupError:
            pass


def is_program(pid: int, name: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0", 1)[0]
    except OSError:
        return False
    return os.path.basename(argv0) == name


def _which(name: str) -> Optional[str]:
    for directory in os.get_exec_path():
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None
