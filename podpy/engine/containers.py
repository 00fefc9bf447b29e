"""The container engine: one method per verb, the interface every front end calls.

The CLI parses, makes one call here per command and renders what comes back; the
HTTP API, `kube play` and unit generators call the same methods. A verb over several
containers returns one `Report` per container, each with its own error, so `rm a b c`
can partly fail and say which. The methods only orchestrate: create and run are
runverbs.py's, state changes are the Container's (container.py), starting is start.py's
(foreground.py's for an attached start), the running verbs lifecycle.py's,
the reads listing.py's, observe.py's and logs.py's. The options and reports are in
entities.py.
"""

from __future__ import annotations

import sys

from ..errors import InvalidArgument, InvalidState, NoSuchContainer, PodpyError, translate
from .context import Runtime
from .entities import Report, each as _each
from .runverbs import RunVerbs, reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional

    from storage.images import Image

    from ..state import ContainerRecord
    from .entities import (
        CommitOptions, ContainerPruneOptions, LogsOptions, MountReport, PortReport, PruneReport, PsEntry,
        PsOptions,
    )
    from .logs import Entry
    from .runoptions import CreateOptions

__all__ = ["ContainerEngine", "Report"]


def _running(rec: ContainerRecord) -> bool:
    from ..state import RUNNING

    return rec.state == RUNNING


def _made(rec: ContainerRecord) -> bool:
    """A container made and not being removed: what `stop -a` names."""
    from ..state import CONFIGURED, REMOVING

    return rec.state not in (CONFIGURED, REMOVING)


def _select(rt: Runtime, names: list[str], all_: bool, latest: bool,
            which: Callable[[ContainerRecord], bool], filters: Optional[list[str]] = None,
            verb: str = "") -> list[str]:
    """The containers a verb acts on: those matching filters (podman's ps keys) or every one
    that `which` picks (all_), by full id in the order of their ids as podman lists them; the
    newest (latest), by full id; or those named."""
    if filters:
        from ..state import CONFIGURED
        from . import psfilter

        match = psfilter.matcher(rt, psfilter.group(list(filters)))
        return sorted(r.id for r in rt.state.all() if r.state != CONFIGURED and match(r))
    if all_:
        return sorted(r.id for r in rt.state.all() if which(r))
    if latest:
        from .listing import latest as newest

        return [newest(rt).id]
    return list(names)


def _unknown(rt: Runtime, names: list[str], at_least: int = 2) -> list[Report]:
    """podman's look before a verb on several containers: the reports of the names no
    container has (a verb that has any acts on none of the names). Fewer names than at_least:
    none looked at (one name's verb says it itself)."""
    if len(names) < at_least:
        return []
    missing = []
    for name in names:
        try:
            rt.state.lookup(name)
        except NoSuchContainer as exc:
            missing.append(Report(name, error=exc))
    return missing


def _named_start(cid: str, start: Callable[[], Any]) -> Any:
    """start(), its error (translated as each() would) naming the container it could not start,
    which `podpy start` words as podman's does (errors.StartFailed)."""
    try:
        return start()
    except PodpyError as exc:
        exc.container_id = cid
        raise
    except Exception as exc:  # noqa: BLE001 - translated, and named
        err = translate(exc)
        err.container_id = cid
        raise err from exc


