"""POST /build: Docker's classic builder over podpy's (podpy.imagebuild).

The body is the context as a tar (plain or compressed), unpacked into a directory of the
store's (confined there, as `podpy build -` does); the query gives the rest: t (repeatable),
dockerfile, buildargs and labels (JSON objects), target, nocache, pull, rm, forcerm, q.

The response is Docker's stream, which the docker CLI 20.10 prints and reads the id from:
{"stream": "Step 1/3 : FROM busybox\\n"}, " ---> 1a2b3c4d5e6f", the RUN steps' output,
{"aux": {"ID": "sha256:..."}}, "Successfully built 1a2b3c4d5e6f" and "Successfully tagged
NAME"; an error is the stream's last line, {"errorDetail": {"message": M}, "error": M}.
"""

from __future__ import annotations

import json
import os
import re

from .errors import BadParameter
from .http import Streamed
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator

    from .http import Request

routes = RouteTable()

_STEP = re.compile(r"^(?:\[[^\]]*\] )?STEP (\d+/\d+): (.*)$")
# query parameters Docker's builder has that change nothing here (accepted, as podman does)
IGNORED = ("remote", "cachefrom", "shmsize", "memory", "memswap", "cpushares", "cpusetcpus", "cpuperiod",
           "cpuquota", "networkmode", "platform", "squash", "extrahosts", "session", "outputs", "version",
           "isolation", "ulimits", "buildid")


class _BodyFile:
    """The request's body as a file for the tar reader."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buf = chunks, b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buf) < n:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buf += chunk
        if n < 0:
            out, self.buf = self.buf, b""
        else:
            out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


def _json_map(req: Request, name: str) -> dict[str, str]:
    text = req.arg(name)
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise BadParameter(f"invalid {name}: {text!r} is not JSON") from None
    if not isinstance(data, dict):
        raise BadParameter(f"invalid {name}: expected a JSON object")
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


def options(req: Request, root: str) -> Any:
    """The query as podpy's BuildOptions for a context unpacked in root."""
    from ..imagebuild.options import BuildOptions

    dockerfile = req.arg("dockerfile") or ""
    files = []
    if dockerfile:
        path = os.path.normpath(os.path.join(root, dockerfile.lstrip("/")))
        if not (path + "/").startswith(root.rstrip("/") + "/"):
            raise BadParameter(f"invalid dockerfile {dockerfile!r}: outside the build context")
        if not os.path.isfile(path):
            raise BadParameter(f"Cannot locate specified Dockerfile: {dockerfile}")
        files.append(path)
    build_args = [f"{k}={v}" for k, v in _json_map(req, "buildargs").items()]
    labels = [f"{k}={v}" for k, v in _json_map(req, "labels").items()]
    tags = [t for t in req.query.get("t") or [] if t]
    pull = req.arg("pull") or ""
    return BuildOptions(context=root, files=files, tags=tags, target=req.arg("target") or None,
                        build_args=build_args, no_cache=req.flag("nocache"),
                        pull="always" if pull and req.flag("pull") else "missing", labels=labels,
                        format="docker", rm=req.flag("rm", True), force_rm=req.flag("forcerm"))


@routes.post("/build", stream_body=True)
def build(req: Request) -> Streamed:
    return received(req, options, lambda opts, cleanup: _build(req, opts, req.flag("q"), cleanup))


@routes.post("/build/prune")
def prune(req: Request) -> dict[str, Any]:
    """Docker's build cache, here the unnamed images builds committed for their steps: the
    dangling ones (all: every one) that no container uses. keep-storage is accepted and does
    nothing (a cache is removed whole)."""
    from ..engine.imagestore import prune_build_cache
    from .images import docker_id

    words = []
    for key, values in req.filters().items():
        if key not in ("until", "label", "label!"):
            raise BadParameter(f"invalid filter '{key}'")
        words += [f"{key}={v}" for v in values]
    removed, reclaimed = prune_build_cache(req.runtime(), req.flag("all"), words)
    return {"CachesDeleted": [docker_id(i) for i in removed] or None, "SpaceReclaimed": reclaimed}


