"""Image names: parsing, validation, normalisation and short-name resolution, as podman does them.

`busybox` means `docker.io/library/busybox:latest` when pulled; a name given to
an image made here (import, tag, commit) without a registry gets `localhost/`.
Short names resolve through plain data (ShortNames: search registries and
aliases) that the caller read from registries.conf; this module reads no file.
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


class ShortNames(namedtuple("ShortNames", "search aliases")):
    """How short names resolve: `unqualified-search-registries` and `[aliases]` (short name -> repository)."""

    __slots__ = ()
    search: tuple[str, ...]
    aliases: dict[str, str]


def apply_alias(ref: Reference, aliases: dict[str, str]) -> Optional[Reference]:
    """The reference a short-name alias makes of ref, keeping the tag or digest the user gave; None without one.

    An alias names a repository; one that also pins a tag yields to the
    user's tag or digest, and one that pins a digest the user contradicts
    is an error (ReferenceError_).
    """
    if ref.qualified or ref.path not in aliases:
        return None
    target = aliases[ref.path]
    try:
        alias = parse(target)
    except ReferenceError_ as exc:
        raise ReferenceError_(f"short-name alias {ref.path!r} = {target!r}: {exc}") from None
    if not alias.qualified:
        raise ReferenceError_(f"short-name alias {ref.path!r} = {target!r}: the alias must name a registry")
    if ref.digest and alias.digest and ref.digest != alias.digest:
        raise ReferenceError_(f"{ref}: the digest does not match {alias.digest}, which short-name alias "
                              f"{ref.path!r} pins")
    if ref.tag is None and ref.digest is None:
        return alias.with_default_tag()
    return Reference(alias.domain, alias.path, ref.tag, ref.digest or alias.digest)


def pull_candidates(name: str, names: ShortNames) -> list[Reference]:
    """The fully qualified references to try pulling for name, in order: itself, its alias, or each search registry.

    Raises ReferenceError_ for a malformed name, and for a short name when
    there is neither an alias nor a search registry.
    """
    ref = parse(name)
    if ref.qualified:
        return [ref.with_default_tag()]
    alias = apply_alias(ref, names.aliases)
    if alias is not None:
        return [alias]
    if not names.search:
        raise ReferenceError_(f"short-name {name!r} did not resolve: no unqualified-search-registries are "
                              "configured in registries.conf")
    return [ref.with_domain(reg).with_default_tag() for reg in names.search]


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


def candidates(name: str, names: ShortNames) -> list[str]:
    """Fully qualified names to look for locally for `name`, in podman's order.

    localhost/ first (images made here), then the alias, then each search registry.
    """
    given = parse(name)
    ref = given.with_default_tag()
    if ref.qualified:
        return [str(ref)]
    out = [str(ref.with_domain(LOCAL_REGISTRY))]
    alias = apply_alias(given, names.aliases)
    if alias is not None:
        out.append(str(alias))
    for reg in names.search:
        cand = str(ref.with_domain(reg))
        if cand not in out:
            out.append(cand)
    return out


def split_repo_tag(name: str) -> tuple[str, str]:
    """`docker.io/library/busybox:1.36` -> (`docker.io/library/busybox`, `1.36`); `<none>` when absent."""
    ref = parse(name)
    return ref.repository, ref.tag or ("<none>" if not ref.digest else "<none>")
