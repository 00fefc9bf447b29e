"""Published TCP ports served by the container's own listening socket, made on the host.

Through a forwarder every byte crosses two TCP connections and a process in between;
here the forwarder steps aside once the container's server is listening. The server's
bind(2) of a published port is reported by the container's seccomp filter (bindnotify.py)
and answered with a socket made in the host's namespace, bound to the host's address and
port, put at the server's fd number: connections from the host then go straight to the
server, which also sees its clients' real addresses. (The idea is bypass4netns's, here for
the bind of published ports only.)

A host socket in the container's hands must not become a client of the host's network
(reaching its loopback, which the container may not): each one handed over carries a
locked filter that lets it serve and never connect (bindnotify.guard). Where the kernel
refuses that filter, nothing is handed over unless the container reaches the host's
loopback anyway (loopback_open); the init is then not even asked to report its binds.

What the server's clients inside see stays as before: a socket made in the container's
namespace is bound to the address and port the server asked for and listens there, and
its connections are carried to the host's port (a connection from another container on a
user network, or from a health check, takes the slower way).

Taken over: binds of a published port by a fresh TCP socket (not bound, listening or
connected; no device binding or socket filter of its own) that would get the forwarder's
connections (the wildcard address or the container's own, in the container's network
namespace), when that container port is published once. The host's listening socket is
handed to the server when the families agree (queued connections and all); otherwise the
port is bound again in the server's family (an IPv4 host address as a v4-mapped one for an
IPv6 server), with the server's SO_REUSEPORT. Anything else -- UDP, other ports, a
loopback-only bind, a port published twice, a process in a nested network namespace, the
processes of `exec` (the filter is the init's) -- binds as it asked, and the forwarder
carries those ports as before. When the forwarder no longer holds the host port (its
server closed it; or taken by someone else since), a new bind first gets it back for the
forwarder and otherwise binds inside as asked: never joins a SO_REUSEPORT group that is
not this container's. When the server closes its socket (it ended, or is being
restarted), the port goes back to the forwarder, and the port inside is freed for any
process: found out at most CHECK_EVERY seconds later by asking the kernel (sock_diag)
which sockets handed out are still bound, or sooner when a connection from inside is
refused. A connection from inside is carried only while every socket listening on the
host port is one handed out here.

All decisions are made in one thread, the one that answers the binds; the connections
from inside (the forwarder's pool threads) only ask it to look again.
"""

from __future__ import annotations

import _socket
import _thread
import errno
import fcntl
import os
import select
import time

from . import bindnotify as bn
from .hostports import bind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Protocol

    from .hostports import Mapping

    class Forwarder(Protocol):
        """What a Redirect uses of its forwarder (portfwd.Forwarder, which makes the Redirect:
        named here by its shape, so that this module does not import portfwd)."""

        listeners: list[tuple[_socket.socket, Mapping]]
        target: str
        wake_r: int
        stopped: bool

        def add_listener(self, sock: _socket.socket, serve: Any, arg: Any) -> None: ...
        def take_listener(self, match: Any) -> Optional[_socket.socket]: ...
        def socket_in(self, family: int, kind: int) -> _socket.socket: ...
        def relay(self, me: Any, client: _socket.socket, inner: _socket.socket) -> None: ...
        def _connection(self, me: Any, client: _socket.socket, m: Mapping, _listener: Any = None) -> None: ...

_COPIED = ((_socket.SOL_SOCKET, _socket.SO_KEEPALIVE), (_socket.IPPROTO_TCP, _socket.TCP_NODELAY),
           (_socket.IPPROTO_IP, _socket.IP_TOS))
_INNER_BACKLOG = 128
CHECK_EVERY = 2.0        # seconds between looks at whether the servers' host sockets are still bound
CHECK_AT_MOST = 0.2      # ... and the least between two looks asked for by connections from inside
CONNECT_TIMEOUT = 5.0
SO_GET_FILTER, SO_BINDTODEVICE = 26, 25


