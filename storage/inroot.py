"""Resolve paths inside a root directory, chroot-style, using directory fds: symlinks never lead out.

Layer extraction walks with Root and DirCache; callers that work with host
paths (build's COPY/ADD, WORKDIR, the build context) use resolve() and
make_dirs(), which return physical host paths (no symlink on the way).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence

from storage.errors import UnsafeEntryError

# Linux's own limits; a layer that exceeds them is hostile or broken, and
# refusing early keeps every later syscall inside well-known bounds.
NAME_MAX = 255
PATH_MAX = 4096
# Same bound the kernel uses (MAXSYMLINKS), so in-root resolution gives up
# exactly where a real chroot would.
MAX_SYMLINKS = 40

# O_PATH fds only need search (x) permission on the directory, so walking keeps
# working through directories whose final mode (applied at the end) is strict.
_WALK_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

Phys = tuple[bytes, ...]
"""A physical path below the root: directory names only, never a symlink."""

MkdirHook = Callable[[int, bytes, Phys], None]
"""Called after the walker creates a missing directory: (parent fd, name, path)."""

Reached = tuple[int, Phys, int]
"""A directory a walk reached: its fd, its physical path and the symlinks followed on the way."""


def show(name: str) -> str:
    """Render an entry name for a one-line error: control characters escaped."""
    # Names come from hostile tars; a newline or terminal escape must not be
    # able to forge extra log lines or repaint the user's terminal.
    out = []
    for ch in name[:300]:
        if ch.isprintable() and ch != '"':
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1] if ch != '"' else '\\"')
    return "".join(out) + ("..." if len(name) > 300 else "")


def unsafe(entry: str, reason: str) -> UnsafeEntryError:
    """Build the error for an entry that cannot be placed safely."""
    return UnsafeEntryError(f'layer entry "{show(entry)}": {reason}')


def to_bytes(name: str) -> bytes:
    """Undo tarfile's decoding exactly (it decodes with surrogateescape)."""
    return name.encode("utf-8", "surrogateescape")


def clean_path(path: str, entry: str) -> list[bytes]:
    """Split a tar path into components relative to the root.

    A leading "/" is dropped and ".." is clamped at the root, lexically, the way
    the OCI image spec and container runtimes read entry names.
    """
    if "\x00" in path:
        raise unsafe(entry, "name contains a NUL byte")
    raw = to_bytes(path)
    if len(raw) > PATH_MAX:
        raise unsafe(entry, f"name is longer than {PATH_MAX} bytes")
    parts: list[bytes] = []
    for comp in raw.split(b"/"):
        if len(comp) > NAME_MAX:
            raise unsafe(entry, f"a path component is longer than {NAME_MAX} bytes")
        if comp in (b"", b"."):
            continue
        if comp == b"..":
            if parts:
                parts.pop()
            continue
        parts.append(comp)
    return parts


def _loop_error(path: Sequence[bytes]) -> OSError:
    # ELOOP is turned into UnsafeEntryError by the caller, which knows the entry.
    return OSError(errno.ELOOP, "too many levels of symbolic links", os.fsdecode(b"/".join(path)))


