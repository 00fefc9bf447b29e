"""`container clone`: a new container made from an existing one's configuration.

A container keeps the command line that made it (`create_command`, as inspect shows it). A
clone is that command line parsed again (by the front end's parser, handed in), so it gets
every option the original was made with, then what the clone's flags change: its name (by
default the original's with `-clone`, then `-clone1`, `-clone2`... while those are taken),
its image, its pod and the resource limits `run` takes. A container that no `run` or
`create` made (an infra container, a `kube play` one) has no such command line and is
refused, saying so.
"""

from __future__ import annotations

from ..errors import InvalidArgument, InvalidState, NoSuchContainer
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ..state import ContainerRecord
    from .runoptions import CreateOptions

# the options a clone does not take over: they name the original or act once
_DROPPED = {"name": None, "cidfile": None, "replace": False, "pod_id_file": None, "detach": False}


def made_by(rec: ContainerRecord) -> list[str]:
    """The words after `run` or `create` of the command line that made rec."""
    words = list(rec.config.create_command)
    for i, word in enumerate(words[1:], 1):
        if word in ("run", "create") and not rec.config.pod_infra and not {"pod", "kube", "play"} & set(words[1:i]):
            return words[i + 1:]
    raise InvalidArgument(f"container {rec.name} was not made by `run` or `create` "
                          f"(but by `{' '.join(words[:3])}`): podpy clones only those")


def clone_name(rt: Runtime, base: str) -> str:
    """podman's name for a clone: BASE-clone, else BASE-clone1, BASE-clone2..."""
    n = 0
    while True:
        name = f"{base}-clone" + (str(n) if n else "")
        try:
            rt.state.lookup(name)
        except NoSuchContainer:
            return name
        n += 1


def clone_options(rt: Runtime, rec: ContainerRecord, parse: Callable[[list[str]], dict[str, Any]],
                  name: Optional[str], image: Optional[str], pod: Optional[str],
                  changes: dict[str, Any]) -> CreateOptions:
    """The options of rec's clone: rec's own, parsed again, with the clone's changes."""
    from .runoptions import CreateOptions

    fields = parse(made_by(rec))
    fields.update(_DROPPED)
    fields["name"] = name or clone_name(rt, rec.name)
    if image:
        fields["image"] = image
    if pod is not None:
        fields["pod"] = pod
    given = {k: v for k, v in changes.items() if v not in (None, [])}
    # one CPU quota, whichever way it was given: the clone's replaces the original's
    if "cpus" in given:
        fields.pop("cpu_period", None)
        fields.pop("cpu_quota", None)
    if "cpu_period" in given or "cpu_quota" in given:
        fields.pop("cpus", None)
    fields.update(given)
    opts = CreateOptions(**{k: v for k, v in fields.items() if k in CreateOptions.FIELDS})
    opts.create_command = list(rec.config.create_command)
    return opts


def clone(engine: Any, name: str, parse: Callable[[list[str]], dict[str, Any]], new_name: Optional[str],
          image: Optional[str], pod: Optional[str], changes: dict[str, Any], destroy: bool, force: bool,
          run: bool) -> ContainerRecord:
    """ContainerEngine.clone's work, through the engine's own verbs (create, rm, start). A
    running original that --destroy may not remove is refused before anything is made."""
    from ..state import PAUSED, RUNNING

    rt = engine.rt
    reconcile(rt)
    rec = rt.state.lookup(name)
    if destroy and rec.state in (RUNNING, PAUSED) and not force:
        raise InvalidState(f"cannot remove container {rec.id} as it is {rec.state} - running or paused "
                           "containers cannot be removed without force: container state improper")
    made = engine.create(clone_options(rt, rec, parse, new_name, image, pod, changes))
    if destroy:
        for report in engine.rm([rec.id], force=force, all_=False, ignore=False):
            if report.error is not None:
                raise report.error
    if run:
        for report in engine.start([made.id]):
            if report.error is not None:
                raise report.error
    return made
