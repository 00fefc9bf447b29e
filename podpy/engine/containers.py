"""The container engine: one method per verb, the interface every front end calls.

The CLI parses, makes one call here per command and renders what comes back; the
HTTP API, `kube play` and unit generators call the same methods. A verb over several
containers returns one `Report` per container, each with its own error, so `rm a b c`
can partly fail and say which. The methods only orchestrate: state changes are the
Container's (container.py), starting is start.py's, the running verbs lifecycle.py's.
"""

from __future__ import annotations

import sys

from ..errors import InvalidArgument, PodpyError, translate
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from ..state import ContainerRecord
    from .runoptions import CreateOptions


class Report:
    """One container of a multi-container verb: its name as given, what the verb returned
    for it (an exit code for `wait`) and, when it failed, why."""

    __slots__ = ("name", "value", "error")

    def __init__(self, name: str, value: object = None, error: Optional[PodpyError] = None) -> None:
        self.name, self.value, self.error = name, value, error


def _each(names: list[str], verb: Callable[[str], object]) -> list[Report]:
    reports = []
    for name in names:
        try:
            reports.append(Report(name, verb(name)))
        except PodpyError as exc:
            reports.append(Report(name, error=exc))
        except Exception as exc:  # noqa: BLE001 - one report each, not one traceback for all
            reports.append(Report(name, error=translate(exc)))
    return reports


class ContainerEngine:
    """The container verbs over one store (a Runtime: configuration, database, store)."""

    def __init__(self, rt: Runtime, warn: Callable[[str], None],
                 progress: Optional[Callable[[str], None]] = None) -> None:
        self.rt = rt
        self.warn = warn          # one line for the user, not an error
        self.progress = progress  # a pull's progress lines

    # -- create and run ----------------------------------------------------------------------

    def create(self, opts: CreateOptions) -> ContainerRecord:
        """`create`: pull the image if the policy says so, then make the container."""
        from .create import create

        reconcile(self.rt)
        self._pull_if_needed(opts.image, opts.pull)
        return create(self.rt, opts)

    def run(self, opts: CreateOptions, on_detached: Optional[Callable[[str], None]] = None) -> int:
        """`run`: pull if needed, create, start (detached or attached) and, for --rm, tear down
        once it is over. The container's exit code (0 for a detached one, whose id goes to
        on_detached)."""
        from .create import create

        ahead = None
        mappings = None if opts.detach else self.rt.userns_mappings
        if mappings is not None:
            # Its stage 1 forked now: it unshares and maps its user namespace on the other CPU
            # while this process creates the container (rootless/ahead.py).
            from rootless import ahead as stage1

            ahead = stage1.start(mappings)
        try:
            reconcile(self.rt)
            self._pull_if_needed(opts.image, opts.pull)
            rec = create(self.rt, opts, for_run=True)
            for line in self.rt.cfg.warnings:
                self.warn(line)
            if opts.detach:
                from .start import start_detached

                start_detached(self.rt, rec, self.warn)
                if on_detached is not None:
                    on_detached(rec.id)
                return 0
            from .start import start_attached

            sys.stdout.flush()
            return start_attached(self.rt, rec, self.warn, ahead)
        finally:
            if ahead is not None:
                ahead.discard()

    def _pull_if_needed(self, image: str, policy: Optional[str]) -> None:
        policy = policy or "missing"
        if policy == "never":
            return
        if policy == "missing":
            from storage.errors import StorageError

            try:
                self.rt.store.image(image, self.rt.cfg.short_names)
                return
            except StorageError:
                pass  # not here: pull it, as podman does
        from .pull import ensure_image

        ensure_image(self.rt, image, policy, self.progress or (lambda _line: None))

    # -- start, stop and the other running verbs ---------------------------------------------

    def start(self, names: list[str]) -> list[Report]:
        """`start` (detached): starting a running container changes nothing, as in podman."""
        from ..state import PAUSED, RUNNING
        from .start import start_detached

        reconcile(self.rt)

        def one(name: str) -> str:
            rec = self.rt.state.lookup(name)
            if rec.state not in (RUNNING, PAUSED):
                start_detached(self.rt, rec, self.warn)
            return name
        return _each(names, one)

    def start_attached(self, name: str, interactive: bool) -> int:
        """`start -a`: in the foreground; its exit code."""
        from .start import start_attached

        reconcile(self.rt)
        rec = self.rt.state.lookup(name)
        if interactive:
            rec.config.interactive = True
        sys.stdout.flush()
        return start_attached(self.rt, rec, self.warn)

    def stop(self, names: list[str], timeout: Optional[int]) -> list[Report]:
        from .lifecycle import check_timeout, stop

        check_timeout(timeout)
        reconcile(self.rt)
        return _each(names, lambda n: stop(self.rt, n, timeout, self.warn))

    def kill(self, names: list[str], sig: int) -> list[Report]:
        from .lifecycle import kill

        return _each(names, lambda n: kill(self.rt, n, sig))

    def pause(self, names: list[str]) -> list[Report]:
        from .lifecycle import pause

        return _each(names, lambda n: pause(self.rt, n))

    def unpause(self, names: list[str]) -> list[Report]:
        from .lifecycle import unpause

        reconcile(self.rt)
        return _each(names, lambda n: unpause(self.rt, n))

    def wait(self, names: list[str], conditions: tuple[str, ...]) -> list[Report]:
        from .lifecycle import wait

        return _each(names, lambda n: wait(self.rt, n, conditions))

    def restart(self, names: list[str], timeout: Optional[int]) -> list[Report]:
        """`restart`: stop (as `stop` does) and start again, detached."""
        from .lifecycle import check_timeout, stop
        from .start import start_detached

        check_timeout(timeout)
        reconcile(self.rt)

        def one(name: str) -> str:
            rec = stop(self.rt, name, timeout, self.warn)
            start_detached(self.rt, self.rt.state.get(rec.id) or rec, self.warn)
            return name
        return _each(names, one)

    def cleanup(self, name: str) -> None:
        """`container cleanup`: what the monitor runs after a detached container's exit."""
        from .cleanup import cleanup

        cleanup(self.rt, name, self.warn)

    # -- remove and rename -------------------------------------------------------------------

    def rm(self, names: list[str], force: bool, all_: bool, ignore: bool, volumes: bool = False,
           timeout: Optional[int] = None) -> list[Report]:
        from .lifecycle import check_timeout
        from .removal import remove_many

        if not names and not all_:
            raise InvalidArgument("`podpy rm` requires at least one argument, or --all")
        check_timeout(timeout)
        return [Report(r.name, error=r.error)
                for r in remove_many(self.rt, names, force, all_, ignore, volumes, timeout, self.warn)]

    def rename(self, name: str, new: str) -> None:
        from ..options import check_name
        from .container import Container

        reconcile(self.rt)
        ctr = Container.lookup(self.rt, name)
        new = check_name(new)
        if new != ctr.name:
            ctr.rename(new)
