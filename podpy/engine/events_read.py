"""`events`: read (and follow) the event log, filtered, in podman's shapes."""

from __future__ import annotations

import json
import os
import time

from ..errors import InvalidArgument
from ..events import path
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

_FILTERS = ("type", "event", "status", "container", "image", "volume", "label")


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in _FILTERS:
            raise InvalidArgument(f"invalid filter {item!r}: use {', '.join(k + '=' for k in _FILTERS)}")
        out.setdefault("event" if key == "status" else key, []).append(value)
    return out


def _match(e: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "type" and e.get("Type") not in values:
            return False
        if key == "event" and e.get("Status") not in values:
            return False
        if key in ("container", "image", "volume"):
            if e.get("Type") != key:
                return False
            if not any(v in (e.get("Name"), e.get("ID")) or str(e.get("ID", "")).startswith(v) for v in values):
                return False
    return True


def events(rt: Runtime, since: Optional[float], until: Optional[float], filters: dict[str, list[str]],
           stream: bool) -> Iterator[dict[str, Any]]:
    """Events in order; with stream, new ones as they come (until `until`, or forever). A
    stream without `since` starts with the events written from now on, as podman's does
    (the history is for --since or --stream=false)."""
    file = path(rt.cfg.runroot)
    pos, rest = 0, b""
    if stream and since is None:
        try:
            pos = os.stat(file).st_size
        except FileNotFoundError:
            pass
    while True:
        try:
            with open(file, "rb") as f:
                f.seek(pos)
                data = f.read()
                pos = f.tell()
        except FileNotFoundError:
            data = b""
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            t = e.get("Time", 0) / 1e9
            if since is not None and t < since:
                continue
            if until is not None and t > until:
                return
            if _match(e, filters):
                yield e
        if not stream or (until is not None and time.time() > until):
            return
        time.sleep(0.2)


def report(e: dict[str, Any]) -> dict[str, Any]:
    """podman's fields for --format."""
    from ..formats import rfc3339

    t = e.get("Time", 0) / 1e9
    return {**e, "time": int(t), "timeNano": e.get("Time", 0), "Time": rfc3339(t), "Status": e.get("Status"),
            "Type": e.get("Type"), "ID": e.get("ID"), "Name": e.get("Name"), "Image": e.get("Image"),
            "Attributes": e.get("Attributes") or {}}
