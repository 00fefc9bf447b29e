"""System routes: /_ping, /version, /info, /events, /system/df, /auth."""

from __future__ import annotations

import json
import time

from .errors import ApiError, BadParameter
from .http import Response, Streamed
from .routes import API_VERSION, MIN_VERSION, RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

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
    import platform

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


def _time_arg(req: Request, name: str) -> Optional[float]:
    value = req.arg(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        from ..formats import parse_time

        return parse_time(value, name)


EVENT_FILTERS = ("type", "event", "container", "image", "volume", "network", "label")
# podpy's event names -> Docker's actions
ACTIONS = {"died": "die", "remove": "destroy", "exec": "exec_start", "cleanup": "cleanup"}


def docker_event(e: dict[str, Any]) -> dict[str, Any]:
    """An event of podpy's log in Docker's shape (status/id/from and Type/Action/Actor)."""
    attributes = {str(k): str(v) for k, v in (e.get("Attributes") or {}).items() if k != "containerExitCode"}
    code = (e.get("Attributes") or {}).get("containerExitCode")
    if code is not None:
        attributes["exitCode"] = str(code)
    if e.get("Name"):
        attributes["name"] = e["Name"]
    if e.get("Image"):
        attributes["image"] = e["Image"]
    ns = int(e.get("Time", 0))
    kind = e.get("Type", "")
    action = ACTIONS.get(str(e.get("Status")), e.get("Status")) if kind == "container" else e.get("Status")
    doc: dict[str, Any] = {}
    if kind == "container":
        doc.update(status=action, id=e.get("ID", ""), **{"from": e.get("Image", "")})
    doc.update(Type=kind, Action=action, Actor={"ID": e.get("ID") or e.get("Name", ""),
                                                         "Attributes": attributes},
               scope="local", time=ns // 1_000_000_000, timeNano=ns)
    return doc


def _event_matches(e: dict[str, Any], doc: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "type" and e.get("Type") not in values:
            return False
        if key == "event" and e.get("Status") not in values and doc["Action"] not in values:
            return False
        if key in ("container", "image", "volume", "network"):
            if e.get("Type") != key and not (key == "image" and e.get("Type") == "container"):
                return False
            idents = (e.get("Name"), e.get("ID"), e.get("Image")) if key == "image" else (e.get("Name"), e.get("ID"))
            if not any(v and (v in idents or str(e.get("ID", "")).startswith(v)) for v in values):
                return False
        if key == "label":
            attrs = doc["Actor"]["Attributes"]
            for v in values:
                k, eq, want = v.partition("=")
                if k not in attrs or (eq and attrs[k] != want):
                    return False
    return True


@routes.get("/events")
def events(req: Request) -> Streamed:
    from .. import events as event_log

    filters = req.filters()
    for key in filters:
        if key not in EVENT_FILTERS:
            raise BadParameter(f"invalid filter '{key}'")
    since, until = _time_arg(req, "since"), _time_arg(req, "until")
    rt = req.runtime()
    if event_log.backend() == "none":
        raise BadParameter('cannot read events with the "none" backend')
    path = event_log.path(rt.cfg.runroot)
    return Streamed(_event_stream(req, path, since, until, filters))


def _event_stream(req: Request, path: str, since: Optional[float], until: Optional[float],
                  filters: dict[str, list[str]], shape: Any = None, follow: bool = True) -> Iterator[bytes]:
    """The log from since (or from now), then what comes, until `until` or the client leaves
    (without follow: what the log holds now). shape: an event as the client reads it (Docker's
    by default)."""
    shape = shape or docker_event
    import os

    pos, rest = 0, b""
    if since is None:
        try:
            pos = os.stat(path).st_size
        except OSError:
            pass
    yield b""
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
                pos = f.tell()
        except OSError:
            data = b""
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        out = []
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            t = e.get("Time", 0) / 1e9
            if since is not None and t < since:
                continue
            if until is not None and t > until:
                break
            doc = shape(e)
            if _event_matches(e, doc, filters):
                out.append(json.dumps(doc).encode() + b"\n")
        if out:
            yield b"".join(out)
        if not follow or (until is not None and time.time() > until):
            return
        if req.gone():
            return
        time.sleep(0.1)


@routes.get("/system/df")
def df(req: Request) -> dict[str, Any]:
    from ..engine.system import SystemEngine
    from .shapes import docker_state, image_id

    usage = SystemEngine(req.runtime(), lambda _line: None).df()
    images = [{"Id": image_id(i["Id"]), "ParentId": "", "RepoTags": i["Names"] or None, "RepoDigests": None,
               "Created": 0, "Size": i["Size"], "SharedSize": i["SharedSize"], "VirtualSize": i["Size"],
               "Labels": {}, "Containers": i["Containers"]} for i in usage["ImageList"]]
    containers = [{"Id": c["Id"], "Names": ["/" + c["Name"]], "Image": c["Image"], "SizeRw": c["Size"],
                   "SizeRootFs": c["Size"], "State": docker_state(c["Status"]), "Status": c["Status"],
                   "Labels": {}, "Mounts": [], "Command": "", "Created": 0, "Ports": []}
                  for c in usage["ContainerList"]]
    return {"LayersSize": usage["Images"]["Size"], "Images": images, "Containers": containers,
            "Volumes": [], "BuildCache": []}


@routes.post("/auth")
def auth(req: Request) -> dict[str, Any]:
    """Log in to a registry; the credentials are stored in the auth file `podpy login` uses.
    They are never logged: an error says which registry, not what was sent."""
    from ..engine.login import login

    body = req.json()
    if not isinstance(body, dict):
        raise BadParameter("invalid body: expected a JSON object")
    user, password = body.get("username") or "", body.get("password") or ""
    server = body.get("serveraddress") or "docker.io"
    if not all(isinstance(v, str) for v in (user, password, server)):
        raise BadParameter("invalid body: username, password and serveraddress are strings")
    if body.get("identitytoken"):
        raise BadParameter("identity tokens are not supported: log in with a username and password")
    server = server.split("://", 1)[-1].rstrip("/")
    if server.endswith("/v1") or server.endswith("/v2"):
        server = server[:-3]
    host = server.split("/", 1)[0].rsplit(":", 1)[0] if not server.startswith("[") else server.split("]")[0] + "]"
    # as Docker's daemon, which counts 127.0.0.0/8 among its insecure registries
    local = host == "localhost" or host.startswith("127.") or host == "[::1]"
    try:
        login(server, user, password, tls_verify=False if local else None, cert_dir=None, auth_file=None)
    except Exception as exc:  # noqa: BLE001
        from ..errors import InvalidArgument

        if "unauthorized" in str(exc).lower() or "401" in str(exc) or isinstance(exc, InvalidArgument):
            raise ApiError(401, f"login to {server} failed: {exc}") from None
        raise
    return {"Status": "Login Succeeded", "IdentityToken": ""}
