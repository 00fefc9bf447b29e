"""A container started in the foreground (`run` without -d, `start -a`): this command is its
supervisor. It relays and logs the container's output, passes signals on (--sig-proxy), runs
its healthchecks and --timeout, and tears it down after --rm; the container's exit code is
the command's. The detached start, which the monitor supervises, is start.py's."""

from __future__ import annotations

import _signal
import os

from ..state import ContainerRecord
from .container import Container
from .context import Runtime
from .forward import Forwarder
from .etcfiles import file_mount_points
from .spec import builder
from .start import (_failure, _podpy_command, _startup_schedule, container_cgroup, container_etc, container_spec,
                    health_interval, log_path, start_dependencies)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from rootless.ahead import Ahead


def _started(cfg: Any, pid: int, supervisor: int, main_pid: int, warn: Callable[[str], None]) -> None:
    """A container runs: its pid files written, systemd told (--sdnotify) when it listens."""
    if cfg.pidfile or cfg.conmon_pidfile or (cfg.sdnotify != "ignore" and os.environ.get("NOTIFY_SOCKET")):
        from . import runfiles

        runfiles.write_pidfiles(cfg, pid, supervisor, warn)
        runfiles.notify_ready(cfg, main_pid)


def start_attached(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None],
                   ahead: Optional["Ahead"] = None, sig_proxy: bool = True,
                   detach_keys: Optional[bytes] = None, streams: Optional[set[str]] = None) -> int:
    """Start a created or exited container in the foreground; its exit code. ahead: a stage 1
    forked early (rootless/ahead.py) for launch to use when it fits the spec; sig_proxy: pass
    the signals podpy receives on to it (else they are ignored while it runs); detach_keys:
    the keys whose detaching a terminal's relay refuses (see _refuse_detach); streams: the
    outputs shown (-a/--attach: "stdout", "stderr"; None: both), the others still logged."""
    from rootless import parent

    start_dependencies(rt, rec, warn)
    ctr = Container(rt, rec)
    rec = ctr.claim_start(detached=False)
    cfg = rec.config
    container = None
    net = None
    log = None
    pipes: list[int] = []
    with Forwarder(proxy=sig_proxy) as fwd:
        try:
            from ..network.start import NetStart

            net = NetStart(rt, rec)
            rootfs = builder(rt).rootfs(rec)
            etc = None
            if ahead is not None:
                ahead.prepare(rootfs)   # stage 1 mounts it while the spec is made
                etc = container_etc(rt, rec, net)
                ahead.mount_points(file_mount_points(rec, etc))   # and makes the /etc files' mount points
            console = _window_size() if cfg.tty else None
            spec = container_spec(rt, rec, warn, console, net, rootfs, etc)
            cdir = rt.store.container_dir(rec.id)
            # --rm: stage 1 removes the container's directory once the container is over; it
            # moves it aside at once and removes it after telling us (storage/staging.discard),
            # with the runtime directory, unless its exit runs poststop hooks from there
            after_exit = ((__name__, "_remove_rootfs_container", (cdir,)) if cfg.rootfs
                          else ("storage.staging", "discard", (cdir, rt.store.root, *_run_dir_after(rt, rec, spec)))
                          ) if cfg.remove else None
            cgroup = container_cgroup(ctr, warn)
            if ahead is not None and not ahead.give(spec, after_exit, cgroup):
                ahead = None   # it did not fit: launch forks a stage 1 of its own
            # (a stage 1 given its spec mounts the root file system and forks the init into its
            # cgroup meanwhile)
            listening = tuple(net.bind())
            log, stdio = _foreground_log(rt, rec, pipes)
            if streams is not None and not stdio and not cfg.tty:
                # unlogged (--rm): what is not shown goes to /dev/null
                stdio = tuple(os.dup(fd) if name in streams else os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
                              for fd, name in ((1, "stdout"), (2, "stderr")))
            options = parent.LaunchOptions(
                slirp=net.slirp,
                cgroup_procs=os.path.join(cgroup, "cgroup.procs") if cgroup else None,
                after_exit=after_exit,
                on_pid=net.on_pid,
                close_fds=listening,
                stdio=stdio,
            )
            try:
                container = parent.launch(spec, options, ahead)
            finally:
                for fd in stdio:
                    os.close(fd)
            net.running(container)
        except BaseException as exc:
            if net is not None:
                net.stop()
            if container is not None:
                container.signal(_signal.SIGKILL)
                container.wait()
            elif ahead is not None:
                parent.abandon(ahead)   # given its spec, not launched: let it go and wait for it
            for fd in pipes:
                os.close(fd)
            if log is not None:
                log.close()
            ctr.start_failed()
            raise _failure(exc, rec.id) if isinstance(exc, Exception) else exc
        fwd.attach(container.signal)
        ctr.running(container.pid)
        _started(cfg, container.pid, os.getpid(), os.getpid(), warn)
        checks = _ForegroundHealth(rt, rec) if cfg.healthcheck else None
        timer = _Timeout(container, cfg.timeout) if cfg.timeout else None
        try:
            if container.pty_master is not None:
                from rootless import tty

                with tty.RawMode(0):
                    tty.relay(container.pty_master, stdin_open=cfg.interactive,
                              escape=_refuse_detach(detach_keys) if detach_keys else None,
                              copy=None if log is None else _writer(log, "stdout"))
                os.close(container.pty_master)
            elif pipes:
                _relay_logged(pipes, log, streams)
            code = container.wait(finish=False)   # stage 1 finishes (after_exit) meanwhile
        finally:
            for fd in pipes:
                os.close(fd)
            if log is not None:
                log.close()
            if timer is not None:
                timer.stop()
            if checks is not None:
                checks.stop()
            if container.exit_code is None:  # an exception in the relay: do not leave it running
                container.signal(_signal.SIGKILL)
                container.wait()
            net.stop()
            if timer is not None and timer.fired:
                container.exit_code = code = -1   # podman's record of a container its --timeout killed
            try:
                ctr.exited(container.exit_code, before_storage=container.finish)
            finally:
                container.finish()
    return code