class _Taken:
    """A container port whose server holds the host's port: the socket that listens for it in
    the container's namespace, and the server's host sockets (inode -> [seen listening, the
    process and fd it was put at])."""

    __slots__ = ("m", "inner", "reuseport", "sockets")

    def __init__(self, m: "Mapping", inner: _socket.socket, reuseport: int) -> None:
        self.m = m
        self.inner = inner
        self.reuseport = reuseport
        self.sockets: dict[int, list[Any]] = {}


class Redirect:
    """Answers one container's bind(2) calls, for its forwarder."""

    def __init__(self, fwd: "Forwarder", listener: int, netns: int, loopback_open: bool = False) -> None:
        self.fwd = fwd
        self.listener = listener
        self.netns = netns
        self.need_guard = not loopback_open
        tcp = [m for _, m in fwd.listeners if m.protocol == "tcp"]
        counts: dict[int, int] = {}
        for m in tcp:
            counts[m.container_port] = counts.get(m.container_port, 0) + 1
        self.ports = {m.container_port: m for m in tcp if counts[m.container_port] == 1}
        target = fwd.target
        self.wildcards = {"0.0.0.0", "::", target, "::ffff:" + target}
        self.inner: dict[int, _Taken] = {}    # by container port
        self.taken = 0   # binds answered with a host socket (for tests and people)
        self.lock = _thread.allocate_lock()   # self.inner, read by the connections from inside
        self.look_r, self.look_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.next_check = 0.0

    # -- the loop ----------------------------------------------------------------------------

    def serve(self, running: Any) -> None:
        poller = select.poll()
        poller.register(self.listener, select.POLLIN)
        poller.register(self.fwd.wake_r, select.POLLIN)
        poller.register(self.look_r, select.POLLIN)
        asked = False
        last = 0.0
        try:
            while not self.fwd.stopped:
                wait: Optional[float] = None
                if self.inner:
                    now = time.monotonic()
                    due = min(self.next_check, last + CHECK_AT_MOST) if asked else self.next_check
                    if now >= due:
                        asked, last = False, now
                        self.next_check = now + CHECK_EVERY
                        try:
                            self._check()
                        except Exception:  # noqa: BLE001 - the next look may do better
                            pass
                        due = self.next_check
                    wait = max(0.0, due - time.monotonic())
                else:
                    asked = False
                for fd, ev in poller.poll(None if wait is None else int(wait * 1000) + 1):
                    if fd == self.fwd.wake_r:
                        return
                    if fd == self.look_r:
                        try:
                            os.read(fd, 512)
                        except OSError:
                            pass
                        asked = True
                    elif not ev & select.POLLIN:
                        return   # no process of the container is left
                    else:
                        self._one()
        finally:
            os.close(self.listener)
            with self.lock:
                os.close(self.look_r)
                os.close(self.look_w)
                self.look_w = -1
            running.release()

    def _one(self) -> None:
        try:
            n = bn.receive(self.listener)
        except OSError:
            return
        if n is None:
            return
        try:
            error = self._handle(n)
        except Exception:  # noqa: BLE001 - whatever went wrong, the caller must not wait for ever
            error = None
        try:
            if error is None:
                bn.proceed(self.listener, n.id)
            else:
                bn.answer(self.listener, n.id, error)
        except OSError:
            pass

    # -- one bind ----------------------------------------------------------------------------

    def _handle(self, n: bn.Notification) -> Optional[int]:
        """None: the call goes on as asked; else its errno (0: done here)."""
        if not n.is_bind():
            return None
        fd = n.args[0] & 0xFFFFFFFF
        try:
            if bn.netns_inode(n.pid) != self.netns:
                return None
            addr = bn.parse_sockaddr(bn.read_memory(n.pid, n.args[1], n.args[2] & 0xFFFFFFFF))
        except OSError:
            return None
        if addr is None or addr[2] not in self.ports or addr[1] not in self.wildcards:
            return None
        try:
            tgid = bn.thread_group(n.pid)
            pidfd = os.pidfd_open(tgid)
        except OSError:
            return None
        try:
            # Checked once the pidfd is held: what we read was the caller's, and the pidfd is its
            # process's, not one that took its pid since.
            if not bn.still_waiting(self.listener, n.id):
                return None
            dup = bn.take_fd(pidfd, fd)
        except OSError:
            return None
        finally:
            os.close(pidfd)
        try:
            app = _socket.socket(fileno=dup)
        except OSError:
            os.close(dup)   # not a socket: the kernel says so to the caller
            return None
        try:
            if not self._fresh_tcp(app, addr):
                return None
            return self._take_over(n, tgid, fd, app, addr, self.ports[addr[2]])
        finally:
            app.close()

    def _fresh_tcp(self, app: _socket.socket, addr: tuple[int, str, int, int]) -> bool:
        """A TCP socket of the address's family that nothing was done with yet, which the
        forwarder's connections would reach, with nothing set that a host socket would lose."""
        if (app.type != _socket.SOCK_STREAM or app.family != addr[0]
                or app.getsockopt(_socket.SOL_SOCKET, _socket.SO_PROTOCOL) != _socket.IPPROTO_TCP):
            return False
        if app.getsockname()[1] != 0 or app.getsockopt(_socket.SOL_SOCKET, _socket.SO_ACCEPTCONN):
            return False   # bound or listening already: the kernel's EINVAL
        try:
            app.getpeername()
            return False   # connected
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                return False
        if app.getsockopt(_socket.SOL_SOCKET, SO_BINDTODEVICE, 64).strip(b"\0"):
            return False   # the container's device: none such on the host
        try:
            if app.getsockopt(_socket.SOL_SOCKET, SO_GET_FILTER):
                return False   # a filter of its own, which the host socket could not carry
        except OSError:
            return False
        if app.family == _socket.AF_INET6 and addr[1] == "::" and ":" not in self.fwd.target \
                and app.getsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY):
            return False   # an IPv6-only server, which the forwarder's IPv4 would not reach
        return True

    def _take_over(self, n: bn.Notification, tgid: int, fd: int, app: _socket.socket,
                   addr: tuple[int, str, int, int], m: "Mapping") -> Optional[int]:
        family = app.family
        host_ip = m.host_ip or "0.0.0.0"
        if ":" in host_ip:
            if family != _socket.AF_INET6:
                return None
            bind_ip = host_ip
        else:
            bind_ip = "::ffff:" + host_ip if family == _socket.AF_INET6 else host_ip
        reuseport = app.getsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEPORT)
        try:
            got = self._host_socket(m, family, bind_ip, reuseport)
        except OSError as exc:
            return exc.errno or errno.EADDRINUSE
        if got is None:
            return None   # bound inside as asked; the forwarder carries the port (if it has it)
        host, give_back = got
        inner = None
        try:
            inner = self._inner_socket(m, app, addr, reuseport)
            self._copy_options(app, host, inner)
            flags = fcntl.fcntl(host.fileno(), fcntl.F_GETFL) & ~os.O_NONBLOCK
            fcntl.fcntl(host.fileno(), fcntl.F_SETFL, flags | (fcntl.fcntl(app.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK))
            cloexec = bn.fd_cloexec(tgid, fd)
        except OSError as exc:
            if inner is not None:
                inner.close()
            give_back()
            return exc.errno or errno.EADDRINUSE
        app.close()   # before the caller's fd is replaced: the last close of its socket is the caller's
        try:
            bn.place(self.listener, n.id, host.fileno(), fd, cloexec)
        except OSError as exc:
            if inner is not None:
                inner.close()
            give_back()
            return exc.errno or errno.ESRCH
        # Placed: whatever happens now, the caller's bind has succeeded.
        try:
            inode = os.fstat(host.fileno()).st_ino
            host.close()   # the container's process holds it now
            with self.lock:
                if inner is not None:
                    self.inner[m.container_port] = _Taken(m, inner, reuseport)
                taken = self.inner.get(m.container_port)
                if taken is not None:
                    taken.sockets[inode] = [False, tgid, fd]
            if inner is not None:
                out = ("::1" if host_ip == "::" else "127.0.0.1" if host_ip == "0.0.0.0" else host_ip, m.host_port)
                self.fwd.add_listener(inner, self._out, (out, m, inner))
            self.taken += 1
            self.next_check = min(self.next_check, time.monotonic() + 0.5)   # see it listen soon
        except Exception:  # noqa: BLE001
            pass
        return 0

    def _copy_options(self, app: _socket.socket, host: _socket.socket, inner: Optional[_socket.socket]) -> None:
        """What the server set before its bind, onto the host's socket (its buffer sizes only
        where they differ from a fresh socket's, so that the host's autotuning stays)."""
        for level, opt in _COPIED:
            if level == _socket.IPPROTO_IP and app.family != _socket.AF_INET:
                continue
            host.setsockopt(level, opt, app.getsockopt(level, opt))
        linger = app.getsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, 8)
        if linger != bytes(8):
            host.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, linger)
        if inner is not None:
            for opt in (_socket.SO_RCVBUF, _socket.SO_SNDBUF):
                value = app.getsockopt(_socket.SOL_SOCKET, opt)
                if value != inner.getsockopt(_socket.SOL_SOCKET, opt):
                    host.setsockopt(_socket.SOL_SOCKET, opt, value // 2)   # the kernel doubles it

    def _host_socket(self, m: "Mapping", family: int, bind_ip: str, reuseport: int
                     ) -> Optional[tuple[_socket.socket, Callable[[], None]]]:
        """The host's socket for the server, and what undoes taking it; None to let the bind go
        on inside (the socket cannot be guarded and must be, or the host port is not ours)."""
        fwd = self.fwd
        old = fwd.take_listener(lambda _serve, arg: arg is m)
        if old is None and not (reuseport and self._our_group(m)):
            # The server that had the port closed it (or someone else took it): ours again first.
            old = self._forward_again(m, serve=False)
            if old is None:
                return None
        if old is not None and old.family == family and not reuseport:
            if self.need_guard and not bn.guarded(old):
                fwd.add_listener(old, fwd._connection, m)
                return None
            return old, lambda: fwd.add_listener(old, fwd._connection, m)
        sock = _socket.socket(family, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        if not bn.guard(sock) and self.need_guard:
            sock.close()
            if old is not None:
                fwd.add_listener(old, fwd._connection, m)
            return None
        if old is not None:
            old.close()
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            if reuseport:
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEPORT, 1)
            if family == _socket.AF_INET6:
                sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0 if bind_ip.startswith("::ffff:") else 1)
            _bind_soon(sock, (bind_ip, m.host_port), old is not None)
        except OSError:
            sock.close()
            if old is not None:
                self._forward_again(m)
            raise

        def give_back() -> None:
            sock.close()
            if old is not None:
                self._forward_again(m)
        return sock, give_back

    def _our_group(self, m: "Mapping") -> bool:
        """The host port is held by SO_REUSEPORT sockets handed out here, and only by them: a
        worker may join their group."""
        with self.lock:
            taken = self.inner.get(m.container_port)
            ours = dict(taken.sockets) if taken is not None and taken.reuseport else {}
        if not ours:
            return False
        try:
            others = {inode for inode, (_state, port) in bn.tcp_sockets().items() if port == m.host_port}
        except OSError:
            return False
        if not others <= set(ours):
            return False
        # A socket bound and not listening yet (the first worker between its bind and its
        # listen) may be missing from the kernel's list: one its process still holds counts.
        return bool(others) or any(_holds(pid, fd, inode) for inode, (_seen, pid, fd) in ours.items())

    def _forward_again(self, m: "Mapping", serve: bool = True) -> Optional[_socket.socket]:
        """The forwarder listens on m's host port again (when it is free); with serve=False the
        socket is the caller's."""
        try:
            sock = bind(m)
        except Exception:  # noqa: BLE001 - taken meanwhile: nothing to forward
            return None
        if not serve:
            return sock
        self.fwd.add_listener(sock, self.fwd._connection, m)
        return None

    def _inner_socket(self, m: "Mapping", app: _socket.socket, addr: tuple[int, str, int, int],
                      reuseport: int) -> Optional[_socket.socket]:
        """A socket listening in the container's namespace where the server asked to (None: the
        one there already serves, both having SO_REUSEPORT)."""
        with self.lock:
            prev = self.inner.pop(m.container_port, None)
            if prev is not None and reuseport and prev.reuseport:
                self.inner[m.container_port] = prev
                return None
        if prev is not None:
            # The host's port was free for this bind: the server that had it closed it.
            self._drop_inner(prev.inner)
        sock = self.fwd.socket_in(app.family, _socket.SOCK_STREAM)
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            if reuseport:
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEPORT, 1)
            if app.family == _socket.AF_INET6:
                sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY,
                                app.getsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY))
                _bind_soon(sock, (addr[1], addr[2], 0, addr[3]), prev is not None)
            else:
                _bind_soon(sock, (addr[1], addr[2]), prev is not None)
            sock.listen(_INNER_BACKLOG)
        except OSError:
            sock.close()
            raise
        return sock

    def _drop_inner(self, sock: _socket.socket) -> None:
        taken = self.fwd.take_listener(lambda _serve, arg: isinstance(arg, tuple) and arg[2] is sock)
        if taken is not None:
            taken.close()

    # -- connections from inside --------------------------------------------------------------

    def _out(self, me: Any, client: _socket.socket, arg: tuple[tuple[str, int], "Mapping", _socket.socket],
             _listener: Any = None) -> None:
        """A connection to the port inside the container, carried to the server's host socket
        (only while every socket listening on the host port is one handed out here)."""
        address, m, inner = arg
        with self.lock:
            taken = self.inner.get(m.container_port)
            ours = set(taken.sockets) if taken is not None and taken.inner is inner else set()
        try:
            listening = {inode for inode, (state, port) in bn.tcp_sockets(False).items()
                         if port == m.host_port and state == bn.TCP_LISTEN}
        except OSError:
            listening = set()
        if not listening or not listening <= ours:
            client.close()
            self._look_again()
            return
        out = _socket.socket(_socket.AF_INET6 if ":" in address[0] else _socket.AF_INET,
                             _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            out.settimeout(CONNECT_TIMEOUT)
            out.connect(address)
            out.settimeout(None)
            out.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            client.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            out.close()
            client.close()
            self._look_again()
            return
        self.fwd.relay(me, client, out)

    def _look_again(self) -> None:
        with self.lock:
            if self.look_w >= 0:
                try:
                    os.write(self.look_w, b"x")
                except OSError:
                    pass   # full: a look is asked for already

    def _check(self) -> None:
        """Give back to the forwarder every host port whose server sockets are all closed (the
        server ended, or closed its port): the forwarder carries the port again until the next
        bind, and the port inside is free for any process (one started by `exec`, say). One not
        seen listening yet is left be while the kernel shows it bound (Linux 6.5) or the process
        it was given to still has it at its fd."""
        found = bn.tcp_sockets()
        gone: list[_Taken] = []
        with self.lock:
            for port, taken in list(self.inner.items()):
                for inode, (seen, pid, fd) in list(taken.sockets.items()):
                    state = found.get(inode)
                    if state is not None:
                        taken.sockets[inode][0] = seen or state[0] == bn.TCP_LISTEN
                    elif seen or not _holds(pid, fd, inode):
                        del taken.sockets[inode]
                if not taken.sockets:
                    del self.inner[port]
                    gone.append(taken)
        for taken in gone:
            self._drop_inner(taken.inner)
            self._forward_again(taken.m)


def _bind_soon(sock: _socket.socket, address: tuple[Any, ...], closed_one: bool) -> None:
    """bind(2), given a moment when we have just closed the socket that had the address: a
    process forked from ours meanwhile (a socket helper, a launcher, anything about to exec)
    holds a copy of it until it closes its inherited fds, which it does at once."""
    deadline = time.monotonic() + (0.5 if closed_one else 0)
    pause = 0.001
    while True:
        try:
            sock.bind(address)
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _holds(pid: int, fd: int, inode: int) -> bool:
    """Process pid still has the socket with this inode at fd."""
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]"
    except OSError:
        return False
