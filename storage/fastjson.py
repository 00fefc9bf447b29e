"""JSON through the interpreter's own C accelerator, without the `json` package.

`import json` brings in `re` and with it `enum`: some 4 ms of every podpy command on a
small machine, more than reading and writing the JSON a command handles. The functions
here call the same C scanner and encoder that `json.loads` and `json.dumps` use, so they
give the same results for the arguments they take; anything else (indent, a BOM, input that
is not JSON, so that its error is json's own) goes to the `json` package.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any, Callable, Optional

try:
    import _json
except ImportError:  # pragma: no cover - an interpreter built without the accelerator
    _json = None  # type: ignore[assignment]

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Decoding:
    """What the C scanner reads from json.JSONDecoder: the defaults of json.loads."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    def __init__(self) -> None:
        self.parse_constant = _CONSTANTS.__getitem__


_scan = _json.make_scanner(_Decoding()) if _json is not None else None


def _package() -> Any:
    import json

    return json


def __getattr__(name: str) -> Any:
    """`JSONDecodeError` and the rest of the json package, imported when first named (an
    `except fastjson.JSONDecodeError` names it only when an exception reaches it)."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(_package(), name)


def loads(text: str | bytes | bytearray) -> Any:
    """json.loads(text)."""
    if isinstance(text, (bytes, bytearray)):
        if text[:2] in (b"\xff\xfe", b"\xfe\xff") or text[:3] == b"\xef\xbb\xbf" or (
                len(text) >= 2 and (not text[0] or not text[1])):
            return _package().loads(text)   # a BOM, UTF-16 or UTF-32: json detects the encoding
        text = text.decode("utf-8", "surrogatepass")
    if _scan is None or text[:1] == "\ufeff":
        return _package().loads(text)
    n = len(text)
    start = 0
    while start < n and text[start] in _WHITESPACE:
        start += 1
    try:
        value, end = _scan(text, start)
    except (StopIteration, SystemError):
        # Not JSON: json raises its own error. (The C scanner takes JSONDecodeError from
        # json.decoder only when that module is already imported; before, it fails with a
        # SystemError instead.)
        return _package().loads(text)
    while end < n and text[end] in _WHITESPACE:
        end += 1
    if end != n:
        return _package().loads(text)   # raises json's "Extra data"
    return value


def load(f: IO[Any]) -> Any:
    """json.load(f)."""
    return loads(f.read())


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def dumps(value: Any, *, sort_keys: bool = False, separators: Optional[tuple[str, str]] = None,
          ensure_ascii: bool = True, default: Optional[Callable[[Any], Any]] = None,
          indent: Optional[int | str] = None) -> str:
    """json.dumps(value, ...) for these keyword arguments."""
    if _json is None or indent is not None:
        return _package().dumps(value, sort_keys=sort_keys, separators=separators, ensure_ascii=ensure_ascii,
                                default=default, indent=indent)
    item_separator, key_separator = separators or (", ", ": ")
    encode = _json.make_encoder({}, default or _not_serializable,
                                _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring,
                                None, key_separator, item_separator, sort_keys, False, True)
    return "".join(encode(value, 0))


def dump(value: Any, f: IO[str], **kwargs: Any) -> None:
    """json.dump(value, f, ...) for dumps' keyword arguments."""
    f.write(dumps(value, **kwargs))
