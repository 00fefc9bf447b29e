"""A container's writable layer, looked up live above the indexed layers of its image.

The image's layers never change while they are mounted, so they are indexed once
(tree.MergedTree); the writable layer changes while the container runs, so each lookup
walks it on disk: one lstat per path component (and a look at each directory's opaque
marks), then the index for whatever the writable layer does not hold. The kernel caches
the answers for a second, so a tree walk costs this once per entry.
"""

from __future__ import annotations

import os
import stat

from .tree import OPAQUE_MARKER, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX, MergedTree, Node, is_whiteout, opaque_by_xattr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

    Entry = Union[Node, "UpperEntry"]


class UpperEntry:
    """An entry the writable layer holds; for a directory, also the image's directory it
    merges with (None when there is none, or an opaque mark hides it)."""

    __slots__ = ("st", "host", "lower", "is_dir")

    def __init__(self, st: os.stat_result, host: str, lower: Optional[Node]) -> None:
        self.st = st
        self.host = host
        self.lower = lower
        self.is_dir = stat.S_ISDIR(st.st_mode)

    @property
    def nlink(self) -> int:
        return self.st.st_nlink


def _opaque(path: str) -> bool:
    return opaque_by_xattr(path) or os.path.lexists(os.path.join(path, OPAQUE_MARKER))


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

    def lookup(self, path: str) -> Optional[Entry]:
        up = self.upper
        visible = True   # whether the image's entries below here can still be seen
        comps = [] if path == "/" else path[1:].split("/")
        for i, name in enumerate(comps):
            here = up + "/" + name
            try:
                st = os.lstat(here)
            except (FileNotFoundError, NotADirectoryError):
                if not visible or os.path.lexists(up + "/" + WHITEOUT_PREFIX + name):
                    return None
                return self.lower.get(path)   # nothing of the writable layer is below here
            if is_whiteout(st):
                return None
            if not stat.S_ISDIR(st.st_mode):
                return UpperEntry(st, here, None) if i == len(comps) - 1 else None
            if visible and _opaque(here):
                visible = False
            up = here
        try:
            st = os.lstat(up)
        except OSError:
            return None
        if not comps and _opaque(up):
            visible = False
        lower = self.lower.get(path) if visible else None
        return UpperEntry(st, up, lower if lower is not None and lower.is_dir else None)

    def listdir(self, entry: Entry) -> dict[str, tuple[int, int]]:
        """The names in a directory of the merged view, with their file type bits and inode
        numbers."""
        if isinstance(entry, Node):
            return self.lower.listdir(entry)
        names = self.lower.listdir(entry.lower) if entry.lower is not None else {}
        try:
            with os.scandir(entry.host) as it:
                found = list(it)
        except OSError:
            return names
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
