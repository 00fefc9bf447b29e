"""`images --filter` and `image prune --filter`: podman 4.3.1's image filters.

Every filter must match, with one exception: the `reference` values are alternatives (an
image matches when any of its names matches any of them). A true-or-false key (dangling,
intermediate, readonly, manifest) given twice must say the same thing twice.
"""

from __future__ import annotations

import re

from storage.images import Image

from ..errors import InvalidArgument, PodpyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    Match = Callable[[Image], bool]

KEYS = ("after", "before", "since", "containers", "dangling", "id", "intermediate", "label", "label!", "manifest",
        "readonly", "reference", "until")
_BOOLS = ("dangling", "intermediate", "manifest", "readonly")
_TRUE, _FALSE = ("1", "t", "T", "TRUE", "true", "True"), ("0", "f", "F", "FALSE", "false", "False")


def parse(filters: list[str]) -> list[tuple[str, str]]:
    """KEY=VALUE words -> (key, value) pairs, unknown keys refused as podman refuses them."""
    pairs = []
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise InvalidArgument(f'invalid image filter "{f}": must be in the format "filter=value or '
                                  f'filter!=value"')
        if key not in KEYS:
            raise InvalidArgument(f'unsupported image filter "{key}"')
        pairs.append((key, value))
    return pairs


def matcher(images: list[Image], pairs: list[tuple[str, str]], used: dict[str, int],
            parent_of: dict[str, str], lookup: Callable[[str], Image]) -> Match:
    """One predicate for all the filters over these images (the store's), with `used` the
    number of containers of each image id, `parent_of` each built image's parent (the
    images' parents()) and `lookup` the store's lookup of a name."""
    from .reports import created_time

    tests: list[Match] = []
    bools: dict[str, bool] = {}
    references = []
    with_children = set(parent_of.values())
    middle = {i.id for i in images if not i.names and i.id in with_children}
    for key, value in pairs:
        if key in _BOOLS:
            if value not in _TRUE + _FALSE:
                raise InvalidArgument(f'non-boolean value "{key}" for {value} filter: strconv.ParseBool: '
                                      f'parsing "{value}": invalid syntax')
            want = value in _TRUE
            if bools.setdefault(key, want) != want:
                raise InvalidArgument(f'specifying "{key}" filter more than once with different values is not '
                                      f'supported')
        elif key == "reference":
            references.append(value)
        elif key in ("after", "before", "since"):
            when = created_time(_lookup(lookup, key, value))
            if key == "before":
                tests.append(lambda i, t=when: created_time(i) < t)
            else:
                tests.append(lambda i, t=when: created_time(i) > t)
        elif key == "until":
            from .psfilter import parse_until

            until = parse_until(value)
            tests.append(lambda i, t=until: created_time(i) < t)
        elif key == "containers":
            if value not in ("true", "false"):
                raise InvalidArgument(f'unsupported value "{value}" for containers filter')
            tests.append(lambda i, v=value == "true": (used.get(i.id, 0) > 0) == v)
        elif key == "id":
            tests.append(lambda i, v=value: i.id == v)
        elif key in ("label", "label!"):
            k, eq, v = value.partition("=")

            def has(i: Image, k: str = k, eq: str = eq, v: str = v) -> bool:
                labels = (i.config.get("config") or {}).get("Labels") or {}
                return k in labels and (not eq or labels[k] == v)
            tests.append(has if key == "label" else (lambda i, has=has: not has(i)))
    for key, want in bools.items():
        if key == "dangling":
            tests.append(lambda i, w=want: (not i.names and i.id not in with_children) == w)
        elif key == "intermediate":
            tests.append(lambda i, w=want: (i.id in middle) == w)
        else:   # podpy has no read-only stores and no manifest lists
            tests.append(lambda i, w=want: not w)
    if references:
        tests.append(lambda i: any(_reference_matches(p, n) for p in references for n in i.names))
    return lambda image: all(t(image) for t in tests)


def _lookup(lookup: Callable[[str], Image], key: str, value: str) -> Image:
    try:
        return lookup(value)
    except PodpyError:
        raise InvalidArgument(f'could not find local image for filter filter "{key}"="{value}": '
                              f'{value}: image not known') from None


def names_matching(patterns: list[str], names: list[str]) -> list[str]:
    """Those of an image's names (NAME:TAG or NAME@DIGEST) that one of the `reference` filter's
    patterns matches (a digest's name by its repository): Docker's image list shows only
    those of a matched image."""
    return [n for n in names if any(_reference_matches(p, n.partition("@")[0]) for p in patterns)]


def _reference_matches(pattern: str, name: str) -> bool:
    """A shell pattern (`*` within one path component) against a name and its shorter forms:
    with and without the registry, the path and the tag."""
    repo, _, tag = name.rpartition(":") if "@" not in name else (name, "", "")
    if "/" in tag:   # a registry's port, no tag
        repo, tag = name, ""
    first, slash, rest = repo.partition("/")
    path = rest if slash and ("." in first or ":" in first or first == "localhost") else repo
    suffix = f":{tag}" if tag else ""
    candidates = {name, path, name.rsplit("/", 1)[-1], repo, path + suffix, repo.rsplit("/", 1)[-1]}
    rx = _pattern(pattern)
    return rx is not None and any(rx.fullmatch(c) for c in candidates)


def _pattern(pattern: str) -> "re.Pattern[str] | None":
    """Go's path.Match as a regular expression (None for a malformed pattern)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("^", "!") else i + 1)
            if end < 0:
                return None
            body = pattern[i + 1:end]
            if body[:1] in ("^", "!"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return None
