"""The cgroup options beyond --memory, --cpus, --cpu-shares and --pids-limit: --cpu-period,
--cpu-quota, --cpuset-cpus, --cpuset-mems, --cpu-rt-*, --blkio-weight, --blkio-weight-device,
--device-read/write-bps/iops, --memory-reservation, --memory-swappiness, --oom-kill-disable,
--device-cgroup-rule and --cgroup-conf, checked as `create` decides them.

`decide` returns three things: the cgroup v2 files to write at each start (added to the
container's `limits`, which rootless.cgroups writes where the controller is delegated and a
start warns about where it is not), the values inspect shows in HostConfig, and warnings for
what cgroup v2 has no file for (realtime CPU time, swappiness, disabling the OOM killer), which
the container then runs without. Device rules are checked and have no effect: a rootless
container's devices are bind mounts, and a device cgroup needs privileges it lacks.
"""

from __future__ import annotations

import os
import stat

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .runoptions import CreateOptions

# a ContainerConfig.limits key of this module -> the flag that asked for it (for warnings)
FLAGS = {"cpu_max": "--cpu-period/--cpu-quota", "cpuset_cpus": "--cpuset-cpus", "cpuset_mems": "--cpuset-mems",
         "memory_low": "--memory-reservation", "io_weight": "--blkio-weight", "io_max": "--device-read/write-bps/iops"}
# every ContainerConfig.limits key -> its flag
LIMIT_FLAGS = {"memory": "--memory", "memory_swap": "--memory-swap", "cpus": "--cpus", "cpu_shares": "--cpu-shares",
               "pids_limit": "--pids-limit", **FLAGS}


def limit_flags(keys: list[str]) -> str:
    """The flags that asked for these limits, once each, for a warning (a container's start, a
    pod's cgroup and build's RUN say them)."""
    out: list[str] = []
    for key in keys:
        flag = f"--cgroup-conf {key[5:]}" if key.startswith("file:") else LIMIT_FLAGS[key]
        if flag not in out:
            out.append(flag)
    return ", ".join(out)


_CPU_LIST = r"^\d+(-\d+)?(,\d+(-\d+)?)*$"  # `re` is imported only for the flags that need it
_THROTTLE = (("device_read_bps", "rbps", "BlkioDeviceReadBps"), ("device_write_bps", "wbps", "BlkioDeviceWriteBps"),
             ("device_read_iops", "riops", "BlkioDeviceReadIOps"),
             ("device_write_iops", "wiops", "BlkioDeviceWriteIOps"))


def decide(o: CreateOptions, limits: dict[str, str]) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """(cgroup files to add to limits, inspect's HostConfig values, warnings)."""
    files: dict[str, str] = {}
    shown: dict[str, Any] = {}
    warnings: list[str] = []
    period = _number(o.cpu_period, "--cpu-period", unsigned=True)
    quota = _number(o.cpu_quota, "--cpu-quota")
    if "cpus" in limits and period is not None:
        raise InvalidArgument("--cpu-period and --cpus cannot be set together")
    if "cpus" in limits and quota is not None:
        raise InvalidArgument("--cpu-quota and --cpus cannot be set together")
    if period is not None or quota is not None:
        if quota is not None and 0 < quota < 1000:
            raise InvalidArgument(f"invalid --cpu-quota {quota}: the least is 1000 (1ms)")
        if period is not None and period and not 1000 <= period <= 1000000:
            raise InvalidArgument(f"invalid --cpu-period {period}: 1000 (1ms) to 1000000 (1s)")
        files["cpu_max"] = f"{quota if quota and quota > 0 else 'max'} {period or 100000}"
        shown.update(CpuPeriod=period or 0, CpuQuota=quota or 0)
    for value, flag, key, field in ((o.cpuset_cpus, "--cpuset-cpus", "cpuset_cpus", "CpusetCpus"),
                                    (o.cpuset_mems, "--cpuset-mems", "cpuset_mems", "CpusetMems")):
        if value:
            import re

            if not re.match(_CPU_LIST, value):
                raise InvalidArgument(f"invalid {flag} {value!r}: a list such as 0-3,5")
            files[key] = value
            shown[field] = value
    rt_period = _number(o.cpu_rt_period, "--cpu-rt-period", unsigned=True)
    rt_runtime = _number(o.cpu_rt_runtime, "--cpu-rt-runtime")
    if rt_period is not None or rt_runtime is not None:
        shown.update(CpuRealtimePeriod=rt_period or 0, CpuRealtimeRuntime=rt_runtime or 0)
        warnings.append("--cpu-rt-period and --cpu-rt-runtime ignored: cgroup v2 has no realtime CPU time "
                        "controls")
    _io(o, files, shown)
    if o.memory_reservation:
        from .kernelopts import ram_in_bytes

        try:
            low = ram_in_bytes(o.memory_reservation, "--memory-reservation")
        except InvalidArgument:
            raise InvalidArgument(f"invalid value for memory: invalid size: '{o.memory_reservation}'") from None
        if "memory" in limits and low > int(limits["memory"]):
            raise InvalidArgument("minimum memory limit cannot be less than memory reservation limit, see usage")
        files["memory_low"] = str(low)
        shown["MemoryReservation"] = low
    if o.memory_swappiness is not None:
        value = _number(o.memory_swappiness, "--memory-swappiness")
        if value is not None and value != -1:
            if not 0 <= value <= 100:
                raise InvalidArgument(f"invalid value: {value}, valid memory swappiness range is 0-100")
            shown["MemorySwappiness"] = value
            warnings.append("--memory-swappiness ignored: cgroup v2 has no swappiness setting")
    if o.oom_kill_disable:
        shown["OomKillDisable"] = True
        warnings.append("--oom-kill-disable ignored: cgroup v2 cannot disable the OOM killer")
    for rule in o.device_cgroup_rule:
        check_device_rule(rule)
    return files, shown, warnings


