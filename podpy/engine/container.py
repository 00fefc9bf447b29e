"""The container state machine: every change of a container's row, and its one teardown.

States, as podman names them:

    configured --(storage made)--> created --start--> running <--> paused
        |                           |  ^                 ^  |
        |                      init |  |  failed start   |  v
        +-- killed create: removed  |  +---------------- | exited --start--> running
                                    v                    |
                               initialized --start-------+  (stop, rm, its death: exited)
    any state but running/paused --rm--> removing --> (gone)

A transition claims the row (`BEGIN IMMEDIATE`), reads this row again, checks the states
the verb allows, writes, and emits its event. The row's owner (`owner_pid`/`owner_start`)
is the process driving it right now: the command creating or starting it, a foreground
`run`, or the monitor of a detached container. A command that finds an owner dead adopts
the row under the same lock (State.adopt) and finishes the job through `recover`.

Teardown has one path. `_release` ends what a run holds (cgroup, runtime directory,
pasta); `destroy` also removes the container: its storage, its row, its addresses on
user networks and, for `--rm` or `rm -v`, its anonymous volumes. A failed start, an
exit, `rm`, `--rm` and the clean-up after a killed command all go through them.
"""

from __future__ import annotations

import os
import time

from ..state import CONFIGURED, CREATED, EXITED, INITIALIZED, PAUSED, REMOVING, RUNNING, STOPPED, ContainerRecord
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

STARTABLE = (CREATED, EXITED, STOPPED)
REMOVABLE = (CONFIGURED, CREATED, EXITED, STOPPED)
# the states in which the container's process exists (an initialized one waits to exec)
LIVE = (RUNNING, PAUSED, INITIALIZED)
EXIT_FILE = "exit"


def state_word(rec: ContainerRecord) -> str:
    return {CONFIGURED: "configured", CREATED: "created", EXITED: "exited", STOPPED: "stopped",
            REMOVING: "removing", INITIALIZED: "initialized"}.get(rec.state, rec.state)


def shared_with(rec: ContainerRecord) -> set[str]:
    """The ids of the containers rec depends on: whose namespaces it joins (--network, --pid,
    --ipc, --uts, --cgroupns container:ID) and that it --requires."""
    cfg = rec.config
    joined = {mode.partition(":")[2] for mode in (cfg.network, cfg.pid_mode, cfg.ipc_mode, cfg.uts_mode,
                                                   cfg.cgroupns_mode) if mode.startswith("container:")}
    return joined | set(cfg.requires)


STOPPING_MARK = "stopping"


