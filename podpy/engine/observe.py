"""`top` and `stats`: a running container's processes and resource use.

The processes are those of the container's cgroup, or, where it has none, those
in its PID namespace. Figures come from the cgroup (cpu.stat, memory.current,
pids.current, io.stat) where the controllers are delegated, otherwise from the
processes themselves (CPU time and resident memory from /proc); network
traffic from /proc/PID/net/dev of the container's PID 1.
"""

from __future__ import annotations

import os
import time

from ..errors import InvalidArgument, InvalidState
from ..formats import go_duration_text
from ..state import RUNNING, ContainerRecord
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
TOP_FIELDS = ("user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args", "comm", "group", "nice", "vsz", "rss",
              "ruser", "rgroup", "pgid", "state", "stime", "huser", "hgroup", "hpid", "seccomp", "label",
              "capamb", "capbnd", "capeff", "capinh", "capprm")
_HEADERS = {"user": "USER", "pid": "PID", "ppid": "PPID", "pcpu": "%CPU", "etime": "ELAPSED", "tty": "TTY",
            "time": "TIME", "args": "COMMAND", "comm": "COMMAND", "group": "GROUP", "nice": "NI", "vsz": "VSZ",
            "rss": "RSS", "ruser": "RUSER", "rgroup": "RGROUP", "pgid": "PGID", "state": "STATE", "stime": "STIME",
            "huser": "HUSER", "hgroup": "HGROUP", "hpid": "HPID", "seccomp": "SECCOMP", "label": "LABEL",
            "capamb": "AMBIENT CAPS", "capbnd": "BOUNDING CAPS", "capeff": "EFFECTIVE CAPS",
            "capinh": "INHERITED CAPS", "capprm": "PERMITTED CAPS"}
_CAP_STATUS = {"capamb": "CapAmb", "capbnd": "CapBnd", "capeff": "CapEff", "capinh": "CapInh", "capprm": "CapPrm"}
_SECCOMP = {"0": "disabled", "1": "strict", "2": "filter"}
_ALIASES = {"%cpu": "pcpu", "command": "args", "cmd": "args", "etime": "etime", "cputime": "time", "uid": "user"}


def running(rt: Runtime, name: str) -> ContainerRecord:
    reconcile(rt)
    rec = rt.state.lookup(name)
    if rec.state not in (RUNNING, "paused") or not rec.pid:
        raise InvalidState(f"container {rec.name} is not running: container state improper")
    return rec


def container_pids(rec: ContainerRecord) -> list[int]:
    """Host pids of the container's processes."""
    try:
        target = os.readlink(f"/proc/{rec.pid}/ns/pid")
    except OSError:
        return []
    if rec.cgroup:
        from rootless import cgroups

        candidates = [str(p) for p in cgroups.pids(rec.cgroup)]
    else:
        candidates = [e for e in os.listdir("/proc") if e.isdigit()]
    out = []
    for entry in candidates:   # only processes inside the container's PID namespace
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") == target:
                out.append(int(entry))
        except OSError:
            continue
    return sorted(out)


def _boot_time() -> float:
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def _duration(seconds: float) -> str:
    """Go's time.Duration text to the nanosecond, as podman's top prints it (2.076842604s)."""
    return go_duration_text(round(seconds * 1e9))


def _names(path: str) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    out.setdefault(int(parts[2]), parts[0])
    except OSError:
        pass
    return out


