"""Container verbs: start in the foreground (run, start -a), remove, list, inspect.

A foreground container is supervised by the podpy process itself: it forwards
SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the container's PID 1, relays
the pty with -t, waits, and records the exit code (or removes everything with
--rm). If podpy is killed, stage 1 and the init die with it (PDEATHSIG) and
the next command finds the row with a dead owner (see state.py).
"""

from __future__ import annotations

import os
import signal
import time

from .. import specgen
from ..errors import InvalidState, NoSuchContainer, PodpyError, translate
from ..state import CONFIGURED, CREATED, EXITED, RUNNING, STOPPED, ContainerRecord
from .runtime import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .netstart import NetStart

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def _slirp_options(opts: dict[str, str]) -> Any:
    from .netstart import slirp_options

    return slirp_options(opts)


class _Forwarder:
    """Signal handlers that pass signals to the container (remembered until its pid is known)."""

    def __init__(self) -> None:
        self.target: Optional[Callable[[int], None]] = None
        self.pending: list[int] = []
        self.old: dict[int, Any] = {}

    def __enter__(self) -> "_Forwarder":
        for sig in FORWARDED:
            self.old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, sig: int, _frame: object) -> None:
        if self.target is None:
            self.pending.append(sig)
        else:
            self.target(sig)

    def attach(self, target: Callable[[int], None]) -> None:
        self.target = target
        for sig in self.pending:
            target(sig)
        self.pending.clear()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.old.items():
            signal.signal(sig, handler)


def runtime_spec(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None],
                 console: Optional[tuple[int, int]], net: Optional["NetStart"] = None) -> dict[str, Any]:
    """The OCI-shaped spec that starts rec (its /etc files written on the way)."""
    from rootless.userns import default_mappings
    from storage import images as img

    image = img.by_id(rt.db.conn, rec.image_id)
    if image is None:
        raise InvalidState(f"the image of container {rec.name} ({rec.image_id[:12]}) is gone")
    desc = rt.store.rootfs_mount(rec.id, image)
    etc = specgen.etc_files(rec, rt.container_run_dir(rec.id), net.etc if net is not None else None)
    if rec.config.healthcheck:
        from .health import reset

        reset(rt, rec)
    mappings = None
    if rt.cfg.rootless:
        mappings = default_mappings()
        if mappings.warning:
            warn(mappings.warning)
    nested = None
    if rec.config.idmap:
        nested = nested_mappings(rec.config.idmap)
        desc = idmapped_rootfs(rt, rec.id, desc, rec.config.idmap)
    spec = specgen.build(rec, desc, mappings, etc, console, nested)
    if net is not None:
        net.adjust_spec(spec)
    seccomp = spec["linux"].get("seccomp")
    if seccomp:
        seccomp["bpf"] = specgen.compiled_seccomp(rt.cfg.runroot, seccomp)
    return spec


def nested_mappings(idmap: dict[str, list[list[int]]]) -> Any:
    """A container's --userns/--uidmap ranges, in the ids of the default user namespace."""
    from rootless.userns import IdMap, IdMappings

    return IdMappings(tuple(IdMap(*r) for r in idmap["uids"]), tuple(IdMap(*r) for r in idmap["gids"]))


def idmapped_rootfs(rt: Runtime, cid: str, desc: dict[str, Any], idmap: dict[str, list[list[int]]]
                    ) -> dict[str, Any]:
    """The root file system seen through fuse-overlayfs with id mapping: image layers keep the
    default mapping's ids, which a container with other mappings must see unchanged (kernel
    overlayfs cannot shift ids in a user namespace)."""
    from rootless.userns import fuse_idmapping

    program = _fuse_overlayfs()
    if program is None:
        raise InvalidState("--userns=keep-id|auto and --uidmap/--gidmap need fuse-overlayfs (to show the "
                           "image's files with their own ids) and /dev/fuse: install fuse-overlayfs")
    desc = dict(desc)
    if desc["type"] == "bind":   # the copying driver: the container's tree is the upper layer
        cdir = rt.store.container_dir(cid)
        for sub in ("idmap-lower", "idmap-work"):
            os.makedirs(os.path.join(cdir, sub), mode=0o700, exist_ok=True)
        desc = {"lower": [os.path.join(cdir, "idmap-lower")], "upper": desc["source"],
                "work": os.path.join(cdir, "idmap-work"), "target": desc["target"]}
    desc.pop("userxattr", None)
    desc.update(type="fuse-overlayfs", program=program, uidmapping=fuse_idmapping(idmap["uids"]),
                gidmapping=fuse_idmapping(idmap["gids"]))
    return desc


