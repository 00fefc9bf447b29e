"""User namespaces: subordinate id ranges, the id mappings and newuidmap/newgidmap, and the
mappings of containers other than the default (keep-id, auto, --uidmap). Running a function
or a command inside a fresh user namespace is inuserns.py's.
"""

from __future__ import annotations

import os
import pwd
from _operator import itemgetter

from .errors import IdMapError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Sequence

SUBUID = "/etc/subuid"
SUBGID = "/etc/subgid"


class IdMap(tuple):  # type: ignore[type-arg]
    """One line of a uid_map/gid_map: container ids [container_id, +size) are host ids [host_id, +size).

    A tuple class written out, as the other few in rootless: collections.namedtuple would
    cost every command the import of collections (storage/named.py says more)."""

    __slots__ = ()
    _fields = ("container_id", "host_id", "size")

    def __new__(cls, container_id: int, host_id: int, size: int) -> "IdMap":
        return tuple.__new__(cls, (container_id, host_id, size))

    def __getnewargs__(self) -> tuple[int, int, int]:
        return (self[0], self[1], self[2])

    def __repr__(self) -> str:
        return f"IdMap(container_id={self[0]!r}, host_id={self[1]!r}, size={self[2]!r})"

    container_id: int = property(itemgetter(0))  # type: ignore[assignment]
    host_id: int = property(itemgetter(1))  # type: ignore[assignment]
    size: int = property(itemgetter(2))  # type: ignore[assignment]


class IdMappings(tuple):  # type: ignore[type-arg]
    """The uid and gid maps of a user namespace, plus a warning to show when degraded."""

    __slots__ = ()
    _fields = ("uids", "gids", "warning")

    def __new__(cls, uids: tuple[IdMap, ...], gids: tuple[IdMap, ...], warning: str = "") -> "IdMappings":
        return tuple.__new__(cls, (uids, gids, warning))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (self[0], self[1], self[2])

    def __repr__(self) -> str:
        return f"IdMappings(uids={self[0]!r}, gids={self[1]!r}, warning={self[2]!r})"

    uids: tuple[IdMap, ...] = property(itemgetter(0))  # type: ignore[assignment]
    gids: tuple[IdMap, ...] = property(itemgetter(1))  # type: ignore[assignment]
    warning: str = property(itemgetter(2))  # type: ignore[assignment]

    def to_spec(self) -> dict[str, list[dict[str, int]]]:
        def conv(maps: Sequence[IdMap]) -> list[dict[str, int]]:
            return [{"containerID": m.container_id, "hostID": m.host_id, "size": m.size} for m in maps]

        return {"uidMappings": conv(self.uids), "gidMappings": conv(self.gids)}

    @classmethod
    def from_spec(cls, linux: dict[str, Any]) -> "IdMappings":
        def conv(items: list[dict[str, int]]) -> tuple[IdMap, ...]:
            return tuple(IdMap(int(i["containerID"]), int(i["hostID"]), int(i["size"])) for i in items)

        return cls(conv(linux.get("uidMappings", [])), conv(linux.get("gidMappings", [])))

    def container_ids(self) -> int:
        """How many container uids are mapped."""
        return sum(m.size for m in self.uids)

    def to_host_uid(self, cid: int) -> Optional[int]:
        for m in self.uids:
            if m.container_id <= cid < m.container_id + m.size:
                return m.host_id + cid - m.container_id
        return None


def parse_subids(text: str) -> list[tuple[str, int, int]]:
    """Every well-formed line of an /etc/subuid or /etc/subgid text: (owner, start, count),
    the owner a name or a uid as written; malformed lines and empty ranges are skipped."""
    entries = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) != 3 or not parts[0]:
            continue
        try:
            start, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if count > 0 and start >= 0:
            entries.append((parts[0], start, count))
    return entries