def received(req: Request, parse: Callable[[Request, str], Any],
             answer: Callable[[Any, Callable[[], None]], Iterator[bytes]]) -> Streamed:
    """The body's context unpacked in the store's staging area, the query parsed against it
    (parse(req, root)), and answer(options, cleanup)'s stream (cleanup removes the context)."""
    from storage.archive import ApplyOptions, apply_layer
    from storage.errors import StorageError

    content_type = (req.headers.get("content-type") or "application/x-tar").split(";")[0].strip()
    if content_type not in ("application/x-tar", "application/tar", "application/octet-stream", ""):
        raise BadParameter(f"unsupported Content-Type {content_type!r}: send the context as application/x-tar")
    if req.arg("remote"):
        raise BadParameter("remote build contexts are not supported: send the context as a tar")
    rt = req.runtime()
    staging = rt.store.temporary("api-build")
    stage = staging.__enter__()
    try:
        root = os.path.join(stage.path, "context")
        os.mkdir(root)
        try:
            apply_layer(_BodyFile(req.stream()), root, ApplyOptions(whiteout_format="vfs", chown="none"))
        except StorageError as exc:
            raise BadParameter(f"reading the build context: {exc}") from None
        opts = parse(req, root)
    except BaseException:
        staging.__exit__(None, None, None)
        raise
    return Streamed(answer(opts, lambda: staging.__exit__(None, None, None)))


def _build(req: Request, opts: Any, quiet: bool, cleanup: Callable[[], None],
           libpod: bool = False) -> Iterator[bytes]:
    """The build in a thread; its lines (and its RUN steps' output, through a pipe) as they come
    (libpod: podman's stream, the lines as `podpy build` prints them, the image id last)."""
    import select
    import threading

    from ..imagebuild.executor import build as do_build
    from . import progress

    r, w = os.pipe()
    opts.run_output = w
    finished = threading.Event()
    tagged: list[str] = []

    def say_to(emit: Callable[[dict[str, Any]], None]) -> Callable[[str], None]:
        def say(text: str) -> None:
            if quiet:
                return
            if libpod:
                emit({"stream": text + "\n"})
                return
            m = _STEP.match(text)
            if m:
                emit({"stream": f"Step {m.group(1)} : {m.group(2)}\n"})
            elif text.startswith("--> Using cache"):
                emit({"stream": " ---> Using cache\n"})
            elif text.startswith("--> "):
                emit({"stream": f" ---> {text[4:][:12]}\n"})
            elif text.startswith("Successfully tagged "):
                tagged.append(text[len("Successfully tagged "):])
            elif text.startswith("COMMIT") or not text.strip():
                pass
            else:
                emit({"stream": text + "\n"})
        return say

    def pump(emit: Callable[[dict[str, Any]], None]) -> None:
        """The RUN steps' output: until the build is over and the pipe has nothing more (other
        processes forked meanwhile may hold the pipe's writing end: no waiting for its end)."""
        while True:
            ready, _, _ = select.select([r], [], [], 0.1)
            if ready:
                data = os.read(r, 65536)
                if not data:
                    return
                if not quiet:
                    emit({"stream": data.decode("utf-8", "replace")})
            elif finished.is_set():
                return

    def work(rt: Any, emit: Callable[[dict[str, Any]], None]) -> Any:
        reader = threading.Thread(target=pump, args=(emit,), daemon=True)
        reader.start()
        try:
            image = do_build(rt, opts, say_to(emit), lambda text: emit({"stream": f"[Warning] {text}\n"}),
                             say_to(emit))
        finally:
            os.close(w)
            finished.set()
            reader.join()
        return image

    def finish(image: Any) -> list[dict[str, Any]]:
        if libpod:   # podman's client takes the last line that starts with 12 hex digits as the id
            return [{"stream": f"{image.id}\n"}]
        done: list[dict[str, Any]] = [{"aux": {"ID": f"sha256:{image.id}"}}]
        if quiet:   # the docker CLI's -q prints the stream, which is the id alone
            done.append({"stream": f"sha256:{image.id}\n"})
        else:
            done.append({"stream": f"Successfully built {image.id[:12]}\n"})
            done += [{"stream": f"Successfully tagged {t}\n"} for t in tagged]
        return done

    try:
        yield from progress.run(req, work, finish)
    finally:
        try:
            os.close(r)
        except OSError:
            pass
        cleanup()
