"""A pod's init containers (`create --pod P --init-ctr always|once`, and the initContainers
of `kube play`): when the pod starts, after its infra container and before its other
containers, each runs to completion in turn, in the order they were made. An "always" one
runs at every start of the pod; a "once" one is removed when it has succeeded, so it runs at
the first start only. One that fails (exits non-zero, or cannot start) stops the pod's start
there, with podman's words: the pod's other containers are not started.
"""

from __future__ import annotations

from ..errors import InvalidState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from ..state import ContainerRecord
    from .context import Runtime

MODES = ("always", "once")


def split(recs: list[ContainerRecord]) -> tuple[list[ContainerRecord], list[ContainerRecord], list[ContainerRecord]]:
    """A pod's containers (oldest first) in the order a start takes them: the infra container,
    the init containers, the others."""
    infra = [r for r in recs if r.config.pod_infra]
    init = [r for r in recs if not r.config.pod_infra and r.config.init_ctr]
    rest = [r for r in recs if not r.config.pod_infra and not r.config.init_ctr]
    return infra, init, rest


def run(rt: Runtime, recs: list[ContainerRecord], warn: Callable[[str], None]) -> None:
    """Run the init containers recs, one after the other, each to completion; a "once" one is
    removed once it succeeded. Raises on the first that fails."""
    from .lifecycle import wait
    from .removal import remove_container
    from .start import start_detached

    for rec in recs:
        current = rt.state.get(rec.id)
        if current is None:
            continue   # a "once" one another start ran and removed meanwhile
        if current.state not in ("running", "paused"):
            start_detached(rt, current, warn)
        code = wait(rt, rec.id)
        if code != 0:
            raise InvalidState(f"init container {rec.id} exited with code {code}")
        if rec.config.init_ctr == "once":
            done = rt.state.get(rec.id)
            if done is not None:
                remove_container(rt, done, force=True, warn=warn)
