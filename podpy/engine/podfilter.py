"""`pod ps`'s filters and sort orders, over the pod engine's list entries (the CLI's and the
libpod API's `pods/json` apply the same ones)."""

from __future__ import annotations

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FILTERS = ("ctr-ids", "ctr-names", "ctr-number", "ctr-status", "id", "label", "name", "network", "status", "until")
SORTS = {"created": lambda p: -p["Created"], "id": lambda p: p["Id"], "name": lambda p: p["Name"],
         "number": lambda p: len(p["Containers"]), "status": lambda p: p["Status"]}


def parse(filters: list[str]) -> dict[str, list[str]]:
    """KEY=VALUE words, by key; an unknown key or a word without = is refused."""
    by_key: dict[str, list[str]] = {}
    for f in filters:
        key, eq, value = f.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid filter {f!r}: it must be KEY=VALUE")
        if key not in FILTERS:
            raise InvalidArgument(f"{key} is an invalid filter")
        by_key.setdefault(key, []).append(value)
    return by_key


def matches(pod: dict[str, Any], key: str, value: str) -> bool:
    import fnmatch
    import re

    ctrs = pod["Containers"]
    if key == "id":
        return pod["Id"].startswith(value)
    if key == "name":
        return re.search(value, pod["Name"]) is not None
    if key == "label":
        k, eq, v = value.partition("=")
        return k in pod["Labels"] and (not eq or pod["Labels"][k] == v)
    if key == "status":
        return pod["Status"].lower() == value.lower()
    if key == "ctr-names":
        return any(fnmatch.fnmatchcase(c["Names"], value) or c["Names"] == value for c in ctrs)
    if key == "ctr-ids":
        return any(c["Id"].startswith(value) for c in ctrs)
    if key == "ctr-status":
        return any(c["Status"] == value for c in ctrs)
    if key == "ctr-number":
        return str(len(ctrs)) == value
    if key == "network":
        return value in pod["Networks"]
    if key == "until":
        from ..formats import parse_time

        return pod["Created"] < parse_time(value, "--filter until")
    return False


def select(pods: list[dict[str, Any]], filters: list[str]) -> list[dict[str, Any]]:
    """The entries every filter key matches (one of its values, for a key given more than once)."""
    by_key = parse(filters)
    return [p for p in pods if all(any(matches(p, key, v) for v in values) for key, values in by_key.items())]