def stop_waiting(run_dir: str) -> bool:
    """Whether a live `stop` is waiting for the container of run_dir to exit (stop_begun)."""
    try:
        with open(os.path.join(run_dir, STOPPING_MARK)) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class Container:
    """One container: its row (as last read) and the transitions that change it."""

    def __init__(self, rt: Runtime, rec: ContainerRecord) -> None:
        self.rt = rt
        self.rec = rec

    # -- finding -----------------------------------------------------------------------------

    @classmethod
    def lookup(cls, rt: Runtime, name: str) -> "Container":
        return cls(rt, rt.state.lookup(name))

    @property
    def id(self) -> str:
        return self.rec.id

    @property
    def name(self) -> str:
        return self.rec.name

    def refresh(self) -> Optional[ContainerRecord]:
        """Read the row again; None when the container is gone."""
        now = self.rt.state.get(self.rec.id)
        if now is not None:
            self.rec = now
        return now

    def run_dir(self) -> str:
        return self.rt.container_run_dir(self.rec.id)

    def _event(self, status: str, **attributes: Any) -> None:
        from ..events import container as event

        event(self.rt.cfg.runroot, status, self.rec, **attributes)

    def _claim(self, allowed: tuple[str, ...], new_state: str, unless_stopping: bool = False,
               then: Optional[Callable[[], None]] = None, **fields: Any) -> ContainerRecord:
        """Move the row from one of `allowed` to new_state, owned by this process, in one
        transaction with `fields` (and `then`, run before it commits)."""
        rec = self.rt.state.claim(self.rec.id, allowed, new_state, unless_stopping=unless_stopping, then=then,
                                  **fields)
        self.rec = rec
        return rec

    # -- create ------------------------------------------------------------------------------

    @classmethod
    def insert(cls, rt: Runtime, rec: ContainerRecord) -> "Container":
        """A new row, `configured` and owned by this process until its storage is made."""
        rt.state.insert(rec)
        return cls(rt, rec)

    def created(self, keep: bool) -> None:
        """Its storage is made. keep: this command goes on to start it (`run`), so the row
        stays ours, `configured`, until the start claims it."""
        # The file first: a row that leaves `configured` always has its file (one killed
        # between the two stays `configured`, which the next command undoes, file and all).
        self._write_record(CREATED, durable=False)
        if not keep:
            self.rt.state.update(self.rec.id, state=CREATED, owner_pid=None, owner_start=None)
            self.rec.state, self.rec.owner_pid, self.rec.owner_start = CREATED, None, None
        self._event("create")

    def abandon_create(self) -> None:
        """Undo a create that failed half-way (nothing else ever saw it run)."""
        try:
            self.rt.store.remove_container(self.rec.id)
        finally:
            self.rt.state.delete(self.rec.id)
            self._release_resources(volumes=True)

    # -- start -------------------------------------------------------------------------------

    def claim_start(self, detached: bool, by_policy: bool = False) -> ContainerRecord:
        """Ours and `running` from here (the start itself follows). by_policy: a restart
        policy's start, which a `stop` meanwhile cancels."""
        allowed = STARTABLE + ((CONFIGURED,) if self.rec.owner_pid == os.getpid() else ())
        extra: dict[str, Any] = {"started_at": time.time(), "finished_at": None, "exit_code": None, "pid": None,
                                 "detached": detached, "stopping": False}
        if by_policy:
            extra["restarts"] = self.rec.restarts + 1
        # The last run's exit file goes in the claim's transaction: a command that finds it
        # records an exit only in a transaction of its own that still sees it (exited), so no
        # clean-up of the last run, however late, takes this run for over.
        rec = self._claim(allowed, RUNNING, unless_stopping=by_policy, then=self._forget_exit, **extra)
        if rec.config.healthcheck:
            from .healthstate import reset

            reset(self.rt, rec)   # a (re)started container is `starting` again
        return rec

    def set_cgroup(self, path: Optional[str]) -> None:
        self.rt.state.update(self.rec.id, cgroup=path)
        self.rec.cgroup = path

    def running(self, pid: int) -> None:
        """A foreground start reached exec: this process supervises it."""
        self.rt.state.update(self.rec.id, pid=pid, started_at=time.time())
        self.rec.pid = pid
        self._event("start")

    def handed_over(self, pid: int, monitor: int, monitor_start: Optional[str], by_policy: bool) -> None:
        """A detached start reached exec: the monitor owns the row from now on (only while
        it still runs: a container that is already over was recorded by its clean-up)."""
        with self.rt.db.write() as c:
            c.execute("UPDATE containers SET pid=?, owner_pid=?, owner_start=? WHERE id=? AND state=?",
                      (pid, monitor, monitor_start, self.rec.id, RUNNING))
        self.rec.pid, self.rec.state = pid, RUNNING
        from .records import write_run

        write_run(self.run_dir(), self.rec, monitor, monitor_start)
        self._event("restart" if by_policy else "start")

    def initialized(self, pid: int, monitor: int, monitor_start: Optional[str]) -> None:
        """`init` set the container up under the monitor, its process waiting to exec: the
        monitor owns the row (as for a detached start) until `start` releases it."""
        with self.rt.db.write() as c:
            c.execute("UPDATE containers SET state=?, pid=?, owner_pid=?, owner_start=?, started_at=NULL"
                      " WHERE id=? AND state=?", (INITIALIZED, pid, monitor, monitor_start, self.rec.id, RUNNING))
        self.rec.pid, self.rec.state, self.rec.started_at = pid, INITIALIZED, None
        from .records import write_run

        write_run(self.run_dir(), self.rec, monitor, monitor_start)
        self._event("init")

    def claim_release(self) -> ContainerRecord:
        """`start` of an initialized container: ours and `running` while its monitor lets it exec."""
        return self._claim((INITIALIZED,), RUNNING, started_at=time.time(), stopping=False)

    def start_failed(self) -> None:
        """A start that never reached exec: back to `created` (podman leaves it so), or gone
        with --rm. The row is ours (claimed), so nothing else is waited for."""
        if self.rec.config.remove:
            self.destroy(volumes=True, event=False)
            return
        self._release()
        self.rt.state.update(self.rec.id, state=CREATED, pid=None, owner_pid=None, owner_start=None, cgroup=None)

    # -- running -----------------------------------------------------------------------------

    def mark_stopping(self) -> None:
        """`stop`, `kill`, `rm -f` ended it: its restart policy does not bring it back."""
        self.rt.state.update(self.rec.id, stopping=True)
        self.rec.stopping = True

    def stop_begun(self) -> None:
        """A `stop` is waiting for the container to exit: until stop_over, inspect and ps say
        `stopping`, as podman's do. The mark is a file of the runtime directory holding the
        stopping command's pid (a stop killed midway leaves no lasting `stopping`); it is no
        row change, so another command's view of the state is not blocked."""
        path = os.path.join(self.rt.container_run_dir(self.rec.id), STOPPING_MARK)
        try:
            with open(path, "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            pass

    def stop_over(self) -> None:
        try:
            os.unlink(os.path.join(self.rt.container_run_dir(self.rec.id), STOPPING_MARK))
        except OSError:
            pass

    def paused(self) -> None:
        self.rt.state.update(self.rec.id, state=PAUSED)
        self.rec.state = PAUSED
        self._event("pause")

    def unpaused(self) -> None:
        self.rt.state.update(self.rec.id, state=RUNNING)
        self.rec.state = RUNNING
        self._event("unpause")

    def event(self, status: str, **attributes: Any) -> None:
        """An event that changes no state (stop, kill, exec, ...)."""
        self._event(status, **attributes)

    def save_config(self) -> None:
        """The configuration changed (a network connected or disconnected)."""
        self.rt.state.update(self.rec.id, config=self.rec.config.to_json())
        self._write_record()

    def rename(self, new: str) -> None:
        self.rt.state.rename(self.rec.id, new)
        self.rec.name = new
        self._write_record()
        self._event("rename")

    def _write_record(self, state: Optional[str] = None, durable: bool = True) -> None:
        """The container's file (records.py) as its row now is; `state`: the one it is kept
        as (a running container is kept as it was before it ran)."""
        if self.rec.config.remove:
            return
        from .records import read_container, write_container

        if state is None:
            before = read_container(self.rt.cfg.root, self.rec.id)
            state = (before or {}).get("state") or CREATED
        rec = self.rec
        saved = rec.state
        rec.state = state
        try:
            write_container(self.rt.cfg.root, rec, durable)
        finally:
            rec.state = saved

    # -- exit --------------------------------------------------------------------------------

    def exited(self, code: Optional[int] = None, finished: Optional[float] = None,
               before_storage: Optional[Callable[[], None]] = None, from_file: bool = False,
               unknown: bool = False) -> bool:
        """The container is over: record it (once: False when another command recorded it
        first), release what the run held, and with --rm of a foreground run remove it (a
        detached one is removed by the monitor's clean-up command); before_storage: called
        before its storage goes (a foreground run's wait for stage 1, which removes it too).
        from_file: the code and time are the monitor's exit file's, read in the transaction
        that records them (False without one, or with unknown an unknown code): a start's
        claim removes the file in its own, so a file read here is this run's."""
        if from_file and not unknown and not os.path.exists(os.path.join(self.run_dir(), EXIT_FILE)):
            return False   # nothing to record (a poll's usual answer): no write lock taken for it
        with self.rt.db.write() as c:
            row = c.execute("SELECT state, detached, cgroup FROM containers WHERE id=?", (self.rec.id,)).fetchone()
            if row is None or row[0] not in LIVE:
                return False
            if from_file:
                got = self.read_exit()
                if got is None and not unknown:
                    return False
                code, finished = got if got is not None else (-1, time.time())
            # A foreground --rm container stays ours until it is removed (destroy, below): killed
            # in between, this command leaves its row to the next one's recovery, which removes
            # it, rather than an exited row nobody owns whose directory stage 1 has taken away.
            keep = bool(self.rec.config.remove) and not row[1]
            c.execute("UPDATE containers SET state=?, exit_code=?, finished_at=?, pid=NULL, cgroup=NULL"
                      + ("" if keep else ", owner_pid=NULL, owner_start=NULL") + " WHERE id=?",
                      (EXITED, code, finished or time.time(), self.rec.id))
        self.rec.state, self.rec.exit_code, self.rec.cgroup = EXITED, code, row[2]
        self.rec.finished_at = finished or time.time()
        try:
            self._write_record(EXITED, durable=False)
        except OSError:
            pass   # the row says it: its file keeps the exit before this one, `system check` tells

        self._event("died", containerExitCode=code)
        self._poststop()
        self._release()
        self.rec.cgroup = None
        if self.rec.config.remove and not row[1]:
            self.destroy(volumes=True, before_storage=before_storage)
        return True

    def _poststop(self) -> None:
        """The container's OCI poststop hooks, if it has any (engine/hooks.py)."""
        from .hooks import POSTSTOP_FILE, run_poststop

        path = os.path.join(self.run_dir(), POSTSTOP_FILE)
        if os.path.exists(path):
            run_poststop(path, self.rt.cfg.warnings.append)

    def propagated_exit(self, code: int) -> None:
        """A `kube play` service container, exited: its exit code becomes the one propagated
        from its pods' containers (podpy/kube/service.py), as podman's service container has."""
        rec = self.refresh()
        if rec is None or rec.state not in (EXITED, STOPPED):
            return
        self.rt.state.update(rec.id, exit_code=code)
        self.rec.exit_code = code

    def _forget_exit(self) -> None:
        try:
            os.unlink(os.path.join(self.run_dir(), EXIT_FILE))
        except FileNotFoundError:
            pass

    def read_exit(self) -> Optional[tuple[int, float]]:
        """(exit code, finish time) from the monitor's exit file, if it wrote one."""
        import json

        try:
            with open(os.path.join(self.run_dir(), EXIT_FILE)) as f:
                data = json.load(f)
            return int(data["code"]), float(data["finished"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def end_unsupervised(self) -> None:
        """A running detached container whose monitor is gone: kill what is left of it (only a
        process that is PID 1 of its own PID namespace: the pid may have been reused) and record
        it as exited, with the monitor's exit file if there is one, else with an unknown code."""
        import signal

        if self.rec.pid and _is_container_init(self.rec.pid):
            try:
                os.kill(self.rec.pid, signal.SIGKILL)
            except OSError:
                pass
        self.exited(from_file=True, unknown=True)

    # -- remove ------------------------------------------------------------------------------

    def claim_remove(self) -> None:
        """Ours from here: a restart (a policy's, a healthcheck's) can no longer claim it, and if
        this command is killed the next one finishes the removal (reconcile)."""
        self._claim(REMOVABLE, REMOVING)

    def destroy(self, volumes: bool, event: bool = True, before_storage: Optional[Callable[[], None]] = None
                ) -> None:
        """Remove the container, whose row is ours: what its run held, its storage, its row,
        its addresses and, with volumes, its anonymous volumes; a mount of it on the host
        (`podpy mount`) goes first, whatever its counter, as podman's rm unmounts."""
        from .mounttable import CONTAINER, any_mount

        self._release()
        if any_mount(self.rt, CONTAINER, self.rec.id):
            from .mounts import release

            release(self.rt, CONTAINER, self.rec.id)
        if before_storage is not None:
            before_storage()
        self.rt.store.remove_container(self.rec.id)
        self.rt.state.delete(self.rec.id)
        self._release_resources(volumes)
        if event:
            self._event("remove")

    # -- the teardown's parts ----------------------------------------------------------------

    def _release(self) -> None:
        """What a run holds: its cgroup (every process left in it killed), its runtime directory."""
        if self.rec.cgroup:
            from rootless import cgroups

            cgroups.kill_all(self.rec.cgroup)   # what the container left behind (exec'd daemons)
            cgroups.remove(self.rec.cgroup)
        from storage.fsutil import remove_tree

        try:
            remove_tree(self.run_dir())
        except OSError:
            pass  # a runtime directory is on tmpfs and is recreated at the next start

    def _release_resources(self, volumes: bool) -> None:
        """What a container holds beyond its storage: addresses on user networks, anonymous volumes."""
        if self.rec.config.networks:
            from ..network.table import release_addresses

            release_addresses(self.rt, self.rec.id)
        if volumes and any(m.get("anonymous") for m in self.rec.config.mounts):
            from .volumestore import remove_anonymous

            remove_anonymous(self.rt, self.rec.config.mounts)

    # -- after a killed command --------------------------------------------------------------

    def recover(self) -> None:
        """Finish what a dead owner left (the row is ours: adopted under the write lock)."""
        rec = self.rec
        if rec.config.network == "pasta" and rec.state in LIVE:
            from ..network.start import end_pasta   # its supervisor died: pasta would stay

            end_pasta(self.rt, rec)
        if rec.state in LIVE:
            if rec.detached:
                self.end_unsupervised()   # its monitor died: nothing supervises it any more
            else:
                self.exited(-1)           # its foreground podpy died (and the container with it)
            if not rec.config.remove or self.refresh() is None:
                return
            rec = self.rec
        if rec.state in (CONFIGURED, REMOVING) or (rec.config.remove and rec.state == EXITED):
            try:
                self.destroy(volumes=rec.config.remove or rec.state == CONFIGURED, event=rec.state != CONFIGURED)
            except Exception:  # noqa: BLE001 - tried again by the next command (the row stays ours until we exit)
                return
        else:
            self.rt.state.update(rec.id, owner_pid=None, owner_start=None)


def _is_container_init(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    ids = line.split()[1:]
                    return len(ids) > 1 and ids[-1] == "1"
    except OSError:
        pass
    return False