def read_subid_entries(path: str) -> list[tuple[str, int, int]]:
    """parse_subids of the file; [] when it does not exist (other errors are raised)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_subids(f.read())
    except FileNotFoundError:
        return []


def read_subids(path: str, user: str, uid: int) -> list[tuple[int, int]]:
    """The (start, count) ranges that `path` (/etc/subuid or /etc/subgid) grants the user."""
    return [(start, count) for owner, start, count in read_subid_entries(path) if owner in (user, str(uid))]


def subid_overlaps(entries: Sequence[tuple[str, int, int]], user: str,
                   uid: int) -> list[tuple[tuple[int, int], tuple[str, int, int]]]:
    """The user's ranges that share ids with another owner's entry: (the user's (start, count),
    the other entry). An owner written as the user's uid is the user."""
    mine = [(s, c) for o, s, c in entries if o in (user, str(uid))]
    found = []
    for start, count in mine:
        for other in entries:
            if other[0] in (user, str(uid)):
                continue
            if start < other[1] + other[2] and other[1] < start + count:
                found.append(((start, count), other))
    return found


def default_mappings(uid: Optional[int] = None, gid: Optional[int] = None) -> IdMappings:
    """Container 0 is the user; 1.. are the subordinate ranges, as rootless podman maps them.

    With no subordinate range the namespace maps only the user's own id, and
    `warning` says so (podman prints the same kind of line).
    """
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    sub_u = read_subids(SUBUID, user, uid)
    sub_g = read_subids(SUBGID, user, uid)
    helpers = all(_which(h) for h in ("newuidmap", "newgidmap"))
    if not (sub_u and sub_g and helpers):
        why = "newuidmap/newgidmap are not installed" if not helpers else (
            f"no subordinate ids for user {user!r} in {SUBUID if not sub_u else SUBGID}")
        return IdMappings(
            (IdMap(0, uid, 1),), (IdMap(0, gid, 1),),
            warning=f"using a single-id mapping: {why}; only id 0 exists in containers",
        )
    return IdMappings(_stack(uid, sub_u), _stack(gid, sub_g))


def _stack(own: int, ranges: list[tuple[int, int]]) -> tuple[IdMap, ...]:
    maps = [IdMap(0, own, 1)]
    nxt = 1
    for start, count in ranges:
        maps.append(IdMap(nxt, start, count))
        nxt += count
    return tuple(maps)


