"""The volume engine: one method per volume verb (create, ls, inspect, rm, prune, exists, export,
import_, mount, unmount), the interface every front end calls, and
the verbs that reach containers (`volume rm -f` removes the containers using a volume first;
`volume prune`). The table and the directories are volumestore.py's."""

from __future__ import annotations

from ..errors import InvalidArgument, InvalidState, NoSuchVolume
from .context import Runtime
from .entities import Report, each
from .reconcile import reconcile
from .volumestore import all_volumes, delete, lookup, users

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .entities import VolumeCreateOptions


def remove(rt: Runtime, name: str, force: bool, timeout: Optional[int] = None) -> str:
    """Remove a volume; one in use only with force, which removes those containers first
    (a running one stopped with timeout seconds before SIGKILL, when given)."""
    from .removal import remove_container

    vol = lookup(rt, name)
    using = users(rt, vol["Name"])
    if using and not force:
        raise InvalidState(f"volume {vol['Name']} is being used by the following container(s): "
                           f"{', '.join(r.id for r in using)}: volume is being used")
    for rec in using:
        remove_container(rt, rec, force=True, timeout=timeout)
    return delete(rt, vol["Name"])


def prune(rt: Runtime, filters: Optional[list[str]] = None,
          confirm: Optional[Callable[[list[str]], bool]] = None,
          match: Optional[Callable[[dict[str, Any]], bool]] = None) -> list[str]:
    """Every volume no container uses (of those that pass filters, and match when given:
    system prune's label and time filters); confirm, when given, sees their names first and
    may call the removal off."""
    reconcile(rt)
    used = {m.get("volume") for r in rt.state.all() for m in r.config.mounts}
    wanted = matcher(rt, filters or [], used)
    names = [v["Name"] for v in all_volumes(rt) if v["Name"] not in used and wanted(v)
             and (match is None or match(v))]
    if confirm is not None and not confirm(names):
        return []
    return [remove(rt, name, False) for name in names]


def _bool(value: str) -> bool:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise InvalidArgument(f'"{value}" is not a valid value for the "dangling" filter - must be true or false')


def _until(value: str) -> float:
    """until=: a time, or a duration before now (a negative one: after now)."""
    import time

    from ..formats import go_duration, parse_time

    if value.startswith("-") and go_duration(value[1:]) is not None:
        return time.time() + (go_duration(value[1:]) or 0.0)
    try:
        return parse_time(value, "until")
    except InvalidArgument:
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"') from None


def _label(labels: dict[str, str], value: str) -> bool:
    key, eq, want = value.partition("=")
    return bool(key) and key in labels and (not eq or not want or labels[key] == want)


def _opt(options: dict[str, str], value: str) -> bool:
    key, eq, want = value.partition("=")
    return key in options and (not eq or options[key] == want)


def matcher(rt: Runtime, filters: list[str], used: set[Any]) -> Callable[[dict[str, Any]], bool]:
    """`volume ls --filter` and `volume prune --filter` (KEY=VALUE each): name (a regular
    expression), driver, scope, label (KEY or KEY=VALUE), opt (a driver option, KEY or
    KEY=VALUE), until (made before a time, or a duration ago), dangling (true or false).
    Values of one key: any of them; different keys: all of them."""
    import re

    from .volumestore import created_times

    by_key: dict[str, list[str]] = {}
    for f in filters:
        key, eq, value = f.partition("=")
        if not eq:
            raise InvalidArgument(f"filter input must be in the form of filter=value: {f} is invalid")
        by_key.setdefault(key.lower(), []).append(value)
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for key, values in by_key.items():
        if key == "name":
            try:
                patterns = [re.compile(v) for v in values]
            except re.error as exc:
                raise InvalidArgument(f"invalid name filter {exc.pattern!r}: {exc}") from None
            tests.append(lambda v, ps=patterns: any(p.search(v["Name"]) for p in ps))
        elif key in ("driver", "scope"):
            field = key.capitalize()
            tests.append(lambda v, vs=values, field=field: v[field] in vs)
        elif key == "label":
            tests.append(lambda v, vs=values: any(_label(v["Labels"], x) for x in vs))
        elif key == "opt":
            tests.append(lambda v, vs=values: any(_opt(v["Options"], x) for x in vs))
        elif key == "until":
            limits = [_until(x) for x in values]
            created = created_times(rt)
            tests.append(lambda v, ls=limits: any(created.get(v["Name"], 0.0) < t for t in ls))
        elif key == "dangling":
            flags = [_bool(x) for x in values]
            tests.append(lambda v, fs=flags: any((v["Name"] not in used) == f for f in fs))
        else:
            raise InvalidArgument(f'"{key}" is an invalid volume filter')
    return lambda v: all(t(v) for t in tests)


