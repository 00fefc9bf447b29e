"""Records -> the documents podman's engine gives back: `ps` and `images` entries (their
`--format json` shape) and `inspect` documents. The template views of the listings are the
CLI's (podpy/cli/views.py)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import time
from typing import Any, Optional

from storage.images import Image

from ..formats import human_duration, ago, rfc3339
from ..network.options import inspect_ports, ports_json
from ..state import CONFIGURED, CREATED, EXITED, RUNNING, STOPPED, ContainerRecord
from .kernelopts import DEFAULT_SHM_INSPECT, inspect_ulimits
from .podservice import SERVICE_LABEL


GO_ZERO_TIME = -62135596800   # Go's zero time in unix seconds: podman's "never"


def status(rec: ContainerRecord) -> str:
    if rec.state == RUNNING:
        return f"Up {human_duration(time.time() - (rec.started_at or rec.created))} ago"   # podman's words
    if rec.state in (EXITED, STOPPED):
        code = -1 if rec.exit_code is None else rec.exit_code
        return f"Exited ({code}) {ago(rec.finished_at)}"
    if rec.state in (CREATED, CONFIGURED):
        return "Created"
    return rec.state.capitalize()


def _ps_state(rec: ContainerRecord) -> str:
    return {CONFIGURED: CREATED, STOPPED: EXITED}.get(rec.state, rec.state)


def ps_json(rec: ContainerRecord) -> dict[str, Any]:
    cmd = rec.config.entrypoint + rec.config.command
    return {
        "AutoRemove": rec.config.remove,
        "Command": cmd,
        "CreatedAt": ago(rec.created),
        "Exited": rec.state in (EXITED, STOPPED),
        "ExitedAt": int(rec.finished_at) if rec.finished_at else GO_ZERO_TIME,
        "ExitCode": rec.exit_code if rec.exit_code is not None else 0,
        "Id": rec.id,
        "Image": rec.image_name,
        "ImageID": rec.image_id,
        "IsInfra": rec.config.pod_infra,
        "Labels": rec.config.labels or None,
        "Mounts": [m["destination"] for m in rec.config.mounts],
        "Names": [rec.name],
        "Namespaces": {},
        "Networks": sorted(rec.config.networks),
        "Pid": rec.pid or 0,
        "Pod": rec.config.pod,
        "PodName": "",
        "Ports": ports_json(rec.config.ports),
        "Size": None,
        "StartedAt": int(rec.started_at or 0),
        "State": _ps_state(rec),
        "Status": status(rec),
        "Created": int(rec.created),
    }


def _signal_number(name: str) -> int:
    from ..options import parse_signal

    try:
        return int(parse_signal(name or "SIGTERM"))
    except Exception:  # noqa: BLE001 - a signal podpy cannot name is the default's
        return 15


def container_inspect(rec: ContainerRecord, rootfs: str, driver: str, run_dir: str,
                      image: Optional[Image]) -> dict[str, Any]:
    cfg = rec.config
    args = cfg.entrypoint + cfg.command
    hostname = cfg.hostname or rec.id[:12]
    state = _ps_state(rec)
    return {
        "Id": rec.id,
        "Created": rfc3339(rec.created),
        "Path": args[0] if args else "",
        "Args": args[1:] or args[:1],   # podman's: a command of one word is its own argument too
        "State": {
            "OciVersion": "1.0.2",
            "Status": state,
            "Running": rec.state == RUNNING,
            "Paused": rec.state == "paused",
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": rec.pid or 0,
            # the container's supervisor, podman's conmon: this podpy for a foreground run, the
            # user's monitor for a detached one
            "ConmonPid": (rec.owner_pid or 0) if rec.state in (RUNNING, "paused") else 0,
            "CgroupPath": rec.cgroup or "",
            "ExitCode": rec.exit_code if rec.exit_code is not None else 0,
            "Error": "",
            "StartedAt": rfc3339(rec.started_at) if rec.started_at else "0001-01-01T00:00:00Z",
            "FinishedAt": rfc3339(rec.finished_at) if rec.finished_at else "0001-01-01T00:00:00Z",
        },
        "Image": rec.image_id,
        "ImageName": rec.image_name,
        "Rootfs": cfg.rootfs,
        "ResolvConfPath": os.path.join(run_dir, "resolv.conf"),
        "HostnamePath": os.path.join(run_dir, "hostname"),
        "HostsPath": os.path.join(run_dir, "hosts"),
        "ConmonPidFile": cfg.conmon_pidfile,
        "PidFile": cfg.pidfile,
        "Name": rec.name,
        "Namespace": cfg.namespace,
        "RestartCount": rec.restarts,
        "Driver": driver,
        "Mounts": [
            {"Type": "volume" if m.get("volume") else m.get("type", "bind"), "Name": m.get("volume", ""),
             "Source": m["source"], "Destination": m["destination"], "Driver": "local" if m.get("volume") else "",
             "Mode": "", "Options": [o for o in m.get("options", [])
                                     if o not in ("ro", "rw") and not o.startswith("podpy.")],
             "RW": "ro" not in m.get("options", []), "Propagation": next(
                 (o for o in m.get("options", []) if o in ("private", "rprivate", "slave", "rslave")), "")}
            for m in cfg.mounts
        ],
        "ExecIDs": [],   # exec sessions are their `exec` command's (and the API service's), none recorded here
        "GraphDriver": {"Name": driver, "Data": {"MergedDir": rootfs}},
        "Config": {
            "Hostname": hostname,
            "User": cfg.user,
            "Env": cfg.env,
            "Cmd": cfg.command or None,
            "Image": rec.image_name,
            "WorkingDir": cfg.workdir,
            "Entrypoint": shlex.join(cfg.entrypoint) if cfg.entrypoint else "",
            "Labels": cfg.labels or None,
            "StopSignal": _signal_number(cfg.stop_signal),   # a number, as podman 4.3.1 shows it
            "Tty": cfg.tty,
            "OpenStdin": cfg.interactive,
            "StopTimeout": cfg.stop_timeout,
            "CreateCommand": cfg.create_command,
            "Annotations": {**cfg.annotations,
                            **({"io.podman.annotations.cid-file": cfg.cidfile} if cfg.cidfile else {})},
            **({"Timezone": cfg.timezone} if cfg.timezone else {}),
            "Timeout": cfg.timeout,
            "Umask": cfg.umask or "0022",
            **({"SystemdMode": True} if cfg.systemd else {}),
            **({"ChrootDirs": list(cfg.chrootdirs)} if cfg.chrootdirs else {}),
            "sdNotifyMode": cfg.sdnotify,
            **({"sdNotifySocket": cfg.notify_socket} if cfg.notify_socket else {}),
            **({"Secrets": [{"Name": x["name"], "ID": x["id"], "UID": x["uid"], "GID": x["gid"], "Mode": x["mode"]}
                            for x in cfg.secrets]} if cfg.secrets else {}),
        },
        "HostConfig": {
            "Binds": [f"{m['source']}:{m['destination']}:{','.join(m.get('options', []))}" for m in cfg.mounts],
            "CgroupMode": cfg.cgroupns_mode or "host",
            "ContainerIDFile": cfg.cidfile,
            "NetworkMode": cfg.network,
            "PortBindings": inspect_ports(cfg.ports, []),
            "Dns": cfg.dns.get("servers", []),
            "DnsSearch": cfg.dns.get("search", []),
            "DnsOptions": cfg.dns.get("options", []),
            "ExtraHosts": [f"{h}:{ip}" for h, ip in cfg.add_hosts],
            "AutoRemove": cfg.remove,
            "CapAdd": cfg.cap_add,
            "CapDrop": cfg.cap_drop,
            "Privileged": cfg.privileged,
            "ReadonlyRootfs": cfg.read_only,
            "RestartPolicy": {"Name": cfg.restart.partition(":")[0] if cfg.restart != "no" else "",
                              "MaximumRetryCount": int(cfg.restart.partition(":")[2] or 0)},
            "LogConfig": {"Type": cfg.log_driver, "Config": None, "Path": cfg.log_opts.get("path", ""),
                          "Size": cfg.log_opts.get("max-size", "0B")},
            "StopTimeout": cfg.stop_timeout,
            **_limits(cfg.limits),
            **_RESOURCES, **cfg.resources,
            "CgroupConf": dict(cfg.cgroup_conf) or None,
            "CgroupManager": "cgroupfs",   # podpy writes the delegated cgroup tree itself
            "CgroupParent": cfg.cgroup_parent,
            "SecurityOpt": ([f"seccomp={cfg.seccomp}"] if cfg.seccomp else [])
            + (["no-new-privileges"] if cfg.no_new_privileges else []),
            "Init": bool(cfg.init_path),
            "GroupAdd": list(cfg.group_add) if not cfg.keep_groups else [],
            "OomScoreAdj": cfg.oom_score_adj or 0,
            "IpcMode": cfg.ipc_mode or "shareable",
            "Cgroups": "disabled" if cfg.cgroups_mode == "disabled" else "default",
            "PidMode": cfg.pid_mode or "private",
            "UTSMode": cfg.uts_mode or "private",
            "ShmSize": DEFAULT_SHM_INSPECT if cfg.shm_size is None else cfg.shm_size,
            "Devices": [],   # rootless, devices are bind mounts, which podman's inspect does not list
            "Ulimits": inspect_ulimits(cfg),
            "UsernsMode": cfg.userns or "",
            "IDMappings": {"UidMap": [":".join(map(str, r)) for r in cfg.idmap.get("uids", [])],
                           "GidMap": [":".join(map(str, r)) for r in cfg.idmap.get("gids", [])]}
            if cfg.idmap else {},
        },
        "NetworkSettings": network_settings(rec, run_dir),
        "Dependencies": list(cfg.requires),
        "Pod": cfg.pod,
        "IsInfra": cfg.pod_infra,
        "IsService": SERVICE_LABEL in (cfg.labels or {}),
    }


def network_settings(rec: ContainerRecord, run_dir: str) -> dict[str, Any]:
    """inspect's NetworkSettings: addresses while the container runs, ports always."""
    from ..network.start import addresses

    cfg = rec.config
    running = rec.state in (RUNNING, "paused", "initialized")   # an initialized one has its network
    ips, gateway = addresses(rec) if running else ([], None)
    out: dict[str, Any] = {
        "EndpointID": "", "Gateway": gateway or "", "IPAddress": ips[0] if ips and cfg.network != "bridge" else "",
        "IPPrefixLen": 24 if ips and cfg.network == "slirp4netns" else 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "", "Bridge": "", "SandboxID": "",
        "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "Ports": inspect_ports(cfg.ports, [tuple(e) for e in cfg.exposed]),
        "SandboxKey": f"/proc/{rec.pid}/ns/net" if running and rec.pid else "",
    }
    if cfg.network == "bridge":
        from ..network.table import inspect_endpoints

        out["Networks"] = inspect_endpoints(rec, running)
    return out


