"""Image references with a transport in front (`docker-archive:x.tar`, `oci:dir:tag`, ...).

One parser for every command that takes an image from, or writes one to,
somewhere other than the store by name: pull, push, run, create, save, load and
build's FROM. A name with no known transport before its first colon is a plain
image name (`busybox:1.36`, `localhost:5000/app`) and `parse` returns None,
so callers keep their usual lookup for it.

The shapes, as containers-transports(5) describes them:

    docker://NAME                     a registry (the name is fully qualified here:
                                      docker.io is the default, no search registries)
    docker-archive:PATH[:NAME|:@N]    a `docker save` tar; one image of it by name or index
    oci-archive:PATH[:REF]            an OCI layout in a tar; REF is an index entry's ref.name
    oci:DIR[:REF]                     an OCI layout directory
    dir:DIR                           a manifest, a config and the blobs as files
    containers-storage:[SPEC]NAME     the local store (SPEC, `driver@root+runroot:opts`, names it)

`docker:` without `//` is no transport: `docker:latest` is the image `docker`, as in podman.
"""

from __future__ import annotations

from ..errors import ReferenceError_
from ..named import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

DOCKER = "docker"
DOCKER_ARCHIVE = "docker-archive"
OCI_ARCHIVE = "oci-archive"
OCI = "oci"
DIR = "dir"
STORAGE = "containers-storage"
DOCKER_DAEMON = "docker-daemon"

# every transport podman 4.3.1 knows; docker-daemon is parsed only to be refused by name
KNOWN = (DOCKER, DOCKER_ARCHIVE, OCI_ARCHIVE, OCI, DIR, STORAGE, DOCKER_DAEMON)
# transports that are a file or a directory on this host
PATH_TRANSPORTS = (DOCKER_ARCHIVE, OCI_ARCHIVE, OCI, DIR)


class TransportRef(NamedTuple):
    """A parsed `TRANSPORT:...` reference.

    path: the archive file or layout directory ("" for docker and containers-storage);
    name: the image inside (a registry name for docker, the store's name for
    containers-storage, docker-archive's NAME, oci's and oci-archive's REF), or None;
    index: docker-archive's `@N`; store_spec: containers-storage's `[...]`, or None.
    A named tuple, not a dataclass: `run` checks every image name with a colon for a
    transport, and importing dataclasses would cost that path more than the whole parse.
    """

    __slots__ = ()
    transport: str
    path: str = ""
    name: Optional[str] = None
    index: Optional[int] = None
    store_spec: Optional[str] = None

    def __str__(self) -> str:
        if self.transport == DOCKER:
            return f"docker://{self.name}"
        if self.transport == STORAGE:
            spec = f"[{self.store_spec}]" if self.store_spec is not None else ""
            return f"{STORAGE}:{spec}{self.name}"
        rest = self.path
        if self.index is not None:
            rest += f":@{self.index}"
        elif self.name:
            rest += f":{self.name}"
        return f"{self.transport}:{rest}"


def transport_of(text: str) -> Optional[str]:
    """The transport text names, or None for a plain image name."""
    prefix, sep, rest = text.partition(":")
    if not sep or prefix not in KNOWN:
        return None
    if prefix == DOCKER and not rest.startswith("//"):
        return None
    return prefix


def parse(text: str) -> Optional[TransportRef]:
    """The TransportRef text names, None for a plain image name; ReferenceError_ for a
    transport reference that is malformed (the message names the fault)."""
    transport = transport_of(text)
    if transport is None:
        return None
    rest = text.partition(":")[2]
    if transport == DOCKER:
        name = rest[2:]
        if not name:
            raise ReferenceError_(f"invalid reference {text!r}: no image name after docker://")
        return TransportRef(DOCKER, name=name)
    if transport == DOCKER_DAEMON:
        raise ReferenceError_(f"{text}: the docker-daemon transport is not available: podpy talks to no "
                              "docker daemon (use docker-archive)")
    if transport == STORAGE:
        return _storage(text, rest)
    if transport == DIR:
        if not rest:
            raise ReferenceError_(f"invalid reference {text!r}: no directory after dir:")
        return TransportRef(DIR, path=rest)
    # docker-archive, oci-archive, oci: PATH, then an optional `:NAME` (the path holds no colon)
    path, sep, name = rest.partition(":")
    if not path:
        raise ReferenceError_(f"invalid reference {text!r}: no path after {transport}:")
    if sep and not name:
        raise ReferenceError_(f"invalid reference {text!r}: nothing after the path's colon")
    if not sep:
        return TransportRef(transport, path=path)
    if transport == DOCKER_ARCHIVE:
        if name.startswith("@"):
            digits = name[1:]
            if not digits.isdigit():
                raise ReferenceError_(f"invalid reference {text!r}: an index is @ and a number")
            return TransportRef(transport, path=path, index=int(digits))
        from .. import reference

        parsed = reference.parse(name)  # ReferenceError_ names the fault
        if parsed.digest:
            raise ReferenceError_(f"invalid reference {text!r}: a docker-archive name takes no digest")
        return TransportRef(transport, path=path, name=name)
    return TransportRef(transport, path=path, name=name)


def _storage(text: str, rest: str) -> TransportRef:
    spec = None
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ReferenceError_(f"invalid reference {text!r}: no ] after the store's [")
        spec, rest = rest[1:end], rest[end + 1:]
    if not rest:
        raise ReferenceError_(f"invalid reference {text!r}: no image name after containers-storage:")
    return TransportRef(STORAGE, name=rest, store_spec=spec)


def store_root(spec: str) -> str:
    """The graph root a containers-storage `[driver@root+runroot:options]` spec names ("" if none)."""
    body = spec.split(":", 1)[0]
    if "@" in body:
        body = body.split("@", 1)[1]
    return body.split("+", 1)[0]
