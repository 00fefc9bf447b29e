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
    from .. import __version__
    from .imagestore import host_arch

    return {"Version": __version__, "APIVersion": __version__, "PythonVersion": platform.python_version(),
            "GoVersion": "", "GitCommit": "", "Built": 0, "BuiltTime": "",
            "OsArch": f"{platform.system().lower()}/{host_arch()}", "Os": platform.system().lower()}


def info(rt: Runtime) -> dict[str, Any]:
    """`info`'s document: host, registries, store and version."""
    import shutil

    from rootless.cgroups import detect

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

    return {
        "host": {
            "arch": host_arch(),
            "cgroupManager": cfg.cgroup_manager,
            "cgroupVersion": "v2" if cg.mount else "none",
            "cgroupMount": cg.mount or "",
            "cgroupPath": cg.path or "",
            "cgroupDelegated": cg.writable,
            "cgroupControllers": list(cg.controllers),
            "cgroupStatus": cg.reason,
            "cpus": os.cpu_count(),
            "hostname": uname.nodename,
            "idMappings": {"uidmap": idmap(mappings.uids), "gidmap": idmap(mappings.gids)} if mappings else {},
            "idMappingsWarning": mappings.warning if mappings else "",
            "kernel": uname.release,
            "os": "linux",
            # podpy runs containers itself: --runtime and --runtime-flag are recorded, not used
            "ociRuntime": {"name": cfg.runtime or "podpy", "path": sys.argv[0], "version": version()["Version"],
                           "flags": list(cfg.runtime_flags)},
            "eventLogger": cfg.events_backend,
            "conmon": {"path": cfg.conmon or "", "used": False},
            "networkCmdPath": cfg.network_cmd_path or "",
            "networkConfigDir": cfg.network_config_dir or "",
            "security": {"rootless": cfg.rootless, "capabilities": "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,"
                         "CAP_FSETID,CAP_KILL,CAP_NET_BIND_SERVICE,CAP_SETFCAP,CAP_SETGID,CAP_SETPCAP,"
                         "CAP_SETUID,CAP_SYS_CHROOT"},
            "networkDefault": net_default,
            "networkDefaultSource": net_source,
            "networkBackend": "podpy (rootless network namespace with bridges, veths and a DNS responder)",
            "slirp4netns": {"executable": shutil.which("slirp4netns") or ""},
            "pasta": {"executable": shutil.which("pasta") or ""},
        },
        "registries": {"search": cfg.search_registries},
        "store": {
            "configFile": os.path.join(cfg.config_dir, "storage.conf"),
            "containerStore": {"number": len(recs), "running": sum(r.state == "running" for r in recs),
                               "stopped": sum(r.state != "running" for r in recs), "paused": 0},
            "graphDriverName": choice.name,
            "graphOptions": dict(o.partition("=")[::2] for o in cfg.storage_opts or ()),
            "graphDriverReason": choice.reason,
            "graphRoot": cfg.root,
            "imageStore": {"number": len(rt.store.images())},
            "runRoot": cfg.runroot,
        },
        "version": version(),
        # system doctor's cheap checks (nothing mounted or made: the driver as recorded, user
        # namespaces from their sysctls), so that info stays fast
        "doctor": [{"check": f.check, "status": f.status, "message": f.message, "fix": f.fix, "admin": f.admin}
                   for f in diagnose(rt, probe=False)],
    }
