"""Published ports: listeners on the host, connections made inside the container.

The design of RootlessKit's "builtin" port driver (podman's rootlessport): the
host side binds and listens; for each connection it takes a socket made in the
container's network namespace (see nsock.py), connects it there to the
container's address and moves bytes between the two.

Bytes move with splice(2) through a 1 MB pipe, one thread per direction: the
data stays in the kernel and the GIL is released for each call, so Python's cost
is a few microseconds per chunk of up to a pipe's size (a 1 GB download moves in
about 2,400 calls). Measured on a busy 2-core VM with a busybox httpd download of
1 GB through the published port (bench/network.py): the forwarder spends 0.23 s
of CPU per GB against 0.51 s for podman's rootlessport, and the download runs at
1.14-1.25 x podman's speed; the rest of the cost is the two TCP connections, which
no forwarder avoids -- so once the container's server binds its published TCP port,
the server gets the host's port itself and the forwarder steps aside (redirect.py):
the download then runs at loopback speed. Threads come from a small pool that keeps
each thread's pipe for its next connection, and both sockets get TCP_NODELAY, so
that short requests are not held back (1.0-1.2 x podman's rate).

UDP is relayed datagram by datagram: one socket in the container per client
address, forgotten after a minute without traffic.

The threads are `_thread`'s (threading is not imported on podpy's run path).
The forwarder lives in the process that supervises the container: podpy itself
for a foreground container, the monitor for a detached one; stop() ends every
connection, as the container's end does.
"""

from __future__ import annotations

import _socket
import _thread
import errno
import fcntl
import os
import select
import time

from .hostports import Mapping, listen  # noqa: F401 - callers name them as portfwd.Mapping, portfwd.listen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .nsock import SocketSource

F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20         # the most an unprivileged process may ask for (fs.pipe-max-size)
SMALL_PIPE = 1 << 16        # when the user's pipe budget (fs.pipe-user-pages-soft) is spent
UDP_IDLE = 60.0
CONNECT_TIMEOUT = 10.0      # a container that does not accept holds no thread of ours longer
MAX_CONNECTIONS = 4096      # carried at once per container (two threads each): a container that
                            # opens its own port without end must not use up the user's processes
_POOL = 16
IDLE_THREADS = 16           # threads kept (with their pipes) for the next connections
IDLE_THREAD_TIME = 30.0     # seconds an idle thread waits for work before it ends


class _Worker:
    """A thread of the forwarder's pool: it keeps its pipe from one connection to the next
    (creating a thread and a pipe each time costs a fifth of a short connection)."""

    __slots__ = ("wake", "task", "pipe", "release")

    def __init__(self) -> None:
        self.wake = _thread.allocate_lock()
        self.wake.acquire()
        self.task: Any = None
        self.pipe: Optional[tuple[int, int]] = None
        self.release: Any = None   # frees the connection's place (MAX_CONNECTIONS) once it is over

    def drop_pipe(self) -> None:
        if self.pipe is not None:
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None