def _run_dir_after(rt: Runtime, rec: ContainerRecord, spec: dict[str, Any]) -> tuple[str, ...]:
    """The runtime directory, for stage 1 to take with the container's at the end of a --rm
    run (its /etc files: three freed blocks, on a disk mounted with `discard` as many
    synchronous requests, that the exit need not wait for); nothing when the exit reads its
    poststop hooks from it. Whichever of stage 1 and Container._release comes first takes it."""
    if (spec.get("hooks") or {}).get("poststop"):
        return ()
    return (rt.container_run_dir(rec.id),)


def _writer(log: Any, stream: str) -> Callable[[bytes], Any]:
    """log.write for one stream (functools.partial's job, without importing functools)."""
    return lambda data: log.write(stream, data)


def _remove_rootfs_container(cdir: str) -> None:
    """--rm of a --rootfs container: its directory, unless the user's root file system is still
    mounted at merged/ in this mount namespace (never reach into the user's own directory)."""
    from storage.fsutil import remove_tree

    merged = os.path.join(cdir, "merged")
    try:
        with open("/proc/self/mountinfo") as f:
            if any(line.split()[4] == merged for line in f if len(line.split()) > 4):
                return
    except OSError:
        return
    remove_tree(cdir)


def _window_size() -> Optional[tuple[int, int]]:
    """The size of podpy's terminal, for a --tty container's console (rootless/tty.py, with
    termios, imported only for those)."""
    from rootless import tty

    return tty.window_size(0)


def _foreground_log(rt: Runtime, rec: ContainerRecord, pipes: list[int]) -> tuple[Any, tuple[int, ...]]:
    """A foreground container's log, as podman keeps one for every container: (the log file,
    the write ends of the pipes that become its stdout and stderr; their read ends go to
    pipes). A --rm container's log would go with it: its output goes straight to ours, not
    through a relay; so does every container's with another --log-driver than k8s-file (none,
    passthrough). With a terminal the
    pty's relay copies what it shows (no pipes)."""
    cfg = rec.config
    if cfg.remove or cfg.log_driver not in (None, "", "k8s-file", "json-file"):
        return None, ()
    from ..monitor.logfile import LogFile

    log = LogFile(log_path(rt, rec), int(cfg.log_opts.get("max-size") or 0))
    if cfg.tty:
        return log, ()
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pipes += [out_r, err_r]
    return log, (out_w, err_w)


