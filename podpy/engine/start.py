"""Starting a container: in the foreground (`run`, `start -a`), supervised by this podpy,
or detached, handed to the user's monitor (podpy/monitor/).

A foreground container: this process forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2
to the container's PID 1, relays the pty with -t, waits, and records the exit code (or
removes everything with --rm). If podpy is killed, stage 1 and the init die with it
(PDEATHSIG) and the next command finds the row with a dead owner.

A detached container: the spec goes to the container's runtime directory, the monitor's
launcher starts it, and the monitor owns the row while it runs. When its init exits, the
monitor writes `exit` (the code and the time) into the runtime directory and runs `podpy
container cleanup ID` (lifecycle.cleanup).

An initialized container (`init`): a detached start whose init stops before its exec and
waits, under the monitor, for `start` to release it (the monitor's "release").
"""

from __future__ import annotations

import os
import signal
import sys

from ..errors import EngineError, ExecFailed, InvalidArgument, translate
from ..network.options import MAX_PUBLISHED
from ..state import ContainerRecord, process_start_time
from .container import EXIT_FILE, Container
from .context import Runtime
from .forward import Forwarder
from .spec import builder, etc_files, write_etc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from rootless.ahead import Ahead
    from ..network.start import NetStart

LOG_FILE = "ctr.log"


def container_cgroup(ctr: Container, warn: Callable[[str], None]) -> Optional[str]:
    """Make the container's cgroup in the delegated subtree (under --cgroup-parent when given)
    and apply its limits; None when no cgroup can be made here (said in a warning when it
    matters: limits asked for, or a parent that is not ours)."""
    from rootless import cgroups

    from .cgroupopts import limit_flags

    rec = ctr.rec
    cfg = rec.config
    if cfg.cgroups_mode == "disabled":
        if cfg.limits:
            warn(f"{limit_flags(list(cfg.limits))} ignored: --cgroups disabled gives the container no cgroup")
        return None
    info = cgroups.detect()
    parent: Optional[str] = info.path if info.writable else None
    why = info.reason
    if cfg.pod and not cfg.cgroup_parent:
        # below the pod's own cgroup, whose limits bind the pod's containers together
        from .podcgroup import ensure
        from .podstore import PodStore

        pod = PodStore(ctr.rt.db).get(cfg.pod)
        pod_dir = ensure(pod, warn) if pod is not None else None
        if pod_dir is not None:
            parent = pod_dir
    if cfg.cgroup_parent and info.mount:
        wanted = os.path.join(info.mount, cfg.cgroup_parent.strip("/"))
        try:
            os.makedirs(wanted, exist_ok=True)
            parent = wanted
        except OSError as exc:
            parent, why = None, f"cannot create {wanted}: {exc.strerror}"
            warn(f"--cgroup-parent ignored: {why}")
    if parent is None:
        if cfg.limits:
            warn(f"{limit_flags(list(cfg.limits))} ignored: containers get no cgroup here ({why})")
        return None
    # --cgroups split: the caller's cgroup (a unit's) is shared between the container's monitor,
    # which stays there, and the container, in a child named as podman names its payload's
    name = f"podpy-payload-{rec.id}" if cfg.cgroups_mode == "split" else f"podpy-{rec.id}"
    try:
        path = cgroups.make(parent, name)
    except OSError as exc:
        warn(f"the container runs without a cgroup: cannot create one in {parent}: {exc.strerror}")
        return None
    missing = cgroups.apply_limits(path, cfg.limits) if cfg.limits else []
    for ctrl in missing:
        flags = limit_flags([k for k in cfg.limits if cgroups.limit_file(k)[0] == ctrl])
        warn(f"{flags} ignored: the {ctrl} controller is not delegated to {parent}")
    ctr.set_cgroup(path)
    return path


def log_path(rt: Runtime, rec: ContainerRecord) -> str:
    return rec.config.log_opts.get("path") or os.path.join(rt.store.container_dir(rec.id), LOG_FILE)