def top(rt: Runtime, name: str, descriptors: list[str]) -> list[list[str]]:
    """Rows (header first) of ps-like fields for each process of the container. Descriptors
    that are not podman's (ps(1) options such as `-eo pid,comm` or `aux`) are given to the
    container's own ps, whose lines come back as rows of one column, as podman does."""
    rec = running(rt, name)
    fields = []
    for d in descriptors or ["user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"]:
        for part in d.split(","):
            if not part.strip():
                continue
            key = _ALIASES.get(part.strip().lower(), part.strip().lower())
            if key not in TOP_FIELDS:
                return [[line] for line in _container_ps(rt, rec, descriptors)]
            fields.append(key)
    users = _names(f"/proc/{rec.pid}/root/etc/passwd")
    groups = _names(f"/proc/{rec.pid}/root/etc/group")
    boot, now = _boot_time(), time.time()
    rows = [[_HEADERS[f] for f in fields]]
    ns_pid: dict[int, int] = {}
    infos = []
    for pid in container_pids(rec):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                raw = f.read().decode(errors="replace")
            with open(f"/proc/{pid}/status") as f:
                status = {k: v.strip() for k, _, v in (line.partition(":") for line in f)}
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue   # it has just exited
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        st = raw[raw.rindex(")") + 2:].split()
        inner = int(status.get("NSpid", str(pid)).split()[-1])
        ns_pid[pid] = inner
        infos.append((pid, inner, comm, st, status, cmdline))
    for pid, inner, comm, st, status, cmdline in infos:
        started = boot + int(st[19]) / _TICK
        cpu = (int(st[11]) + int(st[12])) / _TICK
        elapsed = max(now - started, 1e-6)
        ruid, uid = (int(x) for x in (status.get("Uid", "0 0").split() + ["0"])[:2])
        rgid, gid = (int(x) for x in (status.get("Gid", "0 0").split() + ["0"])[:2])
        tty_nr = int(st[4])
        ppid = int(st[1])

        def user(host_id: int, names: dict[int, str], kind: str) -> str:
            inside = _container_id(rec, host_id, kind)
            return names.get(inside, str(inside))

        values = {
            "user": user(uid, users, "uid"), "group": user(gid, groups, "gid"),
            "ruser": user(ruid, users, "uid"), "rgroup": user(rgid, groups, "gid"),
            "huser": str(uid), "hgroup": str(gid), "hpid": str(pid),
            "pid": str(inner), "ppid": str(ns_pid.get(ppid, 0)), "pgid": str(ns_pid.get(int(st[2]), 0)),
            "pcpu": f"{100 * cpu / elapsed:.3f}", "etime": _duration(elapsed),
            "tty": f"pts/{os.minor(tty_nr)}" if tty_nr and os.major(tty_nr) == 136 else "?",
            "time": _duration(cpu), "args": cmdline or f"[{comm}]", "comm": comm, "nice": st[16],
            "vsz": str(int(st[20]) // 1024), "rss": str(int(st[21]) * _PAGE // 1024),
            "state": st[0], "stime": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(started)),
            "seccomp": _SECCOMP.get(status.get("Seccomp", ""), "?"), "label": "?",
        }
        for key, line in _CAP_STATUS.items():
            values[key] = _cap_names(status.get(line, "0"))
        rows.append([values[f] for f in fields])
    return rows


def _cap_names(mask_hex: str) -> str:
    """A /proc status capability mask as podman's top shows it: the names, sorted, without
    CAP_; `none` for no capability, `full` for every one this kernel knows."""
    from rootless.capabilities import NAMES

    try:
        mask = int(mask_hex, 16)
    except ValueError:
        return "?"
    if not mask:
        return "none"
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = len(NAMES) - 1
    if mask & ((1 << (last + 1)) - 1) == (1 << (last + 1)) - 1:
        return "full"
    return ",".join(sorted(NAMES[i] for i in range(len(NAMES)) if mask & (1 << i)))


def _container_ps(rt: Runtime, rec: ContainerRecord, args: list[str]) -> list[str]:
    """The container's own `ps ARGS` (top's descriptors that are ps(1) options), without the
    lines of that ps itself (those with its arguments in them), as podman runs it."""
    from .health import exec_output

    code, output = exec_output(rt, rec, ["ps", *args], 30.0)
    if code != 0:
        raise InvalidArgument(f"executing ps(1) in the container: ps(1) failed with exit code {code}: "
                              f"{output.strip()}")
    cmd = " ".join(args)
    return [line for line in output.splitlines() if cmd not in line]


def _container_id(rec: ContainerRecord, host_id: int, kind: str) -> int:
    """A host uid/gid as the container sees it (through its init's map)."""
    try:
        with open(f"/proc/{rec.pid}/{kind}_map") as f:
            for line in f:
                inside, outside, size = (int(x) for x in line.split())
                if outside <= host_id < outside + size:
                    return inside + host_id - outside
    except (OSError, ValueError):
        pass
    return host_id