# inspect's HostConfig values of the cgroup options a container was not given (cgroupopts.py)
_RESOURCES = {"BlkioWeight": 0, "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
              "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0, "CpuQuota": 0,
              "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
              "MemoryReservation": 0, "MemorySwappiness": 0, "OomKillDisable": False}


def _limits(limits: dict[str, str]) -> dict[str, int]:
    """--memory & co as docker's HostConfig fields (0: no limit)."""
    def num(key: str) -> int:
        value = limits.get(key, "")
        return int(value) if value.isdigit() else (-1 if value == "max" else 0)

    mem, swap = num("memory"), num("memory_swap")
    cpus = limits.get("cpus", "")
    nano = int(int(cpus.split()[0]) * 1e9 / int(cpus.split()[1])) if cpus else 0
    weight = num("cpu_shares")
    return {"Memory": mem, "MemorySwap": -1 if swap == -1 else (mem + swap if swap else 0), "NanoCpus": nano,
            "CpuShares": 2 + (weight - 1) * 262142 // 9999 if weight else 0, "PidsLimit": num("pids_limit")}


def _image_history(image: Image) -> list[dict[str, Any]]:
    return list(image.config.get("history") or [])


def repo_digests(image: Image) -> list[str]:
    """NAME@DIGEST for each repository the image is named in, as podman lists them."""
    if not image.digest:
        return []
    from storage.images import repository

    repos: list[str] = []
    for name in image.names:
        repo = repository(name)
        if repo not in repos:
            repos.append(repo)
    return [f"{repo}@{image.digest}" for repo in repos]


def image_json(image: Image, containers: int) -> dict[str, Any]:
    """One entry of `images --format json`."""
    created = created_time(image)
    return {
        "Id": image.id,
        "ParentId": "",
        "RepoTags": list(image.names) or None,
        "RepoDigests": repo_digests(image),
        "Size": image.size,
        "SharedSize": 0,
        "VirtualSize": image.size,
        "Labels": (image.config.get("config") or {}).get("Labels") or None,
        "Containers": containers,
        "Names": list(image.names) or None,
        "Digest": image.digest or "",
        "History": [n for n in image.names],
        "Created": int(created),
        "CreatedAt": rfc3339(created),
    }


def created_time(image: Image) -> float:
    text = image.config.get("created")
    if isinstance(text, str) and text:
        try:
            t = text.rstrip("Z")
            if "." in t:
                head, frac = t.split(".", 1)
                t = f"{head}.{frac[:6]}"
            return _dt.datetime.fromisoformat(t).replace(tzinfo=_dt.timezone.utc).timestamp()
        except ValueError:
            pass
    return image.created


def _created_text(image: Image, created: float) -> str:
    """The image's creation time as podman shows it (Go's RFC 3339 with nanoseconds, trailing
    zeros dropped): the config's own UTC time when it has one, so that a --timestamp build
    shows exactly the second it was given."""
    import re

    text = image.config.get("created")
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", text) if isinstance(text, str) else None
    if m is None:
        return rfc3339(created)
    frac = (m.group(2) or "").rstrip("0")
    return f"{m.group(1)}.{frac}Z" if frac else f"{m.group(1)}Z"


def _manifest_annotations(image: Image) -> dict[str, str]:
    """The annotations of the image's manifest (build --annotation's), as podman shows them."""
    if not image.manifest or '"annotations"' not in image.manifest:
        return {}
    try:
        found = json.loads(image.manifest).get("annotations")
    except ValueError:
        return {}
    return dict(found) if isinstance(found, dict) else {}


def image_inspect(image: Image, driver: str, layer_dirs: list[str]) -> dict[str, Any]:
    cfg = image.config
    icfg = cfg.get("config") or {}
    created = created_time(image)
    return {
        "Id": image.id,
        "Digest": image.digest or "",
        "RepoTags": list(image.names),
        "RepoDigests": repo_digests(image),
        "Parent": "",
        "Comment": next((h.get("comment", "") for h in _image_history(image) if h.get("comment")), ""),
        "Created": _created_text(image, created),
        "Config": icfg,
        "Version": "",
        "Author": cfg.get("author", ""),
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Name": driver, "Data": {"LowerDir": ":".join(reversed(layer_dirs))}},
        "RootFS": {"Type": "layers", "Layers": list((cfg.get("rootfs") or {}).get("diff_ids", []))},
        "Labels": icfg.get("Labels") or None,
        "Annotations": _manifest_annotations(image),
        "ManifestType": "application/vnd.oci.image.manifest.v1+json",
        "User": icfg.get("User", ""),
        "History": _image_history(image),
        "NamesHistory": list(image.names),
    }
