"""A container's writable layer, looked up live above the indexed layers of its image.

The image's layers never change while they are mounted, so they are indexed once
(tree.MergedTree); the writable layer changes while the container runs, so each lookup
walks it on disk, then asks the index for whatever the writable layer does not hold. The
kernel caches the answers for a second, so a tree walk costs this once per entry.

The container may change its writable layer at any moment, a directory into a symlink
among others: every walk here goes one component at a time from a descriptor of the
layer, never following a symlink (O_NOFOLLOW, O_PATH), so nothing the container does can
lead a lookup, a read or a listing out of the layer onto the host's files.
"""

from __future__ import annotations

import os
import stat

from .tree import (
    OPAQUE_MARKER, OPAQUE_XATTRS, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX, MergedTree, Node, is_whiteout,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

    Entry = Union[Node, "UpperEntry"]

_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = _PATH | os.O_DIRECTORY


class UpperEntry:
    """An entry the writable layer holds (`comps`: its path's components); for a directory,
    also the image's directory it merges with (None when there is none, or an opaque mark
    hides it)."""

    __slots__ = ("st", "comps", "lower", "is_dir")

    def __init__(self, st: os.stat_result, comps: list[str], lower: Optional[Node]) -> None:
        self.st = st
        self.comps = comps
        self.lower = lower
        self.is_dir = stat.S_ISDIR(st.st_mode)

    @property
    def nlink(self) -> int:
        return self.st.st_nlink


def _magic(fd: int) -> str:
    """A path naming what fd is (for the xattr calls, which take no descriptor of O_PATH)."""
    return f"/proc/self/fd/{fd}"


def _opaque(fd: int) -> bool:
    """Whether the directory fd is marked opaque (an overlay xattr, or the AUFS marker)."""
    try:
        names = os.listxattr(_magic(fd))
    except OSError:
        names = []
    for name in names:
        if name in OPAQUE_XATTRS:
            try:
                if os.getxattr(_magic(fd), name) == b"y":
                    return True
            except OSError:
                continue
    return _exists(fd, OPAQUE_MARKER)


def _exists(fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=fd, follow_symlinks=False)
        return True
    except OSError:
        return False


def _kind(e: os.DirEntry[str]) -> int:
    """The file type bits of a directory entry, from the directory itself where it can."""
    if e.is_dir(follow_symlinks=False):
        return stat.S_IFDIR
    if e.is_symlink():
        return stat.S_IFLNK
    if e.is_file(follow_symlinks=False):
        return stat.S_IFREG
    try:
        return stat.S_IFMT(e.stat(follow_symlinks=False).st_mode)
    except OSError:
        return 0


class UpperView:
    """The merged view of a writable layer (the host directory upper) over lower."""

    def __init__(self, lower: MergedTree, upper: str) -> None:
        self.lower = lower
        self.upper = upper

    def _walk(self, comps: list[str], last: int = _DIR) -> int:
        """A descriptor of comps in the writable layer, each directory on the way opened
        without following a symlink; the last one opened with flags `last`."""
        if not comps:
            return os.open(self.upper, last | os.O_CLOEXEC)   # the layer itself: the store's
        fd = os.open(self.upper, _DIR)
        try:
            for i, name in enumerate(comps):
                nfd = os.open(name, _DIR if i < len(comps) - 1 else last | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=fd)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def lookup(self, path: str) -> Optional[Entry]:
        comps = [] if path == "/" else path[1:].split("/")
        try:
            fd = os.open(self.upper, _DIR)
        except OSError:
            return None
        try:
            visible = not _opaque(fd)   # whether the image's entries below here can be seen
            for i, name in enumerate(comps):
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except (FileNotFoundError, NotADirectoryError):
                    if not visible or _exists(fd, WHITEOUT_PREFIX + name):
                        return None
                    return self.lower.get(path)   # nothing of the writable layer is below here
                if is_whiteout(st):
                    return None
                if not stat.S_ISDIR(st.st_mode):
                    return UpperEntry(st, comps, None) if i == len(comps) - 1 else None
                try:
                    nfd = os.open(name, _DIR, dir_fd=fd)
                except OSError:
                    return None   # changed under us into something that is no directory
                os.close(fd)
                fd = nfd
                if visible and _opaque(fd):
                    visible = False
            st = os.fstat(fd)
        except OSError:
            return None
        finally:
            os.close(fd)
        lower = self.lower.get(path) if visible else None
        return UpperEntry(st, comps, lower if lower is not None and lower.is_dir else None)

    def listdir(self, entry: Entry) -> dict[str, tuple[int, int]]:
        """The names in a directory of the merged view, with their file type bits and inode
        numbers."""
        if isinstance(entry, Node):
            return self.lower.listdir(entry)
        names = self.lower.listdir(entry.lower) if entry.lower is not None else {}
        try:
            fd = self._walk(entry.comps, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return names
        try:
            with os.scandir(fd) as it:
                found = list(it)
        except OSError:
            return names
        finally:
            os.close(fd)
        for e in found:
            if e.name.startswith(WHITEOUT_PREFIX):
                if not e.name.startswith(WHITEOUT_META_PREFIX):
                    names.pop(e.name[len(WHITEOUT_PREFIX):], None)
        for e in found:
            if e.name.startswith(WHITEOUT_PREFIX):
                continue
            kind = _kind(e)
            if kind == stat.S_IFCHR and is_whiteout(e.stat(follow_symlinks=False)):
                names.pop(e.name, None)
            else:
                names[e.name] = (kind, e.inode())
        return names

    # -- the files themselves (the same calls as MergedTree's) ---------------------------------

    def open(self, entry: Entry) -> int:
        """entry's file, opened for reading."""
        if isinstance(entry, Node):
            return self.lower.open(entry)
        return self._walk(entry.comps, os.O_RDONLY)

    def readlink(self, entry: Entry) -> str:
        if isinstance(entry, Node):
            return self.lower.readlink(entry)
        fd = self._walk(entry.comps[:-1])
        try:
            return os.readlink(entry.comps[-1], dir_fd=fd)
        finally:
            os.close(fd)

    def listxattr(self, entry: Entry) -> list[str]:
        if isinstance(entry, Node):
            return self.lower.listxattr(entry)
        fd = self._walk(entry.comps, _PATH)
        try:
            return os.listxattr(_magic(fd))
        finally:
            os.close(fd)

    def getxattr(self, entry: Entry, name: str) -> bytes:
        if isinstance(entry, Node):
            return self.lower.getxattr(entry, name)
        fd = self._walk(entry.comps, _PATH)
        try:
            return os.getxattr(_magic(fd), name)
        finally:
            os.close(fd)