def _net_io(pid: int) -> tuple[int, int]:
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            for line in f.readlines()[2:]:
                iface, _, data = line.partition(":")
                if iface.strip() == "lo":
                    continue
                cols = data.split()
                rx += int(cols[0])
                tx += int(cols[8])
    except (OSError, ValueError, IndexError):
        pass
    return rx, tx


def _mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def sample(rec: ContainerRecord) -> dict[str, Any]:
    """One reading of the container's figures (CPU as microseconds used so far)."""
    values: dict[str, Any] = {}
    if rec.cgroup:
        from rootless import cgroups

        values = cgroups.stat_values(rec.cgroup)
    pids = container_pids(rec)
    if "usage_usec" not in values or "memory" not in values:
        cpu_ticks = rss = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
                cpu_ticks += int(st[11]) + int(st[12])
                rss += int(st[21]) * _PAGE
            except (OSError, ValueError, IndexError):
                continue
        values.setdefault("usage_usec", cpu_ticks * 1_000_000 // _TICK)
        values.setdefault("memory", rss)
    values.setdefault("pids", len(pids))
    values.setdefault("memory_limit", _mem_total())
    values["net_rx"], values["net_tx"] = _net_io(int(rec.pid or 0))
    values["time"] = time.monotonic()
    return values


def stats_report(rec: ContainerRecord, now: dict[str, Any], before: Optional[dict[str, Any]]) -> dict[str, Any]:
    """podman's ContainerStats for one reading: CPU % over the interval since before (or since
    the start), AvgCPU since the start; sizes in bytes (None where unknown), times in ns."""
    lifetime = max(time.time() - (rec.started_at or time.time()), 1e-6)
    avg = now["usage_usec"] / 1e6 / lifetime * 100
    if before is not None:
        span = max(now["time"] - before["time"], 1e-6)
        cpu = (now["usage_usec"] - before["usage_usec"]) / 1e6 / span * 100
    else:
        cpu = avg
    mem, limit = now.get("memory"), now.get("memory_limit")
    cpu_nano = now["usage_usec"] * 1000
    return {
        "ContainerID": rec.id, "Name": rec.name, "AvgCPU": avg, "CPU": cpu, "CPUNano": cpu_nano,
        "CPUSystemNano": int(now.get("system_usec", 0)) * 1000, "SystemNano": time.time_ns(),
        "MemUsage": mem, "MemLimit": limit, "MemPerc": 100 * mem / limit if mem and limit else None,
        "NetInput": now["net_rx"], "NetOutput": now["net_tx"],
        "BlockInput": now.get("io_read"), "BlockOutput": now.get("io_write"),
        "PIDs": int(now["pids"]), "UpTime": cpu_nano, "Duration": cpu_nano, "PerCPU": None,
    }


def stats(rt: Runtime, names: list[str], interval: int, stream: bool,
          all_: bool = False) -> Iterator[list[dict[str, Any]]]:
    """`stats`: one list of readings per interval (only one without stream). Named containers
    must run now, and the readings go on while one of them runs. Without names (or with
    all_), each round reads every container running then, forever (podman's `--all` adds
    none: a container that does not run has no figures)."""
    reconcile(rt)
    recs = [running(rt, n) for n in names]

    def live() -> list[ContainerRecord]:
        return [r for r in reversed(rt.state.all()) if r.state in (RUNNING, "paused") and r.pid]

    def readings() -> Iterator[list[dict[str, Any]]]:
        nonlocal recs
        before: dict[str, Any] = {}
        while True:
            if not names:
                recs = live()
            rows = []
            for rec in recs:
                now = sample(rec)
                rows.append(stats_report(rec, now, before.get(rec.id)))
                before[rec.id] = now
            yield rows
            if not stream:
                return
            time.sleep(interval)
            reconcile(rt)
            if names:
                ids = {r.id for r in live()}
                recs = [r for r in recs if r.id in ids]
                if not recs:
                    return
    return readings()
