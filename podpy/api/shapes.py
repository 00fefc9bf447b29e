"""podpy's records -> Docker's response shapes (container inspect and list entries).

The engine's inspect document is podman's, itself close to Docker's; this adjusts what
Docker's clients read differently: names start with "/", image ids with "sha256:",
states are Docker's words (`exited`, not `stopped`), Entrypoint is an array or null,
NetworkSettings.Networks is always there, mounts carry no Options.
"""

from __future__ import annotations

import time

from ..formats import human_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

# podpy's states -> Docker's
STATES = {"configured": "created", "created": "created", "running": "running", "paused": "paused",
          "exited": "exited", "stopped": "exited", "removing": "removing", "stopping": "running"}


def docker_state(state: str) -> str:
    return STATES.get(state, state)


def image_id(value: str) -> str:
    return value if not value or value.startswith("sha256:") else f"sha256:{value}"


def status_text(state: str, started: Optional[float], finished: Optional[float], code: Optional[int],
                health: Optional[str] = None, now: Optional[float] = None) -> str:
    """`docker ps`'s STATUS: Up 5 seconds, Exited (0) 3 seconds ago, Created."""
    now = time.time() if now is None else now
    kind = docker_state(state)
    if kind in ("running", "paused"):
        text = f"Up {human_duration(now - (started or now))}"
        if kind == "paused":
            return text + " (Paused)"
        return text + (f" ({health})" if health else "")
    if kind in ("exited", "restarting"):
        when = f" {human_duration(now - finished)} ago" if finished else ""
        return f"{kind.capitalize()} ({code if code is not None else -1}){when}"
    return kind.capitalize()


def _networks(ns: dict[str, Any]) -> dict[str, Any]:
    networks = ns.get("Networks")
    if isinstance(networks, dict) and networks:
        return {name: _endpoint(ep) for name, ep in networks.items()}
    # slirp4netns or pasta: one network of the container's own, shown as Docker's default bridge
    return {"bridge": _endpoint({"Gateway": ns.get("Gateway", ""), "IPAddress": ns.get("IPAddress", ""),
                                 "IPPrefixLen": ns.get("IPPrefixLen", 0), "MacAddress": ns.get("MacAddress", "")})}


def _endpoint(ep: dict[str, Any]) -> dict[str, Any]:
    return {"IPAMConfig": ep.get("IPAMConfig"), "Links": None, "Aliases": ep.get("Aliases"),
            "NetworkID": ep.get("NetworkID", ""), "EndpointID": ep.get("EndpointID", ""),
            "Gateway": ep.get("Gateway", ""), "IPAddress": ep.get("IPAddress", ""),
            "IPPrefixLen": ep.get("IPPrefixLen", 0), "IPv6Gateway": ep.get("IPv6Gateway", ""),
            "GlobalIPv6Address": ep.get("GlobalIPv6Address", ""),
            "GlobalIPv6PrefixLen": ep.get("GlobalIPv6PrefixLen", 0), "MacAddress": ep.get("MacAddress", ""),
            "DriverOpts": ep.get("DriverOpts")}


def _ports(ports: Any) -> dict[str, Any]:
    """NetworkSettings.Ports: every binding with Docker's HostIp (0.0.0.0 for all addresses)."""
    out: dict[str, Any] = {}
    for port, bindings in (ports or {}).items():
        out[port] = None if bindings is None else [
            {"HostIp": b.get("HostIp") or "0.0.0.0", "HostPort": str(b.get("HostPort", ""))} for b in bindings]
    return out


