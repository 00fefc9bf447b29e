"""Image names: parsing, validation, normalisation and short-name resolution, as podman does them.

`busybox` means `docker.io/library/busybox:latest` when pulled; a name given to
an image made here (import, tag, commit) without a registry gets `localhost/`.
Short names resolve through plain data (ShortNames: search registries and
aliases) that the caller read from registries.conf; this module reads no file.
"""

from __future__ import annotations

from .errors import ReferenceError_
from .named import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

DEFAULT_REGISTRY = "docker.io"
LOCAL_REGISTRY = "localhost"
DEFAULT_TAG = "latest"

# The grammar below is distribution/reference's, checked by hand rather than with `re`:
# importing `re` (and the `enum` it pulls in) costs milliseconds on every `podpy run`.
_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_ALNUM = _LOWER_ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_HEX = "0123456789abcdef"
_ANY_HEX = _HEX + "ABCDEF"


def _only(text: str, chars: str) -> bool:
    """Whether every character of text is one of chars (true for an empty text)."""
    return not text.strip(chars)


def _alnum_runs(text: str, separators: tuple[str, ...], dashes: bool) -> bool:
    """text is runs of [a-z0-9] joined by one of separators (or, with dashes, by any run of `-`)."""
    n = len(text)
    i = 0
    while True:
        j = i
        while j < n and text[j] in _LOWER_ALNUM:
            j += 1
        if j == i:
            return False
        if j == n:
            return True
        k = j
        while k < n and text[k] not in _LOWER_ALNUM:
            k += 1
        sep = text[j:k]
        if sep not in separators and not (dashes and _only(sep, "-")):
            return False
        i = k


def valid_component(text: str) -> bool:
    """A path component: `[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*`: lowercase letters and digits, joined by
    one `.`, one or two `_`, or any number of `-`."""
    return _alnum_runs(text, (".", "_", "__"), True)


def valid_tag(text: str) -> bool:
    r"""A tag: `\w[\w.-]{0,127}`, where \w is a Unicode letter, digit or `_` (as `re` has it for str)."""
    if not 0 < len(text) <= 128:
        return False
    if not (text[0] == "_" or text[0].isalnum()):
        return False
    return all(c.isalnum() or c in "_.-" for c in text)


def valid_digest(text: str) -> bool:
    """A digest: `[a-z0-9]+([.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}`."""
    algorithm, colon, encoded = text.partition(":")
    return (bool(colon) and len(encoded) >= 32 and _only(encoded, _ANY_HEX)
            and _alnum_runs(algorithm, (".", "+", "_", "-"), False))


def _label(text: str) -> bool:
    """`[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`"""
    return (bool(text) and text[0] != "-" and text[-1] != "-" and _only(text, _ALNUM + "-"))


def valid_domain(text: str) -> bool:
    """A registry: dot-separated host labels or a bracketed IPv6 address (`[::1]`), with an optional `:port`."""
    if text.startswith("["):
        close = text.find("]")
        if close < 2 or not _only(text[1:close], _ANY_HEX + ":"):
            return False
        host, port = "", text[close + 1:]
        if port and port[0] != ":":
            return False
        port = port[1:]
        has_port = bool(text[close + 1:])
    else:
        host, colon, port = text.partition(":")
        has_port = bool(colon)
        if not all(_label(label) for label in host.split(".")):
            return False
    return not has_port or (bool(port) and _only(port, _DIGITS))


def is_hex_id(text: str) -> bool:
    """Whether text is an id or id prefix: `(sha256:)?[0-9a-f]{1,64}`."""
    hexpart = text[7:] if text.startswith("sha256:") else text
    return 0 < len(hexpart) <= 64 and _only(hexpart, _HEX)




class Reference(NamedTuple):
    """A parsed image name. `domain` is empty when the user gave none; `tag` and `digest` may be None.

    A named tuple, not a dataclass: it is built on the path of every `podpy run`.
    """

    __slots__ = ()
    domain: str
    path: str
    tag: Optional[str] = None
    digest: Optional[str] = None

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
        if not valid_digest(digest):
            raise ReferenceError_(f"invalid reference format: bad digest in {name!r}")
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not valid_tag(tag):
            raise ReferenceError_(f"invalid reference format: bad tag {tag!r} in {name!r}")
    domain = ""
    parts = rest.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"
                           or parts[0] != parts[0].lower()):
        domain = parts[0]
        if not valid_domain(domain):
            raise ReferenceError_(f"invalid reference format: bad registry {domain!r} in {name!r}")
        parts = parts[1:]
    for comp in parts:
        if not valid_component(comp):
            if comp != comp.lower():
                raise ReferenceError_(f"invalid reference format: repository name must be lowercase: {name!r}")
            raise ReferenceError_(f"invalid reference format: {name!r}")
    path = "/".join(parts)
    if len(path) > 255:
        raise ReferenceError_(f"invalid reference format: repository name too long: {name!r}")
    return Reference(domain, path, tag, digest)


class ShortNames(NamedTuple):
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
    return str(ref.with_domain(ref.domain).with_default_tag())   # docker.io/x: docker.io/library/x


def normalize_pull(name: str) -> str:
    """The name podman pulls for `name` with the default registry: `x` -> `docker.io/library/x:latest`."""
    ref = parse(name)
    return str(ref.with_domain(ref.domain or DEFAULT_REGISTRY).with_default_tag())


def candidates(name: str, names: ShortNames) -> list[str]:
    """Fully qualified names to look for locally for `name`, in podman's order.

    localhost/ first (images made here), then the alias, then each search registry.
    """
    given = parse(name)
    ref = given.with_default_tag()
    if ref.qualified:
        return [str(ref.with_domain(ref.domain))]   # docker.io/x: docker.io/library/x
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
