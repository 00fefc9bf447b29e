"""System routes: /_ping, /version, /info, /events, /system/df, /auth."""

from __future__ import annotations

import json
import platform
import time

from .errors import BadParameter
from .http import Response, Streamed
from .routes import API_VERSION, MIN_VERSION, RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

    from .http import Request

routes = RouteTable()

# Builder-Version 1: the classic builder. A "2" would send docker 20.10 into BuildKit sessions.
PING_HEADERS = [("Builder-Version", "1"), ("Cache-Control", "no-cache, no-store, must-revalidate"),
                ("Pragma", "no-cache")]


@routes.get("/_ping")
def ping(req: Request) -> Response:
    return Response(200, b"OK", "text/plain; charset=utf-8", PING_HEADERS)


@routes.head("/_ping")
def ping_head(req: Request) -> Response:
    return Response(200, b"OK", "text/plain; charset=utf-8", PING_HEADERS)


def _arch() -> str:
    from ..engine.imagestore import host_arch

    return host_arch()


@routes.get("/version")
def version(req: Request) -> dict[str, Any]:
    from .. import __version__

    kernel = platform.release()
    component = {"Name": "Podpy Engine", "Version": __version__,
                 "Details": {"APIVersion": API_VERSION, "Arch": _arch(), "BuildTime": "", "Experimental": "false",
                             "GitCommit": "", "GoVersion": "", "KernelVersion": kernel,
                             "MinAPIVersion": MIN_VERSION, "Os": "linux"}}
    return {"Platform": {"Name": "linux/" + _arch() + "/podpy"}, "Components": [component],
            "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_VERSION,
            "GitCommit": "", "GoVersion": "python" + platform.python_version(), "Os": "linux",
            "Arch": _arch(), "KernelVersion": kernel, "BuildTime": ""}


@routes.get("/info")
def info(req: Request) -> dict[str, Any]:
    from ..engine.system import SystemEngine
    from .. import __version__

    rt = req.runtime()
    doc = SystemEngine(rt, lambda _line: None).info()
    host, store = doc["host"], doc["store"]
    ctrs = store["containerStore"]
    paused = sum(1 for r in rt.state.all() if r.state == "paused")
    running = ctrs["running"]
    return {
        "ID": "", "Containers": ctrs["number"], "ContainersRunning": running, "ContainersPaused": paused,
        "ContainersStopped": ctrs["number"] - running - paused, "Images": store["imageStore"]["number"],
        "Driver": store["graphDriverName"], "DriverStatus": [["Backing Filesystem", "extfs"]],
        "DockerRootDir": store["graphRoot"], "SystemStatus": None,
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Authorization": None,
                    "Log": ["k8s-file", "none", "journald"]},
        "MemoryLimit": True, "SwapLimit": True, "KernelMemory": False, "KernelMemoryTCP": False,
        "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True, "PidsLimit": True,
        "IPv4Forwarding": True, "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": False,
        "NFd": 0, "OomKillDisable": False, "NGoroutines": 0, "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "LoggingDriver": host["logDriver"], "CgroupDriver": host["cgroupManager"],
        "CgroupVersion": "2" if host["cgroupVersion"] == "v2" else "1", "NEventsListener": 0,
        "KernelVersion": host["kernel"], "OperatingSystem": host["distribution"].get("distribution", "linux"),
        "OSVersion": host["distribution"].get("version", ""), "OSType": "linux", "Architecture": host["arch"],
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": [], "Mirrors": []},
        "NCPU": host["cpus"], "MemTotal": host["memTotal"], "GenericResources": None,
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "Name": host["hostname"],
        "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
        "Runtimes": {"podpy": {"path": host["ociRuntime"]["path"]}}, "DefaultRuntime": "podpy",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "", "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""}, "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": ["name=seccomp,profile=default", "name=rootless"] if host["security"]["rootless"]
        else ["name=seccomp,profile=default"],
        "Warnings": [],
    }