def inspect(doc: dict[str, Any], restarting: bool = False) -> dict[str, Any]:
    """The engine's container inspect document in Docker's shape; restarting: its restart
    policy's start is pending (Docker's `restarting`, which counts as running)."""
    state = dict(doc.get("State") or {})
    status = state.get("Status", "")
    state["Status"] = "restarting" if restarting else docker_state(status)
    state["Running"] = state["Status"] in ("running", "paused", "restarting")
    state["Paused"] = state["Status"] == "paused"
    state["Restarting"] = restarting
    state.pop("OciVersion", None)
    state.pop("CgroupPath", None)
    if not (state.get("Health") or {}).get("Status"):
        state.pop("Health", None)   # no healthcheck: Docker has no Health (clients read its presence)
    config = dict(doc.get("Config") or {})
    if isinstance(config.get("StopSignal"), int):   # Docker's API names it
        from ..options import signal_name

        config["StopSignal"] = signal_name(config["StopSignal"])
    entry = config.get("Entrypoint")
    if isinstance(entry, str):
        config["Entrypoint"] = entry.split(" ") if entry else None
    for key in ("CreateCommand", "Annotations", "Timeout", "Umask", "sdNotifyMode", "HealthcheckOnFailureAction"):
        config.pop(key, None)
    config.setdefault("Domainname", "")
    config.setdefault("AttachStdin", False)
    config.setdefault("AttachStdout", False)
    config.setdefault("AttachStderr", False)
    config.setdefault("StdinOnce", False)
    config.setdefault("OnBuild", None)
    host = dict(doc.get("HostConfig") or {})
    log = dict(host.get("LogConfig") or {})
    host["LogConfig"] = {"Type": "json-file" if log.get("Type") == "k8s-file" else log.get("Type", ""),
                         "Config": log.get("Config") or {}}
    ns = dict(doc.get("NetworkSettings") or {})
    ns["Ports"] = _ports(ns.get("Ports"))
    ns["Networks"] = _networks(ns)
    config.setdefault("ExposedPorts", {p: {} for p in ns["Ports"]} or None)
    mounts = []
    for m in doc.get("Mounts") or []:
        m = dict(m)
        m.pop("Options", None)
        mounts.append(m)
    return {
        "Id": doc["Id"], "Created": doc.get("Created", ""), "Path": doc.get("Path", ""),
        # Docker's arguments leave the path out, also for a command of one word (podman's repeat it)
        "Args": [] if doc.get("Args") == [doc.get("Path")] else doc.get("Args") or [], "State": state, "Image": image_id(doc.get("Image", "")),
        "ResolvConfPath": doc.get("ResolvConfPath", ""), "HostnamePath": doc.get("HostnamePath", ""),
        "HostsPath": doc.get("HostsPath", ""), "LogPath": doc.get("LogPath", ""), "Name": "/" + doc.get("Name", ""),
        "RestartCount": doc.get("RestartCount", 0), "Driver": doc.get("Driver", ""), "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None, "HostConfig": host,
        "GraphDriver": doc.get("GraphDriver") or {"Name": doc.get("Driver", ""), "Data": None},
        **({"SizeRw": doc["SizeRw"], "SizeRootFs": doc["SizeRootFs"]} if "SizeRw" in doc else {}),
        "Mounts": mounts, "Config": config, "NetworkSettings": ns,
    }


def list_entry(data: dict[str, Any], health: Optional[str] = None, restarting: bool = False) -> dict[str, Any]:
    """One `ps` entry (podman's list shape) as GET /containers/json's; restarting: as inspect's."""
    command = data.get("Command") or []
    ports = []
    for p in data.get("Ports") or []:
        span = int(p.get("range") or 1)
        for i in range(span):
            entry = {"PrivatePort": int(p["container_port"]) + i, "Type": p.get("protocol", "tcp")}
            if p.get("host_port"):
                entry.update(IP=p.get("host_ip") or "0.0.0.0", PublicPort=int(p["host_port"]) + i)
            ports.append(entry)
    state = "restarting" if restarting else str(data.get("State", ""))
    started = data.get("StartedAt")
    exited = data.get("ExitedAt")
    out = {
        "Id": data["Id"], "Names": ["/" + n for n in data.get("Names") or []], "Image": data.get("Image", ""),
        "ImageID": image_id(data.get("ImageID", "")),
        "Command": " ".join(command) if isinstance(command, list) else str(command),
        "Created": int(data.get("Created") or 0), "Ports": ports, "Labels": data.get("Labels") or {},
        "State": docker_state(state),
        "Status": status_text(state, started if started and started > 0 else None,
                              exited if exited and exited > 0 else None, data.get("ExitCode"), health),
        "HostConfig": {"NetworkMode": "default"},
        "NetworkSettings": {"Networks": {n: _endpoint({}) for n in data.get("Networks") or []}
                            or {"bridge": _endpoint({})}},
        "Mounts": [{"Destination": m} if isinstance(m, str) else m for m in data.get("Mounts") or []],
    }
    if data.get("Size") is not None:
        size = data["Size"]
        out["SizeRw"] = size.get("rwSize", 0) if isinstance(size, dict) else 0
        out["SizeRootFs"] = size.get("rootFsSize", 0) if isinstance(size, dict) else 0
    return out
