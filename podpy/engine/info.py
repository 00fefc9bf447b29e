"""`info` and `version`: how podpy is set up on this host (store, driver and why, id mappings,
cgroups, network) and which podpy this is, as podman's documents."""

from __future__ import annotations

import os
import platform
import sys

from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def version() -> dict[str, Any]:
    """`version`'s document (podman's Client part)."""
    from .. import LIBPOD_API_VERSION, __version__
    from .imagestore import host_arch

    return {"Version": __version__, "APIVersion": LIBPOD_API_VERSION, "PythonVersion": platform.python_version(),
            "GoVersion": "", "GitCommit": "", "Built": 0, "BuiltTime": "",
            "OsArch": f"{platform.system().lower()}/{host_arch()}", "Os": platform.system().lower()}


def info(rt: Runtime) -> dict[str, Any]:
    """`info`'s document: host, registries, store and version."""
    import shutil

    from rootless.cgroups import detect

    from ..config import service_socket
    from ..network.options import default_rootless_cmd
    from .doctor import diagnose
    from .imagestore import host_arch

    cfg = rt.cfg
    choice = rt.driver_choice
    rt.store  # records the choice
    recs = rt.state.all()
    mappings = rt.userns_mappings
    cg = detect()
    uname = os.uname()
    net_default, net_source = default_rootless_cmd(cfg.config_dir)

    def idmap(maps: Any) -> list[dict[str, int]]:
        return [{"container_id": m.container_id, "host_id": m.host_id, "size": m.size} for m in maps]

    mem = _meminfo()
    return {
        "host": {
            "arch": host_arch(),
            "buildahVersion": version()["Version"],   # `build` is podpy's own builder
            "cgroupManager": cfg.cgroup_manager,
            "cgroupVersion": "v2" if cg.mount else "none",
            "cgroupMount": cg.mount or "",
            "cgroupPath": cg.path or "",
            "cgroupDelegated": cg.writable,
            "cgroupControllers": list(cg.controllers),
            "cgroupStatus": cg.reason,
            "cpus": os.cpu_count(),
            "cpuUtilization": _cpu_utilization(),
            "distribution": _distribution(),
            "hostname": uname.nodename,
            "idMappings": {"uidmap": idmap(mappings.uids), "gidmap": idmap(mappings.gids)} if mappings else {},
            "idMappingsWarning": mappings.warning if mappings else "",
            "kernel": uname.release,
            "logDriver": "k8s-file",
            "memFree": mem.get("MemFree", 0),
            "memTotal": mem.get("MemTotal", 0),
            "os": "linux",
            # podpy runs containers itself: --runtime and --runtime-flag are recorded, not used
            "ociRuntime": {"name": cfg.runtime or "podpy", "path": sys.argv[0], "version": version()["Version"],
                           "flags": list(cfg.runtime_flags)},
            "eventLogger": cfg.events_backend,
            # podman's conmon: podpy supervises containers itself (a foreground `run`, else the
            # user's monitor, `podpy` too); a configured conmon is recorded, not used
            "conmon": {"package": f"podpy {version()['Version']}", "path": cfg.conmon or sys.argv[0],
                       "version": f"podpy monitor version {version()['Version']}", "used": False},
            "networkCmdPath": cfg.network_cmd_path or "",
            "networkConfigDir": cfg.network_config_dir or "",
            # where `system service` listens by default (what `system connection add` asks over ssh)
            "remoteSocket": {"path": "unix://" + service_socket(), "exists": os.path.exists(service_socket())},
            "serviceIsRemote": False,
            "security": {"apparmorEnabled": False, "rootless": cfg.rootless,
                         "capabilities": "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,"
                         "CAP_FSETID,CAP_KILL,CAP_NET_BIND_SERVICE,CAP_SETFCAP,CAP_SETGID,CAP_SETPCAP,"
                         "CAP_SETUID,CAP_SYS_CHROOT", "seccompEnabled": True,
                         "seccompProfilePath": "", "selinuxEnabled": False},
            "networkDefault": net_default,
            "networkDefaultSource": net_source,
            "networkBackend": "podpy (rootless network namespace with bridges, veths and a DNS responder)",
            "slirp4netns": {"executable": shutil.which("slirp4netns") or ""},
            "pasta": {"executable": shutil.which("pasta") or ""},
            "swapFree": mem.get("SwapFree", 0),
            "swapTotal": mem.get("SwapTotal", 0),
            "uptime": _uptime(),
        },
        "registries": {"search": cfg.search_registries},
        "plugins": {"volume": ["local"], "network": ["bridge"],
                    "log": ["k8s-file", "none", "passthrough", "journald"], "authorization": None},
        "store": {
            "configFile": os.path.join(cfg.config_dir, "storage.conf"),
            "containerStore": {"number": len(recs), "running": sum(r.state == "running" for r in recs),
                               "stopped": sum(r.state != "running" for r in recs), "paused": 0},
            "graphDriverName": choice.name,
            "graphOptions": dict(o.partition("=")[::2] for o in cfg.storage_opts or ()),
            "graphDriverReason": choice.reason,
            "graphRoot": cfg.root,
            **_space(cfg.root),
            "graphStatus": {},
            "imageCopyTmpDir": os.environ.get("TMPDIR") or "/var/tmp",
            "imageStore": {"number": len(rt.store.images())},
            "runRoot": cfg.runroot,
            "volumePath": rt.volume_path,
        },
        "version": version(),
        # system doctor's cheap checks (nothing mounted or made: the driver as recorded, user
        # namespaces from their sysctls), so that info stays fast
        "doctor": [{"check": f.check, "status": f.status, "message": f.message, "fix": f.fix, "admin": f.admin}
                   for f in diagnose(rt, probe=False)],
    }


