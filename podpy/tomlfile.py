"""Reading TOML configuration files (storage.conf, containers.conf, registries.conf): one reader.

A file that is absent reads as None. A file that exists but cannot be read, is
not UTF-8 or is not valid TOML stops the command with InvalidArgument: one line
naming the file and what is wrong with it (podman refuses all three files when
they are broken, too). table(), tables(), string() and strings() fetch a key of
the type the caller needs, with the same kind of line when the file gives another
type (`[storage]` written as `storage = 3`), instead of failing later on the value.

tomllib is imported only when there is a file to parse (about 8 ms on top of
what podpy imports anyway, 15-20 ms alone): `podpy run` usually finds no
storage.conf or containers.conf, and reads registries.conf's answer from its
cache (podpy/registry/conf.py).
"""

from __future__ import annotations

from .errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

# TOML's names for what tomllib returns, for the messages
_TYPES = {"str": "a string", "int": "an integer", "float": "a float", "bool": "a boolean", "list": "an array",
          "dict": "a table", "datetime": "a date-time", "date": "a date", "time": "a time"}


def read(path: str) -> Optional[dict[str, Any]]:
    """The file's top-level table, or None when there is no such file."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InvalidArgument(f"{path}: {exc.strerror or exc}") from exc
    import tomllib

    try:
        return tomllib.loads(raw.decode())
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"{path}: {exc}") from exc


def table(data: dict[str, Any], key: str, path: str, within: str = "") -> dict[str, Any]:
    """data[key] when it is a table, {} when it is absent. within: the keys above, for the message."""
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _wrong(path, key, within, "a table", value)
    return value


def tables(data: dict[str, Any], key: str, path: str, within: str = "") -> list[dict[str, Any]]:
    """data[key] when it is an array of tables (`[[key]]`), [] when it is absent."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _wrong(path, key, within, "an array of tables", value)
    return value


def string(data: dict[str, Any], key: str, path: str, within: str = "") -> Optional[str]:
    """data[key] when it is a string, None when it is absent."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong(path, key, within, "a string", value)
    return value


def strings(data: dict[str, Any], key: str, path: str, within: str = "") -> Optional[list[str]]:
    """data[key] when it is an array of strings, None when it is absent."""
    value = data.get(key)
    if value is not None and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        raise _wrong(path, key, within, "an array of strings", value)
    return value


def _wrong(path: str, key: str, within: str, wanted: str, value: object) -> InvalidArgument:
    name = f"{within}.{key}" if within else key
    found = _TYPES.get(type(value).__name__, type(value).__name__)
    if isinstance(value, list) and wanted.startswith("an array of"):
        found = "an array of other values"
    return InvalidArgument(f"{path}: {name} must be {wanted}, not {found}")
