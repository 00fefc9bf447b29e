"""`ps --filter` (and `start --filter`): podman 4.3.1's keys and how each matches a container.

Filters come as KEY=VALUE. The values of one key are alternatives (any may match), except
`label`, whose values must all match; different keys must all match. A key's values are
checked once, before any container is looked at, so a bad value is an error even when no
container would be compared with it (as podman's errors come before its listing).
"""

from __future__ import annotations

import re

from ..errors import InvalidArgument
from ..state import EXITED, STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from ..state import ContainerRecord
    from .context import Runtime

    Match = Callable[[ContainerRecord], bool]

KEYS = ("id", "name", "label", "exited", "status", "ancestor", "before", "since", "volume", "health",
        "network", "pod", "until", "restart-policy")
STATUSES = ("created", "initialized", "running", "paused", "stopped", "exited", "removing", "unknown")
RESTART_POLICIES = ("none", "no", "on-failure", "always", "unless-stopped")


def group(filters: list[str]) -> dict[str, list[str]]:
    """KEY=VALUE words -> key -> its values, in the order given."""
    grouped: dict[str, list[str]] = {}
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise InvalidArgument(f'invalid filter "{f}"')
        grouped.setdefault(key, []).append(value)
    return grouped


def matcher(rt: Runtime, filters: dict[str, list[str]]) -> Match:
    """One predicate for all the filters; unknown keys and bad values raise InvalidArgument."""
    tests = [_one(rt, key, values) for key, values in filters.items()]
    return lambda rec: all(t(rec) for t in tests)


def _search(pattern: str, text: str) -> bool:
    """A regular expression found in text; one that does not compile matches nothing."""
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def state_word(rec: ContainerRecord) -> str:
    """The container's state as the status filter names it (stopped is exited)."""
    from .reports import _ps_state

    state = _ps_state(rec)
    return "exited" if state == STOPPED else state


def _one(rt: Runtime, key: str, values: list[str]) -> Match:
    if key == "id":
        return lambda rec: any(_search(v, rec.id) for v in values)
    if key == "name":
        names = [v.replace("/", "") for v in values]
        return lambda rec: any(_search(v, rec.name) for v in names)
    if key == "label":
        wanted = [v.partition("=") for v in values]
        return lambda rec: all(k in rec.config.labels and (not eq or rec.config.labels[k] == v)
                               for k, eq, v in wanted)
    if key == "exited":
        codes = {_exit_code(v) for v in values}
        return lambda rec: rec.state in (EXITED, STOPPED) and rec.exit_code in codes
    if key == "status":
        for v in values:
            if v not in STATUSES:
                raise InvalidArgument(f"unknown container state: {v}: invalid argument")
        states = {"exited" if v == "stopped" else v for v in values}
        return lambda rec: state_word(rec) in states
    if key == "ancestor":
        return lambda rec: any(_ancestor(rec, v) for v in values)
    if key in ("before", "since"):
        # the earliest of the containers named, as podman takes it
        when = min(rt.state.lookup(v).created for v in values)
        if key == "before":
            return lambda rec: rec.created < when
        return lambda rec: rec.created > when
    if key == "volume":
        return lambda rec: any(_uses_volume(rec, v) for v in values)
    if key == "health":
        return lambda rec: bool(rec.config.healthcheck) and _health(rt, rec) in values
    if key == "network":
        nets = _networks(rt, values)
        return lambda rec: any(n in nets for n in rec.config.networks)
    if key == "pod":
        pods = _pods(rt, values)
        return lambda rec: rec.config.pod in pods
    if key == "until":
        if len(values) != 1:
            raise InvalidArgument("specify exactly one timestamp for until")
        until = parse_until(values[0])
        return lambda rec: rec.created < until
    if key == "restart-policy":
        bad = [v for v in values if v not in RESTART_POLICIES]
        if bad:
            raise InvalidArgument(f"{', '.join(bad)} invalid restart polic{'ies' if len(bad) > 1 else 'y'}")
        return lambda rec: any(_restart_matches(rec, v) for v in values)
    raise InvalidArgument(f"{key} is an invalid filter")


def _exit_code(value: str) -> int:
    try:
        code = int(value, 10)
        if -2**31 <= code < 2**31:
            return code
    except ValueError:
        pass
    raise InvalidArgument(f"exited code out of range '\\x00': strconv.ParseInt: parsing \"{value}\": "
                          f"{'value out of range' if value.lstrip('+-').isdigit() else 'invalid syntax'}")


def _ancestor(rec: ContainerRecord, value: str) -> bool:
    """podman 4.3.1's match: the full image id, the image name, or the name without a `latest` tag."""
    name = rec.image_name
    bare, sep, tag = name.rpartition(":")
    return value in (rec.image_id, name) or (bool(sep) and "/" not in tag and tag == "latest" and bare == value)


def _uses_volume(rec: ContainerRecord, value: str) -> bool:
    """VOLUME-NAME, a mount's destination, or SOURCE:DESTINATION (a volume's name or a bind's source)."""
    source, sep, dest = value.partition(":")
    for m in rec.config.mounts:
        name = m.get("volume")
        if name:
            if name == source and (not sep or m["destination"] == dest):
                return True
        elif sep and m.get("source") == source and m["destination"] == dest:
            return True
        elif not sep and m["destination"] == source:
            return True
    return False


def _health(rt: Runtime, rec: ContainerRecord) -> str:
    from .healthstate import read

    return str((read(rt, rec) or {}).get("Status", "starting"))


def _networks(rt: Runtime, values: list[str]) -> set[str]:
    """The names of the networks given by name or id; one that does not exist matches nothing."""
    from ..errors import PodpyError
    from ..network.table import lookup

    names = set()
    for v in values:
        try:
            names.add(lookup(rt, v)["name"])
        except PodpyError:
            continue
    return names


def _restart_matches(rec: ContainerRecord, value: str) -> bool:
    """podpy keeps no difference between no policy (podman's "none") and `--restart no`:
    such a container matches both."""
    name = rec.config.restart.partition(":")[0]
    return value in ("none", "no") if name in ("", "no") else name == value


def parse_until(value: str) -> float:
    """An until= filter's time: RFC 3339, a date, unix seconds or a duration before now."""
    from ..formats import parse_time

    try:
        return parse_time(value, "until")
    except InvalidArgument:
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"') from None


def _pods(rt: Runtime, values: list[str]) -> set[str]:
    """The ids of the pods named (by name, id or id prefix); one that does not exist matches
    nothing."""
    from ..errors import PodpyError
    from .podstore import PodStore

    pods = PodStore(rt.db)
    found = set()
    for value in values:
        try:
            found.add(pods.lookup(value).id)
        except PodpyError:
            pass
    return found

