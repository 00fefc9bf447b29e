"""`podpy --remote build`: the context sent to libpod's POST /build as a gzipped tar, with the
query podman 4.3.1's client sends, and the service's stream printed as it comes.

The tar holds the context directory less what its .containerignore (else .dockerignore, or
--ignorefile) excludes; the ignore files and the Containerfiles are always in it. A
Containerfile outside the context (or `-f -`) goes in under a name of its own, which the
query's dockerfile list names. A context given as `-` (a tar on stdin) is sent as it is.

What names files of this host for the build itself (secrets, --build-context, -v, --output,
--authfile, ...) or changes how RUN runs in ways the route has no word for cannot cross:
each is refused in one line before anything is sent.
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
import tempfile

from ..errors import InvalidArgument, PodpyError
from .client import ServiceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .client import Client

# BuildOptions fields with no remote form: (field, flag), refused when not at their default
REFUSED = (("secrets", "--secret"), ("cert_dir", "--cert-dir"), ("auth_file", "--authfile"),
           ("signature_policy", "--signature-policy"), ("os_features", "--os-feature"),
           ("os_version", "--os-version"), ("squash_all", "--squash-all"), ("outputs", "--output"),
           ("build_contexts", "--build-context"), ("cpp_flags", "--cpp-flag"), ("cache_ttl", "--cache-ttl"),
           ("cache_from", "--cache-from"), ("cache_to", "--cache-to"), ("ssh", "--ssh"),
           ("uid_map", "--userns-uid-map"), ("gid_map", "--userns-gid-map"),
           ("uid_map_user", "--userns-uid-map-user"), ("gid_map_group", "--userns-gid-map-group"),
           ("hooks_dirs", "--hooks-dir"), ("no_hosts", "--no-hosts"), ("group_add", "--group-add"),
           ("security_opts", "--security-opt"), ("devices", "--device"), ("volumes", "--volume"),
           ("ipc", "--ipc"), ("pid", "--pid"), ("uts", "--uts"), ("cgroupns", "--cgroupns"),
           ("userns", "--userns"), ("runtime_flags", "--runtime-flag"), ("stdin", "--stdin"),
           ("unsetenv", "--unsetenv"))


def refuse(o: Any, command: str) -> None:
    for field, flag in REFUSED:
        if getattr(o, field, None):
            raise InvalidArgument(f"podpy {command} {flag}: not available with --remote")
    if not o.skip_unused_stages:
        raise InvalidArgument(f"podpy {command} --skip-unused-stages=false: not available with --remote")
    if o.network not in (None, "", "slirp4netns", "private", "bridge", "default"):
        raise InvalidArgument(f"podpy {command} --network {o.network}: not available with --remote")
    if o.isolation not in (None, "", "oci", "rootless"):
        raise InvalidArgument(f"podpy {command} --isolation {o.isolation}: not available with --remote")
    if len(o.platforms) > 1:
        raise InvalidArgument(f"podpy {command} with several --platform values: not available with --remote")
    if o.context.startswith(("http://", "https://", "git://", "git@", "github.com/")):
        raise InvalidArgument(f"podpy {command} of a git or URL context: not available with --remote")


def _bytes(value: Optional[str], flag: str) -> Optional[int]:
    from ..formats import parse_size

    return parse_size(value, flag) if value else None


def _build_args(o: Any) -> dict[str, str]:
    """--build-arg (KEY alone: this environment's value) and --build-arg-file's lines."""
    out: dict[str, str] = {}
    lines: list[str] = []
    for path in o.build_arg_files:
        try:
            with open(path, encoding="utf-8") as f:
                lines += [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
        except OSError as exc:
            raise InvalidArgument(f"reading --build-arg-file {path}: {exc.strerror}") from None
    for item in lines + list(o.build_args):
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def query(o: Any, files: list[str]) -> dict[str, Any]:
    """The query of POST /build, in podman's client's words."""
    from ..imagebuild.flags import platform
    from ..imagebuild.options import PULL_POLICIES

    pull = PULL_POLICIES.get((o.pull or "missing").lower())
    if pull is None:
        raise InvalidArgument(f"invalid --pull {o.pull!r}: always, missing, never or newer")
    q: dict[str, Any] = {"t": list(o.tags) or None, "output": o.tags[0] if o.tags else None,
                         "dockerfile": json.dumps(files) if files else None, "target": o.target,
                         "nocache": o.no_cache, "pullpolicy": pull, "layers": o.layers, "squash": o.squash,
                         "q": o.quiet, "jobs": o.jobs, "rm": o.rm, "forcerm": o.force_rm,
                         "httpproxy": o.http_proxy, "omithistory": o.omit_history,
                         "identitylabel": o.identity_label, "from": o.from_, "manifest": o.manifest,
                         "timestamp": o.timestamp, "tlsVerify": o.tls_verify, "cgroupparent": o.cgroup_parent,
                         "cpusetcpus": o.cpuset_cpus, "cpusetmems": o.cpuset_mems}
    if o.format:
        q["outputformat"] = {"oci": "application/vnd.oci.image.manifest.v1+json",
                             "docker": "application/vnd.docker.distribution.manifest.v2+json"}.get(o.format, o.format)
    p_os, p_arch, p_variant = platform(list(o.platforms), o.os, o.arch, o.variant)
    if p_os or p_arch:
        q["platform"] = "/".join(x for x in (p_os or "linux", p_arch or "", p_variant or "") if x)
    for key, values in (("buildargs", _build_args(o)), ("labels", list(o.labels)),
                        ("annotations", list(o.annotations)), ("envs", list(o.env)),
                        ("extrahosts", list(o.add_hosts)), ("dnsservers", list(o.dns)),
                        ("dnsoptions", list(o.dns_options)), ("dnssearch", list(o.dns_search)),
                        ("addcaps", list(o.cap_add)), ("dropcaps", list(o.cap_drop)), ("ulimits", list(o.ulimits))):
        if values:
            q[key] = json.dumps(values)
    for key, value, flag in (("memory", o.memory, "--memory"), ("memswap", o.memory_swap, "--memory-swap"),
                             ("shmsize", o.shm_size, "--shm-size")):
        q[key] = _bytes(value, flag)
    for key, value, flag in (("cpushares", o.cpu_shares, "--cpu-shares"), ("cpuperiod", o.cpu_period, "--cpu-period"),
                             ("cpuquota", o.cpu_quota, "--cpu-quota")):
        if value:
            if not str(value).isdigit():
                raise InvalidArgument(f"invalid {flag} {value!r}: expected a number")
            q[key] = int(value)
    return q


def context_tar(o: Any, out: Any) -> list[str]:
    """The context (and the Containerfiles) as a gzipped tar written to out; the Containerfiles'
    names in it, for the query's dockerfile."""
    from ..imagebuild import ignore

    root = os.path.abspath(o.context)
    if not os.path.isdir(root):
        raise InvalidArgument(f"the context directory {o.context} does not exist" if not os.path.exists(root)
                              else f"the context {o.context} is not a directory")
    extra: list[tuple[str, Any]] = []   # (name in the tar, host path or the text of stdin)
    names: list[str] = []
    for i, f in enumerate(o.files):
        if f == "-":
            name = f".podpy-containerfile-{i}"
            extra.append((name, sys.stdin.read().encode()))
            names.append(name)
            continue
        path = f if os.path.exists(f) or os.path.isabs(f) else os.path.join(root, f)
        if not os.path.isfile(path):
            raise InvalidArgument(f"the Containerfile {f} does not exist (no such file or directory)")
        full = os.path.abspath(path)
        if full.startswith(root + os.sep):
            names.append(os.path.relpath(full, root))
        else:
            name = f".podpy-containerfile-{i}-{os.path.basename(full)}"
            extra.append((name, full))
            names.append(name)
    try:
        if o.ignorefile:
            with open(o.ignorefile, encoding="utf-8", errors="surrogateescape") as fh:
                matcher = ignore.Matcher(fh.read().splitlines())
        else:
            matcher = ignore.load(root)
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"reading the ignore file: {getattr(exc, 'strerror', None) or exc}") from None
    kept = {".containerignore", ".dockerignore", *names}

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=1) as tf:
        for top, dirs, files in os.walk(root):
            rel_top = os.path.relpath(top, root)
            for d in list(dirs):
                rel = os.path.normpath(os.path.join(rel_top, d))
                path = os.path.join(top, d)
                if os.path.islink(path):   # a link to a directory: the link itself
                    dirs.remove(d)
                    files.append(d)
                    continue
                if matcher.excluded(rel):
                    if not matcher.may_include_below(rel):
                        dirs.remove(d)
                    continue
                tf.add(path, arcname=rel, recursive=False, filter=clean)
            for name in sorted(files):
                rel = os.path.normpath(os.path.join(rel_top, name))
                if rel in kept or not matcher.excluded(rel):
                    tf.add(os.path.join(top, name), arcname=rel, recursive=False, filter=clean)
        for name, source in extra:
            if isinstance(source, bytes):
                import io

                info = tarfile.TarInfo(name)
                info.size, info.mode = len(source), 0o644
                tf.addfile(info, io.BytesIO(source))
            else:
                tf.add(source, arcname=name, recursive=False, filter=clean)
    out.flush()
    return names