class VolumeEngine:
    """The volume verbs over one store (a Runtime: configuration, database, store)."""

    def __init__(self, rt: Runtime, warn: Callable[[str], None]) -> None:
        self.rt = rt
        self.warn = warn   # one line for the user, not an error

    def create(self, opts: VolumeCreateOptions) -> str:
        """`volume create`: the new volume's name (an existing one's with opts.ignore)."""
        from .volumestore import create

        if opts.driver != "local":
            raise InvalidArgument(f"unsupported volume driver {opts.driver!r}: local")
        return create(self.rt, opts.name, dict(opts.labels), dict(opts.options), exist_ok=opts.ignore)

    def ls(self, filters: list[str]) -> list[dict[str, Any]]:
        """`volume ls`: the volumes (their inspect documents) that pass every filter, oldest first."""
        used = {m.get("volume") for r in self.rt.state.all() for m in r.config.mounts}
        wanted = matcher(self.rt, filters, used)
        return [v for v in all_volumes(self.rt) if wanted(v)]

    def inspect(self, names: list[str], all_: bool = False) -> list[Report]:
        """`volume inspect`: one report per name (per volume with all_), its document or its error."""
        if all_ == bool(names):
            raise InvalidArgument("provide one or more volume names or use --all")
        if all_:
            return [Report(v["Name"], v) for v in all_volumes(self.rt)]
        return each(names, lambda n: lookup(self.rt, n))

    def export(self, name: str, output: Optional[str] = None) -> None:
        """`volume export`: the volume's content as a tar, to the file output (written whole
        or not at all) or, with None, to stdout."""
        from .volumeio import export

        vol = self._found(name)
        if output is None:
            export(self.rt, vol, 1)
            return
        from storage.fsutil import atomic_file

        try:
            with atomic_file(output) as f:
                export(self.rt, vol, f.fileno())
        except OSError as exc:
            raise InvalidArgument(f"could not create tarball file {output!r}: "
                                  f"open {output}: {(exc.strerror or str(exc)).lower()}") from exc

    def import_(self, name: str, source: str) -> None:
        """`volume import`: a tar (plain or compressed) from the file source, or "-": stdin,
        extracted into the volume over what it has."""
        import os

        from .volumeio import import_

        if source == "-":
            import_(self.rt, self._found(name), 0)
            return
        try:
            fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise InvalidArgument(f"open {source}: {(exc.strerror or str(exc)).lower()}") from exc
        try:
            import_(self.rt, self._found(name), fd)
        finally:
            os.close(fd)

    def mount(self, name: str) -> str:
        """`volume mount`: the path of the volume's content on the host. Rootless, podman
        allows it only inside its user namespace (`unshare`), and so does podpy."""
        import os

        if self.rt.cfg.rootless and not os.environ.get("_PODPY_USERNS_CONFIGURED"):
            raise InvalidArgument('cannot run command "podpy volume mount" in rootless mode, '
                                  "must execute `podpy unshare` first")
        from .volumeio import content_dir

        return content_dir(self.rt, lookup(self.rt, name))

    def unmount(self, name: str) -> str:
        """`volume unmount`: a local volume's directory stays where it is; the name back."""
        return str(lookup(self.rt, name)["Name"])

    def reload(self) -> tuple[list[str], list[str], list[str]]:
        """`volume reload`: (volumes added, volumes removed, errors) from scanning the volume
        plugins. podpy's volumes are all the local driver's: there is no plugin whose volumes
        could have come or gone, so the scan finds nothing, as podman's finds nothing without
        plugins."""
        return [], [], []

    def _found(self, name: str) -> dict[str, Any]:
        try:
            return lookup(self.rt, name)
        except NoSuchVolume:
            raise NoSuchVolume(f"no such volume {name}") from None

    def rm(self, names: list[str], force: bool = False, all_: bool = False,
           timeout: Optional[int] = None) -> list[Report]:
        """`volume rm`: one report per volume (every one with all_); a volume in use only with
        force, which removes the containers using it first (running ones stopped with timeout
        seconds before SIGKILL, when given)."""
        reconcile(self.rt)
        targets = [v["Name"] for v in all_volumes(self.rt)] if all_ else list(names)
        if not targets and not all_:
            raise InvalidArgument("`podpy volume rm` requires at least one volume name, or --all")

        def one(name: str) -> Any:
            try:
                return remove(self.rt, name, force, timeout)
            except NoSuchVolume:
                if force:  # as podman's: forcing the removal of a volume that is not there is no error
                    return None
                raise
        return each(targets, one)

    def prune(self, filters: Optional[list[str]] = None,
              confirm: Optional[Callable[[list[str]], bool]] = None) -> list[str]:
        """`volume prune`: the names of the volumes removed, those no container uses that
        pass filters; confirm sees the names first and may call it off."""
        return prune(self.rt, filters, confirm)

    def exists(self, name: str) -> bool:
        try:
            lookup(self.rt, name)
            return True
        except NoSuchVolume:
            return False
