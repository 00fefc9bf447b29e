"""Go value semantics for gotemplate: field lookup, truth, fmt and json rendering, and the function table."""

from __future__ import annotations

import base64
import dataclasses
import enum
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from podpy.formats import GoStruct
from typing import Any, TypeGuard

from ..formats import go_quote


class ArgError(Exception):
    """A bad argument; reported as is, like Go's reflect-level call errors."""


class FuncError(Exception):
    """A failure inside a function; reported as "error calling NAME: ..."."""


def go_type(v: object) -> str:
    """The Go type name a value would have, for error messages and %T."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    if _is_seq(v):
        return "[]interface {}"
    return type(v).__name__


def _is_seq(v: object) -> TypeGuard[Sequence[Any]]:
    return isinstance(v, Sequence) and not isinstance(v, (str, bytes, bytearray))


def truth(v: object) -> bool:
    """Go template truthiness: zero values and empty containers are false, structs are true."""
    if v is None:
        return False
    if isinstance(v, (bool, int, float, str, bytes, Mapping)) or _is_seq(v):
        return bool(v)
    return True


def fold_key(keys: Iterable[object], name: str) -> str | None:
    """name itself if present, else the key matching it case-insensitively, then also ignoring
    underscores: users write {{.Id}} for ID, and Python attributes spell CreatedAt as created_at."""
    keys = list(keys)
    if name in keys:
        return name
    low = name.lower()
    for strip in (False, True):
        for k in keys:
            if isinstance(k, str) and (k.replace("_", "") if strip else k).lower() == low:
                return k
    return None


class GoNames(dict):  # type: ignore[type-arg]
    """A JSON document's object whose Go field names (what templates say) differ from its keys
    by more than case and underscores: `go_names` maps the Go name to the key."""

    def __init__(self, data: Mapping[str, object], go_names: Mapping[str, str]) -> None:
        super().__init__(data)
        self.go_names = dict(go_names)


class NilMap(dict):  # type: ignore[type-arg]
    """A map field that is null in the document: Go's nil map, `map[]` when printed, "" for any
    key `index` asks, false in `if`, and still `null` in `json`."""


class NilSlice(list):  # type: ignore[type-arg]
    """A list field that is null in the document: Go's nil slice, `[]` when printed, empty to
    `range` and `len`, false in `if`, and still `null` in `json`."""


# template names as fields: .Labels.app, .Config.Annotations.x, .Attributes.name
MAP_FIELDS = frozenset({"labels", "annotations", "attributes", "options", "driveropts", "sysctls", "sysctl",
                        "storageopt", "networks", "ports", "volumes", "exposedports"})
# podman's list fields that may be null in a document (Go's nil slices)
SLICE_FIELDS = frozenset({"cmd", "entrypoint", "env", "args", "tags", "names", "repotags", "repodigests",
                          "mounts", "binds", "capadd", "capdrop", "dns", "dnssearch", "dnsoptions", "extrahosts",
                          "groupadd", "securityopt", "devices", "onbuild", "history", "namespaces", "containers"})


def lookup(recv: object, name: str) -> tuple[bool, object, bool]:
    """(found, value, is_method) for the template's .name on recv: a mapping key or a public attribute."""
    if isinstance(recv, Mapping):
        key = fold_key(recv.keys(), name)
        if key is None and isinstance(recv, GoNames):
            alias = fold_key(recv.go_names, name)
            if alias is not None:
                key = fold_key(recv.keys(), recv.go_names[alias])
        return (False, None, False) if key is None else (True, recv[key], False)
    if isinstance(recv, (str, bytes, int, float, Sequence)):
        return False, None, False
    attr = fold_key((a for a in dir(recv) if not a.startswith("_")), name)
    if attr is None:
        return False, None, False
    val = getattr(recv, attr)
    return True, val, inspect.ismethod(val)