def _meminfo() -> dict[str, int]:
    """/proc/meminfo's figures in bytes."""
    out = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                words = rest.split()
                if words and words[0].isdigit():
                    out[key] = int(words[0]) * (1024 if words[1:] == ["kB"] else 1)
    except OSError:
        pass
    return out


def _cpu_utilization() -> dict[str, float]:
    """The host's CPU time since boot as podman divides it: user, system and idle percentages."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        user, system, idle = int(fields[1]), int(fields[3]), int(fields[4])
    except (OSError, ValueError, IndexError):
        return {"userPercent": 0.0, "systemPercent": 0.0, "idlePercent": 0.0}
    total = (user + system + idle) or 1
    return {"userPercent": round(user / total * 100, 2), "systemPercent": round(system / total * 100, 2),
            "idlePercent": round(idle / total * 100, 2)}


def _distribution() -> dict[str, str]:
    """The host's distribution from os-release (ID, VERSION_ID, VERSION_CODENAME)."""
    values: dict[str, str] = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path) as f:
                for line in f:
                    key, eq, value = line.strip().partition("=")
                    if eq:
                        values[key] = value.strip().strip('"')
            break
        except OSError:
            continue
    found = {"distribution": values.get("ID", ""), "version": values.get("VERSION_ID", "")}
    if values.get("VERSION_CODENAME"):
        found["codename"] = values["VERSION_CODENAME"]
    return found


def _uptime() -> str:
    """The host's uptime in podman's words: `4h 14m 39.00s (Approximately 0.17 days)`."""
    try:
        with open("/proc/uptime") as f:
            seconds = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return ""
    hours = int(seconds // 3600)
    text = f"{hours}h {int(seconds // 60) % 60}m {int(seconds) % 60:.2f}s"
    return text + (f" (Approximately {hours / 24:.2f} days)" if hours > 0 else "")


def _space(path: str) -> dict[str, int]:
    """The size of the store's file system and what is used of it (graphRootAllocated/Used)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return {"graphRootAllocated": 0, "graphRootUsed": 0}
    return {"graphRootAllocated": st.f_blocks * st.f_frsize, "graphRootUsed": (st.f_blocks - st.f_bfree) * st.f_frsize}
