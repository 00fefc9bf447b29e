"""The merged view of a stack of layer directories, built once and kept in memory.

Layers are read bottom first, as overlayfs stacks them: an entry of a higher layer replaces
the one below; a directory over a directory merges with it (the higher one's owner, mode and
times); a whiteout (a char 0/0 device, or a `.wh.NAME` file as fuse-overlayfs writes where it
cannot make devices) hides the name below; an opaque directory (an overlay xattr set to "y",
or a `.wh..wh..opq` file in it) hides everything below it. Hard links are counted in the
merged view, so a file keeps its link count only for the names that are still seen.

A lookup is then one dictionary access, whatever the depth or the number of layers: the
FUSE file system answers lookups, attributes and directory listings from here without a
system call, and reads go to the host file the entry names.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Optional

OPAQUE_XATTRS = ("user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque")
# Bookkeeping of the overlay drivers, not the image's own attributes.
HIDDEN_XATTR_PREFIXES = ("user.overlay.", "trusted.overlay.", "user.fuseoverlayfs.")
WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
OPAQUE_MARKER = ".wh..wh..opq"


class Node:
    """One entry of the merged view: its lstat, the host path holding it, its children by
    name when it is a directory (None otherwise) and its link count in the merged view."""

    __slots__ = ("st", "host", "children", "nlink")

    def __init__(self, st: os.stat_result, host: str, children: Optional[dict[str, Node]]) -> None:
        self.st = st
        self.host = host
        self.children = children
        self.nlink = 1

    @property
    def is_dir(self) -> bool:
        return self.children is not None


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def opaque_by_xattr(path: str) -> bool:
    """Whether an overlay driver marked this directory opaque with an xattr."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return False
    for name in names:
        if name in OPAQUE_XATTRS:
            try:
                if os.getxattr(path, name, follow_symlinks=False) == b"y":
                    return True
            except OSError:
                continue
    return False


def visible_xattr(name: str) -> bool:
    return not name.startswith(HIDDEN_XATTR_PREFIXES)


class MergedTree:
    """The merged view of `layers` (host directories, bottom first), indexed by path ("/",
    "/etc", "/etc/passwd"). An empty list gives an empty root directory."""

    def __init__(self, layers: Iterable[str]) -> None:
        layers = list(layers)
        base = layers[0] if layers else "/"
        self.root = Node(os.lstat(base), base, {})
        for top in layers:
            self.root.st, self.root.host = os.lstat(top), top
            _merge(top, self.root)
        self.index: dict[str, Node] = {}
        self._flatten()

    def get(self, path: str) -> Optional[Node]:
        return self.index.get(path)

    lookup = get   # the interface the file system asks (as upper.UpperView's)

    def listdir(self, node: Node) -> dict[str, tuple[int, int]]:
        """The names in a directory, with their file type bits and inode numbers."""
        assert node.children is not None
        return {name: (stat.S_IFMT(child.st.st_mode), child.st.st_ino) for name, child in node.children.items()}

    def __len__(self) -> int:
        return len(self.index)

    # The files themselves (the same calls as upper.UpperView's). An image's layers do not
    # change while mounted, so their host paths can be used as they are: none of their
    # directories becomes a symlink.

    def open(self, node: Node) -> int:
        return os.open(node.host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def readlink(self, node: Node) -> str:
        return os.readlink(node.host)

    def listxattr(self, node: Node) -> list[str]:
        return os.listxattr(node.host, follow_symlinks=False)

    def getxattr(self, node: Node, name: str) -> bytes:
        return os.getxattr(node.host, name, follow_symlinks=False)

    def _flatten(self) -> None:
        """The path index, and the link counts: a directory's 2 + its subdirectories, a
        file's the number of its names still seen (hard links of a layer share an inode)."""
        index = self.index
        links: dict[tuple[int, int], list[Node]] = {}
        todo: list[tuple[str, Node]] = [("/", self.root)]
        while todo:
            path, node = todo.pop()
            index[path] = node
            children = node.children
            if children is None:
                if node.st.st_nlink > 1:
                    links.setdefault((node.st.st_dev, node.st.st_ino), []).append(node)
                continue
            subdirs = 0
            prefix = path if path == "/" else path + "/"
            for name, child in children.items():
                if child.children is not None:
                    subdirs += 1
                todo.append((prefix + name, child))
            node.nlink = 2 + subdirs
        for same in links.values():
            for node in same:
                node.nlink = len(same)


def _merge(top: str, root: Node) -> None:
    """Lay the layer directory top over the merged directory root (a loop, not a recursion:
    a layer may be deeper than Python's stack)."""
    todo = [(top, root)]
    while todo:
        host_dir, node = todo.pop()
        try:
            with os.scandir(host_dir) as it:
                entries = list(it)
        except OSError:
            continue   # unreadable: shown empty rather than failing the whole mount
        children = node.children
        assert children is not None
        if opaque_by_xattr(host_dir) or any(e.name == OPAQUE_MARKER for e in entries):
            children.clear()
        # Whiteouts first: a `.wh.NAME` and a new NAME in the same layer mean "deleted, then
        # made again", so the new one must survive.
        rest = []
        for e in entries:
            name = e.name
            if name.startswith(WHITEOUT_PREFIX):
                if not name.startswith(WHITEOUT_META_PREFIX):
                    children.pop(name[len(WHITEOUT_PREFIX):], None)
                continue   # the opaque marker and other AUFS bookkeeping: never shown
            rest.append(e)
        for e in rest:
            name = e.name
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                old = children.get(name)
                if old is None or old.children is None:
                    old = children[name] = Node(st, e.path, {})
                else:
                    old.st, old.host = st, e.path
                todo.append((e.path, old))
            elif is_whiteout(st):
                children.pop(name, None)
            else:
                children[name] = Node(st, e.path, None)