def sorted_keys(m: Mapping[Any, Any]) -> list[Any]:
    """Map keys in Go's printing order; mixed key types fall back to their text."""
    try:
        return sorted(m)
    except TypeError:
        return sorted(m, key=go_str)


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of abs(f) and the decimal point position (0.DIGITS x 10^dp)."""
    _, digs, exp = Decimal(repr(abs(f))).as_tuple()
    assert isinstance(exp, int)
    ds = "".join(map(str, digs))
    dp = len(ds) + exp
    return ds.rstrip("0") or "0", dp


def _fixed(ds: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + ds
    if dp >= len(ds):
        return ds + "0" * (dp - len(ds))
    return ds[:dp] + "." + ds[dp:]


def _expo(ds: str, dp: int, min_exp_digits: int) -> str:
    x = dp - 1
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return f"{mant}e{'-' if x < 0 else '+'}{abs(x):0{min_exp_digits}d}"


def _special_float(f: float) -> str | None:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return None


def go_float(f: float) -> str:
    """Go's %v for float64: shortest round-trip digits, exponent form outside 1e-4 <= |f| < 1e+06."""
    special = _special_float(f)
    if special is not None:
        return special
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    if f == 0:
        return sign + "0"
    ds, dp = _digits(f)
    # strconv's shortest %g switches to exponent form at 1e+06, unlike Python's repr
    body = _expo(ds, dp, 2) if not -4 <= dp - 1 < 6 else _fixed(ds, dp)
    return sign + body


def go_str(v: object) -> str:
    """Go's %v rendering of a value."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, enum.Enum):
        return go_str(v.value)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, (int, str)):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    if isinstance(v, GoStruct):
        return "{" + " ".join(go_str(e) for e in v.values()) + "}"
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(v[k])}" for k in sorted_keys(v)) + "]"
    if _is_seq(v):
        return "[" + " ".join(go_str(e) for e in v) + "]"
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return "{" + " ".join(go_str(getattr(v, f.name)) for f in dataclasses.fields(v)) + "}"
    return str(v)


# ---- printf ---------------------------------------------------------------

_VERB_RE = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?([a-zA-Z%])?")
_INT_BASE = {"d": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}
_ALT_PREFIX = {"x": "0x", "X": "0X", "o": "0", "b": "0b"}


def _pad(s: str, flags: str, width: int | None, zero_ok: bool = True) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s.ljust(width)
    return s.rjust(width, "0" if zero_ok and "0" in flags else " ")


def _pad_num(sign: str, prefix: str, digits: str, flags: str, width: int | None) -> str:
    whole = sign + prefix + digits
    if width is None or len(whole) >= width or "-" in flags or "0" not in flags:
        return _pad(whole, flags, width, zero_ok=False)
    # zero padding goes between the sign/prefix and the digits, as in Go
    return sign + prefix + digits.rjust(width - len(sign) - len(prefix), "0")


def _sign(neg: bool, flags: str) -> str:
    return "-" if neg else "+" if "+" in flags else " " if " " in flags else ""


def _bad(verb: str, arg: object) -> str:
    return f"%!{verb}(<nil>)" if arg is None else f"%!{verb}({go_type(arg)}={go_str(arg)})"


def _fmt_one(arg: object, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if verb == "T":
        return _pad(go_type(arg), flags, width)
    if isinstance(arg, enum.Enum):
        arg = arg.value
    # Go applies the verb element by element to slices and maps
    if isinstance(arg, Mapping):
        pairs = (_fmt_one(k, verb, flags, width, prec) + ":" + _fmt_one(arg[k], verb, flags, width, prec)
                 for k in sorted_keys(arg))
        return "map[" + " ".join(pairs) + "]"
    if _is_seq(arg):
        return "[" + " ".join(_fmt_one(e, verb, flags, width, prec) for e in arg) + "]"
    if arg is None:
        return _pad("<nil>", flags, width) if verb == "v" else _bad(verb, arg)
    if isinstance(arg, bool):
        return _pad(go_str(arg), flags, width) if verb in "vt" else _bad(verb, arg)
    if isinstance(arg, int):
        if verb in "vd" or verb in _INT_BASE:
            digits = format(abs(arg), _INT_BASE.get(verb, "d"))
            if prec is not None:
                digits = digits.rjust(prec, "0")
            prefix = "0o" if verb == "O" else _ALT_PREFIX.get(verb, "") if "#" in flags else ""
            return _pad_num(_sign(arg < 0, flags), prefix, digits, flags, width)
        if verb == "c":
            return _pad(chr(arg), flags, width)
        if verb == "q":
            return _pad("'" + go_quote(chr(arg))[1:-1].replace('\\"', '"').replace("'", "\\'") + "'", flags, width)
        if verb == "U":
            return _pad(f"U+{arg:04X}", flags, width)
        return _bad(verb, arg)
    if isinstance(arg, float):
        if verb not in "veEfFgG":
            return _bad(verb, arg)
        special = _special_float(arg)
        if special is not None:
            return _pad(special, flags, width, zero_ok=False)
        if verb in "vgG" and prec is None:
            body = go_float(abs(arg))
            body = body.upper() if verb == "G" else body
        else:
            pyverb = "f" if verb == "F" else "g" if verb == "v" else verb
            body = format(abs(arg), f".{6 if prec is None else prec}{pyverb}")
        return _pad_num(_sign(math.copysign(1.0, arg) < 0, flags), "", body, flags, width)
    if isinstance(arg, (str, bytes, bytearray)):
        s = arg if isinstance(arg, str) else arg.decode("utf-8", "replace")
        if verb in "sv":
            return _pad(s if prec is None else s[:prec], flags, width)
        if verb == "q":
            plain = "#" in flags and "`" not in s and s.isprintable()
            return _pad("`" + s + "`" if plain else go_quote(s), flags, width)
        if verb in "xX":
            h = s.encode().hex()
            return _pad(h.upper() if verb == "X" else h, flags, width)
        return _bad(verb, arg)
    return _pad(go_str(arg), flags, width) if verb in "sv" else _bad(verb, arg)


def sprintf(fmt: str, *args: object) -> str:
    """fmt.Sprintf for the verbs templates use; mismatches render Go's %!verb(...) markers."""
    out: list[str] = []
    used = 0
    pos = 0
    for m in _VERB_RE.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb is None:
            out.append("%!(NOVERB)")
        elif verb == "%":
            out.append("%")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            used += 1
            out.append(_fmt_one(args[used - 1], verb, flags, int(width) if width else None,
                                None if prec is None else int(prec or "0")))
    out.append(fmt[pos:])
    if used < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{go_type(a)}={go_str(a)}" for a in args[used:]) + ")")
    return "".join(out)


