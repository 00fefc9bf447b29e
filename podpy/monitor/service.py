"""The monitor: one process per user that supervises every detached container.

What conmon is to podman, but one for all of a user's containers rather than one
each (one Python process costs about 4 MB; ten of them would cost more than
podman's conmons, pause process and network helpers together). It is started
on demand by the first `run -d` (or `start`), lives in the user's runtime
directory (`monitor.sock`, `monitor.lock`) and exits shortly after its last
container has.

For each container it
- forks a short-lived launcher that starts the container (rootless.parent with
  `detach`): stage 1 exits once the init is forked, so the init is reparented
  to the monitor, a child subreaper, which reaps it;
- with `init`, keeps the channel to a container whose process waits before its exec
  (rootless.parent's hold), and says "start" on it when `podpy start` asks ("release");
- reads the container's stdout and stderr (or its terminal) and writes them to
  the log file in the k8s-file format (`TIME STREAM F|P TEXT`), rotating it at
  --log-opt max-size;
- holds slirp4netns's exit fd, so the network helper ends with the container;
- forwards the container's published ports (rootless.network.portfwd, imported and
  run in threads only while a container publishes ports), and ends pasta with it;
- when the init exits: writes `exit` (code and time) into the container's
  runtime directory and runs `podpy container cleanup ID`, which records the
  exit in the database and applies --rm and the restart policy.

The database is not opened here: the monitor stays small, and a monitor killed
with SIGKILL leaves containers that the next podpy command reports as exited
with an unknown code.

Requests arrive on a SOCK_SEQPACKET socket, one marshalled dict a message, file
descriptors alongside (SCM_RIGHTS). Besides podpy's own small modules (the channel,
the log writer) only modules written in C are imported here (no json, no signal's
enums): each Python module would stay resident in the monitor, and a bare python3 is
already most of its 5 MB.
"""

from __future__ import annotations

import _signal
import _socket
import fcntl
import marshal
import os
import sys
import time

from rootless import sync

from .channel import LOCK, SOCKET, Channel
from .container import LOG, Container, interval, spawn_command
from .logfile import LogFile
from .notify import notify_socket
from .readiness import Readiness
from .streams import Streams

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

# what a launch request may ask of this monitor beyond its first protocol (told in "pong"): a
# client asking for one checks first, as an older monitor would take it for something else
FEATURES = ["stdio", "timeout", "journald", "hold"]
IDLE_EXIT = 1.0          # seconds with no container and no client before the monitor leaves
OWN_IDLE_EXIT = 0.1      # a unit's own monitor: its one container is done, the unit may end
CLEANUP_WAIT = 30.0      # at most this long for a unit's monitor to wait for its clean-up commands
DRAIN = 2.0              # seconds to read what a dead container's processes still write
SPARE_IDLE = 1.0         # seconds a spare launcher waits for a launch before it is ended


