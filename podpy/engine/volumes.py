"""The volume engine: one method per volume verb, the interface every front end calls, and
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

    from .entities import PruneFilters, VolumeCreateOptions


def remove(rt: Runtime, name: str, force: bool) -> str:
    """Remove a volume; one in use only with force, which removes those containers first."""
    from .removal import remove_container

    vol = lookup(rt, name)
    using = users(rt, vol["Name"])
    if using and not force:
        raise InvalidState(f"volume {vol['Name']} is being used by the following container(s): "
                           f"{', '.join(r.id for r in using)}: volume is being used")
    for rec in using:
        remove_container(rt, rec, force=True)
    return delete(rt, vol["Name"])


def prune(rt: Runtime, filters: Optional[PruneFilters] = None) -> list[str]:
    """Every volume no container uses (that filters match)."""
    from ..formats import parse_rfc3339

    reconcile(rt)
    used = {m.get("volume") for r in rt.state.all() for m in r.config.mounts}
    return [remove(rt, v["Name"], False) for v in all_volumes(rt) if v["Name"] not in used
            and (filters is None or filters.matches(v["Labels"], parse_rfc3339(v["CreatedAt"])))]


def _matches(filters: list[str], used: set[Any]) -> Callable[[dict[str, Any]], bool]:
    """`volume ls --filter`: name=PART, label=KEY[=VALUE], dangling=true|false, all of them."""
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for f in filters:
        key, _, value = f.partition("=")
        if key == "name":
            tests.append(lambda v, value=value: value in v["Name"])
        elif key == "label":
            k, eq, lv = value.partition("=")
            tests.append(lambda v, k=k, eq=eq, lv=lv: k in v["Labels"] and (not eq or v["Labels"][k] == lv))
        elif key == "dangling" and value in ("true", "false"):
            tests.append(lambda v, value=value: (v["Name"] not in used) == (value == "true"))
        else:
            raise InvalidArgument(f"invalid filter {f!r}: use name=, label= or dangling=")
    return lambda v: all(t(v) for t in tests)


def volume_prune_filters(filters: list[str]) -> PruneFilters:
    """`volume prune --filter`: label and until, with podman's messages."""
    from .entities import PruneFilters

    return PruneFilters.parse(filters, '"{key}" is an invalid volume filter',
                              "filter input must be in the form of filter=value: {filter} is invalid",
                              ("until", "label"))


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
        wanted = _matches(filters, used)
        return [v for v in all_volumes(self.rt) if wanted(v)]

    def inspect(self, names: list[str]) -> list[Report]:
        """`volume inspect`: one report per name, its document or its error."""
        return each(names, lambda n: lookup(self.rt, n))

    def rm(self, names: list[str], force: bool = False, all_: bool = False) -> list[Report]:
        """`volume rm`: one report per volume (every one with all_); a volume in use only with
        force, which removes the containers using it first."""
        reconcile(self.rt)
        targets = [v["Name"] for v in all_volumes(self.rt)] if all_ else list(names)
        if not targets and not all_:
            raise InvalidArgument("`podpy volume rm` requires at least one volume name, or --all")

        def one(name: str) -> Any:
            try:
                return remove(self.rt, name, force)
            except NoSuchVolume:
                if force:  # as podman's: forcing the removal of a volume that is not there is no error
                    return None
                raise
        return each(targets, one)

    def prune(self, filters: Optional[list[str]] = None) -> list[str]:
        """`volume prune`: the names of the volumes removed, those no container uses (and,
        with filters, label=KEY[=VALUE] and until=TIME match)."""
        return prune(self.rt, volume_prune_filters(list(filters or [])) if filters else None)

    def exists(self, name: str) -> bool:
        try:
            lookup(self.rt, name)
            return True
        except NoSuchVolume:
            return False