def _fuse_overlayfs() -> Optional[str]:
    for d in os.get_exec_path() + ["/usr/bin", "/usr/local/bin"]:
        path = os.path.join(d, "fuse-overlayfs")
        if os.access(path, os.X_OK):
            return path if os.access("/dev/fuse", os.R_OK | os.W_OK) else None
    return None


STARTABLE = (CREATED, EXITED, STOPPED)
_FLAGS = {"memory": "--memory", "memory_swap": "--memory-swap", "cpus": "--cpus", "cpu_shares": "--cpu-shares",
          "pids_limit": "--pids-limit"}


def container_cgroup(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None]) -> Optional[str]:
    """Make the container's cgroup in the delegated subtree (under --cgroup-parent when given)
    and apply its limits; None when no cgroup can be made here (said in a warning when it
    matters: limits asked for, or a parent that is not ours)."""
    from rootless import cgroups

    cfg = rec.config
    info = cgroups.detect()
    parent: Optional[str] = info.path if info.writable else None
    why = info.reason
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
            flags = ", ".join(_FLAGS[k] for k in cfg.limits)
            warn(f"{flags} ignored: containers get no cgroup here ({why})")
        return None
    try:
        path = cgroups.make(parent, f"podpy-{rec.id}")
    except OSError as exc:
        warn(f"the container runs without a cgroup: cannot create one in {parent}: {exc.strerror}")
        return None
    missing = cgroups.apply_limits(path, cfg.limits) if cfg.limits else []
    for ctrl in missing:
        flags = ", ".join(_FLAGS[k] for k in cfg.limits if cgroups.LIMIT_FILES[k][0] == ctrl)
        warn(f"{flags} ignored: the {ctrl} controller is not delegated to {parent}")
    rt.state.update(rec.id, cgroup=path)
    rec.cgroup = path
    return path


def release_cgroup(rec: ContainerRecord) -> None:
    if rec.cgroup:
        from rootless import cgroups

        cgroups.kill_all(rec.cgroup)   # what the container left behind (exec'd daemons)
        cgroups.remove(rec.cgroup)


def start_attached(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None]) -> int:
    """Start a created or exited container in the foreground; its exit code."""
    from rootless import parent, tty
    from storage.fsutil import remove_tree

    startable = STARTABLE + ((CONFIGURED,) if rec.owner_pid == os.getpid() else ())
    rec = rt.state.claim(rec.id, startable, RUNNING)
    cfg = rec.config
    container = None
    net = None
    with _Forwarder() as fwd:
        try:
            from .netstart import NetStart

            net = NetStart(rt, rec)
            console = tty.window_size(0) if cfg.tty else None
            spec = runtime_spec(rt, rec, warn, console, net)
            cdir = rt.store.container_dir(rec.id)
            listening = tuple(net.bind())
            cgroup = container_cgroup(rt, rec, warn)
            options = parent.LaunchOptions(
                slirp=net.slirp,
                cgroup_procs=os.path.join(cgroup, "cgroup.procs") if cgroup else None,
                after_exit=(lambda: remove_tree(cdir)) if cfg.remove else None,
                on_pid=net.on_pid,
                close_fds=listening,
            )
            container = parent.launch(spec, options)
            net.running(container)
        except BaseException as exc:
            if net is not None:
                net.stop()
            if container is not None:
                container.signal(signal.SIGKILL)
                container.wait()
            _failed_start(rt, rec, exc)
            raise translate(exc) if isinstance(exc, Exception) else exc
        fwd.attach(container.signal)
        rt.state.update(rec.id, pid=container.pid, started_at=time.time(), exit_code=None, finished_at=None,
                        detached=False, stopping=False)
        from ..events import container as event

        event(rt.cfg.runroot, "start", rec)
        checks = _ForegroundHealth(rt, rec) if cfg.healthcheck else None
        try:
            if container.pty_master is not None:
                with tty.RawMode(0):
                    tty.relay(container.pty_master, stdin_open=cfg.interactive)
                os.close(container.pty_master)
            code = container.wait()
        finally:
            if checks is not None:
                checks.stop()
            if container.exit_code is None:  # an exception in the relay: do not leave it running
                container.signal(signal.SIGKILL)
                container.wait()
            net.stop()
            _record_exit(rt, rec, container.exit_code)
    return code


