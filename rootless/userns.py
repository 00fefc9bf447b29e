"""User namespaces: subordinate id ranges, newuidmap/newgidmap, and a helper to
run a function or a command inside a fresh user namespace.

Choice: a fresh user namespace per command rather than a resident pause
process. Entering one costs a fork plus two short helper execs (measured about
3 ms here) and leaves nothing running between commands; every user namespace
podpy makes for one user carries the same mapping, so files written in one are
owned by the same ids in the next.
"""

from __future__ import annotations

import _signal
import os
import pwd
from _operator import itemgetter

from .errors import IdMapError, RuntimeFailure, SetupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Sequence

    from .syscalls import Syscalls

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


def write_maps(pid: int, mappings: IdMappings) -> None:
    """Write the uid and gid maps of the user namespace that `pid` has just unshared."""
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
    procs = [_spawn_helper("newuidmap", pid, mappings.uids), _spawn_helper("newgidmap", pid, mappings.gids)]
    errors = []
    for (child, r), helper in zip(procs, ("newuidmap", "newgidmap")):
        with os.fdopen(r, "rb") as f:
            err = f.read().decode(errors="replace").strip()
        _, status = os.waitpid(child, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            # the helper's own message starts with its name already
            errors.append(err if err.startswith(f"{helper}: ") else f"{helper}: {err or 'failed'}")
    if errors:
        raise IdMapError("; ".join(errors) + " (check /etc/subuid and /etc/subgid)")


def become_root_in_userns(sc: Optional[Syscalls] = None) -> None:
    """After the maps are written: take uid/gid 0 inside explicitly (the caller's
    ids already map to 0, but a set-gid helper may have left others) and keep caps."""
    from . import syscalls

    sc = sc or syscalls.default()
    sc.setresgid(0, 0, 0)
    sc.setresuid(0, 0, 0)


def run_in_userns(
    fn: Callable[..., Any],
    *args: Any,
    mappings: Optional[IdMappings] = None,
    extra_flags: int = 0,
    expect_exec: bool = False,
) -> Any:
    """Run `fn(*args)` in a forked child inside a new user namespace; return its result.

    The result (or the exception) comes back pickled through a pipe. When the
    caller is real root no user namespace is made: `fn` runs in a plain child.
    With expect_exec, `fn` execs a program and the return value is that
    program's exit code (128+N when a signal ended it).
    """
    import pickle  # noqa: F401 - loaded before the fork: fn may leave the host's files behind

    from . import syscalls   # the namespace code (imported here: the host side of a `run` needs none)

    rootful = os.geteuid() == 0 and mappings is None
    mappings = mappings or (None if rootful else default_mappings())
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(ready_r)
            os.close(go_w)
            os.close(res_r)
            sc = syscalls.default()
            sc.set_pdeathsig(_signal.SIGKILL)
            if not rootful:
                sc.unshare(syscalls.CLONE_NEWUSER | extra_flags)
            elif extra_flags:
                sc.unshare(extra_flags)
            os.write(ready_w, b"1")
            if os.read(go_r, 1) != b"1":
                os._exit(1)
            if not rootful:
                become_root_in_userns(sc)
            call_and_send(fn, args, res_w)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(go_r)
    os.close(res_w)
    try:
        if os.read(ready_r, 1) != b"1":
            raise SetupError("could not create a user namespace")
        if not rootful:
            assert mappings is not None
            try:
                write_maps(pid, mappings)
            except RuntimeFailure:
                os.kill(pid, _signal.SIGKILL)
                raise
        os.write(go_w, b"1")
        with os.fdopen(res_r, "rb") as f:
            res_r = -1
            data = f.read()
    finally:
        os.close(ready_r)
        os.close(go_w)
        if res_r >= 0:
            os.close(res_r)
        _, status = os.waitpid(pid, 0)
    if not data:
        if expect_exec:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code
        raise SetupError(f"the user-namespace helper died ({_describe(status)})")
    return received(data)


def run_in_namespaces_of(pid: int, kinds: Sequence[str], fn: Callable[..., Any], *args: Any,
                         expect_exec: bool = False) -> Any:
    """Run `fn(*args)` in a forked child that joined the user namespace and the namespaces
    `kinds` ("net", ...) of process pid, as root there, with a mount namespace of its own;
    return its result (as run_in_userns; with expect_exec, the exit code of the program fn
    execs). The user namespace is joined first, so that the others, which it owns, may be."""
    import pickle  # noqa: F401 - loaded before the fork, as in run_in_userns

    from . import syscalls

    flags = {"net": syscalls.CLONE_NEWNET, "ipc": syscalls.CLONE_NEWIPC, "uts": syscalls.CLONE_NEWUTS}
    res_r, res_w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 0
        try:
            os.close(res_r)
            sc = syscalls.default()
            sc.set_pdeathsig(_signal.SIGKILL)
            user = f"/proc/{pid}/ns/user"
            joined = os.stat(user).st_ino != os.stat("/proc/self/ns/user").st_ino
            if joined:   # not when it is ours already (root, whose holder has none of its own)
                fd = os.open(user, os.O_RDONLY | os.O_CLOEXEC)
                sc.setns(fd, syscalls.CLONE_NEWUSER, user)
                os.close(fd)
            for kind in kinds:
                path = f"/proc/{pid}/ns/{kind}"
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                sc.setns(fd, flags[kind], path)
                os.close(fd)
            sc.unshare(syscalls.CLONE_NEWNS)
            if joined:
                become_root_in_userns(sc)
            call_and_send(fn, args, res_w)
        except BaseException as exc:  # noqa: BLE001 - carried to the parent when the pipe is still open
            code = 1
            try:
                call_and_send(_raise, (exc,), res_w)
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)
    os.close(res_w)
    try:
        with os.fdopen(res_r, "rb") as f:
            data = f.read()
    finally:
        _, status = os.waitpid(child, 0)
    if not data:
        if expect_exec:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code
        raise SetupError(f"the namespace helper died ({_describe(status)})")
    return received(data)


