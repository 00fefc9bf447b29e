"""The libpod API's system routes (podman's remote client speaks these): /libpod/_ping,
/libpod/version, /libpod/info, /libpod/events (podman's event shape, stream=false).

podman's client pings /libpod/_ping first and checks the Libpod-Api-Version header (at least
its minimal 4.0.0); every response carries the header (http.py).
"""

from __future__ import annotations

from .. import LIBPOD_API_VERSION
from .routes import API_VERSION, LIBPOD_MIN_VERSION, MIN_VERSION, RouteTable
from .system import _arch, ping, ping_head

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .http import Request

routes = RouteTable()


# the Docker API's answers: the Libpod-Api-Version header that podman's client checks is on
# every response (http.py)
routes.get("/libpod/_ping")(ping)
routes.head("/libpod/_ping")(ping_head)


@routes.get("/libpod/version")
def version(req: Request) -> dict[str, Any]:
    """podman's `version` document (its Server part): the engine component carries the libpod
    API version the client shows as "API Version"."""
    import platform

    from .. import __version__

    kernel = platform.release()
    # "Podman Engine": the component podman's client reads the server's version from
    engine = {"Name": "Podman Engine", "Version": __version__,
              "Details": {"APIVersion": LIBPOD_API_VERSION, "Arch": _arch(), "BuildTime": "1970-01-01T00:00:00Z",
                          "Experimental": "false", "GitCommit": "", "GoVersion": "python" + platform.python_version(),
                          "KernelVersion": kernel, "MinAPIVersion": LIBPOD_MIN_VERSION, "Os": "linux"}}
    return {"Platform": {"Name": f"linux/{_arch()}/podpy"}, "Components": [engine], "Version": __version__,
            "ApiVersion": API_VERSION, "MinAPIVersion": MIN_VERSION, "GitCommit": "",
            "GoVersion": "python" + platform.python_version(), "Os": "linux", "Arch": _arch(),
            "KernelVersion": kernel, "BuildTime": "1970-01-01T00:00:00Z"}


@routes.get("/libpod/info")
def info(req: Request) -> dict[str, Any]:
    """`podpy info`'s document (podman's shape), with the socket this service answers on."""
    from ..engine.system import SystemEngine

    doc = SystemEngine(req.runtime(), lambda _line: None).info()
    path = req.conn.app.socket_path
    if path:
        doc["host"]["remoteSocket"] = {"path": f"unix://{path}", "exists": True}
    return doc


def libpod_event(e: dict[str, Any]) -> dict[str, Any]:
    """An event of podpy's log as podman's service sends it: Docker's message with libpod's
    action words, and the attributes podman's client reads (containerExitCode always a number)."""
    attributes = {str(k): str(v) for k, v in (e.get("Attributes") or {}).items()}
    attributes["containerExitCode"] = str(attributes.get("containerExitCode") or 0)
    attributes.setdefault("podId", "")
    for key, field in (("name", "Name"), ("image", "Image")):
        if e.get(field):
            attributes[key] = str(e[field])
    ns = int(e.get("Time", 0))
    action = str(e.get("Status", ""))
    return {"status": action, "id": e.get("ID", ""), "from": e.get("Image", ""), "Type": e.get("Type", ""),
            "Action": action, "Actor": {"ID": e.get("ID") or e.get("Name", ""), "Attributes": attributes},
            "scope": "local", "time": ns // 1_000_000_000, "timeNano": ns}


@routes.get("/libpod/events")
def events(req: Request) -> Any:
    """The event log (podman's filters: type, event, container, image, volume, network, label),
    streamed unless stream=false."""
    from .. import events as event_log
    from .errors import BadParameter
    from .http import Streamed
    from .system import EVENT_FILTERS, _event_stream, _time_arg

    filters = req.filters()
    for key in filters:
        if key not in EVENT_FILTERS:
            raise BadParameter(f"invalid filter '{key}'")
    if event_log.backend() == "none":
        raise BadParameter('cannot read events with the "none" backend')
    path = event_log.path(req.runtime().cfg.runroot)
    since, until, stream = _time_arg(req, "since"), _time_arg(req, "until"), req.flag("stream", True)
    if since is None and (until is not None or not stream):
        since = 0.0   # podman's service reads the log from its start then, not from now
    return Streamed(_event_stream(req, path, since, until, filters, libpod_event, stream))


@routes.get("/libpod/system/df")
def df(req: Request) -> dict[str, Any]:
    """podman 4.3.1's SystemDfReport (an image once per name), with podpy's own image totals
    beside it (ImagesSize is podman's; ImagesReclaimable podpy's, which podman's client skips):
    a layer that images share counts once."""
    from ..engine.system import SystemEngine
    from ..formats import rfc3339

    usage = SystemEngine(req.runtime(), lambda _line: None).df()
    images = []
    for i in usage["ImageList"]:
        for name in i["Names"] or ["<none>:<none>"]:
            repo, _, tag = name.rpartition(":") if ":" in name.rpartition("/")[2] else (name, "", "<none>")
            images.append({"Repository": repo, "Tag": tag, "ImageID": i["Id"], "Created": rfc3339(i["Created"]),
                           "Size": i["Size"], "SharedSize": i["SharedSize"], "UniqueSize": i["UniqueSize"],
                           "Containers": i["Containers"]})
    containers = [{"ContainerID": c["Id"], "Image": c["Image"], "Command": c["Command"],
                   "LocalVolumes": c["LocalVolumes"], "Size": c["Size"], "RWSize": c["Size"],
                   "Created": rfc3339(c["Created"]), "Status": c["Status"], "Names": c["Name"]}
                  for c in usage["ContainerList"]]
    volumes = [{"VolumeName": v["Name"], "Links": v["Links"], "Size": v["Size"],
                "ReclaimableSize": 0 if v["Links"] else v["Size"]} for v in usage["VolumeList"]]
    return {"ImagesSize": usage["Images"]["Size"], "ImagesReclaimable": usage["Images"]["Reclaimable"],
            "Images": images, "Containers": containers, "Volumes": volumes}