def _podpy_command(rt: Runtime, *args: str) -> dict[str, Any]:
    """A podpy command line (for the monitor to run) on this store, with the global flags that
    decide how the store opens and where events go (podman passes its own to the clean-up too)."""
    cfg = rt.cfg
    flags = [f"--events-backend={cfg.events_backend}"]
    if cfg.storage_opts is not None:   # "--storage-opt=": none, not storage.conf's
        flags += [f"--storage-opt={o}" for o in cfg.storage_opts] or ["--storage-opt="]
    if cfg.tmpdir:
        flags.append(f"--tmpdir={cfg.tmpdir}")
    # -P: podpy from PYTHONPATH (python_env), never from the directory the monitor runs in
    argv = [sys.executable, "-P", "-m", "podpy", "--root", cfg.root, "--runroot", cfg.runroot,
            "--storage-driver", rt.store.driver.name, *flags, *args]
    from ..monitor.client import python_env

    return {"argv": argv, "env": python_env()}


def _cleanup_command(rt: Runtime, cid: str) -> dict[str, Any]:
    return _podpy_command(rt, "container", "cleanup", cid)


def container_spec(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None],
                   console: Optional[tuple[int, int]], net: NetStart) -> dict[str, Any]:
    """The runtime spec of this start of rec, its /etc files written into its runtime
    directory on the way."""
    specs = builder(rt)
    rootfs = specs.rootfs(rec)
    uts = rec.config.uts_mode
    uts_hostname = ""
    if uts == "host" or uts.startswith("container:"):
        from .kernelopts import uts_hostname as shared_hostname

        uts_hostname = shared_hostname(rt, uts)
    etc = write_etc(rt.container_run_dir(rec.id), etc_files(rec, net.etc, uts_hostname))
    if specs.mappings is not None and specs.mappings.warning:
        warn(specs.mappings.warning)
    spec = specs.container(rec, rootfs, etc, console, net)
    _hooks(rt, rec, spec, warn)
    return spec


def _hooks(rt: Runtime, rec: ContainerRecord, spec: dict[str, Any], warn: Callable[[str], None]) -> None:
    """The OCI hooks that match the container, into its spec; the poststop ones also into
    its runtime directory, for its exit (Container.exited) to run."""
    from . import hooks

    hooks.attach(spec, rt.cfg.hooks_dirs, rec.id, rt.store.container_dir(rec.id), bool(rec.config.mounts), warn)
    path = os.path.join(rt.container_run_dir(rec.id), hooks.POSTSTOP_FILE)
    if (spec.get("hooks") or {}).get("poststop"):
        hooks.save_poststop(spec, path)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _write_spec(path: str, spec: dict[str, Any]) -> None:
    """The runtime spec for the monitor's launcher (marshal: the monitor imports no json)."""
    import marshal

    tmp = f"{path}.tmp-{os.getpid()}"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "wb") as f:
        marshal.dump(spec, f)   # the environment may hold secrets: the user's alone
    os.replace(tmp, path)


def start_dependencies(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None],
                       seen: Optional[set[str]] = None) -> None:
    """Start, detached, the containers rec depends on (whose namespaces it joins, and those it
    --requires; theirs first) that do not run, as podman does: a pod's infra container before
    its members."""
    from ..errors import InvalidState
    from ..state import PAUSED, RUNNING
    from .container import shared_with

    seen = seen if seen is not None else {rec.id}
    for cid in sorted(shared_with(rec)):
        dep = rt.state.get(cid)
        if dep is None and cid in rec.config.requires:
            raise InvalidArgument(f"container {rec.name} requires container {cid[:12]}, which is gone")
        if dep is None or cid in seen or dep.state in (RUNNING, PAUSED):
            continue   # a missing one is named by the start itself
        seen.add(cid)
        start_dependencies(rt, dep, warn, seen)
        try:
            start_detached(rt, dep, warn)
        except InvalidState:
            current = rt.state.get(cid)
            if current is None or current.state not in (RUNNING, PAUSED):
                raise   # not another command's start of it meanwhile