def _failed(message: str) -> PodpyError:
    """The build's error; a RUN that failed exits with the step's status, as a local build does."""
    import re

    from ..imagebuild.step import StepFailed

    m = re.search(r"while running runtime: exit status (\d+)$", message)
    return StepFailed(message, int(m.group(1))) if m else PodpyError(message)


def build(client: Client, o: Any, command: str, say: Callable[[str], None]) -> str:
    """The image built by the service from o (BuildOptions); its lines to say as they come
    (RUN's output as it is written). The image's id."""
    refuse(o, command)
    if o.context == "-" and "-" in o.files:
        raise InvalidArgument("the context and the Containerfile cannot both come from stdin")
    headers: dict[str, str] = {}
    if o.creds:
        from .run import _auth

        headers = _auth(o.creds)
    with tempfile.TemporaryFile(prefix="podpy-build-") as body:
        if o.context == "-":
            import shutil

            shutil.copyfileobj(sys.stdin.buffer, body)
            body.flush()
            files = [f for f in o.files]
        else:
            files = context_tar(o, body)
        body.seek(0)
        image_id = ""
        pending = ""
        try:
            for doc in client.lines("POST", "/build", query(o, files), body=body, headers=headers):
                if doc.get("error"):
                    raise _failed(str(doc["error"]).strip())
                text = str(doc.get("stream") or "")
                if not text:
                    continue
                # whole lines go out as they complete; the last complete one that is a bare id
                # is the image (as podman's client reads it)
                pending += text
                *done, pending = pending.split("\n")
                for line in done:
                    stripped = line.strip()
                    if len(stripped) == 64 and all(c in "0123456789abcdef" for c in stripped):
                        image_id = stripped
                        continue
                    say(line)
        except ServiceError as exc:
            raise PodpyError(str(exc)) from None
        if pending:
            say(pending)
    if not image_id:
        raise PodpyError("the service's build stream ended without an image id")
    if o.iidfile:
        with open(o.iidfile, "w", encoding="utf-8") as f:
            f.write(f"sha256:{image_id}")
    return image_id
