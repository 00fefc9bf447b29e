"""`update`: new resource limits for an existing container.

The flags are `run`'s (declared in runoptions.py) and are checked as `create` checks them
(options.parse_limits, cgroupopts.decide); the new values replace the old ones key by key in
the container's configuration, so inspect shows them and every later start writes them. A
running container gets them at once in the files of its cgroup; one that runs without a
cgroup of its own (the controllers are not delegated to the user) cannot, and is refused as
podman refuses it there, with nothing changed.
"""

from __future__ import annotations

from ..errors import InvalidArgument, InvalidState
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from .runoptions import CreateOptions

# the flags of `update` (podman 4.3.1's): the CreateOptions fields they set
FIELDS = ("blkio_weight", "blkio_weight_device", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
          "cpu_shares", "cpus", "cpuset_cpus", "cpuset_mems", "device_read_bps", "device_read_iops",
          "device_write_bps", "device_write_iops", "memory", "memory_reservation", "memory_swap",
          "memory_swappiness")
# a limit key -> the keys it cannot stand beside (the CPU quota of --cpus and of --cpu-quota is one file)
_REPLACES = {"cpus": ("cpu_max",), "cpu_max": ("cpus",)}


def update(rt: Runtime, name: str, o: CreateOptions, warn: Callable[[str], None]) -> str:
    """The container's full id, once its limits are the new ones."""
    from .. import options as opt
    from ..state import PAUSED, RUNNING
    from . import cgroupopts
    from .container import Container

    reconcile(rt)
    rec = rt.state.lookup(name)
    if o.memory_swap and not o.memory and "memory" in rec.config.limits:
        o.memory = rec.config.limits["memory"]   # --memory-swap alone: over the memory limit it has
    limits = opt.parse_limits(o.memory, o.memory_swap, o.cpus, o.cpu_shares, None)
    more, resources, warnings = cgroupopts.decide(o, limits)
    limits.update(more)
    if not limits and not resources:
        return rec.id   # nothing asked: nothing changes
    for w in warnings:
        warn(w)
    running = rec.state in (RUNNING, PAUSED) and rec.pid
    if running and not rec.cgroup:
        what = "memory" if "memory" in limits else "cpu" if any(k.startswith("cpu") for k in limits) else "resource"
        raise InvalidState(f"cannot set {what} limit: container could not join or create cgroup")
    if running:
        from rootless import cgroups

        try:
            missing = cgroups.apply_limits(rec.cgroup, limits)
        except OSError as exc:
            raise InvalidArgument(f"updating the cgroup of container {rec.name}: "
                                  f"{(exc.strerror or str(exc)).lower()}") from None
        if missing:
            warn(f"the {', '.join(missing)} controller is not delegated to this user: "
                 f"container {rec.name} runs without the new limits it sets")
    new = dict(rec.config.limits)
    for key in limits:
        for other in _REPLACES.get(key, ()):
            new.pop(other, None)
    new.update(limits)
    rec.config.limits = new
    rec.config.resources = {**rec.config.resources, **resources}
    Container(rt, rec).save_config()
    return rec.id