def sprint(*args: object) -> str:
    """fmt.Sprint: a space between operands only when neither side is a string."""
    out: list[str] = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(a))
    return "".join(out)


# ---- json -----------------------------------------------------------------

def _json_float(f: float) -> str:
    if _special_float(f) is not None:
        raise FuncError(f"json: unsupported value: {go_float(f)}")
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    ds, dp = _digits(f)
    body = _expo(ds, dp, 1) if abs(f) < 1e-6 or abs(f) >= 1e21 else _fixed(ds, dp)
    return ("-" if f < 0 else "") + body


def _json_str(s: str) -> str:
    # Go escapes the JS line separators even with HTML escaping off
    return json.dumps(s, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def go_json(v: object) -> str:
    """encoding/json Marshal, compact, with HTML escaping off (podman's json function)."""
    if v is None or isinstance(v, (NilMap, NilSlice)):
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, enum.Enum):
        return go_json(v.value)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _json_float(v)
    if isinstance(v, str):
        return _json_str(v)
    if isinstance(v, (bytes, bytearray)):
        return '"' + base64.b64encode(v).decode() + '"'
    if isinstance(v, Mapping):
        return "{" + ",".join(_json_str(k if isinstance(k, str) else go_str(k)) + ":" + go_json(x)
                              for k, x in v.items()) + "}"
    if _is_seq(v):
        return "[" + ",".join(go_json(e) for e in v) + "]"
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return go_json({f.name: getattr(v, f.name) for f in dataclasses.fields(v)})
    if hasattr(v, "isoformat"):
        return _json_str(str(v.isoformat()))
    if hasattr(v, "__dict__"):
        return go_json({k: x for k, x in vars(v).items() if not k.startswith("_")})
    return _json_str(str(v))


# ---- the function table ---------------------------------------------------

def _need_str(v: object) -> str:
    if not isinstance(v, str):
        raise ArgError(f"wrong type for value; expected string; got {go_type(v)}")
    return v


def _need_int(v: object) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ArgError(f"wrong type for value; expected int; got {go_type(v)}")
    return v


def _kind(v: object) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"  # deliberately lenient: Go would reject int vs float64
    if isinstance(v, str):
        return "string"
    return "other"


def _equal(a: object, b: object) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka == "nil" or kb == "nil":
        return a is None and b is None
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    if isinstance(a, Mapping) or _is_seq(a):
        raise FuncError(f"non-comparable type {go_str(a)}: {go_type(a)}")
    return a == b


def _eq(a: object, *rest: object) -> bool:
    if not rest:
        raise FuncError("missing argument for comparison")
    return any(_equal(a, b) for b in rest)


def _less(a: object, b: object) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka not in ("number", "string") or kb not in ("number", "string"):
        raise FuncError("invalid type for comparison")
    if ka != kb:
        raise FuncError("incompatible types for comparison")
    return bool(a < b)  # type: ignore[operator]