class _ForegroundHealth:
    """A foreground container's healthchecks: what the monitor does for detached ones (run
    `podpy healthcheck run ID` every --health-interval, one at a time), from a thread of the
    `podpy run` that waits for the container."""

    def __init__(self, rt: Runtime, rec: ContainerRecord) -> None:
        import threading

        from .detached import _podpy_command

        self.command = _podpy_command(rt, "healthcheck", "run", rec.id)
        self.interval = float(rec.config.healthcheck["interval"])
        self.done = threading.Event()
        self.child = 0
        self.thread = threading.Thread(target=self._loop, name="healthcheck", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        null = os.open(os.devnull, os.O_RDWR)
        try:
            while not self.done.wait(self.interval):
                try:
                    self.child = os.posix_spawn(
                        self.command["argv"][0], self.command["argv"], self.command["env"],
                        file_actions=[(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                                      (os.POSIX_SPAWN_DUP2, null, 2)], setsid=True)
                    os.waitpid(self.child, 0)
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


def _remove_run_dir(rt: Runtime, cid: str) -> None:
    from storage.fsutil import remove_tree

    try:
        remove_tree(rt.container_run_dir(cid))
    except OSError:
        pass  # a runtime directory is on tmpfs and is recreated at the next start


def _failed_start(rt: Runtime, rec: ContainerRecord, exc: BaseException) -> None:
    """Undo a start that never reached exec: back to `created` (podman leaves it so), or gone with --rm.

    We own the row (state `running` since claim), so nothing else is waited for.
    """
    _remove_run_dir(rt, rec.id)
    release_cgroup(rec)
    if rec.config.remove:
        try:
            rt.store.remove_container(rec.id)
        finally:
            rt.state.delete(rec.id)
            _remove_anonymous_volumes(rt, rec)
            release_addresses(rt, rec)
    else:
        rt.state.update(rec.id, state=CREATED, pid=None, owner_pid=None, owner_start=None, cgroup=None)


def _record_exit(rt: Runtime, rec: ContainerRecord, code: Optional[int]) -> None:
    from ..events import container as event

    event(rt.cfg.runroot, "died", rec, containerExitCode=code)
    if rec.config.remove:
        event(rt.cfg.runroot, "remove", rec)
    release_cgroup(rec)
    if rec.config.remove:
        rt.state.delete(rec.id)
        _remove_run_dir(rt, rec.id)
        if os.path.lexists(rt.store.container_dir(rec.id)):
            rt.store.remove_container(rec.id)
        _remove_anonymous_volumes(rt, rec)
        release_addresses(rt, rec)
    else:
        rt.state.finish(rec.id, code)
        _remove_run_dir(rt, rec.id)


def _remove_anonymous_volumes(rt: Runtime, rec: ContainerRecord) -> None:
    if any(m.get("anonymous") for m in rec.config.mounts):
        from .volumes import remove_anonymous

        remove_anonymous(rt, rec.config.mounts)


def remove(rt: Runtime, rec: ContainerRecord, force: bool, volumes: bool = False,
           timeout: Optional[int] = None, warn: Optional[Callable[[str], None]] = None) -> None:
    """Remove one container; a running one only with force (it is killed first, or stopped
    with timeout seconds before SIGKILL); with volumes, its anonymous volumes too."""
    from ..state import REMOVING

    for _ in range(5):
        if rec.state in (RUNNING, "paused") and rec.owner_pid != os.getpid():
            if not force:
                raise InvalidState(
                    f"cannot remove container {rec.id} as it is running - running or paused containers "
                    "cannot be removed without force: container state improper")
            if timeout:
                from .detached import stop

                stop(rt, rec.id, timeout, warn or (lambda _line: None))
                rec = rt.state.get(rec.id) or rec
            elif rec.detached:
                from .detached import kill_and_wait

                kill_and_wait(rt, rec)
            else:
                _kill_and_wait(rec)
        # Ours from here: a restart (a policy's, a healthcheck's) can no longer claim it, and
        # if this command is killed the next one finishes the removal (Runtime.reconcile).
        try:
            rec = rt.state.claim(rec.id, (CONFIGURED, CREATED, EXITED, STOPPED), REMOVING)
            break
        except InvalidState:
            now = rt.state.get(rec.id)
            if now is None:
                return   # removed meanwhile by someone else
            if now.state == REMOVING:
                raise InvalidState(f"container {rec.name} is being removed by another command") from None
            rec = now    # started again meanwhile: killed again above (with force)
    else:
        raise InvalidState(f"container {rec.name} keeps being restarted: could not remove it")
    if rec.cgroup:
        release_cgroup(rec)
    rt.store.remove_container(rec.id)
    _remove_run_dir(rt, rec.id)
    rt.state.delete(rec.id)
    release_addresses(rt, rec)
    from ..events import container as event

    event(rt.cfg.runroot, "remove", rec)
    if volumes:
        _remove_anonymous_volumes(rt, rec)


def release_addresses(rt: Runtime, rec: ContainerRecord) -> None:
    """A removed container's addresses on user networks are free again."""
    if rec.config.networks:
        from .networks import release_addresses as release

        release(rt, rec.id)


def _kill_and_wait(rec: ContainerRecord, timeout: float = 10.0) -> None:
    """SIGKILL the container and wait until it and the podpy supervising it are gone
    (the supervisor records the exit; removing under its feet would race it)."""
    from ..state import alive

    if rec.pid:
        try:
            os.kill(rec.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (rec.pid and os.path.exists(f"/proc/{rec.pid}")) and not alive(rec.owner_pid, rec.owner_start):
            return
        time.sleep(0.005)


class RemoveReport:
    """One container of `rm`: its name as given and, when it was not removed, why."""

    def __init__(self, name: str, error: Optional[PodpyError] = None) -> None:
        self.name = name
        self.error = error


def remove_many(rt: Runtime, names: list[str], force: bool, all_: bool, ignore: bool,
                volumes: bool = False, timeout: Optional[int] = None,
                warn: Optional[Callable[[str], None]] = None) -> list[RemoveReport]:
    """`rm`: one report per container, each with its own error, so a partial failure says which."""
    rt.reconcile()
    targets: list[tuple[str, Optional[ContainerRecord], Optional[PodpyError]]] = []
    if all_:
        targets = [(r.id, r, None) for r in rt.state.all()]
    for n in names:
        try:
            targets.append((n, rt.state.lookup(n), None))
        except NoSuchContainer as exc:
            if not ignore:
                targets.append((n, None, exc))
        except PodpyError as exc:
            targets.append((n, None, exc))
    reports = []
    for label, rec, err in targets:
        if rec is None:
            reports.append(RemoveReport(label, err))
            continue
        try:
            remove(rt, rec, force, volumes, timeout, warn)
            reports.append(RemoveReport(label))
        except PodpyError as exc:
            reports.append(RemoveReport(label, exc))
        except Exception as exc:  # noqa: BLE001
            reports.append(RemoveReport(label, translate(exc)))
    return reports
