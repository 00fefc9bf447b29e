"""The shapes of image documents (config, OCI index and manifest, docker-archive manifest.json).

podman decodes these documents into Go structs: a known field of the wrong JSON type ("config":
"x", "Labels": [1], "history": "x") stops the load or pull, while null, unknown fields and a
missing field are fine. `check` says the same here, once, before anything is stored, in Go's
words ("cannot unmarshal string into field config.Labels of type map[string]string").

A store written before these checks may hold a config of the wrong shape: `readable` gives the
view every reader of a stored config gets (Image.config), with each ill-typed field dropped and
each null list item made its zero value, so one bad image cannot break listing the others.

A schema is one of: a type name ("string", "int", "bool", "time", "struct" - any object), a
one-item tuple (T,) for a list of T, a dict {"": T} for a map of string to T, or a dict of
field -> schema for an object.
"""

from __future__ import annotations

from .errors import StorageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_STRINGS = ("string",)

_HEALTHCHECK = {"Test": _STRINGS, "Interval": "int", "Timeout": "int", "StartPeriod": "int",
                "StartInterval": "int", "Retries": "int"}

_CONTAINER_CONFIG = {
    "Hostname": "string", "Domainname": "string", "User": "string", "AttachStdin": "bool",
    "AttachStdout": "bool", "AttachStderr": "bool", "ExposedPorts": {"": "struct"}, "Tty": "bool",
    "OpenStdin": "bool", "StdinOnce": "bool", "Env": _STRINGS, "Cmd": _STRINGS, "Healthcheck": _HEALTHCHECK,
    "ArgsEscaped": "bool", "Image": "string", "Volumes": {"": "struct"}, "WorkingDir": "string",
    "Entrypoint": _STRINGS, "NetworkDisabled": "bool", "MacAddress": "string", "OnBuild": _STRINGS,
    "Labels": {"": "string"}, "StopSignal": "string", "StopTimeout": "int", "Shell": _STRINGS,
}

IMAGE_CONFIG = {
    "id": "string", "parent": "string", "comment": "string", "created": "time", "container": "string",
    "container_config": _CONTAINER_CONFIG, "docker_version": "string", "author": "string",
    "config": _CONTAINER_CONFIG, "architecture": "string", "variant": "string", "os": "string",
    "os.version": "string", "os.features": _STRINGS, "size": "int",
    "rootfs": {"type": "string", "diff_ids": _STRINGS},
    "history": ({"created": "time", "author": "string", "created_by": "string", "comment": "string",
                 "empty_layer": "bool"},),
}

_DESCRIPTOR = {"mediaType": "string", "digest": "string", "size": "int", "urls": _STRINGS,
               "annotations": {"": "string"}, "platform": "struct"}

OCI_INDEX = {"schemaVersion": "int", "mediaType": "string", "manifests": (_DESCRIPTOR,),
             "annotations": {"": "string"}}

OCI_MANIFEST = {"schemaVersion": "int", "mediaType": "string", "config": _DESCRIPTOR,
                "layers": (_DESCRIPTOR,), "annotations": {"": "string"}}

ARCHIVE_MANIFEST = ({"Config": "string", "RepoTags": _STRINGS, "Layers": _STRINGS},)

# Go's name for each JSON type, and for each schema type, in its messages.
_JSON_NAMES = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}


class ShapeError(StorageError):
    """A document with a known field of the wrong type."""


def _go_type(schema: Any) -> str:
    if isinstance(schema, tuple):
        return "[]" + _go_type(schema[0])
    if isinstance(schema, dict):
        return "map[string]" + _go_type(schema[""]) if "" in schema else "object"
    return {"struct": "struct {}", "time": "time.Time"}.get(schema, schema)


def _fits(value: Any, schema: Any) -> bool:
    """Whether value (not None) has the JSON type schema asks for (its items not looked at)."""
    if isinstance(schema, tuple):
        return isinstance(value, list)
    if isinstance(schema, dict) or schema == "struct":
        return isinstance(value, dict)
    if schema in ("string", "time"):
        return isinstance(value, str)
    if schema == "bool":
        return isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool)   # int: 1.5 and true are not


def _digits(text: str) -> bool:
    return bool(text) and all(c in "0123456789" for c in text)