class Monitor(Readiness, Streams, sync.Service):
    channel_class = Channel

    def __init__(self, runroot: str, own: bool = False) -> None:
        super().__init__(runroot, SOCKET, 256)
        self.idle_exit = OWN_IDLE_EXIT if own else IDLE_EXIT
        # a unit's monitor stays until the clean-up commands it ran are done: when the unit's
        # main process is gone, so is everything of the container's
        self.own = own
        self.cleanups: dict[int, float] = {}   # pid -> when it was started
        self.containers: dict[int, Container] = {}    # init pid -> container
        self.launching: dict[int, tuple[Container, Channel, Channel]] = {}   # launcher pid -> ...
        self.unclaimed: dict[int, tuple[int, float]] = {}   # reaped pids no container claimed yet
        self.idle_since = time.monotonic()
        self.last_code = 0           # the exit code of the last container (a unit's monitor leaves with it)
        self.stopped = False         # whether a `stop` ended it
        # a launcher forked ahead of the launch it will serve (pid, its channel, since when)
        self.spare: Optional[tuple[int, Channel, float]] = None
        self.behind: dict[Channel, Any] = {}   # attached clients' output not taken yet (streams.py)
        wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(self.wake_w)
        _signal.signal(_signal.SIGCHLD, lambda *_: None)
        for sig in (_signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE):
            _signal.signal(sig, _signal.SIG_IGN)
        self.watch(wake_r, lambda fd: self._drain_wakeups(fd))

    # -- the loop ----------------------------------------------------------------------------

    def serve(self) -> None:
        self.idle_since = time.monotonic()   # the idle time counts from here, not from set-up
        while True:
            now = time.monotonic()
            if self.own:
                self.cleanups = {pid: t for pid, t in self.cleanups.items() if now - t < CLEANUP_WAIT}
            if self.containers or self.launching or self.clients or self.cleanups:
                self.idle_since = now
            elif now - self.idle_since >= self.idle_exit:
                self.leave()
                return
            if self.spare is not None and now - self.spare[2] > SPARE_IDLE:
                self._end_spare()
            self.dispatch(250)
            self._timeouts()
            self._reap()
            self._finish_drained()
            self._healthchecks()

    def _drain_wakeups(self, fd: int) -> None:
        try:
            while os.read(fd, 512):
                pass
        except BlockingIOError:
            pass

    # -- clients -----------------------------------------------------------------------------

    def _drop(self, chan: Channel) -> None:
        self.unwatch(chan.fileno())
        chan.close()
        self.clients -= 1

    @staticmethod
    def _read(chan: Channel) -> Optional[dict[str, Any]]:
        """A client's next message (fds it should not have sent closed); None at its end."""
        try:
            msg, fds = chan.recv()
        except OSError:
            msg, fds = None, []
        for fd in fds:
            os.close(fd)
        return msg

    def _request(self, chan: Channel) -> None:
        try:
            msg, fds = chan.recv()
        except OSError:
            msg, fds = None, []
        if msg is None or msg.get("type") != "launch":
            for fd in fds:
                os.close(fd)
        if msg is None:
            self._drop(chan)
            return
        kind = msg.get("type")
        if kind == "ping":
            chan.send("pong", pid=os.getpid(), features=FEATURES)
        elif kind == "attach":
            self._attach(chan, str(msg.get("id")))
        elif kind == "release":
            self._release(chan, str(msg.get("id")))
        elif kind == "ready":
            self._wait_ready(chan, str(msg.get("id")))
        elif kind == "launch":
            self.unwatch(chan.fileno())   # the answer comes when the launcher reports
            self._launch(chan, msg, fds)
        elif kind == "spare":   # a launch is coming: no answer
            self.make_spare()
        else:
            self._reply(chan, "error", error={"kind": "setup", "message": f"monitor: unknown request {kind!r}"})

    # -- the spare launcher ------------------------------------------------------------------

    def make_spare(self) -> None:
        """Fork a launcher ahead of the launch it will serve, when none waits: its imports
        (rootless.parent and .child, about 10 ms) then run on the other CPU while the command
        that said a launch is coming makes the container's spec. Ended after SPARE_IDLE
        unused, so that idle containers cost no more than the monitor. A systemd unit's own
        monitor has none: it launches one container, right after it starts."""
        if self.spare is not None or self.own:
            return
        here, there = Channel.pair()
        pid = os.fork()
        if pid == 0:
            from .launcher import serve_spare

            serve_spare(there)
        there.close()
        self.spare = (pid, here, time.monotonic())

    def _end_spare(self) -> None:
        """Close the idle spare's channel: it leaves at the end of file (and is reaped)."""
        if self.spare is not None:
            self.spare[1].close()
            self.spare = None

    def _take_spare(self, msg: dict[str, Any], stdio: list[int]) -> Optional[tuple[int, Channel]]:
        """The spare launcher, handed this launch (its stdio along); None when there is none
        or it has gone."""
        spare, self.spare = self.spare, None
        if spare is None:
            return None
        pid, here, _since = spare
        try:
            here.send("launch", fds=stdio, msg=msg)
        except OSError:
            here.close()
            return None
        return pid, here

    # -- launching ---------------------------------------------------------------------------

    def _launch(self, client: Channel, msg: dict[str, Any], fds: list[int]) -> None:
        ctr = Container(str(msg["id"]), msg)
        # --log-driver passthrough: the client's stdin, stdout and stderr come first, for the
        # container's own; then the published ports' listeners
        given = int(msg.get("stdio") or 0)
        client_stdio, ctr.listeners = fds[:given], fds[given:]
        net = msg.get("net") or {}
        ctr.request["target"] = net.get("target")
        ctr.request["ports"] = net.get("ports") or []
        ctr.request["loopback_open"] = bool(net.get("loopback_open"))
        ctr.request["userns"] = bool(msg.get("userns"))
        process = msg.get("process") or {}
        stdio: list[int] = []
        keep: list[int] = []
        try:
            if client_stdio:
                # passthrough: the client's stdout and stderr, its stdin only when kept open
                stdio = [client_stdio[0] if process.get("stdin")
                         else os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), *client_stdio[1:3]]
            else:
                if process.get("stdin"):
                    in_r, in_w = os.pipe2(os.O_CLOEXEC)
                    ctr.stdin = in_w
                    stdio.append(in_r)
                else:
                    stdio.append(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
                if process.get("terminal"):
                    null = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
                    stdio += [null, os.dup(null)]   # the init opens its own terminal
                else:
                    for stream in ("stdout", "stderr"):
                        r, w = os.pipe2(os.O_CLOEXEC)
                        ctr.streams[r] = stream
                        keep.append(r)
                        stdio.append(w)
            log = msg.get("log") or {}
            if log.get("driver", "k8s-file") == "k8s-file" and log.get("path"):
                ctr.log = LogFile(log["path"], int(log.get("max_size") or 0))
            elif log.get("driver") == "journald":
                from .logfile import JournalLog

                ctr.log = JournalLog(ctr.id, str(log.get("name") or ""))
            if ctr.notify.get("proxy"):
                ctr.notify_sock = notify_socket(str(ctr.notify["proxy"]))
                self.watch(ctr.notify_sock.fileno(), lambda fd, ctr=ctr: self._notify_message(ctr))
            taken = self._take_spare(msg, stdio)
            if taken is None:
                here, there = Channel.pair()
        except OSError as exc:
            for fd in set(stdio + keep + client_stdio):
                os.close(fd)
            self._forget(ctr)
            client.send("error", error={"kind": "setup", "message": f"monitor: {exc}"})
            self._drop(client)
            return
        if taken is None:
            pid = os.fork()
            if pid == 0:
                from .launcher import launch

                launch(msg, stdio, there)
            there.close()
        else:
            pid, here = taken
        del msg, process
        for fd in set(stdio + client_stdio):
            os.close(fd)
        self.launching[pid] = (ctr, client, here)
        self.watch(here.fileno(), lambda fd, pid=pid: self._launched(pid))

    def _launched(self, launcher: int) -> None:
        ctr, client, here = self.launching[launcher]
        try:
            msg, fds = here.recv()
        except OSError:
            msg, fds = None, []
        self.unwatch(here.fileno())
        here.close()
        del self.launching[launcher]
        if msg is None or msg.get("type") != "started":
            error = (msg or {}).get("error") or {"kind": "setup", "message": "the container launcher died"}
            self._forget(ctr)
            self._reply(client, "error", error=error)
            return
        ctr.pid = int(msg["pid"])
        ctr.fuse_pid = msg.get("fuse_pid")
        names = list(msg.get("fd_names", []))
        ctr.pasta_pid = msg.get("pasta_pid")
        for name, fd in zip(names, fds):
            if name == "slirp_exit":
                ctr.slirp_exit = fd
            elif name == "bind_notify":
                ctr.bind_notify = fd
            elif name == "pty":
                os.set_blocking(fd, False)
                ctr.streams[fd] = "stdout"
                ctr.pty = fd
            elif name == "held":
                ctr.held = fd
                ctr.deadline = 0.0   # --timeout counts from the start
        for fd in ctr.streams:
            os.set_blocking(fd, False)
            self.watch(fd, lambda fd, ctr=ctr: self._output(ctr, fd))
        self.containers[ctr.pid] = ctr
        if ctr.listeners or ctr.bind_notify is not None:
            self._forward(ctr)
        early = self.unclaimed.pop(ctr.pid, None)
        if early is not None:   # it exited before its launcher's report was read
            ctr.exit_code = early[0]
            ctr.drain_until = time.monotonic() + DRAIN
        if ctr.held is None and ctr.notify.get("mode") == "conmon":
            self._ready(ctr)   # before the reply: `run -d` returns once systemd has been told
        self._reply(client, "started", pid=ctr.pid, monitor=os.getpid(), cgroup_error=msg.get("cgroup_error"),
                    held=ctr.held is not None)
        # for the next launch of a burst (pod members, `kube play`, scripts): forked once this
        # one is over, so that its imports do not take a CPU from the launch
        self.make_spare()

    # -- release (`start` of an initialized container) ---------------------------------------

    def _release(self, client: Channel, cid: str) -> None:
        """Say "start" to a held init; the answer comes once it has exec'd (its channel closes)
        or reported why it could not."""
        ctr = next((c for c in self.containers.values() if c.id == cid and c.exit_code is None), None)
        if ctr is None or ctr.held is None or ctr.releasing is not None:
            why = "is not running" if ctr is None else "is not initialized" if ctr.held is None else "is starting"
            client.send("error", error={"kind": "setup", "message": f"container {cid[:12]} {why}"})
            return
        self.unwatch(client.fileno())
        try:
            os.write(ctr.held, marshal.dumps({"type": "start"}))   # rootless.sync's message
        except OSError as exc:
            self._reply(client, "error", error={"kind": "setup", "message": f"starting the container: {exc}"})
            return
        ctr.releasing = client
        self.watch(ctr.held, lambda fd, ctr=ctr: self._released(ctr))

    def _released(self, ctr: Container) -> None:
        """The held init's answer: end of file once it has exec'd, else its error (a
        rootless.sync message, which the client reads)."""
        fd, client = ctr.held, ctr.releasing
        assert fd is not None and client is not None
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = marshal.dumps({"type": "error", "error": {"kind": "setup",
                                                             "message": "the container's process is gone"}})
        self.unwatch(fd)
        os.close(fd)
        ctr.held, ctr.releasing = None, None
        if data:
            self._reply(client, "failed", reply=data)
            return
        if ctr.timeout:
            ctr.deadline = time.monotonic() + ctr.timeout
        if ctr.health:
            ctr.health_due = time.monotonic() + interval(ctr.health)
        if ctr.notify.get("mode") == "conmon":
            self._ready(ctr)
        self._reply(client, "started", pid=ctr.pid, monitor=os.getpid())

    def _forward(self, ctr: Container) -> None:
        """Start forwarding the container's published ports, in threads, with a socket helper
        forked from here: it shares this process's pages, which live on, and so costs little
        memory of its own (a fork of the short-lived launcher would own everything the launcher
        imported). The modules are imported here, so a monitor whose containers publish nothing
        never loads them. Connections that come before the forwarder wait in the listen queue."""
        from rootless.network import nsock, portfwd

        notify, ctr.bind_notify = ctr.bind_notify, None
        try:
            netns = os.stat(f"/proc/{ctr.pid}/ns/net").st_ino if notify is not None else 0
            source = nsock.spawn(ctr.pid, bool(ctr.request.get("userns")), tied=False)
        except OSError:
            if notify is not None:
                os.close(notify)
            return   # the container is already gone: its exit closes the listeners
        mappings = [portfwd.Mapping.from_dict(p) for p in ctr.request.get("ports") or []]
        listeners = [(_socket.socket(fileno=fd), m) for fd, m in zip(ctr.listeners, mappings)]
        ctr.listeners = []
        ctr.forwarder = portfwd.forwarder(listeners, source, str(ctr.request["target"]),
                                          -1 if notify is None else notify, netns,
                                          bool(ctr.request.get("loopback_open")))

    def _reply(self, client: Channel, kind: str, **fields: Any) -> None:
        try:
            client.send(kind, **fields)
        except OSError:
            pass   # the client went away: the container runs all the same
        self._drop(client)

    def _forget(self, ctr: Container) -> None:
        for client in ctr.ready_waiters:
            self._reply(client, "exited")
        ctr.ready_waiters = []
        if ctr.notify_sock is not None:
            self.unwatch(ctr.notify_sock.fileno())
            ctr.notify_sock.close()
            ctr.notify_sock = None
        for client in list(ctr.attached):
            self._let_go(ctr, client, ctr.exit_code)
        for fd in list(ctr.streams):
            self.unwatch(fd)
            os.close(fd)
        ctr.streams.clear()
        if ctr.releasing is not None:
            self.unwatch(int(ctr.held or -1))
            self._reply(ctr.releasing, "error", error={"kind": "setup", "message": "the container exited"})
            ctr.releasing = None
        for fd in (ctr.stdin, ctr.slirp_exit, ctr.bind_notify, ctr.held, *ctr.listeners):
            if fd is not None:
                os.close(fd)
        ctr.stdin = ctr.slirp_exit = ctr.bind_notify = ctr.held = None
        ctr.listeners = []
        if ctr.forwarder is not None:
            ctr.forwarder.stop()
            ctr.forwarder = None
        if ctr.pasta_pid:
            from rootless.network.setup import stop_pasta

            stop_pasta(int(ctr.pasta_pid))
            ctr.pasta_pid = None
        if ctr.log is not None:
            ctr.log.close()
            ctr.log = None

    # -- exits -------------------------------------------------------------------------------

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
            self.cleanups.pop(pid, None)
            ctr = self.containers.get(pid)
            if ctr is None:
                self._health_result(pid, code)
                # A launcher, a stage 1, slirp4netns, a clean-up command, or an init whose
                # launcher's report is still unread: kept a while for the latter.
                now = time.monotonic()
                self.unclaimed[pid] = (code, now)
                for old, (_c, when) in list(self.unclaimed.items()):
                    if now - when > 60:
                        del self.unclaimed[old]
                continue
            ctr.exit_code = -1 if ctr.timed_out else code
            ctr.drain_until = time.monotonic() + DRAIN

    def _timeouts(self) -> None:
        """--timeout: SIGKILL to each container whose time is up (once)."""
        now = time.monotonic()
        for ctr in self.containers.values():
            if ctr.deadline and now >= ctr.deadline and ctr.exit_code is None:
                ctr.deadline = 0.0
                ctr.timed_out = True
                try:
                    os.kill(ctr.pid, _signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _finish_drained(self) -> None:
        now = time.monotonic()
        for pid, ctr in list(self.containers.items()):
            if ctr.exit_code is None or (ctr.streams and now < ctr.drain_until):
                continue
            del self.containers[pid]
            self._forget(ctr)
            self._exited(ctr)

    def _exited(self, ctr: Container) -> None:
        request = ctr.request
        if ctr.fuse_pid:
            try:
                os.kill(int(ctr.fuse_pid), _signal.SIGTERM)
            except ProcessLookupError:
                pass
        exit_path = request.get("exit_path")
        self.last_code = ctr.exit_code or 0
        self.stopped = bool(exit_path) and os.path.exists(os.path.join(os.path.dirname(exit_path), "stopping"))
        if exit_path:
            try:
                tmp = f"{exit_path}.tmp"
                with open(tmp, "w") as f:
                    f.write(f'{{"code": {ctr.exit_code}, "finished": {time.time()!r}}}\n')
                os.replace(tmp, exit_path)
            except OSError:
                pass   # the clean-up command reports the exit as unknown
        cleanup = request.get("cleanup")
        if cleanup:
            pid = spawn_command(cleanup, self.runroot)   # if it cannot run, the next podpy command records the exit from the file
            if pid and self.own:
                self.cleanups[pid] = time.monotonic()


def _take_lock(runroot: str) -> int:
    fd = os.open(os.path.join(runroot, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + 5
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)   # who serves, for people and tests
            return fd
        except BlockingIOError:
            # The holder serves when its socket answers (a second spawn, by a command that
            # found the socket missing while the first monitor was starting): leave at once,
            # not after the wait below. A holder that is leaving has unlinked its socket.
            served = sync.connect(runroot, SOCKET)
            if served is not None or time.monotonic() > deadline:
                if served is not None:
                    served.close()
                os.close(fd)
                return -1
            time.sleep(0.01)   # a monitor that is leaving: it is gone in a moment


def main() -> None:
    runroot = sys.argv[1]
    lock = _take_lock(runroot)
    if lock < 0:
        os._exit(0)   # another monitor serves this runtime directory
    # The spawner made us a child subreaper before exec (the setting survives execve), so
    # this process needs no ctypes.
    # A systemd unit's own monitor (`own`) is its main process: it leaves with its container's
    # exit code (0 after a `stop`), so that the unit fails when the container does.
    own = sys.argv[2:3] == ["own"]
    try:
        monitor = Monitor(runroot, own)
        monitor.make_spare()   # whoever started this monitor is about to ask for a launch
        monitor.serve()
        if own and not monitor.stopped:
            os._exit(monitor.last_code & 0xFF)
    except BaseException as exc:  # noqa: BLE001
        try:
            with open(os.path.join(runroot, LOG), "a") as f:
                f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} monitor failed: {type(exc).__name__}: {exc}\n")
        except OSError:
            pass
        raise
    os._exit(0)


if __name__ == "__main__":
    main()
