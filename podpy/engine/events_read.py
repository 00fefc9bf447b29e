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
        if key == "label":
            # KEY or KEY=VALUE among a container's labels (its event's attributes); another
            # kind of object has none
            attributes = e.get("Attributes") or {}
            if not any((k in attributes) if not eq else (attributes.get(k) == v)
                       for k, eq, v in (value.partition("=") for value in values)):
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
    stream without `since` or `until` starts with the events written from now on, as
    podman's does (the history is for --since, --until or --stream=false)."""
    file = path(rt.cfg.runroot)
    pos, rest = 0, b""
    if stream and since is None and until is None:
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
    """An event as podman's JSON has it: the exit code of a died container on its own, the
    empty fields left out, the time as RFC 3339 with nanoseconds in the local zone, and the
    attributes (null for events of other objects than containers)."""
    attributes = dict(e.get("Attributes") or {})
    code = attributes.pop("containerExitCode", None)
    doc: dict[str, Any] = {}
    if code:
        doc["ContainerExitCode"] = code
    kind = e.get("Type")
    for key in ("ID", "Image", "Name"):
        if e.get(key) and not (key == "ID" and kind == "volume"):   # a volume's event names it only
            doc[key] = e[key]
    if kind == "network" and e.get("Name"):
        doc["Network"] = e["Name"]
    doc.update({"Status": e.get("Status"), "Time": rfc3339_nano(int(e.get("Time", 0))), "Type": kind,
                "Attributes": attributes if attributes or kind == "container" else None})
    return doc


def rfc3339_nano(ns: int) -> str:
    """Go's time.RFC3339Nano in the local zone: trailing zeros of the fraction dropped, Z for UTC."""
    import datetime as dt

    seconds, frac = divmod(ns, 1_000_000_000)
    local = dt.datetime.fromtimestamp(seconds).astimezone()
    offset = local.strftime("%z")
    zone = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
    fraction = f".{frac:09d}".rstrip("0").rstrip(".")
    return local.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone
