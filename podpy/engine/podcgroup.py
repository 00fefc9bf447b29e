"""A pod's own cgroup: the limits `pod create` takes for the pod as a whole.

`pod create --cpus/--cpu-shares/--cpuset-cpus/--cpuset-mems/--memory/--memory-swap/
--blkio-weight/--blkio-weight-device/--device-read-bps/--device-write-bps` are checked by the
same rules as a container's, and written to a cgroup of the pod's (`podpy-pod-ID`, in the
delegated subtree or under `--cgroup-parent`). Every container of the pod, its infra container
included, gets its cgroup below the pod's, so the limits bind their sum, as in podman. The
pod's cgroup is made when its first container starts (limits written again at each start, so
a controller delegated later takes effect) and removed with the pod.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .podstore import PodRecord

PREFIX = "podpy-pod-"


def decide(o: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """(the cgroup files to write, the values `pod inspect` shows by podman's names) of a
    PodCreateOptions (podoptions.py; pods.py imports this module), checked as `create` checks a
    container's flags (the same errors)."""
    from ..options import parse_limits, parse_size
    from . import cgroupopts
    from .runoptions import CreateOptions

    limits = parse_limits(o.memory, o.memory_swap, o.cpus, o.cpu_shares, None)
    copts = CreateOptions(image="", cpuset_cpus=o.cpuset_cpus, cpuset_mems=o.cpuset_mems,
                          blkio_weight=o.blkio_weight, blkio_weight_device=list(o.blkio_weight_device),
                          device_read_bps=list(o.device_read_bps), device_write_bps=list(o.device_write_bps))
    more, resources, _warnings = cgroupopts.decide(copts, limits)
    limits.update(more)
    shown: dict[str, Any] = {}
    if "cpus" in limits:
        quota, period = limits["cpus"].split()
        shown.update(cpu_period=int(period), cpu_quota=int(quota))
    if o.cpu_shares:
        shown["cpu_shares"] = int(o.cpu_shares)
    for key, field in (("CpusetCpus", "cpuset_cpus"), ("CpusetMems", "cpuset_mems"),
                       ("BlkioWeight", "blkio_weight"), ("BlkioWeightDevice", "blkio_weight_device"),
                       ("BlkioDeviceReadBps", "device_read_bps"), ("BlkioDeviceWriteBps", "device_write_bps")):
        if resources.get(key):
            shown[field] = resources[key]
    if "memory" in limits:
        memory = int(limits["memory"])
        shown["memory_limit"] = memory
        swap = limits.get("memory_swap")
        # podman shows memory plus swap, twice the memory when --memory-swap is not given
        shown["memory_swap"] = -1 if swap == "max" else (memory + int(swap) if swap else 2 * memory)
    elif o.memory and parse_size(o.memory, "--memory") == 0:
        pass    # 0: no limit
    return limits, shown


def place(cgroup_parent: str) -> tuple[str, str]:
    """(the directory the pod's cgroup is made in, why there is none when it is ""), decided
    once at `pod create`: the creating command's own cgroup when it may make children there
    (as a container's is), or --cgroup-parent in the cgroup2 tree."""
    from rootless import cgroups

    info = cgroups.detect()
    if cgroup_parent:
        if not info.mount:
            return "", "there is no cgroup2 file system"
        return os.path.join(info.mount, cgroup_parent.strip("/")), ""
    return (info.path, "") if info.writable and info.path else ("", info.reason)


def cgroup_path(pod: PodRecord) -> str:
    """The pod's cgroup directory ("" when pods get no cgroup where it was made)."""
    parent = pod.config.cgroup_dir
    return os.path.join(parent, PREFIX + pod.id) if parent else ""


def relative(pod: PodRecord) -> tuple[str, str]:
    """(CgroupParent, CgroupPath) as `pod inspect` shows them: paths in the cgroup2 tree."""
    from rootless import cgroups

    mount = cgroups.cgroup2_mount()
    full = cgroup_path(pod)
    if not full or not mount:
        return pod.config.cgroup_parent, ""
    rel = "/" + os.path.relpath(full, mount)
    return os.path.dirname(rel), rel


def ensure(pod: PodRecord, warn: Callable[[str], None]) -> Optional[str]:
    """Make the pod's cgroup (if it is not there) and write its limits; None when it cannot
    be made (said in a warning when the pod has limits)."""
    from rootless import cgroups

    from .cgroupopts import limit_flags

    cfg = pod.config
    target: Optional[str] = cgroup_path(pod)
    why = "no cgroup could be made for it when it was created"
    made = False
    try:
        if target:
            os.makedirs(cfg.cgroup_dir, exist_ok=True)
            os.mkdir(target)
            made = True
    except FileExistsError:
        pass
    except OSError as exc:
        why, target = f"cannot create {target}: {exc.strerror}", None
    if not target:
        if cfg.limits:
            warn(f"the pod's {limit_flags(list(cfg.limits))} ignored: it has no cgroup ({why})")
        return None
    missing = cgroups.apply_limits(target, cfg.limits) if cfg.limits else []
    # said once, when the pod's first container makes the cgroup, not at each start
    for ctrl in missing if made else ():
        flags = limit_flags([k for k in cfg.limits if cgroups.limit_file(k)[0] == ctrl])
        warn(f"the pod's {flags} ignored: the {ctrl} controller is not delegated to {cfg.cgroup_dir}")
    return target


def remove(pod: PodRecord) -> None:
    """Remove the pod's cgroup (its containers' are gone by now); nothing when it never was."""
    from rootless import cgroups

    target = cgroup_path(pod)
    if not target or not os.path.isdir(target):
        return
    for dirpath, _dirs, _files in sorted(os.walk(target), key=lambda t: -len(t[0])):
        cgroups.remove(dirpath)
