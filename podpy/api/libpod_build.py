"""POST /libpod/build: podman's build route over podpy's builder (podpy.imagebuild).

The body is the context as a tar (podman's client gzips it); the query is what podman 4.3.1's
client sends (pkg/bindings/images/build.go): t (repeatable) or output, dockerfile (a JSON list
of paths in the context), buildargs, labels, annotations, envs (JSON), target, nocache,
pullpolicy, layers, squash, q, jobs, platform, outputformat, timestamp, omithistory, from,
manifest, tlsVerify (and X-Registry-Auth for FROM's pulls), and RUN's extrahosts, dnsservers, dnsoptions, dnssearch, addcaps, dropcaps,
cgroupparent, cpu*, memory, memswap, shmsize, ulimits (the rest is accepted and changes
nothing here, as identitylabel, isolation, networkmode and seccomp).

The answer is podman's stream: {"stream": LINE} for each line `podpy build` prints (and its
RUN steps' output), the image's id the last line; an error is {"error": M, "errorDetail"}.
"""

from __future__ import annotations

import json
import os

from .build import _build, received
from .errors import BadParameter
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .http import Request, Streamed

routes = RouteTable()

FORMATS = {"application/vnd.oci.image.manifest.v1+json": "oci", "oci": "oci",
           "application/vnd.docker.distribution.manifest.v2+json": "docker", "docker": "docker"}


def _json(req: Request, name: str) -> Any:
    text = req.arg(name)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise BadParameter(f"invalid {name}: {text!r} is not JSON") from None


def _pairs(req: Request, name: str) -> list[str]:
    """A JSON object {"K": "V"} or list ["K=V"] as KEY=VALUE words."""
    data = _json(req, name)
    if data is None:
        return []
    if isinstance(data, dict):
        return [f"{k}={'' if v is None else v}" for k, v in data.items()]
    if isinstance(data, list):
        return [str(v) for v in data]
    raise BadParameter(f"invalid {name}: expected a JSON object or list")


def _words(req: Request, name: str) -> list[str]:
    data = _json(req, name)
    if data is None:
        return []
    if not isinstance(data, list):
        raise BadParameter(f"invalid {name}: expected a JSON list")
    return [str(v) for v in data]


def _number(req: Request, name: str) -> Optional[str]:
    value = req.int_arg(name)
    return str(value) if value else None


def _containerfiles(req: Request, root: str) -> list[str]:
    """dockerfile's paths, in the context (an absolute path outside it: its name in the context,
    where podman's client puts such a file)."""
    text = req.arg("dockerfile") or ""
    if not text:
        return []
    try:
        names = json.loads(text) if text.startswith("[") else [text]
    except ValueError:
        raise BadParameter(f"invalid dockerfile: {text!r} is not JSON") from None
    out = []
    for name in names:
        name = str(name)
        candidates = [name.lstrip("/")] + ([os.path.basename(name)] if name.startswith("/") else [])
        for rel in candidates:
            path = os.path.normpath(os.path.join(root, rel))
            if (path + "/").startswith(root.rstrip("/") + "/") and os.path.isfile(path):
                out.append(path)
                break
        else:
            raise BadParameter(f"Cannot locate specified Dockerfile: {name}")
    return out


def options(req: Request, root: str) -> Any:
    """The query as podpy's BuildOptions for a context unpacked in root."""
    from ..imagebuild.options import PULL_POLICIES, BuildOptions

    tags = [t for t in req.query.get("t") or [] if t] or ([req.arg("output")] if req.arg("output") else [])
    policy = (req.arg("pullpolicy") or "").lower()
    if policy and policy not in PULL_POLICIES:
        raise BadParameter(f"invalid pullpolicy {policy!r}: always, missing, never or newer")
    pull = PULL_POLICIES[policy] if policy else ("always" if req.flag("pull") else "missing")
    fmt = req.arg("outputformat") or ""
    if fmt and fmt not in FORMATS:
        raise BadParameter(f"invalid outputformat {fmt!r}")
    platform = (req.arg("platform") or "").strip()
    platforms = [p for p in platform.split(",") if p.strip("/")] if platform else []
    from .registryauth import credentials

    timestamp = req.int_arg("timestamp")
    jobs = req.int_arg("jobs", 1)
    tls = req.arg("tlsVerify")
    return BuildOptions(
        context=root, files=_containerfiles(req, root), tags=tags, target=req.arg("target") or None,
        build_args=_pairs(req, "buildargs"), labels=_pairs(req, "labels"), annotations=_pairs(req, "annotations"),
        env=_words(req, "envs"), no_cache=req.flag("nocache"), pull=pull, layers=req.flag("layers"),
        squash=req.flag("squash"), format=FORMATS.get(fmt), quiet=req.flag("q"), jobs=1 if jobs is None else jobs,
        platforms=platforms, timestamp=timestamp, omit_history=req.flag("omithistory"),
        from_=req.arg("from") or None, manifest=req.arg("manifest") or None,
        add_hosts=_words(req, "extrahosts"), dns=_words(req, "dnsservers"), dns_options=_words(req, "dnsoptions"),
        dns_search=_words(req, "dnssearch"), cap_add=_words(req, "addcaps"), cap_drop=_words(req, "dropcaps"),
        cgroup_parent=req.arg("cgroupparent") or None, cpu_period=_number(req, "cpuperiod"),
        cpu_quota=_number(req, "cpuquota"), cpu_shares=_number(req, "cpushares"),
        cpuset_cpus=req.arg("cpusetcpus") or None, cpuset_mems=req.arg("cpusetmems") or None,
        memory=_number(req, "memory"), memory_swap=_number(req, "memswap"), shm_size=_number(req, "shmsize"),
        ulimits=_words(req, "ulimits"), http_proxy=req.flag("httpproxy"), rm=req.flag("rm", True),
        force_rm=req.flag("forcerm"), tls_verify=req.flag("tlsVerify") if tls else None, creds=credentials(req))


@routes.post("/libpod/build", stream_body=True)
def build(req: Request) -> Streamed:
    return received(req, options, lambda opts, cleanup: _build(req, opts, req.flag("q"), cleanup, libpod=True))
