"""Starting a container: in the foreground (`run`, `start -a`), supervised by this podpy
(foreground.py), or detached, handed to the user's monitor (podpy/monitor/).

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
import sys

from ..errors import EngineError, ExecFailed, InvalidArgument, translate
from ..network.options import MAX_PUBLISHED
from ..state import ContainerRecord, process_start_time
from .container import EXIT_FILE, Container
from .context import Runtime
from .etcfiles import etc_files, write_etc
from .spec import builder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

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
            warn(_no_cgroup(cfg.limits, why))
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
        warn(_undelegated(cfg.limits, ctrl, parent))
    ctr.set_cgroup(path)
    return path


def _no_cgroup(limits: dict[str, str], why: str) -> str:
    from .cgroupopts import limit_flags

    return f"{limit_flags(list(limits))} ignored: containers get no cgroup here ({why})"


def _undelegated(limits: dict[str, str], ctrl: str, parent: str) -> str:
    from rootless import cgroups

    from .cgroupopts import limit_flags

    flags = limit_flags([k for k in limits if cgroups.limit_file(k)[0] == ctrl])
    return f"{flags} ignored: the {ctrl} controller is not delegated to {parent}"


def limit_warnings(rec: ContainerRecord) -> list[str]:
    """What container_cgroup will warn about the container's limits, told before it starts
    (the API's create gives them as Docker's Warnings, which the docker CLI prints): limits
    this host's cgroups cannot apply. A container in a pod or under --cgroup-parent is
    told at its start only."""
    from rootless import cgroups

    cfg = rec.config
    if not cfg.limits or cfg.pod or cfg.cgroup_parent or cfg.cgroups_mode == "disabled":
        return []
    info = cgroups.detect()
    if not info.writable or info.path is None:
        return [_no_cgroup(cfg.limits, info.reason)]
    wanted = {cgroups.limit_file(k)[0] for k in cfg.limits} - {"cgroup"}
    return [_undelegated(cfg.limits, ctrl, info.path) for ctrl in sorted(wanted - set(info.controllers))]


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


def container_etc(rt: Runtime, rec: ContainerRecord, net: NetStart) -> dict[str, str]:
    """This start's /etc files (and /run/.containerenv), written into the container's runtime
    directory: destination -> the file."""
    uts = rec.config.uts_mode
    uts_hostname = ""
    if uts == "host" or uts.startswith("container:"):
        from .kernelopts import uts_hostname as shared_hostname

        uts_hostname = shared_hostname(rt, uts)
    return write_etc(rt.container_run_dir(rec.id), etc_files(rec, net.etc, uts_hostname, rt.cfg.container_defaults,
                                                             joined_etc(rt, rec)))


def container_spec(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None],
                   console: Optional[tuple[int, int]], net: NetStart,
                   rootfs: Optional[dict[str, Any]] = None, etc: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The runtime spec of this start of rec, its /etc files written into its runtime
    directory on the way (rootfs: its root file system's description, when the caller has
    it from builder(rt).rootfs already; etc: its files, when the caller has them from
    container_etc already)."""
    if rec.config.user_error:   # its user unknown at its create: its start fails, 126 as podman's run
        raise ExecFailed(rec.config.user_error, 126)
    specs = builder(rt)
    if rootfs is None:
        rootfs = specs.rootfs(rec)
    if etc is None:
        etc = container_etc(rt, rec, net)
    if specs.mappings is not None and specs.mappings.warning:
        warn(specs.mappings.warning)
    spec = specs.container(rec, rootfs, etc, console, net)
    _hooks(rt, rec, spec, warn)
    return spec


def joined_etc(rt: Runtime, rec: ContainerRecord) -> Optional[dict[str, Optional[str]]]:
    """For a container in another's network namespace (--network container:, a pod's member):
    that one's /etc/hosts and /etc/resolv.conf as written for its start (None for a file it
    does not have); None for a container with a network of its own."""
    mode = rec.config.network
    if not mode.startswith("container:"):
        return None
    other = rt.state.get(mode.partition(":")[2])
    if other is None:
        return None
    run_dir = rt.container_run_dir(other.id)
    out: dict[str, Optional[str]] = {}
    for dest in ("/etc/hosts", "/etc/resolv.conf"):
        try:
            with open(os.path.join(run_dir, os.path.basename(dest))) as f:
                out[dest] = f.read()
        except FileNotFoundError:
            out[dest] = None
    return out


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
        run_dir = rt.container_run_dir(rec.id)   # the last run's exit file went with the claim
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
        log = {"driver": "k8s-file" if cfg.log_driver == "json-file" else cfg.log_driver,   # (written alike)
               "path": log_path(rt, rec), "name": rec.name,
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
    import marshal

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
            raise from_wire(marshal.loads(bytes(reply["reply"]))["error"])
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


def _failure(exc: Exception, cid: str) -> Exception:
    """The start's error as podpy reports it; the set-up names no container, podman's
    message about the working directory does."""
    err = translate(exc)
    text = str(err)
    if text.startswith('workdir "') and text.endswith("exists on container, but is not a directory"):
        return ExecFailed(text.replace("exists on container,", f"exists on container {cid},"), 126)
    if text.startswith('workdir "') and text.endswith("does not exist on container"):
        return ExecFailed(f"{text} {cid}", 126)
    return err
