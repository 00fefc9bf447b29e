"""Pull and push: POST /images/create (fromImage, or fromSrc: an import) and
POST /images/{name}/push, as Docker's JSON progress streams.

Credentials come in the X-Registry-Auth header (base64url of {"username", "password", ...});
without it, the auth file `podpy login` (and POST /auth) writes is used. They are never logged
nor put in a message. A registry on a loopback address is spoken to without TLS
verification, as Docker's daemon treats 127.0.0.0/8 as an insecure registry.
"""

from __future__ import annotations

from .errors import ApiError, BadParameter
from .http import Streamed
from .registryauth import credentials, tls_verify
from .routes import RouteTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional

    from .http import Request

routes = RouteTable()


def _reference(image: str, tag: Optional[str]) -> str:
    if not tag:
        return image
    return f"{image}@{tag}" if ":" in tag and tag.split(":", 1)[0] in ("sha256", "sha512") else f"{image}:{tag}"


@routes.post("/images/create", stream_body=True)
def create(req: Request) -> Streamed:
    from_image, from_src = req.arg("fromImage"), req.arg("fromSrc")
    if from_image and from_src:
        raise BadParameter("only one of fromImage and fromSrc")
    if from_src:
        return _import(req, from_src)
    for _ in req.stream():   # a pull has no body; what came is read and dropped
        pass
    if not from_image:
        raise BadParameter("fromImage or fromSrc must be given")
    name = _reference(from_image, req.arg("tag") or ("latest" if "@" not in from_image and
                                                      ":" not in from_image.rsplit("/", 1)[-1] else None))
    return Streamed(_pull(req, name, credentials(req), req.arg("platform") or None))


def _pull(req: Request, name: str, creds: Optional[str], platform: Optional[str]) -> Iterator[bytes]:
    from ..engine.images import ImageEngine
    from ..engine.pull import PullOptions
    from ..errors import NoSuchImage
    from . import progress

    short = name.rsplit("/", 1)[-1]
    tag = short.split("@", 1)[1] if "@" in short else short.rsplit(":", 1)[1] if ":" in short else "latest"
    repo = name.rsplit("@", 1)[0] if "@" in name else name[:len(name) - len(tag) - 1] if ":" in short else name
    state: dict[str, Any] = {"existed": False}

    def work(rt: Any, emit: Callable[[dict[str, Any]], None]) -> Any:
        def report(text: str) -> None:
            if text == "Getting image source signatures":
                emit({"status": f"Pulling from {repo}", "id": tag})
            elif text.startswith("Copying blob "):
                blob = text.split()[2]
                if text.endswith("skipped: already exists"):
                    state["existed"] = True
                    emit({"status": "Already exists", "progressDetail": {}, "id": blob})
                else:
                    emit({"status": "Pulling fs layer", "progressDetail": {}, "id": blob})

        bars = progress.Bars(emit, "Downloading", ("Download complete", "Pull complete"))
        opts = PullOptions(name=name, creds=creds, platform=platform, tls_verify=tls_verify(name))
        before = {i.id for i in rt.store.images()}
        image = ImageEngine(rt, lambda _line: None, report, bars).pull(opts)
        return image, image.id in before

    def finish(result: Any) -> list[dict[str, Any]]:
        image, existed = result
        done = [{"status": f"Digest: {image.digest}"}] if image.digest else []
        word = "Image is up to date for" if existed else "Downloaded newer image for"
        return done + [{"status": f"Status: {word} {name}"}]

    def describe(exc: BaseException) -> ApiError:
        from .errors import from_engine

        if isinstance(exc, NoSuchImage):
            return ApiError(404, f"manifest for {name} not found: manifest unknown: manifest unknown")
        err = from_engine(exc)
        if "unauthorized" in err.message.lower() or "denied" in err.message.lower():
            return ApiError(404 if err.status >= 500 else err.status,
                            f"pull access denied for {repo}, repository does not exist or may require "
                            f"'docker login': {err.message}")
        return err

    return progress.run(req, work, finish, describe)


def _import(req: Request, source: str) -> Streamed:
    """fromSrc: "-" (the body is the tarball) or a URL; repo/tag name it, changes apply."""
    import os

    from ..engine.entities import ImportOptions
    from ..engine.images import ImageEngine
    from .images import body_to_file
    from .progress import line

    repo, tag = req.arg("repo") or "", req.arg("tag") or ""
    target = (repo + (":" + tag if tag else "")) if repo else None
    changes = [c for c in req.query.get("changes") or [] for c in c.split("\n") if c.strip()]
    rt = req.runtime()
    with rt.store.temporary("api-import") as stage:
        if source == "-":
            path = os.path.join(stage.path, "rootfs.tar")
            if not body_to_file(req, path):
                raise BadParameter("fromSrc=-: the body is empty: send the tarball")
        else:
            for _ in req.stream():
                pass
            path = source
        image = ImageEngine(rt, lambda _line: None).import_(ImportOptions(
            source=path, reference=target, changes=changes, message=req.arg("message") or ""))
    return Streamed(iter([line({"status": f"sha256:{image.id}"})]))


@routes.post("/images/{name}/push")
def push(req: Request) -> Streamed:
    from .images import lookup

    name = req.params["name"]
    tag = req.arg("tag") or ""
    image = lookup(req, name if not tag else f"{name}:{tag}")
    return Streamed(_push(req, name, tag, image, credentials(req)))


def _push(req: Request, name: str, tag: str, image: Any, creds: Optional[str]) -> Iterator[bytes]:
    from ..engine.images import ImageEngine
    from ..engine.push import PushOptions
    from . import progress

    source = f"{name}:{tag}" if tag else name
    short = source.rsplit("/", 1)[-1]
    shown_tag = short.rsplit(":", 1)[1] if ":" in short else "latest"
    repo = source[:len(source) - len(shown_tag) - 1] if ":" in short else source
    destination = source if ":" in short else f"{source}:latest"
    digests: dict[str, Any] = {}

    def work(rt: Any, emit: Callable[[dict[str, Any]], None]) -> Any:
        emit({"status": f"The push refers to repository [{repo}]"})

        def report(text: str) -> None:
            if text.startswith("Copying blob "):
                blob = text.split()[2]
                if text.endswith("skipped: already exists"):
                    emit({"status": "Layer already exists", "progressDetail": {}, "id": blob})
                elif blob not in bars.seen:   # a blob too small to have shown progress
                    emit({"status": "Pushed", "progressDetail": {}, "id": blob})

        bars = progress.Bars(emit, "Pushing", ("Pushed",))
        opts = PushOptions(image=image.id if tag else source, destination=destination, creds=creds,
                           tls_verify=tls_verify(source), format="v2s2")
        digest = ImageEngine(rt, lambda _line: None, report, bars).push(opts)
        digests["digest"] = digest
        return digest

    def finish(digest: Any) -> list[dict[str, Any]]:
        return [{"status": f"{shown_tag}: digest: {digest} size: 0"},
                {"progressDetail": {}, "aux": {"Tag": shown_tag, "Digest": digest, "Size": 0}}]

    return progress.run(req, work, finish)


def _slashes() -> None:
    from .images import names_with_slashes

    names_with_slashes(routes)


_slashes()
