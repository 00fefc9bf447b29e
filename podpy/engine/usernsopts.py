"""The user namespace a container gets, as create decides it: --userns (host, keep-id, auto,
nomap, private, ns:PATH, container:X), --uidmap/--gidmap and --subuidname/--subgidname in
podman's forms, checked against the ids the user has; keep-id's /etc/passwd and /etc/group
entries; and auto's ranges, allocated under a lock so that two creates never share one."""

from __future__ import annotations

import os

from ..errors import InvalidArgument
from ..state import ContainerConfig
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from rootless.userns import IdMappings


def check_mapped(uid: int, gids: list[int], userns: "Userns", maps: "IdMappings") -> None:
    """Refuse ids the user namespace will not have, before anything is made (maps: the
    default user namespace's)."""
    if userns.idmap:
        uids = [(c, n) for c, _, n in userns.idmap["uids"]]
        gid_ranges = [(c, n) for c, _, n in userns.idmap["gids"]]
    else:
        uids = [(m.container_id, m.size) for m in maps.uids]
        gid_ranges = [(m.container_id, m.size) for m in maps.gids]
    if userns.mode == "auto":
        return   # the range is sized for the user when it is allocated
    if not any(c <= uid < c + n for c, n in uids) or any(
            not any(c <= g < c + n for c, n in gid_ranges) for g in gids):
        what = ", ".join(f"{c}-{c + n - 1}" for c, n in sorted(uids))
        raise InvalidArgument(
            f"user {uid}:{gids[0]} is not mapped in the user namespace, which has container ids {what}"
            + (" (no subordinate ids: see /etc/subuid and /etc/subgid)" if maps.warning else ""))


class Userns:
    """--userns, --uidmap, --gidmap, decided. idmap: {"uids": [[container, intermediate, size]...],
    "gids": [...]} in podman's intermediate ids (0 the user, 1.. the subordinate ids), empty for
    the default mapping (filled in at insertion for auto)."""

    __slots__ = ("mode", "idmap", "keep_uid", "keep_gid", "auto_size", "available")

    def __init__(self, mode: str, idmap: dict[str, list[list[int]]], available: tuple[int, int],
                 keep_uid: int = 0, keep_gid: int = 0, auto_size: int = 0) -> None:
        self.mode, self.idmap, self.available = mode, idmap, available
        self.keep_uid, self.keep_gid, self.auto_size = keep_uid, keep_gid, auto_size


def parse_userns(value: Optional[str], uidmap: list[str], gidmap: list[str], rootless: bool,
                 maps: "IdMappings") -> Userns:
    """Validate the user-namespace options (podman's forms) into a Userns; maps: the default
    user namespace's (the user and the subordinate ids)."""
    from rootless import userns as un
    from rootless.errors import IdMapError

    available = (maps.container_ids(), sum(m.size for m in maps.gids))
    mode, _, args = (value or "").partition(":")
    try:
        if uidmap or gidmap:
            if mode:
                raise InvalidArgument("--userns and --uidmap/--gidmap cannot be used together")
            uids = [un.parse_idmap(v, "--uidmap") for v in uidmap]
            gids = [un.parse_idmap(v, "--gidmap") for v in gidmap] if gidmap else list(uids)
            uids = uids or list(gids)
            un.check_ranges(uids, available[0], "--uidmap")
            un.check_ranges(gids, available[1], "--gidmap")
            if not rootless:
                raise InvalidArgument("--uidmap and --gidmap need rootless podpy (with root, ids are the host's)")
            return Userns("private", _idmap(uids, gids, available), available)
    except IdMapError as exc:
        raise InvalidArgument(str(exc)) from exc
    if mode == "nomap" and not args:
        # every id but the user's own: the subordinate ids, from container id 0 up
        if not rootless:
            raise InvalidArgument("nomap is only supported in rootless mode")
        if maps.warning:
            raise InvalidArgument(f"--userns=nomap needs subordinate ids: {maps.warning}")
        uids, gids = [(0, 1, available[0] - 1)], [(0, 1, available[1] - 1)]
        return Userns("nomap", _idmap(uids, gids, available), available)
    if mode in ("", "host", "private") and not args:
        # Rootless, "host" is the user's own namespace: the default mapping, as with podman.
        return Userns(mode, {}, available)
    options = _userns_options(value or "", args)
    if mode == "keep-id":
        if not rootless:
            raise InvalidArgument("--userns=keep-id works only rootless")
        unknown = set(options) - {"uid", "gid"}
        if unknown:
            raise InvalidArgument(f"invalid --userns {value!r}: unknown option {sorted(unknown)[0]!r} (uid, gid)")
        inside_u = _id_option(value or "", options, "uid", os.getuid())
        inside_g = _id_option(value or "", options, "gid", os.getgid())
        if maps.warning:
            raise InvalidArgument(f"--userns=keep-id needs subordinate ids: {maps.warning}")
        uids = un.keep_id(os.getuid(), inside_u, available[0])
        gids = un.keep_id(os.getgid(), inside_g, available[1])
        return Userns("keep-id", _idmap(uids, gids, available), available, inside_u, inside_g)
    if mode == "auto":
        if not rootless:
            raise InvalidArgument("--userns=auto works only rootless here")
        unknown = set(options) - {"size"}
        if unknown:
            raise InvalidArgument(f"invalid --userns {value!r}: unknown option {sorted(unknown)[0]!r} (size)")
        size = _id_option(value or "", options, "size", 0)
        if "size" in options and size < 1:
            raise InvalidArgument(f"invalid --userns {value!r}: size must be at least 1")
        if maps.warning:
            raise InvalidArgument(f"--userns=auto needs subordinate ids: {maps.warning}")
        return Userns("auto", {}, available, auto_size=size)
    raise InvalidArgument(f"invalid --userns {value!r}: expected host, keep-id[:uid=N,gid=N], auto[:size=N] or nomap")