class Forwarder:
    """Moves the published ports' traffic into one container until stop()."""

    def __init__(self, listeners: list[tuple[_socket.socket, Mapping]], source: "SocketSource",
                 target: str) -> None:
        self.listeners = listeners
        self.source = source
        self.target = target
        self.family = _socket.AF_INET6 if ":" in target else _socket.AF_INET
        self.lock = _thread.allocate_lock()
        self.pool: dict[int, list[_socket.socket]] = {}
        self.live: set[_socket.socket] = set()
        self.idle: list[_Worker] = []
        self.stopped = False
        self.wake_r, self.wake_w = os.pipe2(os.O_CLOEXEC)
        self.small_pipes = False
        self.loops: list[Any] = []     # a lock per listening loop, held until it has closed its sockets
        # The listening sockets the accept loop serves: fd -> (socket, what serves a connection,
        # its argument): the host ports (into the container) and, once a process in the
        # container took a host port over (redirect.py), a socket in the container's namespace
        # on that port (out to the host's).
        self.accepting: dict[int, tuple[_socket.socket, Any, Any]] = {}
        self.changed_r, self.changed_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.redirect: Any = None
        self.generation = self.polled = 0   # changes to `accepting`, and the last one the loop saw
        self.connections = 0

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        tcp = [(s, m) for s, m in self.listeners if m.protocol == "tcp"]
        udp = [(s, m) for s, m in self.listeners if m.protocol == "udp"]
        for sock, m in tcp:
            sock.setblocking(False)
            self.accepting[sock.fileno()] = (sock, self._connection, m)
        for loop, items in ((self._accept_loop, tcp), (self._udp_loop, udp)):
            if items:
                running = _thread.allocate_lock()
                running.acquire()
                self.loops.append(running)
                _thread.start_new_thread(loop, (items, running))
        if self.redirect is not None:
            running = _thread.allocate_lock()
            running.acquire()
            self.loops.append(running)
            _thread.start_new_thread(self.redirect.serve, (running,))

    def stop(self) -> None:
        """No new connections, and every open one ends (as they would with the container)."""
        with self.lock:
            if self.stopped:
                return
            self.stopped = True
            live = list(self.live)
            pooled = [s for socks in self.pool.values() for s in socks]
            self.pool.clear()
            idle, self.idle = self.idle, []
        for worker in idle:
            worker.task = None
            worker.wake.release()
        try:
            os.write(self.wake_w, b"x")
        except OSError:
            pass
        for sock in live:
            try:
                sock.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass
        for sock in pooled:
            sock.close()
        self.source.close()
        # The host ports are free once stop() returns: a restart may bind them again at once.
        for running in self.loops:
            if running.acquire(timeout=2.0):
                running.release()
        for fd in (self.wake_r, self.wake_w, self.changed_r, self.changed_w):
            os.close(fd)

    # -- TCP -------------------------------------------------------------------------------

    def _accept_loop(self, _tcp: list[tuple[_socket.socket, Mapping]], running: Any) -> None:
        poller = select.poll()
        registered: set[int] = set()
        poller.register(self.wake_r, select.POLLIN)
        poller.register(self.changed_r, select.POLLIN)
        try:
            while not self.stopped:
                with self.lock:
                    # No poll(2) of ours runs now: the sockets taken since the last one are closed
                    # for good when their taker closes them (a sleeping poll holds a reference
                    # to each file it waits on, which would keep a host port bound).
                    self.polled = self.generation
                    now = set(self.accepting)
                for fd in registered - now:
                    poller.unregister(fd)
                for fd in now - registered:
                    poller.register(fd, select.POLLIN)
                registered = now
                for fd, _ev in poller.poll():
                    if fd == self.wake_r:
                        return
                    if fd == self.changed_r:
                        try:
                            os.read(fd, 512)
                        except OSError:
                            pass
                        continue
                    self._accept_all(fd)
        finally:
            with self.lock:
                socks = [entry[0] for entry in self.accepting.values()]
                self.accepting.clear()
            for sock in socks:
                sock.close()
            running.release()

    def _accept_all(self, fd: int) -> None:
        while not self.stopped:
            # Under the lock: a socket taken out of `accepting` (redirect.py) is not touched here
            # again, even while its fd number is reused.
            with self.lock:
                entry = self.accepting.get(fd)
                if entry is None:
                    return
                sock, serve, arg = entry
                try:
                    conn, _ = sock._accept()  # type: ignore[attr-defined]
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as exc:
                    if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        return
                    conn = -1
            if conn < 0:
                time.sleep(0.05)
                return
            client = _socket.socket(sock.family, _socket.SOCK_STREAM, 0, conn)
            with self.lock:
                full = self.connections >= MAX_CONNECTIONS
                if not full:
                    self.connections += 1
            if full:
                client.close()   # as a full listen queue would: the client tries again later
                continue
            client.setblocking(True)
            self._spawn(self._counted, serve, client, arg, sock)

    def _counted(self, me: _Worker, serve: Any, client: _socket.socket, arg: Any, listener: Any) -> None:
        """serve() one connection, which holds its place until both its directions are over."""
        done = [False]

        def release() -> None:
            with self.lock:
                if not done[0]:
                    done[0] = True
                    self.connections -= 1
        me.release = release
        try:
            serve(me, client, arg, listener)
        finally:
            if me.release is release:   # it ended before relay() took the place over
                release()
            me.release = None

    def add_listener(self, sock: _socket.socket, serve: Any, arg: Any) -> None:
        """Serve one more listening socket: serve(worker, client, arg, listener) per connection."""
        sock.setblocking(False)
        with self.lock:
            if self.stopped:
                sock.close()
                return
            self.accepting[sock.fileno()] = (sock, serve, arg)
        self._changed()

    def take_listener(self, match: Any) -> Optional[_socket.socket]:
        """Stop serving the listening socket for which match(serve, arg) holds; it is the
        caller's once this returns (the accept loop no longer waits on it)."""
        with self.lock:
            for fd, (sock, serve, arg) in list(self.accepting.items()):
                if match(serve, arg):
                    del self.accepting[fd]
                    break
            else:
                return None
            self.generation += 1
            wanted = self.generation
        self._changed()
        deadline = time.monotonic() + 2.0
        while self.polled < wanted and not self.stopped and time.monotonic() < deadline:
            time.sleep(0.0005)
        return sock

    def _changed(self) -> None:
        try:
            os.write(self.changed_w, b"x")
        except OSError:
            pass   # full: the loop has a wake-up pending anyway

    def _destination(self, inner: _socket.socket) -> str:
        """Where a socket in the container's namespace connects: the container's address, the
        socket bound to it first so that the connection stays on the container's loopback; once
        that address is gone (its network disconnected while another is connected), its loopback
        address, never the old address, which the remaining network's route would send out."""
        try:
            inner.bind((self.target, 0))
            return self.target
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                raise
        return "::1" if self.family == _socket.AF_INET6 else "127.0.0.1"

    def _socket(self, kind: int) -> _socket.socket:
        """A fresh socket in the container's namespace (taken from a small pool: one round trip
        to the helper per _POOL connections)."""
        with self.lock:
            if self.stopped:
                raise OSError(errno.ESHUTDOWN, "stopped")
            pool = self.pool.setdefault(kind, [])
            if not pool:
                pool.extend(self.source.sockets(self.family, kind, _POOL))
            return pool.pop()

    def socket_in(self, family: int, kind: int) -> _socket.socket:
        """One new socket in the container's namespace."""
        return self.source.sockets(family, kind, 1)[0]

    def _spawn(self, fn: Any, *args: Any) -> None:
        """fn(worker, *args) in a pool thread: an idle one, else a new one."""
        with self.lock:
            worker = self.idle.pop() if self.idle else None
        if worker is None:
            _thread.start_new_thread(self._work, (_Worker(), fn, args))
        else:
            worker.task = (fn, args)
            worker.wake.release()

    def _work(self, me: _Worker, fn: Any, args: tuple[Any, ...]) -> None:
        try:
            while True:
                try:
                    fn(me, *args)
                except Exception:  # noqa: BLE001 - one connection's trouble ends that connection
                    pass
                with self.lock:
                    if self.stopped or len(self.idle) >= IDLE_THREADS:
                        return
                    self.idle.append(me)
                if not me.wake.acquire(timeout=IDLE_THREAD_TIME):
                    with self.lock:
                        if me in self.idle:
                            self.idle.remove(me)
                            return
                    me.wake.acquire()   # taken from the pool meanwhile: its task is on the way
                if me.task is None:
                    return
                (fn, args), me.task = me.task, None
        finally:
            me.drop_pipe()

    def _connection(self, me: _Worker, client: _socket.socket, m: Mapping, _listener: Any = None) -> None:
        try:
            inner = self._socket(_socket.SOCK_STREAM)
        except OSError:
            client.close()
            return
        try:
            inner.settimeout(CONNECT_TIMEOUT)
            inner.connect((self._destination(inner), m.container_port))
            inner.settimeout(None)
            # The peers' own writes decide the segments: no Nagle delay added in between (as Go,
            # and so podman's rootlessport, does by default).
            inner.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            client.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            inner.close()
            client.close()   # the client sees the connection closed, as with podman
            return
        self.relay(me, client, inner)

    def relay(self, me: _Worker, client: _socket.socket, inner: _socket.socket) -> None:
        """Move bytes both ways between two connected sockets until both directions end."""
        with self.lock:
            if self.stopped:
                inner.close()
                client.close()
                return
            self.live.add(client)
            self.live.add(inner)
        state: list[Any] = [2, me.release]
        me.release = None
        self._spawn(self._pump, inner, client, state)
        self._pump(me, client, inner, state)

    def _pipe(self) -> tuple[int, int]:
        r, w = os.pipe2(os.O_CLOEXEC)
        size = SMALL_PIPE if self.small_pipes else PIPE_SIZE
        try:
            fcntl.fcntl(w, F_SETPIPE_SZ, size)
        except OSError:
            # The user's pipe pages are spent (many connections at once): smaller ones from now.
            self.small_pipes = True
            try:
                fcntl.fcntl(w, F_SETPIPE_SZ, SMALL_PIPE)
            except OSError:
                pass
        return r, w

    def _pump(self, me: _Worker, src: _socket.socket, dst: _socket.socket, state: list[Any]) -> None:
        """src -> dst until src's end of file (passed on as a half-close) or an error (which
        ends both directions)."""
        splice = os.splice
        s_fd, d_fd = src.fileno(), dst.fileno()
        try:
            if me.pipe is None:
                me.pipe = self._pipe()
            r, w = me.pipe
            while True:
                n = splice(s_fd, w, PIPE_SIZE)
                if n == 0:
                    dst.shutdown(_socket.SHUT_WR)
                    break
                while n:
                    n -= splice(r, d_fd, n)
        except OSError:
            me.drop_pipe()   # it may hold bytes of this connection
            for s in (src, dst):
                try:
                    s.shutdown(_socket.SHUT_RDWR)
                except OSError:
                    pass
        finally:
            with self.lock:
                state[0] -= 1
                last = state[0] == 0
                if last:
                    self.live.discard(src)
                    self.live.discard(dst)
            if last:
                src.close()
                dst.close()
                if state[1] is not None:
                    state[1]()

    # -- UDP -------------------------------------------------------------------------------

    def _udp_loop(self, udp: list[tuple[_socket.socket, Mapping]], running: Any) -> None:
        poller = select.poll()
        listeners = {}
        for sock, m in udp:
            sock.setblocking(False)
            poller.register(sock.fileno(), select.POLLIN)
            listeners[sock.fileno()] = (sock, m)
        poller.register(self.wake_r, select.POLLIN)
        flows: dict[tuple[int, Any], list[Any]] = {}     # (listener fd, client) -> [inner, last use]
        inner_fds: dict[int, tuple[_socket.socket, Any, _socket.socket]] = {}
        last_sweep = time.monotonic()
        try:
            while not self.stopped:
                for fd, _ev in poller.poll(5000):
                    if fd == self.wake_r:
                        return
                    if fd in listeners:
                        sock, m = listeners[fd]
                        self._udp_in(sock, m, fd, flows, inner_fds, poller)
                    elif fd in inner_fds:
                        inner, client, sock = inner_fds[fd]
                        try:
                            data = inner.recv(65536)
                            sock.sendto(data, client)
                            flows[(sock.fileno(), client)][1] = time.monotonic()
                        except (BlockingIOError, InterruptedError):
                            pass
                        except OSError:
                            pass
                now = time.monotonic()
                if now - last_sweep > 10:
                    last_sweep = now
                    for key, flow in list(flows.items()):
                        if now - flow[1] > UDP_IDLE:
                            del flows[key]
                            inner_fds.pop(flow[0].fileno(), None)
                            poller.unregister(flow[0].fileno())
                            flow[0].close()
        finally:
            for flow in flows.values():
                flow[0].close()
            for sock, _ in udp:
                sock.close()
            running.release()

    def _udp_in(self, sock: _socket.socket, m: Mapping, fd: int, flows: dict[tuple[int, Any], list[Any]],
                inner_fds: dict[int, tuple[_socket.socket, Any, _socket.socket]], poller: Any) -> None:
        while True:
            try:
                data, client = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            flow = flows.get((fd, client))
            if flow is None:
                try:
                    inner = self._socket(_socket.SOCK_DGRAM)
                    inner.connect((self._destination(inner), m.container_port))
                except OSError:
                    continue
                inner.setblocking(False)
                flow = flows[(fd, client)] = [inner, time.monotonic()]
                inner_fds[inner.fileno()] = (inner, client, sock)
                poller.register(inner.fileno(), select.POLLIN)
            flow[1] = time.monotonic()
            try:
                flow[0].send(data)
            except OSError:
                pass


def forwarder(listeners: list[tuple[_socket.socket, Mapping]], source: "SocketSource", target: str,
              notify: int = -1, netns: int = 0, loopback_open: bool = False) -> Optional[Forwarder]:
    """A started forwarder, or None when there is nothing to forward. notify: the container's
    bind(2) listener (bindnotify.py), whose calls on published ports take the host ports over
    (redirect.py); netns: the inode of the container's network namespace; loopback_open: the
    container reaches the host's loopback anyway (the host sockets need no guard)."""
    if not listeners:
        source.close()
        if notify >= 0:
            from .bindnotify import pass_through

            pass_through(notify)   # closed, it would fail the container's binds
        return None
    fwd = Forwarder(listeners, source, target)
    if notify >= 0:
        from .redirect import Redirect

        fwd.redirect = Redirect(fwd, notify, netns, loopback_open)
    fwd.start()
    return fwd
