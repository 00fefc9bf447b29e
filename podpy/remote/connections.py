"""`system connection`'s store: the service destinations in podpy's containers.conf.

As podman 4.3.1 keeps them, in podpy's own configuration directory (a host with podman
keeps two sets):

    [engine]
    active_service = "NAME"                    # the default connection
    [engine.service_destinations.NAME]
    uri = "ssh://user@host:22/run/user/1000/podpy/podpy.sock"
    identity = "/home/user/.ssh/id_ed25519"    # only when given

The file may hold the user's other settings, which a change keeps as they are written: the
destinations' tables and the active_service line are taken out of the text and written anew
(Python has no TOML writer), the result is parsed again to check it says what was meant,
and it replaces the file atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import os
import re

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

TABLE = "engine.service_destinations"
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[")
_ACTIVE = re.compile(r"^\s*active_service\s*=")


class Destination:
    """One connection: its name, URI, ssh identity file ("" for none), whether it is the default."""

    __slots__ = ("name", "uri", "identity", "default")

    def __init__(self, name: str, uri: str, identity: str = "", default: bool = False) -> None:
        self.name, self.uri, self.identity, self.default = name, uri, identity, default

    def document(self) -> dict[str, Any]:
        """`system connection ls --format json`'s entry (podman 4.3.1's fields)."""
        return {"Name": self.name, "URI": self.uri, "Identity": self.identity, "IsMachine": False,
                "Default": self.default}

    def __repr__(self) -> str:
        return f"Destination({self.name!r}, {self.uri!r}, {self.identity!r}, {self.default!r})"


def conf_path() -> str:
    from ..config import config_dir

    return os.path.join(config_dir(), "containers.conf")


def load(path: Optional[str] = None) -> tuple[str, list[Destination]]:
    """(the active service's name or "", the destinations sorted by name)."""
    from .. import tomlfile

    path = path or conf_path()
    data = tomlfile.read(path) or {}
    engine = tomlfile.table(data, "engine", path)
    active = tomlfile.string(engine, "active_service", path, "engine") or ""
    table = tomlfile.table(engine, "service_destinations", path, "engine")
    out = []
    for name in sorted(table):
        entry = tomlfile.table(table, name, path, TABLE)
        out.append(Destination(name, tomlfile.string(entry, "uri", path, f"{TABLE}.{name}") or "",
                               tomlfile.string(entry, "identity", path, f"{TABLE}.{name}") or "",
                               name == active))
    return active, out


def find(name: str, path: Optional[str] = None) -> Destination:
    for dest in load(path)[1]:
        if dest.name == name:
            return dest
    raise InvalidArgument(f'"{name}" destination is not defined. See "podpy system connection add ..." '
                          "to create a connection")


def _quote(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, for what a name, URI or path holds)."""
    return json.dumps(text, ensure_ascii=False)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _quote(name)


def render(text: str, active: str, dests: list[Destination]) -> str:
    """text (a containers.conf) with its destinations and active service replaced by these."""
    lines = text.splitlines()
    out: list[str] = []
    table = ""
    engine_at = -1
    for line in lines:
        m = _HEADER.match(line)
        if m and not _ARRAY_HEADER.match(line):
            table = re.sub(r"\s*\.\s*", ".", m.group(1)).replace('"', "")
            if table == TABLE or table.startswith(TABLE + "."):
                continue
            if table == "engine":
                engine_at = len(out)
        elif _ARRAY_HEADER.match(line):
            table = "[]"
        elif table == TABLE or table.startswith(TABLE + "."):
            continue
        elif table == "engine" and (_ACTIVE.match(line) or re.match(r"^\s*service_destinations\s*[.=]", line)):
            continue
        out.append(line)
    # what the removed tables leave is no more than one blank line at a time
    out = [line for i, line in enumerate(out) if line.strip() or (i and out[i - 1].strip())]
    while out and not out[-1].strip():
        out.pop()
    if active:
        line = f"active_service = {_quote(active)}"
        if engine_at >= 0:
            out.insert(engine_at + 1, line)
        else:
            out += ["", "[engine]", line]
    if dests:
        out += ["", f"[{TABLE}]"]
    for dest in dests:
        out.append(f"[{TABLE}.{_key(dest.name)}]")
        out.append(f"uri = {_quote(dest.uri)}")
        if dest.identity:
            out.append(f"identity = {_quote(dest.identity)}")
    return "\n".join(out).strip("\n") + "\n"


def save(active: str, dests: list[Destination], path: Optional[str] = None) -> None:
    """Write the destinations and the active service into containers.conf (atomically),
    keeping the rest of the file."""
    import tomllib

    from storage.fsutil import atomic_file

    path = path or conf_path()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise InvalidArgument(f"{path}: {exc.strerror or exc}") from None
    new = render(text, active, dests)
    try:
        written = tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"{path}: cannot record the connections in this file: {exc}") from None
    got = ((written.get("engine") or {}).get("service_destinations") or {})
    if sorted(got) != sorted(d.name for d in dests) or (written.get("engine") or {}).get("active_service",
                                                                                            "") != active:
        raise InvalidArgument(f"{path}: cannot record the connections in this file: its [engine] table is "
                              "written in a way podpy cannot edit")
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o600
    with atomic_file(path, mode) as f:
        f.write(new.encode("utf-8"))


# -- the verbs ---------------------------------------------------------------------------------

def add(name: str, uri: str, identity: str = "", default: bool = False, path: Optional[str] = None) -> None:
    """A new destination (one of that name is replaced, as podman's add does); the first one, or
    one added with default, becomes the default."""
    if not name:
        raise InvalidArgument("a connection needs a name")
    active, dests = load(path)
    dests = [d for d in dests if d.name != name] + [Destination(name, uri, identity)]
    if default or not active:
        active = name
    save(active, sorted(dests, key=lambda d: d.name), path)


def remove(name: str, path: Optional[str] = None) -> None:
    """The destination goes (a name that is none is no error, as in podman); when it was the
    default, there is no default any more."""
    active, dests = load(path)
    if all(d.name != name for d in dests):
        return
    save("" if active == name else active, [d for d in dests if d.name != name], path)


def remove_all(path: Optional[str] = None) -> None:
    save("", [], path)


def set_default(name: str, path: Optional[str] = None) -> None:
    find(name, path)
    _active, dests = load(path)
    save(name, dests, path)


def rename(old: str, new: str, path: Optional[str] = None) -> None:
    dest = find(old, path)
    active, dests = load(path)
    if any(d.name == new for d in dests) and new != old:
        raise InvalidArgument(f'"{new}" destination already exists')
    dests = [d for d in dests if d.name != old] + [Destination(new, dest.uri, dest.identity)]
    save(new if active == old else active, sorted(dests, key=lambda d: d.name), path)