def _which(name: str) -> Optional[str]:
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":") + ["/usr/bin", "/usr/sbin", "/bin"]:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def _spawn_helper(helper: str, pid: int, maps: Sequence[IdMap]) -> tuple[int, int]:
    """Start newuidmap/newgidmap; returns (its pid, read end of its stderr)."""
    path = _which(helper)
    if path is None:
        raise IdMapError(f"{helper} is not installed (Debian: apt-get install uidmap)")
    argv = [helper, str(pid)]
    for m in maps:
        argv += [str(m.container_id), str(m.host_id), str(m.size)]
    r, w = os.pipe()
    try:
        child = os.posix_spawn(
            path, argv, {"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            file_actions=[(os.POSIX_SPAWN_DUP2, w, 2), (os.POSIX_SPAWN_CLOSE, r)],
        )
    finally:
        os.close(w)
    return child, r


def write_maps(pid: int, mappings: IdMappings, together: bool = True) -> None:
    """Write the uid and gid maps of the user namespace that `pid` has just unshared: with
    newuidmap and newgidmap at once (together), else one after the other, for a caller beside
    other work that is on the way (a stage 1 started ahead: with two set-uid helpers and the
    host side's work at once on two CPUs, the host side's work waited, 0.5-0.7 ms of a run)."""
    own_only = (
        len(mappings.uids) == 1 and mappings.uids[0].host_id == os.getuid() and mappings.uids[0].size == 1
        and len(mappings.gids) == 1 and mappings.gids[0].host_id == os.getgid() and mappings.gids[0].size == 1
    )
    if own_only:
        # An unprivileged process may map its own ids itself, once setgroups is denied.
        try:
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
            with open(f"/proc/{pid}/uid_map", "w") as f:
                f.write(f"0 {os.getuid()} 1\n")
            with open(f"/proc/{pid}/gid_map", "w") as f:
                f.write(f"0 {os.getgid()} 1\n")
        except OSError as exc:
            raise IdMapError(f"writing the id maps of process {pid}: {exc.strerror}") from exc
        return
    helpers = (("newuidmap", mappings.uids), ("newgidmap", mappings.gids))
    procs = [_spawn_helper(helper, pid, maps) for helper, maps in helpers] if together else []
    errors = []
    for i, (helper, maps) in enumerate(helpers):
        child, r = procs[i] if together else _spawn_helper(helper, pid, maps)
        with os.fdopen(r, "rb") as f:
            err = f.read().decode(errors="replace").strip()
        _, status = os.waitpid(child, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            # the helper's own message starts with its name already
            errors.append(err if err.startswith(f"{helper}: ") else f"{helper}: {err or 'failed'}")
    if errors:
        raise IdMapError("; ".join(errors) + " (check /etc/subuid and /etc/subgid)")


# -- container mappings other than the default ---------------------------------
#
# `--userns=keep-id|auto` and `--uidmap/--gidmap` describe a container's ids in
# terms of the *intermediate* ids, as rootless podman does: intermediate 0 is the
# user, 1.. are the subordinate ids in order (exactly the default mapping's
# container ids). Image layers are stored with the default mapping, so an image
# file owned by id u is owned by intermediate u; a container with another mapping
# sees its root file system through fuse-overlayfs with the matching
# uidmapping/gidmapping (see fuse_idmapping).

def parse_idmap(value: str, flag: str) -> tuple[int, int, int]:
    """One --uidmap/--gidmap item: CONTAINER:INTERMEDIATE:SIZE."""
    parts = value.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        c, i, n = (int(p) for p in parts)
        if c < 0 or i < 0 or n < 1:
            raise ValueError
    except ValueError:
        raise IdMapError(f"invalid {flag} {value!r}: expected CONTAINER_ID:HOST_ID:SIZE "
                         "(HOST_ID counts the user as 0 and the subordinate ids from 1)") from None
    return c, i, n


def check_ranges(ranges: Sequence[tuple[int, int, int]], available: int, what: str) -> None:
    """Container ranges must not overlap, nor intermediate ones, and must stay below `available`."""
    for key, side in ((0, "container"), (1, "host")):
        spans = sorted((r[key], r[key] + r[2]) for r in ranges)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if start < end:
                raise IdMapError(f"{what}: the {side} ranges overlap")
    for c, i, n in ranges:
        if i + n > available:
            raise IdMapError(f"{what}: host ids {i}-{i + n - 1} are not available: the user namespace has "
                             f"0-{available - 1} (the user and the subordinate ids of /etc/subuid, /etc/subgid)")


def keep_id(own: int, inside: int, available: int) -> list[tuple[int, int, int]]:
    """--userns=keep-id: the user (intermediate 0) is `inside` in the container; the
    subordinate ids fill the container ids around it, as podman maps them."""
    ranges = []
    below = min(inside, available - 1)
    if below:
        ranges.append((0, 1, below))
    ranges.append((inside, 0, 1))
    if available - 1 - below > 0:
        ranges.append((inside + 1, below + 1, available - 1 - below))
    return ranges


def fuse_idmapping(ranges: Sequence[tuple[int, int, int]]) -> str:
    """fuse-overlayfs's uidmapping/gidmapping value for a container of these ranges, the
    server running in the container's user namespace. Its triples are ID_SEEN:ID_SHOWN:SIZE:
    a file whose owner the server sees as container id c (stored as intermediate i) is
    shown as i, the id the image gave it."""
    return ":".join(f"{c}:{i}:{n}" for c, i, n in ranges)


def is_identity(ranges: Sequence[tuple[int, int, int]], available: int) -> bool:
    return list(ranges) == [(0, 0, available)]