def start_detached(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None],
                   by_policy: bool = False, hold: bool = False,
                   console: Optional[tuple[int, int]] = None) -> ContainerRecord:
    """Start a created, exited or initialized container under the monitor; returns its row
    once it runs. by_policy: a restart policy's start, which a `stop` meanwhile cancels; hold:
    `init`, set it up and leave its process waiting to exec (initialized); console: the
    terminal's first size (rows, columns) for a container with one (24x80 otherwise)."""
    from ..network.start import NetStart
    from ..state import INITIALIZED

    if rec.state == INITIALIZED and not hold:
        return release(rt, rec, warn)
    start_dependencies(rt, rec, warn)
    ctr = Container(rt, rec)
    rec = ctr.claim_start(detached=True, by_policy=by_policy)
    from . import runfiles

    if not runfiles.own_monitor(rec.config):
        from ..monitor.client import prestart

        prestart(rt.cfg.runroot)   # its start-up overlaps the spec's making
    cfg = rec.config
    net = None
    try:
        net = NetStart(rt, rec)
        spec = container_spec(rt, rec, warn, (console or (24, 80)) if cfg.tty else None, net)
        run_dir = rt.container_run_dir(rec.id)
        try:
            os.unlink(os.path.join(run_dir, EXIT_FILE))
        except FileNotFoundError:
            pass
        slirp = None
        if net.slirp is not None:
            s = net.slirp
            slirp = {"mtu": s.mtu, "cidr": s.cidr, "allow_host_loopback": s.allow_host_loopback,
                     "enable_ipv6": s.enable_ipv6, "outbound_addr": s.outbound_addr, "extra": list(s.extra)}
        listeners = net.bind()
        if len(listeners) > MAX_PUBLISHED:   # checked at create too
            raise InvalidArgument(f"at most {MAX_PUBLISHED} published ports ({len(listeners)} asked for)")
        # --log-driver passthrough: the container writes to this command's stdout and stderr
        # (the monitor starts it with them), as podman's conmon passes its own on
        stdio = [0, 1, 2] if cfg.log_driver == "passthrough" and not cfg.tty else []
        log = {"driver": cfg.log_driver, "path": log_path(rt, rec), "name": rec.name,
               "max_size": int(cfg.log_opts.get("max-size") or 0)}
        cgroup = container_cgroup(ctr, warn)
        health = None
        if cfg.healthcheck:
            health = {"interval": float(cfg.healthcheck["interval"]),
                      **_podpy_command(rt, "healthcheck", "run", rec.id), **_startup_schedule(rt, rec)}
        # A systemd unit's container (or one asked to keep its monitor out of podpy's hands)
        # gets a monitor of its own, in this command's cgroup: the unit's main process.
        own = runfiles.own_monitor(cfg)
        root = rt.cfg.runroot
        if own:
            from ..monitor.client import own_root

            root = own_root(run_dir)
            os.makedirs(root, mode=0o700, exist_ok=True)
        notify = runfiles.notify_request(cfg, run_dir, spec)
        spec_path = os.path.join(run_dir, "spec")
        _write_spec(spec_path, spec)
        process = spec["process"]
        # Our copies of the host ports' sockets close once sent: a server in the container that
        # takes its port over (rootless.network.redirect) may have to bind it anew.
        from ..monitor.client import request

        needs = [f for f, wanted in (("stdio", stdio), ("timeout", cfg.timeout),
                                     ("journald", cfg.log_driver == "journald"), ("hold", hold)) if wanted]
        if needs:
            _check_monitor(root, needs, own)

        reply = request(root, "launch", own=own, fds=stdio + listeners, sent=net.close_listeners,
                         again=lambda: stdio + net.bind(), id=rec.id, spec_path=spec_path, stdio=len(stdio),
                         timeout=cfg.timeout,
                         process={"stdin": bool(process.get("stdin")), "terminal": bool(process.get("terminal"))},
                         userns=any(ns["type"] == "user" for ns in spec["linux"].get("namespaces", [])),
                         slirp=slirp, log=log,
                         cgroup=cgroup, exit_path=os.path.join(run_dir, EXIT_FILE),
                         cleanup=_cleanup_command(rt, rec.id), health=health, net=net.monitor_request(),
                         hold=hold, notify=notify)
    except BaseException as exc:
        if net is not None:
            net.stop()
        ctr.start_failed()
        raise _failure(exc, rec.id) if isinstance(exc, Exception) else exc
    net.stop()   # our copies of the listeners: the monitor has its own
    monitor = int(reply["monitor"])
    if reply.get("cgroup_error") and rec.cgroup:
        # The monitor runs in a cgroup from which this one cannot be reached (it was started
        # from elsewhere): the container runs, without its cgroup.
        warn(f"the container runs without its cgroup: {reply['cgroup_error']} (the container monitor "
             "was started from a cgroup that does not reach this one)")
        from rootless import cgroups

        cgroups.remove(rec.cgroup, timeout=0)
        ctr.set_cgroup(None)
    if hold:
        ctr.initialized(int(reply["pid"]), monitor, process_start_time(monitor))
        return ctr.rec
    ctr.handed_over(int(reply["pid"]), monitor, process_start_time(monitor), by_policy)
    runfiles.write_pidfiles(cfg, int(reply["pid"]), monitor, warn)
    try:   # what a generated unit's PIDFile= names
        runfiles.write_pidfile(os.path.join(run_dir, runfiles.MONITOR_PID_FILE), monitor)
    except InvalidArgument as exc:
        warn(str(exc))
    if notify is not None and notify["mode"] in ("container", "healthy"):
        # under systemd, `run -d` returns once the container is ready (its own READY=1, or its
        # first passing healthcheck), which its monitor has passed on
        if request(root, "ready", own=own, id=rec.id).get("type") != "ready":
            raise EngineError(f"container {rec.name} exited before it was ready (--sdnotify {notify['mode']})")
    return ctr.rec