def cgroup_conf(items: list[str]) -> dict[str, str]:
    """--cgroup-conf FILE=VALUE: a file of the container's cgroup, written at each start."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise InvalidArgument("--cgroup-conf must be formatted KEY=VALUE")
        if "/" in key or key.startswith(".") or "." not in key:
            raise InvalidArgument(f"invalid --cgroup-conf {item!r}: KEY is a file of the cgroup, such as memory.high")
        out[key] = value
    return out


def _number(value: Optional[str], flag: str, unsigned: bool = False) -> Optional[int]:
    if value is None:
        return None
    digits = value[1:] if value[:1] in ("+", "-") and not unsigned else value
    if not (digits.isascii() and digits.isdigit()):
        how = "ParseUint" if unsigned else "ParseInt"
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: strconv.{how}: parsing "{value}": '
                              "invalid syntax")
    return int(value)


def _device(path: str) -> Optional[str]:
    """A block device's MAJOR:MINOR (None when there is no such file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISBLK(st.st_mode):
        raise InvalidArgument(f"{path} is not a block device: the io controller limits block devices only")
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


def _io(o: CreateOptions, files: dict[str, str], shown: dict[str, Any]) -> None:
    """--blkio-weight (io.weight's default), --blkio-weight-device (its per-device lines) and the
    throttles (io.max's lines), as cgroup v2 takes them (weights 10-1000 scaled to 1-10000)."""
    lines: list[str] = []
    if o.blkio_weight is not None:
        weight = _number(o.blkio_weight, "--blkio-weight", unsigned=True)
        if weight and not 10 <= weight <= 1000:
            raise InvalidArgument(f"invalid --blkio-weight {weight}: 10 to 1000")
        if weight:
            lines.append(f"default {_scaled(weight)}")
            shown["BlkioWeight"] = weight
    devices: list[dict[str, Any]] = []
    for item in o.blkio_weight_device:
        path, sep, text = item.rpartition(":")
        if not sep or not path:
            raise InvalidArgument(f"bad format: {item}")
        if not (text.isdigit() and 10 <= int(text) <= 1000):
            raise InvalidArgument(f"invalid weight for device: {item}")
        number = _device(path)
        if number is None:
            raise InvalidArgument(f"failed to inspect '{path}' in --blkio-weight-device: no such file or directory")
        lines.append(f"{number} {_scaled(int(text))}")
        devices.append({"Path": path, "Weight": int(text)})
    if devices:
        shown["BlkioWeightDevice"] = devices
    if lines:
        files["io_weight"] = "\n".join(lines)
    limits: dict[str, list[str]] = {}
    for flag, key, field in _THROTTLE:
        rates = []
        for item in getattr(o, flag):
            path, rate = _throttle(item, key.endswith("bps"))
            number = _device(path)
            if number is None:
                raise InvalidArgument(f"could not parse throttle device at {path}: no such file or directory")
            limits.setdefault(number, []).append(f"{key}={rate}")
            rates.append({"Path": path, "Rate": rate})
        if rates:
            shown[field] = rates
    if limits:
        files["io_max"] = "\n".join(f"{number} {' '.join(parts)}" for number, parts in limits.items())


def _scaled(weight: int) -> int:
    """A cgroup v1 blkio weight (10-1000) as a v2 io.weight (1-10000), as the OCI runtimes map it."""
    return 1 + (weight - 10) * 9999 // 990


def _throttle(item: str, in_bytes: bool) -> tuple[str, int]:
    path, sep, text = item.rpartition(":")
    if not sep or not path:
        raise InvalidArgument(f"bad format: {item}")
    if in_bytes:
        import re

        match = re.match(r"^(\d+)(kb|mb|gb|k|m|g|b)?$", text.lower())
        if not match or int(match.group(1)) <= 0:
            raise InvalidArgument(f"invalid rate for device: {item}. The correct format is <device-path>:<number>"
                                  "[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, "
                                  "or gb")
        unit = (match.group(2) or "b")[0]
        return path, int(match.group(1)) * {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
    if not (text.isdigit() and int(text) > 0):
        raise InvalidArgument(f"invalid rate for device: {item}. The correct format is <device-path>:<number>. "
                              "Number must be a positive integer")
    return path, int(text)


def check_device_rule(rule: str) -> None:
    """--device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS' (type a, b or c; * for any number; access
    of r, w, m)."""
    parts = rule.split()
    if len(parts) != 3:
        raise InvalidArgument(f'invalid device cgroup rule requires type, major:Minor, and access rules: "{rule}"')
    kind, numbers, access = parts
    if kind not in ("a", "b", "c"):
        raise InvalidArgument(f"invalid device type in device-access-add: {kind}")
    major, sep, minor = numbers.partition(":")
    if not sep or not all(n == "*" or n.isdigit() for n in (major, minor)):
        raise InvalidArgument(f"invalid major:minor in device-access-add: {numbers}")
    if not access or any(c not in "rwm" for c in access):
        raise InvalidArgument(f"invalid access in device-access-add: {access}")
