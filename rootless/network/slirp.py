"""slirp4netns: outbound connectivity for an unprivileged network namespace.

slirp4netns runs as a subprocess of the host side, joins the container's user
and network namespaces, creates `tap0` there and configures it (10.0.2.100/24,
gateway 10.0.2.2, DNS 10.0.2.3). It writes to --ready-fd once the interface is
up, and exits when the read end of --exit-fd is closed, so it can never outlive
the process that started it by more than its own exit.
"""

from __future__ import annotations

import _signal
import os
import select
from _operator import itemgetter

from ..errors import NetworkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

DNS = "10.0.2.3"
GATEWAY = "10.0.2.2"
ADDRESS = "10.0.2.100"


class SlirpOptions(tuple):  # type: ignore[type-arg]
    """podman's slirp4netns options. (A tuple class written out, as userns.IdMap.)"""

    __slots__ = ()
    _fields = ("mtu", "cidr", "allow_host_loopback", "enable_ipv6", "outbound_addr", "extra")

    def __new__(cls, mtu: int = 65520, cidr: Optional[str] = None, allow_host_loopback: bool = False,
                enable_ipv6: bool = False, outbound_addr: Optional[str] = None,
                extra: tuple[str, ...] = ()) -> "SlirpOptions":
        return tuple.__new__(cls, (mtu, cidr, allow_host_loopback, enable_ipv6, outbound_addr, extra))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return "SlirpOptions(" + ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self)) + ")"

    def _replace(self, **changes: Any) -> "SlirpOptions":
        return SlirpOptions(**{**dict(zip(self._fields, self)), **changes})

    mtu: int = property(itemgetter(0))  # type: ignore[assignment]
    cidr: Optional[str] = property(itemgetter(1))  # type: ignore[assignment]
    allow_host_loopback: bool = property(itemgetter(2))  # type: ignore[assignment]
    enable_ipv6: bool = property(itemgetter(3))  # type: ignore[assignment]
    outbound_addr: Optional[str] = property(itemgetter(4))  # type: ignore[assignment]
    extra: tuple[str, ...] = property(itemgetter(5))  # type: ignore[assignment]


class Slirp:
    """A running slirp4netns attached to one container (holds_ports: it forwards published
    ports itself, through its API socket, and so holds host ports)."""

    def __init__(self, pid: int, exit_w: int, holds_ports: bool = False) -> None:
        self.pid = pid
        self._exit_w = exit_w
        self.holds_ports = holds_ports

    @property
    def exit_fd(self) -> int:
        return self._exit_w

    def hand_over(self) -> int:
        """Give up the exit fd (to a process that outlives us): slirp4netns runs until it is closed."""
        fd, self._exit_w = self._exit_w, -1
        return fd

    def stop(self) -> None:
        """Close the exit fd and end slirp4netns. Its exit closes the tap device, whose removal
        waits out the kernel's RCU grace periods (10-25 ms here): that is waited for only when
        it holds host ports, which must be free once the container is over; otherwise it is
        reaped later (by a later stop(), or by whoever inherits it when this process ends)."""
        if self._exit_w >= 0:
            os.close(self._exit_w)
            self._exit_w = -1
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if not done:
                os.kill(self.pid, _signal.SIGTERM)
                if self.holds_ports:
                    os.waitpid(self.pid, 0)
                else:
                    _leaving.append(self.pid)
        except ChildProcessError:
            pass
        reap_left()


_leaving: list[int] = []   # slirp4netns processes told to end, not reaped yet


def reap_left() -> None:
    """Reap the slirp4netns processes stop() did not wait for that have ended by now."""
    for pid in list(_leaving):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid   # reaped by someone else
        if done:
            _leaving.remove(pid)


def forwards_ports(options: SlirpOptions) -> bool:
    """slirp4netns forwards published ports itself (podman's port_handler=slirp4netns: through
    its API socket), holding the host's ports."""
    return any(a == "--api-socket" or a.startswith("--api-socket=") for a in options.extra)


def _which(name: str) -> Optional[str]:
    """The program's path in $PATH (shutil.which without importing shutil on the run path)."""
    for directory in os.get_exec_path():
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def netns_owner(pid: int) -> int:
    """An inheritable fd of the user namespace that owns the network namespace of pid, for a
    helper to join: not /proc/PID/ns/user, which the init may leave meanwhile for a nested one
    (--userns=keep-id|auto, --uidmap, a pod's id maps) that has no rights over its network."""
    from ..syscalls import default

    path = f"/proc/{pid}/ns/net"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            owner = default().ns_get_userns(fd, path)
        finally:
            os.close(fd)
    except OSError as exc:
        raise NetworkError(f"the container's network namespace {path}: {exc.strerror}") from None
    os.set_inheritable(owner, True)
    return owner


def start(target_pid: int, options: SlirpOptions, *, userns: bool, timeout: float = 10.0) -> Slirp:
    """Start slirp4netns for the network namespace of target_pid; wait until it is ready."""
    binary = _which("slirp4netns")
    if binary is None:
        raise NetworkError("slirp4netns is not installed (Debian: apt-get install slirp4netns)")
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    argv = [binary, "--configure", f"--mtu={options.mtu}", f"--ready-fd={ready_w}", f"--exit-fd={exit_r}"]
    if not options.allow_host_loopback:
        argv.append("--disable-host-loopback")
    if options.cidr:
        argv.append(f"--cidr={options.cidr}")
    if options.enable_ipv6:
        argv.append("--enable-ipv6")
    if options.outbound_addr:
        argv.append(f"--outbound-addr={options.outbound_addr}")
    argv += list(options.extra)
    owner = netns_owner(target_pid) if userns else -1
    if userns:
        argv.append(f"--userns-path=/proc/self/fd/{owner}")
    argv += ["--netns-type=path", f"/proc/{target_pid}/ns/net", "tap0"]
    # stderr goes to a memory file: read only on failure, and never a pipe
    # that could fill up or break (SIGPIPE) while the container runs.
    err_w = os.memfd_create("slirp4netns-stderr", os.MFD_CLOEXEC)
    os.set_inheritable(ready_w, True)
    os.set_inheritable(exit_r, True)
    try:
        pid = os.posix_spawn(
            binary, argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                          (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                          (os.POSIX_SPAWN_DUP2, err_w, 2)],
            setsid=True,
        )
    except OSError:
        os.close(err_w)
        raise
    finally:
        os.close(ready_w)
        os.close(exit_r)
        if owner >= 0:
            os.close(owner)
    slirp = Slirp(pid, exit_w, holds_ports=forwards_ports(options))
    try:
        ready, _, _ = select.select([ready_r], [], [], timeout)
        data = os.read(ready_r, 1) if ready else b""
        if data != b"1":
            slirp.stop()
            err = os.pread(err_w, 65536, 0).decode(errors="replace").strip().splitlines()
            why = err[-1] if err else ("timed out" if not ready else "exited")
            if why.startswith("child failed") and len(err) > 1:   # the child's own reason first
                why = f"{err[-2]}: {why}"
            raise NetworkError(f"slirp4netns failed to configure the network: {why}")
    finally:
        os.close(ready_r)
        os.close(err_w)
    return slirp