def _index(item: object, *keys: object) -> object:
    for k in keys:
        if isinstance(item, Mapping):
            if k in item:
                item = item[k]
            else:
                # Go returns the element type's zero value: "" for podman's map[string]string labels
                item = "" if all(isinstance(x, str) for x in item.values()) else None
        elif isinstance(item, str) or _is_seq(item):
            seq: Sequence[Any] = item.encode() if isinstance(item, str) else item
            if not isinstance(k, int) or isinstance(k, bool):
                raise FuncError(f"cannot index slice/array with type {go_type(k)}")
            if not 0 <= k < len(seq):
                raise FuncError(f"index out of range: {k}")
            item = seq[k]
        elif item is None:
            raise FuncError("index of untyped nil")
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: object, *idx: object) -> object:
    if not (isinstance(item, str) or _is_seq(item)):
        raise FuncError(f"can't slice item of type {go_type(item)}")
    seq: Sequence[Any] = item
    if len(idx) > 3 or (isinstance(item, str) and len(idx) > 2):
        raise FuncError(f"too many slice indexes: {len(idx)}")
    bounds = [_need_int(i) for i in idx]
    for b in bounds:
        if not 0 <= b <= len(seq):
            raise FuncError(f"index out of range: {b}")
    lo = bounds[0] if bounds else 0
    hi = bounds[1] if len(bounds) > 1 else len(seq)
    if lo > hi:
        raise FuncError(f"invalid slice index: {lo} > {hi}")
    return seq[lo:hi]


def _len(v: object) -> int:
    if isinstance(v, str):
        return len(v.encode())  # Go counts bytes
    if isinstance(v, (bytes, Mapping)) or _is_seq(v):
        return len(v)
    if v is None:
        raise FuncError("len of nil pointer")
    raise FuncError(f"len of type {go_type(v)}")


def _is_sep(ch: str) -> bool:
    if ord(ch) < 0x80:
        return not (ch.isalnum() or ch == "_")
    return not ch.isalnum() and ch.isspace()


def _title(s: str) -> str:
    # strings.Title only touches word starts; str.title() would also lowercase the rest
    out, prev = [], " "
    for ch in s:
        t = ch.title()
        out.append(t if _is_sep(prev) and len(t) == 1 else ch)
        prev = ch
    return "".join(out)


def _join(items: object, sep: object) -> str:
    if isinstance(items, str) and _is_seq(sep):
        items, sep = sep, items  # `.Names | join ","` pipes the list in last
    if items is None:
        return ""
    if not _is_seq(items):
        raise ArgError(f"wrong type for value; expected []string; got {go_type(items)}")
    return _need_str(sep).join(go_str(e) for e in items)


def _split(s: object, sep: object) -> list[str]:
    text, cut = _need_str(s), _need_str(sep)
    return list(text) if cut == "" else text.split(cut)


def _truncate(s: object, n: object) -> str:
    if isinstance(n, str) and isinstance(s, int):
        s, n = n, s  # `.ID | truncate 12` pipes the string in last
    return _need_str(s)[: max(_need_int(n), 0)]


def _printf(fmt: object, *args: object) -> str:
    return sprintf(_need_str(fmt), *args)


# name -> (function, minimum args, maximum args or None for variadic)
FUNCS: dict[str, tuple[Callable[..., object], int, int | None]] = {
    "json": (go_json, 1, 1),
    "upper": (lambda s: _need_str(s).upper(), 1, 1),
    "lower": (lambda s: _need_str(s).lower(), 1, 1),
    "title": (lambda s: _title(_need_str(s)), 1, 1),
    "join": (_join, 2, 2),
    "split": (_split, 2, 2),
    "contains": (lambda s, sub: _need_str(sub) in _need_str(s), 2, 2),
    "replace": (lambda s, old, new: _need_str(s).replace(_need_str(old), _need_str(new)), 3, 3),
    "truncate": (_truncate, 2, 2),
    "printf": (_printf, 1, None),
    "print": (sprint, 0, None),
    "println": (lambda *a: " ".join(go_str(x) for x in a) + "\n", 0, None),
    "len": (_len, 1, 1),
    "index": (_index, 1, None),
    "slice": (_slice, 1, None),
    "eq": (_eq, 1, None),
    "ne": (lambda a, b: not _equal(a, b), 2, 2),
    "lt": (_less, 2, 2),
    "le": (lambda a, b: _less(a, b) or _equal(a, b), 2, 2),
    "gt": (lambda a, b: _less(b, a), 2, 2),
    "ge": (lambda a, b: not _less(a, b), 2, 2),
    "not": (lambda v: not truth(v), 1, 1),
}
# and/or short-circuit, so the executor evaluates them itself
SPECIAL_FORMS = frozenset({"and", "or"})
