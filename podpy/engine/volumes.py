"""Volume verbs that reach containers: `volume rm` (with -f, the containers using it go
first) and `volume prune`. The table and directories are volumestore's."""

from __future__ import annotations

from ..errors import InvalidState
from .context import Runtime
from .reconcile import reconcile
from .volumestore import all_volumes, delete, lookup, users


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


def prune(rt: Runtime) -> list[str]:
    """Every volume no container uses."""
    reconcile(rt)
    used = {m.get("volume") for r in rt.state.all() for m in r.config.mounts}
    return [remove(rt, v["Name"], False) for v in all_volumes(rt) if v["Name"] not in used]