def _userns_options(value: str, args: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in filter(None, args.split(",")):
        key, eq, val = item.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid --userns {value!r}: option {item!r} needs a value")
        options[key] = val
    return options


def _id_option(value: str, options: dict[str, str], key: str, default: int) -> int:
    if key not in options:
        return default
    if not options[key].isdigit():
        raise InvalidArgument(f"invalid --userns {value!r}: {key} must be a number")
    return int(options[key])


def _idmap(uids: list[tuple[int, int, int]], gids: list[tuple[int, int, int]],
           available: tuple[int, int]) -> dict[str, list[list[int]]]:
    from rootless import userns as un

    if un.is_identity(uids, available[0]) and un.is_identity(gids, available[1]):
        return {}
    return {"uids": [list(r) for r in uids], "gids": [list(r) for r in gids]}


def keep_id_entries(uid: int, gid: int, home: str, passwd: Optional[bytes], group: Optional[bytes]
                     ) -> dict[str, str]:
    """The image's /etc/passwd and /etc/group with the user's entries added where missing."""
    import pwd

    try:
        pw = pwd.getpwuid(os.getuid())
        name = pw.pw_name
    except KeyError:
        name = str(os.getuid())
    out = {}
    users = (passwd or b"").decode(errors="surrogateescape")
    if not any(line.split(":")[2:3] == [str(uid)] for line in users.splitlines()):
        users = (users + "\n" if users and not users.endswith("\n") else users) + f"{name}:*:{uid}:{gid}::{home}:/bin/sh\n"
        out["/etc/passwd"] = users
    groups = (group or b"").decode(errors="surrogateescape")
    if not any(line.split(":")[2:3] == [str(gid)] for line in groups.splitlines()):
        groups = (groups + "\n" if groups and not groups.endswith("\n") else groups) + f"{name}:x:{gid}:{name}\n"
        out["/etc/group"] = groups
    return out


class AutoUsernsLock:
    """Serialises --userns=auto allocations (allocation and insertion of the row) between
    concurrent `create`s of the same user."""

    def __init__(self, rt: Runtime, wanted: bool) -> None:
        self.path = os.path.join(rt.cfg.runroot, "userns-auto.lock") if wanted else ""
        self.fd = -1

    def __enter__(self) -> None:
        if self.path:
            import fcntl

            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)


AUTO_MIN_SIZE = 1024


def allocate_auto(rt: Runtime, userns: Userns, uid: int, gid: int, passwd: Optional[bytes],
                   group: Optional[bytes]) -> dict[str, list[list[int]]]:
    """A range of intermediate ids no other container's auto or explicit mapping uses, as
    podman's --userns=auto: the first free one (the user's own id, 0, is never given)."""
    size = userns.auto_size
    if not size:
        need = max(uid, gid)
        for table in (passwd, group):
            for line in (table or b"").decode(errors="replace").splitlines():
                field = line.split(":")[2:3]
                if field and field[0].isdigit() and int(field[0]) < 65534:
                    need = max(need, int(field[0]))
        size = max(AUTO_MIN_SIZE, need + 1)
    taken: list[tuple[int, int]] = []
    for (text,) in rt.db.conn.execute("SELECT config FROM containers"):
        other = ContainerConfig.from_json(text)
        if other.userns.partition(":")[0] != "auto":
            continue   # keep-id and --uidmap containers may share ids, as with podman
        for c, i, n in (other.idmap or {}).get("uids", []) + (other.idmap or {}).get("gids", []):
            taken.append((i, i + n))
    limit = min(userns.available)
    start = 1
    for lo, hi in sorted(taken):
        if start + size <= lo:
            break
        start = max(start, hi)
    if start + size > limit:
        raise InvalidArgument(f"--userns=auto: no free range of {size} ids is left among the {limit - 1} "
                              "subordinate ids (remove containers, or ask for less with auto:size=N)")
    if uid >= size or gid >= size:
        raise InvalidArgument(f"user {uid}:{gid} is not mapped by --userns=auto with size {size}")
    return {"uids": [[0, start, size]], "gids": [[0, start, size]]}
