"""The libpod API's manifest-list routes: create, inspect, exists, add, remove, annotate, push
and delete, each the ManifestEngine verb `podpy manifest ...` calls.

podman 4.3.1's client creates with POST /manifests/{name}?images=&all=&amend=, changes a list
with PUT /manifests/{name} and a ManifestModifyOptions body (Operation update: add images,
remove: take instances out, annotate), pushes with POST /manifests/{name}/registry/{dest}
(quiet: one {"Id": digest}; else {"stream"} lines then it) and removes lists through
/images/remove; podman 4's older POST /manifests/{name}/add is served too, and DELETE
/manifests/{name}.
"""

from __future__ import annotations

from .errors import ApiError, BadParameter
from .http import Response, Streamed, json_response
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .http import Request

routes = RouteTable()


def _engine(req: Request, progress: Optional[Callable[[str], None]] = None) -> Any:
    from ..engine.manifests import ManifestEngine

    return ManifestEngine(req.runtime(), progress)


def _name(req: Request) -> str:
    return req.params["name"]


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if v]


def _annotations(value: Any) -> dict[str, str]:
    """podman's annotations: a map, or a list of KEY=VALUE (the older field)."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    out = {}
    for item in _list(value):
        key, sep, val = item.partition("=")
        if not sep:
            raise BadParameter(f"no value given for annotation {key!r}")
        out[key] = val
    return out


def _add_options(doc: dict[str, Any], req: Request) -> Any:
    from ..engine.manifestadd import AddOptions

    def field(*names: str) -> Any:
        for n in names:
            if doc.get(n) not in (None, "", []):
                return doc[n]
        return None

    skip = field("SkipTLSVerify", "skipTLSVerify")
    tls = req.arg("tlsVerify")
    creds = _creds(req)
    return AddOptions(all=bool(field("All", "all")), os=field("OS", "os"), arch=field("Arch", "arch"),
                      variant=field("Variant", "variant"), os_version=field("os_version", "OSVersion"),
                      features=tuple(_list(field("Features", "features"))),
                      os_features=tuple(_list(field("os_features", "OSFeatures"))),
                      annotations=_annotations(field("Annotations", "Annotation", "annotations")),
                      tls_verify=(not skip) if isinstance(skip, bool) else (req.flag("tlsVerify") if tls else None),
                      creds=creds)


def _creds(req: Request) -> Optional[str]:
    from .registryauth import credentials

    return credentials(req)


def _failed(exc: Exception) -> ApiError:
    from .errors import from_engine

    err = from_engine(exc)
    return ApiError(400 if err.status == 500 else err.status, err.message)


# -- routes with words after the name first: a name may hold slashes ---------------------------

@routes.get("/libpod/manifests/{name}/json")
def inspect(req: Request) -> Any:
    tls = req.arg("tlsVerify")
    return _engine(req).inspect(_name(req), req.flag("tlsVerify") if tls else None)


@routes.get("/libpod/manifests/{name}/exists")
def exists(req: Request) -> Response:
    if not _engine(req).exists(_name(req)):
        raise ApiError(404, f"{_name(req)}: image not known")
    return Response(204, b"", None)


@routes.post("/libpod/manifests/{name}/add")
def add(req: Request) -> Any:
    """podman 4's older add: a ManifestAddOptions body, one image."""
    doc = req.json({}) or {}
    images = _list(doc.get("images") or doc.get("Images"))
    if len(images) != 1:
        raise BadParameter("name exactly one image to add: the images field")
    try:
        return {"Id": _engine(req).add(_name(req), images[0], _add_options(doc, req))}
    except ApiError:
        raise
    except Exception as exc:  # noqa: BLE001 - podman's answer: 400 with the reason
        raise _failed(exc) from None


@routes.post("/libpod/manifests/{name}/registry/{destination}")
def push(req: Request) -> Any:
    from ..engine.manifestpush import ManifestPushOptions
    from . import progress

    fmt = (req.arg("format") or "").lower() or None
    if fmt == "v2s2" or (fmt or "").startswith("application/vnd.docker"):
        fmt = "v2s2"
    elif fmt is not None:
        fmt = "oci"
    tls = req.arg("tlsVerify")
    opts = ManifestPushOptions(destination=req.params["destination"], all=req.flag("all", True), format=fmt,
                               compression=req.arg("compressionFormat") or req.arg("compressionformat") or "gzip",
                               tls_verify=req.flag("tlsVerify") if tls else None, creds=_creds(req))
    name = _name(req)
    if req.flag("quiet", True):
        try:
            return {"Id": _engine(req).push(name, opts)}
        except Exception as exc:  # noqa: BLE001
            raise _failed(exc) from None

    def work(rt: Any, emit: Callable[[dict[str, Any]], None]) -> str:
        from ..engine.manifests import ManifestEngine

        return ManifestEngine(rt, lambda line: emit({"stream": line + "\n"})).push(name, opts)

    return Streamed(progress.run(req, work, lambda digest: [{"Id": digest}], _failed))


@routes.post("/libpod/manifests/{name}")
def create(req: Request) -> Response:
    from ..engine.manifestadd import AddOptions

    images = [i for values in req.query.get("images") or [] for i in values.split(",") if i]
    tls = req.arg("tlsVerify")
    opts = AddOptions(all=req.flag("all"), tls_verify=req.flag("tlsVerify") if tls else None, creds=_creds(req))
    try:
        made = _engine(req).create(_name(req), images, opts, req.flag("amend"))
    except Exception as exc:  # noqa: BLE001
        raise _failed(exc) from None
    return json_response({"Id": made}, 201)


@routes.put("/libpod/manifests/{name}")
def modify(req: Request) -> Any:
    """ManifestModifyOptions: update (add Images), remove (take the Images' digests out) or
    annotate (the first Image's entry); podman's ManifestModifyReport."""
    doc = req.json({}) or {}
    operation = str(doc.get("Operation") or doc.get("operation") or req.arg("operation") or "").lower()
    images = _list(doc.get("Images") or doc.get("images")) or \
        [i for values in req.query.get("images") or [] for i in values.split(",") if i]
    if not images:
        raise BadParameter("name the images (or digests) of the operation: the Images field")
    eng = _engine(req)
    name = _name(req)
    try:
        if operation == "update":
            opts = _add_options(doc, req)
            list_id = ""
            for image in images:
                list_id = eng.add(name, image, opts)
        elif operation == "remove":
            for digest in images:
                list_id = eng.remove(name, digest)
        elif operation == "annotate":
            list_id = eng.annotate(name, images[0], _add_options(doc, req))
        else:
            raise BadParameter(f"invalid operation {operation!r}: update, remove or annotate")
    except ApiError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _failed(exc) from None
    return {"Id": list_id, "images": images}


@routes.delete("/libpod/manifests/{name}")
def delete(req: Request) -> Any:
    """The list removed (not the images it names): podman's image-remove report."""
    reports = _engine(req).rm([_name(req)])
    errors = [str(r.error) for r in reports if r.error is not None]
    if errors and all(type(r.error).__name__ == "NoSuchImage" for r in reports if r.error is not None):
        raise ApiError(404, errors[0])
    deleted = [d for r in reports if r.error is None and r.deleted for d in (r.deleted, *r.also)]
    untagged = [u for r in reports if r.error is None for u in r.untagged]
    return {"Deleted": deleted or None, "Untagged": untagged or None, "Errors": errors or None,
            "ExitCode": 2 if errors else 0}


def _names_with_slashes() -> None:
    from .images import names_with_slashes

    names_with_slashes(routes)


_names_with_slashes()