def release(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None]) -> ContainerRecord:
    """`start` of an initialized container: its monitor lets the waiting process exec; returns
    the row once it has. If it could not, the container is back to `created`, as after any
    failed start."""
    import json

    from rootless.errors import from_wire

    from ..monitor.client import request

    from . import runfiles

    ctr = Container(rt, rec)
    rec = ctr.claim_release()
    own = runfiles.own_monitor(rec.config)     # `init` under systemd: the unit's own monitor holds it
    root = rt.cfg.runroot
    if own:
        from ..monitor.client import own_root

        root = own_root(rt.container_run_dir(rec.id))
    try:
        reply = request(root, "release", own=own, id=rec.id)
        if reply.get("type") == "failed":
            raise from_wire(json.loads(bytes(reply["reply"]))["error"])
    except BaseException as exc:
        ctr.start_failed()
        raise _failure(exc, rec.id) if isinstance(exc, Exception) else exc
    monitor = int(reply["monitor"])
    ctr.handed_over(rec.pid or int(reply["pid"]), monitor, process_start_time(monitor), False)
    runfiles.write_pidfiles(rec.config, int(reply["pid"]), monitor, warn)   # the monitor told systemd
    return ctr.rec


def init(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None]) -> ContainerRecord:
    """`init`: a created or exited container set up as `start` would, its process waiting to
    exec until `start`; any other state is podman's error."""
    from ..errors import InvalidState
    from .container import STARTABLE

    if rec.state not in STARTABLE:
        raise InvalidState(f"container {rec.id} has already been created in runtime: container state improper")
    return start_detached(rt, rec, warn, hold=True)


_FEATURE_FLAGS = {"stdio": "--log-driver passthrough", "timeout": "--timeout", "journald": "--log-driver journald",
                  "hold": "`init`"}


