"""The libpod API's kube and generate routes: play/kube (POST a YAML body to play it, DELETE
to take it down), generate/kube and generate/{name}/systemd.

Each is one KubeEngine call (or generate_systemd's), answered in podman 4.3.1's shapes: play
answers its PlayKubeReport (Pods, each with its containers; Volumes), down the same report's
StopReport and RmReport, generate/kube the YAML as text, generate/{name}/systemd the units
as a JSON object (unit name -> text). The query's names are read without regard to case, as
podman's service reads them (its client sends `logdriver`, the documentation `logDriver`).
"""

from __future__ import annotations

from .errors import BadParameter
from .http import Response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .http import Request

routes = RouteTable()

# podman's play/kube parameters that podpy cannot honour through the service
_PLAY_REFUSED = ("signaturepolicy", "wait", "servicecontainer", "build", "contextdir")


class Query:
    """A request's query with its names folded to lower case."""

    def __init__(self, req: Request) -> None:
        self.values: dict[str, list[str]] = {}
        for key, values in req.query.items():
            self.values.setdefault(key.lower(), []).extend(values)

    def text(self, name: str) -> Optional[str]:
        """The last value given that is not empty (podman's client sends the empty ones too)."""
        values = self.texts(name)
        return values[-1] if values else None

    def texts(self, name: str) -> list[str]:
        return [v for v in self.values.get(name, []) if v != ""]

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes", "t"):
            return True
        if value.lower() in ("0", "false", "no", "f"):
            return False
        raise BadParameter(f"invalid value for {name}: {value!r} is not a boolean")

    def number(self, name: str) -> Optional[int]:
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise BadParameter(f"invalid value for {name}: {value!r} is not an integer") from None


def _kube(req: Request) -> Any:
    from ..kube.apply import KubeEngine

    return KubeEngine(req.runtime(), lambda _line: None, None)


def _yaml(req: Request) -> str:
    try:
        text = req.body.decode()
    except UnicodeDecodeError:
        raise BadParameter("the YAML body is not UTF-8 text") from None
    if not text.strip():
        raise BadParameter("no YAML body: POST the Kubernetes YAML to play")
    return text


def _json(data: Any) -> Response:
    import json

    return Response(200, json.dumps(data).encode() + b"\n")


@routes.post("/libpod/play/kube")
def play(req: Request) -> Response:
    """Make (and, unless start=false, start) what the YAML body describes."""
    import json

    from ..kube.plan import PlayOptions

    q = Query(req)
    for name in _PLAY_REFUSED:
        if q.text(name) not in (None, "false", "0"):
            raise BadParameter(f"play/kube {name} is not available in podpy")
    annotations = q.text("annotations")
    notes: dict[str, str] = {}
    if annotations:
        try:
            notes = json.loads(annotations)
        except ValueError:
            raise BadParameter("invalid annotations: expected a JSON object") from None
    if q.texts("staticmacs")[1:] or q.texts("staticips")[1:]:
        raise BadParameter("more than one static address is not available in podpy")
    creds = None
    if q.text("username"):
        creds = f"{q.text('username')}:{q.text('password') or ''}"
    tls = q.text("tlsverify")
    opts = PlayOptions(network=q.texts("network"), publish=q.texts("publishports"), log_driver=q.text("logdriver"),
                       log_opts=q.texts("logoptions"), userns=q.text("userns"), ip=(q.texts("staticips") or [None])[0],
                       mac_address=(q.texts("staticmacs") or [None])[0], no_hosts=q.flag("nohosts"),
                       annotations=[f"{k}={v}" for k, v in notes.items()], authfile=q.text("authfile"),
                       cert_dir=q.text("certdir"), creds=creds,
                       tls_verify=None if tls is None else q.flag("tlsverify"),
                       **({"seccomp_profile_root": q.text("seccompprofileroot")}
                          if q.text("seccompprofileroot") else {}))
    report = _kube(req).play(_yaml(req), opts, q.texts("configmaps"), start=q.flag("start", True),
                             replace=q.flag("replace"))
    return _json({"Pods": [{"ID": p.id, "Containers": list(p.containers), "InitContainers": list(p.init) or None,
                            "Logs": None, "ContainerErrors": None} for p in report.pods] or None,
                  "Volumes": [{"Name": v} for v in report.volumes] or None,
                  "StopReport": None, "RmReport": None, "Secrets": None})


@routes.delete("/libpod/play/kube")
def down(req: Request) -> Response:
    """Stop and remove the pods the YAML body made (force: its claims' volumes too)."""
    report = _kube(req).down(_yaml(req), Query(req).flag("force"))
    return _json({"Pods": None, "Volumes": None,
                  "StopReport": [{"Errs": None, "Id": i} for i in report.stopped] or None,
                  "RmReport": [{"Err": None, "Id": i} for i in report.removed] or None,
                  "VolumeRmReport": [{"Err": None, "Id": v} for v in report.claims] or None, "Secrets": None})


@routes.get("/libpod/generate/kube")
def generate_kube(req: Request) -> Response:
    q = Query(req)
    names = q.texts("names")
    if not names:
        raise BadParameter("generate/kube: no names given")
    text = _kube(req).generate(names, (q.text("type") or "pod").lower(), q.number("replicas") or 1,
                               q.flag("service"))
    return Response(200, text.encode(), "text/vnd.yaml")


@routes.get("/libpod/generate/{name}/systemd")
def generate_systemd(req: Request) -> Response:
    from ..engine.generate import generate_systemd as units_of
    from ..engine.unitgen import SystemdOptions

    q = Query(req)
    opts = SystemdOptions(new=q.flag("new"), name=q.flag("usename"), restart_policy=q.text("restartpolicy"),
                          restart_sec=q.number("restartsec"), start_timeout=q.number("starttimeout"),
                          stop_timeout=q.number("stoptimeout"), container_prefix=q.text("containerprefix") or
                          "container", pod_prefix=q.text("podprefix") or "pod",
                          separator=q.text("separator") if q.text("separator") is not None else "-",
                          after=q.texts("after"), wants=q.texts("wants"), requires=q.texts("requires"),
                          no_header=q.flag("noheader"), template=q.flag("templateunitfile"),
                          env=q.texts("additionalenvvariables"))
    return _json(units_of(req.runtime(), req.params["name"], opts, lambda _line: None).units)
