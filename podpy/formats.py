"""Times, durations and sizes as podman and docker print and read them (one place for all).

Printing: `human_duration`/`ago` (Go's units.HumanDuration), `human_size` (docker's
units.HumanSize), `go_time` (Go's time.Time String), `rfc3339`. Reading: `parse_size`
(512m, 1g), `go_duration`/`parse_duration` (Go's time.ParseDuration), `parse_time`
(--since/--until: a time, a unix time or a duration before now), `parse_rfc3339`. And
`go_quote` (Go's strconv.Quote), for templates and generated unit files alike; `GoStruct`, an
object templates print as podman's Go struct.
"""

from __future__ import annotations

import time

from .errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30}
# `re` is imported by the functions that read durations and times, not here: it costs
# milliseconds, and a plain `podpy run` reads neither.
_DURATION_PART = r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)"
_DURATION_SCALE = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def human_duration(seconds: float) -> str:
    """Go's units.HumanDuration, which podman's Status and CREATED use."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"


def ago(ts: Optional[float]) -> str:
    return f"{human_duration(time.time() - ts)} ago" if ts else ""


def human_size(n: float, sep: str = " ", digits: int = 3) -> str:
    """Docker's units.HumanSizeWithPrecision: SI units, three significant digits (podman's stats:
    no space; its prunes' reclaimed space: units.HumanSize, four digits)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.{digits}g}{sep}{units[i]}"


def go_time(ts: Optional[float]) -> str:
    """Go's time.Time String(), as podman prints CreatedAt."""
    if not ts:
        return "0001-01-01 00:00:00 +0000 UTC"
    import datetime as _dt

    d = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".") + " +0000 UTC"


def rfc3339(ts: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def go_duration_text(ns: int) -> str:
    """Go's time.Duration String(): 0s, 850ms, 1.5s, 2m3.25s, 1h0m7s."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _trim(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _trim(n: int, unit: int) -> str:
    whole, frac = divmod(n, unit)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0").rstrip(".") if frac else str(whole)


def binary_size(n: float) -> str:
    """Docker's units.BytesSize: binary units, up to four significant digits (4.5MiB)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.4g}{units[i]}"


def rfc3339_seconds(ts: float, local: bool = False) -> str:
    """Go's time.RFC3339 to the second: in UTC (`Z` for the zone), or with local in the local
    time zone (`+01:00`; `Z` where that is UTC), as a Go program's local time prints."""
    import datetime as _dt

    if not local:
        return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = _dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_size(value: str, what: str) -> int:
    """A size such as 512, 10k, 10m, 1g (podman's units, powers of 1024)."""
    text = value.strip().lower()
    digits = text.rstrip("bkmg")
    unit = text[len(digits):]
    try:
        number = float(digits)
    except ValueError:
        number = -1
    if number < 0 or unit not in _UNITS:
        raise InvalidArgument(f"invalid {what} {value!r}: expected a size such as 10m")
    return int(number * _UNITS[unit])


def go_duration(text: str) -> Optional[float]:
    """A Go duration (30s, 1m30s, 500ms, 2h) in seconds; None when text is not one."""
    import re

    parts = re.findall(_DURATION_PART, text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_SCALE[u] for n, u in parts)


def parse_duration(value: str, what: str) -> float:
    """A Go duration in seconds; a bare number is seconds."""
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    seconds = go_duration(text)
    if seconds is None:
        raise InvalidArgument(f"invalid {what} {value!r}: expected a duration such as 30s or 1m30s")
    return seconds


def parse_time(value: str, what: str, now: Optional[float] = None, ahead: bool = False) -> float:
    """--since/--until: an RFC 3339 time, a date, a unix time, or a duration (10m, 1h30m, -1s)
    before now; ahead: after now (podman's --until of `logs` and `events`)."""
    now = time.time() if now is None else now
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    span = go_duration(text.lstrip("+-")) if text[:1] in "+-" else go_duration(text)
    if span is not None:
        return now + sign * span if ahead else now - sign * span
    try:
        return float(text)
    except ValueError:
        pass
    ts = parse_rfc3339(text)
    if ts is None:
        raise InvalidArgument(f"invalid {what} {value!r}: use a time (2024-01-02T15:04:05Z), a unix time or "
                              "a duration such as 10m")
    return ts


def parse_rfc3339(text: str) -> Optional[float]:
    import datetime as dt
    import re

    m = re.match(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)([.,]\d+)?)?(Z|[+-]\d{2}:?\d{2})?$", text)
    if not m:
        return None
    date, clock, frac, zone = m.groups()
    try:
        base = dt.datetime.fromisoformat(f"{date}T{clock or '00:00:00'}")
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        base = base.replace(tzinfo=dt.timezone(sign * offset))
    elif zone == "Z":
        base = base.replace(tzinfo=dt.timezone.utc)
    else:
        base = base.astimezone()   # local time, as podman reads a zone-less time
    return base.timestamp() + (float(frac.replace(",", ".")) if frac else 0.0)   # (`date --iso-8601=ns`: a comma)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """text double-quoted as Go's strconv.Quote quotes it: printable characters kept, the
    others escaped."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out) + '"'


class GoStruct(dict):  # type: ignore[type-arg]
    """A JSON object that is a struct in podman (a port binding, `{HostIp, HostPort}`): JSON
    shows it as an object, a template prints it as Go prints a struct, its values in their
    order (`{ 8080}`), where a map would print as `map[HostIp: HostPort:8080]`."""