def _check_monitor(runroot: str, needs: list[str], own: bool = False) -> None:
    """A detached start that asks the monitor for more than its first protocol: the running
    monitor (one per user, started by whichever podpy came first) must know it; an older one
    would take the request for something else."""
    from ..monitor.client import request

    reply = request(runroot, "ping", own=own)
    missing = [f for f in needs if f not in (reply.get("features") or [])]
    if missing:
        flags = ", ".join(_FEATURE_FLAGS[f] for f in missing)
        raise EngineError(f"the container monitor that runs (pid {reply.get('pid')}), started by an older podpy, "
                          f"does not support {flags} for detached containers: retry once the containers it "
                          "supervises have exited (it leaves then)")


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
    from functools import partial

    from rootless import parent, tty
    from storage.fsutil import remove_tree

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
            console = tty.window_size(0) if cfg.tty else None
            spec = container_spec(rt, rec, warn, console, net)
            cdir = rt.store.container_dir(rec.id)
            listening = tuple(net.bind())
            cgroup = container_cgroup(ctr, warn)
            log, stdio = _foreground_log(rt, rec, pipes)
            if streams is not None and not stdio and not cfg.tty:
                # unlogged (--rm): what is not shown goes to /dev/null
                stdio = tuple(os.dup(fd) if name in streams else os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
                              for fd, name in ((1, "stdout"), (2, "stderr")))
            options = parent.LaunchOptions(
                slirp=net.slirp,
                cgroup_procs=os.path.join(cgroup, "cgroup.procs") if cgroup else None,
                after_exit=(partial(_remove_rootfs_container, cdir) if cfg.rootfs else partial(remove_tree, cdir))
                if cfg.remove else None,
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
                container.signal(signal.SIGKILL)
                container.wait()
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
                with tty.RawMode(0):
                    tty.relay(container.pty_master, stdin_open=cfg.interactive,
                              escape=_refuse_detach(detach_keys) if detach_keys else None,
                              copy=None if log is None else partial(log.write, "stdout"))
                os.close(container.pty_master)
            elif pipes:
                _relay_logged(pipes, log, streams)
            code = container.wait()
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
                container.signal(signal.SIGKILL)
                container.wait()
            net.stop()
            if timer is not None and timer.fired:
                container.exit_code = code = -1   # podman's record of a container its --timeout killed
            ctr.exited(container.exit_code)
    return code


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


def _foreground_log(rt: Runtime, rec: ContainerRecord, pipes: list[int]) -> tuple[Any, tuple[int, ...]]:
    """A foreground container's log, as podman keeps one for every container: (the log file,
    the write ends of the pipes that become its stdout and stderr; their read ends go to
    pipes). A --rm container's log would go with it: its output goes straight to ours, not
    through a relay; so does every container's with another --log-driver than k8s-file (none,
    passthrough). With a terminal the
    pty's relay copies what it shows (no pipes)."""
    cfg = rec.config
    if cfg.remove or cfg.log_driver not in (None, "", "k8s-file"):
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
        self.old = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, seconds)

    def _fire(self, _sig: int, _frame: object) -> None:
        self.fired = True
        self.container.signal(signal.SIGKILL)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.old)


DETACH_REFUSED = (b"\r\npodpy: cannot detach from a container running in the foreground (nothing would "
                  b"supervise it): run it with -d, then `podpy attach` to it, to be able to detach\r\n")


def _refuse_detach(keys: bytes) -> Any:
    """The detach keys typed in a foreground `run -t` (ctrl-p,ctrl-q unless --detach-keys): podman
    leaves the container running under conmon, but a foreground container's supervisor is this
    podpy (its stage 1 and init die with it), and the user's monitor cannot adopt a process that
    is not its child. So the keys are taken, as podman takes them, and a line says why nothing
    happens."""
    return (keys, lambda: os.write(2, DETACH_REFUSED))


def _startup_schedule(rt: Runtime, rec: ContainerRecord) -> dict[str, Any]:
    """A startup healthcheck's interval, used until its marker file appears (health.run)."""
    startup = rec.config.healthcheck.get("startup")
    if not startup:
        return {}
    from .healthstate import startup_marker

    return {"startup_interval": float(startup["interval"]), "startup_marker": startup_marker(rt, rec)}


def health_interval(health: dict[str, Any]) -> float:
    """The time to the next check: the startup check's until it has passed, then the regular one's."""
    if health.get("startup_interval") and not os.path.exists(str(health.get("startup_marker"))):
        return float(health["startup_interval"])
    return float(health["interval"])


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


def _failure(exc: Exception, cid: str) -> Exception:
    """The start's error as podpy reports it; the set-up names no container, podman's
    message about the working directory does."""
    err = translate(exc)
    text = str(err)
    if text.startswith('workdir "') and text.endswith("exists on container, but is not a directory"):
        return ExecFailed(text.replace("exists on container,", f"exists on container {cid},"), 126)
    return err