def _time_ok(text: str) -> bool:
    """RFC 3339, as Go's time.Time decodes it: 2024-01-01T00:00:00Z, with a fraction or an offset.
    (Without the re module: every read of a stored image comes here, on the way of every `run`,
    and importing re costs some 4 ms.)"""
    if len(text) < 20 or (text[4], text[7], text[10], text[13], text[16]) != ("-", "-", "T", ":", ":"):
        return False
    if not _digits(text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]):
        return False
    rest = text[19:]
    if rest.startswith("."):
        end = 1
        while end < len(rest) and rest[end] in "0123456789":
            end += 1
        if end == 1:
            return False
        rest = rest[end:]
    if rest == "Z":
        return True
    return len(rest) == 6 and rest[0] in "+-" and _digits(rest[1:3]) and rest[3] == ":" and _digits(rest[4:6])


def _zero(schema: Any) -> Any:
    """Go's zero value of a type: what a null list item decodes to."""
    if isinstance(schema, tuple):
        return []
    if isinstance(schema, dict) or schema == "struct":
        return {}
    return {"int": 0, "bool": False}.get(schema, "")


def _walk(value: Any, schema: Any, where: str, fix: bool) -> Any:
    """value checked against schema (fix: cleaned instead, None for a value to leave out; see
    readable). value is not None. The walk goes only as deep as the schema does."""
    if not _fits(value, schema) or (schema == "time" and not _time_ok(value)):
        if fix:
            return None
        if schema == "time" and isinstance(value, str):
            raise ShapeError(f'parsing time "{value[:40]}" in field {where}: not an RFC 3339 time')
        got = _JSON_NAMES.get(type(value), "value")
        field = f"field {where}" if where else "the document"
        raise ShapeError(f"cannot unmarshal {got} into {field} of type {_go_type(schema)}")
    if isinstance(schema, tuple):
        item = schema[0]
        if item == "string" and all(type(v) is str for v in value):
            return value   # the common case (Env, Cmd, diff_ids), whatever its length
        out = []
        for i, v in enumerate(value):
            if v is not None:
                v = _walk(v, item, f"{where}[{i}]", fix)
            out.append(_zero(item) if v is None else v)
        return out
    if isinstance(schema, dict):
        out_map: dict[str, Any] = {}
        for k, v in value.items():
            sub = schema.get("", schema.get(k))
            if sub is None or v is None:
                if v is not None or not fix:
                    out_map[k] = v   # a field no reader knows, or a null one: as it is
                continue
            v = _walk(v, sub, f"{where}.{k}" if where else k, fix)
            if v is not None:
                out_map[k] = v
        return out_map
    return value


def check(doc: Any, schema: Any, what: str) -> Any:
    """doc, when every field it has that schema knows has the type schema gives (null is fine);
    else ShapeError "<what>: cannot unmarshal ...". doc itself must not be null."""
    if doc is None:
        raise ShapeError(f"{what}: cannot unmarshal null into the document of type {_go_type(schema)}")
    try:
        _walk(doc, schema, "", False)
    except ShapeError as exc:
        raise ShapeError(f"{what}: {exc}") from None
    return doc


def readable(doc: Any, schema: Any = None) -> dict[str, Any]:
    """A stored image config as its readers take it: fields of the wrong type and null fields
    left out, null list items their zero value; {} for a config that is no object."""
    if not isinstance(doc, dict):
        return {}
    cleaned = _walk(doc, IMAGE_CONFIG if schema is None else schema, "", True)
    return cleaned if isinstance(cleaned, dict) else {}


def loads(raw: Any, what: str) -> Any:
    """JSON bytes decoded, or ShapeError "<what>: ..." on one line (too deep a nesting too)."""
    from . import fastjson as json

    try:
        return json.loads(raw)
    except RecursionError:
        raise ShapeError(f"{what}: exceeded max depth") from None
    except ValueError as exc:
        raise ShapeError(f"{what}: {exc}") from None


def image_config(raw: bytes, what: str = "invalid image config") -> dict[str, Any]:
    """An image config's bytes decoded and checked (IMAGE_CONFIG): the one gate each image
    passes before it is stored, however it came (load, pull, import, commit, build)."""
    doc = loads(raw, what)
    if not isinstance(doc, dict):
        raise ShapeError(f"{what}: cannot unmarshal {_JSON_NAMES.get(type(doc), 'null')} into the document "
                         "of type object")
    return check(doc, IMAGE_CONFIG, what)