def _raise(exc: BaseException) -> None:
    raise exc


def spawn_in_userns(argv: Sequence[str], env: dict[str, str], mappings: Optional[IdMappings],
                    keep_fds: Sequence[int] = (), stderr_path: Optional[str] = None) -> int:
    """Start argv detached (a session of its own, not our child: it outlives this process) in
    a new user namespace with mappings, as its root; with mappings None (as root) in none.
    keep_fds stay open in it, under the same numbers; stderr goes to stderr_path (appended)
    or /dev/null. Returns its pid once its ids are mapped and it has been let go on."""
    from . import syscalls

    pid_r, pid_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(pid_r)
            os.close(go_w)
            os.setsid()
            if os.fork():
                os._exit(0)   # the server is reparented at once: nobody here has to reap it
            sc = syscalls.default()
            if mappings is not None:
                sc.unshare(syscalls.CLONE_NEWUSER)
            os.write(pid_w, b"%d\n" % os.getpid())
            os.close(pid_w)
            if os.read(go_r, 1) != b"1":
                os._exit(1)
            if mappings is not None:
                become_root_in_userns(sc)
            null = os.open("/dev/null", os.O_RDWR)
            err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if stderr_path else null
            for target, fd in ((0, null), (1, null), (2, err)):
                os.dup2(fd, target)
            for fd in keep_fds:
                os.set_inheritable(fd, True)
            keep = sorted({0, 1, 2, *keep_fds})
            for low, high in zip(keep, keep[1:] + [1 << 16]):
                os.closerange(low + 1, high)
            os.execve(argv[0], list(argv), env)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(127)
    os.close(pid_w)
    os.close(go_r)
    try:
        os.waitpid(child, 0)
        with os.fdopen(pid_r, "rb") as f:
            pid_r = -1
            line = f.readline()
        if not line.strip():
            raise SetupError("could not start a process in a new user namespace")
        pid = int(line)
        if mappings is not None:
            try:
                write_maps(pid, mappings)
            except RuntimeFailure:
                os.kill(pid, _signal.SIGKILL)
                raise
        os.write(go_w, b"1")
    finally:
        if pid_r >= 0:
            os.close(pid_r)
        os.close(go_w)
    return pid


def call_and_send(fn: Callable[..., Any], args: tuple[Any, ...], fd: int) -> None:
    """In a helper process: fn(*args), its result or exception pickled to fd (and closed)."""
    import pickle

    try:
        result: Any = ("ok", fn(*args))
    except BaseException as exc:  # noqa: BLE001 - carried to the parent
        result = ("err", exc)
    try:
        data = pickle.dumps(result)
    except Exception as exc:  # noqa: BLE001
        data = pickle.dumps(("err", SetupError(f"{type(exc).__name__}: {exc}")))
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def received(data: bytes) -> Any:
    """What call_and_send sent: the result, or its exception raised here."""
    import pickle

    kind, value = pickle.loads(data)
    if kind == "err":
        raise value
    return value


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit {os.WEXITSTATUS(status)}"


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