class Root:
    """A directory treated as "/" for every path resolved through it."""

    def __init__(self, path: str) -> None:
        # A real (not O_PATH) fd, so the root's own mode and times can be set
        # through it at the end; the caller created dest, so following is fine.
        self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        """Release the root fd."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def walk(self, comps: Sequence[bytes], *, create: bool, on_mkdir: MkdirHook | None = None) -> tuple[int, Phys]:
        """Open the directory named by comps, following symlinks inside the root.

        Returns a new O_PATH fd (the caller closes it) and the physical path
        reached.  Missing directories are created when create is true (else
        FileNotFoundError); a non-directory on the way is NotADirectoryError;
        more than MAX_SYMLINKS links is OSError(ELOOP).
        """
        fd, phys, _ = self.walk_from(None, comps, create=create, on_mkdir=on_mkdir)
        return fd, phys

    def walk_from(
        self,
        start: Reached | None,
        comps: Sequence[bytes],
        *,
        create: bool,
        on_mkdir: MkdirHook | None = None,
    ) -> Reached:
        """walk continued from a directory an earlier walk reached (None: the root).

        start's fd is borrowed; the result's is new.  The symlinks start
        followed count against the same MAX_SYMLINKS.
        """
        # Pending components, last one on top, so a symlink's target can be
        # pushed in front of what remains in O(len(target)).
        pending = list(reversed(comps))
        # Only one fd is held at a time: going up uses the physical "..", which
        # is safe because names never contains a symlink, and it keeps deep
        # (hostile) trees from exhausting the fd table.
        if start is None:
            names: list[bytes] = []
            cur = os.dup(self.fd)
            links = 0
        else:
            names = list(start[1])
            cur = os.dup(start[0])
            links = start[2]
        try:
            while pending:
                comp = pending.pop()
                if comp in (b"", b"."):
                    continue
                if comp == b"..":
                    if names:  # at the root ".." stays put, as in a chroot
                        nxt = os.open(b"..", _WALK_FLAGS, dir_fd=cur)
                        os.close(cur)
                        cur = nxt
                        names.pop()
                    continue
                try:
                    nxt = os.open(comp, _WALK_FLAGS, dir_fd=cur)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(comp, 0o755, dir_fd=cur)
                    if on_mkdir is not None:
                        on_mkdir(cur, comp, (*names, comp))
                    nxt = os.open(comp, _WALK_FLAGS, dir_fd=cur)
                except OSError as e:
                    if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise
                    st = os.stat(comp, dir_fd=cur, follow_symlinks=False)
                    if not stat.S_ISLNK(st.st_mode):
                        raise NotADirectoryError(
                            errno.ENOTDIR, "not a directory", os.fsdecode(b"/".join((*names, comp)))
                        ) from None
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise _loop_error((*names, comp)) from None
                    target = os.readlink(comp, dir_fd=cur)
                    if target.startswith(b"/"):
                        # Absolute targets restart at our root, never the host's.
                        os.close(cur)
                        cur = os.dup(self.fd)
                        names.clear()
                    pending.extend(reversed(target.split(b"/")))
                    continue
                os.close(cur)
                cur = nxt
                names.append(comp)
        except BaseException:
            os.close(cur)
            raise
        return cur, tuple(names), links

    def lookup(self, comps: Sequence[bytes]) -> tuple[int, Phys] | None:
        """Like walk without creating; None when the path does not lead to a directory."""
        try:
            return self.walk(comps, create=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:  # a symlink loop leads nowhere either
                return None
            raise


def _split(path: str | bytes) -> list[bytes]:
    raw = os.fsencode(path)
    return [c for c in raw.split(b"/") if c not in (b"", b".")]


def resolve(root: str, path: str, *, follow_last: bool = True) -> str:
    """The host path of path inside root, its symlinks followed inside root only.

    Missing components are kept as named (".." still going up), so the result
    says where a new entry would be made.  With follow_last false a final
    symlink is the answer itself.  Raises OSError(ELOOP) past MAX_SYMLINKS
    links, NotADirectoryError when a file stands where a directory must be.
    """
    with Root(root) as top:
        phys = _resolve(top, _split(path), follow_last)
    return os.path.join(os.path.abspath(root), *(os.fsdecode(c) for c in phys))


def _resolve(root: Root, comps: list[bytes], follow_last: bool) -> Phys:
    # Root.walk's loop, but a missing name is no error (the rest is then
    # lexical) and the last component may be a file, or a symlink to one.
    pending = list(reversed(comps))
    names: list[bytes] = []
    missing: list[bytes] = []
    links = 0
    cur = os.dup(root.fd)
    try:
        while pending:
            comp = pending.pop()
            if comp == b"..":
                if missing:
                    missing.pop()
                elif names:  # at the root ".." stays put, as in a chroot
                    nxt = os.open(b"..", _WALK_FLAGS, dir_fd=cur)
                    os.close(cur)
                    cur = nxt
                    names.pop()
                continue
            if missing:
                missing.append(comp)  # below a missing name nothing exists to follow
                continue
            try:
                st = os.stat(comp, dir_fd=cur, follow_symlinks=False)
            except FileNotFoundError:
                missing.append(comp)
                continue
            if stat.S_ISLNK(st.st_mode) and (pending or follow_last):
                links += 1
                if links > MAX_SYMLINKS:
                    raise _loop_error((*names, comp))
                target = os.readlink(comp, dir_fd=cur)
                if target.startswith(b"/"):
                    # Absolute targets restart at our root, never the host's.
                    os.close(cur)
                    cur = os.dup(root.fd)
                    names.clear()
                pending.extend(reversed(_split(target)))
                continue
            if not stat.S_ISDIR(st.st_mode):
                if pending:
                    raise NotADirectoryError(errno.ENOTDIR, "not a directory", os.fsdecode(b"/".join((*names, comp))))
                names.append(comp)
                break
            # O_NOFOLLOW: a symlink put here since the stat fails instead of leading anywhere.
            nxt = os.open(comp, _WALK_FLAGS, dir_fd=cur)
            os.close(cur)
            cur = nxt
            names.append(comp)
    finally:
        os.close(cur)
    return (*names, *missing)


def make_dirs(root: str, path: str, on_mkdir: MkdirHook | None = None) -> str:
    """The host path of directory path inside root, made with its missing parents (mode 0755, then on_mkdir).

    Symlinks on the way are followed inside root.  Raises NotADirectoryError
    when a non-directory is in the way and OSError(ELOOP) on a symlink loop.
    """
    with Root(root) as top:
        fd, phys = top.walk(_split(path), create=True, on_mkdir=on_mkdir)
        os.close(fd)
    return os.path.join(os.path.abspath(root), *(os.fsdecode(c) for c in phys))


class DirCache:
    """Directories that recent walks reached, so entries sharing a parent skip the walk.

    A layer lists most entries right after their siblings, so walking every
    name from the root again costs two syscalls per component for nothing.
    Each remembered walk maps the path as given (components after
    clean_path) to an O_PATH fd and the physical path it reached, and a walk
    starts from the longest remembered prefix of its path.

    A remembered walk stays true only while nothing on its way is removed or
    replaced, so the owner calls invalidate() before removing a directory or
    a symlink (also through whiteouts and opaque directories) and whenever it
    makes a symlink.  Creating a name that did not exist cannot change where
    an existing path leads, and a file or device is never on a walk's way.
    """

    def __init__(self, root: Root, size: int = 64) -> None:
        self.root = root
        self.size = size
        self._known: dict[tuple[bytes, ...], Reached] = {}

    def walk(
        self,
        comps: Sequence[bytes],
        *,
        create: bool,
        on_mkdir: MkdirHook | None = None,
    ) -> tuple[int, Phys]:
        """Root.walk, starting from what an earlier walk reached; the caller closes the fd."""
        key = tuple(comps)
        known = self._known
        hit = known.get(key)
        if hit is not None:
            # Most recently used last, so eviction takes the oldest.
            del known[key]
            known[key] = hit
            return os.dup(hit[0]), hit[1]
        start: Reached | None = None
        rest: Sequence[bytes] = key
        for i in range(len(key) - 1, 0, -1):
            start = known.get(key[:i])
            if start is not None:
                rest = key[i:]
                break
        reached = self.root.walk_from(start, rest, create=create, on_mkdir=on_mkdir)
        try:
            mine = os.dup(reached[0])
        except BaseException:
            os.close(reached[0])
            raise
        known[key] = (mine, reached[1], reached[2])
        if len(known) > self.size:
            oldest = next(iter(known))
            os.close(known.pop(oldest)[0])
        return reached[0], reached[1]

    def lookup(self, comps: Sequence[bytes]) -> tuple[int, Phys] | None:
        """Root.lookup through the cache."""
        try:
            return self.walk(comps, create=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:
                return None
            raise

    def invalidate(self) -> None:
        """Forget every remembered walk (before the tree changes under them)."""
        known, self._known = self._known, {}
        for fd, _, _ in known.values():
            os.close(fd)


def _force_rwx(parent_fd: int, name: bytes | str) -> None:
    # An unprivileged user cannot list or empty a directory without rwx on it
    # (root has CAP_DAC_OVERRIDE and never gets here); it is ours, so grant it.
    st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        os.chmod(name, stat.S_IMODE(st.st_mode) | 0o700, dir_fd=parent_fd)


def _open_dir(parent_fd: int, name: bytes | str) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, dir_fd=parent_fd)
    except PermissionError:
        _force_rwx(parent_fd, name)
        return os.open(name, flags, dir_fd=parent_fd)


def _grant_dir(dir_fd: int) -> None:
    # Unlinking needs w+x on the containing directory (see _force_rwx).
    os.chmod(".", stat.S_IMODE(os.stat(dir_fd).st_mode) | 0o700, dir_fd=dir_fd)


def _unlink(dir_fd: int, name: bytes | str, is_dir: bool) -> None:
    remove = os.rmdir if is_dir else os.unlink
    try:
        remove(name, dir_fd=dir_fd)
    except PermissionError:
        # Retry once only: if granting ourselves access did not help (sticky
        # bit, immutable file, not our directory) the error is real.
        _grant_dir(dir_fd)
        remove(name, dir_fd=dir_fd)


def remove_tree(parent_fd: int, name: bytes) -> None:
    """Delete name (a directory) and everything below it without following symlinks.

    Iterative with a single fd held at a time, for the same reasons as walk.
    """
    cur = _open_dir(parent_fd, name)
    stack: list[str] = []  # names of the directories entered below `name`
    try:
        while True:
            subdir = None
            with os.scandir(cur) as it:
                entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
            for ename, is_dir in entries:
                if is_dir:
                    subdir = ename
                    break
                _unlink(cur, ename, False)
            if subdir is not None:
                nxt = _open_dir(cur, subdir)
                os.close(cur)
                cur = nxt
                stack.append(subdir)
                continue
            if not stack:
                break
            # cur is empty: climb back up through the physical parent.
            up = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=cur)
            os.close(cur)
            cur = up
            _unlink(cur, stack.pop(), True)
    finally:
        os.close(cur)
    _unlink(parent_fd, name, True)


def clear_slot(
    parent_fd: int,
    name: bytes,
    *,
    keep_dir: bool,
    before_remove: Callable[[os.stat_result], None] | None = None,
) -> os.stat_result | None:
    """Make room for a new entry: remove whatever is at name, never following it.

    An existing directory is kept when keep_dir (a directory entry over a
    directory only updates metadata); its stat is returned in that case.
    before_remove is told what is about to be removed.
    """
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode) and keep_dir:
        return st
    if before_remove is not None:
        before_remove(st)
    if stat.S_ISDIR(st.st_mode):
        remove_tree(parent_fd, name)
    else:
        _unlink(parent_fd, name, False)
    return None
