"""Image names: parsing, validation and normalisation, as podman does them.

`busybox` means `docker.io/library/busybox:latest` when pulled; a name given to
an image made here (import, tag, commit) without a registry gets `localhost/`.
"""

from __future__ import annotations

import re
from collections import namedtuple

from .errors import ReferenceError_

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

DEFAULT_REGISTRY = "docker.io"
LOCAL_REGISTRY = "localhost"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
                     r"(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$")
HEX_ID = re.compile(r"^(?:sha256:)?[0-9a-f]{1,64}$")


class Reference(namedtuple("Reference", "domain path tag digest", defaults=(None, None))):
    """A parsed image name. `domain` is empty when the user gave none; `tag` and `digest` may be None.

    A named tuple, not a dataclass: it is built on the path of every `podpy run`.
    """

    __slots__ = ()
    domain: str
    path: str
    tag: Optional[str]
    digest: Optional[str]

    @property
    def qualified(self) -> bool:
        return bool(self.domain)

    def with_domain(self, domain: str) -> "Reference":
        path = self.path
        if domain == DEFAULT_REGISTRY and "/" not in path:
            path = "library/" + path
        return Reference(domain, path, self.tag, self.digest)

    def with_default_tag(self) -> "Reference":
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        s = self.repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s


def parse(name: str) -> Reference:
    """Parse `[domain/]path[:tag][@digest]`; raises ReferenceError_ naming the fault."""
    if not name or name != name.strip():
        raise ReferenceError_(f"invalid reference format: {name!r}")
    rest = name
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise ReferenceError_(f"invalid reference format: bad digest in {name!r}")
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ReferenceError_(f"invalid reference format: bad tag {tag!r} in {name!r}")
    domain = ""
    parts = rest.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"
                           or parts[0] != parts[0].lower()):
        domain = parts[0]
        if not _DOMAIN.match(domain):
            raise ReferenceError_(f"invalid reference format: bad registry {domain!r} in {name!r}")
        parts = parts[1:]
    for comp in parts:
        if not _COMPONENT.match(comp):
            if comp != comp.lower():
                raise ReferenceError_(f"invalid reference format: repository name must be lowercase: {name!r}")
            raise ReferenceError_(f"invalid reference format: {name!r}")
    path = "/".join(parts)
    if len(path) > 255:
        raise ReferenceError_(f"invalid reference format: repository name too long: {name!r}")
    return Reference(domain, path, tag, digest)


def normalize_local(name: str) -> str:
    """The name podman gives an image created here: `x` -> `localhost/x:latest`."""
    ref = parse(name)
    if not ref.qualified:
        ref = Reference(LOCAL_REGISTRY, ref.path, ref.tag, ref.digest)
    return str(ref.with_default_tag())


def normalize_pull(name: str) -> str:
    """The name podman pulls for `name` with the default registry: `x` -> `docker.io/library/x:latest`."""
    ref = parse(name)
    if not ref.qualified:
        ref = ref.with_domain(DEFAULT_REGISTRY)
    return str(ref.with_default_tag())


def candidates(name: str, search_registries: list[str]) -> list[str]:
    """Fully qualified names to look for locally for `name`, in podman's order."""
    ref = parse(name).with_default_tag()
    if ref.qualified:
        return [str(ref)]
    out = [str(ref.with_domain(LOCAL_REGISTRY))]
    for reg in search_registries:
        out.append(str(ref.with_domain(reg)))
    return out


def split_repo_tag(name: str) -> tuple[str, str]:
    """`docker.io/library/busybox:1.36` -> (`docker.io/library/busybox`, `1.36`); `<none>` when absent."""
    ref = parse(name)
    return ref.repository, ref.tag or ("<none>" if not ref.digest else "<none>")