class ContainerEngine(RunVerbs):
    """The container verbs over one store (a Runtime: configuration, database, store); made
    as RunVerbs is: ContainerEngine(rt, warn, progress)."""

    # -- start, stop and the other running verbs ---------------------------------------------

    def start(self, names: list[str], all_: bool = False, filters: Optional[list[str]] = None) -> list[Report]:
        """`start` (detached): starting a running container changes nothing, as in podman.
        With all_ or filters (podman's `ps --filter` keys) every container that matches and is
        not running is started, oldest first, reported by full id."""
        from ..state import CONFIGURED, PAUSED, RUNNING

        if all_ and names:
            raise InvalidArgument("either start all containers or the container(s) provided in the arguments")
        if not (all_ or filters) and not names:
            raise InvalidArgument("start requires at least one argument")
        reconcile(self.rt)
        if all_ or filters:
            from . import psfilter

            match = psfilter.matcher(self.rt, psfilter.group(list(filters or [])))
            if names:   # podman's: the filters pick among the containers named
                missing = _unknown(self.rt, names, 1)
                return missing or _each([rec.id for rec in map(self.rt.state.lookup, names) if match(rec)],
                                        self._start_one)
            names = [r.id for r in reversed(self.rt.state.all())
                     if r.state not in (CONFIGURED, RUNNING, PAUSED) and match(r)]

        return _unknown(self.rt, names) or _each(names, self._start_one)

    def _start_one(self, name: str) -> str:
        from ..state import PAUSED, RUNNING
        from .start import start_detached

        rec = self.rt.state.lookup(name)
        if rec.state not in (RUNNING, PAUSED):
            _named_start(rec.id, lambda: start_detached(self.rt, rec, self.warn))
        return name

    def start_attached(self, name: str, interactive: bool, sig_proxy: bool = True,
                       detach_keys: Optional[str] = None) -> int:
        """`start -a`: in the foreground; its exit code. sig_proxy: the signals this process
        receives go to the container; detach_keys: the keys a terminal's relay takes (as for
        a foreground `run -t`, ctrl-p,ctrl-q by default)."""
        from ..options import DEFAULT_DETACH_KEYS, detach_keys as key_bytes
        from .foreground import start_attached

        keys = key_bytes(DEFAULT_DETACH_KEYS if detach_keys is None else detach_keys)
        reconcile(self.rt)
        rec = self.rt.state.lookup(name)
        if interactive:
            rec.config.interactive = True
        sys.stdout.flush()
        from ..state import INITIALIZED

        if rec.state == INITIALIZED:
            # set up by `init` under the monitor: attached through it, then let exec
            from .attach import attach
            from .start import release

            got = _named_start(rec.id, lambda: attach(
                self.rt, rec.id, no_stdin=not interactive,
                detach_keys=DEFAULT_DETACH_KEYS if detach_keys is None else detach_keys,
                sig_proxy=sig_proxy, start=lambda: release(self.rt, rec, self.warn)))
            return -1 if got is None else got
        code = _named_start(rec.id, lambda: start_attached(self.rt, rec, self.warn, sig_proxy=sig_proxy,
                                                           detach_keys=keys if rec.config.tty else None))
        if rec.config.pod:
            from .pods import member_exited

            member_exited(self.rt, rec, self.warn)
        return code

    def init(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        """`init`: set the containers up as `start` would, their processes waiting to exec until
        `start` (state `initialized`); all_: every created or exited container, the others
        left as they are (as podman does)."""
        from .container import STARTABLE
        from .start import init

        if all_ and names:
            raise InvalidArgument("no arguments are needed with --all")
        if not (all_ or latest or names):
            raise InvalidArgument("you must provide at least one name or id")
        reconcile(self.rt)
        if all_:
            names = [r.id for r in reversed(self.rt.state.all()) if r.state in STARTABLE]
        elif latest:
            names = [self.latest()]
        return _each(names, lambda n: (init(self.rt, self.rt.state.lookup(n), self.warn), n)[1])

    def stop(self, names: list[str], timeout: Optional[int], all_: bool = False,
             latest: bool = False, filters: Optional[list[str]] = None, ignore: bool = False) -> list[Report]:
        """`stop`: the named containers, those matching filters, every running one (all_) or
        the newest (latest); a name no container has stops them all unless ignore (then it
        has its error report, for the caller to pass over)."""
        from .lifecycle import check_timeout, stop

        # -a: every container, as podman 4.3.1 stops (and prints) them all; one not running is left as it is
        names = _select(self.rt, names, all_, latest, _made, filters, "stop")
        check_timeout(timeout)
        reconcile(self.rt)
        return (not ignore and _unknown(self.rt, names)) or _each(names, lambda n: stop(self.rt, n, timeout, self.warn))

    def kill(self, names: list[str], sig: int, all_: bool = False, latest: bool = False) -> list[Report]:
        from .lifecycle import kill

        names = _select(self.rt, names, all_, latest, _running)
        return _unknown(self.rt, names) or _each(names, lambda n: kill(self.rt, n, sig))

    def pause(self, names: list[str], all_: bool = False, latest: bool = False,
              filters: Optional[list[str]] = None) -> list[Report]:
        from .lifecycle import pause

        names = _select(self.rt, names, all_, latest, _running, filters, "pause")
        return _unknown(self.rt, names) or _each(names, lambda n: pause(self.rt, n))

    def unpause(self, names: list[str], all_: bool = False, latest: bool = False,
                filters: Optional[list[str]] = None) -> list[Report]:
        """`unpause`: the named containers, those matching filters, every paused one (all_) or
        the newest (latest)."""
        from ..state import PAUSED
        from .lifecycle import unpause

        reconcile(self.rt)
        names = _select(self.rt, names, all_, latest, lambda r: r.state == PAUSED, filters, "unpause")
        return _unknown(self.rt, names) or _each(names, lambda n: unpause(self.rt, n))

    def wait(self, names: list[str], conditions: tuple[str, ...] = ("stopped",),
             interval: Optional[float] = None, ignore: bool = False) -> list[Report]:
        """`wait`: each container's exit code once it meets one of the conditions (stopped,
        exited, created; running: -1, as podman says); interval: the seconds between two looks (podpy's own short back-off
        without it)."""
        from .lifecycle import wait

        for c in conditions:
            if c not in ("stopped", "exited", "created", "running"):
                raise InvalidArgument(f"invalid --condition {c!r}: use stopped, exited, created or running")
        return (not ignore and _unknown(self.rt, names)) or _each(names, lambda n: wait(self.rt, n, conditions, interval))

    def restart(self, names: list[str], timeout: Optional[int], all_: bool = False,
                running: bool = False, latest: bool = False, filters: Optional[list[str]] = None) -> list[Report]:
        """`restart`: stop (as `stop` does) and start again, detached; all_: every container
        made (every running one with running)."""
        from ..state import CONFIGURED, RUNNING
        from .lifecycle import check_timeout, stop
        from .start import start_detached

        check_timeout(timeout)
        reconcile(self.rt)
        names = _select(self.rt, names, all_, latest,
                        lambda r: r.state != CONFIGURED and (r.state == RUNNING or not running), filters, "restart")

        def one(name: str) -> str:
            rec = stop(self.rt, name, timeout, self.warn)
            start_detached(self.rt, self.rt.state.get(rec.id) or rec, self.warn)
            return name
        return _unknown(self.rt, names) or _each(names, one)

    def latest(self) -> str:
        """--latest: the full id of the container created last (NoSuchContainer when none)."""
        from .listing import latest

        return latest(self.rt).id

    def cleanup(self, name: str) -> None:
        """What the monitor runs after a detached container's exit (`container cleanup ID`)."""
        from .cleanup import cleanup

        cleanup(self.rt, name, self.warn)

    def cleanup_many(self, names: list[str], all_: bool = False, latest: bool = False, remove: bool = False,
                     remove_image: bool = False, exec_session: Optional[str] = None) -> list[Report]:
        """`container cleanup` as a user runs it: each container's exit recorded (its --rm and
        restart policy applied, as after any exit); a container still running is refused.
        remove: then it is removed; remove_image: then its image, unless in use. all_: every
        container, by full id in id order; latest: the newest. exec_session: podpy keeps no
        exec sessions, so none is ever found."""
        from ..state import CONFIGURED, PAUSED, RUNNING
        from .cleanup import cleanup

        import os

        from .container import Container

        if exec_session is not None and all_:
            raise InvalidArgument("exec and all options conflict")
        if exec_session is not None and len(names) > 1:
            raise InvalidArgument("cannot use exec option when more than one container is given")
        if exec_session is not None and remove_image:
            raise InvalidArgument("exec and rmi options conflict")
        if not os.path.exists(os.path.join(self.rt.cfg.root, "podpy.db")):
            return [Report(n) for n in names]   # the store is gone (system reset): nothing to record
        if all_:
            names = sorted(r.id for r in self.rt.state.all() if r.state != CONFIGURED)
        elif latest:
            names = [self.latest()]

        def one(name: str) -> str:
            rec = self.rt.state.lookup(name)
            if exec_session is not None:
                raise NoSuchContainer(f"container {rec.id} has no exec session with ID {exec_session}: "
                                      "no such exec session")
            # running means no exit to record: the monitor writes the exit file before it runs this
            if rec.state in (RUNNING, PAUSED) and (not rec.detached or Container(self.rt, rec).read_exit() is None):
                raise InvalidState(f"failed to clean up container {rec.id}: container {rec.id} is running or paused, "
                                   "refusing to clean up: container state improper")
            cleanup(self.rt, rec.id, self.warn)
            now = self.rt.state.get(rec.id)
            if now is not None and remove:
                from .removal import remove_container

                remove_container(self.rt, now, force=False)
            if remove_image:
                from .images import ImageEngine

                for report in ImageEngine(self.rt, self.warn).rm([rec.image_id]):
                    if report.error is not None:
                        raise report.error
            return name
        return _each(names, one)

    # -- remove and rename -------------------------------------------------------------------

    def rm(self, names: list[str], force: bool, all_: bool, ignore: bool, volumes: bool = False,
           timeout: Optional[int] = None, depend: bool = False, latest: bool = False,
           filters: Optional[list[str]] = None) -> list[Report]:
        """`rm`: one report per container; with depend, the containers sharing its namespaces
        first (each before those it shares). filters and latest pick the containers (by full
        id) instead of names and all_."""
        from .lifecycle import check_timeout
        from .removal import remove_many

        if filters or latest:
            try:
                names, all_ = _select(self.rt, [], False, latest, _running, filters, "rm"), False
            except NoSuchContainer as exc:   # no latest: rm's code for a missing container
                return [Report("", error=exc)]
            if not names:
                return []
        elif not names and not all_:
            raise InvalidArgument("`podpy rm` requires at least one argument, or --all")
        check_timeout(timeout)
        # as podman's: forcing the removal of a container that does not exist is no error
        return remove_many(self.rt, names, force, all_, ignore or force, volumes, timeout, self.warn, depend)

    def rename(self, name: str, new: str) -> None:
        from ..options import check_name
        from .container import Container

        reconcile(self.rt)
        ctr = Container.lookup(self.rt, name)
        new = check_name(new)
        if new != ctr.name:
            ctr.rename(new)

    # -- reads -------------------------------------------------------------------------------

    def ps(self, opts: PsOptions) -> list[PsEntry]:
        """`ps`: the containers (running ones unless opts say otherwise), newest first."""
        from .listing import ps

        return ps(self.rt, opts)

    def inspect(self, names: list[str], kind: str = "container", size: bool = False) -> list[Report]:
        """`inspect`: one report per name, its inspect document or its error; kind "all" looks
        a name that is no container up as an image, "image" only as an image; size adds a
        container's SizeRw and SizeRootFs."""
        from .listing import inspect

        return inspect(self.rt, names, kind, size)

    def exists(self, name: str) -> bool:
        from .listing import exists

        return exists(self.rt, name)

    def port(self, name: Optional[str], private: Optional[str] = None, all_: bool = False,
             latest: bool = False) -> list[PortReport]:
        """`port`: published ports of a container, of every running one (all_) or of the
        newest running one (latest); private ("80/tcp") picks one container port."""
        from .listing import port

        return port(self.rt, name, private, all_, latest)

    def top(self, name: str, descriptors: list[str]) -> list[list[str]]:
        """`top`: a header row, then one row of the descriptors' fields per process."""
        from .observe import top

        return top(self.rt, name, descriptors)

    def stats(self, names: list[str], interval: int = 5, stream: bool = True,
              all_: bool = False) -> Iterator[list[dict[str, object]]]:
        """`stats`: podman's ContainerStats of the named containers (of every running one
        without names or with all_, read again each round), one list per interval; without
        stream only the first. Named containers must run; the readings end when none of them
        runs any more."""
        from .observe import stats

        if all_ and names:
            raise InvalidArgument("--all, --latest and containers cannot be used together")
        if interval < 1:
            raise InvalidArgument("--interval must be at least 1 second")
        return stats(self.rt, names, interval, stream, all_)

    def logs(self, names: list[str], opts: LogsOptions) -> Iterator[tuple[ContainerRecord, Entry]]:
        """`logs`: (container, entry) for each line of each container's log in turn; with
        opts.follow, the new lines of all of them as they come, until every one stopped.
        Every name is looked up, and its log driver checked, before the first line."""
        from .logs import entries_of

        reconcile(self.rt)
        recs = [self.rt.state.lookup(n) for n in names]
        return entries_of(self.rt, recs, opts.follow, opts.tail, opts.since, opts.until)

    def runlabel(self, label: str, image: str, args: list[str], name: Optional[str] = None,
                 pull: Any = None, replace: bool = False, display: bool = False,
                 opts: Optional[dict[str, str]] = None) -> Any:
        """`container runlabel`: the command of the image's label, substituted as podman does
        (a runlabel.RunlabelCommand); the image is pulled (with pull's PullOptions) when it is
        not here. With replace, a container of the name the command's --name gives is removed
        first (unless display, which changes nothing)."""
        from .pull import PullOptions
        from .runlabel import runlabel

        made = runlabel(self.rt, label, image, list(args), name, pull or PullOptions(name=image),
                        self.progress or (lambda _line: None), opts)
        if replace and not display and made.name:
            try:
                self.rt.state.lookup(made.name)
            except NoSuchContainer:
                return made
            for report in self.rm([made.name], force=True, all_=False, ignore=False):
                if report.error is not None:
                    raise report.error
        return made

    def clone(self, name: str, parse: Callable[[list[str]], dict[str, Any]], new_name: Optional[str] = None,
              image: Optional[str] = None, pod: Optional[str] = None, changes: Optional[dict[str, Any]] = None,
              destroy: bool = False, force: bool = False, run: bool = False) -> ContainerRecord:
        """`container clone`: a new container with the original's options (its command line,
        parsed again by parse) and the changes; with destroy the original is removed after
        (a running one only with force), with run the clone is started (clone.py)."""
        from .clone import clone

        return clone(self, name, parse, new_name, image, pod, dict(changes or {}), destroy, force, run)

    def update(self, name: str, opts: CreateOptions) -> str:
        """`update`: the container's resource limits replaced by opts' (the flags of update.FIELDS),
        in its configuration and, while it runs, in its cgroup; its full id."""
        from .update import update

        return update(self.rt, name, opts, self.warn)

    def diff(self, name: str) -> list[tuple[str, str]]:
        """`diff`: (A, C or D, path) for what the container added, changed or deleted."""
        from .commit import diff

        return diff(self.rt, name)

    # -- data in and out ---------------------------------------------------------------------

    def attach(self, name: str, no_stdin: bool = False, detach_keys: str = "ctrl-p,ctrl-q",
               sig_proxy: bool = True) -> int:
        """`attach`: this process's terminal to a detached container; its exit code (0 when
        detached from it). sig_proxy: without a terminal, the signals this process receives go
        to the container's main process."""
        from .attach import attach

        code = attach(self.rt, name, no_stdin, detach_keys, sig_proxy)
        return code if code is not None else 0

    def export(self, name: str, output: Optional[str]) -> None:
        """`export`: the container's file system as a tar, to output (None or "-": fd 1)."""
        from .archive_io import export_container

        export_container(self.rt, name, output)

    def cp(self, src: str, dst: str, archive: bool = True, overwrite: bool = False, pause: bool = True) -> None:
        """`cp`: between CONTAINER:PATH and a host path (or "-", a tar on fd 0 or 1), or between
        two containers. archive: files copied in belong to the container's user (else they keep
        their ids); overwrite: a directory may replace a non-directory and the other way round;
        pause: running containers are frozen during the copy."""
        from .cp import cp

        cp(self.rt, src, dst, archive, overwrite, pause)

    def commit(self, opts: CommitOptions) -> Image:
        """`commit`: a new image of the container's image plus its changes."""
        from .commit import check_target, commit

        check_target(opts.image)
        return commit(self.rt, opts.container, opts.image, list(opts.changes), opts.message, opts.author,
                      opts.pause, opts.include_volumes, opts.squash)

    # -- mounts ------------------------------------------------------------------------------

    def mount(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        """`mount`: each container's file system (its image's layers and its own changes)
        read-only at a path of the host that the user reads with their own tools, owners as
        the container sees them (see mounts.py); one mounted already is counted once more.
        One report per container, its mount point. Every name is looked up first: an
        unknown one fails the call before anything is mounted."""
        from ..state import CONFIGURED
        from . import mounts

        reconcile(self.rt)
        names = _select(self.rt, names, all_, latest, lambda r: r.state != CONFIGURED)
        recs = [(n, self.rt.state.lookup(n)) for n in names]
        reports = []
        for name, rec in recs:
            try:
                reports.append(Report(name, mounts.mount_container(self.rt, rec)))
            except Exception as exc:  # noqa: BLE001 - one report each
                reports.append(Report(name, error=translate(exc)))
        return reports

    def unmount(self, names: list[str], all_: bool = False, force: bool = False,
                latest: bool = False) -> list[Report]:
        """`umount`: one report per container, its id. A mount goes when its counter comes
        down to 0, at once with force; a container that is not mounted is no error (as in
        podman). all_: every mounted container."""
        from . import mounts

        reconcile(self.rt)
        if all_:
            targets = [(m.id, m.id) for m in mounts.mounted(self.rt, mounts.CONTAINER)]
        elif latest:
            targets = [(n, self.rt.state.lookup(n).id) for n in _select(self.rt, [], False, True, lambda r: True)]
        elif not names:
            raise InvalidArgument("you must provide at least one name or id")
        else:
            targets = [(n, self.rt.state.lookup(n).id) for n in names]
        reports = []
        for name, cid in targets:
            try:
                mounts.unmount_container(self.rt, cid, force)
            except Exception as exc:  # noqa: BLE001 - one report each
                reports.append(Report(name, error=translate(exc)))
                continue
            reports.append(Report(name, cid))
        return reports

    def mounted(self) -> list[MountReport]:
        """`mount` with no names: the mounted containers."""
        from . import mounts

        return mounts.mounted(self.rt, mounts.CONTAINER)

    def prune(self, opts: ContainerPruneOptions) -> list[PruneReport]:
        """`container prune`: every container that does not run (and matches opts), one
        report each."""
        from .removal import prune

        return prune(self.rt, opts)