def _relay_logged(pipes: list[int], log: Any, streams: Optional[set[str]] = None) -> None:
    """Copy the container's stdout and stderr to ours and to its log until both end (the
    container and whatever it started have closed them); each pipe is closed here and taken
    out of pipes when it ends. When our own end is gone (`podpy run ... | head`), that pipe
    is closed, so the container's next write fails as it would have on our stdout."""
    import select

    where = {pipes[0]: (1, "stdout"), pipes[1]: (2, "stderr")}
    while pipes:
        ready, _, _ = select.select(pipes, [], [])
        for fd in ready:
            data = os.read(fd, 65536)
            out, stream = where[fd]
            if data and streams is not None and stream not in streams:
                log.write(stream, data)   # -a without it: logged, not shown
                continue
            if data:
                log.write(stream, data)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(out, view):]
                    continue
                except OSError:
                    pass
            pipes.remove(fd)
            os.close(fd)


class _Timeout:
    """--timeout in the foreground: SIGKILL to the container after that many seconds (a timer
    signal to this process, whose handler runs while it waits for the container)."""

    def __init__(self, container: Any, seconds: int) -> None:
        self.container = container
        self.fired = False
        self.old = _signal.signal(_signal.SIGALRM, self._fire)
        _signal.setitimer(_signal.ITIMER_REAL, seconds)

    def _fire(self, _sig: int, _frame: object) -> None:
        self.fired = True
        self.container.signal(_signal.SIGKILL)

    def stop(self) -> None:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        _signal.signal(_signal.SIGALRM, self.old)


DETACH_REFUSED = (b"\r\npodpy: cannot detach from a container running in the foreground (nothing would "
                  b"supervise it): run it with -d, then `podpy attach` to it, to be able to detach\r\n")


def _refuse_detach(keys: bytes) -> Any:
    """The detach keys typed in a foreground `run -t` (ctrl-p,ctrl-q unless --detach-keys): podman
    leaves the container running under conmon, but a foreground container's supervisor is this
    podpy (its stage 1 and init die with it), and the user's monitor cannot adopt a process that
    is not its child. So the keys are taken, as podman takes them, and a line says why nothing
    happens."""
    return (keys, lambda: os.write(2, DETACH_REFUSED))


class _ForegroundHealth:
    """A foreground container's healthchecks: what the monitor does for detached ones (run
    `podpy healthcheck run ID` every --health-interval, one at a time), from a thread of the
    `podpy run` that waits for the container."""

    def __init__(self, rt: Runtime, rec: ContainerRecord) -> None:
        import threading

        self.command = _podpy_command(rt, "healthcheck", "run", rec.id)
        self.schedule = {"interval": float(rec.config.healthcheck["interval"]), **_startup_schedule(rt, rec)}
        # --sdnotify healthy under systemd: READY=1 (this podpy the MAINPID) at the first pass
        self.notify = rec.config.sdnotify == "healthy" and bool(os.environ.get("NOTIFY_SOCKET"))
        self.done = threading.Event()
        self.child = 0
        self.thread = threading.Thread(target=self._loop, name="healthcheck", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        null = os.open(os.devnull, os.O_RDWR)
        try:
            while not self.done.wait(health_interval(self.schedule)):
                try:
                    self.child = os.posix_spawn(
                        self.command["argv"][0], self.command["argv"], self.command["env"],
                        file_actions=[(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                                      (os.POSIX_SPAWN_DUP2, null, 2)], setsid=True)
                    _pid, status = os.waitpid(self.child, 0)
                    if self.notify and os.waitstatus_to_exitcode(status) == 0:
                        from .runfiles import send_notify

                        send_notify(f"MAINPID={os.getpid()}\nREADY=1\n")
                        self.notify = False
                except ChildProcessError:
                    pass
                except OSError:
                    return
                finally:
                    self.child = 0
        finally:
            os.close(null)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)
